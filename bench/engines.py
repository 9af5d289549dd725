"""The whole nightly job on DuckDB (the file) and PostgreSQL (`--target postgres`), and the pieces
a night on Spark would be made of. Writes the section "On each engine" at the end of
docs/performance.md.

For each profile (default small and medium) it takes the data set of bench/pipeline.py (history
up to D-1 plus the files of day D, from bench/.cache/pipeline, generated when missing) and runs,
each as its own process with wall time and peak RSS of the process tree (bench/pipeline_runs.py):

- DuckDB full build: `firewatch run --full-refresh --as-of D-1` on a fresh warehouse file;
- DuckDB nightly: the day files added, `firewatch run --as-of D` on the same file;
- PostgreSQL full build and nightly: the same two with FIREWATCH_TARGET=postgres against a fresh
  throwaway server (tests/support/postgres.py, one per profile); `--warehouse` is then the
  loader's DuckDB staging file, kept in the engine's run folder like the DuckDB warehouse.

The server's processes are not in the run's process tree: their memory is sampled apart (the
sum of PSS over the postmaster and its children). After the nightlies the active alerts and the
decision queue of both engines are compared.

Spark (bench/engines_spark.py): the nightly job does not run there, so each night is measured as
its pieces, one process each: the raw copy from the DuckDB warehouse (right after DuckDB's full
build, then after its nightly), `dbt build --target spark` and the checks and state. No Dagster,
no loader. The alerts and queue the checks leave are compared with DuckDB's. Skipped, with the
reason, where pyspark, dbt-spark or Java is missing.

    .venv/bin/python bench/engines.py                          # small and medium, all engines
    .venv/bin/python bench/engines.py --profiles small         # one profile
    .venv/bin/python bench/engines.py --engines duckdb,postgres   # without Spark
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.engines_spark import PARTS, SparkNight, spark_night  # noqa: E402
from bench.machine import describe  # noqa: E402
from bench.pipeline_datasets import Dataset, chosen_profiles, link_tree, prepare_dataset  # noqa: E402
from bench.pipeline_measure import GB, Measurement, measure  # noqa: E402
from bench.pipeline_report import _slowest, _stages  # noqa: E402
from bench.pipeline_runs import BIN, firewatch_run  # noqa: E402
from dagster_project.faults.env import private_env  # noqa: E402
from dagster_project.warehouse.spark import spark_missing  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402

DATASETS = ROOT / "bench" / ".cache" / "pipeline"  # bench/pipeline.py's cache, shared
DEFAULT_WORK = ROOT / "bench" / ".cache" / "engines"
PROFILES = ("small", "medium", "large")
DEFAULT_PROFILES = ("small", "medium")
ENGINES = ("duckdb", "postgres", "spark")
NAMES = {"duckdb": "DuckDB", "postgres": "PostgreSQL", "spark": "Spark"}
SECTION = "## On each engine: DuckDB, PostgreSQL and Spark"
SECTION_PREFIX = "## On each engine"  # an older heading of the section is replaced too
SERVER_POLL_SECONDS = 0.5
# "[  41.2s] load            0/9  copied 7,123,456 rows to ..." (PostgreSQL only)
_COPIED = re.compile(r"^\[\s*([\d.]+)s\] load\s.*copied ([\d,]+) rows", re.MULTILINE)
# "[   1.2s] load            2/9  raw.web_events: 6,963,080 rows (append, 1 new)"
_LOADED = re.compile(r"raw\.(\w+): ([\d,]+) rows \((\w+)")
_READING = re.compile(r"^\[\s*([\d.]+)s\] load\s.*reading ", re.MULTILINE)


@dataclass(frozen=True)
class Outcome:
    """What the night left for people: the active alerts and the decision queue."""

    active_alerts: frozenset[str]  # alert_id
    queue: frozenset[tuple[str, str]]  # (decision_id, status)
    alerts_rows: int  # every status
    metric_series_rows: int


@dataclass
class EngineRuns:
    """One engine's full build and nightly of one profile (on Spark: their pieces)."""

    engine: str
    runs: dict[str, Measurement] = field(default_factory=dict)  # "full", "nightly"
    spark: dict[str, SparkNight] = field(default_factory=dict)  # Spark only, "full", "nightly"
    server_pss: dict[str, int] = field(default_factory=dict)  # PostgreSQL only, bytes
    outcome: Outcome | None = None
    stopped: str = ""  # why a run was stopped, if one was


@dataclass
class ProfileRuns:
    profile: str
    days: int  # history days N
    engines: dict[str, EngineRuns]


class ServerMemory:
    """Samples the PostgreSQL server's memory while a run goes on: the sum of PSS (shared
    buffers counted once, not once per backend) over the postmaster and its children."""

    def __init__(self, data_dir: Path) -> None:
        self._pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def _sample(self) -> int:
        import psutil

        total = 0
        with contextlib.suppress(psutil.NoSuchProcess):
            root = psutil.Process(self._pid)
            for process in [root, *root.children(recursive=True)]:
                with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                    total += process.memory_full_info().pss
        return total

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._sample())
            self._stop.wait(SERVER_POLL_SECONDS)

    def __enter__(self) -> ServerMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class Watchdog:
    """Stops this process's children running `program` (and theirs) after `seconds`."""

    def __init__(self, seconds: float, program: str = str(BIN / "firewatch")) -> None:
        self.fired = False
        self._program = program
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        import psutil

        self.fired = True
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if self._program in child.cmdline():
                    tree = [*child.children(recursive=True), child]
                    for process in tree:
                        with contextlib.suppress(psutil.NoSuchProcess):
                            process.terminate()
                    psutil.wait_procs(tree, timeout=20)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._timer.cancel()


def _duckdb_outcome(warehouse: Path) -> Outcome:
    import duckdb

    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        alerts = con.execute("select alert_id from main.alerts where status = 'active'").fetchall()
        queue = con.execute("select decision_id, status from main.decision_queue").fetchall()
        counts = con.execute(
            "select (select count(*) from main.alerts), (select count(*) from main.metric_series)"
        ).fetchone()
    finally:
        con.close()
    return Outcome(frozenset(a for (a,) in alerts), frozenset(map(tuple, queue)), *counts)


def _postgres_outcome(server: PostgresServer, schema: str) -> Outcome:
    con = server.connect()
    try:
        with con.cursor() as cursor:
            cursor.execute(f"select alert_id from {schema}.alerts where status = 'active'")
            alerts = cursor.fetchall()
            cursor.execute(f"select decision_id, status from {schema}.decision_queue")
            queue = cursor.fetchall()
            cursor.execute(
                f"select (select count(*) from {schema}.alerts), "
                f"(select count(*) from {schema}.metric_series)"
            )
            counts = cursor.fetchone()
    finally:
        con.close()
    return Outcome(frozenset(a for (a,) in alerts), frozenset(map(tuple, queue)), *counts)


def _engine_runs(
    engine: str,
    dataset: Dataset,
    run_dir: Path,
    env: dict[str, str],
    logs: Path,
    max_seconds: float,
    server: PostgresServer | None = None,
    after: Callable[[str, Path, date], None] | None = None,
) -> EngineRuns:
    """Full build as of D-1 on a fresh warehouse (or staging file and database), then the
    nightly with day D's files, in a run folder whose path stays the same from profile to
    profile (dbt's partial parse holds for one path, as night after night). `after(key,
    warehouse, as_of)` is called after each run that finished, while the warehouse is as that
    run left it (Spark copies it)."""
    out = EngineRuns(engine)
    shutil.rmtree(run_dir, ignore_errors=True)
    landing = run_dir / "raw"
    warehouse = run_dir / ("warehouse.duckdb" if engine == "duckdb" else "stage.duckdb")
    day = dataset.last_day
    link_tree(dataset.history, landing)
    steps = (
        ("full", "full build", day - timedelta(days=1), True),
        ("nightly", "nightly", day, False),
    )
    for key, what, as_of, full_refresh in steps:
        if key == "nightly":
            link_tree(dataset.day_files, landing)
        print(f"  {engine} {what} as of {as_of}", flush=True)
        label = f"{engine}_{key}"
        memory = ServerMemory(server.data_dir) if server is not None else None
        with Watchdog(max_seconds) as watchdog, memory or contextlib.nullcontext():
            try:
                out.runs[key] = firewatch_run(
                    label, landing, warehouse, as_of, env, logs, full_refresh
                )
            except SystemExit:
                if not watchdog.fired:
                    raise
                out.stopped = f"the {what} was stopped after {max_seconds / 60:g} min"
        if memory is not None:
            out.server_pss[key] = memory.peak
        if out.stopped:
            print(f"  {engine}: {out.stopped}", flush=True)
            break
        m = out.runs[key]
        print(f"    {m.seconds:,.1f} s, peak RSS {m.rss_gb:.2f} GB", flush=True)
        if after is not None:
            after(key, warehouse, as_of)
    if not out.stopped:
        try:
            if server is None:
                out.outcome = _duckdb_outcome(warehouse)
            else:
                out.outcome = _postgres_outcome(server, env["FIREWATCH_PG_SCHEMA"])
        except Exception as error:  # the timings stand without it; the report says so
            out.stopped = f"alerts and queue not read: {type(error).__name__}: {error}"
    # Warehouses and staging files are big and rebuilt every time; logs and run_results stay.
    shutil.rmtree(run_dir, ignore_errors=True)
    return out


class SparkNights:
    """Spark's pieces of a night, run after each DuckDB run on the warehouse it left (`after`
    of `_engine_runs`): a fresh catalog per profile, at a path that stays the same, like dbt's
    target folder (partial parse from night to night)."""

    def __init__(self, work: Path, env: dict[str, str], logs: Path, max_seconds: float) -> None:
        self.out = EngineRuns("spark")
        self.home = work / "spark" / "home"
        self.target = work / "spark" / "target"
        self.env, self.logs, self.max_seconds = env, logs, max_seconds
        shutil.rmtree(self.home, ignore_errors=True)

    def _run(self, label: str, command: Sequence[str], env: dict[str, str]) -> Measurement:
        with Watchdog(self.max_seconds, command[0]) as watchdog:
            try:
                return measure(label, command, env, self.logs / f"{label}.log")
            except SystemExit as error:
                if watchdog.fired:
                    minutes = f"{self.max_seconds / 60:g}"
                    raise SystemExit(f"{label} was stopped after {minutes} min") from None
                # the log's last line says why (an exception, dbt's summary); the log is kept
                last = [line for line in str(error).splitlines() if line.strip()][-1]
                log = self.logs / f"{label}.log"
                raise SystemExit(f"{label} failed ({last.strip()[:200]}; log {log})") from None

    def __call__(self, key: str, warehouse: Path, as_of: date) -> None:
        if self.out.stopped:  # a night on from a failed one would not be that night
            return
        print(f"  spark {key}: raw copy, dbt build, checks as of {as_of}", flush=True)
        try:
            night = spark_night(
                f"spark_{key}", warehouse, as_of, self.home, self.target, self.env, self.logs,
                self._run,
            )  # fmt: skip
        except SystemExit as error:
            self.out.stopped = str(error)
        except Exception as error:  # the other engines' runs stand without Spark's
            self.out.stopped = f"spark_{key}: {type(error).__name__}: {error}"
        if self.out.stopped:
            print(f"  spark: {self.out.stopped}", flush=True)
            return
        self.out.spark[key] = night
        for part, what in PARTS.items():
            m = night.runs[part]
            print(f"    {what}: {m.seconds:,.1f} s, peak RSS {m.rss_gb:.2f} GB", flush=True)
        if key == "nightly":
            c = night.checks
            self.out.outcome = Outcome(
                frozenset(c["active_alerts"]),
                frozenset(map(tuple, c["queue"])),
                c["alerts_rows"],
                c["metric_series_rows"],
            )

    def close(self) -> EngineRuns:
        shutil.rmtree(self.home, ignore_errors=True)  # Parquet copies, rebuilt every time
        return self.out


def measure_profile(
    profile: str,
    days: int,
    work: Path,
    env: dict[str, str],
    max_seconds: float,
    chosen: Sequence[str] = ENGINES,
    spark_skipped: str | None = None,
) -> ProfileRuns:
    """DuckDB's full build and nightly, each followed by Spark's pieces of the same night on
    the warehouse it left; then PostgreSQL's on a fresh server."""
    dataset, generated = prepare_dataset(profile, days + 1, DATASETS, env, False)
    if generated is not None:
        print(f"  generated {days + 1} days in {generated.seconds:.1f} s", flush=True)
    logs = work / "logs" / profile
    engines = {}
    if "duckdb" in chosen or "spark" in chosen:  # DuckDB's warehouse is Spark's source
        spark = None
        if "spark" in chosen and spark_skipped is None:
            spark = SparkNights(work, env, logs, max_seconds)
        engines["duckdb"] = _engine_runs(
            "duckdb", dataset, work / "duckdb", env, logs, max_seconds, after=spark
        )
        if spark is not None:
            engines["spark"] = spark.close()
    if "postgres" in chosen:
        with postgres_server() as server:
            pg_env = {**env, **server.dbt_env(), "FIREWATCH_TARGET": "postgres"}
            engines["postgres"] = _engine_runs(
                "postgres", dataset, work / "postgres", pg_env, logs, max_seconds, server
            )
    return ProfileRuns(profile, days, engines)


def _ratio(pg: float, duck: float) -> str:
    return f"{pg / duck:.2f}×" if duck else "n/a"


def _copied(m: Measurement) -> tuple[float, int] | None:
    """Seconds from the load's first line to its COPY line (the checked load into the staging
    file plus the COPY) and the rows COPY sent, from the run's progress lines."""
    text = m.log.read_text(encoding="utf-8", errors="replace")
    reading, copied = _READING.search(text), _COPIED.search(text)
    if not (reading and copied):
        return None
    seconds = float(copied.group(1)) - float(reading.group(1))
    return seconds, int(copied.group(2).replace(",", ""))


def _copy_note(m: Measurement) -> str:
    copied = _copied(m)
    if copied is None:
        return ""
    return (
        f" (the checked load into the staging file plus COPY of {copied[1]:,} rows to the "
        f"database: {copied[0]:,.1f} s)"
    )


def _copy_share(full: Measurement | None, nightly: Measurement | None) -> list[str]:
    """How much of the full build's COPY the nightly sends again, and whether the tables the
    loader left unchanged were among it."""
    a, b = (_copied(m) if m is not None else None for m in (full, nightly))
    if nightly is None or a is None or b is None or not a[1]:
        return []
    loaded = _LOADED.findall(nightly.log.read_text(encoding="utf-8", errors="replace"))
    total = sum(int(rows.replace(",", "")) for _, rows, _ in loaded)
    unchanged = sum(int(rows.replace(",", "")) for _, rows, mode in loaded if mode == "unchanged")
    appended = total - unchanged  # rows of the tables the load appended to or replaced
    line = (
        f"On PostgreSQL the nightly's COPY sent {b[1]:,} rows, {b[1] / a[1]:.1%} of the full "
        f"build's {a[1]:,} ({b[0]:,.1f} s with the checked load; DuckDB appends the day's files "
        "in place). "
    )
    if b[1] < appended:
        line += (
            "Only the new files' rows of the tables the load appended to were copied, and the "
            "loader's bookkeeping tables; the tables it left unchanged were not copied at all "
            f"({unchanged:,} rows)."
        )
    else:
        line += (
            "The tables the load appended to (web_events, ads_daily) were copied whole, so the "
            "nightly's load grows with the history"
            + (f"; the unchanged ones ({unchanged:,} rows) too." if b[1] >= total else ".")
        )
    return ["", line]


def _cells(m: Measurement | None, engine: EngineRuns | None) -> str:
    """A run's wall seconds and peak RSS as two table cells, or why there are none."""
    if m is not None:
        return f"{m.seconds:,.1f} | {m.rss_gb:.2f}"
    return f"{(engine.stopped if engine else '') or 'not run'} | "


_NOTHING_RAISED = (
    "(Neither engine's night raised an alert on this generated profile, so the queue is empty "
    "on both and the alerts compared here are only their absence; {tested}.)"
)
_TESTED = {
    "postgres": "tests/e2e/test_postgres_pipeline.py compares both engines on a landing with "
    "planted changes and alerts",
    "spark": "tests/e2e/test_spark_equality.py writes the same alerts and actions on both "
    "engines and reads back the same alerts, log and queue",
}


def _comparison(a: EngineRuns, b: EngineRuns) -> list[str]:
    """The active alerts and the queue after the nightly on engine `a` and `b`: the same, or
    how they differ."""
    x, y = a.outcome, b.outcome
    if x is None or y is None:
        why = "; ".join(e.stopped for e in (a, b) if e.stopped) or "a nightly did not finish"
        return [f"Alerts and queue of {NAMES[b.engine]} not compared: {why}."]
    same = x == y
    line = (
        f"After the nightly: {NAMES[a.engine]} {len(x.active_alerts)} active alerts and "
        f"{len(x.queue)} decision_queue rows, {NAMES[b.engine]} {len(y.active_alerts)} and "
        f"{len(y.queue)}; alerts of every status {x.alerts_rows} and {y.alerts_rows}; "
        f"metric_series {x.metric_series_rows:,} and {y.metric_series_rows:,} rows: "
        + (
            "**the same** (the same alert ids, decision ids and statuses, row counts)."
            if same
            else "**they differ**:"
        )
    )
    if not same:
        names = NAMES[a.engine], NAMES[b.engine]
        for what, p, q in (
            ("active alerts", x.active_alerts, y.active_alerts),
            ("queue rows", x.queue, y.queue),
        ):
            for name, only in ((names[0], p - q), (names[1], q - p)):
                if only:
                    shown = ", ".join(sorted(map(str, only))[:5])
                    line += f" {what} only on {name}: {len(only)} ({shown});"
        line = line.rstrip(";") + "."
    if same and not x.active_alerts and not x.queue:
        return [line, _NOTHING_RAISED.format(tested=_TESTED[b.engine])]
    return [line]


def _profile_lines(r: ProfileRuns) -> list[str]:
    duck = r.engines.get("duckdb") or EngineRuns("duckdb", stopped="not chosen")
    pg = r.engines.get("postgres") or EngineRuns("postgres", stopped="not chosen")
    lines = [
        f"### {r.profile}: {r.days} days of history + 1",
        "",
        "| run | DuckDB wall s | DuckDB peak RSS GB | PostgreSQL wall s "
        "| PostgreSQL peak RSS GB (firewatch tree) | PostgreSQL server peak PSS GB "
        "| PostgreSQL / DuckDB wall | PostgreSQL / DuckDB RSS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    whats = {"full": f"full build, {r.days} days (as of D-1, fresh)", "nightly": "nightly, + 1 day"}
    for key, what in whats.items():
        d, p = duck.runs.get(key), pg.runs.get(key)
        if d is None and p is None:
            continue
        server = f"{pg.server_pss[key] / GB:.2f}" if key in pg.server_pss else ""
        ratios = (
            f"**{_ratio(p.seconds, d.seconds)}** | {_ratio(p.rss_gb, d.rss_gb)}"
            if d is not None and p is not None
            else " | "
        )
        lines.append(f"| {what} | {_cells(d, duck)} | {_cells(p, pg)} | {server} | {ratios} |")
    lines += ["", "Where the time goes (progress lines of `firewatch run`):", ""]
    for engine in (duck, pg):
        for key, what in (("full", "full build"), ("nightly", "nightly")):
            m = engine.runs.get(key)
            if m is None:
                continue
            segments = " · ".join(f"{name} {s:,.1f} s" for name, s in _stages(m))
            note = _copy_note(m) if engine is pg else ""
            lines.append(f"- {NAMES[engine.engine]} {what}, {m.seconds:,.1f} s: {segments}{note}")
    lines += _copy_share(pg.runs.get("full"), pg.runs.get("nightly"))
    for key, what in (("full", "full build"), ("nightly", "nightly")):
        d, p = duck.runs.get(key), pg.runs.get(key)
        if d is None or p is None:
            continue
        lines += [
            "",
            f"Slowest dbt models, {what} (dbt's execution_time, s):",
            "",
            "| # | DuckDB | s | PostgreSQL | s |",
            "|---|---|---|---|---|",
        ]
        for i, ((dm, ds), (pm, ps)) in enumerate(
            zip(_slowest(d, 6), _slowest(p, 6), strict=False), start=1
        ):
            lines.append(f"| {i} | {dm} | {ds:.2f} | {pm} | {ps:.2f} |")
    if "postgres" in r.engines and "duckdb" in r.engines:
        lines += ["", *_comparison(duck, pg)]
    if "spark" in r.engines:
        lines += ["", *_spark_lines(r, duck, r.engines["spark"])]
    return lines


def _spark_lines(r: ProfileRuns, duck: EngineRuns, spark: EngineRuns) -> list[str]:
    """Spark's pieces of the two nights beside DuckDB's whole `firewatch run`."""
    full, nightly = spark.spark.get("full"), spark.spark.get("nightly")
    lines = [
        f"#### {r.profile} on Spark: the pieces of a night (no Dagster, no loader)",
        "",
        "| piece (its own process) | full build, as of D-1 (fresh catalog): wall s | peak RSS GB "
        "| nightly, + 1 day: wall s | peak RSS GB |",
        "|---|---|---|---|---|",
    ]

    def cells(night: SparkNight | None, part: str | None) -> str:
        if night is None:  # the reason is under the table
            return "not run | "
        if part is None:  # dbt build + checks: what a night on Spark runs after its load
            runs = [night.runs["dbt"], night.runs["checks"]]
            return f"{sum(m.seconds for m in runs):,.1f} | {max(m.rss_gb for m in runs):.2f}"
        return _cells(night.runs[part], spark)

    rows = full or nightly
    copied = f", {rows.copied_rows:,} rows in {rows.copied_tables} tables" if rows else ""
    for part, what in PARTS.items():
        label = f"{what} (DuckDB's raw schema to Parquet{copied})" if part == "copy" else what
        lines.append(f"| {label} | {cells(full, part)} | {cells(nightly, part)} |")
    lines.append(
        f"| **dbt build + checks and state** (without the raw copy) | {cells(full, None)} "
        f"| {cells(nightly, None)} |"
    )
    d_full, d_nightly = duck.runs.get("full"), duck.runs.get("nightly")
    lines.append(
        "| DuckDB's whole `firewatch run` (above: Dagster, loader, dbt, checks) "
        f"| {_cells(d_full, duck)} | {_cells(d_nightly, duck)} |"
    )
    lines.append("")
    if spark.stopped:
        lines.append(f"- Spark stopped: {spark.stopped}.")
    for key, night in (("full build", full), ("nightly", nightly)):
        if night is None:
            continue
        phases = " · ".join(f"{k} {v:,.1f} s" for k, v in night.checks["seconds"].items())
        lines.append(
            f"- Spark {key}, checks and state: {phases} ({night.checks['series_rows_read']:,} "
            f"metric_series rows read, {night.checks['findings']} findings)"
        )
    if nightly is not None:
        slowest = _slowest(nightly.runs["dbt"], 6)
        lines.append(
            "- Slowest dbt models on Spark, nightly (dbt's execution_time, s): "
            + ", ".join(f"{model} {s:.2f}" for model, s in slowest)
        )
    return [*lines, "", *_comparison(duck, spark)]


SPARK_HOW = (
    "Spark: the nightly job does not run there (no `firewatch run --target spark`, "
    "docs/engines.md), so **the Spark figures are not a night's: they are the pieces a night "
    "on Spark would be made of, each its own process, measured like the runs above; no "
    "Dagster, no loader** (the loader's checked load is DuckDB's, inside its `firewatch run`). "
    "Right after DuckDB's full build, on the warehouse it left (history to D-1): (1) the raw "
    "copy, `python -m dagster_project.warehouse.spark WAREHOUSE.duckdb HOME` (each table of "
    "DuckDB's `raw` schema written as Parquet by DuckDB and registered in a fresh Hive "
    "metastore, embedded Derby), **counted apart**: a Spark night would get its raw tables "
    "from wherever its ELT tool lands them; (2) `dbt build --target spark --exclude "
    "test_type:unit` with the night's variables as of D-1 (dbt-spark's session method: Spark "
    "in the dbt process, `local[2]`, driver memory 2g; its own target folder, kept from night "
    "to night); (3) the checks and the state: one Python process (bench/engines_spark.py) "
    "that opens the catalog, reads the night's inputs (`runtime/night.py` `inputs_from`), "
    "detects (`findings_for`, with the open episodes and accepted levels as the nightly "
    "job's), merges into the alerts (`merge_alerts`) and writes the night's state "
    "(`save_night`). After DuckDB's nightly, the same three as of D on the same catalog: the "
    "raw copy again (every table, whole), then the dbt build. **On Spark the six incremental "
    "models are plain tables rebuilt whole every night** (no `delete+insert` without Delta "
    "Lake), so its nightly dbt build is a full rebuild of the history plus one day, not "
    "DuckDB's incremental one. Peak RSS counts the JVM (a child of the Python or dbt "
    "process). The three run one after the other (Derby admits one process at a time)."
)


def section(
    results: list[ProfileRuns],
    command: str,
    load: tuple[float, float],
    spark_skipped: str | None = None,
) -> str:
    """The markdown section, from its heading to the end."""
    niced = f", under `nice -n {os.nice(0)}`" if os.nice(0) else ""
    lines = [
        SECTION,
        "",
        f"Machine: {describe()}. Measured {date.today().isoformat()} with `{command}` (`make "
        f"bench-engines`){niced}. The bench does not stop other processes: the 1-minute load "
        f"average was {load[0]:.1f} at the start and {load[1]:.1f} at the end (the bench's own "
        "runs count in it); on 2 cores the figures, the PostgreSQL server's included, vary by "
        "10-20% from run to run, more when something else runs.",
        "",
        "How: the data sets of the bench above (history up to D-1, then the files of day D). "
        "Each run is `firewatch run` as its own process (wall time start to exit, peak RSS the "
        "largest sum over the process and its children, dbt included, polled every 50 ms, GB of "
        "10^9 bytes): the full build with `--full-refresh --as-of D-1` on a fresh warehouse, "
        "then the nightly with day D's files added, `--as-of D`, on the same warehouse. "
        "PostgreSQL runs the same two with `FIREWATCH_TARGET=postgres` against a fresh "
        "throwaway server per profile (`tests/support/postgres.py`: PostgreSQL from Debian's "
        "package on 127.0.0.1, its default memory settings, fsync, synchronous commit and full "
        "page writes off, so writes cost less than on a durable production server); there "
        "`--warehouse` is the loader's DuckDB staging file. **The PostgreSQL server's "
        "processes are not in the firewatch process tree**, so their memory is not in the "
        "peak RSS column: it is sampled apart every 0.5 s as the sum of PSS over the "
        "postmaster and its backends (shared buffers counted once). The server's CPU time is "
        "in the wall time, as it is a night's. The server start (initdb, pg_ctl) is not "
        "measured.",
        "",
        SPARK_HOW if spark_skipped is None else f"Spark: not measured ({spark_skipped}).",
        "",
    ]
    for r in results:
        lines += _profile_lines(r) + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces the section (its heading up to the next `## ` heading) or appends it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.startswith(SECTION_PREFIX)), None)
    if start is None:
        before, after = old.rstrip() + "\n\n", ""
    else:
        end = next(
            (i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines)
        )
        before = "".join(lines[:start])
        after = "".join(lines[end:])
        after = "\n" + after if after else ""
    path.write_text(before + text + after, encoding="utf-8")


@contextlib.contextmanager
def _no_firewatch_env() -> Iterator[None]:
    """Nothing from the caller's FIREWATCH_* reaches the server helper or this process."""
    saved = {k: v for k, v in os.environ.items() if k.startswith("FIREWATCH_")}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


def main(argv: Sequence[str] | None = None) -> int:
    from dagster_project.generate.profiles import PROFILES as SIZES

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profiles", default=",".join(DEFAULT_PROFILES), help="comma-separated")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "performance.md")
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument(
        "--engines",
        default=",".join(ENGINES),
        help="comma-separated, of " + ", ".join(ENGINES) + " (Spark runs DuckDB's too: its source)",
    )
    parser.add_argument(
        "--max-minutes", type=float, default=15.0, help="stop a run that takes longer"
    )
    args = parser.parse_args(argv)
    profiles = chosen_profiles(parser, args.profiles, PROFILES)
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    if not engines or set(engines) - set(ENGINES):
        parser.error(f"--engines: choose from {', '.join(ENGINES)}")
    spark_skipped = spark_missing() if "spark" in engines else None
    if spark_skipped is not None:
        print(f"Spark skipped: {spark_skipped}", flush=True)
    load_at_start = os.getloadavg()[0]
    work = args.work.resolve()
    # A fresh Dagster instance per bench run: its run history is not what is measured.
    shutil.rmtree(work / "dagster_home", ignore_errors=True)
    env = private_env(work)
    results = []
    with _no_firewatch_env():
        for profile in profiles:
            days = SIZES[profile].days
            print(f"{profile}: {days} days + 1", flush=True)
            results.append(
                measure_profile(
                    profile, days, work, env, args.max_minutes * 60, engines, spark_skipped
                )
            )
            # Written after each profile, so a bench stopped on a larger one keeps the others.
            done = [r.profile for r in results]
            command = ".venv/bin/python bench/engines.py" + (
                f" --profiles {','.join(done)}" if done != list(DEFAULT_PROFILES) else ""
            )
            if engines != list(ENGINES):
                command += f" --engines {','.join(engines)}"
            text = section(results, command, (load_at_start, os.getloadavg()[0]), spark_skipped)
            write_section(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
