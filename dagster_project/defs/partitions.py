"""Which nights a run covers: daily partitions, the schedule's night, and the window dbt rebuilds.

A partition is a calendar day in the configured time zone; the run for partition D is the night
after D, "as of" D. A backfill of D1..D2 is one run as of D2 that rebuilds from D1 (minus each
source's lookback, which dbt adds). Pure functions: Dagster code reads tags and calls these.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

PARTITION_TAG = "dagster/partition"
RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
# Set on a run (UI "tags", or `firewatch run --full-refresh`) to reload every raw file and
# rebuild every incremental model from scratch.
FULL_REFRESH_TAG = "firewatch/full_refresh"
# Set on a run (UI "tags", or `firewatch run --accept-drop`) to accept control totals that fell
# against the last accepted night (defs/guard.py) and publish the night anyway.
ACCEPT_DROP_TAG = "firewatch/accept_drop"


@dataclass(frozen=True)
class RunWindow:
    """What a run rebuilds: from `first_night` (None: what dbt finds already built) as of
    `as_of` (None: the last day with data)."""

    first_night: date | None
    as_of: date | None

    def dbt_env(self) -> dict[str, str]:
        """How dbt learns the window: environment variables, which cost no re-parse."""
        return {
            "FIREWATCH_AS_OF": self.as_of.isoformat() if self.as_of else "",
            "FIREWATCH_REPROCESS_FROM": self.first_night.isoformat() if self.first_night else "",
        }


def run_window(tags: Mapping[str, str], as_of: str = "") -> RunWindow:
    """The window of a run from its tags (a partition or a backfilled range), else `as_of`."""
    if tags.get(RANGE_START_TAG) and tags.get(RANGE_END_TAG):
        start = date.fromisoformat(tags[RANGE_START_TAG])
        end = date.fromisoformat(tags[RANGE_END_TAG])
        if end < start:
            raise ValueError(f"partition range ends before it starts: {start} .. {end}")
        return RunWindow(first_night=start, as_of=end)
    if tags.get(PARTITION_TAG):
        night = date.fromisoformat(tags[PARTITION_TAG])
        return RunWindow(first_night=night, as_of=night)
    if as_of:
        night = date.fromisoformat(as_of)
        return RunWindow(first_night=night, as_of=night)
    return RunWindow(first_night=None, as_of=None)


def _is_on(tags: Mapping[str, str], tag: str) -> bool:
    return tags.get(tag, "").strip().lower() in ("1", "true", "yes")


def is_full_refresh(tags: Mapping[str, str]) -> bool:
    return _is_on(tags, FULL_REFRESH_TAG)


def accepts_drop(tags: Mapping[str, str]) -> bool:
    return _is_on(tags, ACCEPT_DROP_TAG)


def night_for(scheduled_at: datetime, timezone: str) -> date:
    """The partition a scheduled tick runs: the last complete day in the schedule's time zone."""
    local = scheduled_at.astimezone(ZoneInfo(timezone))
    return local.date() - timedelta(days=1)
