"""How a step refuses a night in Dagster: a dg.Failure whose description is the short block
`firewatch run` prints, so the UI shows those lines first instead of a wrapped traceback."""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg

from dagster_project.runtime.refusal import MAX_PROBLEM_LINES, short_block


def refused(
    head: str, problems: Iterable[str], metadata: dict[str, dg.RawMetadataValue] | None = None
) -> dg.Failure:
    """The Failure to raise (`from None`: the cause's stack adds nothing to the message). When
    the block shows only the first problem lines, all of them are in the `problems` entry."""
    text = "\n".join(problems)
    entries = dict(metadata or {})
    if len(text.splitlines()) > MAX_PROBLEM_LINES:
        entries["problems"] = dg.MetadataValue.text(text)
    return dg.Failure(description=short_block(head, [text]), metadata=entries, allow_retries=False)
