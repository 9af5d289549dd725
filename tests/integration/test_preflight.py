"""The rules check a night makes before dbt (runtime/preflight.py): against the catalog the last
night built, read as rows, so the step before dbt does not import pandas (0.4 s on the critical
path; the dbt step imports it while dbt builds)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from dagster_project.settings import PROJECT_ROOT

PROBE = """
import sys
from dagster_project.runtime.preflight import check_rules
from dagster_project.divergence.rule import RuleError
print(check_rules(sys.argv[1]))
try:
    check_rules(sys.argv[1], sys.argv[2])
except RuleError as error:
    print(error)
print("pandas" in sys.modules)
"""


def test_the_rules_are_checked_against_the_catalog_without_pandas(
    tiny: Path, tmp_path: Path
) -> None:
    shipped = (PROJECT_ROOT / "dagster_project" / "rules.yml").read_text(encoding="utf-8")
    bad = tmp_path / "rules.yml"
    # a metric the catalog does not have: found by the check against the catalog only
    bad.write_text(shipped.replace("leading_metric: ad_engagements", "leading_metric: likes", 1))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tiny), str(bad)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    count, error, pandas_loaded = done.stdout.strip().splitlines()
    assert int(count) == shipped.count("\n  - id: ")
    assert "field 'leading_metric': unknown metric 'likes'" in error
    assert pandas_loaded == "False"
