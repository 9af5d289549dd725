"""Queue verbs entered through the CLI (`firewatch acknowledge|snooze|decide|dismiss`) as their
own processes, as people would while runs crash and recover: which item and verb a person
picks, and what the CLI said (entered, refused by the queue, waited for a run)."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dagster_project.faults.env import ROOT


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
