"""The raw-input contract (docs/contract.md section 1) as data: tables, keys, columns, types.

The loader validates against it, the generator writes it, and the dbt sources mirror it, so a
column is declared here once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from typing import Literal

from dagster_project.settings import DBT_PROJECT_DIR

ColumnType = Literal["string", "integer", "number", "date", "timestamp"]

# Columns the loader adds to every raw table, so staging can keep "the later file wins".
META_COLUMNS: dict[str, str] = {
    "_source_file": "varchar",  # file name relative to the table's folder
    "_file_index": "integer",  # position of the file in name order (0 = first)
    "_row_number": "bigint",  # 1-based data row within the file (header not counted)
    "_loaded_at": "timestamp",  # when the loader wrote the row (UTC)
}

DUCKDB_TYPES: dict[ColumnType, str] = {
    "string": "varchar",
    "integer": "bigint",
    "number": "double",
    "date": "date",
    "timestamp": "timestamp",
}


# Past this a count or an amount is a unit or export mistake (a spend of 10^15 in any currency),
# not marketing: the row is quarantined (kept aside, with file and line) rather than summed.
ABSURD_VALUE = 1e12
# A date this many days after the load's UTC day is "in the future": time zones run ahead of UTC
# by at most 14 hours, so a day of slack never quarantines a real event.
FUTURE_SLACK_DAYS = 1


@dataclass(frozen=True)
class Column:
    name: str
    type: ColumnType
    required: bool
    non_negative: bool = False
    # When something happened: a value after the load's day (plus slack) is quarantined, and so
    # is one before the earliest plausible date (FIREWATCH_EARLIEST_DATE): see not_too_old.
    not_future: bool = False
    # A value before the earliest plausible date (an export's 1970-01-01) is quarantined.
    not_too_old: bool = False
    # Why a 0 cannot be believed; when set, a value of 0 is quarantined with this reason.
    positive: str = ""
    # A date that must be the first day of a month; any other day is refused.
    month_start: bool = False
    # The value must be a metric id of the dbt catalog (compared trimmed and lower-case, as
    # dbt's staging compares it); any other is refused.
    metric_id: bool = False
    # The only values allowed (compared trimmed and lower-case); others are quarantined.
    allowed: tuple[str, ...] = ()
    # A table whose one-column key this value must name (as written, like dbt's joins): a row
    # naming a key the warehouse will not hold after this load is quarantined (references.py).
    references: str = ""
    # (column, value, why): this column must not be empty when that column (trimmed,
    # lower-case) holds that value; a row where it is empty is quarantined, saying why.
    required_if: tuple[str, str, str] = ()


@dataclass(frozen=True)
class RawTable:
    name: str
    key: tuple[str, ...]
    columns: tuple[Column, ...]
    needed_for_run: bool
    # (later, earlier): a row where `later` is before `earlier` is quarantined.
    ordered: tuple[tuple[str, str], ...] = ()

    @property
    def required_columns(self) -> list[str]:
        return [c.name for c in self.columns if c.required]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(name)


def _req(name: str, type_: ColumnType, non_negative: bool = False, **rules: object) -> Column:
    return Column(name, type_, True, non_negative, **_with_past(rules))  # type: ignore[arg-type]


def _opt(name: str, type_: ColumnType, non_negative: bool = False, **rules: object) -> Column:
    return Column(name, type_, False, non_negative, **_with_past(rules))  # type: ignore[arg-type]


def _with_past(rules: dict[str, object]) -> dict[str, object]:
    # Whatever cannot be in the future cannot be before the earliest plausible date either.
    if rules.get("not_future"):
        rules.setdefault("not_too_old", True)
    return rules


_METRIC_ID_RE = re.compile(r"""['"]id['"]\s*:\s*['"]([a-z][a-z0-9_]*)['"]""")


@cache
def metric_ids() -> frozenset[str]:
    """The metric ids of dbt's catalog (``dbt_project/macros/metric_definitions.sql``), which a
    targets row must name.

    The catalog is a Jinja macro returning a list of dicts; rendering it would need dbt (seconds
    of start-up, a parsed project) for what is a list of names. So the ``'id': '...'`` entries
    are picked out with a regular expression: the macro writes every metric as one literal dict
    beginning with its id, and tests/integration/test_loader.py checks that all of them are
    found.
    """
    text = (DBT_PROJECT_DIR / "macros" / "metric_definitions.sql").read_text(encoding="utf-8")
    return frozenset(_METRIC_ID_RE.findall(text))


TABLES: dict[str, RawTable] = {
    t.name: t
    for t in (
        RawTable(
            "ads_daily",
            ("date", "platform", "account_id", "campaign_id"),
            (
                _req("date", "date", not_future=True),
                _req("platform", "string"),
                _req("account_id", "string"),
                _req("campaign_id", "string"),
                _req("campaign_name", "string"),
                _req("impressions", "integer", True),
                _req("clicks", "integer", True),
                _req("spend", "number", True),
                _req("currency", "string"),
                _opt("reactions", "integer", True),
                _opt("comments", "integer", True),
                _opt("shares", "integer", True),
                _opt("video_views", "integer", True),
                _opt("platform_conversions", "number", True),
                _opt("platform_conversion_value", "number", True),
                _opt("utm_campaign", "string"),
                _opt("account_timezone", "string"),
            ),
            True,
        ),
        RawTable(
            "web_events",
            # event_id when present, else (user_pseudo_id, session_id, event_timestamp, event_name)
            ("event_id",),
            (
                _req("event_timestamp", "timestamp", not_future=True),
                _req("event_name", "string"),
                _req("user_pseudo_id", "string"),
                _req("session_id", "string"),
                _req("page_location", "string"),
                _opt("event_id", "string"),
                _opt("session_number", "integer", True),
                _opt("engagement_time_msec", "integer", True),
                _opt("source", "string"),
                _opt("medium", "string"),
                _opt("campaign", "string"),
                _opt("gclid", "string"),
                _opt("page_load_ms", "number", True),
                _opt("contact_id", "string"),
            ),
            True,
        ),
        RawTable(
            "crm_contacts",
            ("contact_id",),
            (
                _req("contact_id", "string"),
                _req("created_at", "timestamp", not_future=True),
                _opt("first_touch_source", "string"),
                _opt("first_touch_medium", "string"),
                _opt("first_touch_campaign", "string"),
                _opt("last_touch_source", "string"),
                _opt("last_touch_medium", "string"),
                _opt("last_touch_campaign", "string"),
                _opt("gclid", "string"),
                _opt("fbclid", "string"),
                _opt("lead_source", "string"),
                _opt("owner_id", "string"),
                _opt("email_hash", "string"),
            ),
            True,
        ),
        RawTable(
            "crm_lifecycle_events",
            ("contact_id", "stage", "entered_at"),
            (
                _req("contact_id", "string", references="crm_contacts"),
                _req("stage", "string"),
                _req("entered_at", "timestamp", not_future=True),
                _opt("source", "string"),
            ),
            True,
        ),
        RawTable(
            "crm_deals",
            ("deal_id",),
            (
                _req("deal_id", "string"),
                _req("contact_id", "string", references="crm_contacts"),
                _req("created_at", "timestamp", not_future=True),
                _req("status", "string", allowed=("open", "won", "lost")),
                _req("amount", "number", True),
                _req("currency", "string"),
                _opt(
                    "closed_at",
                    "timestamp",
                    not_future=True,
                    required_if=(
                        "status",
                        "won",
                        "a won deal without closed_at has no day, so its revenue would count "
                        "nowhere",
                    ),
                ),
                _opt("pipeline", "string"),
                _opt("lost_reason", "string"),
            ),
            True,
            ordered=(("closed_at", "created_at"),),
        ),
        RawTable(
            "crm_activities",
            ("activity_id",),
            (
                _req("activity_id", "string"),
                _req("contact_id", "string"),
                _req("activity_type", "string"),
                _req("direction", "string"),
                _req("occurred_at", "timestamp", not_future=True),
                _opt("response_minutes", "number", True),
            ),
            False,
        ),
        RawTable(
            "social_posts",
            ("platform", "post_id", "snapshot_date"),
            (
                _req("platform", "string"),
                _req("post_id", "string"),
                _req("published_at", "timestamp", not_future=True),
                _req("snapshot_date", "date", not_future=True),
                _req("impressions", "integer", True),
                _req("reactions", "integer", True),
                _req("comments", "integer", True),
                _req("shares", "integer", True),
                _opt("replies", "integer", True),
            ),
            False,
        ),
        RawTable(
            "targets",
            ("period_start", "metric", "channel"),
            (
                _req("period_start", "date", month_start=True),
                _req("metric", "string", metric_id=True),
                _req("value", "number", True),
                _opt("channel", "string"),
                _opt("currency", "string"),
            ),
            False,
        ),
        RawTable(
            "fx_rates",
            ("date", "currency"),
            (
                _req("date", "date"),
                _req("currency", "string"),
                _req(
                    "rate_to_reporting",
                    "number",
                    True,
                    positive="a rate of 0 would turn money into nothing",
                ),
            ),
            False,
        ),
    )
}
