"""Fault injection: kill `firewatch run` with SIGKILL at random points of nightly runs, recover,
check that nothing people entered or BI tools read was lost or torn. Writes docs/reliability.md.

One campaign (`make reliability`: 24 kills; tests/test_fault_injection.py: 4, stacked):

1. a landing folder from the generator (`small`, four scenarios, so the queue has items all
   through the nights used), split so that the history ends on the first night and every later
   night adds one day file of web events and ads (as a real night does);
2. a first good run, then decisions entered through the CLI (`firewatch acknowledge|snooze|
   decide|dismiss`);
3. per kill: (mostly) one more day landed, `firewatch run` started in its own process group,
   killed with SIGKILL (the whole group: dbt runs as a child) when its target comes: a
   uniformly random moment of a measured run, or a phase seen from outside the run, from its
   progress lines on stderr (the load, the k-th model of either dbt build), the DuckDB file
   lock's holder (F_GETLK, which takes no lock: the load's write, the alerts' write, the steps
   after it) and the BI copy's temporary file (the publish). The step it died in is read
   afterwards from the run's own Dagster event log. Decisions are entered after some kills and
   during some runs (they wait for the run, and say so);
4. after each kill, checks of the crashed state (no process or lock left, the BI copy whole and
   the last good run's, every decision there), then a recovery run of the same night without a
   kill (or, stacked, the next killed run first), and its checks: exit 0, both dbt builds
   without an error or a skip, the BI copy a complete copy of this run (as of the night, every
   table's rows as in the warehouse), no temporary copy left, every decision entered so far in
   the log exactly once and folded into the queue;
5. at the end `dbt test` on the warehouse and a fresh build of the same landing folder, whose
   marts must equal the crashed-and-recovered warehouse's row for row.

    .venv/bin/python bench/reliability.py --kills 24          # the long run, docs/reliability.md
    .venv/bin/python bench/reliability.py --kills 4 --no-report --no-suites --seed 7

`--seed` makes a campaign reproducible (kill targets, delays, decisions); it is printed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import os
import random
import re
import shutil
import signal
import sqlite3
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.machine import describe as describe_machine  # noqa: E402
from bench.pipeline import bench_env  # noqa: E402
from dagster_project.divergence.queue import build_queue  # noqa: E402
from dagster_project.warehouse.decisions import read_alerts, read_log  # noqa: E402

BIN = Path(sys.executable).parent
DBT_PROJECT = ROOT / "dbt_project"
REPORT = ROOT / "docs" / "reliability.md"

# The generated data: half a year to END, four scenarios whose episodes are open through the
# nights used (backtested: items open from 2025-09-14 to 2025-10-18).
END = date(2025, 10, 26)
FIRST_NIGHT = date(2025, 9, 20)
LAST_NIGHT = date(2025, 10, 18)
SCENARIOS = (
    "clicks_up_nobody_stays:paid_search:2025-09-08",
    "engagement_up_cac_up:paid_social:2025-09-01",
    "traffic_up_returning_down:organic_search:2025-09-05",
    "spend_up_revenue_flat:linkedin:2025-09-01",
)
# The tables the nightly rows of a day land in; the rest are full exports, the same each night.
DAILY = {"web_events": "event_timestamp", "ads_daily": "date"}
ADS_KEY = "date, platform, account_id, campaign_id"

# The post-dbt steps and what they do; everything else is load or dbt.
STEPS = (
    "raw_tables",
    "firewatch_event_models",
    "firewatch_dbt_assets",
    "alerts",
    "divergence_checks",
    "decision_queue",
    "notifications",
    "ritual_metrics",
    "bi_copy",
)
STEP_NAMES = {
    "raw_tables": "load",
    "firewatch_event_models": "dbt (event models)",
    "firewatch_dbt_assets": "dbt (marts)",
    "alerts": "alerts + queue",
    "divergence_checks": "checks",
    "decision_queue": "queue report",
    "notifications": "notifications",
    "ritual_metrics": "ritual metrics",
    "bi_copy": "BI copy publish",
}
# Kill targets: a uniformly random moment, or a phase seen from outside the run.
TARGETS = (
    "random",
    "load",
    "load-write",
    "dbt-events",
    "dbt-marts",
    "alerts-detect",
    "alerts-write",
    "after-alerts",
    "publish",
)
_PROGRESS = re.compile(r"^\[\s*(?P<t>[\d.]+)s\] (?P<rest>.*)$")
_DBT_DONE = re.compile(r"Done\. PASS=(\d+) WARN=(\d+) ERROR=(\d+) SKIP=(\d+)")
_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


# ------------------------------------------------------------------------------ landing


def _lit(text: str) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def _data_files(folder: Path) -> list[Path]:
    """A table folder's files in the loader's order (name order, no hidden files)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def _csv(path: Path) -> str:
    # values as text, so they are written back exactly as they were
    return (
        f"read_csv({_lit(path)}, header = true, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"')"
    )


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({select}) to {_lit(path)} (format csv, header true)")


@dataclass(frozen=True)
class Landing:
    """The landing folder `raw` (history up to `first_night`) and one folder of day files per
    later night under `days/<YYYY-MM-DD>/<table>/`."""

    root: Path
    first_night: date
    last_night: date

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def day_dir(self, night: date) -> Path:
        return self.root / "days" / night.isoformat()

    def nights(self) -> list[date]:
        count = (self.last_night - self.first_night).days
        return [self.first_night + timedelta(days=i) for i in range(1, count + 1)]

    def landed(self, night: date) -> bool:
        return all((self.raw / t / f).exists() for t, f in self._day_files(night))

    def land(self, night: date) -> None:
        """Copies the night's day files into the landing folder (as the exporters would)."""
        for table, name in self._day_files(night):
            target = self.raw / table / name
            tmp = target.with_name(f".{name}.tmp")
            shutil.copyfile(self.day_dir(night) / table / name, tmp)
            os.replace(tmp, target)

    def _day_files(self, night: date) -> list[tuple[str, str]]:
        folder = self.day_dir(night)
        return [(t.name, f.name) for t in sorted(folder.iterdir()) for f in _data_files(t)]


def build_landing(
    root: Path,
    *,
    first_night: date = FIRST_NIGHT,
    last_night: date = LAST_NIGHT,
    env: dict[str, str] | None = None,
) -> Landing:
    """Generates the data set and splits web events and ads into the history and day files.

    History files that held days after `first_night` keep the rest under the name of the
    first night (`web_events/2025-09-20.csv`, `ads_daily/2025-09-20_export.csv`), and each day
    file is named after its day, so every day file sorts after the history and the loader
    appends it instead of reloading the table (a later file that sorted before a loaded one
    would be a late file). A day's ads rows take the restatement's values where it has the key.
    """
    landing = Landing(root, first_night, last_night)
    generated = root / "generated"
    shutil.rmtree(root / "raw", ignore_errors=True)
    shutil.rmtree(root / "days", ignore_errors=True)
    shutil.rmtree(generated, ignore_errors=True)
    command = [
        str(BIN / "firewatch"),
        "generate",
        "--out",
        str(generated),
        "--profile",
        "small",
        "--end-date",
        END.isoformat(),
    ]
    for spec in SCENARIOS:
        command += ["--scenario", spec]
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        for table_dir in sorted((generated / "raw").iterdir()):
            table = table_dir.name
            files = _data_files(table_dir)
            if table not in DAILY:
                (landing.raw / table).mkdir(parents=True, exist_ok=True)
                for path in files:
                    shutil.copyfile(path, landing.raw / table / path.name)
                continue
            _split_table(con, landing, table, files)
    finally:
        con.close()
    shutil.rmtree(generated, ignore_errors=True)
    return landing


def _split_table(
    con: duckdb.DuckDBPyConnection, landing: Landing, table: str, files: list[Path]
) -> None:
    column = DAILY[table]
    day = f"cast(left({column}, 10) as date)"
    first = landing.first_night.isoformat()
    history = landing.raw / table
    history.mkdir(parents=True, exist_ok=True)
    kept_rest = False
    for path in files:
        (latest,) = con.execute(f"select max({day}) from {_csv(path)}").fetchone()
        if latest is not None and latest <= landing.first_night:
            shutil.copyfile(path, history / path.name)
            continue
        (n_rest,) = con.execute(
            f"select count(*) from {_csv(path)} where {day} <= date {_lit(first)}"
        ).fetchone()
        if n_rest:
            if kept_rest and table == "web_events":
                raise SystemExit(f"two files of {table} hold days on both sides of {first}")
            suffix = "_export.csv" if table == "ads_daily" else ".csv"
            name = f"{first}{suffix}"
            if (history / name).exists():
                name = f"{first}_{path.stem}.csv"
            _copy(
                con,
                f"select * from {_csv(path)} where {day} <= date {_lit(first)}",
                history / name,
            )
            kept_rest = True
    parts = [
        f"select *, {index} as _file_index from {_csv(path)} where {day} > date {_lit(first)}"
        for index, path in enumerate(files)
    ]
    rows = " union all by name ".join(parts)
    if table == "ads_daily":
        rows = (
            f"select * from ({rows}) qualify row_number() over "
            f"(partition by {ADS_KEY} order by _file_index desc) = 1"
        )
    con.execute(f"create or replace temp table _later as {rows}")
    columns = [
        name for (name,) in con.execute("select name from pragma_table_info('_later')").fetchall()
    ]
    keep = ", ".join(f'"{c}"' for c in columns if c != "_file_index")
    for night in landing.nights():
        suffix = "_export.csv" if table == "ads_daily" else ".csv"
        _copy(
            con,
            f"select {keep} from _later where {day} = date {_lit(night.isoformat())} "
            "order by _file_index",
            landing.day_dir(night) / table / f"{night}{suffix}",
        )


# ------------------------------------------------------------------------------ processes


def campaign_env(root: Path) -> dict[str, str]:
    """The benchmark's environment (the venv first, a private Dagster instance, no telemetry,
    no FIREWATCH_* from outside: a notifier configured in the caller's shell must not be sent
    the campaign's items), with unbuffered output so the phases are seen as they start."""
    env = bench_env(root)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def lock_holder(path: Path) -> tuple[str, int] | None:
    """('write'|'read', pid) of a DuckDB lock another process holds on the file, else None.
    F_GETLK takes no lock: opening the warehouse to find out would block the run's writer."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        probe = struct.pack(_FLOCK, fcntl.F_WRLCK, os.SEEK_SET, 0, 0, 0)
        kind, _, _, _, pid = struct.unpack(_FLOCK, fcntl.fcntl(fd, fcntl.F_GETLK, probe))
    finally:
        os.close(fd)
    if kind == fcntl.F_UNLCK:
        return None
    return ("write" if kind == fcntl.F_WRLCK else "read"), pid


def run_lock_free(warehouse: Path) -> bool:
    """Whether nobody holds the run lock (`<warehouse>.run.lock`, a flock) right now."""
    path = warehouse.with_name(warehouse.name + ".run.lock")
    if not path.exists():
        return True
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        return True
    finally:
        os.close(fd)


def _group_alive(pgid: int) -> list[int]:
    """Pids of the process group that are still running (zombies do not count)."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields_ = stat[stat.rindex(")") + 2 :].split()
        state, pgrp = fields_[0], int(fields_[2])
        if pgrp == pgid and state not in ("Z", "X"):
            alive.append(int(entry.name))
    return alive


@dataclass
class Observation:
    """What the monitor saw of one run, in seconds since it started."""

    started: float = 0.0
    marks: dict[str, float] = field(default_factory=dict)  # phase -> first seen
    writes_after_dbt: int = 0
    last_lock: tuple[str, int] | None = None
    bi_tmp_seen: float | None = None
    lines: list[tuple[float, str]] = field(default_factory=list)
    built: dict[str, tuple[int, int]] = field(default_factory=dict)  # dbt step -> (k, of M)


class RunProcess:
    """`firewatch run` in its own process group, watched from outside."""

    def __init__(self, env: dict[str, str], warehouse: Path, raw: Path, night: date) -> None:
        self.warehouse = warehouse
        self.bi_dir = warehouse.parent
        self.bi_prefix = f".{warehouse.stem}_bi.duckdb."
        self.night = night
        self.obs = Observation()
        self.stdout: list[str] = []
        self._lock = threading.Lock()
        command = [
            sys.executable,
            "-m",
            "dagster_project.cli.main",
            "run",
            "--raw-dir",
            str(raw),
            "--warehouse",
            str(warehouse),
            "--as-of",
            night.isoformat(),
        ]
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,  # its own process group: dbt runs as a child
        )
        self._readers = [
            threading.Thread(target=self._read, args=(self.proc.stderr, True), daemon=True),
            threading.Thread(target=self._read, args=(self.proc.stdout, False), daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    def elapsed(self) -> float:
        return time.monotonic() - self.t0

    def _read(self, stream: Any, is_err: bool) -> None:
        for line in stream:
            now = self.elapsed()
            with self._lock:
                if is_err:
                    self.obs.lines.append((now, line.rstrip("\n")))
                    self._mark(now, line)
                else:
                    self.stdout.append(line)
                    self.obs.marks.setdefault("summary", now)

    def _mark(self, now: float, line: str) -> None:
        match = _PROGRESS.match(line.strip())
        if not match:
            return
        rest = match["rest"]
        marks = self.obs.marks
        if rest.startswith("load"):
            marks.setdefault("load", now)
            if re.search(r"\b(\d+)/\1\b", rest):
                marks.setdefault("load-done", now)
        elif rest.startswith("dbt"):
            step = "dbt-events" if rest.startswith("dbt events") else "dbt-marts"
            marks.setdefault(step, now)
            if "dbt tests passed" in rest:
                marks.setdefault(f"{step}-done", now)
            share = re.search(r"\b(\d+)/(\d+)\s+built\b", rest)
            if share:
                self.obs.built[step] = (int(share[1]), int(share[2]))

    def poll_state(self) -> None:
        """One look from outside: the DuckDB lock's holder and the BI copy's temp file."""
        now = self.elapsed()
        holder = lock_holder(self.warehouse)
        with self._lock:
            after_dbt = "dbt-marts-done" in self.obs.marks
            previous = self.obs.last_lock
            self.obs.last_lock = holder
            writing = bool(holder and holder[0] == "write" and holder[1] == self.proc.pid)
            was_writing = bool(previous and previous[0] == "write" and previous[1] == self.proc.pid)
            if writing:
                if "load" in self.obs.marks and "load-done" not in self.obs.marks:
                    self.obs.marks.setdefault("load-write", now)
                if after_dbt and not was_writing:
                    self.obs.writes_after_dbt += 1
                    self.obs.marks.setdefault(f"write-{self.obs.writes_after_dbt}", now)
            elif was_writing and after_dbt:
                self.obs.marks.setdefault(f"write-{self.obs.writes_after_dbt}-done", now)
        if self.obs.bi_tmp_seen is None:
            with contextlib.suppress(FileNotFoundError):
                for name in os.listdir(self.bi_dir):
                    if name.startswith(self.bi_prefix) and name.endswith(".tmp"):
                        self.obs.bi_tmp_seen = now
                        with self._lock:
                            self.obs.marks.setdefault("publish", now)
                        break

    def mark(self, name: str) -> float | None:
        with self._lock:
            return self.obs.marks.get(name)

    def kill(self) -> float:
        """SIGKILL to the whole process group; returns when none of it is left running."""
        at = self.elapsed()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        deadline = time.monotonic() + 30
        while _group_alive(self.proc.pid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for reader in self._readers:
            reader.join(timeout=10)
        return at

    def wait(self, timeout: float = 1800) -> int:
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9
        for reader in self._readers:
            reader.join(timeout=10)
        return code

    def stderr_text(self) -> str:
        with self._lock:
            return "\n".join(line for _, line in self.obs.lines)


# ------------------------------------------------------------------------------ decisions


@dataclass
class Decision:
    """One queue verb entered through the CLI."""

    decision_id: str
    action: str
    actor: str
    text: str = ""
    until: date | None = None
    when: str = ""
    exit_code: int | None = None
    seconds: float = 0.0
    waited: bool = False  # printed the "busy ... waiting" message
    output: str = ""
    started_at: float = 0.0  # seconds since the run it overlapped started, if any

    @property
    def entered(self) -> bool:
        return self.exit_code == 0

    @property
    def refused(self) -> bool:
        """The CLI said no for a reason of the queue (the item's status no longer allows it),
        which a person would see and act on: not entered, not lost."""
        return self.exit_code == 1 and "cannot" in self.output

    def command(self, warehouse: Path) -> list[str]:
        verb = {"acknowledge": "acknowledge", "decide": "decide", "dismiss": "dismiss"}.get(
            self.action, "snooze"
        )
        args = [sys.executable, "-m", "dagster_project.cli.main", verb, self.decision_id]
        args += ["--by", self.actor, "--warehouse", str(warehouse)]
        if self.action == "decide":
            args += ["--decision", self.text]
        elif self.action == "dismiss":
            args += ["--reason", self.text]
        elif self.action == "snooze":
            args += ["--until", (self.until or date.today()).isoformat()]
        return args


class DecisionProcess:
    """A queue verb running as its own process (its own group: a run's kill never hits it)."""

    def __init__(self, decision: Decision, env: dict[str, str], warehouse: Path) -> None:
        self.decision = decision
        self.t0 = time.monotonic()
        self.proc = subprocess.Popen(
            decision.command(warehouse),
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        self._out: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._out.append(line)

    def output(self) -> str:
        return "".join(self._out)

    def waiting(self) -> bool:
        """Whether it has said it waits for the warehouse."""
        return "is busy" in self.output()

    def done(self) -> bool:
        return self.proc.poll() is not None

    def finish(self, timeout: float = 900) -> Decision:
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()
            self._out.append("\n(timed out)")
        self._reader.join(timeout=10)
        out = self.output()
        d = self.decision
        d.exit_code = self.proc.returncode
        d.seconds = time.monotonic() - self.t0
        d.output = out.strip()
        d.waited = "is busy" in out and "waiting" in out
        return d


_NEXT = {
    # status -> the verbs that keep an item useful longest first
    "open": ("acknowledge", "snooze", "decide", "dismiss"),
    "acknowledged": ("snooze", "decide", "dismiss"),
    "snoozed": ("decide", "dismiss"),
}


def queue_statuses(warehouse: Path) -> dict[str, tuple[str, date | None]]:
    """decision_id -> (status, the alert's last_detected_at), read while nothing writes."""
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        rows = con.execute(
            "select q.decision_id, q.status, a.last_detected_at from main.decision_queue q "
            "join main.alerts a using (alert_id)"
        ).fetchall()
    finally:
        con.close()
    return {d: (s, last) for d, s, last in rows}


def choose_decision(
    rng: random.Random,
    statuses: dict[str, tuple[str, date | None]],
    counter: int,
    when: str,
) -> Decision | None:
    """A legal verb on an item whose alert is still being detected (so the next run is unlikely
    to resolve it before the verb lands), None when no item takes one."""
    live = [d for d, (s, _) in statuses.items() if s in _NEXT]
    if not live:
        return None
    newest = max((last for _, (_, last) in statuses.items() if last), default=None)
    fresh = [d for d in live if statuses[d][1] == newest] or live
    decision_id = rng.choice(sorted(fresh))
    status = statuses[decision_id][0]
    options = _NEXT[status]
    action = options[0] if rng.random() < 0.6 else rng.choice(options)
    actor = f"person-{counter:02d}"
    text = {
        "decide": f"decision {counter}: cut the budget, check the landing page",
        "dismiss": f"reason {counter}: known seasonal effect",
    }.get(action, "")
    until = date.today() + timedelta(days=30 + counter) if action == "snooze" else None
    return Decision(decision_id, action, actor, text, until, when)


def apply_locally(
    statuses: dict[str, tuple[str, date | None]], decision: Decision
) -> dict[str, tuple[str, date | None]]:
    target = {
        "acknowledge": "acknowledged",
        "snooze": "snoozed",
        "decide": "decided",
        "dismiss": "dismissed",
    }
    out = dict(statuses)
    if decision.entered and decision.decision_id in out:
        out[decision.decision_id] = (target[decision.action], out[decision.decision_id][1])
    return out


# ------------------------------------------------------------------------------ checks


@dataclass(frozen=True)
class BiState:
    published_at: datetime | None
    as_of: date | None
    counts: dict[str, int]
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        if self.published_at is None:
            return "none"
        return f"as of {self.as_of}, published {self.published_at:%H:%M:%S.%f}"


def read_bi(path: Path) -> BiState:
    """The BI copy as a reader sees it: opened read-only, every table's rows counted against
    bi_copy_info."""
    if not path.exists():
        return BiState(None, None, {}, ())
    problems: list[str] = []
    con = duckdb.connect(str(path), read_only=True)
    try:
        info = con.execute(
            "select table_name, row_count, published_at, as_of_date from bi_copy_info"
        ).fetchall()
        tables = {
            name
            for (name,) in con.execute(
                "select table_name from information_schema.tables where table_schema = 'main'"
            ).fetchall()
        }
        counts: dict[str, int] = {}
        for name, rows, _, _ in info:
            if name not in tables:
                problems.append(f"BI copy: bi_copy_info lists {name}, which is not there")
                continue
            (found,) = con.execute(f'select count(*) from main."{name}"').fetchone()
            counts[name] = int(found)
            if found != rows:
                problems.append(f"BI copy: {name} has {found} rows, bi_copy_info says {rows}")
        extra = tables - set(counts) - {"bi_copy_info"}
        if extra:
            problems.append(f"BI copy: tables not in bi_copy_info: {sorted(extra)}")
        stamps = {(p, a) for _, _, p, a in info}
        if len(stamps) != 1:
            problems.append(f"BI copy: bi_copy_info mixes runs: {sorted(stamps)}")
        published, as_of = next(iter(stamps)) if stamps else (None, None)
    finally:
        con.close()
    return BiState(published, as_of, counts, tuple(problems))


def bi_leftovers(warehouse: Path) -> list[str]:
    prefix = f".{warehouse.stem}_bi.duckdb."
    return sorted(n for n in os.listdir(warehouse.parent) if n.startswith(prefix))


def warehouse_counts(con: duckdb.DuckDBPyConnection, tables: Sequence[str]) -> dict[str, int]:
    counts = {}
    for name in tables:
        try:
            (counts[name],) = con.execute(f'select count(*) from main."{name}"').fetchone()
        except duckdb.Error:
            counts[name] = -1
    return counts


def queue_rows(con: duckdb.DuckDBPyConnection) -> dict[str, tuple]:
    """decision_id -> (status, decision, decided_by, note, snoozed_until) of decision_queue."""
    return {
        row[0]: row[1:]
        for row in con.execute(
            "select decision_id, status, decision, decided_by, note, snoozed_until "
            "from main.decision_queue"
        ).fetchall()
    }


def check_decisions(
    con: duckdb.DuckDBPyConnection, decisions: Sequence[Decision], *, as_of: date | None = None
) -> list[str]:
    """Every entered verb is one row of the log (who, what, when) and the queue is the log
    folded over the alerts; nobody's entry is lost, doubled or overwritten."""
    problems = []
    log = read_log(con)
    ids = [e.entry_id for e in log]
    if len(ids) != len(set(ids)):
        problems.append(f"decision_log: duplicate entry ids {sorted(ids)}")
    entered = [d for d in decisions if d.entered]
    by_actor: dict[str, list] = {}
    for entry in log:
        by_actor.setdefault(entry.actor, []).append(entry)
    for d in entered:
        rows = by_actor.get(d.actor, [])
        match = [
            e
            for e in rows
            if e.decision_id == d.decision_id
            and e.action == d.action
            and (e.text or "") == d.text
            and e.snooze_until == d.until
            and e.entered_at is not None
        ]
        if len(match) != 1:
            problems.append(
                f"decision_log: {d.actor}'s {d.action} of {d.decision_id} ({d.when}) found "
                f"{len(match)} times: {rows}"
            )
    known = {d.actor for d in decisions}
    strangers = [e for e in log if e.actor not in known]
    if strangers:
        problems.append(f"decision_log: entries nobody entered: {strangers}")
    if len(log) != len(entered):
        problems.append(f"decision_log: {len(log)} entries, {len(entered)} entered")
    # the queue is what the log says, item by item
    queue = queue_rows(con)
    alerts = read_alerts(con)
    if as_of is None:
        as_of = con.execute("select as_of_date from intermediate.int_run_context").fetchone()[0]
    expected = {
        i.decision_id: (i.status, i.decision, i.decided_by, i.note, i.snoozed_until)
        for i in build_queue(alerts, log, as_of)
    }
    for decision_id in sorted(set(expected) | set(queue)):
        if queue.get(decision_id) != expected.get(decision_id):
            problems.append(
                f"decision_queue: {decision_id} is {queue.get(decision_id)}, the log says "
                f"{expected.get(decision_id)}"
            )
    for d in entered:
        if d.decision_id not in queue:
            problems.append(f"decision_queue: {d.decision_id} ({d.actor}) is not in the queue")
    return problems


def found_decisions(con: duckdb.DuckDBPyConnection, decisions: Sequence[Decision]) -> int:
    """How many of the entered verbs are in the log, each exactly once."""
    log = read_log(con)
    found = 0
    for d in decisions:
        if not d.entered:
            continue
        hits = [
            e
            for e in log
            if (e.actor, e.decision_id, e.action, e.text or "", e.snooze_until)
            == (d.actor, d.decision_id, d.action, d.text, d.until)
        ]
        found += len(hits) == 1
    return found


def dbt_summaries(log_path: Path) -> list[tuple[int, int, int, int]]:
    """(pass, warn, error, skip) of each dbt invocation in the run's log."""
    if not log_path.exists():
        return []
    text = log_path.read_text(encoding="utf-8", errors="replace")
    return [tuple(int(x) for x in m.groups()) for m in _DBT_DONE.finditer(text)]  # type: ignore[misc]


def dbt_test(env: dict[str, str], warehouse: Path, night: date, work: Path) -> tuple[bool, str]:
    """`dbt test` (every data test, as the nightly runs them) against the warehouse as it is,
    with its own target and log folders so nobody else's dbt state is touched."""
    target = work / "dbt_target"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    manifest_dir = DBT_PROJECT / "target"
    for name in ("partial_parse.msgpack",):
        with contextlib.suppress(FileNotFoundError):
            shutil.copyfile(manifest_dir / name, target / name)
    run_env = dict(
        env,
        FIREWATCH_WAREHOUSE=str(warehouse),
        FIREWATCH_AS_OF=night.isoformat(),
        FIREWATCH_REPROCESS_FROM=night.isoformat(),
    )
    result = subprocess.run(
        [
            str(BIN / "dbt"),
            "test",
            "--exclude",
            "test_type:unit",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--log-path",
            str(work / "dbt_logs"),
        ],
        cwd=DBT_PROJECT,
        env=run_env,
        capture_output=True,
        text=True,
    )
    summary = _DBT_DONE.search(result.stdout)
    text = summary.group(0) if summary else result.stdout[-500:]
    return result.returncode == 0, text


# ------------------------------------------------------------------------------ the campaign


@dataclass
class KillPlan:
    target: str
    delay: float  # seconds after the target's anchor (for `random`: after the start)
    after_built: int = 0  # dbt targets: right after the step's k-th model is built

    def describe(self) -> str:
        if self.after_built:
            return f"{self.target} (after model {self.after_built})"
        return f"{self.target} +{self.delay:.1f} s"


@dataclass
class KillResult:
    index: int
    night: date
    new_day: bool
    plan: KillPlan
    killed: bool = False
    killed_at: float | None = None  # seconds since the run started
    step: str = ""  # the run's step at the kill, from its Dagster event log
    seen: str = ""  # what the monitor saw at the kill
    crashed_problems: list[str] = field(default_factory=list)
    bi_after_kill: str = ""
    recovery_code: int | None = None
    recovery_seconds: float = 0.0
    dbt: list[tuple[int, int, int, int]] = field(default_factory=list)
    bi_after_recovery: str = ""
    problems: list[str] = field(default_factory=list)
    decisions_entered: int = 0
    decisions_found: int = 0
    decisions_here: list[str] = field(default_factory=list)
    leftovers: list[str] = field(default_factory=list)
    chained: bool = False  # the next killed run came before a recovery (see `recover_each`)

    @property
    def survived(self) -> bool:
        return self.killed and self.recovery_code == 0 and not self.problems


@dataclass
class Campaign:
    seed: int
    kills: list[KillResult] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    first_run_seconds: float = 0.0
    phase_seconds: dict[str, list[float]] = field(default_factory=dict)
    run_seconds: list[float] = field(default_factory=list)
    dbt_test: tuple[bool, str] | None = None
    fresh: str = ""
    seconds: float = 0.0
    problems: list[str] = field(default_factory=list)  # outside any one kill

    @property
    def survived(self) -> int:
        return sum(k.survived for k in self.kills if k.killed)

    @property
    def killed(self) -> int:
        return sum(k.killed for k in self.kills)

    @property
    def entered(self) -> int:
        return sum(d.entered for d in self.decisions)

    @property
    def ok(self) -> bool:
        return not self.problems and all(
            k.survived if k.killed else not k.problems for k in self.kills
        )


def plan_kills(rng: random.Random, count: int, targets: Sequence[str] | None = None) -> list[str]:
    """`count` targets: every phase in turn (each round shuffled), `random` twice per round."""
    pool = list(targets or (*TARGETS, "random"))
    out: list[str] = []
    while len(out) < count:
        round_ = pool[:]
        rng.shuffle(round_)
        out += round_
    return out[:count]


def _phases(obs: Observation, total: float) -> dict[str, float]:
    """Seconds per phase of a completed run, from its progress lines."""
    m = obs.marks
    points = [
        ("start-up", 0.0),
        ("load", m.get("load")),
        ("dbt event models", m.get("load-done")),
        ("dbt marts", m.get("dbt-events-done")),
        ("checks, alerts, queue, publish", m.get("dbt-marts-done")),
        ("end", total),
    ]
    known = [(n, t) for n, t in points if t is not None]
    return {known[i][0]: known[i + 1][1] - known[i][1] for i in range(len(known) - 1)}


class Harness:
    """One warehouse, one landing folder, one Dagster home; everything under `root`."""

    def __init__(
        self,
        root: Path,
        *,
        seed: int,
        say: Callable[[str], None] = print,
        landing: Landing | None = None,
    ) -> None:
        self.root = root
        self.rng = random.Random(seed)
        self.say = say
        self.env = campaign_env(root)
        self.landing = landing or build_landing(root / "landing", env=self.env)
        self.warehouse = root / "warehouse" / "firewatch.duckdb"
        self.warehouse.parent.mkdir(parents=True, exist_ok=True)
        self.bi = self.warehouse.with_name("firewatch_bi.duckdb")
        self.campaign = Campaign(seed)
        self.night = self.landing.first_night
        self.last_bi: BiState = BiState(None, None, {})
        self.durations: dict[str, float] = {}
        self.models: dict[str, int] = {}  # dbt step -> models it builds (from the last run)
        self._counter = 0

    # -- running ------------------------------------------------------------------------

    def start_run(self, night: date) -> RunProcess:
        return RunProcess(self.env, self.warehouse, self.landing.raw, night)

    def good_run(self, night: date, *, during: Decision | None = None) -> tuple[int, RunProcess]:
        """A run without a kill (optionally with a verb entered while it runs)."""
        run = self.start_run(night)
        pending = None
        start_at = self.rng.uniform(1.0, max(2.0, self.durations.get("total", 30) * 0.9))
        while run.proc.poll() is None:
            run.poll_state()
            if during is not None and pending is None and run.elapsed() >= start_at:
                during.started_at = run.elapsed()
                pending = DecisionProcess(during, self.env, self.warehouse)
            time.sleep(0.005)
        code = run.wait()
        if during is not None:
            if pending is None:  # the run ended first: enter it now, nothing overlapping
                pending = DecisionProcess(during, self.env, self.warehouse)
            self._finish(pending)
        total = run.elapsed()
        self.campaign.run_seconds.append(total)
        if code == 0:
            for name, seconds in _phases(run.obs, total).items():
                self.campaign.phase_seconds.setdefault(name, []).append(seconds)
            self._learn(run.obs, total)
        return code, run

    def _learn(self, obs: Observation, total: float) -> None:
        m = obs.marks
        self.models.update({step: total_ for step, (_, total_) in obs.built.items()})
        if "total" in self.durations:
            self.durations["nightly"] = total
        self.durations["total"] = total
        for name, start, end in (
            ("load", "load", "load-done"),
            ("dbt-events", "load-done", "dbt-events-done"),
            ("dbt-marts", "dbt-events-done", "dbt-marts-done"),
            ("alerts-detect", "dbt-marts-done", "write-1"),
            ("after-alerts", "write-1-done", "publish"),
            ("publish", "publish", "summary"),
        ):
            if start in m and (end is None or end in m):
                self.durations[name] = (m[end] if end else total) - m[start]

    def _finish(self, pending: DecisionProcess) -> Decision:
        d = pending.finish()
        self.campaign.decisions.append(d)
        status = "entered" if d.entered else ("refused" if d.refused else "FAILED")
        wait = ", waited" if d.waited else ""
        self.say(f"    {d.action} {d.decision_id} by {d.actor} ({d.when}): {status}{wait}")
        return d

    def decide_now(self, when: str) -> Decision | None:
        statuses = queue_statuses(self.warehouse)
        d = choose_decision(self.rng, statuses, self._next(), when)
        if d is None:
            return None
        return self._finish(DecisionProcess(d, self.env, self.warehouse))

    def _next(self) -> int:
        self._counter += 1
        return self._counter

    # -- the campaign -------------------------------------------------------------------

    def first_run(self, decisions: int = 2) -> None:
        started = time.monotonic()
        code, run = self.good_run(self.night)
        self.campaign.first_run_seconds = time.monotonic() - started
        if code != 0:
            raise SystemExit(f"the first run failed ({code}):\n{run.stderr_text()[-3000:]}")
        self.last_bi = read_bi(self.bi)
        self.say(f"first run as of {self.night}: {self.campaign.first_run_seconds:.1f} s")
        for _ in range(decisions):
            self.decide_now("after the first run")

    def kill_once(
        self,
        index: int,
        target: str,
        *,
        decide_after: bool,
        decide_during: bool,
        recover: bool = True,
    ) -> KillResult:
        """One killed run and, with `recover`, the recovery run of its night and its checks;
        without, the next killed run comes first (crashes stacked on crashes)."""
        rng = self.rng
        nights = [n for n in self.landing.nights() if n > self.night]
        new_day = bool(nights) and (rng.random() < 0.85 or index == 1)
        night = nights[0] if new_day else self.night
        if new_day:
            self.landing.land(night)
        plan = KillPlan(target, self._delay(target), self._model(target))
        result = KillResult(index, night, new_day, plan)
        self.campaign.kills.append(result)
        before = len(self.campaign.decisions)
        during = None
        if decide_during:
            during = choose_decision(
                rng, queue_statuses(self.warehouse), self._next(), f"during killed run {index}"
            )
        known_runs = dagster_runs(self.env["DAGSTER_HOME"])
        run = self.start_run(night)
        pending: DecisionProcess | None = None
        during_at = rng.uniform(0.5, max(1.0, self.durations.get("total", 30) * 0.8))
        while run.proc.poll() is None:
            run.poll_state()
            if during is not None and pending is None and run.elapsed() >= during_at:
                during.started_at = run.elapsed()
                pending = DecisionProcess(during, self.env, self.warehouse)
            if self._due(run, plan):
                seen = self._seen(run)
                result.killed_at = run.kill()
                result.killed = True
                result.seen = seen
                break
            time.sleep(0.002)
        if not result.killed:
            run.wait()
            result.seen = f"the run ended (exit {run.proc.returncode}) before its target"
        if pending is not None:
            self._finish(pending)
        elif during is not None:
            # the kill (or the end) came before the verb's moment: enter it now, against the
            # crashed warehouse
            during.when = f"after {'kill' if result.killed else 'run'} {index} (planned during)"
            self._finish(DecisionProcess(during, self.env, self.warehouse))
        result.step = run_step(self.env["DAGSTER_HOME"], known_runs)
        if not result.killed:
            # it completed: check it as a recovery run, and try the target again next time
            result.recovery_code = run.proc.returncode
            result.recovery_seconds = run.elapsed()
            if result.recovery_code != 0:
                result.problems.append(f"run exit {result.recovery_code}: {run.stderr_text()}")
        else:
            self._after_kill(result, run)
            if decide_after:
                self.decide_now(f"after kill {index}")
        if result.killed and not recover:
            result.chained = True
            self.night = night
            self._note_decisions(result, before)
            return result
        if result.killed:
            # the recovery: the same night, no kill, sometimes a verb entered while it runs
            during = None
            if rng.random() < 0.3:
                during = choose_decision(
                    rng, queue_statuses(self.warehouse), self._next(), f"during recovery {index}"
                )
            started = time.monotonic()
            code, rec = self.good_run(night, during=during)
            result.recovery_code = code
            result.recovery_seconds = time.monotonic() - started
            if code != 0:
                result.problems.append(
                    f"recovery run exit {code}: {rec.stderr_text()[-1500:]}"
                    f"{''.join(rec.stdout)[-500:]}"
                )
        self.night = night
        self._after_recovery(result)
        self._note_decisions(result, before)
        return result

    def _note_decisions(self, result: KillResult, before: int) -> None:
        result.decisions_here = [
            f"{d.action} {d.decision_id} ({d.when}): "
            + ("entered" if d.entered else "refused" if d.refused else f"FAILED {d.exit_code}")
            + (", waited" if d.waited else "")
            for d in self.campaign.decisions[before:]
        ]

    def _delay(self, target: str) -> float:
        d, rng = self.durations, self.rng
        if target == "random":
            # over a night's run: the last nightly one, else the first run (a full build,
            # longer) scaled down
            return rng.uniform(0.0, d.get("nightly", 0.7 * d.get("total", 40.0)))
        span = {
            "load": d.get("load", 1.0),
            # (only when the step's models are not known yet: see _model)
            "dbt-events": 0.8 * d.get("dbt-events", 10.0),
            "dbt-marts": 0.8 * d.get("dbt-marts", 10.0),
            "alerts-detect": d.get("alerts-detect", 0.3),
            "after-alerts": d.get("after-alerts", 0.5),
            # the temporary copy is seen only until it is swapped in, a second or less on an
            # idle machine: kill the moment it appears (a delay landed after the run's end)
            "publish": 0.0,
        }.get(target, 0.0)
        return rng.uniform(0.0, span)

    def _model(self, target: str) -> int:
        """For a dbt target: after which of the step's models to kill (never after the last:
        the step's tests and its end come after it)."""
        models = self.models.get(target, 0)
        return self.rng.randint(1, models - 1) if models > 1 else 0

    def _due(self, run: RunProcess, plan: KillPlan) -> bool:
        if plan.after_built:
            k, _ = run.obs.built.get(plan.target, (0, 0))
            return k >= plan.after_built
        t = run.elapsed()
        anchor = {
            "random": 0.0,
            "load": run.mark("load"),
            "load-write": run.mark("load-write"),
            "dbt-events": run.mark("load-done"),
            "dbt-marts": run.mark("dbt-events-done"),
            "alerts-detect": run.mark("dbt-marts-done"),
            "alerts-write": run.mark("write-1"),
            "after-alerts": run.mark("write-1-done"),
            "publish": run.mark("publish"),
        }[plan.target]
        return anchor is not None and t >= anchor + plan.delay

    @staticmethod
    def _seen(run: RunProcess) -> str:
        parts = []
        lock = run.obs.last_lock
        if lock:
            who = "the run" if lock[1] == run.proc.pid else f"pid {lock[1]} (dbt)"
            parts.append(f"{who} holds the {lock[0]} lock")
        if run.obs.bi_tmp_seen is not None:
            parts.append("BI temp copy present")
        return "; ".join(parts) or "no lock held"

    def _after_kill(self, result: KillResult, run: RunProcess) -> None:
        """The crashed state: nothing left running or locked, the BI copy whole and the last
        good run's (or, if the kill came after the swap, this run's), every decision there."""
        problems = result.crashed_problems
        left = _group_alive(run.proc.pid)
        if left:
            problems.append(f"processes of the killed run still running: {left}")
        holder = lock_holder(self.warehouse)
        if holder:
            problems.append(f"the warehouse is still locked after the kill: {holder}")
        if not run_lock_free(self.warehouse):
            problems.append("the run lock is still held after the kill (stale lock)")
        bi = read_bi(self.bi)
        problems += bi.problems
        if bi.published_at == self.last_bi.published_at:
            result.bi_after_kill = f"previous run ({bi.describe()})"
        elif bi.as_of == result.night:
            result.bi_after_kill = f"this run, complete ({bi.describe()})"
            self.last_bi = bi
        else:
            result.bi_after_kill = f"UNEXPECTED ({bi.describe()})"
            problems.append(f"BI copy after the kill is neither run: {bi.describe()}")
        try:
            con = duckdb.connect(str(self.warehouse), read_only=True)
        except duckdb.Error as error:
            problems.append(f"the crashed warehouse does not open: {error}")
            return
        try:
            found = found_decisions(con, self.campaign.decisions)
        finally:
            con.close()
        entered = self.campaign.entered
        if found != entered:
            problems.append(f"after the kill {found} of {entered} decisions are in the log")
        result.problems += [f"after the kill: {p}" for p in problems]

    def _after_recovery(self, result: KillResult) -> None:
        problems = result.problems
        result.dbt = dbt_summaries(self.warehouse.with_suffix(".run.log"))
        if result.recovery_code == 0:
            if len(result.dbt) != 2:
                problems.append(f"expected two dbt builds in the run log, found {result.dbt}")
            for _passed, _warn, errors, skipped in result.dbt:
                if errors or skipped:
                    problems.append(f"dbt build: {errors} errors, {skipped} skipped")
        bi = read_bi(self.bi)
        problems += list(bi.problems)
        con = duckdb.connect(str(self.warehouse), read_only=True)
        try:
            as_of = con.execute("select as_of_date from intermediate.int_run_context").fetchone()[0]
            ours = warehouse_counts(con, sorted(bi.counts))
            public = {
                n
                for (n,) in con.execute(
                    "select table_name from information_schema.tables where table_schema = "
                    "'main' and table_type = 'BASE TABLE'"
                ).fetchall()
            } - {"backtest_alerts", "bi_copy_info"}
            problems += check_decisions(con, self.campaign.decisions)
            result.decisions_found = found_decisions(con, self.campaign.decisions)
        finally:
            con.close()
        result.decisions_entered = self.campaign.entered
        if as_of != result.night:
            problems.append(f"the warehouse is as of {as_of}, the run was for {result.night}")
        if result.recovery_code == 0:
            if bi.as_of != result.night or bi.published_at == self.last_bi.published_at:
                problems.append(f"BI copy after the recovery is not this run's: {bi.describe()}")
            if set(bi.counts) != public:
                problems.append(
                    f"BI copy tables {sorted(bi.counts)} != warehouse's {sorted(public)}"
                )
            differ = {n: (c, ours.get(n)) for n, c in bi.counts.items() if ours.get(n) != c}
            if differ:
                problems.append(f"BI copy rows differ from the warehouse: {differ}")
        result.bi_after_recovery = (
            f"this run, {len(bi.counts)} tables as in the warehouse ({bi.describe()})"
            if not any(p.startswith("BI copy") for p in problems)
            else f"WRONG ({bi.describe()})"
        )
        self.last_bi = bi
        result.leftovers = bi_leftovers(self.warehouse)
        if result.leftovers:
            problems.append(f"temporary BI copies left beside the BI copy: {result.leftovers}")


def dagster_runs(dagster_home: str) -> set[Path]:
    """The event-log databases of the Dagster instance's runs (one file per run)."""
    runs = Path(dagster_home) / "history" / "runs"
    return {p for p in runs.glob("*.db") if p.name != "index.db"} if runs.exists() else set()


def run_step(dagster_home: str, known: set[Path]) -> str:
    """The step the run that is not in `known` was in when it stopped: a step that started and
    did not finish, or the gap after the last one that finished."""
    new = dagster_runs(dagster_home) - known
    if not new:
        return "start-up (no run recorded yet)"
    newest = max(new, key=lambda p: p.stat().st_mtime_ns)
    con = sqlite3.connect(f"file:{newest}?mode=ro", uri=True)
    try:
        rows = con.execute(
            "select dagster_event_type, step_key from event_logs where dagster_event_type in "
            "('STEP_START', 'STEP_SUCCESS', 'STEP_FAILURE', 'PIPELINE_SUCCESS') order by id"
        ).fetchall()
    finally:
        con.close()
    started, finished = [], set()
    for kind, step in rows:
        if kind == "PIPELINE_SUCCESS":
            return "after the last step (run already succeeded)"
        if kind == "STEP_START":
            started.append(step)
        else:
            finished.add(step)
    running = [s for s in started if s not in finished]
    if running:
        return STEP_NAMES.get(running[-1], running[-1])
    if not started:
        return "start-up (before the first step)"
    return f"between steps (after {STEP_NAMES.get(started[-1], started[-1])})"


def campaign(
    root: Path,
    kills: int,
    seed: int,
    *,
    targets: Sequence[str] | None = None,
    say: Callable[[str], None] = print,
    recover_each: bool = True,
    run_dbt_test: bool = True,
    compare_fresh: bool = True,
    decide_after: Sequence[bool] | None = None,
    decide_during: Sequence[bool] | None = None,
) -> Campaign:
    """A first good run, then `kills` killed runs, each followed by a recovery run and its
    checks (`recover_each`), or each killed run after the one before and one recovery at the
    end. A target the run outlives is tried again on the next run. Then, optionally, `dbt test`
    on the final warehouse and a comparison with a fresh build of the same landing folder."""
    started = time.monotonic()
    say(f"fault injection: {kills} kills, seed {seed}, in {root}")
    harness = Harness(root, seed=seed, say=say)
    harness.first_run()
    plan = list(targets) if targets else plan_kills(harness.rng, kills)
    attempt, done = 0, 0
    while done < len(plan) and attempt < 2 * len(plan):
        target = plan[done]
        attempt += 1
        after = decide_after[done] if decide_after else harness.rng.random() < 0.5
        during = decide_during[done] if decide_during else harness.rng.random() < 0.35
        recover = recover_each or done == len(plan) - 1
        result = harness.kill_once(
            attempt, target, decide_after=after, decide_during=during, recover=recover
        )
        done += result.killed
        if result.chained:
            state = "crash checks passed" if not result.problems else "FAILED"
        else:
            state = "survived" if result.survived else "FAILED"
        if not result.killed:
            state = "not killed (" + result.seen + "), trying the target again"
        at = f"{result.killed_at:.1f} s" if result.killed_at is not None else "-"
        say(
            f"run {attempt}, kill {done}/{len(plan)} [{target}] night {result.night} at {at} in "
            f"{result.step}: {state}; recovery {result.recovery_seconds:.1f} s; decisions "
            f"{result.decisions_found}/{result.decisions_entered}"
        )
        for problem in result.problems:
            say(f"    problem: {problem}")
    c = harness.campaign
    last = c.kills[-1] if c.kills else None
    for k in c.kills:
        if k.chained and last is not None:
            # recovered by the last run: it counts as survived if that recovery passed
            k.recovery_code = last.recovery_code if not last.problems else -1
    if done < len(plan):
        c.problems.append(f"only {done} of {len(plan)} kills landed in {attempt} runs")
    if run_dbt_test:
        c.dbt_test = dbt_test(harness.env, harness.warehouse, harness.night, root)
        say(f"dbt test on the final warehouse: {c.dbt_test[1]}")
        if not c.dbt_test[0]:
            c.problems.append(f"dbt test on the final warehouse failed: {c.dbt_test[1]}")
    if compare_fresh:
        c.fresh = compare_with_fresh_build(harness)
        say(f"fresh build of the same files: {c.fresh}")
        if not c.fresh.startswith("identical"):
            c.problems.append(f"the warehouse differs from a fresh build: {c.fresh}")
    c.seconds = time.monotonic() - started
    return c


# The marts compared with a fresh build (alerts and the queue are history, not a function of
# the files: a fresh build has only the last night's episodes).
COMPARED = ("metric_series", "control_daily", "meaning_weekly", "target_attainment")


def compare_with_fresh_build(harness: Harness) -> str:
    """Builds the same landing folder from scratch as of the same night and compares the marts
    row for row: a crash that lost or doubled a day would show here, not in a dbt test."""
    fresh = harness.root / "fresh" / "firewatch.duckdb"
    shutil.rmtree(fresh.parent, ignore_errors=True)
    fresh.parent.mkdir(parents=True)
    run = RunProcess(harness.env, fresh, harness.landing.raw, harness.night)
    code = run.wait()
    if code != 0:
        return f"the fresh build failed ({code}): {run.stderr_text()[-1000:]}"
    differences = []
    con = duckdb.connect()
    try:
        con.execute(f"attach {_lit(harness.warehouse)} as ours (read_only)")
        con.execute(f"attach {_lit(fresh)} as fresh (read_only)")
        for table in COMPARED:
            columns = [
                (name, kind)
                for name, kind in con.execute(
                    "select column_name, data_type from information_schema.columns where "
                    "table_catalog = 'fresh' and table_schema = 'main' and table_name = ? "
                    "order by ordinal_position",
                    [table],
                ).fetchall()
            ]
            if not columns:
                continue
            select = ", ".join(
                f'round("{n}", 9) as "{n}"' if k in ("DOUBLE", "FLOAT") else f'"{n}"'
                for n, k in columns
            )
            for a, b in (("ours", "fresh"), ("fresh", "ours")):
                (extra,) = con.execute(
                    f"select count(*) from (select {select} from {a}.main.{table} except all "
                    f"select {select} from {b}.main.{table})"
                ).fetchone()
                if extra:
                    differences.append(f"{table}: {extra} rows only in {a}")
    finally:
        con.close()
    if differences:
        return "; ".join(differences)
    return f"identical ({', '.join(COMPARED)})"


# ------------------------------------------------------------------------------ other suites

SUITES = (
    "tests/test_bad_input.py",
    "tests/test_properties.py",
    "tests/test_security.py",
    "tests/test_concurrent_people.py",
)


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    outcome: str  # passed, failed, error, skipped
    seconds: float


def run_suites(work: Path, suites: Sequence[str] = SUITES) -> tuple[list[Case], list[str], float]:
    """pytest on the other reliability suites (those present), cases from its junit XML."""
    present = [s for s in suites if (ROOT / s).exists()]
    missing = [s for s in suites if s not in present]
    if not present:
        return [], missing, 0.0
    xml = work / "suites.xml"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *present,
         f"--junitxml={xml}"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("FIREWATCH_")},
    )  # fmt: skip
    seconds = time.monotonic() - started
    cases: list[Case] = []
    if xml.exists():
        for case in ET.parse(xml).getroot().iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
            module = case.get("classname", "").split(".")
            suite = next((f"tests/{m}.py" for m in module if m.startswith("test_")), "?")
            cases.append(Case(suite, case.get("name", "?"), outcome, float(case.get("time", 0))))
    return cases, missing, seconds


# ------------------------------------------------------------------------------ report


def _fmt_seconds(values: Sequence[float]) -> str:
    if not values:
        return "-"
    if len(values) == 1:
        return f"{values[0]:.1f}"
    return f"{statistics.median(values):.1f} (min {min(values):.1f}, max {max(values):.1f})"


def write_report(
    path: Path,
    c: Campaign,
    cases: list[Case],
    missing: list[str],
    suite_seconds: float,
    command: str,
) -> None:
    kills = [k for k in c.kills if k.killed]
    lines = [
        "# Reliability",
        "",
        f"Written by `{command}` (`make reliability`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {describe_machine()}. Seed {c.seed} (`--seed {c.seed}` repeats the campaign).",
        "",
        "## Fault injection",
        "",
        "`bench/reliability.py` kills `firewatch run` with SIGKILL (the whole process group, dbt",
        "included) at points chosen per kill: a uniformly random moment of a measured run, or a",
        "phase seen from outside the run (its progress lines, the DuckDB lock's holder, the BI",
        "copy's temporary file). The step it died in comes from the run's Dagster event log.",
        "Each kill's night adds a day of web events and ads to the landing folder (most of them;",
        "the others re-run the night), decisions are entered through the CLI after some kills",
        "and while some runs write. After each kill: nothing of the run left running or",
        "locked, the BI copy whole and one run's, every decision in the log; then a recovery run",
        "of the same night, which must exit 0 with both dbt builds free of errors and skips,",
        "publish a BI copy of itself (each table's rows as in the warehouse, bi_copy_info",
        "agreeing), leave no temporary copy, and keep every decision in the log exactly once",
        "and folded into `decision_queue`.",
        "",
        f"**Kills survived: {c.survived}/{len(kills)}.** Decisions entered: {c.entered}, found "
        f"after the last recovery: {c.kills[-1].decisions_found if c.kills else 0} "
        f"(refused by the queue, not entered: {sum(d.refused for d in c.decisions)}; failed: "
        f"{sum(not d.entered and not d.refused for d in c.decisions)}; waited with a message: "
        f"{sum(d.waited for d in c.decisions)}).",
        "",
        f"Whole campaign {c.seconds / 60:.1f} min; first run (full build) "
        f"{c.first_run_seconds:.1f} s; a complete run {_fmt_seconds(c.run_seconds)} s.",
        "",
    ]
    if c.dbt_test:
        state = "passed" if c.dbt_test[0] else "FAILED"
        lines += [f"`dbt test` on the final warehouse: {state} ({c.dbt_test[1]}).", ""]
    if c.fresh:
        lines += [
            "The final warehouse against a fresh build of the same landing folder as of the "
            f"same night: {c.fresh}.",
            "",
        ]
    lines += [
        "Seconds per phase of the complete runs (median, min, max; from the progress lines):",
        "",
        "| phase | seconds |",
        "|---|---|",
        *[f"| {name} | {_fmt_seconds(v)} |" for name, v in c.phase_seconds.items()],
        "",
        "| # | night | target (+ delay after its anchor) | killed at | step it died in | seen "
        "| BI copy after the kill | recovery | dbt builds | BI copy after the recovery "
        "| decisions entered/found | outcome |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for k in c.kills:
        at = f"{k.killed_at:.1f} s" if k.killed_at is not None else "not killed"
        dbt = ", ".join(f"{p} pass {e} err {s} skip" for p, _, e, s in k.dbt) or "-"
        outcome = "survived" if k.survived else ("not killed" if not k.killed else "FAILED")
        night = f"{k.night}" + (" (+1 day)" if k.new_day else " (re-run)")
        recovery = (
            f"by the last run (exit {k.recovery_code})"
            if k.chained
            else f"exit {k.recovery_code}, {k.recovery_seconds:.0f} s"
        )
        lines.append(
            f"| {k.index} | {night} | {k.plan.describe()} | {at} | {k.step} | {k.seen} | "
            f"{k.bi_after_kill} | {recovery} | {dbt} | "
            f"{k.bi_after_recovery} | {k.decisions_entered}/{k.decisions_found} | {outcome} |"
        )
    by_step: dict[str, int] = {}
    for k in kills:
        by_step[k.step] = by_step.get(k.step, 0) + 1
    lines += ["", "Kills per step:", ""]
    lines += [f"- {step}: {n}" for step, n in sorted(by_step.items(), key=lambda x: -x[1])]
    lines += ["", "Decisions (CLI verbs, in order):", ""]
    for d in c.decisions:
        status = "entered" if d.entered else ("refused" if d.refused else f"FAILED ({d.output})")
        wait = f", waited {d.seconds:.1f} s with the busy message" if d.waited else ""
        lines.append(f"- {d.actor}: {d.action} {d.decision_id}, {d.when}: {status}{wait}")
    problems = [p for k in c.kills for p in k.problems] + c.problems
    lines += ["", "Problems:", ""]
    lines += [f"- {p}" for p in problems] or ["- none"]
    lines += ["", "## Other reliability suites", ""]
    if cases:
        passed = sum(x.outcome == "passed" for x in cases)
        lines += [
            f"`pytest` on {', '.join(sorted({x.suite for x in cases}))}: {passed}/{len(cases)} "
            f"passed in {suite_seconds:.0f} s.",
            "",
            "| suite | case | outcome | seconds |",
            "|---|---|---|---|",
            *[f"| {x.suite} | `{x.name}` | {x.outcome} | {x.seconds:.1f} |" for x in cases],
        ]
    else:
        lines.append("No suite ran.")
    if missing:
        lines += ["", f"Not present when this ran: {', '.join(missing)}."]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kills", type=int, default=24)
    parser.add_argument("--seed", type=int, default=None, help="default: from the clock")
    parser.add_argument("--work", type=Path, default=None, help="default: a temporary folder")
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--no-report", action="store_true")
    parser.add_argument("--no-suites", action="store_true", help="skip the other suites")
    parser.add_argument("--keep", action="store_true", help="keep the work folder")
    args = parser.parse_args(argv)
    seed = args.seed if args.seed is not None else int(time.time()) % 100_000
    work = args.work or Path(tempfile.mkdtemp(prefix="firewatch-reliability-"))
    work.mkdir(parents=True, exist_ok=True)
    print(f"seed {seed}", flush=True)
    try:
        c = campaign(work / "campaign", args.kills, seed, say=lambda m: print(m, flush=True))
        cases, missing, suite_seconds = ([], [], 0.0)
        if not args.no_suites:
            cases, missing, suite_seconds = run_suites(work)
        if not args.no_report:
            command = f"python bench/reliability.py --kills {args.kills} --seed {seed}"
            write_report(args.report, c, cases, missing, suite_seconds, command)
            print(f"wrote {args.report}")
        print(
            f"kills survived {c.survived}/{c.killed}; decisions entered {c.entered}, found "
            f"{c.kills[-1].decisions_found if c.kills else 0}; {c.seconds / 60:.1f} min"
        )
        failed = [x for x in cases if x.outcome in ("failed", "error")]
        return 0 if c.ok and not failed else 1
    finally:
        if not args.keep and args.work is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
