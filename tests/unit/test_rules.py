"""Rules as data: the built-in rule file loads against the catalog, and a bad rule is rejected
at load with a message naming the rule and the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml

from dagster_project.divergence.catalog import catalog_index
from dagster_project.divergence.rule import Rule, RuleError
from dagster_project.divergence.rules import load_rules, parse_rules
from dagster_project.settings import DEFAULT_RULES_PATH
from tests.support.metric_frames import synthetic_catalog

BUILT_IN = {
    # id: (leading, outcome, outcome_bad)
    "engagement_up_lead_quality_down": ("ad_engagements", "lead_to_sql_rate", "down"),
    "engagement_up_cac_up": ("ad_engagements", "cac", "up"),
    "reach_up_sales_flat": ("impressions", "customers", "flat"),
    "sessions_up_nobody_stays": ("sessions", "engagement_rate", "down"),
    "leads_up_lead_quality_down": ("leads", "lead_to_sql_rate", "down"),
    "traffic_up_returning_share_down": ("sessions", "returning_visitor_share", "down"),
    "spend_up_revenue_flat": ("spend", "revenue", "flat"),
}


def good_rule(**overrides: Any) -> dict[str, Any]:
    rule = {
        "id": "my_rule",
        "leading_metric": "sessions",
        "outcome_metric": "engagement_rate",
        "outcome_bad": "down",
        "dimensions": ["total", "channel"],
        "window": 2,
        "baseline": 8,
        "min_volume": 100,
        "question": "{dimension_value}: {leading_label} {leading_change}?",
    }
    rule.update(overrides)
    return rule


def reject(catalog: pd.DataFrame, *rules: dict[str, Any]) -> str:
    with pytest.raises(RuleError) as info:
        parse_rules({"rules": list(rules)}, catalog, source="test.yml")
    return str(info.value)


def test_built_in_rules_load_with_their_settings(catalog: pd.DataFrame) -> None:
    rules = load_rules(DEFAULT_RULES_PATH, catalog)
    assert {r.id: (r.leading_metric, r.outcome_metric, r.outcome_bad) for r in rules} == BUILT_IN
    by_id = {r.id: r for r in rules}
    quality = by_id["engagement_up_lead_quality_down"]
    assert (quality.grain, quality.window, quality.baseline, quality.gap) == ("day", 14, 84, 0)
    assert quality.outcome_test == "censored"
    assert quality.dimensions == ("total", "channel")
    assert (quality.min_volume_leading, quality.min_volume_outcome) == (100, 50)
    assert (quality.min_effect, quality.outcome_floor) == (0.15, 0.10)
    assert quality.severity == "warn" and quality.owner is None
    cac = by_id["engagement_up_cac_up"]
    assert (cac.grain, cac.window, cac.baseline) == ("day", 14, 84)
    assert by_id["leads_up_lead_quality_down"].min_volume_outcome == 50
    assert by_id["leads_up_lead_quality_down"].outcome_test == "censored"
    assert by_id["spend_up_revenue_flat"].min_effect == 0.2
    # every other rule judges its outcome from metric_series
    assert {r.id for r in rules if r.outcome_test == "fixed"} == set(BUILT_IN) - {
        "engagement_up_lead_quality_down",
        "leads_up_lead_quality_down",
    }


def test_a_censored_outcome_must_be_a_lead_cohort_rate_by_day(catalog: pd.DataFrame) -> None:
    quality = {"outcome_metric": "lead_to_sql_rate", "grain": "day", "window": 14,
               "baseline": 84, "outcome_test": "censored"}  # fmt: skip
    (rule,) = parse_rules({"rules": [good_rule(**quality)]}, catalog, source="test.yml")
    assert rule.outcome_test == "censored"  # lead_to_sql_rate has no day rows: not needed
    msg = reject(catalog, good_rule(**{**quality, "outcome_test": "survival"}))
    assert "rule 'my_rule', field 'outcome_test': 'survival' is not one of fixed, censored" in msg
    msg = reject(catalog, good_rule(**{**quality, "outcome_metric": "engagement_rate"}))
    assert (
        "field 'outcome_test': censored judges a lead cohort's SQLs by age; engagement_rate" in msg
    )
    msg = reject(catalog, good_rule(**{**quality, "grain": "week", "window": 2, "baseline": 12}))
    assert "field 'outcome_test': censored needs grain: day and outcome_bad: down" in msg


def test_rules_path_from_environment(
    catalog: pd.DataFrame, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.yml"
    path.write_text(yaml.safe_dump({"rules": [good_rule(owner="web_team", severity="error")]}))
    monkeypatch.setenv("FIREWATCH_RULES", str(path))
    (rule,) = load_rules(None, catalog)
    assert rule == Rule(
        id="my_rule",
        leading_metric="sessions",
        outcome_metric="engagement_rate",
        outcome_bad="down",
        question="{dimension_value}: {leading_label} {leading_change}?",
        dimensions=("total", "channel"),
        baseline=8,
        min_volume_leading=100,
        min_volume_outcome=100,
        owner="web_team",
        severity="error",
    )
    monkeypatch.delenv("FIREWATCH_RULES")
    assert len(load_rules(None, catalog)) == len(BUILT_IN)


def test_defaults_and_per_side_volume(catalog: pd.DataFrame) -> None:
    data = {
        "defaults": {"window": 3, "min_effect": 0.2},
        "rules": [good_rule(window=None, min_volume={"leading": 500, "outcome": 50})],
    }
    del data["rules"][0]["window"]
    (rule,) = parse_rules(data, catalog)
    assert (rule.window, rule.min_effect) == (3, 0.2)
    assert (rule.min_volume_leading, rule.min_volume_outcome) == (500, 50)


def test_unknown_metric_is_rejected(catalog: pd.DataFrame) -> None:
    msg = reject(catalog, good_rule(outcome_metric="lead_quality"))
    assert "rule 'my_rule', field 'outcome_metric': unknown metric 'lead_quality'" in msg
    assert "test.yml" in msg


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("outcome_bad", "sideways", "field 'outcome_bad': 'sideways' is not one of down, up, flat"),
        ("leading_good", "more", "field 'leading_good': 'more' is not one of up, down"),
        ("severity", "critical", "field 'severity': 'critical' is not one of warn, error"),
        ("grain", "hour", "field 'grain': 'hour' is not one of day, week, month"),
        ("window", 0, "field 'window': must be a positive whole number"),
        ("baseline", -4, "field 'baseline': must be a positive whole number"),
        ("window", 1.5, "field 'window': must be a positive whole number"),
        ("min_effect", 0, "field 'min_effect'"),
        ("min_volume", -1, "field 'min_volume'"),
        ("id", "Bad-Id", "field 'id': must match"),
        ("question", "{channel} dropped", "field 'question': unknown placeholder(s) {channel}"),
        ("question", "{} dropped", "field 'question': unknown placeholder(s) {}"),
        ("question", "{window_end", "field 'question': is not a valid template"),
        ("owner", "", "field 'owner'"),
        ("min_effct", 0.1, "field 'min_effct': unknown field"),
    ],
)
def test_bad_values_are_rejected(
    catalog: pd.DataFrame, field: str, value: Any, expected: str
) -> None:
    msg = reject(catalog, good_rule(**{field: value}))
    assert expected in msg
    assert "rule '" in msg


def test_outcome_bad_must_be_the_bad_direction(catalog: pd.DataFrame) -> None:
    # engagement_rate's good direction is up: "up" cannot be what is bad about it.
    msg = reject(catalog, good_rule(outcome_bad="up"))
    assert "field 'outcome_bad': 'up' is the good direction of engagement_rate" in msg


def test_dimension_not_published_is_rejected(catalog: pd.DataFrame) -> None:
    msg = reject(catalog, good_rule(dimensions=["total", "platform"]))
    assert "rule 'my_rule', field 'dimensions': sessions is not published by 'platform'" in msg
    msg = reject(catalog, good_rule(dimensions=["region"]))
    assert "field 'dimensions': 'region' is not one of total, channel, platform, campaign" in msg


def test_grain_a_metric_lacks_is_rejected(catalog: pd.DataFrame) -> None:
    # engagement_rate is a meaning metric: week and month only.
    msg = reject(catalog, good_rule(grain="day", window=14, baseline=56))
    assert "field 'grain': engagement_rate has no 'day' grain (only week, month)" in msg


def test_day_grain_needs_whole_weeks(catalog: pd.DataFrame) -> None:
    rule = good_rule(
        leading_metric="spend",
        outcome_metric="revenue",
        outcome_bad="flat",
        grain="day",
        window=10,
        baseline=56,
    )
    assert "field 'window': must be a multiple of 7 days" in reject(catalog, rule)


def test_duplicate_ids_are_rejected(catalog: pd.DataFrame) -> None:
    msg = reject(catalog, good_rule(), good_rule(outcome_metric="returning_visitor_share"))
    assert "rule 'my_rule', field 'id': duplicate id" in msg


def test_file_errors_are_clear(catalog: pd.DataFrame, tmp_path: Path) -> None:
    with pytest.raises(RuleError, match="cannot read rules file"):
        load_rules(tmp_path / "missing.yml", catalog)
    bad = tmp_path / "bad.yml"
    bad.write_text("rules: [\n")
    with pytest.raises(RuleError, match="not valid YAML"):
        load_rules(bad, catalog)
    empty = tmp_path / "empty.yml"
    empty.write_text("rules: []\n")
    with pytest.raises(RuleError, match="non-empty list of rules"):
        load_rules(empty, catalog)


def test_catalog_index_reads_the_warehouse_shape(catalog: pd.DataFrame) -> None:
    metrics = catalog_index(catalog)
    cac = metrics["cac"]
    assert (cac.numerator, cac.denominator, cac.good_direction) == ("spend", "customers", "down")
    assert metrics["lead_to_sql_rate"].maturity_lag_days == 28
    assert metrics["lead_to_sql_rate"].grains == ("week", "month")
    assert metrics["sessions"].dimensions == ("total", "channel", "campaign")
    assert metrics["sessions"].is_additive and not cac.is_additive


def test_min_effect_per_side() -> None:
    from dagster_project.divergence.rules import parse_rules

    base = {
        "id": "r",
        "leading_metric": "sessions",
        "outcome_metric": "engagement_rate",
        "outcome_bad": "down",
        "question": "q",
    }
    catalog = synthetic_catalog()
    (both,) = parse_rules([{**base, "min_effect": 0.2}], catalog)
    assert (both.min_effect, both.outcome_floor) == (0.2, 0.2)
    (split,) = parse_rules([{**base, "min_effect": {"leading": 0.15, "outcome": 0.1}}], catalog)
    assert (split.min_effect, split.outcome_floor) == (0.15, 0.1)
    (lead_only,) = parse_rules([{**base, "min_effect": {"leading": 0.3}}], catalog)
    assert lead_only.outcome_floor == 0.3
    for bad, message in (
        ({"outcome": 0.1}, "'leading' is required"),
        ({"leading": 0.1, "lagging": 0.1}, "unknown key 'lagging'"),
        ({"leading": 0.1, "outcome": -1}, "must be a relative change"),
    ):
        with pytest.raises(RuleError, match=message):
            parse_rules([{**base, "min_effect": bad}], catalog)


def test_the_catalog_as_rows_reads_as_the_catalog_as_a_frame(catalog: pd.DataFrame) -> None:
    """The rules check before dbt reads the catalog as rows, without pandas (preflight.py);
    detection reads it as a frame. Both must give the same metrics, NULLs included."""
    frame = catalog.copy()
    frame.loc[frame.index[0], "denominator_component"] = None  # a NULL as the warehouse gives
    as_frame = catalog_index(frame)
    rows = [
        {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in record.items()}
        for record in frame.to_dict("records")
    ]
    assert catalog_index(rows) == as_frame
    assert len(as_frame) == len(frame) > 5
    assert catalog_index([]) == {}  # no rows: no metrics (each rule names its unknown one)
    with pytest.raises(RuleError, match="no metric_id column"):
        catalog_index([{"label": "x"}])
