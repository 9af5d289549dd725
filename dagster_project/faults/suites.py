"""The other reliability suites (bad input, properties, security, people deciding while a run
writes), run with pytest for the report; their cases come from pytest's junit XML."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from dagster_project.faults.env import ROOT

# The suites split by kind keep their halves together: the same cases as before the split.
SUITES = (
    "tests/integration/test_bad_input.py",
    "tests/e2e/test_bad_input_nightly.py",
    "tests/unit/test_properties.py",
    "tests/unit/test_security_rules.py",
    "tests/integration/test_security_landing.py",
    "tests/e2e/test_security.py",
    "tests/integration/test_concurrent_decisions.py",
    "tests/e2e/test_concurrent_people.py",
)


@dataclass(frozen=True)
class Case:
    suite: str
    name: str
    outcome: str  # passed, failed, error, skipped
    seconds: float


def run_suites(work: Path, suites: Sequence[str] = SUITES) -> tuple[list[Case], list[str], float]:
    """pytest on the other reliability suites (those present), cases from its junit XML."""
    present = [s for s in suites if (ROOT / s).exists()]
    missing = [s for s in suites if s not in present]
    if not present:
        return [], missing, 0.0
    xml = work / "suites.xml"
    started = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *present,
         f"--junitxml={xml}"],
        cwd=ROOT,
        env={k: v for k, v in os.environ.items() if not k.startswith("FIREWATCH_")},
    )  # fmt: skip
    seconds = time.monotonic() - started
    cases: list[Case] = []
    if xml.exists():
        for case in ET.parse(xml).getroot().iter("testcase"):
            outcome = "passed"
            for child in case:
                if child.tag in ("failure", "error", "skipped"):
                    outcome = {"failure": "failed"}.get(child.tag, child.tag)
            module = case.get("classname", "").split(".")
            suite = next((s for s in present if Path(s).stem in module), "?")
            cases.append(Case(suite, case.get("name", "?"), outcome, float(case.get("time", 0))))
    return cases, missing, seconds
