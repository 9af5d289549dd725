"""The detection benchmark's runs: which scenario and null runs there are (seeds, channels,
onsets, magnitudes), stage 1 (generate, load and build one run, cache the metric rows the rules
read under bench/.cache/detection/<run>/) and stage 2 (replay one cached run's nights with the
current rules and with the z-score baseline)."""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from dagster_project.generate.core import DEFAULT_END_DATE
from dagster_project.generate.scenarios import KINDS

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "bench" / ".cache" / "detection"
# Which rule is meant to catch which injected change.
RULE_OF_KIND = {
    "engagement_up_quality_down": "engagement_up_lead_quality_down",
    "engagement_up_cac_up": "engagement_up_cac_up",
    "reach_up_sales_flat": "reach_up_sales_flat",
    "clicks_up_nobody_stays": "sessions_up_nobody_stays",
    "leads_up_quality_down": "leads_up_lead_quality_down",
    "traffic_up_returning_down": "traffic_up_returning_share_down",
    "spend_up_revenue_flat": "spend_up_revenue_flat",
}
# Channels with 50+ leads a week in the `medium` profile (paid social ~65, LinkedIn ~50, paid
# search ~190). CAC needs customers too: paid social closes ~3 a week there, below the rule's
# 10 in 14 days, so the CAC change goes on LinkedIn (~8 a week).
CHANNEL_OF_KIND = {
    kind: ("paid_social" if spec.needs == "social_ads" else "paid_search")
    for kind, spec in KINDS.items()
} | {"engagement_up_cac_up": "linkedin"}
_FIRST_CHANNELS = ("paid_social", "paid_search")  # run ids without a channel suffix
MAGNITUDES = (0.2, 0.3, 0.4, 0.5)
SCENARIO_PROFILE, SCENARIO_DAYS = "medium", 182
NULL_PROFILE, NULL_DAYS = "small", 182
BEFORE_ONSET, AFTER_ONSET = 14, 35  # replayed nights around a scenario's onset
RECALL_HORIZON = 28  # days after onset within which a detection counts
NULL_NIGHTS = 90


@dataclass(frozen=True)
class RunSpec:
    run_id: str
    kind: str  # a scenario name or "null"
    seed: int
    profile: str
    days: int
    channel: str | None = None
    onset: date | None = None
    magnitude: float | None = None


def plan(
    scenario_runs_per_kind: int,
    null_runs: int,
    *,
    seed_offset: int = 0,
    onset_shift: int = 0,
    magnitudes: tuple[float, ...] = MAGNITUDES,
) -> list[RunSpec]:
    """The runs: magnitudes cycle through 20-50%, onsets through every weekday, 35-41 days
    before the end of the data (so each change lasts 35+ days). `seed_offset`, `onset_shift`
    (days added to the onset's distance from the end) and `magnitudes` give other data sets
    than the default's (their run ids carry a suffix, so their cache is their own)."""
    runs: list[RunSpec] = []
    tag = f"-s{seed_offset}o{onset_shift}" if seed_offset or onset_shift else ""
    for k, kind in enumerate(sorted(KINDS)):
        for i in range(scenario_runs_per_kind):
            onset = DEFAULT_END_DATE - timedelta(days=AFTER_ONSET + onset_shift + (i % 7))
            channel = CHANNEL_OF_KIND[kind]
            suffix = "" if channel in _FIRST_CHANNELS else f"-{channel}"
            magnitude = magnitudes[i % len(magnitudes)]
            mtag = "" if magnitudes == MAGNITUDES else f"-m{round(magnitude * 100)}"
            runs.append(
                RunSpec(
                    f"{kind}-{i:02d}{suffix}{tag}{mtag}",
                    kind,
                    1000 + 100 * k + i + seed_offset,
                    SCENARIO_PROFILE,
                    SCENARIO_DAYS,
                    channel,
                    onset,
                    magnitude,
                )
            )
    runs += [
        RunSpec(f"null-{i:03d}{tag}", "null", 5000 + i + seed_offset, NULL_PROFILE, NULL_DAYS)
        for i in range(null_runs)
    ]
    return runs


# ------------------------------------------------------------------------------- stage 1


def _metrics_to_keep() -> list[str]:
    """The metrics the built-in rules read, and the lead-quality ones, for later rule edits."""
    import yaml

    data = yaml.safe_load((ROOT / "dagster_project" / "rules.yml").read_text(encoding="utf-8"))
    keep = {"lead_to_sql_rate", "early_lead_to_sql_rate", "leads", "customers", "revenue"}
    for rule in data["rules"]:
        keep |= {rule["leading_metric"], rule["outcome_metric"]}
    return sorted(keep)


def build(spec: RunSpec) -> str:
    """Generates, loads and builds one run; caches its metric rows. Returns the run id."""
    from dagster_project.generate import generate
    from dagster_project.generate.scenarios import ScenarioSpec
    from dagster_project.runtime.lab import build_metrics

    target = CACHE / spec.run_id
    if (target / "done").exists() and (target / "cohorts.parquet").exists():
        return spec.run_id
    work = Path(tempfile.mkdtemp(prefix=f"fw-detect-{spec.run_id}-"))
    try:
        scenarios = []
        if spec.kind != "null":
            scenarios = [ScenarioSpec(spec.kind, spec.channel, spec.onset, spec.magnitude)]
        truth = generate(
            work, profile=spec.profile, days=spec.days, seed=spec.seed, scenarios=scenarios
        )
        warehouse = work / "firewatch.duckdb"
        build_metrics(work / "raw", warehouse)
        import duckdb

        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            series = con.execute(
                "select * from main.metric_series where metric_id in (select unnest(?)) "
                "and grain in ('day', 'week') and dimension in ('total', 'channel')",
                [_metrics_to_keep()],
            ).df()
            catalog = con.execute("select * from main.metric_catalog").df()
            cohorts = con.execute("select * from main.lead_cohort_ages").df()
        finally:
            con.close()
        target.mkdir(parents=True, exist_ok=True)
        series.to_parquet(target / "series.parquet", index=False)
        cohorts.to_parquet(target / "cohorts.parquet", index=False)
        catalog.to_parquet(target / "catalog.parquet", index=False)
        meta = {
            "spec": {**spec.__dict__, "onset": spec.onset.isoformat() if spec.onset else None},
            "end_date": truth["end_date"],
            "scenarios": truth["scenarios"],
        }
        (target / "meta.json").write_text(json.dumps(meta, indent=1), encoding="utf-8")
        (target / "done").write_text("", encoding="utf-8")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return spec.run_id


def build_all(specs: list[RunSpec], workers: int) -> None:
    """Stage 1 for every run not cached yet, `workers` at a time, a line as each is done."""
    from concurrent.futures import ProcessPoolExecutor

    started = time.perf_counter()
    with ProcessPoolExecutor(workers) as pool:
        for done, run_id in enumerate(pool.map(build, specs), start=1):
            print(f"[{time.perf_counter() - started:6.0f}s] built {done}/{len(specs)} {run_id}",
                  flush=True)  # fmt: skip


# ------------------------------------------------------------------------------- stage 2


def load_run(run_id: str) -> tuple[dict[str, Any], Any, date, date]:
    """A cached run's meta, its NightInputs (with the current rules) and the replayed nights."""
    from dagster_project.divergence.rules import load_rules
    from dagster_project.runtime.night import NightInputs

    folder = CACHE / run_id
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    series = pd.read_parquet(folder / "series.parquet")
    catalog = pd.read_parquet(folder / "catalog.parquet")
    cohorts = pd.read_parquet(folder / "cohorts.parquet")
    rules = load_rules(None, catalog)
    end = date.fromisoformat(meta["end_date"])
    onset = date.fromisoformat(meta["spec"]["onset"]) if meta["spec"]["onset"] else None
    if onset is None:
        first, last = end - timedelta(days=NULL_NIGHTS - 1), end
    else:
        first, last = onset - timedelta(days=BEFORE_ONSET), min(end, onset + timedelta(AFTER_ONSET))
    return meta, NightInputs(series, catalog, rules, end, cohorts), first, last


def evaluate_run(run_id: str) -> dict[str, Any]:
    """Replays one cached run with the current rules and with the z-score baseline."""
    from dagster_project.divergence.catalog import catalog_index
    from dagster_project.divergence.zscore import episodes, latest_period_end, zscore_nights
    from dagster_project.runtime.backtest import replay_nights

    meta, inputs, first, last = load_run(run_id)
    series, catalog, rules = inputs.series, inputs.catalog, inputs.rules
    started = time.perf_counter()
    replays = {
        "ours": replay_nights(inputs, first, last),
        "ours_all": replay_nights(inputs, first, last, screen=False),
    }
    seconds = (time.perf_counter() - started) / len(replays)
    episodes_of = {
        name: [
            (
                a.rule_id,
                a.dimension,
                a.dimension_value,
                a.first_detected_at.isoformat(),
                a.last_detected_at.isoformat(),
                replay.first_window_end[a.alert_id].isoformat(),
            )
            for a in replay.alerts
        ]  # fmt: skip
        for name, replay in replays.items()
    }
    nights = [first + timedelta(days=k) for k in range((last - first).days + 1)]
    grain_of = {rule.id: rule.grain for rule in rules}
    z_fired = zscore_nights(series, catalog_index(catalog), rules, nights)
    theirs = [
        (*key, a.isoformat(), b.isoformat(), latest_period_end(a, grain_of[key[0]]).isoformat())
        for key, a, b in episodes(z_fired)
    ]
    return {
        "run_id": run_id,
        "spec": meta["spec"],
        "first_night": first.isoformat(),
        "last_night": last.isoformat(),
        "nights": len(nights),
        "replay_seconds": seconds,
        "channels": int(series.loc[series["dimension"] == "channel", "dimension_value"].nunique()),
        **episodes_of,
        "zscore": theirs,
    }
