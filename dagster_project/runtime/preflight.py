"""Checks a night makes before its first step, so a mistake that would only show at the alerts
step (after the whole dbt build) fails in seconds instead."""

from __future__ import annotations

from pathlib import Path

from dagster_project.divergence.rules import declared_rule_ids, load_rules
from dagster_project.warehouse.connection import open_warehouse, table_exists


def check_rules(warehouse: Path, rules_file: str | Path | None = None) -> int:
    """Validates the rule file; raises RuleError naming the file, rule and field.

    Metric ids are checked against the metric catalog the last night built, when there is one
    (a first run has none yet: the file's structure and ids are checked, its metrics are checked
    again against tonight's catalog at the alerts step). Returns the number of rules."""
    ids = declared_rule_ids(rules_file)
    if not warehouse.exists():
        return len(ids)
    with open_warehouse(warehouse, read_only=True) as con:
        if not table_exists(con, "main", "metric_catalog"):
            return len(ids)
        catalog = con.execute("select * from main.metric_catalog").df()
    return len(load_rules(rules_file, catalog))
