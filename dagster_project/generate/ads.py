"""Ads platforms: daily clicks per campaign (which drive the paid sessions), and the
`ads_daily` export with a later restatement file for the last days."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .channels import ACCOUNTS, CAMPAIGNS, CHANNEL_INDEX, RATES, SESSION_PER_CLICK, SOCIAL_PLATFORMS
from .scenarios import Effects
from .timeline import Timeline
from .writer import make_table

RESTATED_PLATFORMS = ("google_ads", "meta_ads")
RESTATED_DAYS = 7
# Platforms claim more conversions than the CRM sees (view-through, modelled conversions).
CONVERSION_INFLATION = {"google_ads": 1.1, "meta_ads": 1.6, "linkedin_ads": 1.3, "email": 0.9}
CONVERSION_VALUE = 150.0  # per platform conversion, in the account currency
# Newsletter e-mails keep being clicked for a few days after a send.
EMAIL_CLICK_DECAY = np.array([0.62, 0.23, 0.10, 0.05])


@dataclass
class AdDays:
    """Per campaign (rows, CAMPAIGNS order) and simulated day (columns)."""

    base_clicks: np.ndarray
    idle_clicks: np.ndarray  # scenario clicks whose sessions are never engaged
    new_clicks: np.ndarray  # scenario clicks from first-time visitors
    impressions: np.ndarray
    spend: np.ndarray  # account currency
    reactions: np.ndarray
    comments: np.ndarray
    shares: np.ndarray
    video_views: np.ndarray

    @property
    def clicks(self) -> np.ndarray:
        return self.base_clicks + self.idle_clicks + self.new_clicks


def _email_clicks(
    tl: Timeline, camp_share: float, ctr: float, sessions_per_day: float, weekly: bool,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
    """(delivered, clicks) per day for a newsletter sent weekly (Tuesday) or monthly."""
    n = tl.n_days
    if weekly:
        send = tl.weekday == 1
        period = 7.0
    else:  # first Thursday of the month
        send = np.array([d.weekday() == 3 and d.day <= 7 for d in tl.dates])
        period = 30.4
    clicks_per_send = (
        period * camp_share * RATES["email"].share * sessions_per_day / SESSION_PER_CLICK["email"]
    )
    list_growth = tl.trend()  # the list grows with the business
    delivered = np.where(send, np.round(clicks_per_send / ctr * list_growth), 0.0)
    delivered = rng.poisson(delivered * rng.gamma(200, 1 / 200, n)).astype(float)
    sent_clicks = rng.poisson(delivered * ctr * rng.gamma(20, 1 / 20, n))
    clicks = np.zeros(n + len(EMAIL_CLICK_DECAY), dtype=np.int64)
    for d in np.flatnonzero(sent_clicks):
        clicks[d : d + len(EMAIL_CLICK_DECAY)] += rng.multinomial(sent_clicks[d], EMAIL_CLICK_DECAY)
    return delivered, clicks[:n]


def simulate_ads(
    tl: Timeline, sessions_per_day: float, fx: Effects, rng: np.random.Generator
) -> AdDays:
    """Daily ads per campaign. All scenario-independent draws come first (pass 1), so a
    scenario run and a null run with the same seed share their baseline clicks exactly."""
    n_c, n = len(CAMPAIGNS), tl.n_days
    out = AdDays(*(np.zeros((n_c, n)) for _ in range(9)))
    traffic = tl.traffic_factor()
    base_imp = np.zeros((n_c, n))
    cost_noise = np.ones((n_c, n))
    for i, camp in enumerate(CAMPAIGNS):
        if camp.channel == "email":
            delivered, base = _email_clicks(
                tl, camp.share, camp.ctr, sessions_per_day, camp.name.endswith("Weekly"), rng
            )
            base_imp[i] = delivered
        else:
            mean = (
                sessions_per_day * RATES[camp.channel].share * camp.share
                / SESSION_PER_CLICK[camp.channel] * traffic
            )  # fmt: skip
            base = rng.poisson(mean * rng.gamma(25, 1 / 25, n))
            base_imp[i] = np.round(base / (camp.ctr * rng.gamma(80, 1 / 80, n)))
            cost_noise[i] = rng.gamma(60, 1 / 60, n)
        out.base_clicks[i] = base
    for i, camp in enumerate(CAMPAIGNS):
        c = CHANNEL_INDEX[camp.channel]
        base = out.base_clicks[i]
        out.idle_clicks[i] = rng.poisson(base * fx.extra_idle[c])
        out.new_clicks[i] = rng.poisson(base * fx.extra_new[c])
        if camp.channel == "email":
            spend = base_imp[i] * camp.cpc  # ESPs charge per e-mail sent, not per click
        else:
            spend = out.clicks[i] * camp.cpc * cost_noise[i]
        out.impressions[i] = np.round(base_imp[i] * fx.impressions[c])
        out.spend[i] = np.round(spend * fx.spend[c], 2)
        # Engagement follows the organic audience (impressions before any reach scenario), so
        # a reach change does not move engagement and an engagement change does not move reach.
        eng = fx.ad_engagement[c]
        out.reactions[i] = rng.poisson(base_imp[i] * camp.reactions * eng)
        out.comments[i] = rng.poisson(base_imp[i] * camp.comments * eng)
        out.shares[i] = rng.poisson(base_imp[i] * camp.shares * eng)
        out.video_views[i] = rng.poisson(out.impressions[i] * camp.video)
    return out


def _rows(
    tl: Timeline, ads: AdDays, conversions: np.ndarray, days: np.ndarray, campaigns: list[int]
) -> dict[str, object]:
    """Columns of ads_daily for the given day indices × campaign indices (date-major)."""
    d = np.repeat(days, len(campaigns))
    c = np.tile(np.asarray(campaigns), len(days))
    camps = [CAMPAIGNS[i] for i in c]
    accounts = [ACCOUNTS[x.platform] for x in camps]
    social = np.array([x.platform in SOCIAL_PLATFORMS for x in camps])
    video = np.array([x.video > 0 for x in camps])
    conv = conversions[c, d]
    return {
        "date": (tl.day_ms[d] // 86_400_000).astype("datetime64[D]"),
        "platform": [x.platform for x in camps],
        "account_id": [a.account_id for a in accounts],
        "campaign_id": [x.campaign_id for x in camps],
        "campaign_name": [x.name for x in camps],
        "impressions": ads.impressions[c, d].astype(np.int64),
        "clicks": ads.clicks[c, d].astype(np.int64),
        "spend": ads.spend[c, d],
        "currency": [a.currency for a in accounts],
        # Search and e-mail platforms have no reactions: missing, not zero.
        "reactions": (ads.reactions[c, d].astype(np.int64), ~social),
        "comments": (ads.comments[c, d].astype(np.int64), ~social),
        "shares": (ads.shares[c, d].astype(np.int64), ~social),
        "video_views": (ads.video_views[c, d].astype(np.int64), ~video),
        "platform_conversions": conv,
        "platform_conversion_value": np.round(conv * CONVERSION_VALUE, 2),
        "utm_campaign": [x.utm_campaign for x in camps],
        "account_timezone": [a.timezone for a in accounts],
    }


def platform_conversions(leads: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """What each platform claims per campaign-day, from the CRM leads its sessions created."""
    out = np.zeros(leads.shape)
    for i, camp in enumerate(CAMPAIGNS):
        k = CONVERSION_INFLATION[camp.platform]
        noisy = leads[i] * k * rng.gamma(8, 1 / 8, leads.shape[1])
        # Google reports fractional data-driven conversions; the others count whole ones.
        out[i] = np.round(noisy, 2) if camp.platform == "google_ads" else np.round(noisy)
    return out


def ads_tables(
    tl: Timeline, ads: AdDays, conversions: np.ndarray, rng: np.random.Generator
) -> tuple[pa.Table, pa.Table, AdDays]:
    """(main export, restatement file, the ads as finally restated: the truth)."""
    window = np.arange(tl.window_offset, tl.n_days)
    main = make_table("ads_daily", _rows(tl, ads, conversions, window, list(range(len(CAMPAIGNS)))))

    restated = AdDays(*(a.copy() for a in vars(ads).values()))
    conv = conversions.copy()
    last = window[-RESTATED_DAYS:]
    camps = [i for i, c in enumerate(CAMPAIGNS) if c.platform in RESTATED_PLATFORMS]
    for i in camps:
        for d in last:
            # Invalid-click filtering removes a few percent of clicks and their cost; late
            # conversions arrive.
            clicks = int(ads.clicks[i, d])
            removed = rng.binomial(clicks, rng.uniform(0.03, 0.10)) if clicks else 0
            kept = clicks - removed
            restated.base_clicks[i, d] = max(ads.base_clicks[i, d] - removed, 0)
            restated.idle_clicks[i, d] = kept - restated.base_clicks[i, d] - ads.new_clicks[i, d]
            if restated.idle_clicks[i, d] < 0:
                restated.new_clicks[i, d] += restated.idle_clicks[i, d]
                restated.idle_clicks[i, d] = 0
            ratio = kept / clicks if clicks else 1.0
            restated.spend[i, d] = round(ads.spend[i, d] * ratio * rng.uniform(0.99, 1.01), 2)
            restated.impressions[i, d] = ads.impressions[i, d] - rng.binomial(
                int(ads.impressions[i, d]), rng.uniform(0.005, 0.03)
            )
            conv[i, d] = conversions[i, d] + rng.poisson(1.0)
    restatement = make_table("ads_daily", _rows(tl, restated, conv, last, camps))
    return main, restatement, restated
