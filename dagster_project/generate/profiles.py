"""Size profiles of the sample data: how many days, how much traffic and which file format."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

DEFAULT_END_DATE = date(2025, 9, 28)  # fixed, a Sunday, so runs are reproducible


@dataclass(frozen=True)
class Profile:
    """How big a generated data set is; every other volume (ads, CRM, social) scales with it."""

    name: str
    days: int
    sessions_per_day: float  # mean over the window, all channels together
    web_format: str  # format of web_events; the other tables follow `fmt` or stay CSV
    burn_in_days: int = 150  # simulated before the window so CRM cohorts and visitors are warm


PROFILES: dict[str, Profile] = {
    "small": Profile("small", 182, 700.0, "csv"),
    "medium": Profile("medium", 365, 5_000.0, "parquet"),
    # ~3.7 events per session: 16,000 sessions a day for a year gives ~21-22 million events.
    "large": Profile("large", 365, 16_000.0, "parquet"),
}


def get_profile(name: str) -> Profile:
    try:
        return PROFILES[name]
    except KeyError:
        raise ValueError(f"unknown profile {name!r}; choose one of {', '.join(PROFILES)}") from None
