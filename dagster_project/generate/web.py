"""GA4-like web traffic: sessions per channel and day (paid ones from ad clicks), visitors who
come back, engagement and conversions, expanded month by month into `web_events` rows."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .ads import AdDays
from .channels import (
    BLOG_PAGES,
    BROWSE_PAGES,
    BROWSE_WEIGHTS,
    CAMPAIGNS,
    CHANNEL_INDEX,
    CHANNELS,
    LEAD_PAGE,
    PAGES,
    PURCHASE_PAGE,
    RATES,
    SESSION_PER_CLICK,
    SITE,
    TRAFFIC_SOURCES,
    TS_CAMPAIGN,
    TS_CHANNEL,
    landing_table,
)
from .scenarios import Effects
from .timeline import Timeline
from .writer import make_table

# UTC hour weights: a US + European B2B audience, busiest 13:00-17:00 UTC.
HOUR_WEIGHTS = np.array(
    [2, 1.5, 1, 1, 1, 1.2, 2, 3, 4, 5, 5.5, 6, 7, 8, 8.5, 8.5, 8, 7, 6, 5, 4.5, 4, 3.5, 2.5]
)
RETURN_WINDOW_DAYS = 180  # visitors older than this no longer come back (cookie expiry)
RETURNING_ENGAGED_BONUS = 0.08
MAX_ENGAGEMENT_MS = 29 * 60_000  # sessions start before 23:30 UTC, so none crosses end_date
MIN_ENGAGED_MS = 10_000  # GA4: engaged means >= 10 s, or >= 2 page views, or a conversion
COMMENT_RATE = 0.004  # per engaged session
PURCHASE_RATE = 0.0012
SCROLL_RATE = 0.5
PAGE_LOAD_MEDIAN_MS = 1800.0
# Event kinds in the order GA4 logs them when timestamps tie.
KINDS = ("session_start", "page_view", "scroll", "comment", "generate_lead", "purchase",
         "user_engagement")  # fmt: skip
KIND_CODES = ("ss", "pv", "sc", "cm", "gl", "pu", "ue")
K_START, K_PV, K_SCROLL, K_COMMENT, K_LEAD, K_PURCHASE, K_UE = range(7)


@dataclass
class Users:
    """Visitors (GA4 user_pseudo_id = rand.first_visit_seconds)."""

    rand: np.ndarray
    first_ms: np.ndarray
    first_session: np.ndarray
    n_sessions: np.ndarray


@dataclass
class Sessions:
    """All simulated sessions, in start order."""

    start_ms: np.ndarray
    day: np.ndarray
    user: np.ndarray
    source: np.ndarray  # index into TRAFFIC_SOURCES
    channel: np.ndarray
    campaign: np.ndarray
    number: np.ndarray  # GA4 ga_session_number
    kind: np.ndarray  # 0 normal, 1 scenario "idle" extra, 2 scenario new-visitor extra
    engaged: np.ndarray | None = None
    n_pv: np.ndarray | None = None
    eng_ms: np.ndarray | None = None
    scroll: np.ndarray | None = None
    lead: np.ndarray | None = None
    comment: np.ndarray | None = None
    purchase: np.ndarray | None = None
    landing: np.ndarray | None = None
    gclid: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.start_ms)

    @property
    def lead_ms(self) -> np.ndarray:
        """When generate_lead fires (the contact's created_at)."""
        assert self.eng_ms is not None
        return self.start_ms + self.eng_ms * 85 // 100 + 2


def session_counts(
    tl: Timeline,
    ads: AdDays,
    sessions_per_day: float,
    fx: Effects,
    social_activity: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """Sessions per traffic source, kind (normal, idle extra, new extra) and day.

    Normal sessions are drawn first for every source, scenario extras after, so the same seed
    gives the same normal sessions with or without scenarios.
    """
    n_ts = len(TRAFFIC_SOURCES)
    counts = np.zeros((n_ts, 3, tl.n_days), dtype=np.int64)
    traffic = tl.traffic_factor()
    # (traffic sources, campaign index or -1 - channel index, normal sessions per day)
    groups: list[tuple[np.ndarray, int, np.ndarray]] = []
    for i, camp in enumerate(CAMPAIGNS):
        ts_ids = np.flatnonzero(np.equal(TS_CAMPAIGN, i))
        rate = SESSION_PER_CLICK[camp.channel]
        groups.append((ts_ids, i, rng.binomial(ads.base_clicks[i].astype(np.int64), rate)))
    for ch in CHANNELS:
        c = CHANNEL_INDEX[ch]
        ts_ids = np.flatnonzero(np.equal(TS_CHANNEL, c) & (TS_CAMPAIGN < 0))
        if len(ts_ids) == 0:
            continue
        mean = sessions_per_day * RATES[ch].share * traffic
        if ch == "organic_social":
            mean = mean * social_activity  # traffic follows how regularly the company posts
        # Gamma-Poisson: daily counts are over-dispersed like real traffic.
        groups.append((ts_ids, -1 - c, rng.poisson(mean * rng.gamma(20, 1 / 20, tl.n_days))))
    for ts_ids, _, base in groups:
        w = np.array([TRAFFIC_SOURCES[t].weight for t in ts_ids])
        counts[ts_ids, 0, :] = rng.multinomial(base, w / w.sum()).T
    for ts_ids, key, base in groups:
        w = np.array([TRAFFIC_SOURCES[t].weight for t in ts_ids])
        if key >= 0:  # a campaign: its extra clicks become sessions at the usual rate
            rate = SESSION_PER_CLICK[CAMPAIGNS[key].channel]
            extras = (rng.binomial(ads.idle_clicks[key].astype(np.int64), rate),
                      rng.binomial(ads.new_clicks[key].astype(np.int64), rate))  # fmt: skip
        else:
            c = -1 - key
            extras = (rng.poisson(base * fx.extra_idle[c]), rng.poisson(base * fx.extra_new[c]))
        for k, n in enumerate(extras, start=1):
            counts[ts_ids, k, :] = rng.multinomial(n, w / w.sum()).T
    return counts


def _intraday_ms(n: int, rng: np.random.Generator) -> np.ndarray:
    cum = np.cumsum(HOUR_WEIGHTS) / HOUR_WEIGHTS.sum()
    hour = np.searchsorted(cum, rng.random(n), side="right")
    span = np.where(hour == 23, 1_800_000, 3_600_000)
    return hour * 3_600_000 + (rng.random(n) * span).astype(np.int64)


def simulate_sessions(
    tl: Timeline, counts: np.ndarray, rng: np.random.Generator
) -> tuple[Sessions, Users]:
    """Assigns sessions to new or returning visitors, day by day (returning needs the past)."""
    n_ts = counts.shape[0]
    per_day = counts.sum(axis=(0, 1))
    total = int(per_day.sum())
    cap = total + 1
    users = Users(
        np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap, np.int64),
        np.zeros(cap, np.int32),
    )  # fmt: skip
    ret_p = np.array([RATES[c].returning for c in CHANNELS])
    day_first_user = np.zeros(tl.n_days + 1, dtype=np.int64)
    chunks: list[tuple[np.ndarray, ...]] = []
    n_users = 0
    n_sess = 0
    for d in range(tl.n_days):
        day_first_user[d] = n_users
        flat = counts[:, :, d].reshape(-1)
        code = np.repeat(np.arange(n_ts * 3), flat)
        n = len(code)
        offset = _intraday_ms(n, rng)
        order = np.argsort(offset, kind="stable")
        code, offset = code[order], offset[order]
        src, kind = code // 3, code % 3
        ch = TS_CHANNEL[src]
        start = tl.day_ms[d] + offset

        # Returning visitors are drawn from those first seen in the last RETURN_WINDOW_DAYS,
        # recent ones more often (u**1.5 leans towards the newest users).
        lo, hi = day_first_user[max(0, d - RETURN_WINDOW_DAYS)], n_users
        ret = (rng.random(n) < ret_p[ch]) & (kind == 0)
        if hi - lo < 50:  # the first days of the burn-in have nobody to come back
            ret[:] = False
        ret_idx = np.flatnonzero(ret)
        picks = hi - 1 - np.floor((hi - lo) * rng.random(len(ret_idx)) ** 1.5).astype(np.int64)
        _, first = np.unique(picks, return_index=True)
        keep = np.zeros(len(ret_idx), bool)
        keep[first] = True  # a visitor comes back at most once a day
        ret[ret_idx[~keep]] = False
        ret_idx, picks = ret_idx[keep], picks[keep]

        user = np.empty(n, np.int64)
        number = np.ones(n, np.int32)
        user[ret_idx] = picks
        users.n_sessions[picks] += 1
        number[ret_idx] = users.n_sessions[picks]
        new_idx = np.flatnonzero(~ret)
        new_ids = n_users + np.arange(len(new_idx))
        user[new_idx] = new_ids
        users.rand[new_ids] = rng.integers(100_000_000, 2_147_483_647, len(new_idx))
        users.first_ms[new_ids] = start[new_idx]
        users.first_session[new_ids] = n_sess + new_idx
        users.n_sessions[new_ids] = 1
        n_users += len(new_idx)
        n_sess += n
        chunks.append((start, np.full(n, d, np.int32), user, src, kind, number))

    def cat(i: int) -> np.ndarray:
        return np.concatenate([c[i] for c in chunks])

    src = cat(3).astype(np.int16)
    sessions = Sessions(
        start_ms=cat(0),
        day=cat(1),
        user=cat(2),
        source=src,
        channel=TS_CHANNEL[src],
        campaign=TS_CAMPAIGN[src],
        number=cat(5),
        kind=cat(4).astype(np.int8),
    )
    users = Users(*(a[:n_users].copy() for a in vars(users).values()))
    return sessions, users


def session_outcomes(
    tl: Timeline, s: Sessions, fx: Effects, page_load: np.ndarray, rng: np.random.Generator
) -> None:
    """Engagement, page views, conversions and landing pages of every session (in place)."""
    n = len(s)
    ch, day = s.channel.astype(np.int64), s.day
    base_eng = np.array([RATES[c].engaged for c in CHANNELS])
    p = base_eng[ch] + RETURNING_ENGAGED_BONUS * (s.number > 1)
    # A slow site month costs engagement: the "system factor" behind a missed target.
    p *= np.clip(1.0 - 0.25 * (page_load[tl.month_index[day]] - 1.0), 0.85, 1.05)
    engaged = (rng.random(n) < p) & (s.kind != 1)
    n_pv = np.where(engaged, np.minimum(rng.geometric(0.5, n), 12), 1).astype(np.int16)
    active = MIN_ENGAGED_MS + rng.lognormal(np.log(35_000), 0.9, n) * fx.engagement_time[ch, day]
    idle = np.where(rng.random(n) < 0.4, 0, rng.integers(500, 9_500, n))
    eng_ms = np.where(engaged, np.minimum(active, MAX_ENGAGEMENT_MS), idle).astype(np.int64)

    lead_p = np.array([RATES[c].lead_rate / RATES[c].engaged for c in CHANNELS])
    cand = np.flatnonzero(engaged & (rng.random(n) < lead_p[ch] * fx.leads[ch, day]))
    # A visitor becomes a contact once; later forms of the same visitor are not new leads.
    _, first = np.unique(s.user[cand], return_index=True)
    lead = np.zeros(n, bool)
    lead[cand[first]] = True

    _, cum = landing_table()
    landing = np.empty(n, np.int16)
    u = rng.random(n)
    for c in range(len(CHANNELS)):
        m = ch == c
        landing[m] = np.minimum(np.searchsorted(cum[c], u[m], side="right"), len(PAGES) - 1)
    gclid = np.where(
        ch == CHANNEL_INDEX["paid_search"], rng.integers(1, 2**62, n, dtype=np.int64), 0
    )
    s.engaged, s.n_pv, s.eng_ms, s.lead, s.landing, s.gclid = (
        engaged, n_pv, eng_ms, lead, landing, gclid,
    )  # fmt: skip
    s.scroll = engaged & (rng.random(n) < SCROLL_RATE)
    s.comment = engaged & (rng.random(n) < COMMENT_RATE)
    s.purchase = engaged & (rng.random(n) < PURCHASE_RATE)


def gclid_text(values: np.ndarray) -> pa.Array:
    """gclid strings for non-zero values, null for zero."""
    text = pc.binary_join_element_wise(
        pa.scalar("Cj0KCQjw"), pa.array(values).cast(pa.string()), ""
    )
    return pc.if_else(pa.array(values != 0), text, pa.scalar(None, pa.string()))


def _join(*parts: pa.Array | pa.Scalar, sep: str = "") -> pa.Array:
    return pc.binary_join_element_wise(*parts, sep)


def month_events(
    tl: Timeline,
    s: Sessions,
    users: Users,
    sel: np.ndarray,
    contact_of_session: np.ndarray,
    contact_ids: pa.Array,
    page_load: np.ndarray,
    rng: np.random.Generator,
) -> pa.Table:
    """web_events rows of the sessions `sel` (a contiguous slice), sorted by time."""
    assert s.n_pv is not None and s.eng_ms is not None and s.landing is not None
    assert s.scroll is not None and s.lead is not None and s.comment is not None
    assert s.purchase is not None and s.gclid is not None
    ns = len(sel)
    t0, eng, npv = s.start_ms[sel], s.eng_ms[sel], s.n_pv[sel].astype(np.int64)
    local = np.arange(ns)

    # Page views: the first on the landing page, the rest browsing, spread over the session.
    pv_sess = np.repeat(local, npv)
    first_pv = np.cumsum(npv) - npv
    pv_k = np.arange(len(pv_sess)) - np.repeat(first_pv, npv)
    pv_page = BROWSE_PAGES[np.searchsorted(np.cumsum(BROWSE_WEIGHTS), rng.random(len(pv_sess)))]
    pv_page = np.where(pv_k == 0, s.landing[sel][pv_sess], pv_page)
    pv_ts = t0[pv_sess] + pv_k * (eng[pv_sess] // npv[pv_sess])
    month = tl.month_index[s.day[sel]]
    load = rng.lognormal(np.log(PAGE_LOAD_MEDIAN_MS), 0.45, len(pv_sess))
    load = np.round(load * page_load[month][pv_sess])

    parts: list[tuple[np.ndarray, ...]] = []  # (session, ts, kind, k, page)

    def add(mask: np.ndarray, kind: int, ts: np.ndarray, page: np.ndarray) -> None:
        idx = np.flatnonzero(mask)
        parts.append((idx, ts[idx], np.full(len(idx), kind), np.zeros(len(idx), np.int64),
                      page[idx]))  # fmt: skip

    landing = s.landing[sel].astype(np.int64)
    every = np.ones(ns, bool)
    add(every, K_START, t0, landing)
    parts.append((pv_sess, pv_ts, np.full(len(pv_sess), K_PV), pv_k, pv_page.astype(np.int64)))
    add(s.scroll[sel], K_SCROLL, t0 + eng * 3 // 10 + 1, landing)
    blog = BLOG_PAGES[rng.integers(0, len(BLOG_PAGES), ns)].astype(np.int64)
    add(s.comment[sel], K_COMMENT, t0 + eng * 6 // 10 + 3, blog)
    add(s.lead[sel], K_LEAD, s.lead_ms[sel], np.full(ns, LEAD_PAGE))
    add(s.purchase[sel], K_PURCHASE, t0 + eng * 9 // 10 + 4, np.full(ns, PURCHASE_PAGE))
    last_page = pv_page[first_pv + npv - 1].astype(np.int64)
    add(eng > 0, K_UE, t0 + eng, last_page)

    e_sess, e_ts, e_kind, e_k, e_page = (np.concatenate([p[i] for p in parts]) for i in range(5))
    order = np.lexsort((e_k, e_kind, e_sess, e_ts))
    e_sess, e_ts, e_kind, e_k, e_page = (a[order] for a in (e_sess, e_ts, e_kind, e_k, e_page))
    is_pv = e_kind == K_PV
    load_ev = np.zeros(len(order))
    # Page-load times follow their page view through the sort.
    pos = np.empty(len(order), np.int64)
    pos[order] = np.arange(len(order))
    load_ev[pos[ns : ns + len(pv_sess)]] = load

    # Strings are built once per session and gathered per event, in Arrow (no Python loops).
    user_id = _join(
        pa.array(users.rand[s.user[sel]]).cast(pa.string()),
        pa.array(users.first_ms[s.user[sel]] // 1000).cast(pa.string()),
        sep=".",
    )
    session_id = _join(user_id, pa.array(s.start_ms[sel] // 1000).cast(pa.string()), sep="_")
    ts_src = pa.array([t.source for t in TRAFFIC_SOURCES])
    ts_med = pa.array([t.medium for t in TRAFFIC_SOURCES])
    ts_camp = pa.array([t.campaign for t in TRAFFIC_SOURCES])
    src = pa.array(s.source[sel].astype(np.int64)[e_sess])
    ev_session = pc.take(session_id, pa.array(e_sess))
    codes = pa.array(list(KIND_CODES))
    suffix = _join(pc.take(codes, pa.array(e_kind)), pa.array(e_k).cast(pa.string()))
    contact_idx = np.where(e_kind == K_LEAD, contact_of_session[sel][e_sess], -1)
    urls = pa.array([SITE + p for p in PAGES])
    eng_ev = np.where(e_kind == K_UE, eng[e_sess], 0)
    return make_table(
        "web_events",
        {
            "event_timestamp": e_ts,
            "event_name": pc.take(pa.array(list(KINDS)), pa.array(e_kind)),
            "user_pseudo_id": pc.take(user_id, pa.array(e_sess)),
            "session_id": ev_session,
            "page_location": pc.take(urls, pa.array(e_page)),
            "event_id": _join(ev_session, suffix, sep="-"),
            "session_number": s.number[sel][e_sess].astype(np.int64),
            "engagement_time_msec": (eng_ev, e_kind != K_UE),
            "source": pc.take(ts_src, src),
            "medium": pc.take(ts_med, src),
            "campaign": pc.take(ts_camp, src),
            "gclid": gclid_text(s.gclid[sel][e_sess]),
            "page_load_ms": (load_ev, ~is_pv),
            "contact_id": pc.take(contact_ids, pa.array(contact_idx, mask=contact_idx < 0)),
        },
    )


def iter_months(tl: Timeline, s: Sessions) -> Iterator[tuple[str, np.ndarray]]:
    """(YYYY-MM, session indices) for each calendar month of the window, in order."""
    in_window = s.day >= tl.window_offset
    month = tl.month_index[s.day]
    for m in np.unique(month[in_window]):
        sel = np.flatnonzero(in_window & (month == m))
        yield tl.month_start(int(m)).strftime("%Y-%m"), sel
