"""One night's divergence pass over the warehouse: read the metrics, detect, keep the state.

Dagster assets and checks call these; the statistics live in dagster_project.divergence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project.divergence.episodes import Alert, merge_alerts
from dagster_project.divergence.findings import Finding
from dagster_project.divergence.rule import Rule
from dagster_project.divergence.rules import declared_rule_ids, load_rules
from dagster_project.ingest.sql import lit
from dagster_project.warehouse.decisions import read_alerts, read_log, save_night
from dagster_project.warehouse.engine import Warehouse, connect
from dagster_project.warehouse.target import Location

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

    from dagster_project.warehouse.spark import SparkWarehouse


@dataclass(frozen=True)
class NightInputs:
    series: pd.DataFrame
    catalog: pd.DataFrame
    rules: list[Rule]
    as_of: date
    # lead_cohort_ages, for rules whose outcome is judged from every cohort (None: none read)
    cohorts: pd.DataFrame | None = None


def rule_ids(path: str | Path | None = None) -> list[str]:
    """Rule ids straight from the file, for declaring one check per rule before any run.

    The full validation against the metric catalog happens when a run reads the warehouse.
    """
    return declared_rule_ids(path)


def read_inputs(warehouse: Location, rules_file: str | Path | None = None) -> NightInputs:
    """The marts the rules read, from the DuckDB file, the PostgreSQL database or a Spark
    catalog."""
    with connect(warehouse, read_only=True) as wh:
        return inputs_from(wh, rules_file)


def inputs_from(
    wh: Warehouse | SparkWarehouse, rules_file: str | Path | None = None
) -> NightInputs:
    """The marts the rules read, from an open warehouse (Spark's read side included: the SQL
    takes no parameters, the rules' metric ids and grains are written in as literals)."""
    catalog = wh.frame("select * from {marts}.metric_catalog")
    rules = load_rules(rules_file, catalog)
    metrics = sorted({m for r in rules for m in (r.leading_metric, r.outcome_metric)})
    grains = sorted({r.grain for r in rules})
    series = wh.frame(
        "select * from {marts}.metric_series "
        f"where metric_id in ({', '.join(map(lit, metrics))}) "
        f"and grain in ({', '.join(map(lit, grains))})"
    )
    as_of = wh.rows("select as_of_date from intermediate.int_run_context")[0][0]
    cohorts = None
    if any(rule.outcome_test == "censored" for rule in rules):
        cohorts = wh.frame("select * from {marts}.lead_cohort_ages")
    return NightInputs(series=series, catalog=catalog, rules=rules, as_of=as_of, cohorts=cohorts)


def read_episodes(
    warehouse: Location,
) -> tuple[list[Alert], dict[tuple[str, str, str], date]]:
    """The alert episodes so far (`alerts`), for holding the open ones, and the levels people
    accepted in the decision log (dismissed items), where rules are re-based; none before
    the first night."""
    from dagster_project.divergence.queue import accepted_levels

    with connect(warehouse, read_only=True) as wh:
        alerts = read_alerts(wh)
        return alerts, accepted_levels(alerts, read_log(wh))


def findings_for(
    inputs: NightInputs,
    episodes: Sequence[Alert] = (),
    accepted: dict[tuple[str, str, str], date] | None = None,
) -> list[Finding]:
    """The night's findings: discoveries, and the open `episodes` that still hold against the
    baseline from before they began (`divergence/hold.py`; the backtest calls the same), the
    rules re-based where people `accepted` a level."""
    # Imported here: statsmodels takes most of a second to import, and the Dagster code
    # location (which imports this module) should load fast.
    from dagster_project.divergence.detect import prepare
    from dagster_project.divergence.hold import judge_night

    prepared = prepare(inputs.series, inputs.catalog, inputs.rules, inputs.cohorts)
    return judge_night(
        prepared, inputs.catalog, inputs.rules, inputs.as_of, episodes, accepted=accepted
    )


@dataclass(frozen=True)
class NightFindings:
    """What the night's checks and the `alerts` asset share, handed from one step to the next
    by Dagster (the series frame stays behind: it is large and neither needs it)."""

    as_of: date
    rule_ids: tuple[str, ...]
    findings: tuple[Finding, ...]


def night_findings(warehouse: Location, rules_file: str | Path | None = None) -> NightFindings:
    """Every rule over the warehouse's metrics, once a night (over thousands of series it
    takes seconds): the checks and the alerts asset both read the result."""
    where = warehouse if not isinstance(warehouse, str) else Path(warehouse)
    inputs = read_inputs(where, rules_file)
    episodes, accepted = read_episodes(where)
    return NightFindings(
        as_of=inputs.as_of,
        rule_ids=tuple(rule.id for rule in inputs.rules),
        findings=tuple(findings_for(inputs, episodes, accepted)),
    )


def record_night(warehouse: Location, findings: Sequence[Finding], as_of: date) -> list[Alert]:
    """Merges the findings into the alert episodes and rebuilds the queue, in one transaction.
    Open episodes that held tonight are among the findings (`night_findings`); one that did
    not clears after its rule's clear_after_nights (`merge_alerts`)."""
    with connect(warehouse) as wh:
        alerts = merge_alerts(read_alerts(wh), list(findings), as_of)
        save_night(wh, alerts, as_of)
    return alerts
