"""A refused night in words: one short block, the same in `firewatch run`'s output and in the
Dagster UI, where it is the failed step's message (dg.Failure's description)."""

from __future__ import annotations

import re
from collections.abc import Iterable

# At most this many problem lines; the rest stay in the log (the run log beside the warehouse,
# and the failed step's `problems` entry in Dagster's).
MAX_PROBLEM_LINES = 10
# "dagster_project.ingest.problems.RawInputError: raw input rejected…": the class is noise here.
_ERROR_CLASS = re.compile(r"^[\w.]+(Error|Exception): ")

LOAD_REFUSED = "the landing folder was refused; nothing was written."
RULES_REFUSED = "the rules file was refused; nothing was written."
RAW_REFUSED = "the warehouse's raw tables were refused; nothing was written."
TOTALS_REFUSED = (
    "control totals fell against the last accepted night; alerts, the queue, notifications and "
    "the BI copy were not changed."
)
_HEADS = (LOAD_REFUSED, RULES_REFUSED, RAW_REFUSED, TOTALS_REFUSED)


def short_block(head: str, problems: Iterable[str]) -> str:
    """`head`, then every non-blank line of `problems` indented (without an error class in
    front), capped at MAX_PROBLEM_LINES with a line saying how many more the log has."""
    lines = [_ERROR_CLASS.sub("", line) for text in problems for line in str(text).splitlines()]
    lines = [line for line in lines if line.strip()]
    block = [head, *(f"  {line}" for line in lines[:MAX_PROBLEM_LINES])]
    if len(lines) > MAX_PROBLEM_LINES:
        block.append(f"  … and {len(lines) - MAX_PROBLEM_LINES} more lines in the log")
    return "\n".join(block)


def is_refusal(text: str) -> bool:
    """Whether `text` is a block a step refused its night with (short_block of a known head)."""
    return text.startswith(_HEADS)
