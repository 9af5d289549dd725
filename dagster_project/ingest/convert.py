"""One place decides what is valid, used by validation and by the load alike: the SQL that turns
a file's columns into contract values, and the shape of a row check over them."""

from __future__ import annotations

from dataclasses import dataclass

from dagster_project.ingest.contract import Column
from dagster_project.ingest.model import RN, SourceFile, TablePlan

# Regular expressions (RE2, used by DuckDB's regexp_full_match) for what the contract accepts.
# DuckDB's own casts are more lenient (e.g. '2025-9-1' as a date, '1_000' or '0x10' as numbers,
# 'infinity' or time-zone names in timestamps), so a value must match these as well.
_NUMBER_RE = r"[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?"
_INTEGER_RE = r"[+-]?\d+(\.0*)?"
_DATE_RE = r"\d{4}-\d{2}-\d{2}"
_TIMESTAMP_RE = (
    r"\d{4}-\d{2}-\d{2}([Tt ]\d{2}:\d{2}(:\d{2}([.,]\d+)?)?\s?([Zz]|[+-]\d{2}(:?\d{2})?)?)?"
)

_INTEGER_TYPES = {
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "UTINYINT",
    "USMALLINT",
    "UINTEGER",
    "UBIGINT",
    "UHUGEINT",
}
_FLOAT_TYPES = {"FLOAT", "DOUBLE"}
_TIMESTAMP_TYPES = {
    "TIMESTAMP",
    "TIMESTAMP_S",
    "TIMESTAMP_MS",
    "TIMESTAMP_NS",
    "TIMESTAMP WITH TIME ZONE",
}


@dataclass
class Conv:
    """SQL that turns one source column into a contract value.

    ``value`` (in terms of the source column) is NULL exactly when the input is empty;
    ``parsed`` (in terms of the value column) is the typed result; ``bad`` (in terms of both)
    is true for a non-empty value the contract does not accept.
    """

    value: str
    parsed: str
    bad: str | None


@dataclass
class Check:
    """A rule a row of the values relation can break (validation) or be held back by
    (quarantine)."""

    column: str
    predicate: str  # over the values relation
    shown: str  # SQL for the value to show
    message: str  # with {value}


def values_relation(plan: TablePlan, f: SourceFile) -> tuple[str, dict[str, Conv]]:
    """SELECT giving per present contract column ``v_<i>`` (raw) and ``p_<i>`` (parsed).

    Two layers (value, then parsed) so each conversion is written once and DuckDB computes
    the trimmed text once per row.
    """
    convs: dict[str, Conv] = {}
    layer1 = [RN]
    layer2 = [RN]
    for i, col in enumerate(plan.table.columns):
        if col.name not in f.refs:
            continue
        c = _conv(col, f.refs[col.name], f.types.get(col.name, "VARCHAR"))
        convs[col.name] = c
        layer1.append(f"{c.value} AS v_{i}")
        layer2.append(f"v_{i}")
        layer2.append(f"{fill(c.parsed, f'v_{i}')} AS p_{i}")
    for j, name in enumerate(plan.extras):
        if name in f.refs:
            expr = f"NULLIF(CAST({f.refs[name]} AS VARCHAR), '')"
        else:
            expr = "CAST(NULL AS VARCHAR)"
        layer1.append(f"{expr} AS x_{j}")
        layer2.append(f"x_{j}")
    sql = f"SELECT {', '.join(layer2)} FROM (SELECT {', '.join(layer1)} FROM {f.relation()})"
    return sql, convs


def fill(template: str, v: str, p: str = "") -> str:
    """Put column names into a Conv template (not str.format: regexes contain braces)."""
    return template.replace("{v}", v).replace("{p}", p)


def _conv(col: Column, ref: str, source_type: str) -> Conv:
    """How to read contract column ``col`` from source column ``ref`` of type ``source_type``."""
    base = source_type.split("(")[0].strip()
    target = col.type
    if target == "string":
        if base == "VARCHAR":
            return Conv(f"NULLIF({ref}, '')", "{v}", None)
        return Conv(f"CAST({ref} AS VARCHAR)", "{v}", None)

    if base == "VARCHAR":
        return _text_conv(target, ref)

    if target in ("integer", "number") and (
        base in _INTEGER_TYPES or base in _FLOAT_TYPES or base == "DECIMAL"
    ):
        if base in _INTEGER_TYPES:
            if target == "integer":
                return Conv(ref, "TRY_CAST({v} AS BIGINT)", "{v} IS NOT NULL AND {p} IS NULL")
            return Conv(ref, "CAST({v} AS DOUBLE)", None)
        # A NaN in a Parquet float column is how pandas spells "missing": treat as empty.
        value = f"CASE WHEN isnan(CAST({ref} AS DOUBLE)) THEN NULL ELSE CAST({ref} AS DOUBLE) END"
        if target == "integer":
            return Conv(
                value,
                "CASE WHEN isfinite({v}) AND {v} = trunc({v}) AND abs({v}) < 9.2e18 "
                "THEN CAST({v} AS BIGINT) END",
                "{v} IS NOT NULL AND {p} IS NULL",
            )
        return Conv(value, "{v}", "{v} IS NOT NULL AND NOT isfinite({v})")

    if target == "timestamp" and (base in _TIMESTAMP_TYPES or base == "DATE"):
        # TIMESTAMPTZ -> TIMESTAMP uses the session time zone, which is UTC.
        return Conv(ref, "CAST({v} AS TIMESTAMP)", None)

    if target == "date":
        if base == "DATE":
            return Conv(ref, "{v}", None)
        if base in ("TIMESTAMP", "TIMESTAMP_S", "TIMESTAMP_MS", "TIMESTAMP_NS"):
            # A timestamp at midnight is a date written by a tool without a date type.
            return Conv(
                ref,
                "CASE WHEN CAST({v} AS TIME) = TIME '00:00:00' THEN CAST({v} AS DATE) END",
                "{v} IS NOT NULL AND {p} IS NULL",
            )

    # Anything else (booleans, times, a date where a number belongs, ...) is judged by its
    # text, which then fails the contract's rules and is reported with its value.
    return _text_conv(target, f"CAST({ref} AS VARCHAR)")


def _text_conv(target: str, ref: str) -> Conv:
    value = f"NULLIF(trim({ref}), '')"
    if target == "integer":
        return Conv(
            value,
            "TRY_CAST({v} AS BIGINT)",
            # TRY_CAST rounds '1372.5' to 1373, so integrality is checked separately.
            f"{{v}} IS NOT NULL AND NOT ({{p}} IS NOT NULL "
            f"AND regexp_full_match({{v}}, '{_NUMBER_RE}') "
            f"AND (regexp_full_match({{v}}, '{_INTEGER_RE}') "
            f"OR TRY_CAST({{v}} AS DOUBLE) = trunc(TRY_CAST({{v}} AS DOUBLE))))",
        )
    if target == "number":
        return Conv(
            value,
            "TRY_CAST({v} AS DOUBLE)",
            f"{{v}} IS NOT NULL AND NOT ({{p}} IS NOT NULL AND isfinite({{p}}) "
            f"AND regexp_full_match({{v}}, '{_NUMBER_RE}'))",
        )
    if target == "date":
        return Conv(
            value,
            "TRY_CAST({v} AS DATE)",
            f"{{v}} IS NOT NULL AND ({{p}} IS NULL OR NOT regexp_full_match({{v}}, '{_DATE_RE}'))",
        )
    # timestamp: parse with an offset where given (TIMESTAMPTZ, session zone UTC for values
    # without one), then drop the zone: the result is naive UTC.
    return Conv(
        value,
        "CAST(TRY_CAST({v} AS TIMESTAMPTZ) AS TIMESTAMP)",
        f"{{v}} IS NOT NULL AND ({{p}} IS NULL OR NOT regexp_full_match({{v}}, '{_TIMESTAMP_RE}'))",
    )
