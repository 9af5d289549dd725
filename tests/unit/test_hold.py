"""Episodes that stay open until the divergence ends (divergence/hold.py, issue 13 item 2):
held against the baseline from before they began, cleared after clear_after_nights failed
nights, and the same night by night in the backtest replay and the nightly run."""

from __future__ import annotations

import dataclasses
import json
from datetime import date, datetime, timedelta
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from dagster_project.divergence.detect import detect, prepare
from dagster_project.divergence.episodes import Alert, hold_state, merge_alerts
from dagster_project.divergence.findings import Finding
from dagster_project.divergence.hold import _after_accepted, hold_window, judge_night
from dagster_project.divergence.queue import LogEntry, accepted_levels, decision_id
from dagster_project.divergence.rule import Rule, RuleError
from dagster_project.divergence.rules import load_rules, parse_rules
from dagster_project.runtime.backtest import Replay, replay_nights
from dagster_project.runtime.night import NightInputs, night_findings, record_night
from dagster_project.warehouse.decisions import read_alerts, read_log, record_action
from tests.support.metric_frames import AS_OF, make_cohorts, make_series, synthetic_catalog

RULE = "sessions_up_nobody_stays"
RULE_SPEND = "spend_up_revenue_flat"  # its scenario in the synthetic frames has the same name
KEY = (RULE, "channel", "paid_social")
ONSET = AS_OF - timedelta(days=35)  # the change lasts the last 35 nights of the data


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    return synthetic_catalog()


@pytest.fixture(scope="module")
def rules(catalog: pd.DataFrame) -> list[Rule]:
    return load_rules(None, catalog)


def _replay(
    series: pd.DataFrame, catalog, rules, start: date, *, hold: bool, cohorts=None
) -> Replay:
    inputs = NightInputs(series, catalog, rules, AS_OF, cohorts)
    return replay_nights(inputs, start, AS_OF, hold=hold)


def _nights_on(replay: Replay, key=KEY, since: date = ONSET) -> list[date]:
    return [night for night, keys in replay.active.items() if key in keys and night >= since]


@pytest.mark.parametrize("seed", [1, 2])
def test_a_change_that_persists_stays_active_to_the_end(seed: int, catalog, rules) -> None:
    series = make_series(seed, "clicks_up_nobody_stays", "paid_social", ONSET, 0.3)
    start = ONSET - timedelta(days=14)
    before = _replay(series, catalog, rules, start, hold=False)
    after = _replay(series, catalog, rules, start, hold=True)
    # Judged afresh each night, the episode clears while the change goes on: the rolling
    # baseline has slid into the new level.
    assert before.active[AS_OF].count(KEY) == 0
    assert any(a.key == KEY and a.status == "cleared" for a in before.alerts)
    # Held against the baseline from before it began, it stays open to the end, one episode.
    (episode,) = [a for a in after.alerts if a.key == KEY]
    assert episode.status == "active" and episode.cleared_at is None
    first = episode.first_detected_at
    assert _nights_on(after, since=first) == [
        first + timedelta(days=k) for k in range((AS_OF - first).days + 1)
    ]
    assert len(_nights_on(after)) > len(_nights_on(before))
    state = hold_state(episode)
    assert state is not None and state["clear_after_nights"] == 3
    assert state["hold_leading_share"] == 0.5  # why a held lift under min_effect can pass
    assert date.fromisoformat(state["baseline_end"]) < ONSET  # the baseline from before it
    assert json.loads(episode.evidence)["baseline"]["end"] == state["baseline_end"]


def _spliced(early: pd.DataFrame, late: pd.DataFrame, at: date) -> pd.DataFrame:
    """`early`'s rows before `at`, `late`'s from it on: two frames of the same seed (they draw
    their noise in the same order, so only the change differs)."""
    after = pd.to_datetime(early["period_start"]).dt.date >= at
    assert (early.index == late.index).all()
    return pd.concat([early[~after], late[after]]).sort_index()


def _reverted(seed: int, scenario: str, onset: date, revert: date, magnitude: float):
    """The scenario's rows up to `revert`, the same seed's null rows from it on."""
    return _spliced(
        make_series(seed, scenario, "paid_social", onset, magnitude), make_series(seed), revert
    )


@pytest.mark.parametrize("clear_after", [3, 5])
def test_a_change_that_reverts_clears_after_the_stated_nights(
    clear_after: int, catalog, rules
) -> None:
    onset, revert = AS_OF - timedelta(days=63), AS_OF - timedelta(days=28)
    series = _reverted(1, "clicks_up_nobody_stays", onset, revert, 0.4)
    rules = [dataclasses.replace(r, clear_after_nights=clear_after) for r in rules]
    replay = _replay(series, catalog, rules, onset, hold=True)
    (episode,) = [a for a in replay.alerts if a.key == KEY]
    assert episode.status == "cleared"
    assert episode.cleared_at == episode.last_detected_at + timedelta(days=clear_after)
    assert episode.last_detected_at > revert  # held past the revert while the window held it
    # active through the failed nights, closed from the night it cleared
    on = _nights_on(replay, since=episode.first_detected_at)
    assert on[-1] == episode.cleared_at - timedelta(days=1)
    assert KEY not in replay.active[episode.cleared_at]


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_null_frames_gain_no_episodes_from_the_hold(seed: int, catalog, rules) -> None:
    series = make_series(seed)
    start = AS_OF - timedelta(days=41)
    before = _replay(series, catalog, rules, start, hold=False)
    after = _replay(series, catalog, rules, start, hold=True)
    starts_before = {(a.key, a.first_detected_at) for a in before.alerts}
    starts_after = {(a.key, a.first_detected_at) for a in after.alerts}
    # An episode only ever opens on a night's discovery: the hold keeps, never opens.
    assert starts_after <= starts_before
    assert len(after.alerts) <= len(before.alerts)


def test_same_inputs_same_night(catalog, rules) -> None:
    series = make_series(2, "clicks_up_nobody_stays", "paid_social", ONSET, 0.3)
    replay = _replay(series, catalog, rules, AS_OF - timedelta(days=10), hold=True)
    prepared = prepare(series, catalog, rules)
    once = judge_night(prepared, catalog, rules, AS_OF, replay.alerts)
    assert once == judge_night(prepared, catalog, rules, AS_OF, replay.alerts)
    assert merge_alerts(replay.alerts, once, AS_OF) == replay.alerts  # re-running the night


def test_an_episode_recorded_before_holding_is_held_on_its_own_baseline(catalog, rules) -> None:
    """Rows written before this change have no hold state: they load, are held against the
    baseline of their evidence, and merge_alerts clears bare findings' episodes as before."""
    series = make_series(1, "clicks_up_nobody_stays", "paid_social", ONSET, 0.3)
    night = AS_OF - timedelta(days=8)
    (old,) = [f for f in detect(series, catalog, rules, night) if f.rule_id == RULE]
    alerts = merge_alerts([], [old], night)
    assert hold_state(alerts[0]) is None
    assert merge_alerts(alerts, [], night + timedelta(days=1))[0].status == "cleared"
    prepared = prepare(series, catalog, rules)
    later = night + timedelta(days=12)
    found = judge_night(prepared, catalog, rules, later, alerts)
    (held,) = [f for f in found if f.rule_id == RULE and f.dimension_value == "paid_social"]
    assert held.evidence["hold"]["baseline_end"] == old.evidence["baseline"]["end"]
    assert held.evidence["baseline"]["end"] == old.evidence["baseline"]["end"]


def _warehouse(
    path: Path, series: pd.DataFrame, catalog: pd.DataFrame, cohorts: pd.DataFrame
) -> None:
    con = duckdb.connect(str(path))
    try:
        con.execute("create schema intermediate")
        con.register("s", series)
        con.register("c", catalog)
        con.register("a", cohorts)
        con.execute("create table main.metric_series as select * from s")
        con.execute("create table main.metric_catalog as select * from c")
        con.execute("create table main.lead_cohort_ages as select * from a")
        con.execute("create table intermediate.int_run_context (as_of_date date)")
    finally:
        con.close()


@pytest.mark.parametrize(
    ("scenario", "channel", "magnitude"),
    [("clicks_up_nobody_stays", "paid_social", 0.3), ("leads_up_quality_down", "paid_social", 0.5)],
)
def test_nightly_run_and_backtest_agree_night_by_night(
    tmp_path: Path, catalog, rules, scenario: str, channel: str, magnitude: float
) -> None:
    series = make_series(1, scenario, channel, ONSET, magnitude)
    cohorts = make_cohorts(series, 1, scenario, channel, ONSET, magnitude)
    start = AS_OF - timedelta(days=16)
    replay = _replay(series, catalog, rules, start, hold=True, cohorts=cohorts)
    warehouse = tmp_path / "firewatch.duckdb"
    _warehouse(warehouse, series, catalog, cohorts)
    night = start
    while night <= AS_OF:
        con = duckdb.connect(str(warehouse))
        con.execute("delete from intermediate.int_run_context")
        con.execute("insert into intermediate.int_run_context values (?)", [night])
        con.close()
        tonight = night_findings(warehouse)
        assert [(f.rule_id, f.dimension, f.dimension_value) for f in tonight.findings] == (
            replay.fired[night]
        )
        alerts = record_night(warehouse, tonight.findings, tonight.as_of)
        assert sorted(a.key for a in alerts if a.status == "active") == sorted(replay.active[night])
        night += timedelta(days=1)
    assert [(a.alert_id, a.status, a.cleared_at) for a in alerts] == [
        (a.alert_id, a.status, a.cleared_at) for a in replay.alerts
    ]
    rule_id = (
        "sessions_up_nobody_stays"
        if scenario.startswith("clicks")
        else ("leads_up_lead_quality_down")
    )
    # the changed channel's episode was held against its baseline from before it began
    assert any(
        a.key == (rule_id, "channel", channel) and (hold_state(a) or {}).get("basis") == "hold"
        for a in alerts
    )


def test_rule_fields_for_holding(catalog) -> None:
    base = {
        "id": "x",
        "leading_metric": "sessions",
        "outcome_metric": "engagement_rate",
        "outcome_bad": "down",
        "question": "Why?",
    }
    (rule,) = parse_rules([base], catalog)
    assert (rule.hold_p, rule.clear_after_nights) == (0.2, 3)  # old files: the defaults
    (rule,) = parse_rules({"defaults": {"clear_after_nights": 5}, "rules": [base]}, catalog)
    assert rule.clear_after_nights == 5
    assert rule.hold_leading_share == 0.5
    for bad in (
        {"clear_after_nights": 0},
        {"clear_after_nights": 1.5},
        {"hold_p": 1.0},
        {"hold_leading_share": 0},
        {"hold_leading_share": 1.5},
    ):
        with pytest.raises(RuleError, match=next(iter(bad))):
            parse_rules([{**base, **bad}], catalog)


def test_alert_rows_keep_their_shape() -> None:
    """No new column: the hold state lives in the evidence JSON, so `alerts` rows written
    before load as they are."""
    assert [f.name for f in dataclasses.fields(Alert)][-4:] == [
        "status",
        "cleared_at",
        "owner",
        "question",
    ]


def test_a_lead_cohort_episode_is_held_on_up_to_four_weeks_of_cohorts(rules) -> None:
    by_id = {r.id: r for r in rules}
    quality, clicks = by_id["engagement_up_lead_quality_down"], by_id[RULE]
    end = date(2025, 8, 31)  # the episode's baseline ended here
    # whole weeks of cohorts since the baseline ended, between the window and twice it
    assert [hold_window(quality, end, end + timedelta(days=d)) for d in (14, 20, 21, 27, 40)] == [
        14,
        14,
        21,
        21,
        28,
    ]
    assert hold_window(clicks, end, end + timedelta(days=40)) == clicks.window  # not censored


def test_a_lasting_quality_drop_stays_active_to_the_end(catalog, rules) -> None:
    # Paid social (~140 leads a week) loses 30% of its lead quality while engagement rises,
    # for the last 35 nights. Held on 14 days of young cohorts, the episode was lost before the
    # end on 2 of these 6 seeds (three nights in a row above hold_p by chance); on up to four
    # weeks of cohorts it is active on the last night whenever it was found.
    key = ("engagement_up_lead_quality_down", "channel", "paid_social")
    found = active = 0
    for seed in range(1, 7):
        args = (seed, "engagement_up_quality_down", "paid_social", ONSET, 0.3)
        series = make_series(*args)
        cohorts = make_cohorts(series, *args)
        replay = _replay(series, catalog, rules, ONSET, hold=True, cohorts=cohorts)
        found += any(a.key == key for a in replay.alerts)
        active += key in replay.active[AS_OF]
    assert found >= 5 and active == found


def test_a_dismissed_level_re_bases_the_rule_for_that_value(tmp_path: Path, catalog, rules) -> None:
    """Issue 13 item 2: a person who dismisses the item accepts the new level. From the next
    night the episode is not held (it clears after clear_after_nights), and the rule finds
    nothing on that value until its baseline starts at the accepted level; every other
    value, and a `decide`, change nothing."""
    series = make_series(1, "clicks_up_nobody_stays", "paid_social", ONSET, 0.3)
    cohorts = make_cohorts(series, 1)
    warehouse = tmp_path / "firewatch.duckdb"
    _warehouse(warehouse, series, catalog, cohorts)

    def night(day: date) -> list:
        con = duckdb.connect(str(warehouse))
        con.execute("delete from intermediate.int_run_context")
        con.execute("insert into intermediate.int_run_context values (?)", [day])
        con.close()
        tonight = night_findings(warehouse)
        return record_night(warehouse, tonight.findings, tonight.as_of)

    first = ONSET + timedelta(days=14)
    day = first
    while not any(a.key == KEY for a in night(day)):
        day += timedelta(days=1)
    con = duckdb.connect(str(warehouse))
    alerts = read_alerts(con)
    (episode,) = [a for a in alerts if a.key == KEY]
    change = date.fromisoformat(hold_state(episode)["baseline_end"]) + timedelta(days=1)
    decided = [LogEntry(1, decision_id(episode), "decide", "ana", datetime(2025, 9, 1), "pause")]
    assert accepted_levels(alerts, decided) == {}  # a decision to act accepts nothing
    record_action(con, decision_id(episode), "acknowledge", "ana")
    assert accepted_levels(alerts, read_log(con)) == {}
    record_action(con, decision_id(episode), "dismiss", "ana", text="the new audience is fine")
    assert accepted_levels(read_alerts(con), read_log(con)) == {KEY: change}
    con.close()
    after = [night(day + timedelta(days=k)) for k in range(1, 5)]
    status = [next(a.status for a in alerts if a.key == KEY) for alerts in after]
    # held open for clear_after_nights (3) nights after its last finding, then cleared for good
    assert status == ["active", "active", "cleared", "cleared"]
    assert [a for a in after[-1] if a.key == KEY and a.first_detected_at > day] == []
    # a finding on that value whose baseline starts before the accepted level is dropped, one
    # whose baseline starts at it or later is kept
    found = dataclasses.replace(
        _finding_for(KEY), evidence={"baseline": {"start": (change - timedelta(1)).isoformat()}}
    )
    assert not _after_accepted(found, {KEY: change})
    later = dataclasses.replace(found, evidence={"baseline": {"start": change.isoformat()}})
    assert _after_accepted(later, {KEY: change}) and _after_accepted(found, {})


def _finding_for(key: tuple[str, str, str]) -> Finding:
    rule_id, dimension, value = key
    return Finding(
        rule_id=rule_id,
        leading_metric="sessions",
        outcome_metric="engagement_rate",
        dimension=dimension,
        dimension_value=value,
        window_start=AS_OF,
        window_end=AS_OF,
        leading_change=0.3,
        outcome_change=-0.2,
        severity="warn",
        explanation="",
        owner="web",
        question="",
        as_of=AS_OF,
        evidence={},
    )


def _faded(seed: int, scenario: str, onset: date, fade: date, first: float, then: float):
    """The scenario at `first` up to `fade` and at `then` from it on (the same seed's noise)."""
    early = make_series(seed, scenario, "paid_social", onset, first)
    return _spliced(early, make_series(seed, scenario, "paid_social", onset, then), fade)


def test_a_held_episode_keeps_going_while_the_leading_metric_stays_past_half_its_floor(
    catalog, rules
) -> None:
    """Spend +40% from 63 days before the end, +15% for the last 28 (under the rule's 20% floor,
    over half of it), revenue flat all along. Held with the leading metric at half its floor
    (the default), no episode ends sooner than with the whole floor, and some last to the end
    that the whole floor closes; once spend is back to +4%, under half the floor, they close."""
    key = ("spend_up_revenue_flat", "channel", "paid_social")
    onset, fade = AS_OF - timedelta(days=63), AS_OF - timedelta(days=28)
    whole = [dataclasses.replace(r, hold_leading_share=1.0) for r in rules]
    assert {r.hold_leading_share for r in rules} == {0.5}

    def ends(series: pd.DataFrame, rule_set) -> tuple[date, bool]:
        replay = _replay(series, catalog, rule_set, onset, hold=True)
        last = max(replay.alerts, key=lambda a: a.first_detected_at if a.key == key else date.min)
        assert last.key == key
        return (last.cleared_at or AS_OF + timedelta(days=1)), key in replay.active[AS_OF]

    kept = closed = 0
    for seed in range(1, 7):
        faded = _faded(seed, RULE_SPEND, onset, fade, 0.4, 0.15)
        half_end, half_active = ends(faded, rules)
        whole_end, whole_active = ends(faded, whole)
        assert half_end >= whole_end
        kept += half_active
        closed += not whole_active
        _, back_active = ends(_faded(seed, RULE_SPEND, onset, fade, 0.4, 0.04), rules)
        assert not back_active
    assert kept >= 2 and closed == 6
