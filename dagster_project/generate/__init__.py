"""Sample-data generator: realistic raw inputs for every contract table, with labelled
scenarios and a ground-truth JSON, for demos, tests and benchmarks (`firewatch generate`).

The names are loaded when first used (PEP 562): every `firewatch` command registers the
`generate` verb while building its parser, and the generator's numpy and pyarrow would cost
each of them a second and more before it printed anything."""

from __future__ import annotations

from importlib import import_module
from typing import Any

# name -> the submodule that defines it
_WHERE = {
    "register": "cli",
    "DEFAULT_END_DATE": "profiles",
    "generate": "core",
    "PROFILES": "profiles",
    "Profile": "profiles",
    "KINDS": "scenarios",
    "SCENARIO_NAMES": "scenarios",
    "ScenarioSpec": "scenarios",
    "parse_scenario": "scenarios",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_WHERE[name]}"), name)
    globals()[name] = value
    return value
