"""The Elementary-style z-score baseline that bench/detection.py compares against."""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from dagster_project.divergence.catalog import catalog_index
from dagster_project.divergence.rules import load_rules
from dagster_project.divergence.zscore import episodes, zscore_flags, zscore_nights
from tests.support.metric_frames import AS_OF, make_series, synthetic_catalog


def test_zscore_against_the_previous_14_points() -> None:
    values = [float(v) for v in range(1, 15)] + [20.0, 7.5]
    z = zscore_flags(values)
    assert np.isnan(z[:14]).all()  # no full training window yet
    # 1..14: mean 7.5, sample variance n(n+1)/12 = 17.5
    assert z[14] == pytest.approx((20 - 7.5) / math.sqrt(17.5))
    # the next point trains on 2..14 and 20: mean 8.357..., and 7.5 sits just below it
    window = np.array(values[1:15])
    assert z[15] == pytest.approx((7.5 - window.mean()) / window.std(ddof=1))
    assert np.isnan(zscore_flags([3.0] * 15)[14])  # a constant window has no z


def test_episodes_are_runs_of_consecutive_nights() -> None:
    d = date(2025, 9, 1)
    key = ("r", "channel", "paid_social")
    fired = {d + timedelta(days=i): ([key] if i in (0, 1, 2, 5) else []) for i in range(7)}
    assert episodes(fired) == [
        (key, d, d + timedelta(days=2)),
        (key, d + timedelta(5), d + timedelta(5)),
    ]


def test_a_spend_spike_is_what_it_sees_of_a_flat_rule() -> None:
    catalog = synthetic_catalog()
    rules = load_rules(None, catalog)
    # Spend x3 on the last day (a Sunday, when spend is lower: the training window mixes
    # weekdays and weekends, so a doubling would not clear 3 standard deviations).
    series = make_series(1, "spend_up_revenue_flat", "paid_social", AS_OF, 2.0)
    fired = zscore_nights(series, catalog_index(catalog), rules, [AS_OF - timedelta(1), AS_OF])
    assert ("spend_up_revenue_flat", "channel", "paid_social") in fired[AS_OF]
    assert ("spend_up_revenue_flat", "channel", "paid_social") not in fired[AS_OF - timedelta(1)]
    # the revenue that did not follow is invisible to it: no other rule fires on that channel
    assert {k for k in fired[AS_OF] if k[2] == "paid_social"} == {
        ("spend_up_revenue_flat", "channel", "paid_social")
    }
