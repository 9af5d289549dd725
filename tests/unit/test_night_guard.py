"""The night guard's comparison (pure) and its wording: which control totals fell, before → now,
and the short block a refused night shows in `firewatch run` and in the Dagster UI."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from dagster_project.cli.args import add_accept_drop
from dagster_project.cli.run import refusal_block
from dagster_project.defs.partitions import ACCEPT_DROP_TAG, accepts_drop
from dagster_project.runtime.guard import Fall, falls
from dagster_project.runtime.refusal import TOTALS_REFUSED, is_refusal, short_block
from dagster_project.settings import SettingsError, max_drop

BEFORE = {"spend": 490.0, "sessions": 4.0, "leads": 3.0}


def test_a_total_that_collapses_to_zero_falls_whatever_the_limit() -> None:
    now = {"spend": 0.0, "sessions": 5.0, "leads": 3.0}
    assert falls(BEFORE, now, max_drop=1.0) == [Fall("spend", 490.0, 0.0)]
    assert str(falls(BEFORE, now, 0.5)[0]) == "spend: 490 → 0 (-100%)"


def test_a_fall_by_more_than_the_share_is_named_with_before_and_now() -> None:
    # 490 → 200 is 59% gone (limit 50%); 490 → 245 is exactly half: not more than the limit
    (fall,) = falls(BEFORE, {**BEFORE, "spend": 200.0}, max_drop=0.5)
    assert (fall.metric_id, fall.before, fall.now) == ("spend", 490.0, 200.0)
    assert fall.share == pytest.approx(290 / 490)
    assert str(fall) == "spend: 490 → 200 (-59%)"
    assert falls(BEFORE, {**BEFORE, "spend": 245.0}, max_drop=0.5) == []
    # a stricter limit catches a smaller fall: 4 → 3 sessions is 25% gone
    assert falls(BEFORE, {**BEFORE, "sessions": 3.0}, max_drop=0.2) == [Fall("sessions", 4.0, 3.0)]
    assert str(Fall("spend", 1234.5, 100.25)) == "spend: 1,234.50 → 100.25 (-92%)"


def test_growth_and_a_small_dip_pass() -> None:
    assert falls(BEFORE, {"spend": 900.0, "sessions": 40.0, "leads": 3.0}, 0.5) == []
    assert falls(BEFORE, {"spend": 480.0, "sessions": 3.0, "leads": 2.0}, 0.5) == []


def test_a_first_night_and_a_total_that_was_zero_before_pass() -> None:
    assert falls({}, {"spend": 0.0}, 0.5) == []
    assert falls({"leads": 0.0}, {}, 0.5) == []


def test_a_total_gone_from_tonights_numbers_falls() -> None:
    (fall,) = falls(BEFORE, {"spend": 490.0, "leads": 3.0}, 0.5)
    assert fall == Fall("sessions", 4.0, None)
    assert str(fall) == "sessions: 4 → no rows (-100%)"


def test_max_drop_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FIREWATCH_MAX_DROP", raising=False)
    assert max_drop() == 0.5
    monkeypatch.setenv("FIREWATCH_MAX_DROP", "0.3")
    assert max_drop() == 0.3
    for bad in ("0", "1.5", "half", "-0.2"):
        monkeypatch.setenv("FIREWATCH_MAX_DROP", bad)
        with pytest.raises(SettingsError, match="FIREWATCH_MAX_DROP"):
            max_drop()


def test_accept_drop_is_a_run_tag_and_a_flag() -> None:
    assert accepts_drop({ACCEPT_DROP_TAG: "true"}) and accepts_drop({ACCEPT_DROP_TAG: "1"})
    assert not accepts_drop({}) and not accepts_drop({ACCEPT_DROP_TAG: "no"})
    parser = argparse.ArgumentParser()
    add_accept_drop(parser)
    assert parser.parse_args(["--accept-drop"]).accept_drop is True
    assert parser.parse_args([]).accept_drop is False


def test_a_steps_refusal_is_printed_as_the_ui_shows_it() -> None:
    block = short_block(
        TOTALS_REFUSED, ["spend: 490 → 200 (-59%)", "  firewatch run --accept-drop"]
    )
    assert is_refusal(block) and not is_refusal("OSError: disk full")
    log = Path("/w/firewatch.run.log")
    printed = refusal_block([("night_guard", block, "stack…")], log, dbt_ran=True).splitlines()
    assert printed[0] == f"firewatch run: {TOTALS_REFUSED}"
    assert printed[1:3] == ["  spend: 490 → 200 (-59%)", "    firewatch run --accept-drop"]
    assert printed[3].startswith(f"Details (dbt's log and the stack traces): {log}")
    # a guard step that crashed is not a refusal: it says which step failed
    crashed = refusal_block([("night_guard", "OSError: disk full", "")], log, dbt_ran=True)
    assert crashed.splitlines()[:2] == [
        "firewatch run: step night_guard failed; alerts, the queue and the BI copy keep the "
        "previous good night.",
        "  disk full",
    ]


def test_the_guard_is_a_blocking_check_on_metric_series_of_the_nightly_job(tmp_path: Path) -> None:
    import dagster as dg

    from dagster_project.definitions import build_definitions
    from dagster_project.defs.guard import night_guard
    from dagster_project.settings import Settings

    (spec,) = night_guard.check_specs
    assert (spec.asset_key, spec.name, spec.blocking) == (
        dg.AssetKey("metric_series"),
        "night_guard",
        True,
    )
    defs = build_definitions(Settings(raw_dir=tmp_path / "raw", warehouse=tmp_path / "w.duckdb"))
    assert spec.key in defs.resolve_asset_graph().asset_check_keys
    assert night_guard.node_def.name == "night_guard"  # the step `firewatch run` names
