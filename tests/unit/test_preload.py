"""The imports done while dbt builds (dagster_project/runtime/preload.py)."""

from __future__ import annotations

import importlib.util
import sys

from dagster_project.runtime.preload import LATER_STEPS, preload


def test_every_preloaded_module_exists() -> None:
    # a renamed module would silently put its import back into the night's later steps
    assert [name for name in LATER_STEPS if importlib.util.find_spec(name) is None] == []


def test_preload_imports_then_calls_and_survives_a_missing_module() -> None:
    sys.modules.pop("colorsys", None)
    called: list[str] = []
    thread = preload(
        ["no_such_module_for_firewatch", "colorsys"],
        then=[lambda: 1 / 0, lambda: called.append("done")],
    )
    thread.join(timeout=30)
    assert not thread.is_alive()
    assert "colorsys" in sys.modules
    assert called == ["done"]
