"""The oracle of the lead-quality benchmark (issue 13): the best a test could do on a run. It
knows the onset and the channel, and on each night from the onset compares that channel's
cohorts since the onset with the 84 days of cohorts before it, every cohort seen to the night
(the censored comparison of `divergence/censored.py` with exact binomial counts and no
over-dispersion, no leading metric, no volume floor, no multiple testing). It alarms when its
p-value is at most alpha; alpha is set on null runs (`alpha_at`) so that it raises false alarms
as often as the project's rules do.
"""

from __future__ import annotations

import dataclasses
from datetime import date, timedelta

import numpy as np

from dagster_project.divergence.censored import CohortAges, censored_sums, censored_test

BASELINE_DAYS = 84
HORIZON = 28  # lead_to_sql_rate's window: the oracle sees SQLs up to this age
WATCH_NIGHTS = 28  # nights from the onset on which it may alarm (recall within 28 days)


def oracle_p_values(ages: CohortAges, onset: date, last_night: date) -> list[float]:
    """The oracle's p-value on each night from `onset` to `last_night` (1.0 when it cannot
    judge yet)."""
    out: list[float] = []
    start = onset.toordinal()
    baseline = (start - BASELINE_DAYS, start - 1)
    night = onset
    while night <= last_night:
        sums = censored_sums(ages, night.toordinal(), (start, night.toordinal()), baseline, HORIZON)
        if isinstance(sums, str):
            out.append(1.0)
        else:
            exact = dataclasses.replace(sums, dispersion=1.0)
            result = censored_test(exact, alternative="smaller")
            out.append(float(result.numbers.get("exact_p_value", result.p_value)))
        night += timedelta(days=1)
    return out


def alpha_at(null_min_p: list[float], false_alarm_share: float) -> float:
    """The largest alpha at which the oracle alarms on at most `false_alarm_share` of the null
    watches (each watch's smallest p-value over its nights)."""
    if not null_min_p:
        return 0.0
    ordered = np.sort(np.asarray(null_min_p))
    allowed = int(np.floor(false_alarm_share * len(ordered)))
    if allowed >= len(ordered):
        return 1.0
    # alarms at p <= alpha: alpha just below the (allowed+1)-th smallest keeps `allowed` alarms
    return float(np.nextafter(ordered[allowed], 0.0))


def first_alarm(p_values: list[float], alpha: float, within: int = WATCH_NIGHTS) -> int | None:
    """Days from the onset to the oracle's first alarm within `within` nights, or None."""
    for day, p in enumerate(p_values[: within + 1]):
        if p <= alpha:
            return day
    return None
