"""CRM: contacts (mostly created by a site form, some offline), their lifecycle stages with
realistic lags, deals and sales activities."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .channels import (
    CHANNEL_INDEX,
    CHANNELS,
    OFFLINE_SHARE,
    OFFLINE_SOURCES,
    RATES,
    TRAFFIC_SOURCES,
)
from .scenarios import Effects
from .timeline import MS_PER_DAY, Timeline
from .web import Sessions, Users
from .writer import make_table

LEAD_SOURCES = ("web", *OFFLINE_SOURCES)  # code 0 = web form
OWNERS = ("owner_01", "owner_02", "owner_03", "owner_04", "owner_05", "owner_06")
SQL_LAG_MEDIAN_DAYS = 14.0
SQL_LAG_SIGMA = 1.0  # long tail: ~7% of SQLs take more than two months
DEAL_SHARE = 0.6  # of SQLs that get a deal
STALLED_SHARE = 0.08  # of deals that never close
CLOSE_LAG_MEDIAN_DAYS = 30.0
EUR_SHARE = 0.3
DEAL_MEDIAN_USD = 4_500.0
LOST_REASONS = ("price", "no_decision", "competitor", "timing", "not_a_fit")
INBOUND_TYPES = (("email", 0.45), ("chat", 0.2), ("call", 0.12), ("comment", 0.13),
                 ("social_reply", 0.10))  # fmt: skip
OUTBOUND_TYPES = (("email", 0.6), ("call", 0.3), ("meeting", 0.1))
RESPONSE_MEDIAN_MIN = 90.0


@dataclass
class Contacts:
    """One entry per contact, in created_at order; `channel` is -1 for offline contacts."""

    created_ms: np.ndarray
    day: np.ndarray
    session: np.ndarray  # generating session, -1 offline
    channel: np.ndarray
    lead_source: np.ndarray  # index into LEAD_SOURCES
    first_source: np.ndarray  # traffic source of the visitor's first session, -1 offline
    last_source: np.ndarray  # traffic source of the generating session, -1 offline
    gclid: np.ndarray
    fbclid: np.ndarray
    quality: np.ndarray  # multiplier of the SQL probability (scenarios)
    ids: pa.Array

    def __len__(self) -> int:
        return len(self.created_ms)


@dataclass
class Funnel:
    """Stage times in epoch ms (-1 = never); the simulation's truth, before the cut-off."""

    mql_ms: np.ndarray
    sql_ms: np.ndarray
    deal_ms: np.ndarray
    close_ms: np.ndarray
    won: np.ndarray
    lost: np.ndarray
    amount: np.ndarray
    eur: np.ndarray


def build_contacts(
    tl: Timeline, s: Sessions, users: Users, fx: Effects, rng: np.random.Generator
) -> tuple[Contacts, np.ndarray]:
    """Contacts plus, per session, the index of the contact it created (-1 if none)."""
    assert s.lead is not None and s.gclid is not None
    web = np.flatnonzero(s.lead)
    # Offline contacts arrive on working days, in proportion to the web leads.
    weekly = len(web) / tl.n_days * OFFLINE_SHARE / (1 - OFFLINE_SHARE) * 7 / 5
    working = (tl.weekday < 5) & (tl.holiday == 1.0)
    per_day = rng.poisson(np.where(working, weekly * tl.trend(), 0.0))
    off_day = np.repeat(np.arange(tl.n_days), per_day)
    off_ms = tl.day_ms[off_day] + rng.integers(13 * 3_600_000, 22 * 3_600_000, len(off_day))
    shares = np.array([v[0] for v in OFFLINE_SOURCES.values()])
    off_source = 1 + rng.choice(len(shares), len(off_day), p=shares / shares.sum())

    created = np.concatenate([s.lead_ms[web], off_ms])
    order = np.argsort(created, kind="stable")
    n_web = len(web)
    session = np.concatenate([web, np.full(len(off_day), -1)])[order]
    is_web = session >= 0
    ws = np.where(is_web, session, 0)
    channel = np.where(is_web, s.channel[ws], -1).astype(np.int64)
    first_sess = users.first_session[s.user[ws]]
    day = np.concatenate([s.day[web], off_day])[order]
    meta = CHANNEL_INDEX["paid_social"]
    # Click ids: from the converting session, else from the visitor's first (paid) session.
    gclid = np.where(s.gclid[ws] != 0, s.gclid[ws], s.gclid[first_sess])
    fb_touch = (s.channel[ws] == meta) | (s.channel[first_sess] == meta)
    fbclid = np.where(fb_touch, rng.integers(1, 2**62, len(ws), dtype=np.int64), 0)
    quality = np.where(is_web, fx.lead_quality[np.maximum(channel, 0), day], 1.0)
    lead_source = np.concatenate([np.zeros(n_web, np.int64), off_source])[order]

    contact_of_session = np.full(len(s), -1, np.int64)
    contact_of_session[session[is_web]] = np.flatnonzero(is_web)
    ids = pa.array([f"C{i + 1:07d}" for i in range(len(created))])
    contacts = Contacts(
        created_ms=created[order],
        day=day,
        session=session,
        channel=channel,
        lead_source=lead_source,
        first_source=np.where(is_web, s.source[first_sess], -1),
        last_source=np.where(is_web, s.source[ws], -1),
        gclid=np.where(is_web, gclid, 0),
        fbclid=np.where(is_web, fbclid, 0),
        quality=quality,
        ids=ids,
    )
    return contacts, contact_of_session


def _rates(c: Contacts, field: str) -> np.ndarray:
    web = np.array([getattr(RATES[ch], field) for ch in CHANNELS])
    off = {"sql_rate": 1, "win_rate": 2}[field]
    offline = np.array([0.0] + [v[off] for v in OFFLINE_SOURCES.values()])
    return np.where(c.channel >= 0, web[np.maximum(c.channel, 0)], offline[c.lead_source])


def simulate_funnel(c: Contacts, rng: np.random.Generator) -> Funnel:
    """Every contact's path lead -> (mql) -> sql -> opportunity -> customer, in time order."""
    n = len(c)
    day = MS_PER_DAY
    is_sql = rng.random(n) < _rates(c, "sql_rate") * c.quality
    sql_lag = rng.lognormal(np.log(SQL_LAG_MEDIAN_DAYS), SQL_LAG_SIGMA, n) * day
    sql_ms = np.where(is_sql, c.created_ms + sql_lag.astype(np.int64), -1)
    # Most SQLs pass through MQL on the way; some non-SQLs get scored MQL and stall there.
    mql_before_sql = c.created_ms + (sql_lag * rng.uniform(0.15, 0.7, n)).astype(np.int64)
    mql_only = c.created_ms + (rng.lognormal(np.log(3.0), 0.8, n) * day).astype(np.int64)
    u = rng.random(n)
    mql_ms = np.where(
        is_sql, np.where(u < 0.7, mql_before_sql, -1), np.where(u < 0.25, mql_only, -1)
    )

    has_deal = is_sql & (rng.random(n) < DEAL_SHARE)
    deal_ms = np.where(
        has_deal, sql_ms + (rng.lognormal(np.log(2.0), 0.8, n) * day).astype(np.int64) + 1, -1
    )
    decided = has_deal & (rng.random(n) >= STALLED_SHARE)
    won = decided & (rng.random(n) < _rates(c, "win_rate"))
    lost = decided & ~won
    close_lag = (rng.lognormal(np.log(CLOSE_LAG_MEDIAN_DAYS), 0.7, n) * day).astype(np.int64)
    close_ms = np.where(decided, deal_ms + close_lag + 1, -1)
    amount = rng.lognormal(np.log(DEAL_MEDIAN_USD), 0.55, n)
    eur = rng.random(n) < EUR_SHARE
    amount = np.round(np.where(eur, amount / 1.1, amount), 2)  # EUR deals are priced in EUR
    return Funnel(mql_ms, sql_ms, deal_ms, close_ms, won, lost, amount, eur)


def _seconds(ms: np.ndarray) -> np.ndarray:
    return ms // 1000 * 1000


def contacts_table(c: Contacts) -> pa.Table:
    sources = TRAFFIC_SOURCES
    src = np.array([t.source for t in sources] + [""], dtype=object)
    med = np.array([t.medium for t in sources] + [""], dtype=object)
    camp = np.array([t.campaign for t in sources] + [""], dtype=object)
    off_names = np.array(LEAD_SOURCES, dtype=object)
    off_camp = np.array([""] + [v[3] for v in OFFLINE_SOURCES.values()], dtype=object)
    web = c.channel >= 0

    def touch(idx: np.ndarray, table: np.ndarray, offline: np.ndarray) -> list[str]:
        return list(np.where(web, table[idx], offline[c.lead_source]))

    offline_medium = np.full(len(LEAD_SOURCES), "offline", dtype=object)
    hashes = [hashlib.sha256(f"{i}@firewatch-demo".encode()).hexdigest() for i in c.ids.to_pylist()]
    return make_table(
        "crm_contacts",
        {
            "contact_id": c.ids,
            "created_at": c.created_ms,
            "first_touch_source": touch(c.first_source, src, off_names),
            "first_touch_medium": touch(c.first_source, med, offline_medium),
            "first_touch_campaign": touch(c.first_source, camp, off_camp),
            "last_touch_source": touch(c.last_source, src, off_names),
            "last_touch_medium": touch(c.last_source, med, offline_medium),
            "last_touch_campaign": touch(c.last_source, camp, off_camp),
            "gclid": pa.array([f"Cj0KCQjw{g}" if g else None for g in c.gclid.tolist()]),
            "fbclid": pa.array([f"IwAR{f:x}" if f else None for f in c.fbclid.tolist()]),
            "lead_source": list(off_names[c.lead_source]),
            "owner_id": [OWNERS[int(h[:8], 16) % len(OWNERS)] for h in hashes],
            "email_hash": hashes,
        },
    )


def lifecycle_table(c: Contacts, f: Funnel, cutoff_ms: int) -> pa.Table:
    """Stages observed by `cutoff_ms`, sorted by time; `lead` at exactly created_at."""
    n = len(c)
    stages = (
        ("lead", c.created_ms, np.where(c.channel >= 0, "web_form", "import")),
        ("mql", _seconds(f.mql_ms), np.full(n, "lead_scoring")),
        ("sql", _seconds(f.sql_ms), np.full(n, "sales")),
        ("opportunity", _seconds(f.deal_ms), np.full(n, "sales")),
        ("customer", np.where(f.won, _seconds(f.close_ms), -1), np.full(n, "sales")),
    )
    idx, ms, stage, source = [], [], [], []
    for k, (_, at, src) in enumerate(stages):
        keep = np.flatnonzero((at >= 0) & (at <= cutoff_ms))
        idx.append(keep)
        ms.append(at[keep])
        stage.append(np.full(len(keep), k))
        source.append(src[keep])
    i, t, k, sv = (np.concatenate(a) for a in (idx, ms, stage, source))
    order = np.lexsort((k, i, t))
    names = np.array([s[0] for s in stages], dtype=object)
    return make_table(
        "crm_lifecycle_events",
        {
            "contact_id": c.ids.take(pa.array(i[order])),
            "stage": list(names[k[order]]),
            "entered_at": t[order],
            "source": list(sv[order]),
        },
    )


def deals_table(c: Contacts, f: Funnel, cutoff_ms: int, rng: np.random.Generator) -> pa.Table:
    """Deals created by `cutoff_ms`; a deal closing after it is still open then."""
    keep = np.flatnonzero((f.deal_ms >= 0) & (f.deal_ms <= cutoff_ms))
    keep = keep[np.argsort(f.deal_ms[keep], kind="stable")]
    closed = (f.close_ms[keep] >= 0) & (f.close_ms[keep] <= cutoff_ms)
    won, lost = f.won[keep] & closed, f.lost[keep] & closed
    status = np.where(won, "won", np.where(lost, "lost", "open"))
    reasons = np.array(LOST_REASONS, dtype=object)[rng.integers(0, len(LOST_REASONS), len(keep))]
    return make_table(
        "crm_deals",
        {
            "deal_id": [f"D{i + 1:06d}" for i in range(len(keep))],
            "contact_id": c.ids.take(pa.array(keep)),
            "created_at": _seconds(f.deal_ms[keep]),
            "status": list(status),
            "amount": f.amount[keep],
            "currency": list(np.where(f.eur[keep], "EUR", "USD")),
            "closed_at": (_seconds(np.maximum(f.close_ms[keep], 0)), ~closed),
            "pipeline": ["new_business"] * len(keep),
            "lost_reason": pa.array([r if x else None for r, x in zip(reasons, lost, strict=True)]),
        },
    )


def _pick(kinds: tuple[tuple[str, float], ...], n: int, rng: np.random.Generator) -> np.ndarray:
    w = np.array([k[1] for k in kinds])
    return rng.choice(len(kinds), n, p=w / w.sum())


def activities_table(
    tl: Timeline,
    c: Contacts,
    f: Funnel,
    cutoff_ms: int,
    response_factor: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """Inbound messages (answered after response_minutes) and outbound sales touches."""
    sql = f.sql_ms >= 0
    n_in = rng.poisson(1.2 + 1.5 * sql)
    n_out = rng.poisson(1.5 + 3.0 * sql)
    who_in, who_out = np.repeat(np.arange(len(c)), n_in), np.repeat(np.arange(len(c)), n_out)
    t_in = c.created_ms[who_in] + (rng.exponential(12.0, len(who_in)) * MS_PER_DAY).astype(np.int64)
    t_out = c.created_ms[who_out] + (rng.exponential(8.0, len(who_out)) * MS_PER_DAY).astype(
        np.int64
    )
    type_in = np.array([k[0] for k in INBOUND_TYPES], dtype=object)[
        _pick(INBOUND_TYPES, len(who_in), rng)
    ]
    type_out = np.array([k[0] for k in OUTBOUND_TYPES], dtype=object)[
        _pick(OUTBOUND_TYPES, len(who_out), rng)
    ]
    month = np.clip((t_in - tl.day_ms[0]) // MS_PER_DAY, 0, tl.n_days - 1)
    minutes = rng.lognormal(np.log(RESPONSE_MEDIAN_MIN), 1.0, len(who_in))
    minutes = np.round(minutes * response_factor[tl.month_index[month]], 1)

    who = np.concatenate([who_in, who_out])
    at = _seconds(np.concatenate([t_in, t_out]))
    kind = np.concatenate([type_in, type_out])
    inbound = np.concatenate([np.ones(len(who_in), bool), np.zeros(len(who_out), bool)])
    resp = np.concatenate([minutes, np.zeros(len(who_out))])
    keep = np.flatnonzero(at <= cutoff_ms)
    keep = keep[np.lexsort((who[keep], at[keep]))]
    return make_table(
        "crm_activities",
        {
            "activity_id": [f"A{i + 1:08d}" for i in range(len(keep))],
            "contact_id": c.ids.take(pa.array(who[keep])),
            "activity_type": list(kind[keep]),
            "direction": list(np.where(inbound[keep], "inbound", "outbound")),
            "occurred_at": at[keep],
            "response_minutes": (resp[keep], ~inbound[keep]),
        },
    )
