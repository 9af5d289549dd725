"""The whole nightly job on a hand-built landing folder whose every number was worked out by hand.

The data (week of Monday 2025-03-03):
- ads: Google (USD) 200 on 03-03 and 160 on 03-04, restated by a later file to 180;
  LinkedIn 100 EUR on 03-03 at 1.10 = 110 USD. Week spend = 200 + 180 + 110 = 490.
- web: four sessions of three visitors. u1's second session (session_number 2, direct) makes u1
  returning: returning share 1/3. Engaged: the lead-form session, the 15 s LinkedIn session and
  the two-page direct session: 3 of 4. Page loads 1000, 3000, 2000, 4000 ms: p75 = 3250.
- CRM: c1 (lead form in a paid-search session) SQL after 7 days, won 03-20 for 1000 EUR at 1.20;
  c2 (lead form via LinkedIn) SQL after 47 days, outside the 28-day window; c3 offline partner.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from tests.support.pipeline import run_pipeline
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import metric, query

WEEK, MONTH = "2025-03-03", "2025-03-01"


def test_spend_uses_restated_day_and_fx(tiny: Path) -> None:
    assert metric(tiny, "spend", "week", WEEK)[2] == pytest.approx(490.0)
    assert metric(tiny, "spend", "day", "2025-03-04")[2] == pytest.approx(180.0)
    assert metric(tiny, "spend", "week", WEEK, "linkedin")[2] == pytest.approx(110.0)
    assert metric(tiny, "cpc", "week", WEEK)[:3] == pytest.approx((490.0, 210.0, 490 / 210))


def test_web_metrics(tiny: Path) -> None:
    assert metric(tiny, "sessions", "week", WEEK)[2] == 4
    assert metric(tiny, "engagement_rate", "week", WEEK)[:3] == pytest.approx((3, 4, 0.75))
    assert metric(tiny, "returning_visitor_share", "week", WEEK)[:3] == pytest.approx((1, 3, 1 / 3))
    assert metric(tiny, "page_load_p75", "week", WEEK)[2] == pytest.approx(3250.0)
    assert metric(tiny, "session_to_lead_rate", "week", WEEK, "paid_search")[:3] == pytest.approx(
        (1, 2, 0.5)
    )


def test_attribution_and_funnel(tiny: Path) -> None:
    by_channel = dict(
        query(tiny, "select channel, count(*) from intermediate.int_contacts_attributed group by 1")
    )
    assert by_channel == {"paid_search": 1, "linkedin": 1, "referral": 1}
    assert metric(tiny, "leads", "week", WEEK)[2] == 3
    # c1 is the only SQL within 28 days; the cohort is 12 weeks old on 05-31: mature
    assert metric(tiny, "lead_to_sql_rate", "week", WEEK)[:] == pytest.approx((1, 3, 1 / 3, True))
    assert metric(tiny, "days_to_sql", "week", WEEK)[2] == pytest.approx(7.0)
    # the 90-day win window of that week ends 06-07, after the as-of date: not mature yet
    assert metric(tiny, "lead_to_win_rate", "week", WEEK)[3] is False


def test_days_past_the_ads_export_are_not_complete(tiny: Path) -> None:
    """The run is as of 05-31, but ads end on 03-04 and web on 03-05 (tiny_landing.py): the data
    is complete through 03-04 only, so the web-only day 03-05 is not a complete period."""
    assert query(tiny, "select night, ads_last_day, web_last_day from raw._run_night") == [
        (date(2025, 3, 4), date(2025, 3, 4), date(2025, 3, 5))
    ]
    complete = dict(
        query(
            tiny,
            "select cast(period_start as varchar), bool_and(is_complete_period) "
            "from main.metric_series where grain = 'day' and metric_id = 'sessions' "
            "and period_start between '2025-03-03' and '2025-03-06' group by 1",
        )
    )
    assert complete == {
        "2025-03-03": True,
        "2025-03-04": True,
        "2025-03-05": False,
        "2025-03-06": False,
    }
    assert query(tiny, "select as_of_date from intermediate.int_run_context") == [
        (date(2025, 5, 31),)
    ]


def test_cac_revenue_and_targets(tiny: Path) -> None:
    assert metric(tiny, "revenue", "month", MONTH)[2] == pytest.approx(1200.0)
    assert metric(tiny, "cac", "month", MONTH)[:3] == pytest.approx((490.0, 1, 490.0))
    assert metric(tiny, "cac", "month", MONTH, "paid_search")[2] == pytest.approx(380.0)
    assert metric(tiny, "roas", "month", MONTH)[2] == pytest.approx(1200 / 490)
    targets = dict(
        query(
            tiny,
            "select metric_id, attainment from target_attainment where period_start = ?",
            [MONTH],
        )
    )
    assert targets == pytest.approx({"revenue": 0.8, "leads": 1.5})


def test_wide_marts_agree_with_metric_series(tiny: Path) -> None:
    row = query(
        tiny,
        "select spend, sessions, leads, cac from control_weekly "
        "where period_start = ? and dimension = 'total'",
        [WEEK],
    )
    assert row == [(490.0, 4.0, 3.0, None)]
    assert query(
        tiny,
        "select lead_to_sql_rate, is_mature from meaning_weekly "
        "where period_start = ? and dimension = 'total'",
        [WEEK],
    ) == [(pytest.approx(1 / 3), False)]


def test_young_cohorts_are_immature(tmp_path: Path) -> None:
    write_tiny_landing(tmp_path / "raw")
    warehouse = tmp_path / "w.duckdb"
    assert run_pipeline(tmp_path / "raw", warehouse, as_of="2025-03-20") == 0
    # eleven days after the week ended, the 28-day window is still open
    assert metric(warehouse, "lead_to_sql_rate", "week", WEEK)[3] is False
    # what happened after the as-of night is not known: c1's win on 03-20 counts, c2's SQL not
    assert metric(warehouse, "revenue", "month", MONTH)[2] == pytest.approx(1200.0)
    assert query(warehouse, "select count(sql_at) from intermediate.int_lead_cohorts") == [(1,)]
