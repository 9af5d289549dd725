"""What is wrong with the raw input, and how it is worded: the loader's one error type, its
problems (file, line, column, message) and the shortening of values and DuckDB errors in them."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["InputProblem", "RawInputError"]

# At most this many problems are listed per file and column; the rest are summed up in one line.
MAX_PROBLEMS_PER_COLUMN = 20
# Offending values are shown in messages, cut to this many characters.
MAX_VALUE_CHARS = 60


@dataclass(frozen=True)
class InputProblem:
    """One thing wrong with the raw input.

    ``line`` is the physical line in a CSV file (header = 1) or the 1-based row in a Parquet
    file; ``None`` when the problem concerns the whole file or folder.
    """

    path: str
    line: int | None
    column: str | None
    message: str

    def __str__(self) -> str:
        parts = [self.path]
        if self.line is not None:
            word = "row" if self.path.lower().endswith(".parquet") else "line"
            parts.append(f"{word} {self.line}")
        if self.column:
            parts.append(f"column {self.column}")
        return ", ".join(parts) + ": " + self.message


class RawInputError(ValueError):
    """The landing folder breaks the contract; ``problems`` lists every problem found."""

    def __init__(self, problems: list[InputProblem]) -> None:
        self.problems = list(problems)
        super().__init__(self.problems)

    def __str__(self) -> str:
        n = len(self.problems)
        head = f"raw input rejected, {n} problem{'s' if n != 1 else ''}:"
        return "\n".join([head, *(str(p) for p in self.problems)])


def show_value(value: object) -> str:
    """An offending value as a message shows it: quoted if text, cut to MAX_VALUE_CHARS."""
    if value is None:
        return "(empty)"
    text = repr(value) if isinstance(value, str) else str(value)
    if len(text) > MAX_VALUE_CHARS:
        text = text[: MAX_VALUE_CHARS - 3] + "..."
    return text


def first_line(exc: BaseException) -> str:
    """A DuckDB error in one line (its first three non-blank lines, each cut to 200 characters:
    DuckDB quotes the offending line, which may be megabytes): messages are one line each."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    cut = [ln if len(ln) <= 200 else ln[:197] + "..." for ln in lines[:3]]
    return " ".join(cut) if cut else type(exc).__name__
