"""Imports the night's later steps need, done while dbt builds.

The dbt step spends its time waiting for dbt; detection (scipy, statsmodels) and the alert
charts (matplotlib) then import for about 1 s before they start. Importing them in a
background thread during the dbt step takes that second off the night. A module that fails to
import here is left alone: the step that needs it imports it again and reports the error.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable, Sequence

LATER_STEPS: tuple[str, ...] = (
    "dagster_project.divergence.detect",
    "dagster_project.brief.explain",
    "statsmodels.stats.proportion",
    "statsmodels.stats.rates",
)


def _load(modules: Sequence[str], then: Sequence[Callable[[], object]]) -> None:
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # noqa: BLE001, S112 - reported by the step that needs it
            continue
    for call in then:
        try:
            call()
        except Exception:  # noqa: BLE001, S112
            continue


def preload(
    modules: Sequence[str] = LATER_STEPS, then: Sequence[Callable[[], object]] = ()
) -> threading.Thread:
    """Starts importing `modules` (then calls `then`) in a daemon thread and returns it."""
    thread = threading.Thread(
        target=_load, args=(tuple(modules), tuple(then)), name="firewatch-preload", daemon=True
    )
    thread.start()
    return thread
