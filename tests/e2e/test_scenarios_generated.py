"""Every built-in rule on generated data: it fires on the channel that carries its injected
change within 14 days of the onset, through the real loader and dbt models
(`dagster_project.runtime.lab`), replayed night by night as `firewatch backtest` does.

Two `medium`-volume data sets (126 days) carry the seven changes on distinct channels, each a
40% change (the generator's default) from 21 days before the end. Channels: paid social ~65
leads a week, LinkedIn ~50, paid and organic search ~190. docs/detection.md has recall, time to
detect and false alerts over many seeds and magnitudes; this is the per-rule proof on one seed.
"""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

import pandas as pd
import pytest

from dagster_project.generate import generate
from dagster_project.generate.core import DEFAULT_END_DATE
from dagster_project.generate.scenarios import ScenarioSpec
from dagster_project.runtime.backtest import Replay, replay_nights
from dagster_project.runtime.lab import metrics_of

ONSET = DEFAULT_END_DATE - timedelta(days=21)
FIRST_NIGHT = ONSET - timedelta(days=28)
# data set -> (scenario, channel, the rule that must catch it)
DATA_SETS = {
    "a": [
        ("engagement_up_quality_down", "paid_social", "engagement_up_lead_quality_down"),
        ("reach_up_sales_flat", "paid_search", "reach_up_sales_flat"),
        ("leads_up_quality_down", "organic_search", "leads_up_lead_quality_down"),
        ("traffic_up_returning_down", "direct", "traffic_up_returning_share_down"),
    ],
    "b": [
        ("engagement_up_cac_up", "linkedin", "engagement_up_cac_up"),
        ("spend_up_revenue_flat", "paid_search", "spend_up_revenue_flat"),
        ("clicks_up_nobody_stays", "organic_search", "sessions_up_nobody_stays"),
    ],
}
CASES = [(name, *change) for name, changes in DATA_SETS.items() for change in changes]


@pytest.fixture(scope="module")
def replays(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Replay]:
    out: dict[str, Replay] = {}
    for name, changes in DATA_SETS.items():
        root = tmp_path_factory.mktemp(f"scenarios_{name}")
        specs = [ScenarioSpec(kind, channel, ONSET, 0.4) for kind, channel, _ in changes]
        generate(root, profile="medium", days=126, seed=11, scenarios=specs)
        inputs = metrics_of(root / "raw", root / "firewatch.duckdb")
        assert inputs.as_of == DEFAULT_END_DATE
        out[name] = replay_nights(inputs, FIRST_NIGHT, DEFAULT_END_DATE)
    return out


def _first_night(replay: Replay, rule_id: str, channel: str) -> date | None:
    nights = [
        a.first_detected_at
        for a in replay.alerts
        if a.rule_id == rule_id and a.dimension_value == channel
    ]
    return min(nights, default=None)


# Paid social holds ~85 leads a week here and the generator's SQLs come a median 14 days after
# the lead: a 40% quality drop is a handful of SQLs short within 14 days. On this seed the rule
# fires on the total instead (measured 2026-12-03); docs/detection.md has its recall per volume
# and effect beside the oracle's.
_SLOW = {"engagement_up_lead_quality_down"}


def _expected_to_fail(rule_ids: set[str], reason: str) -> list:
    """CASES, with those of `rule_ids` marked as known to fail (strict: a pass is news)."""
    mark = pytest.mark.xfail(reason=reason, strict=True)
    return [pytest.param(*case, marks=mark) if case[3] in rule_ids else case for case in CASES]


FIRE_CASES = _expected_to_fail(_SLOW, "counts-bound within 14 days")


@pytest.mark.parametrize(("data_set", "scenario", "channel", "rule_id"), FIRE_CASES)
def test_each_rule_fires_on_its_channel_within_14_days(
    replays: dict[str, Replay], data_set: str, scenario: str, channel: str, rule_id: str
) -> None:
    first = _first_night(replays[data_set], rule_id, channel)
    assert first is not None, f"{rule_id} never fired on {channel} ({scenario})"
    assert ONSET < first <= ONSET + timedelta(days=14), (rule_id, channel, first)
    alert = next(
        a
        for a in replays[data_set].alerts
        if a.rule_id == rule_id and a.dimension_value == channel and a.first_detected_at == first
    )
    assert alert.window_end >= ONSET  # its window holds days after the change
    assert alert.leading_change >= 0.15


# Bound by counts (a few SQLs or customers a week): not active on the last night of this 21-day
# change (measured 2026-12-03; the lead-quality rule never fired on paid social, above).
_COUNT_BOUND = {"engagement_up_lead_quality_down", "engagement_up_cac_up"}
HOLD_CASES = _expected_to_fail(_COUNT_BOUND, "counts-bound rule")


@pytest.mark.parametrize(("data_set", "scenario", "channel", "rule_id"), HOLD_CASES)
def test_each_alert_is_still_active_on_the_last_night(
    replays: dict[str, Replay], data_set: str, scenario: str, channel: str, rule_id: str
) -> None:
    """Every change lasts to the end of the data, so its episode does (divergence/hold.py)."""
    replay = replays[data_set]
    assert (rule_id, "channel", channel) in replay.active[DEFAULT_END_DATE], (rule_id, scenario)


def test_nothing_fires_in_the_four_weeks_before_the_changes(replays: dict[str, Replay]) -> None:
    for name, replay in replays.items():
        early = [
            (a.rule_id, a.dimension_value, a.first_detected_at)
            for a in replay.alerts
            if a.first_detected_at < ONSET
        ]
        assert early == [], name
        assert len(replay.fired) == (DEFAULT_END_DATE - FIRST_NIGHT).days + 1


def test_a_data_set_builds_the_same_metrics_twice(tmp_path: Path) -> None:
    # The lab reuses one parsed manifest and dbt-duckdb's connection across data sets: a second
    # build into another file must see its own data, not the first one's.
    small = [ScenarioSpec("clicks_up_nobody_stays", "paid_search", ONSET, 0.4)]
    generate(tmp_path / "one", profile="small", days=60, seed=3)
    generate(tmp_path / "two", profile="small", days=60, seed=3, scenarios=small)
    one = metrics_of(tmp_path / "one" / "raw", tmp_path / "one" / "firewatch.duckdb").series
    two = metrics_of(tmp_path / "two" / "raw", tmp_path / "two" / "firewatch.duckdb").series

    def sessions(frame: pd.DataFrame, start: date) -> float:
        row = frame[
            (frame.metric_id == "sessions")
            & (frame.grain == "week")
            & (frame.dimension_value == "paid_search")
            & (pd.to_datetime(frame.period_start).dt.date == start)
        ]
        return float(row["numerator"].iloc[0])

    before, after = ONSET - timedelta(days=ONSET.weekday() + 14), ONSET + timedelta(days=1)
    assert sessions(one, before) == sessions(two, before)  # same seed, same history
    assert sessions(two, after) > 1.25 * sessions(one, after)  # 40% more clicks
