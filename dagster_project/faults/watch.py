"""A nightly run as its own process group, watched from outside and killed: its progress lines on
stderr (the load, either dbt build and its k-th model), the DuckDB file lock's holder (F_GETLK,
which takes no lock) and the BI copy's temporary file mark the phases a kill can aim at. Also
the probes a crashed state is checked with: the file lock, the run lock, the group's processes.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import signal
import struct
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from dagster_project.faults.env import ROOT

_PROGRESS = re.compile(r"^\[\s*(?P<t>[\d.]+)s\] (?P<rest>.*)$")
_FLOCK = "hhqqi4x"  # struct flock on Linux: type, whence, start, len, pid


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


def _state_and_group(stat_path: Path) -> tuple[str, int] | None:
    """(state, process group) from a /proc stat file, None if it is gone."""
    try:
        stat = stat_path.read_text()
    except OSError:
        return None
    fields_ = stat[stat.rindex(")") + 2 :].split()
    return fields_[0], int(fields_[2])


def group_alive(pgid: int) -> list[int]:
    """Pids of the process group that are still running. A process counts until every one of
    its threads has exited: after SIGKILL the leader thread of a multithreaded process (DuckDB's
    workers) shows as a zombie while another thread still tears down the shared file table, and
    the DuckDB file lock goes only with the last thread."""
    alive = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        leader = _state_and_group(entry / "stat")
        if leader is None or leader[1] != pgid:
            continue
        try:
            tasks = list((entry / "task").iterdir())
        except OSError:
            continue
        states = [_state_and_group(t / "stat") for t in tasks]
        if any(s is not None and s[0] not in ("Z", "X") for s in states):
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
            marks.setdefault("dbt", now)
            if "dbt tests passed" in rest:
                marks.setdefault("dbt-done", now)
            share = re.search(r"\b(\d+)/(\d+)\s+built\b", rest)
            if share:
                self.obs.built["dbt"] = (int(share[1]), int(share[2]))

    def poll_state(self) -> None:
        """One look from outside: the DuckDB lock's holder and the BI copy's temp file."""
        now = self.elapsed()
        holder = lock_holder(self.warehouse)
        with self._lock:
            after_dbt = "dbt-done" in self.obs.marks
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
        while group_alive(self.proc.pid) and time.monotonic() < deadline:
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
