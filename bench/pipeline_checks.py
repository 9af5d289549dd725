"""What the performance bench measures once, independent of the data set: the divergence checks
alone (`detect` over ~10,000 synthetic series) and the load of the Dagster code location."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import Any

from bench.pipeline_measure import Measurement, measure

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CHECK_SERIES = 10_000


def synthetic_series(
    catalog: Any, rules: Sequence[Any], n_values: int, as_of: date, seed: int = 7
) -> Any:
    """A metric_series frame for the metrics the rules read: `n_values` channels plus the total,
    26 weeks of day rows (and their weeks) ending on as_of, with volumes like a mid-sized
    advertiser's channel (so most series are tested, not skipped for volume)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    n_days = 7 * 26
    days = pd.date_range(end=pd.Timestamp(as_of), periods=n_days, freq="D").as_unit("us")
    scale = rng.lognormal(0.0, 0.4, (n_values, 1))
    weekday = np.where(days.weekday >= 5, 0.7, 1.12)[None, :]

    def counts(mean: float) -> np.ndarray:
        mu = np.broadcast_to(mean * scale * weekday, (n_values, n_days))
        return rng.negative_binomial(40, 40 / (40 + mu)).astype(float)

    def share(of: np.ndarray, p: float) -> np.ndarray:
        return rng.binomial(of.astype(np.int64), p).astype(float)

    c: dict[str, np.ndarray] = {
        "impressions": counts(14000),
        "ad_engagements": counts(90),
        "spend": 900 * scale * weekday * rng.lognormal(0, 0.06, (n_values, n_days)),
        "sessions": counts(260),
        "leads": counts(20),
        "customers": counts(5),
    }
    c["engaged_sessions"] = share(c["sessions"], 0.55)
    c["lead_sessions"] = share(c["sessions"], 0.05)
    c["visitors"] = share(c["sessions"], 0.8)
    c["returning_visitors"] = share(c["visitors"], 0.35)
    c["sql_within_early_window"] = share(c["leads"], 0.1)
    c["sql_within_window"] = share(c["leads"], 0.25)
    c["revenue"] = np.where(c["customers"] > 0, rng.gamma(2 * c["customers"] + 1e-9, 750), 0.0)
    c = {k: np.vstack([v.sum(axis=0, keepdims=True), v]) for k, v in c.items()}  # total first

    values = np.array(["total"] + [f"channel_{i:05d}" for i in range(n_values)], dtype=object)
    dims = np.array(["total"] + ["channel"] * n_values, dtype=object)
    info = catalog.set_index("metric_id")
    needed = {(r.leading_metric, r.grain) for r in rules} | {
        (r.outcome_metric, r.grain) for r in rules
    }
    frames = []
    for metric_id, grain in sorted(needed):
        row = info.loc[metric_id]
        num = c[row["numerator_component"]]
        den = (
            c[row["denominator_component"]]
            if isinstance(row["denominator_component"], str)
            else None
        )
        starts = days
        if grain == "week":
            starts = days[::7]
            num = num.reshape(len(values), -1, 7).sum(axis=2)
            den = den.reshape(len(values), -1, 7).sum(axis=2) if den is not None else None
        elif grain != "day":
            raise ValueError(f"synthetic series have day and week rows, not {grain}")
        length = 7 if grain == "week" else 1
        ends = starts + pd.Timedelta(days=length - 1)
        mature = (pd.Timestamp(as_of) - ends).days >= int(row["maturity_lag_days"])
        n_periods = len(starts)
        with np.errstate(divide="ignore", invalid="ignore"):
            value = num / den if den is not None else num
        frames.append(
            pd.DataFrame(
                {
                    "metric_id": metric_id,
                    "grain": grain,
                    "period_start": np.tile(starts.to_numpy(), len(values)),
                    "dimension": np.repeat(dims, n_periods),
                    "dimension_value": np.repeat(values, n_periods),
                    "numerator": num.ravel(),
                    "denominator": den.ravel() if den is not None else np.nan,
                    "value": value.ravel(),
                    "layer": row["layer"],
                    "is_mature": np.tile(np.asarray(mature), len(values)),
                    "is_complete_period": True,
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def time_checks(catalog_file: Path, result_file: Path, n_series: int = CHECK_SERIES) -> None:
    """Times `detect` alone over ~n_series rule x dimension-value series (with a build's real
    metric catalog and rules.yml); writes the figures to result_file as JSON."""
    import pandas as pd

    from dagster_project.divergence.detect import evaluate, prepare
    from dagster_project.divergence.rules import load_rules

    catalog = pd.read_parquet(catalog_file)
    rules = load_rules(None, catalog)
    totals = sum(1 for r in rules if "total" in r.dimensions)
    per_channel = sum(1 for r in rules if "channel" in r.dimensions)
    n_values = max(1, -(-(n_series - totals) // per_channel))
    as_of = date(2025, 9, 28)  # a Sunday, so the 26 weeks of day rows are whole weeks
    series = synthetic_series(catalog, rules, n_values, as_of)
    started = time.perf_counter()
    report = evaluate(series, catalog, rules, as_of)  # what detect() runs, with the counts
    seconds = time.perf_counter() - started
    # The same work in its two parts, for the reader: indexing the frame, then the tests.
    started = time.perf_counter()
    prepared = prepare(series, catalog, rules)
    prepare_seconds = time.perf_counter() - started
    started = time.perf_counter()
    evaluate(prepared, catalog, rules, as_of)
    tests_seconds = time.perf_counter() - started
    tested = sum(1 for e in report.evaluations if e.status != "skipped")
    result = {
        "seconds": seconds,
        "prepare_seconds": prepare_seconds,
        "tests_seconds": tests_seconds,
        "series": len(report.evaluations),
        "tested": tested,
        "findings": len(report.findings),
        "rows": len(series),
    }
    result_file.write_text(json.dumps(result), encoding="utf-8")


def measure_checks(catalog_file: Path, env: dict[str, str], logs: Path) -> Measurement:
    result_file = logs / "checks.json"
    measured = measure(
        "checks",
        [
            str(BIN / "python"), "-c",
            "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
            "from bench.pipeline_checks import time_checks; time_checks(Path(sys.argv[2]), "
            "Path(sys.argv[3]))",
            str(ROOT), str(catalog_file), str(result_file),
        ],
        env,
        logs / "checks.log",
    )  # fmt: skip
    measured.extra.update(json.loads(result_file.read_text(encoding="utf-8")))
    return measured


def measure_code_location(env: dict[str, str], logs: Path) -> Measurement:
    """Import of the definitions and resolution of the nightly job: what `dagster dev` or a
    code server pays before it can serve the location. Timed from process start to the moment
    the job is resolved (a progress-style line on stderr, timed on arrival like the run's
    stages); the process's exit, which a code server never reaches, is recorded beside it
    (finalising dbt's and Dagster's modules takes about a second more)."""
    command = [
        str(BIN / "python"), "-c",
        "import sys; from dagster_project.definitions import defs; "
        "defs.resolve_job_def('nightly'); "
        "print('[ 0.0s] code location ready  1/1  nightly resolved', file=sys.stderr, "
        "flush=True)",
    ]  # fmt: skip
    tries = [
        measure("code location", command, env, logs / f"code_location_{i}.log") for i in range(3)
    ]
    for m in tries:
        if not m.stages:
            raise SystemExit(f"the code location never reported ready; log {m.log}")
        m.extra["ready"] = m.stages[0][1]
    best = min(tries, key=lambda m: m.extra["ready"])
    best.extra["tries"] = [m.extra["ready"] for m in tries]
    return best
