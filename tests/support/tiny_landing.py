"""A hand-built landing folder whose every number was worked out by hand (see the test module
test_pipeline_tiny.py for the arithmetic)."""

from __future__ import annotations

from pathlib import Path

from tests.support.landing import write_csv


def write_tiny_landing(raw: Path) -> None:
    ads = dict(
        account_id="a1",
        campaign_id="g1",
        campaign_name="Generic",
        currency="USD",
        platform="google_ads",
        utm_campaign="gs_generic",
    )
    write_csv(
        raw,
        "ads_daily",
        "2025-03-05_export.csv",
        [
            dict(ads, date="2025-03-03", impressions=1000, clicks=100, spend=200),
            dict(ads, date="2025-03-04", impressions=1000, clicks=80, spend=160),
            dict(
                date="2025-03-03",
                platform="linkedin_ads",
                account_id="a2",
                campaign_id="l1",
                campaign_name="ABM",
                impressions=500,
                clicks=20,
                spend=100,
                currency="EUR",
                utm_campaign="li_abm",
                reactions=10,
                comments=2,
                shares=3,
            ),
        ],
    )
    write_csv(
        raw,
        "ads_daily",
        "2025-03-06_restated.csv",
        [
            dict(ads, date="2025-03-04", impressions=1200, clicks=90, spend=180),
        ],
    )
    write_csv(
        raw,
        "fx_rates",
        "rates.csv",
        [
            dict(date="2025-03-01", currency="EUR", rate_to_reporting=1.10),
            dict(date="2025-03-15", currency="EUR", rate_to_reporting=1.20),
        ],
    )

    def event(eid, ts, name, user, session, number, **extra):
        return dict(
            event_id=eid,
            event_timestamp=ts,
            event_name=name,
            user_pseudo_id=user,
            session_id=session,
            session_number=number,
            page_location="https://x.test/",
            **extra,
        )

    paid = dict(source="google", medium="cpc", campaign="gs_generic")
    li = dict(source="linkedin", medium="paid_social", campaign="li_abm")
    write_csv(
        raw,
        "web_events",
        "events.csv",
        [
            event("e1", "2025-03-03T09:00:00Z", "session_start", "u1", "s1", 1, **paid),
            event(
                "e2", "2025-03-03T09:00:01Z", "page_view", "u1", "s1", 1, page_load_ms=1000, **paid
            ),
            event(
                "e3",
                "2025-03-03T09:02:00Z",
                "generate_lead",
                "u1",
                "s1",
                1,
                contact_id="c1",
                **paid,
            ),
            event("e4", "2025-03-03T11:00:00Z", "session_start", "u2", "s1", 1, **paid),
            event(
                "e5", "2025-03-03T11:00:01Z", "page_view", "u2", "s1", 1, page_load_ms=3000, **paid
            ),
            event(
                "e6",
                "2025-03-05T08:00:00Z",
                "session_start",
                "u1",
                "s2",
                2,
                source="(direct)",
                medium="(none)",
            ),
            event(
                "e7",
                "2025-03-05T08:00:01Z",
                "page_view",
                "u1",
                "s2",
                2,
                page_load_ms=2000,
                source="(direct)",
                medium="(none)",
            ),
            event(
                "e8",
                "2025-03-05T08:01:00Z",
                "page_view",
                "u1",
                "s2",
                2,
                page_load_ms=4000,
                source="(direct)",
                medium="(none)",
            ),
            event("e9", "2025-03-04T10:00:00Z", "session_start", "u3", "s9", 1, **li),
            event(
                "e10",
                "2025-03-04T10:00:30Z",
                "user_engagement",
                "u3",
                "s9",
                1,
                engagement_time_msec=15000,
                **li,
            ),
            event(
                "e11", "2025-03-04T10:01:00Z", "generate_lead", "u3", "s9", 1, contact_id="c2", **li
            ),
        ],
    )
    write_csv(
        raw,
        "crm_contacts",
        "contacts.csv",
        [
            dict(contact_id="c1", created_at="2025-03-03T09:02:00Z", lead_source="web"),
            dict(contact_id="c2", created_at="2025-03-04T10:01:00Z", lead_source="web"),
            dict(contact_id="c3", created_at="2025-03-05T15:00:00Z", lead_source="partner"),
        ],
    )
    write_csv(
        raw,
        "crm_lifecycle_events",
        "stages.csv",
        [
            dict(contact_id="c1", stage="lead", entered_at="2025-03-03T09:02:00Z"),
            dict(contact_id="c1", stage="sql", entered_at="2025-03-10T12:00:00Z"),
            dict(contact_id="c1", stage="customer", entered_at="2025-03-20T12:00:00Z"),
            dict(contact_id="c2", stage="lead", entered_at="2025-03-04T10:01:00Z"),
            dict(contact_id="c2", stage="sql", entered_at="2025-04-20T12:00:00Z"),
            dict(contact_id="c3", stage="lead", entered_at="2025-03-05T15:00:00Z"),
        ],
    )
    write_csv(
        raw,
        "crm_deals",
        "deals.csv",
        [
            dict(
                deal_id="d1",
                contact_id="c1",
                created_at="2025-03-12T10:00:00Z",
                status="won",
                amount=1000,
                currency="EUR",
                closed_at="2025-03-20T12:00:00Z",
            ),
            dict(
                deal_id="d2",
                contact_id="c2",
                created_at="2025-04-21T10:00:00Z",
                status="open",
                amount=500,
                currency="USD",
            ),
        ],
    )
    write_csv(
        raw,
        "targets",
        "targets.csv",
        [
            dict(
                period_start="2025-03-01", metric="revenue", value=1500, currency="USD", channel=""
            ),
            dict(period_start="2025-03-01", metric="leads", value=2, channel=""),
        ],
    )
