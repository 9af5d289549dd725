"""Labelled changes injected into the sample data: which metric leads, which outcome follows,
and the per-channel, per-day multipliers the simulators apply after a scenario's onset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Literal

import numpy as np

from .channels import CHANNEL_INDEX, CHANNELS, PLATFORM_OF_CHANNEL, SOCIAL_PLATFORMS
from .timeline import Timeline

Direction = Literal["up", "down", "flat"]

DEFAULT_CHANNEL = "paid_social"
DEFAULT_ONSET_DAYS = 35  # before end_date
DEFAULT_MAGNITUDE = 0.4


@dataclass(frozen=True)
class ScenarioSpec:
    """One injected change: `magnitude` 0.4 means the leading metric moves by +40%."""

    name: str
    channel: str = DEFAULT_CHANNEL
    onset: date | None = None  # None: DEFAULT_ONSET_DAYS before the end date
    magnitude: float = DEFAULT_MAGNITUDE


@dataclass(frozen=True)
class ScenarioKind:
    """What a scenario does and what the pipeline should see; `needs` restricts channels."""

    leading_metric: str
    outcome_metric: str
    leading_direction: Direction
    outcome_direction: Direction
    needs: Literal["any", "paid", "social_ads"]
    description: str


KINDS: dict[str, ScenarioKind] = {
    "engagement_up_quality_down": ScenarioKind(
        "ad_engagements",
        "lead_to_sql_rate",
        "up",
        "down",
        "social_ads",
        "ad reactions/comments/shares and time on site up; new leads of the channel reach SQL "
        "less often",
    ),
    "engagement_up_cac_up": ScenarioKind(
        "ad_engagements",
        "cac",
        "up",
        "up",
        "social_ads",
        "ad engagement, time on site and spend up; customers flat, so CAC rises",
    ),
    "reach_up_sales_flat": ScenarioKind(
        "impressions",
        "customers",
        "up",
        "flat",
        "paid",
        "impressions up at the same clicks; customers and revenue unchanged",
    ),
    "clicks_up_nobody_stays": ScenarioKind(
        "sessions",
        "engagement_rate",
        "up",
        "down",
        "any",
        "clicks and sessions up, but the extra sessions are not engaged",
    ),
    "leads_up_quality_down": ScenarioKind(
        "leads",
        "lead_to_sql_rate",
        "up",
        "down",
        "any",
        "more leads from the channel, and fewer of its new leads reach SQL",
    ),
    "traffic_up_returning_down": ScenarioKind(
        "sessions",
        "returning_visitor_share",
        "up",
        "down",
        "any",
        "extra sessions from first-time visitors, so the returning share falls",
    ),
    "spend_up_revenue_flat": ScenarioKind(
        "spend",
        "revenue",
        "up",
        "flat",
        "paid",
        "spend up at the same clicks; revenue unchanged",
    ),
}
SCENARIO_NAMES: tuple[str, ...] = ("null", *KINDS)


def _check(spec: ScenarioSpec) -> None:
    if spec.name not in SCENARIO_NAMES:
        raise ValueError(
            f"unknown scenario {spec.name!r}; choose one of {', '.join(SCENARIO_NAMES)}"
        )
    if spec.channel not in CHANNEL_INDEX:
        raise ValueError(f"unknown channel {spec.channel!r}; choose one of {', '.join(CHANNELS)}")
    if not 0.0 < spec.magnitude <= 5.0:
        raise ValueError(f"scenario magnitude must be in (0, 5], got {spec.magnitude}")
    if spec.name == "null":
        return
    needs = KINDS[spec.name].needs
    platform = PLATFORM_OF_CHANNEL.get(spec.channel)
    if needs == "paid" and platform is None:
        paid = ", ".join(PLATFORM_OF_CHANNEL)
        raise ValueError(f"scenario {spec.name} needs a paid channel ({paid}), not {spec.channel}")
    if needs == "social_ads" and platform not in SOCIAL_PLATFORMS:
        raise ValueError(
            f"scenario {spec.name} needs a channel whose ads report engagement "
            f"(paid_social, linkedin), not {spec.channel}"
        )


def parse_scenario(text: str, end_date: date) -> ScenarioSpec:
    """Parse ``name[:channel[:YYYY-MM-DD[:magnitude]]]``; empty parts take the defaults."""
    parts = text.strip().split(":")
    if len(parts) > 4 or not parts[0]:
        raise ValueError(f"bad scenario {text!r}: expected name[:channel[:YYYY-MM-DD[:magnitude]]]")
    parts += [""] * (4 - len(parts))
    name, channel, onset_text, magnitude_text = parts
    try:
        onset = date.fromisoformat(onset_text) if onset_text else None
        magnitude = float(magnitude_text) if magnitude_text else DEFAULT_MAGNITUDE
    except ValueError as exc:
        raise ValueError(f"bad scenario {text!r}: {exc}") from None
    spec = ScenarioSpec(
        name,
        channel or DEFAULT_CHANNEL,
        onset or end_date - timedelta(days=DEFAULT_ONSET_DAYS),
        magnitude,
    )
    _check(spec)
    return spec


def resolve(spec: ScenarioSpec, tl: Timeline) -> ScenarioSpec:
    """The spec with its default onset filled in, checked against the generated window."""
    _check(spec)
    onset = spec.onset or tl.end - timedelta(days=DEFAULT_ONSET_DAYS)
    if not tl.start < onset <= tl.end:
        raise ValueError(
            f"scenario {spec.name} onset {onset} is outside the window ({tl.start} .. {tl.end}]"
        )
    return ScenarioSpec(spec.name, spec.channel, onset, spec.magnitude)


@dataclass
class Effects:
    """Multipliers per channel (rows, CHANNELS order) and simulated day (columns).

    extra_idle / extra_new are extra sessions (as a fraction of the normal ones): idle ones are
    never engaged, new ones come from first-time visitors.
    """

    impressions: np.ndarray
    ad_engagement: np.ndarray
    spend: np.ndarray
    extra_idle: np.ndarray
    extra_new: np.ndarray
    engagement_time: np.ndarray
    leads: np.ndarray
    lead_quality: np.ndarray

    @classmethod
    def build(cls, specs: list[ScenarioSpec], tl: Timeline) -> Effects:
        shape = (len(CHANNELS), tl.n_days)
        one, zero = np.ones(shape), np.zeros(shape)
        fx = cls(one.copy(), one.copy(), one.copy(), zero.copy(), zero.copy(), one.copy(),
                 one.copy(), one.copy())  # fmt: skip
        for s in specs:
            if s.name == "null":
                continue
            assert s.onset is not None
            c, d, m = CHANNEL_INDEX[s.channel], tl.index(s.onset), s.magnitude
            worse = max(1.0 - m, 0.05)  # lead quality cannot go below zero
            if s.name in ("engagement_up_quality_down", "engagement_up_cac_up"):
                fx.ad_engagement[c, d:] *= 1 + m
                fx.engagement_time[c, d:] *= 1 + m
            if s.name in ("engagement_up_quality_down", "leads_up_quality_down"):
                fx.lead_quality[c, d:] *= worse
            if s.name in ("engagement_up_cac_up", "spend_up_revenue_flat"):
                fx.spend[c, d:] *= 1 + m
            if s.name == "reach_up_sales_flat":
                fx.impressions[c, d:] *= 1 + m
            if s.name == "clicks_up_nobody_stays":
                fx.extra_idle[c, d:] += m
            if s.name == "traffic_up_returning_down":
                fx.extra_new[c, d:] += m
            if s.name == "leads_up_quality_down":
                fx.leads[c, d:] *= 1 + m
        return fx


def expected_changes(spec: ScenarioSpec) -> dict[str, float]:
    """Relative change of each affected metric on the scenario's channel after onset."""
    m = spec.magnitude
    worse = max(1.0 - m, 0.05) - 1.0
    return {
        "engagement_up_quality_down": {"ad_engagements": m, "lead_to_sql_rate": worse},
        "engagement_up_cac_up": {"ad_engagements": m, "spend": m, "customers": 0.0, "cac": m},
        "reach_up_sales_flat": {"impressions": m, "customers": 0.0, "revenue": 0.0},
        "clicks_up_nobody_stays": {"sessions": m, "engagement_rate": 1 / (1 + m) - 1},
        "leads_up_quality_down": {"leads": m, "lead_to_sql_rate": worse},
        "traffic_up_returning_down": {"sessions": m, "returning_visitor_share": 1 / (1 + m) - 1},
        "spend_up_revenue_flat": {"spend": m, "revenue": 0.0},
    }[spec.name]


def truth_record(spec: ScenarioSpec) -> dict[str, object]:
    """The ground-truth entry of one (resolved, non-null) scenario."""
    kind = KINDS[spec.name]
    changes = expected_changes(spec)
    assert spec.onset is not None
    return {
        "name": spec.name,
        "channel": spec.channel,
        "platform": PLATFORM_OF_CHANNEL.get(spec.channel),
        "onset": spec.onset.isoformat(),
        "magnitude": spec.magnitude,
        "leading_metric": kind.leading_metric,
        "outcome_metric": kind.outcome_metric,
        "leading_direction": kind.leading_direction,
        "outcome_direction": kind.outcome_direction,
        "expected_leading_change": round(changes[kind.leading_metric], 4),
        "expected_outcome_change": round(changes[kind.outcome_metric], 4),
        "expected_changes": {k: round(v, 4) for k, v in changes.items()},
        "description": kind.description,
    }
