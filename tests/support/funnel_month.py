"""One month of a hand-countable funnel for a landing folder: leads, SQLs, won deals, inbound mail
and organic posts, each on a fixed day of the month, so a test can work the marts out by hand."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta

# The tables crm_month adds rows to.
CRM_TABLES = (
    "crm_contacts",
    "crm_lifecycle_events",
    "crm_deals",
    "crm_activities",
    "social_posts",
)


def crm_month(
    rows: dict[str, list[dict]],
    prefix: str,
    start: date,
    *,
    leads: int,
    sql: int,
    customers: int,
    deal_size: float,
    response_minutes: float,
    post_days: Iterable[int],
) -> None:
    """`leads` leads created on the month's first five days (web); the first `sql` of them SQL
    on day 10, the first `customers` won deals of `deal_size` USD closed on day 20; the first
    four wrote in by e-mail on days 2-5, answered in `response_minutes`; one LinkedIn post on
    each of `post_days` (days of the month, 1 = the first)."""
    for n in range(leads):
        contact = f"{prefix}c{n:02d}"
        created = f"{start + timedelta(days=n % 5)}T10:00:00Z"
        rows["crm_contacts"].append(dict(contact_id=contact, created_at=created, lead_source="web"))
        rows["crm_lifecycle_events"].append(
            dict(contact_id=contact, stage="lead", entered_at=created)
        )
        if n < sql:
            rows["crm_lifecycle_events"].append(
                dict(
                    contact_id=contact, stage="sql", entered_at=f"{start + timedelta(9)}T12:00:00Z"
                )
            )
        if n < customers:
            rows["crm_deals"].append(
                dict(
                    deal_id=f"{prefix}d{n}",
                    contact_id=contact,
                    created_at=f"{start + timedelta(10)}T10:00:00Z",
                    status="won",
                    amount=deal_size,
                    currency="USD",
                    closed_at=f"{start + timedelta(19)}T12:00:00Z",
                )
            )
        if n < 4:
            rows["crm_activities"].append(
                dict(
                    activity_id=f"{prefix}a{n}",
                    contact_id=contact,
                    activity_type="email",
                    direction="inbound",
                    occurred_at=f"{start + timedelta(n + 1)}T08:00:00Z",
                    response_minutes=response_minutes,
                )
            )
    for n, day in enumerate(post_days):
        published = start + timedelta(days=day - 1)
        rows["social_posts"].append(
            dict(
                platform="linkedin",
                post_id=f"{prefix}p{n}",
                published_at=f"{published}T07:00:00Z",
                snapshot_date=str(published),
                impressions=100,
                reactions=5,
                comments=1,
                shares=0,
            )
        )
