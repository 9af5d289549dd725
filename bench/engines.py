"""The whole nightly job on both engines, DuckDB (the file) and PostgreSQL (`--target postgres`).
Writes the section "On each engine" at the end of docs/performance.md.

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

    .venv/bin/python bench/engines.py                    # small and medium
    .venv/bin/python bench/engines.py --profiles small   # one profile
"""

from __future__ import annotations

import argparse
import contextlib
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.machine import describe  # noqa: E402
from bench.pipeline_datasets import Dataset, chosen_profiles, link_tree, prepare_dataset  # noqa: E402
from bench.pipeline_measure import GB, Measurement  # noqa: E402
from bench.pipeline_report import _slowest, _stages  # noqa: E402
from bench.pipeline_runs import BIN, firewatch_run  # noqa: E402
from dagster_project.faults.env import private_env  # noqa: E402
from tests.support.postgres import PostgresServer, postgres_server  # noqa: E402

DATASETS = ROOT / "bench" / ".cache" / "pipeline"  # bench/pipeline.py's cache, shared
DEFAULT_WORK = ROOT / "bench" / ".cache" / "engines"
PROFILES = ("small", "medium", "large")
DEFAULT_PROFILES = ("small", "medium")
SECTION = "## On each engine: DuckDB and PostgreSQL"
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
    """One engine's full build and nightly of one profile."""

    engine: str
    runs: dict[str, Measurement] = field(default_factory=dict)  # "full", "nightly"
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
    """Stops this process's `firewatch run` children (and theirs) after `seconds`."""

    def __init__(self, seconds: float) -> None:
        self.fired = False
        self._timer = threading.Timer(seconds, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        import psutil

        self.fired = True
        firewatch = str(BIN / "firewatch")
        for child in psutil.Process().children():
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                if firewatch in child.cmdline():
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
) -> EngineRuns:
    """Full build as of D-1 on a fresh warehouse (or staging file and database), then the
    nightly with day D's files, in a run folder whose path stays the same from profile to
    profile (dbt's partial parse holds for one path, as night after night)."""
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


def measure_profile(
    profile: str, days: int, work: Path, env: dict[str, str], max_seconds: float
) -> ProfileRuns:
    """DuckDB's full build and nightly, then PostgreSQL's on a fresh server."""
    dataset, generated = prepare_dataset(profile, days + 1, DATASETS, env, False)
    if generated is not None:
        print(f"  generated {days + 1} days in {generated.seconds:.1f} s", flush=True)
    logs = work / "logs" / profile
    engines = {"duckdb": _engine_runs("duckdb", dataset, work / "duckdb", env, logs, max_seconds)}
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


def _profile_lines(r: ProfileRuns) -> list[str]:
    duck, pg = r.engines["duckdb"], r.engines["postgres"]
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
        if d is None:
            continue
        if p is None:
            lines.append(
                f"| {what} | {d.seconds:,.1f} | {d.rss_gb:.2f} | {pg.stopped or 'not run'} "
                "| | | | |"
            )
            continue
        server = pg.server_pss.get(key, 0) / GB
        lines.append(
            f"| {what} | {d.seconds:,.1f} | {d.rss_gb:.2f} | {p.seconds:,.1f} | {p.rss_gb:.2f} "
            f"| {server:.2f} | **{_ratio(p.seconds, d.seconds)}** "
            f"| {_ratio(p.rss_gb, d.rss_gb)} |"
        )
    lines += ["", "Where the time goes (progress lines of `firewatch run`):", ""]
    for engine in (duck, pg):
        for key, what in (("full", "full build"), ("nightly", "nightly")):
            m = engine.runs.get(key)
            if m is None:
                continue
            segments = " · ".join(f"{name} {s:,.1f} s" for name, s in _stages(m))
            note = _copy_note(m) if engine is pg else ""
            name = "DuckDB" if engine is duck else "PostgreSQL"
            lines.append(f"- {name} {what}, {m.seconds:,.1f} s: {segments}{note}")
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
    lines.append("")
    if duck.outcome is None or pg.outcome is None:
        why = "; ".join(e.stopped for e in (duck, pg) if e.stopped) or "a nightly did not finish"
        lines.append(f"Alerts and queue not compared: {why}.")
    else:
        d, p = duck.outcome, pg.outcome
        same = d == p
        lines.append(
            f"After the nightly: DuckDB {len(d.active_alerts)} active alerts and "
            f"{len(d.queue)} decision_queue rows, PostgreSQL {len(p.active_alerts)} and "
            f"{len(p.queue)}; alerts of every status {d.alerts_rows} and {p.alerts_rows}; "
            f"metric_series {d.metric_series_rows:,} and {p.metric_series_rows:,} rows: "
            + (
                "**the same** (the same alert ids, decision ids and statuses, row counts)."
                if same
                else "**they differ**."
            )
        )
        if same and not d.active_alerts and not d.queue:
            lines.append(
                "(Neither engine's night raised an alert on this generated profile, so the "
                "queue is empty on both and the alerts compared here are only their absence; "
                "tests/e2e/test_postgres_pipeline.py compares both engines on a landing with "
                "planted changes and alerts.)"
            )
    return lines


def section(results: list[ProfileRuns], command: str, load: tuple[float, float]) -> str:
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
    ]
    for r in results:
        lines += _profile_lines(r) + [""]
    return "\n".join(lines).rstrip() + "\n"


def write_section(path: Path, text: str) -> None:
    """Replaces the section (its heading up to the next `## ` heading) or appends it."""
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
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
        "--max-minutes", type=float, default=15.0, help="stop a run that takes longer"
    )
    args = parser.parse_args(argv)
    profiles = chosen_profiles(parser, args.profiles, PROFILES)
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
            results.append(measure_profile(profile, days, work, env, args.max_minutes * 60))
    command = ".venv/bin/python bench/engines.py" + (
        f" --profiles {','.join(profiles)}" if profiles != list(DEFAULT_PROFILES) else ""
    )
    text = section(results, command, (load_at_start, os.getloadavg()[0]))
    write_section(args.out, text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
