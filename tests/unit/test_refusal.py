"""What `firewatch run` prints when a night is refused: one short block, whatever the cause."""

from __future__ import annotations

from pathlib import Path

from dagster_project.cli.run import refusal_block

LOG = Path("/w/firewatch.run.log")


def test_many_problems_stay_a_short_block_without_the_error_class() -> None:
    problems = "\n".join(f"raw/ads_daily/a.csv, line {n}, column spend: not a number" for n in
                         range(2, 42))  # fmt: skip
    head = "dagster_project.ingest.problems.RawInputError: raw input rejected, 40 problems:"
    message = f"{head}\n{problems}"
    block = refusal_block([("raw_tables", message, "stack…")], LOG, dbt_ran=False)
    lines = block.splitlines()
    assert lines[0] == "firewatch run: the landing folder was refused; nothing was written."
    assert lines[1] == "  raw input rejected, 40 problems:"
    assert lines[2] == "  raw/ads_daily/a.csv, line 2, column spend: not a number"
    # 1 headline + 10 problem lines + "… and 31 more" + where the details are
    assert len(lines) == 13 and lines[11] == "  … and 31 more lines in the log"
    assert lines[12] == f"Details: {LOG} (or run again with --verbose)."
    assert "stack" not in block and "RawInputError" not in block


def test_a_bad_rules_file_and_a_later_step_say_so() -> None:
    rules = refusal_block([("raw_tables", "RuleError: rules.yml: rule 'x', field 'id'", "")], LOG,
                          dbt_ran=False)  # fmt: skip
    assert (
        rules.splitlines()[0] == "firewatch run: the rules file was refused; nothing was written."
    )
    later = refusal_block([("alerts", "OSError: disk full", "")], LOG, dbt_ran=True)
    assert later.splitlines()[0].startswith("firewatch run: step alerts failed; alerts, the queue")
    assert "dbt's log" in later.splitlines()[-1]
