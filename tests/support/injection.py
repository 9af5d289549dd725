"""Injection attempts the security tests feed the pipeline: hostile text, a rule on the campaign
dimension that turns injected campaign names into alerts, and an ads row to vary."""

from __future__ import annotations

from typing import Any

INJECTION = "'; drop table alerts; --"
QUOTED = "\"quoted\" 'values'"


# A rule on the campaign dimension, so the injected campaign names become alerts, queue items,
# questions and notifications (the built-in rules need months of data to fire).
CAMPAIGN_RULE = """\
rules:
  - id: campaign_sessions_up_nobody_stays
    leading_metric: sessions
    outcome_metric: engagement_rate
    outcome_bad: down
    dimensions: [campaign]
    window: 2
    baseline: 6
    min_volume: 50
    question: >-
      {dimension_value}: {leading_label} {leading_change} while {outcome_label}
      {outcome_change}. Stop buying this traffic?
"""


def ads_row(**changes: Any) -> dict[str, Any]:
    row = dict(
        date="2025-03-10",
        platform="google_ads",
        account_id="a1",
        campaign_id="g1",
        campaign_name="Generic",
        impressions=1,
        clicks=1,
        spend=1,
        currency="USD",
    )
    row.update(changes)
    return row
