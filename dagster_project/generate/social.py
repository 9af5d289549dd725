"""Organic social posts and their daily lifetime-counter snapshots (`social_posts`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa

from .timeline import MS_PER_DAY, Timeline
from .writer import make_table

SNAPSHOT_DAYS = 14
PLATFORMS = ("linkedin", "facebook", "instagram")
PLATFORM_WEIGHTS = np.array([0.5, 0.25, 0.25])
# Median lifetime impressions per post at the small profile's audience size.
MEDIAN_IMPRESSIONS = np.array([3_000.0, 1_500.0, 2_000.0])
RATES = {"reactions": 0.025, "comments": 0.004, "shares": 0.0025}
REPLY_SHARE = 0.6  # of comments the company answers
IRREGULAR_WEEKS = 0.15
GROWTH_DAYS = 1.8  # a post gets most of its reach in its first two days


@dataclass
class Posts:
    publish_ms: np.ndarray
    platform: np.ndarray
    impressions: np.ndarray  # lifetime totals the snapshots converge to
    reactions: np.ndarray
    comments: np.ndarray
    shares: np.ndarray


def simulate_posts(tl: Timeline, audience: float, rng: np.random.Generator) -> Posts:
    """2-5 posts a week on working days; some weeks irregular (none, one, or a burst of 7)."""
    days: list[int] = []
    for monday in range(-int(tl.weekday[0]), tl.n_days, 7):
        if rng.random() < IRREGULAR_WEEKS:
            k = int(rng.choice([0, 1, 7]))
            pool = np.arange(7)
        else:
            k = int(rng.integers(2, 6))
            pool = np.arange(5)
        chosen = np.sort(rng.choice(pool, size=min(k, len(pool)), replace=False))
        days += [monday + int(x) for x in chosen if 0 <= monday + x < tl.n_days]
    d = np.array(days, dtype=np.int64)
    n = len(d)
    publish = tl.day_ms[d] + rng.integers(13 * 3_600_000, 18 * 3_600_000, n) // 1000 * 1000
    platform = rng.choice(len(PLATFORMS), n, p=PLATFORM_WEIGHTS)
    impressions = np.round(
        rng.lognormal(np.log(MEDIAN_IMPRESSIONS[platform] * np.sqrt(audience)), 0.6)
    )
    return Posts(
        publish,
        platform,
        impressions,
        *(np.round(impressions * rng.lognormal(np.log(r), 0.5, n)) for r in RATES.values()),
    )


def activity(tl: Timeline, posts: Posts) -> np.ndarray:
    """Organic-social traffic multiplier per day: posting in the last week brings visitors."""
    per_day = np.bincount((posts.publish_ms - tl.day_ms[0]) // MS_PER_DAY, minlength=tl.n_days)
    last_week = np.convolve(per_day, np.ones(7))[: tl.n_days]
    mean = max(last_week.mean(), 1e-9)
    return 0.7 + 0.3 * np.minimum(last_week / mean, 2.5)


def _post_ids(platform: np.ndarray, rng: np.random.Generator) -> list[str]:
    num = rng.integers(10**14, 10**15, len(platform))
    fmt = ("urn:li:share:7{:018d}", "104857600123_{:d}", "178{:014d}")
    return [fmt[p].format(x) for p, x in zip(platform.tolist(), num.tolist(), strict=True)]


def snapshots_table(tl: Timeline, posts: Posts, rng: np.random.Generator) -> pa.Table:
    """One row per post published in the window and day 0..13 after it, up to end_date."""
    ids = np.array(_post_ids(posts.platform, rng), dtype=object)
    first = tl.day_ms[tl.window_offset]
    last = tl.day_ms[-1]
    keep = np.flatnonzero(posts.publish_ms >= first)
    k = np.arange(SNAPSHOT_DAYS)
    share = 1.0 - np.exp(-(k + 1) / GROWTH_DAYS)
    share /= share[-1]
    step = np.diff(np.concatenate([[0.0], share]))
    rows: dict[str, list] = {c: [] for c in ("p", "day", "imp", "rea", "com", "sha", "rep")}
    for i in keep:
        pub_day = posts.publish_ms[i] // MS_PER_DAY * MS_PER_DAY
        n = int(min(SNAPSHOT_DAYS, (last - pub_day) // MS_PER_DAY + 1))
        # Daily increments are drawn and summed, so the lifetime counters never go down.
        counts = {
            key: np.cumsum(rng.poisson(getattr(posts, attr)[i] * step))[:n]
            for key, attr in (("imp", "impressions"), ("rea", "reactions"), ("com", "comments"),
                              ("sha", "shares"))
        }  # fmt: skip
        new_comments = np.diff(np.concatenate([[0], counts["com"]]))
        rows["rep"].append(np.cumsum(rng.binomial(new_comments, REPLY_SHARE)))
        rows["p"].append(np.full(n, i))
        rows["day"].append(pub_day + k[:n] * MS_PER_DAY)
        for key in ("imp", "rea", "com", "sha"):
            rows[key].append(counts[key])
    cols = {key: np.concatenate(v) if v else np.zeros(0, np.int64) for key, v in rows.items()}
    p = cols["p"].astype(np.int64)
    return make_table(
        "social_posts",
        {
            "platform": list(np.array(PLATFORMS, dtype=object)[posts.platform[p]]),
            "post_id": list(ids[p]),
            "published_at": posts.publish_ms[p],
            "snapshot_date": (cols["day"] // MS_PER_DAY).astype("datetime64[D]"),
            "impressions": cols["imp"].astype(np.int64),
            "reactions": cols["rea"].astype(np.int64),
            "comments": cols["com"].astype(np.int64),
            "shares": cols["sha"].astype(np.int64),
            "replies": cols["rep"].astype(np.int64),
        },
    )
