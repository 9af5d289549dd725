"""Progress reporting for a run: the CLI prints it, inside the Dagster UI it goes to the run log."""

from __future__ import annotations

import sys
import time
from typing import Protocol, TextIO


class Progress(Protocol):
    def report(self, stage: str, done: int, total: int, detail: str = "") -> None: ...


class LogProgress:
    """Default inside Dagster: the step's own log already shows in the UI, so nothing extra."""

    def report(self, stage: str, done: int, total: int, detail: str = "") -> None:
        return None


class ConsoleProgress:
    """One line per step on stderr with the elapsed time, for `firewatch run`."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self._stream = stream or sys.stderr
        self._started = time.monotonic()

    def report(self, stage: str, done: int, total: int, detail: str = "") -> None:
        elapsed = time.monotonic() - self._started
        share = f"{done}/{total}" if total else str(done)
        self._stream.write(f"[{elapsed:6.1f}s] {stage:<8} {share:>9}  {detail}\n")
        self._stream.flush()
