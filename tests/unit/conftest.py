"""Fixtures of the unit tests: pure Python, no dbt build."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.support.metric_frames import synthetic_catalog


@pytest.fixture(scope="module")
def catalog() -> pd.DataFrame:
    """The warehouse's metric_catalog columns for the metrics the built-in rules use."""
    return synthetic_catalog()
