"""Checks a night makes before its first step, so a mistake that would only show at the alerts
step (after the whole dbt build) fails in seconds instead."""

from __future__ import annotations

from pathlib import Path

from dagster_project.divergence.rules import declared_rule_ids, load_rules
from dagster_project.warehouse.engine import connect
from dagster_project.warehouse.target import Location


def check_rules(warehouse: Location, rules_file: str | Path | None = None) -> int:
    """Validates the rule file; raises RuleError naming the file, rule and field.

    Metric ids are checked against the metric catalog the last night built, when there is one
    (a first run has none yet: the file's structure and ids are checked, its metrics are checked
    again against tonight's catalog at the alerts step). Returns the number of rules."""
    ids = declared_rule_ids(rules_file)
    if isinstance(warehouse, Path) and not warehouse.exists():
        return len(ids)
    with connect(warehouse, read_only=True) as wh:
        if not wh.table_exists("{marts}", "metric_catalog"):
            return len(ids)
        # rows, not a frame: pandas (0.4 s to import) is not needed before the dbt step,
        # which imports it while dbt builds
        catalog = wh.records("select * from {marts}.metric_catalog")
    return len(load_rules(rules_file, catalog))
