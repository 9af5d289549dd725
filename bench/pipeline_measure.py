"""Measuring one process tree: wall seconds, peak RSS (the sum over the process and its children,
polled), and when each of `firewatch run`'s progress stages ended, from its stderr lines timed
on arrival."""

from __future__ import annotations

import contextlib
import re
import subprocess
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POLL_SECONDS = 0.05
GB = 1e9  # peak RSS is reported in GB of 10^9 bytes, as the targets are written


@dataclass
class Measurement:
    """One process (tree): wall seconds, peak RSS, and when each progress stage ended."""

    label: str
    seconds: float
    peak_rss: int  # bytes, the largest sum over the process and its children at one poll
    log: Path
    # (stage, first line at, last line at) in seconds from process start, in order
    stages: list[tuple[str, float, float]] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def rss_gb(self) -> float:
        return self.peak_rss / GB


# ConsoleProgress: "[  12.3s] dbt events      5/16  built ..." (a stage name may hold spaces)
_STAGE_LINE = re.compile(r"^\[\s*[\d.]+s\] (.+?)\s+\d+(?:/\d+)?  ")


def _tree_rss(root: Any) -> int:
    import psutil

    total = 0
    try:
        processes = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0
    for process in processes:
        # a child may exit between listing and reading
        with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
            total += process.memory_info().rss
    return total


def _stop_tree(root: Any) -> None:
    import psutil

    with contextlib.suppress(psutil.NoSuchProcess):
        processes = [*root.children(recursive=True), root]
        for process in processes:
            with contextlib.suppress(psutil.NoSuchProcess):
                process.terminate()
        psutil.wait_procs(processes, timeout=10)


def measure(label: str, command: Sequence[str], env: dict[str, str], log: Path) -> Measurement:
    """Runs a command, polling the RSS of its process tree; stderr lines are time-stamped on
    arrival so the progress stages of `firewatch run` can be timed from process start."""
    import psutil

    log.parent.mkdir(parents=True, exist_ok=True)
    stages: list[tuple[str, float, float]] = []
    with log.open("w", encoding="utf-8") as out:
        started = time.monotonic()
        process = subprocess.Popen(
            list(command), env=env, cwd=ROOT, stdout=out, stderr=subprocess.PIPE, text=True
        )
        root = psutil.Process(process.pid)

        def read_stderr() -> None:
            assert process.stderr is not None
            for line in process.stderr:
                at = time.monotonic() - started
                out.write(line)
                match = _STAGE_LINE.match(line)
                if match:
                    if stages and stages[-1][0] == match.group(1):
                        stages[-1] = (stages[-1][0], stages[-1][1], at)
                    else:
                        stages.append((match.group(1), at, at))

        reader = threading.Thread(target=read_stderr, daemon=True)
        reader.start()
        peak = 0
        try:
            while process.poll() is None:
                peak = max(peak, _tree_rss(root))
                time.sleep(POLL_SECONDS)
        except BaseException:
            _stop_tree(root)  # interrupted: leave no orphaned run or dbt process behind
            raise
        seconds = time.monotonic() - started
        reader.join()
    if process.returncode != 0:
        tail = "".join(log.read_text(encoding="utf-8").splitlines(keepends=True)[-30:])
        raise SystemExit(f"{label} failed ({' '.join(command)}); log {log}:\n{tail}")
    return Measurement(label, seconds, peak, log, stages)
