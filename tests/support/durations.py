"""Per-file test durations as a Markdown table (`pytest --durations-md PATH`, `make test` writes
docs/test_durations.md): for each test file its kind (the folder: unit, integration, e2e), how
many tests it has and how they ended, and the seconds its tests took (set-up, call and tear-down,
so a module or session fixture counts in the file whose test built it first on its worker).

Under pytest-xdist the reports of every worker reach the controller, which writes the file once;
the workers write nothing."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pytest

KINDS = ("unit", "integration", "e2e")


@dataclass
class FileTimes:
    seconds: float = 0.0
    outcomes: dict[str, str] = field(default_factory=dict)  # nodeid -> passed/failed/skipped

    def count(self, outcome: str) -> int:
        return sum(1 for o in self.outcomes.values() if o == outcome)


# Seconds assumed for a file the last table does not list yet (a new file), by kind.
NEW_FILE_SECONDS = {"unit": 5.0, "integration": 20.0, "e2e": 120.0, "other": 20.0}


def known_seconds(table: Path) -> dict[str, float]:
    """Each file's seconds from a table this module wrote (empty when there is none)."""
    seconds: dict[str, float] = {}
    if not table.exists():
        return seconds
    for line in table.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 7 and cells[0].startswith("`tests/"):
            try:
                seconds[cells[0].strip("`")] = float(cells[6])
            except ValueError:
                continue
    return seconds


def longest_first(paths: list[str], table: Path) -> list[str]:
    """The files in the order to hand them out: longest first by the last table, so that with
    `--dist loadfile --no-loadscope-reorder` no long e2e file starts last on one worker while
    the other sits idle (xdist's default hands out the files with the most tests first)."""
    seconds = known_seconds(table)
    return sorted(paths, key=lambda p: -seconds.get(p, NEW_FILE_SECONDS[kind_of(p)]))


def kind_of(path: str) -> str:
    parts = Path(path).parts
    return next((p for p in parts if p in KINDS), "other")


class DurationsReport:
    """A pytest plugin: collects every test report, writes the table at the end of the session."""

    def __init__(self, out: Path, command: str) -> None:
        self.out = out
        self.command = command
        self.files: dict[str, FileTimes] = defaultdict(FileTimes)
        self.started = time.monotonic()
        self.collect_errors: list[str] = []

    def pytest_collectreport(self, report: pytest.CollectReport) -> None:
        if report.failed:
            self.collect_errors.append(report.nodeid)

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        path = report.nodeid.split("::", 1)[0]
        times = self.files[path]
        times.seconds += report.duration
        before = times.outcomes.get(report.nodeid)
        if report.failed:  # in any phase: a failed tear-down fails a test that passed
            times.outcomes[report.nodeid] = "failed"
        elif report.skipped and before != "failed":
            times.outcomes[report.nodeid] = "skipped"
        elif report.when == "call" and before is None:
            times.outcomes[report.nodeid] = "passed"

    def pytest_sessionfinish(self, session: pytest.Session, exitstatus: int) -> None:
        if not self.files and not self.collect_errors:
            return
        self.out.parent.mkdir(parents=True, exist_ok=True)
        self.out.write_text(self.render(time.monotonic() - self.started), encoding="utf-8")

    def render(self, wall: float) -> str:
        rows = sorted(
            self.files.items(),
            key=lambda item: (
                KINDS.index(kind_of(item[0])) if kind_of(item[0]) in KINDS else len(KINDS),
                -item[1].seconds,
            ),
        )
        totals: dict[str, FileTimes] = defaultdict(FileTimes)
        for path, times in rows:
            total = totals[kind_of(path)]
            total.seconds += times.seconds
            total.outcomes.update(times.outcomes)
        every = FileTimes(sum(t.seconds for t in totals.values()))
        for total in totals.values():
            every.outcomes.update(total.outcomes)

        def counts(times: FileTimes) -> str:
            failed, skipped = times.count("failed"), times.count("skipped")
            return f"{len(times.outcomes)} | {times.count('passed')} | {failed} | {skipped}"

        lines = [
            "# Test durations",
            "",
            f"Written by `{self.command}` on {datetime.now():%Y-%m-%d %H:%M} "
            f"(tests/support/durations.py): {wall / 60:.1f} min of wall time for "
            f"{len(every.outcomes)} tests. Seconds are the sum of each test's set-up, call and "
            "tear-down, so a shared fixture (the session's `tiny` warehouse, a module's pipeline "
            "run) counts in the file whose test built it first on its worker; with two workers "
            "the wall time is about half the total.",
            "",
            "Kinds: `unit` (pure Python, no dbt build; `make test-fast`), `integration` (dbt "
            "builds, the loader into a warehouse, one piece against a real warehouse), `e2e` (the "
            "whole nightly job, `firewatch run`, the Dagster dev server, fault injection, "
            "generated scenario runs).",
            "",
            "| kind | tests | passed | failed | skipped | seconds |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        for kind in [*KINDS, "other"]:
            if kind in totals:
                lines.append(f"| {kind} | {counts(totals[kind])} | {totals[kind].seconds:.1f} |")
        lines.append(f"| all | {counts(every)} | {every.seconds:.1f} |")
        lines += [
            "",
            "| file | kind | tests | passed | failed | skipped | seconds |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for path, times in rows:
            lines.append(f"| `{path}` | {kind_of(path)} | {counts(times)} | {times.seconds:.1f} |")
        if self.collect_errors:
            lines += ["", "Not collected (an error while importing or collecting them):", ""]
            lines += [f"- `{nodeid}`" for nodeid in self.collect_errors]
        return "\n".join(lines) + "\n"
