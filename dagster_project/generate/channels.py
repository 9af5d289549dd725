"""The simulated company's marketing set-up: channels, ad accounts, campaigns, traffic sources
and site pages, with the rates that make each channel behave differently."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

CHANNELS: tuple[str, ...] = (
    "paid_search",
    "paid_social",
    "linkedin",
    "email",
    "organic_search",
    "organic_social",
    "referral",
    "direct",
)
CHANNEL_INDEX: dict[str, int] = {c: i for i, c in enumerate(CHANNELS)}

# Which ads platform pays for a channel's clicks (the other channels are free traffic).
PLATFORM_OF_CHANNEL: dict[str, str] = {
    "paid_search": "google_ads",
    "paid_social": "meta_ads",
    "linkedin": "linkedin_ads",
    "email": "email",
}
# Platforms that report reactions/comments/shares (paid social engagement).
SOCIAL_PLATFORMS: frozenset[str] = frozenset({"meta_ads", "linkedin_ads"})


@dataclass(frozen=True)
class ChannelRates:
    """Behaviour of one channel's visitors and leads.

    share: share of all sessions; returning: share of sessions from a known visitor; engaged:
    GA4 engaged-session probability for a new visitor; lead_rate: generate_lead per session;
    sql_rate: share of its leads that ever reach SQL; win_rate: share of its deals won.
    """

    share: float
    returning: float
    engaged: float
    lead_rate: float
    sql_rate: float
    win_rate: float


# Tuned so the totals land where B2B benchmarks are: ~30% returning sessions, ~60% engaged,
# ~2% of sessions become leads, ~35% of leads reach SQL; linkedin/paid_search leads are better
# than paid_social leads, which is what the quality alerts need to see.
RATES: dict[str, ChannelRates] = {
    "paid_search": ChannelRates(0.18, 0.22, 0.62, 0.030, 0.42, 0.34),
    "paid_social": ChannelRates(0.14, 0.12, 0.45, 0.018, 0.20, 0.25),
    "linkedin": ChannelRates(0.06, 0.15, 0.55, 0.035, 0.46, 0.38),
    "email": ChannelRates(0.05, 0.65, 0.70, 0.025, 0.35, 0.33),
    "organic_search": ChannelRates(0.27, 0.28, 0.63, 0.020, 0.38, 0.33),
    "organic_social": ChannelRates(0.05, 0.30, 0.50, 0.010, 0.25, 0.28),
    "referral": ChannelRates(0.05, 0.25, 0.60, 0.020, 0.38, 0.35),
    "direct": ChannelRates(0.20, 0.55, 0.68, 0.022, 0.40, 0.36),
}
# Contacts that never touched the site (trade shows, partners, SDR outbound).
OFFLINE_SOURCES: dict[str, tuple[float, float, float, str]] = {
    # lead_source: (share of offline contacts, sql_rate, win_rate, campaign)
    "event": (0.45, 0.40, 0.35, "trade_show_2025"),
    "partner": (0.30, 0.48, 0.40, "partner_referrals"),
    "outbound": (0.25, 0.18, 0.25, "sdr_outbound"),
}
OFFLINE_SHARE = 0.15  # of all contacts


@dataclass(frozen=True)
class Account:
    platform: str
    account_id: str
    currency: str
    timezone: str


ACCOUNTS: dict[str, Account] = {
    "google_ads": Account("google_ads", "123-456-7890", "USD", "America/New_York"),
    "meta_ads": Account("meta_ads", "act_1029384756", "USD", "America/Los_Angeles"),
    "linkedin_ads": Account("linkedin_ads", "508934217", "EUR", "Europe/Berlin"),
    "email": Account("email", "mailchimp_main", "USD", "UTC"),
}


@dataclass(frozen=True)
class Campaign:
    """One ads campaign; `utm_campaign` is what its sessions carry as GA4 campaign."""

    channel: str
    campaign_id: str
    name: str
    utm_campaign: str
    share: float  # of the channel's clicks
    ctr: float  # clicks per impression (email: per delivered e-mail)
    cpc: float  # in the account's currency (email: cost per delivered e-mail)
    reactions: float = 0.0  # per impression
    comments: float = 0.0
    shares: float = 0.0
    video: float = 0.0
    sources: tuple[tuple[str, float], ...] = ()

    @property
    def platform(self) -> str:
        return PLATFORM_OF_CHANNEL[self.channel]


_META = (("facebook", 0.7), ("instagram", 0.3))
CAMPAIGNS: tuple[Campaign, ...] = (
    Campaign(
        "paid_search",
        "2071384501",
        "Search | Brand",
        "gs_brand",
        0.35,
        0.08,
        1.2,
        sources=(("google", 1.0),),
    ),
    Campaign(
        "paid_search",
        "2071384502",
        "Search | Generic | Analytics",
        "gs_generic_analytics",
        0.45,
        0.035,
        4.5,
        sources=(("google", 1.0),),
    ),
    Campaign(
        "paid_search",
        "2071384503",
        "Search | Competitors",
        "gs_competitor",
        0.20,
        0.025,
        6.0,
        sources=(("google", 1.0),),
    ),
    Campaign(
        "paid_social",
        "23851200417",
        "Meta | Prospecting | Lookalike",
        "meta_prospecting_lal",
        0.6,
        0.011,
        1.1,
        0.0040,
        0.0006,
        0.0004,
        0.08,
        _META,
    ),
    Campaign(
        "paid_social",
        "23851200418",
        "Meta | Retargeting | Site visitors",
        "meta_retargeting",
        0.4,
        0.009,
        0.8,
        0.0030,
        0.0004,
        0.0002,
        0.06,
        _META,
    ),
    Campaign(
        "linkedin",
        "612004471",
        "LI | ABM | Enterprise",
        "li_abm_enterprise",
        0.55,
        0.006,
        7.5,
        0.0050,
        0.0008,
        0.0005,
        0.03,
        (("linkedin", 1.0),),
    ),
    Campaign(
        "linkedin",
        "612004472",
        "LI | Thought leadership",
        "li_thought_leadership",
        0.45,
        0.0045,
        6.0,
        0.0060,
        0.0010,
        0.0007,
        0.03,
        (("linkedin", 1.0),),
    ),
    Campaign(
        "email",
        "nl-weekly",
        "Newsletter | Weekly",
        "nl_weekly",
        0.8,
        0.025,
        0.0009,
        sources=(("newsletter", 1.0),),
    ),
    Campaign(
        "email",
        "nl-product",
        "Newsletter | Product updates",
        "nl_product_updates",
        0.2,
        0.03,
        0.0009,
        sources=(("newsletter", 1.0),),
    ),
)
# Share of a paid click that GA4 records as a session (consent, bounces before the tag fires).
SESSION_PER_CLICK: dict[str, float] = {
    "paid_search": 0.82,
    "paid_social": 0.75,
    "linkedin": 0.80,
    "email": 0.88,
}
PAID_MEDIUM: dict[str, str] = {
    "paid_search": "cpc",
    "paid_social": "paid_social",
    "linkedin": "paid_social",
    "email": "email",
}


@dataclass(frozen=True)
class TrafficSource:
    """A GA4 (source, medium, campaign) triple, as carried by every event of a session."""

    channel: str
    source: str
    medium: str
    campaign: str
    campaign_index: int  # into CAMPAIGNS, -1 for unpaid traffic
    weight: float  # share within its campaign (paid) or channel (unpaid)


def _traffic_sources() -> tuple[TrafficSource, ...]:
    out: list[TrafficSource] = []
    for i, c in enumerate(CAMPAIGNS):
        for source, w in c.sources:
            out.append(
                TrafficSource(c.channel, source, PAID_MEDIUM[c.channel], c.utm_campaign, i, w)
            )
    unpaid = {
        "organic_search": (
            ("google", "organic", "(organic)", 0.86),
            ("bing", "organic", "(organic)", 0.14),
        ),
        "organic_social": (
            ("linkedin", "social", "(referral)", 0.6),
            ("facebook", "social", "(referral)", 0.4),
        ),
        "referral": (
            ("g2.com", "referral", "(referral)", 0.35),
            ("capterra.com", "referral", "(referral)", 0.2),
            ("news.ycombinator.com", "referral", "(referral)", 0.15),
            ("medium.com", "referral", "(referral)", 0.15),
            ("partner-blog.io", "referral", "(referral)", 0.15),
        ),
        "direct": (("(direct)", "(none)", "(direct)", 1.0),),
    }
    for channel, rows in unpaid.items():
        for source, medium, campaign, w in rows:
            out.append(TrafficSource(channel, source, medium, campaign, -1, w))
    return tuple(out)


TRAFFIC_SOURCES: tuple[TrafficSource, ...] = _traffic_sources()
TS_CHANNEL = np.array([CHANNEL_INDEX[t.channel] for t in TRAFFIC_SOURCES], dtype=np.int8)
TS_CAMPAIGN = np.array([t.campaign_index for t in TRAFFIC_SOURCES], dtype=np.int16)

SITE = "https://www.firewatch-demo.com"
PAGES: tuple[str, ...] = (
    "/",
    "/pricing",
    "/product",
    "/product/alerts",
    "/product/integrations",
    "/customers",
    "/about",
    "/blog",
    "/blog/kpi-rituals",
    "/blog/smoke-is-not-fire",
    "/blog/lead-quality",
    "/blog/cac-guide",
    "/docs",
    "/docs/getting-started",
    "/lp/demo-offer",
    "/lp/enterprise",
    "/webinar/2025-q3",
    "/demo",
    "/contact",
    "/careers",
    "/demo/thank-you",
    "/checkout/complete",
)
PAGE_INDEX: dict[str, int] = {p: i for i, p in enumerate(PAGES)}
LEAD_PAGE = PAGE_INDEX["/demo/thank-you"]
PURCHASE_PAGE = PAGE_INDEX["/checkout/complete"]
BLOG_PAGES = np.array([PAGE_INDEX[p] for p in PAGES if p.startswith("/blog/")], dtype=np.int16)
# Pages a visitor browses to after landing (not the thank-you and checkout pages).
BROWSE_PAGES = np.arange(PAGE_INDEX["/careers"] + 1, dtype=np.int16)
BROWSE_WEIGHTS = np.array(
    [10, 8, 8, 4, 4, 3, 2, 4, 2, 2, 2, 2, 3, 3, 1, 1, 1, 5, 2, 1], dtype=float
)
BROWSE_WEIGHTS /= BROWSE_WEIGHTS.sum()

# Landing pages by channel: paid traffic lands on offer pages, search on content.
_LANDING: dict[str, dict[str, float]] = {
    "paid_search": {"/": 3, "/pricing": 2, "/product": 3, "/lp/demo-offer": 2},
    "paid_social": {"/lp/demo-offer": 4, "/blog/smoke-is-not-fire": 3, "/webinar/2025-q3": 2},
    "linkedin": {"/lp/enterprise": 5, "/webinar/2025-q3": 2, "/blog/kpi-rituals": 2},
    "email": {
        "/blog/kpi-rituals": 2,
        "/blog/lead-quality": 2,
        "/product/alerts": 2,
        "/webinar/2025-q3": 1,
    },
    "organic_search": {
        "/": 2,
        "/blog/kpi-rituals": 3,
        "/blog/cac-guide": 3,
        "/docs/getting-started": 2,
        "/pricing": 1,
    },
    "organic_social": {"/blog/smoke-is-not-fire": 3, "/blog/lead-quality": 2, "/": 1},
    "referral": {"/": 2, "/customers": 2, "/product/integrations": 2, "/pricing": 1},
    "direct": {"/": 6, "/pricing": 2, "/docs": 2, "/product": 1},
}


def landing_table() -> tuple[np.ndarray, np.ndarray]:
    """Per channel, cumulative landing probabilities over PAGES (rows) for vectorised sampling."""
    probs = np.zeros((len(CHANNELS), len(PAGES)))
    for ch, weights in _LANDING.items():
        for page, w in weights.items():
            probs[CHANNEL_INDEX[ch], PAGE_INDEX[page]] = w
    probs /= probs.sum(axis=1, keepdims=True)
    return probs, np.cumsum(probs, axis=1)
