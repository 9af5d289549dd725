"""docs/reliability.md: the campaign's kills and recoveries, the decisions entered, the phase
timings, `dbt test` and the fresh build's comparison, the bad-input matrix and the other
reliability suites.

`bench/reliability.py` (`make reliability`) writes it all. Without the kill campaign (23 min),
the last two sections alone are rewritten in place:

    .venv/bin/python -m dagster_project.faults.report              # matrix and all suites
    .venv/bin/python -m dagster_project.faults.report --suites tests/integration/test_bad_input.py
    .venv/bin/python -m dagster_project.faults.report --no-suites  # the matrix only (a minute)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from dagster_project.faults.bad_input import SECTION as MATRIX
from dagster_project.faults.bad_input import Outcome, matrix_section, run_matrix
from dagster_project.faults.env import ROOT
from dagster_project.faults.results import Campaign
from dagster_project.faults.suites import SUITES as ALL_SUITES
from dagster_project.faults.suites import Case, run_suites

REPORT = ROOT / "docs" / "reliability.md"
SUITES = "## Other reliability suites"


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
    machine: str,
    matrix: Sequence[Outcome] | None = None,
) -> None:
    """Writes the report; `command` is how the campaign was started, `machine` where it ran;
    `matrix` the bad-input cases' outcomes (run here when not given: seconds)."""
    kills = [k for k in c.kills if k.killed]
    lines = [
        "# Reliability",
        "",
        f"Written by `{command}` (`make reliability`) on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC.",
        f"Machine: {machine}. Seed {c.seed} (`--seed {c.seed}` repeats the campaign).",
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
        "of the same night, which must exit 0 with its dbt build free of errors and skips,",
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
    lines += ["", *matrix_section(run_matrix() if matrix is None else matrix), ""]
    lines += suites_section(cases, missing, suite_seconds)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def suites_section(
    cases: list[Case], missing: list[str], suite_seconds: float, not_run: Sequence[str] = ()
) -> list[str]:
    lines = [SUITES, ""]
    if cases:
        passed = sum(x.outcome == "passed" for x in cases)
        lines += [
            f"`pytest` on {', '.join(sorted({x.suite for x in cases}))}: {passed}/{len(cases)} "
            f"passed in {suite_seconds:.0f} s ({datetime.now(UTC):%Y-%m-%d %H:%M} UTC).",
            "",
            "| suite | case | outcome | seconds |",
            "|---|---|---|---|",
            *[f"| {x.suite} | `{x.name}` | {x.outcome} | {x.seconds:.1f} |" for x in cases],
        ]
    else:
        lines.append("No suite ran.")
    if missing:
        lines += ["", f"Not present when this ran: {', '.join(missing)}."]
    if not_run:
        lines += [
            "",
            f"Not run this time (`make reliability` runs them): {', '.join(not_run)}.",
        ]
    return lines


def replace_section(text: str, heading: str, lines: list[str], before: str | None = None) -> str:
    """``text`` (the report) with its section ``heading`` (a ``## `` line) replaced by
    ``lines``; a report without it gets it before the section ``before``, else at the end."""
    body = "\n".join(lines).rstrip("\n") + "\n"
    start = text.find(f"\n{heading}\n")
    if start >= 0:
        end = text.find("\n## ", start + 1)
        return text[: start + 1] + body + (text[end:] if end >= 0 else "")
    at = text.find(f"\n{before}\n") if before else -1
    if at >= 0:
        return text[: at + 1] + body + "\n" + text[at + 1 :]
    return text.rstrip("\n") + "\n\n" + body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="Rewrite the bad-input and suites sections of the reliability report."
    )
    parser.add_argument("--report", type=Path, default=REPORT)
    parser.add_argument("--no-suites", action="store_true", help="the bad-input matrix only")
    parser.add_argument(
        "--suites", nargs="+", default=list(ALL_SUITES), help="default: all of faults/suites.py"
    )
    args = parser.parse_args(argv)
    outcomes = run_matrix()
    for o in outcomes:
        wrong = f"  NOT AS STATED: {'; '.join(o.mismatches)}" if o.mismatches else ""
        print(f"{o.case.id}: {o.kind}{wrong}", flush=True)
    text = args.report.read_text(encoding="utf-8") if args.report.exists() else "# Reliability\n"
    text = replace_section(text, MATRIX, matrix_section(outcomes), SUITES)
    failed = [o for o in outcomes if o.mismatches]
    if not args.no_suites:
        with tempfile.TemporaryDirectory(prefix="firewatch-suites-") as work:
            cases, missing, seconds = run_suites(Path(work), args.suites)
        not_run = [x for x in ALL_SUITES if x not in args.suites]
        text = replace_section(text, SUITES, suites_section(cases, missing, seconds, not_run))
        failed += [x for x in cases if x.outcome in ("failed", "error")]
    args.report.write_text(text, encoding="utf-8")
    print(f"wrote {args.report}; {len(failed)} not as stated or failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
