"""Lead quality judged from every cohort (divergence/censored.py, issue 13 item 1): the
Kaplan-Meier pace by age, the expected SQLs of young cohorts, the conditional binomial test, and
its calibration on simulated cohorts."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from dagster_project.divergence.censored import (
    CohortAges,
    censored_sums,
    censored_test,
    cumulative_share,
    index_cohorts,
)

NIGHT = date(2025, 9, 28).toordinal()
NAN = math.nan


def _ages(rows: list[tuple[int, float, float]]) -> CohortAges:
    """(days before NIGHT, age at SQL or NaN, leads) rows as CohortAges."""
    rows = sorted(rows, key=lambda r: -r[0])
    return CohortAges(
        np.array([NIGHT - r[0] for r in rows], dtype=np.int64),
        np.array([r[1] for r in rows], dtype=float),
        np.array([r[2] for r in rows], dtype=float),
    )


# Baseline: cohorts 17 and 4 days old; window: cohorts 3, 1 and 0 days old. An SQL at an age the
# cohort has not reached (6 for the 4-day cohort, 5 for the 3-day one) is not known on NIGHT.
HAND = [
    (17, 1.0, 2), (17, 3.0, 1), (17, NAN, 7),
    (4, 1.0, 1), (4, 6.0, 1), (4, NAN, 3),
    (3, 2.0, 1), (3, 5.0, 1), (3, NAN, 8),
    (1, 1.0, 2), (1, NAN, 18),
    (0, NAN, 10),
]  # fmt: skip
WINDOW = (NIGHT - 3, NIGHT)
BASELINE = (NIGHT - 17, NIGHT - 4)


def test_kaplan_meier_pace_by_age_by_hand() -> None:
    # Baseline leads as (time, event, weight): the 4-day cohort's lead with an SQL at age 6 is
    # censored at 4. At age 1: 15 at risk, 3 SQLs -> S = 12/15 = 0.8. At age 3: 12 at risk (the
    # censored ones are still at risk), 1 SQL -> S = 0.8 * 11/12.
    times = np.array([1, 3, 17, 1, 4, 4], dtype=float)
    events = np.array([1, 1, 0, 1, 0, 0], dtype=bool)
    weights = np.array([2, 1, 7, 1, 1, 3], dtype=float)
    share = cumulative_share(times, events, weights)
    s3 = 0.8 * 11 / 12
    assert share[:5] == pytest.approx([0.0, 0.2, 0.2, 1 - s3, 1 - s3])
    assert share[-1] == pytest.approx(1 - s3) and len(share) == 18


def test_expected_sqls_of_young_cohorts_and_the_test_by_hand() -> None:
    sums = censored_sums(_ages(HAND), NIGHT, WINDOW, BASELINE, horizon=28)
    assert not isinstance(sums, str)
    f1, f3 = 0.2, 1 - 0.8 * 11 / 12  # the pace by age 1 and by age 3 (test above)
    # the newborn cohort expects nothing; 20 leads of age 1 expect 20 * F(1); 10 of age 3, 10 * F(3)
    assert sums.expected == pytest.approx(20 * f1 + 10 * f3)
    assert sums.observed == 3  # 2 at age 1, 1 at age 2; the SQL at age 5 is not known yet
    assert sums.window_leads == 40 and sums.base_leads == 15
    assert sums.base_events == 4
    assert sums.base_expected == pytest.approx(10 * f3 + 5 * f3)  # ages 17 and 4: both F(3)
    assert sums.horizon_rate == pytest.approx(f3)
    result = censored_test(sums, alternative="smaller")
    pace_window, pace_base = 3 / sums.expected, 4 / sums.base_expected
    assert result.relative_change == pytest.approx(pace_window / pace_base - 1)  # -0.55
    assert result.relative_change == pytest.approx(-0.55)
    # Conditionally on the 7 SQLs of both sides, the window holds Binomial(7, E / (E + B_exp))
    share = sums.expected / (sums.expected + sums.base_expected)
    z = (3 - 7 * share) / math.sqrt(7 * share * (1 - share))
    assert result.statistic == pytest.approx(z)
    exact = sum(math.comb(7, k) * share**k * (1 - share) ** (7 - k) for k in range(4))
    assert result.numbers["exact_p_value"] == pytest.approx(exact)
    normal = 0.5 * math.erfc(-z / math.sqrt(2))  # the two blocks vary less than Poisson: phi 1
    assert result.p_value == pytest.approx(max(exact, normal))
    assert result.p_value == pytest.approx(0.2430, abs=5e-4)


def test_a_newborn_cohort_is_never_a_drop() -> None:
    # 100 leads created tonight, none an SQL yet: the baseline never reached SQL on day 0, so
    # nothing is expected of them, and nothing is concluded.
    rows = [r for r in HAND if r[0] >= 4] + [(0, NAN, 100)]
    sums = censored_sums(_ages(rows), NIGHT, WINDOW, BASELINE, horizon=28)
    assert not isinstance(sums, str)
    assert (sums.expected, sums.observed, sums.window_leads) == (0.0, 0.0, 100.0)
    result = censored_test(sums, alternative="smaller")
    assert result.p_value == 1.0 and math.isnan(result.relative_change)


def test_no_baseline_sql_is_a_skip_not_a_test() -> None:
    rows = [(17, NAN, 10), (4, NAN, 5), (1, 1.0, 2)]
    assert censored_sums(_ages(rows), NIGHT, WINDOW, BASELINE, horizon=28) == "no_baseline"


def test_index_cohorts_splits_by_dimension_value() -> None:
    frame = pd.DataFrame(
        {
            "cohort_date": ["2025-09-02", "2025-09-01", "2025-09-01"],
            "dimension": ["channel", "channel", "total"],
            "dimension_value": ["email", "email", "total"],
            "age_at_sql_days": [None, 3, 3],
            "lead_count": [4, 2, 2],
        }
    )
    by_value = index_cohorts(frame)
    assert set(by_value) == {("channel", "email"), ("total", "total")}
    email = by_value[("channel", "email")]
    assert list(email.cohorts) == [date(2025, 9, 1).toordinal(), date(2025, 9, 2).toordinal()]
    assert email.sql_age[0] == 3 and math.isnan(email.sql_age[1])
    assert list(email.leads) == [2, 4]


def _simulated(rng: np.random.Generator, per_day: int, drop: float) -> CohortAges:
    """98 days of cohorts (84 baseline, 14 window) of `per_day` leads; 30% reach SQL within 28
    days at a geometric age (mean about 8 days); the window's leads `drop` times less often."""
    rows = []
    for back in range(98):
        rate = 0.3 * (1 - drop if back < 14 else 1.0)
        n = rng.poisson(per_day)
        sql = rng.binomial(n, rate)
        ages = np.minimum(rng.geometric(1 / 8, sql) - 1, 27)
        for age in ages:
            rows.append((back, float(age), 1.0))
        rows.append((back, NAN, float(n - sql)))
    return _ages(rows)


def test_calibrated_on_unchanged_cohorts_and_powerful_on_a_drop() -> None:
    rng = np.random.default_rng(7)

    def p_value(per_day: int, drop: float) -> float:
        sums = censored_sums(
            _simulated(rng, per_day, drop),
            NIGHT,
            (NIGHT - 13, NIGHT),
            (NIGHT - 97, NIGHT - 14),
            horizon=28,
        )
        assert not isinstance(sums, str)
        return censored_test(sums, alternative="smaller").p_value

    null = np.array([p_value(10, 0.0) for _ in range(300)])
    # never surer than it should be: at most about 5% below 0.05 when nothing changed (300
    # draws: 0.075 is 1.6 standard errors above 0.05), and not blind either
    assert (null <= 0.05).mean() <= 0.075
    assert (null <= 0.5).mean() >= 0.3
    # a 50% drop on 20 leads a day (young cohorts only: ages 0-13) is seen most of the time
    drop = np.array([p_value(20, 0.5) for _ in range(100)])
    assert (drop <= 0.05).mean() >= 0.8
