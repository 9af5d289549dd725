"""False-discovery control across all tests of a night: Benjamini-Hochberg
(`multipletests(method="fdr_bh")`), applied by detect.py over every divergence hypothesis."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from statsmodels.stats.multitest import multipletests


def benjamini_hochberg(p_values: ArrayLike, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """(reject, q-values) by Benjamini-Hochberg over all the given p-values."""
    p = np.asarray(p_values, dtype=float)
    if p.size == 0:
        return np.zeros(0, dtype=bool), np.zeros(0, dtype=float)
    reject, q, _, _ = multipletests(p, alpha=alpha, method="fdr_bh")
    return np.asarray(reject, dtype=bool), np.asarray(q, dtype=float)
