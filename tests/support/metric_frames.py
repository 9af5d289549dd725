"""Hand-built metric_series frames and the metric_catalog they belong to (no database, no Dagster).

The synthetic frames mimic the warehouse: four channels plus the total, 20 weeks of day rows for
control metrics (weekday pattern, week-level shocks, negative-binomial noise) summed into week
rows, and week rows for the meaning metrics, with lead_to_sql_rate immature for cohorts younger
than 28 days and early_lead_to_sql_rate (day and week rows) for cohorts younger than 7 days.
Scenarios multiply one channel's metrics from an onset day, like `firewatch generate --scenario`.
Used by the detection, z-score, rules and security tests.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pandas as pd

from dagster_project.divergence.periods import period_end

START = date(2025, 5, 12)  # a Monday
WEEKS = 20
AS_OF = START + timedelta(days=7 * WEEKS - 1)  # Sunday 2025-09-28, the last day of data
SQL_LAG = 28
EARLY_LAG = 7
EARLY_SHARE = 0.4  # of the 28-day SQLs, those within 7 days

# (metric_id, layer, label, unit, good, owner, lag, numerator, denominator, dims, grains)
_CATALOG = [
    ("spend", "control", "Ad spend", "currency", "down", "performance_marketing", 0,
     "spend", None, "total,channel,platform,campaign", "day,week,month"),
    ("impressions", "control", "Ad impressions (reach)", "count", "up", "performance_marketing",
     0, "impressions", None, "total,channel,platform,campaign", "day,week,month"),
    ("ad_engagements", "control", "Ad engagements", "count", "up", "performance_marketing", 0,
     "ad_engagements", None, "total,channel,platform,campaign", "day,week,month"),
    ("sessions", "control", "Sessions", "count", "up", "web_analytics", 0, "sessions", None,
     "total,channel,campaign", "day,week,month"),
    ("leads", "control", "Leads", "count", "up", "demand_generation", 0, "leads", None,
     "total,channel", "day,week,month"),
    ("customers", "control", "New customers", "count", "up", "sales_ops", 0, "customers", None,
     "total,channel", "day,week,month"),
    ("revenue", "control", "Won revenue", "currency", "up", "revenue_operations", 0, "revenue",
     None, "total,channel", "day,week,month"),
    ("cac", "control", "Customer acquisition cost", "currency", "down", "performance_marketing",
     0, "spend", "customers", "total,channel", "day,week,month"),
    ("engagement_rate", "meaning", "Engaged-session rate", "ratio", "up", "web_analytics", 0,
     "engaged_sessions", "sessions", "total,channel,campaign", "week,month"),
    ("returning_visitor_share", "meaning", "Returning-visitor share", "ratio", "up", "content",
     0, "returning_visitors", "visitors", "total,channel", "week,month"),
    ("lead_to_sql_rate", "meaning", "Lead-to-SQL rate within 28 days", "ratio", "up",
     "demand_generation", SQL_LAG, "sql_within_window", "leads", "total,channel", "week,month"),
    ("early_lead_to_sql_rate", "meaning", "Lead-to-SQL rate within 7 days", "ratio", "up",
     "demand_generation", EARLY_LAG, "sql_within_early_window", "leads", "total,channel",
     "day,week,month"),
]  # fmt: skip


def synthetic_catalog() -> pd.DataFrame:
    """The warehouse's metric_catalog columns for the metrics the built-in rules use."""
    cols = [
        "metric_id",
        "layer",
        "label",
        "unit",
        "good_direction",
        "owner",
        "maturity_lag_days",
        "numerator_component",
        "denominator_component",
        "dimensions",
        "grains",
    ]
    frame = pd.DataFrame(_CATALOG, columns=cols)
    frame["is_additive"] = frame["denominator_component"].isna() & frame["unit"].isin(
        ["count", "currency"]
    )
    return frame


# Mean per day. Paid search reports no engagements; organic search buys nothing. Volumes are
# those of a mid-sized B2B advertiser (100-140 leads a week on the bigger channels); customer
# counts are on the high side so that CAC and "sales flat" rules have something to test.
_CHANNELS = {
    "paid_social": dict(impressions=14000, ad_engagements=90, spend=900, sessions=260, leads=20,
                        customers=5.0, deal=1500),
    "linkedin": dict(impressions=9000, ad_engagements=60, spend=700, sessions=160, leads=11,
                     customers=2.5, deal=2500),
    "paid_search": dict(impressions=6000, ad_engagements=0, spend=2000, sessions=320, leads=16,
                        customers=6.0, deal=1800),
    "organic_search": dict(impressions=0, ad_engagements=0, spend=0, sessions=520, leads=20,
                           customers=3.0, deal=1700),
}  # fmt: skip
ENGAGED, VISITOR, RETURNING, SQL_RATE = 0.55, 0.8, 0.35, 0.25

# Scenario name -> (multipliers of day means from onset, extra idle sessions, extra new sessions,
# lead-quality multiplier), for magnitude m.
SCENARIOS = {
    "engagement_up_quality_down": lambda m: ({"ad_engagements": 1 + m}, 0, 0, 1 - m),
    "engagement_up_cac_up": lambda m: ({"ad_engagements": 1 + m, "spend": 1 + m}, 0, 0, 1),
    "reach_up_sales_flat": lambda m: ({"impressions": 1 + m}, 0, 0, 1),
    "clicks_up_nobody_stays": lambda m: ({}, m, 0, 1),
    "leads_up_quality_down": lambda m: ({"leads": 1 + m}, 0, 0, 1 - m),
    "traffic_up_returning_down": lambda m: ({}, 0, m, 1),
    "spend_up_revenue_flat": lambda m: ({"spend": 1 + m}, 0, 0, 1),
}


def make_series(
    seed: int,
    scenario: str | None = None,
    channel: str = "paid_social",
    onset: date | None = None,
    magnitude: float = 0.4,
    mature_flags: bool = True,
) -> pd.DataFrame:
    """A metric_series frame: day and week rows, channels and total. The noise is drawn in the
    same order with or without a scenario, so a scenario run and a null run share it."""
    rng = np.random.default_rng(seed)
    n = 7 * WEEKS
    days = [START + timedelta(days=i) for i in range(n)]
    week_of_day = np.arange(n) // 7
    weekday = np.array([d.weekday() for d in days])
    dow = np.where(weekday >= 5, 0.7, 1.12)  # weekends are quieter
    onset_idx = (onset - START).days if onset else n
    after = np.arange(n) >= onset_idx
    comp: dict[str, dict[str, np.ndarray]] = {}
    for ch, prof in _CHANNELS.items():
        mults, idle, new, quality = (
            SCENARIOS[scenario](magnitude) if scenario and ch == channel else ({}, 0, 0, 1)
        )

        def mult(name: str, mults: dict = mults) -> np.ndarray:
            return np.where(after, mults.get(name, 1.0), 1.0)

        shock = rng.lognormal(0.0, 0.05, WEEKS)[week_of_day]  # campaign-level week shocks

        def nb(mean: np.ndarray, k: float = 40.0) -> np.ndarray:
            mu = np.maximum(mean, 1e-9)
            return rng.negative_binomial(k, k / (k + mu)).astype(float)

        base = {name: prof[name] * dow * shock for name in ("impressions", "ad_engagements")}
        c: dict[str, np.ndarray] = {}
        c["impressions"] = nb(base["impressions"] * mult("impressions"))
        c["ad_engagements"] = nb(base["ad_engagements"] * mult("ad_engagements"))
        c["spend"] = prof["spend"] * dow * shock * mult("spend") * rng.lognormal(0, 0.06, n)
        sessions = nb(prof["sessions"] * dow * shock)
        extra_idle = nb(prof["sessions"] * dow * idle * after)
        extra_new = nb(prof["sessions"] * dow * new * after)
        c["sessions"] = sessions + extra_idle + extra_new
        c["engaged_sessions"] = rng.binomial((sessions + extra_new).astype(int), ENGAGED) * 1.0
        visitors = rng.binomial(sessions.astype(int), VISITOR) * 1.0
        idle_visitors = rng.binomial(extra_idle.astype(int), VISITOR) * 1.0
        c["returning_visitors"] = rng.binomial((visitors + idle_visitors).astype(int), RETURNING)
        c["visitors"] = visitors + idle_visitors + extra_new  # the extra new ones are all new
        c["leads"] = nb(prof["leads"] * dow * mult("leads"))
        q = np.where(after, quality, 1.0) * rng.lognormal(0, 0.04, WEEKS)[week_of_day]
        c["sql_within_window"] = rng.binomial(c["leads"].astype(int), SQL_RATE * q) * 1.0
        c["customers"] = nb(prof["customers"] * dow, k=30.0)
        deals = rng.gamma(np.maximum(2 * c["customers"], 1e-9), prof["deal"] / 2)
        c["revenue"] = np.where(c["customers"] > 0, deals, 0.0)
        # Its own stream, so adding the early rate left every other draw as it was.
        early_rng = np.random.default_rng([seed, len(comp)])
        c["sql_within_early_window"] = (
            early_rng.binomial(c["sql_within_window"].astype(int), EARLY_SHARE) * 1.0
        )
        comp[ch] = c
    comp["total"] = {k: sum(comp[ch][k] for ch in _CHANNELS) for k in comp["paid_social"]}

    frames = []
    week_starts = days[::7]
    for value, c in comp.items():
        dim = "total" if value == "total" else "channel"
        for metric_id, layer, _, _, _, _, lag, num, den, _dims, grains in _CATALOG:
            if value != "total" and np.all(c[num] == 0) and metric_id != "cac":
                continue  # channels without ads publish no ads rows
            for grain in grains.split(","):
                if grain == "month":
                    continue
                if grain == "day":
                    starts, nums = days, c[num]
                    dens = c[den] if den else np.full(n, np.nan)
                else:
                    starts = week_starts
                    nums = c[num].reshape(WEEKS, 7).sum(axis=1)
                    dens = c[den].reshape(WEEKS, 7).sum(axis=1) if den else np.full(WEEKS, np.nan)
                mature = np.ones(len(starts), dtype=bool)
                if lag:
                    sql_age = np.array([(AS_OF - period_end(p, grain)).days for p in starts])
                    mature = sql_age >= lag
                    # Cohorts still ageing have only part of their SQLs so far.
                    share = np.clip(sql_age / lag, 0.0, 1.0)
                    nums = np.where(mature, nums, np.floor(nums * share))
                    if not mature_flags:
                        mature = np.ones(len(starts), dtype=bool)
                with np.errstate(divide="ignore", invalid="ignore"):
                    values = nums / dens if den else nums
                frames.append(
                    pd.DataFrame(
                        {
                            "metric_id": metric_id,
                            "grain": grain,
                            "period_start": starts,
                            "dimension": dim,
                            "dimension_value": value,
                            "numerator": nums,
                            "denominator": dens,
                            "value": values,
                            "layer": layer,
                            "is_mature": mature,
                            "is_complete_period": True,
                        }
                    )
                )
    return pd.concat(frames, ignore_index=True)


# Age at SQL (days from creation) of the leads that reach SQL within SQL_LAG days: most within
# the first two weeks, as in the CRM data the generator makes.
_SQL_AGE_P = np.exp(-np.arange(SQL_LAG) / 8.0) / np.exp(-np.arange(SQL_LAG) / 8.0).sum()


def make_cohorts(
    series: pd.DataFrame,
    seed: int,
    scenario: str | None = None,
    channel: str = "paid_social",
    onset: date | None = None,
    magnitude: float = 0.4,
) -> pd.DataFrame:
    """A lead_cohort_ages frame for `series` (make_series' frame with the same scenario): each
    channel's day leads reach SQL with probability SQL_RATE (times the scenario's quality
    multiplier from onset), at an age drawn from _SQL_AGE_P; an SQL after AS_OF is not known
    yet (its leads sit in the null row)."""
    rng = np.random.default_rng([seed, 99])
    leads = series[(series.metric_id == "leads") & (series.grain == "day")]
    quality = SCENARIOS[scenario](magnitude)[3] if scenario else 1.0
    rows: list[tuple[date, str, str, float, float]] = []
    by_total: dict[tuple[date, float], float] = {}
    for row in leads[leads.dimension == "channel"].itertuples():
        day, n = row.period_start, int(row.numerator)
        q = quality if row.dimension_value == channel and onset and day >= onset else 1.0
        reached = rng.multinomial(rng.binomial(n, SQL_RATE * q), _SQL_AGE_P)
        known = np.arange(SQL_LAG) <= (AS_OF - day).days
        counts = {float(age): float(k) for age, k in enumerate(reached) if k and known[age]}
        counts[math.nan] = n - sum(counts.values())
        for age, k in counts.items():
            if k:
                rows.append((day, "channel", row.dimension_value, age, k))
                key = (day, age if not math.isnan(age) else -1.0)
                by_total[key] = by_total.get(key, 0.0) + k
    for (day, age), k in by_total.items():
        rows.append((day, "total", "total", math.nan if age < 0 else age, k))
    return pd.DataFrame(
        rows,
        columns=["cohort_date", "dimension", "dimension_value", "age_at_sql_days", "lead_count"],
    )
