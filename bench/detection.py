"""Detection benchmark: precision, recall and time-to-detect per rule over seeded scenario runs,
false alerts per rule per 90 days over null runs, and the same figures for an Elementary-style
z-score baseline on the same data. Writes docs/detection.md.

Every run is a real data set: `firewatch generate` with its own seed (and, for scenario runs, one
injected change), loaded and built by the same loader and dbt models as the nightly job
(`dagster_project.runtime.lab`), then replayed night by night like `firewatch backtest`. Two stages:

1. build: generate + load + dbt for each run; the metric rows the rules read are cached under
   bench/.cache/detection/<run>/ (so stage 2 can be repeated after a rule change in minutes);
2. evaluate: replay the nights of every cached run with the current rules and the z-score
   baseline, tally, write the report.

    .venv/bin/python bench/detection.py                 # both stages, 56 scenario + 200 null runs
    .venv/bin/python bench/detection.py --stage evaluate  # re-tally the cached runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from dagster_project.generate.core import DEFAULT_END_DATE  # noqa: E402
from dagster_project.generate.scenarios import KINDS  # noqa: E402

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


def plan(scenario_runs_per_kind: int, null_runs: int) -> list[RunSpec]:
    """The runs: magnitudes cycle through 20-50%, onsets through every weekday, 35-41 days
    before the end of the data (so each change lasts 35+ days)."""
    runs: list[RunSpec] = []
    for k, kind in enumerate(sorted(KINDS)):
        for i in range(scenario_runs_per_kind):
            onset = DEFAULT_END_DATE - timedelta(days=AFTER_ONSET + (i % 7))
            channel = CHANNEL_OF_KIND[kind]
            suffix = "" if channel in _FIRST_CHANNELS else f"-{channel}"
            runs.append(
                RunSpec(
                    f"{kind}-{i:02d}{suffix}",
                    kind,
                    1000 + 100 * k + i,
                    SCENARIO_PROFILE,
                    SCENARIO_DAYS,
                    channel,
                    onset,
                    MAGNITUDES[i % len(MAGNITUDES)],
                )
            )
    runs += [
        RunSpec(f"null-{i:03d}", "null", 5000 + i, NULL_PROFILE, NULL_DAYS)
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
    if (target / "done").exists():
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
        finally:
            con.close()
        target.mkdir(parents=True, exist_ok=True)
        series.to_parquet(target / "series.parquet", index=False)
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


# ------------------------------------------------------------------------------- stage 2


def evaluate_run(run_id: str) -> dict[str, Any]:
    """Replays one cached run with the current rules and with the z-score baseline."""
    from dagster_project.divergence.rules import catalog_index, load_rules
    from dagster_project.divergence.zscore import episodes, latest_period_end, zscore_nights
    from dagster_project.runtime.backtest import replay_nights
    from dagster_project.runtime.night import NightInputs

    folder = CACHE / run_id
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    series = pd.read_parquet(folder / "series.parquet")
    catalog = pd.read_parquet(folder / "catalog.parquet")
    rules = load_rules(None, catalog)
    end = date.fromisoformat(meta["end_date"])
    onset = date.fromisoformat(meta["spec"]["onset"]) if meta["spec"]["onset"] else None
    if onset is None:
        first, last = end - timedelta(days=NULL_NIGHTS - 1), end
    else:
        first, last = onset - timedelta(days=BEFORE_ONSET), min(end, onset + timedelta(AFTER_ONSET))
    started = time.perf_counter()
    inputs = NightInputs(series, catalog, rules, end)
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


def _tally(results: list[dict[str, Any]], which: str, rule_ids: list[str]) -> dict[str, Any]:
    """Precision, recall, time-to-detect and false alerts per rule for one detector."""
    per_rule: dict[str, dict[str, Any]] = {
        r: {"runs": 0, "hits14": 0, "hits": 0, "ttd": [], "tp": 0, "collateral": 0, "fp": 0,
            "null_alerts": 0, "by_magnitude": defaultdict(lambda: [0, 0])}
        for r in rule_ids
    }  # fmt: skip
    null_nights = 0
    scen_nights = 0  # replayed nights of the scenario runs
    scen_clean_alerts: dict[str, int] = defaultdict(int)
    for res in results:
        spec = res["spec"]
        episodes = res[which]
        if spec["kind"] == "null":
            null_nights += res["nights"]
            for rule_id, *_ in episodes:
                if rule_id in per_rule:
                    per_rule[rule_id]["null_alerts"] += 1
            continue
        onset = date.fromisoformat(spec["onset"])
        target_rule, channel = RULE_OF_KIND[spec["kind"]], spec["channel"]
        stats = per_rule[target_rule]
        stats["runs"] += 1
        hit_days = [
            (date.fromisoformat(first) - onset).days
            for rule_id, _dim, value, first, _last, window_end in episodes
            if rule_id == target_rule
            and value == channel
            and date.fromisoformat(window_end) >= onset  # its data hold the change
            and (date.fromisoformat(first) - onset).days <= RECALL_HORIZON
        ]
        magnitude = stats["by_magnitude"][spec["magnitude"]]
        magnitude[1] += 1
        if hit_days:
            ttd = max(0, min(hit_days))
            stats["hits"] += 1
            stats["hits14"] += ttd <= 14
            stats["ttd"].append(ttd)
            magnitude[0] += 1
        # the channels that carry no change (every channel but the injected one, not the total)
        scen_nights += res["nights"]
        for rule_id, _dim, value, _first, _last, window_end in episodes:
            if rule_id not in per_rule:
                continue
            # true: on the changed channel (or the total), judged on data that hold the change
            if value in (channel, "total") and date.fromisoformat(window_end) >= onset:
                per_rule[rule_id]["tp"] += 1
                per_rule[rule_id]["collateral"] += rule_id != target_rule
            else:
                per_rule[rule_id]["fp"] += 1
                if value not in (channel, "total"):
                    scen_clean_alerts[rule_id] += 1
    return {
        "per_rule": per_rule,
        "null_nights": null_nights,
        "scenario_nights": scen_nights,
        "scenario_clean_alerts": dict(scen_clean_alerts),
    }


def _fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _table(tally: dict[str, Any], rule_ids: list[str]) -> list[str]:
    lines = [
        "| rule | scenario runs | recall ≤ 14 d | recall ≤ 28 d | median TTD (d) | precision "
        "| of which other rules' | false alerts / 90 d (null) | false alerts / 90 d (scenario "
        "runs, on the channels without a change) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    null_periods = tally["null_nights"] / 90 if tally["null_nights"] else None
    clean_periods = tally["scenario_nights"] / 90
    for rule_id in rule_ids:
        s = tally["per_rule"][rule_id]
        recall14 = s["hits14"] / s["runs"] if s["runs"] else None
        recall = s["hits"] / s["runs"] if s["runs"] else None
        ttd = statistics.median(s["ttd"]) if s["ttd"] else None
        flagged = s["tp"] + s["fp"]
        precision = s["tp"] / flagged if flagged else None
        null_rate = s["null_alerts"] / null_periods if null_periods else None
        clean = tally["scenario_clean_alerts"].get(rule_id, 0) / clean_periods
        lines.append(
            f"| {rule_id} | {s['runs']} | {_fmt(recall14)} | {_fmt(recall)} | {_fmt(ttd, 1)} "
            f"| {_fmt(precision)} ({s['tp']}/{flagged}) | {s['collateral']} "
            f"| {_fmt(null_rate, 3)} ({s['null_alerts']} in {tally['null_nights']} nights) "
            f"| {_fmt(clean, 3)} |"
        )
    return lines


def _by_magnitude(tally: dict[str, Any], rule_ids: list[str]) -> list[str]:
    header = " | ".join(f"{int(m * 100)}%" for m in MAGNITUDES)
    lines = [f"| rule | {header} |", "|---|" + "---|" * len(MAGNITUDES)]
    for rule_id in rule_ids:
        cells = []
        for m in MAGNITUDES:
            hit, n = tally["per_rule"][rule_id]["by_magnitude"].get(m, [0, 0])
            cells.append(f"{hit}/{n}")
        lines.append(f"| {rule_id} | " + " | ".join(cells) + " |")
    return lines


def report(results: list[dict[str, Any]], build_seconds: float | None) -> str:
    from dagster_project.runtime.night import rule_ids as read_rule_ids

    rule_ids = sorted(read_rule_ids())
    ours, theirs = _tally(results, "ours", rule_ids), _tally(results, "zscore", rule_ids)
    unscreened = _tally(results, "ours_all", rule_ids)
    n_scen = sum(r["spec"]["kind"] != "null" for r in results)
    n_null = len(results) - n_scen
    replay = statistics.median(r["replay_seconds"] / r["nights"] for r in results)
    lines = [
        "# Detection benchmark",
        "",
        f"Written by `bench/detection.py` on {date.today().isoformat()} ({describe()}).",
        f"{n_scen} scenario runs ({SCENARIO_PROFILE} profile, {SCENARIO_DAYS} days, one injected "
        f"change each, magnitudes {', '.join(f'{int(m * 100)}%' for m in MAGNITUDES)}, onset "
        f"35-41 days before the end, so every change lasts 35+ days) and {n_null} null runs "
        f"({NULL_PROFILE} profile, {NULL_DAYS} days, no change, the last {NULL_NIGHTS} nights "
        "replayed). Every run is its own seed, generated, loaded and built by the nightly job's "
        "loader and dbt models, then replayed night by night as `firewatch backtest` does.",
        "",
        "Definitions:",
        f"- *recall ≤ N d*: share of a rule's scenario runs in which it raised an alert on the "
        f"injected channel within N days of onset (the replay covers {BEFORE_ONSET} nights "
        f"before to {AFTER_ONSET} after); *TTD*: days from onset to that first night.",
        "- *precision*: of all alert episodes raised in the scenario runs, the share on the "
        "injected channel (or the total) whose window on its first night held days after the "
        "onset (a recall hit needs that too); *of which other "
        "rules'*: true consequences of the change caught by a different rule (more clicks cost "
        "more spend, so `clicks_up_nobody_stays` also raises `spend_up_revenue_flat`).",
        "- *false alerts / 90 d (null)*: episodes per rule in the null runs per 90 replayed "
        "nights; the last column counts the same on the channels of the scenario runs that "
        f"carry no change (nights x untouched channels), at {SCENARIO_PROFILE} volume.",
        "- Episodes: consecutive nights of one rule on one dimension value are one alert, as in "
        "`alerts`.",
        "",
        "Targets (issue 3): recall ≥ 0.95 for effects ≥ 20% lasting ≥ 14 days on channels with "
        "≥ 50 leads a week; median time-to-detect ≤ 7 days; ≤ 0.25 false alerts per rule per "
        "90 days.",
        "",
        "## kpi-firewatch",
        "",
        *_table(ours, rule_ids),
        "",
        "Recall within 28 days by magnitude (hits / runs):",
        "",
        *_by_magnitude(ours, rule_ids),
        "",
        "## kpi-firewatch with every tested hypothesis in the Benjamini-Hochberg family",
        "",
        "The same detection without the screen (`detect(..., screen=False)`): hypotheses whose "
        "leading metric did not move by its floor, and so can never fire, are counted in the "
        "false-discovery correction too.",
        "",
        *_table(unscreened, rule_ids),
        "",
        "## Elementary-style z-score baseline (14-point training window, sensitivity 3)",
        "",
        "The outcome metric's latest complete period (the leading metric's, for the `flat` "
        "rules) against the 14 periods before it, one-sided the alerting way, per dimension "
        "value, every night; no volume floor, no false-discovery control. It was given the "
        "final (mature) cohort values, which flatters it: on the night itself Elementary would "
        "have seen the young cohorts' low rates.",
        "",
        *_table(theirs, rule_ids),
        "",
        "Recall within 28 days by magnitude (hits / runs):",
        "",
        *_by_magnitude(theirs, rule_ids),
        "",
        "## Reading it",
        "",
        "- The control and web rules (sessions, traffic, spend, reach) see a 20% change within "
        "the 28 days on every run or nearly; their time to detect is set by the window: with 14 "
        "days (or 2 weeks) against 84, a 20% step shows as 15% once about three quarters of the "
        "window is after it, 8-10 days in. A 7-day window would detect sooner and fire more "
        "often on noise; we kept the false alerts down.",
        "- The lead-quality and CAC rules are bounded by counts, not by the method: paid social "
        "at this volume has ~5 SQLs within 7 days a week and LinkedIn ~8 customers a week, so "
        "a 20-50% drop is a difference of a few events. They fire when the change is large or "
        "the channel big (paid search, ~190 leads a week: recall 0.88 for the leads rule).",
        "- The z-score baseline cannot see a flat outcome or judge a rate by its volume: it "
        "raises several times more false alerts on the same null data and misses the cohort "
        "metrics entirely (a 7-day cohort rate of 5% moves by a few SQLs).",
        "",
        "## Cost",
        "",
        f"Replaying one night of every rule over a run's metric_series: median "
        f"{replay * 1000:.0f} ms.",
    ]
    if build_seconds is not None:
        lines.append(
            f"Building the runs (generate + load + dbt, 2 workers): {build_seconds / 60:.1f} min."
        )
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "build", "evaluate", "report"], default="all")
    parser.add_argument(
        "--results",
        default=str(CACHE / "results.json"),
        help="Where evaluate writes (and report reads) the per-run episodes.",
    )
    parser.add_argument("--kinds", choices=["all", "scenario"], default="all")
    parser.add_argument("--scenario-runs-per-kind", type=int, default=8)
    parser.add_argument("--null-runs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--out", default=str(ROOT / "docs" / "detection.md"))
    args = parser.parse_args()
    os.environ.setdefault("FIREWATCH_DBT_THREADS", "1" if args.workers > 1 else "2")
    runs = plan(args.scenario_runs_per_kind, 0 if args.kinds == "scenario" else args.null_runs)
    build_seconds = None
    if args.stage in ("all", "build"):
        started = time.perf_counter()
        with ProcessPoolExecutor(args.workers) as pool:
            for done, run_id in enumerate(pool.map(build, runs), start=1):
                print(f"[{time.perf_counter() - started:7.0f}s] built {done}/{len(runs)} {run_id}",
                      flush=True)  # fmt: skip
        build_seconds = time.perf_counter() - started
    results_path = Path(args.results)
    if args.stage in ("all", "evaluate"):
        ids = [r.run_id for r in runs if (CACHE / r.run_id / "done").exists()]
        with ProcessPoolExecutor(args.workers) as pool:
            results = list(pool.map(evaluate_run, ids))
        results_path.write_text(json.dumps(results), encoding="utf-8")
    if args.stage in ("all", "evaluate", "report"):
        results = json.loads(results_path.read_text(encoding="utf-8"))
        Path(args.out).write_text(report(results, build_seconds), encoding="utf-8")
        print(f"wrote {args.out} from {len(results)} runs")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
