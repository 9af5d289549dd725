"""Sample-data generator: realistic raw inputs for every contract table, with labelled
scenarios and a ground-truth JSON, for demos, tests and benchmarks (`firewatch generate`)."""

from __future__ import annotations

from .cli import register
from .core import DEFAULT_END_DATE, generate
from .profiles import PROFILES, Profile
from .scenarios import KINDS, SCENARIO_NAMES, ScenarioSpec, parse_scenario

__all__ = [
    "DEFAULT_END_DATE",
    "KINDS",
    "PROFILES",
    "SCENARIO_NAMES",
    "Profile",
    "ScenarioSpec",
    "generate",
    "parse_scenario",
    "register",
]
