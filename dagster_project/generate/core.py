"""`generate()`: runs the simulators in dependency order, writes every contract table to
`out/raw/<table>/` and the answer key to `out/ground_truth.json`."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pyarrow as pa

from dagster_project.ingest.contract import TABLES

from .ads import (
    RESTATED_DAYS,
    RESTATED_PLATFORMS,
    AdDays,
    ads_tables,
    platform_conversions,
    simulate_ads,
)
from .channels import ACCOUNTS, CAMPAIGNS, CHANNEL_INDEX, CHANNELS, TS_CHANNEL
from .crm import (
    LEAD_SOURCES,
    Contacts,
    Funnel,
    activities_table,
    build_contacts,
    contacts_table,
    deals_table,
    lifecycle_table,
    simulate_funnel,
)
from .profiles import DEFAULT_END_DATE, get_profile
from .scenarios import Effects, ScenarioSpec, resolve, truth_record
from .social import Posts, activity, simulate_posts, snapshots_table
from .targets import TARGET_CHANNELS, fx_table, targets_table
from .timeline import MS_PER_DAY, Timeline, fx_eur, system_factors
from .web import (
    Sessions,
    iter_months,
    month_events,
    session_counts,
    session_outcomes,
    simulate_sessions,
)
from .writer import FORMATS, write_table

REPORTING_CURRENCY = "USD"
GENERATOR_VERSION = 1
_RNG_STREAMS = ("calendar", "social", "ads", "sessions", "outcomes", "crm", "events", "tables")
# How a session's source/medium maps to a channel, for whoever checks the attribution models.
CHANNEL_RULES = {
    "paid_search": "medium cpc (source google; gclid set)",
    "paid_social": "medium paid_social, source facebook or instagram",
    "linkedin": "medium paid_social, source linkedin",
    "email": "medium email (source newsletter)",
    "organic_search": "medium organic (source google or bing)",
    "organic_social": "medium social (source linkedin or facebook)",
    "referral": "medium referral",
    "direct": "source (direct), medium (none)",
    "offline": "contacts without a web session: lead_source event/partner/outbound, medium offline",
}


def _prepare(out: Path) -> Path:
    """The landing folder, emptied of an earlier generator run's data files.

    Files are deleted only when `out/ground_truth.json` shows the folder is generator output,
    so pointing --out at real data fails instead of destroying it.
    """
    raw = out / "raw"
    ours = (out / "ground_truth.json").is_file()
    for table in TABLES:
        folder = raw / table
        files = (
            [p for p in folder.glob("*") if p.suffix in (".csv", ".parquet")]
            if folder.is_dir()
            else []
        )
        if files and not ours:
            raise FileExistsError(
                f"{folder} already holds data files not written by the generator; "
                "choose an empty --out folder"
            )
        for p in files:
            p.unlink()
    raw.mkdir(parents=True, exist_ok=True)
    return raw


def _day_of(tl: Timeline, ms: np.ndarray) -> np.ndarray:
    return (ms - tl.day_ms[0]) // MS_PER_DAY


def _in_window(tl: Timeline, ms: np.ndarray) -> np.ndarray:
    return (ms >= tl.day_ms[tl.window_offset]) & (ms < tl.day_ms[-1] + MS_PER_DAY)


def _lead_counts(tl: Timeline, s: Sessions) -> np.ndarray:
    """CRM leads created per campaign and day by that campaign's sessions."""
    assert s.lead is not None
    out = np.zeros((len(CAMPAIGNS), tl.n_days))
    m = s.lead & (s.campaign >= 0)
    np.add.at(out, (s.campaign[m], s.day[m]), 1)
    return out


def _usd(amount: np.ndarray, eur: np.ndarray, rate: np.ndarray) -> np.ndarray:
    return np.where(eur, amount * rate, amount)


def _monthly_actuals(
    tl: Timeline, c: Contacts, f: Funnel, rate: np.ndarray, cutoff: int
) -> tuple[list[int], dict[str, np.ndarray]]:
    """What happened per window month (last month scaled up to a full month)."""
    months = sorted({int(m) for m in tl.month_index[tl.window_offset :]})
    days_seen = np.bincount(tl.month_index, minlength=tl.n_months)
    full = np.array([(tl.month_start(m + 1) - tl.month_start(m)).days for m in range(tl.n_months)])
    scale = (full / np.maximum(days_seen, 1))[months]

    def per_month(ms: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
        ok = (ms >= 0) & (ms <= cutoff)
        idx = tl.month_index[_day_of(tl, ms[ok])]
        w = None if weights is None else weights[ok]
        return np.bincount(idx, weights=w, minlength=tl.n_months)[months] * scale

    won = f.won & (f.close_ms >= 0)
    close_rate = rate[np.clip(_day_of(tl, f.close_ms), 0, tl.n_days - 1)]
    actual = {
        "leads": per_month(c.created_ms),
        "sql": per_month(f.sql_ms),
        "revenue": per_month(np.where(won, f.close_ms, -1), _usd(f.amount, f.eur, close_rate)),
    }
    for ch in TARGET_CHANNELS:
        actual[f"leads:{ch}"] = per_month(
            np.where(c.channel == CHANNEL_INDEX[ch], c.created_ms, -1)
        )
    return months, actual


def _ads_truth(tl: Timeline, ads: AdDays, rate: np.ndarray) -> dict[str, object]:
    w = slice(tl.window_offset, None)
    spend_usd: dict[str, float] = {}
    clicks: dict[str, int] = {}
    impressions: dict[str, int] = {}
    engagements: dict[str, int] = {}
    for i, camp in enumerate(CAMPAIGNS):
        acct = ACCOUNTS[camp.platform]
        spend = ads.spend[i, w] * (rate[w] if acct.currency == "EUR" else 1.0)
        spend_usd[camp.platform] = spend_usd.get(camp.platform, 0.0) + float(spend.sum())
        clicks[camp.platform] = clicks.get(camp.platform, 0) + int(ads.clicks[i, w].sum())
        impressions[camp.platform] = impressions.get(camp.platform, 0) + int(
            ads.impressions[i, w].sum()
        )
        if camp.reactions > 0:
            eng = ads.reactions[i, w] + ads.comments[i, w] + ads.shares[i, w]
            engagements[camp.platform] = engagements.get(camp.platform, 0) + int(eng.sum())
    return {
        "ads_spend_usd": round(sum(spend_usd.values()), 2),
        "ads_spend_usd_by_platform": {k: round(v, 2) for k, v in spend_usd.items()},
        "ads_clicks_by_platform": clicks,
        "ads_impressions_by_platform": impressions,
        "ad_engagements_by_platform": engagements,
    }


def _web_truth(tl: Timeline, s: Sessions) -> dict[str, object]:
    assert s.engaged is not None and s.lead is not None
    w = s.day >= tl.window_offset
    by_channel = np.bincount(s.channel[w], minlength=len(CHANNELS))
    engaged = int((s.engaged & w).sum())
    returning = int(((s.number > 1) & w).sum())
    n = int(w.sum())
    return {
        "sessions": n,
        "sessions_by_channel": {ch: int(v) for ch, v in zip(CHANNELS, by_channel, strict=True)},
        "engaged_sessions": engaged,
        "engagement_rate": round(engaged / max(n, 1), 4),
        "returning_sessions": returning,
        "returning_visitor_share": round(returning / max(n, 1), 4),
    }


def _crm_truth(
    tl: Timeline, c: Contacts, f: Funnel, rate: np.ndarray, cutoff: int
) -> dict[str, object]:
    new = _in_window(tl, c.created_ms)
    names = np.array([*CHANNELS, "offline"], dtype=object)
    ch = np.where(c.channel >= 0, c.channel, len(CHANNELS))
    leads_by_channel = np.bincount(ch[new], minlength=len(names))
    by_source = np.bincount(c.lead_source[new], minlength=len(LEAD_SOURCES))
    won_in = f.won & _in_window(tl, f.close_ms) & (f.close_ms <= cutoff)
    close_rate = rate[np.clip(_day_of(tl, f.close_ms), 0, tl.n_days - 1)]
    revenue = _usd(f.amount, f.eur, close_rate)[won_in].sum()
    sql_in = _in_window(tl, f.sql_ms) & (f.sql_ms <= cutoff)
    first_ch = np.where(
        c.first_source >= 0, TS_CHANNEL[np.maximum(c.first_source, 0)], len(CHANNELS)
    )
    by_first = np.bincount(first_ch[new], minlength=len(names))
    return {
        "leads": int(new.sum()),
        # Channel of the session that sent the form (offline: no session).
        "leads_by_channel": {str(k): int(v) for k, v in zip(names, leads_by_channel, strict=True)},
        # Channel of the visitor's first session (first-touch attribution).
        "leads_by_first_touch_channel": {
            str(k): int(v) for k, v in zip(names, by_first, strict=True)
        },
        "leads_by_lead_source": {k: int(v) for k, v in zip(LEAD_SOURCES, by_source, strict=True)},
        "sql": int(sql_in.sum()),
        "deals_created": int((_in_window(tl, f.deal_ms) & (f.deal_ms <= cutoff)).sum()),
        "customers": int(won_in.sum()),
        "revenue_usd": round(float(revenue), 2),
        "contacts_total": len(c),
        "crm_lead_to_sql_rate_by_channel_ever": {
            str(names[k]): round(float((f.sql_ms[ch == k] >= 0).mean()), 4)
            for k in range(len(names))
            if (ch == k).any()
        },
    }


def generate(
    out: Path,
    *,
    days: int | None = None,
    seed: int = 42,
    profile: str = "small",
    scenarios: Sequence[ScenarioSpec] = (),
    end_date: date | None = None,
    fmt: str | None = None,
) -> dict:
    """Writes sample data for every contract table under `out/raw` and returns the ground truth.

    The same arguments always give byte-identical files. `fmt` forces one format for all
    tables; by default the profile decides web_events' format and the rest are CSV.
    """
    prof = get_profile(profile)
    if fmt is not None and fmt not in FORMATS:
        raise ValueError(f"unknown format {fmt!r}; choose csv or parquet")
    end = end_date or DEFAULT_END_DATE
    n_days = prof.days if days is None else int(days)
    if n_days < 14:
        raise ValueError(f"days must be at least 14, got {n_days}")
    start = end - timedelta(days=n_days - 1)
    tl = Timeline(start - timedelta(days=prof.burn_in_days), start, end)
    specs = [resolve(s, tl) for s in scenarios]
    effects = Effects.build(specs, tl)
    streams = np.random.SeedSequence(seed).spawn(len(_RNG_STREAMS))
    rng = {k: np.random.default_rng(s) for k, s in zip(_RNG_STREAMS, streams, strict=True)}
    cutoff = int(tl.day_ms[-1] + MS_PER_DAY - 1)

    # Simulate: calendar -> social posts -> ad clicks -> sessions -> contacts -> funnel.
    factors = system_factors(tl, rng["calendar"])
    eur = fx_eur(tl, rng["calendar"])
    posts: Posts = simulate_posts(tl, prof.sessions_per_day / 700.0, rng["social"])
    ads = simulate_ads(tl, prof.sessions_per_day, effects, rng["ads"])
    counts = session_counts(
        tl, ads, prof.sessions_per_day, effects, activity(tl, posts), rng["sessions"]
    )
    sessions, users = simulate_sessions(tl, counts, rng["sessions"])
    session_outcomes(tl, sessions, effects, factors["page_load"], rng["outcomes"])
    contacts, contact_of_session = build_contacts(tl, sessions, users, effects, rng["crm"])
    funnel = simulate_funnel(contacts, rng["crm"])
    conversions = platform_conversions(_lead_counts(tl, sessions), rng["ads"])
    ads_main, ads_restated, ads_final = ads_tables(tl, ads, conversions, rng["ads"])

    raw = _prepare(Path(out))
    formats = {t: fmt or (prof.web_format if t == "web_events" else "csv") for t in TABLES}
    stamp = end.isoformat()
    files: dict[str, list[str]] = {t: [] for t in TABLES}
    rows: dict[str, int] = {t: 0 for t in TABLES}
    with_ms = {"web_events", "crm_contacts", "crm_lifecycle_events"}

    def write(table: str, name: str, data: pa.Table) -> None:
        path = raw / table / f"{name}.{formats[table]}"
        rows[table] += write_table(data, path, formats[table], with_ms=table in with_ms)
        files[table].append(path.name)

    write("ads_daily", f"{stamp}_export", ads_main)
    # "z" sorts after "export": the loader applies the restatement last, so it wins.
    write("ads_daily", f"{stamp}_zrestatement", ads_restated)
    for label, sel in iter_months(tl, sessions):
        table = month_events(
            tl, sessions, users, sel, contact_of_session, contacts.ids, factors["page_load"],
            rng["events"],
        )  # fmt: skip
        write("web_events", label, table)
    write("crm_contacts", f"{stamp}_export", contacts_table(contacts))
    write("crm_lifecycle_events", f"{stamp}_export", lifecycle_table(contacts, funnel, cutoff))
    write("crm_deals", f"{stamp}_export", deals_table(contacts, funnel, cutoff, rng["tables"]))
    write(
        "crm_activities",
        f"{stamp}_export",
        activities_table(tl, contacts, funnel, cutoff, factors["response"], rng["tables"]),
    )
    write("social_posts", f"{stamp}_export", snapshots_table(tl, posts, rng["social"]))
    months, actual = _monthly_actuals(tl, contacts, funnel, eur, cutoff)
    write("targets", f"{stamp}_export", targets_table(tl, months, actual, rng["tables"]))
    write("fx_rates", f"{stamp}_export", fx_table(tl, eur))

    truth = {
        "generator_version": GENERATOR_VERSION,
        "profile": prof.name,
        "seed": seed,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        "days": n_days,
        "crm_history_start": tl.sim_start.isoformat(),
        "reporting_currency": REPORTING_CURRENCY,
        "formats": formats,
        "scenarios": [truth_record(s) for s in specs if s.name != "null"],
        "row_counts": rows,
        "files": files,
        "restatement": {
            "file": files["ads_daily"][-1],
            "platforms": list(RESTATED_PLATFORMS),
            "first_date": (end - timedelta(days=RESTATED_DAYS - 1)).isoformat(),
            "last_date": end.isoformat(),
            "rows": ads_restated.num_rows,
        },
        "totals": {
            **_ads_truth(tl, ads_final, eur),
            **_web_truth(tl, sessions),
            **_crm_truth(tl, contacts, funnel, eur, cutoff),
            "social_posts_published": int(_in_window(tl, posts.publish_ms).sum()),
        },
        "monthly_system_factors": {
            tl.month_start(m).strftime("%Y-%m"): {
                "page_load": round(float(factors["page_load"][m]), 3),
                "response_time": round(float(factors["response"][m]), 3),
            }
            for m in months
        },
        "channel_rules": CHANNEL_RULES,
    }
    (Path(out) / "ground_truth.json").write_text(
        json.dumps(truth, indent=2) + "\n", encoding="utf-8"
    )
    return truth


__all__ = ["DEFAULT_END_DATE", "generate"]
