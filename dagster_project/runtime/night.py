"""One night's divergence pass over the warehouse: read the metrics, detect, keep the state.

Dagster assets and checks call these; the statistics live in dagster_project.divergence.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from dagster_project.divergence.episodes import Alert, merge_alerts
from dagster_project.divergence.findings import Finding
from dagster_project.divergence.rule import Rule
from dagster_project.divergence.rules import declared_rule_ids, load_rules
from dagster_project.settings import rules_path
from dagster_project.warehouse.connection import open_warehouse, run_as_of
from dagster_project.warehouse.decisions import read_alerts, save_night

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


@dataclass(frozen=True)
class NightInputs:
    series: pd.DataFrame
    catalog: pd.DataFrame
    rules: list[Rule]
    as_of: date


def rule_ids(path: str | Path | None = None) -> list[str]:
    """Rule ids straight from the file, for declaring one check per rule before any run.

    The full validation against the metric catalog happens when a run reads the warehouse.
    """
    return declared_rule_ids(path)


def read_inputs(warehouse: Path, rules_file: str | Path | None = None) -> NightInputs:
    with open_warehouse(warehouse, read_only=True) as con:
        catalog = con.execute("select * from main.metric_catalog").df()
        rules = load_rules(rules_file, catalog)
        metrics = sorted({m for r in rules for m in (r.leading_metric, r.outcome_metric)})
        grains = sorted({r.grain for r in rules})
        series = con.execute(
            "select * from main.metric_series where metric_id in (select unnest(?)) "
            "and grain in (select unnest(?))",
            [metrics, grains],
        ).df()
        as_of = run_as_of(con)
    return NightInputs(series=series, catalog=catalog, rules=rules, as_of=as_of)


def findings_for(inputs: NightInputs) -> list[Finding]:
    # Imported here: statsmodels takes most of a second to import, and the Dagster code
    # location (which imports this module) should load fast.
    from dagster_project.divergence.detect import detect

    return detect(inputs.series, inputs.catalog, inputs.rules, inputs.as_of)


_CACHE: dict[tuple, tuple[NightInputs, list[Finding]]] = {}


def _fingerprint(warehouse: Path, rules_file: str | Path | None) -> tuple:
    def stat(path: Path) -> tuple[int, int] | None:
        try:
            info = path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    wal = warehouse.with_name(warehouse.name + ".wal")
    return (str(warehouse), stat(warehouse), stat(wal), str(rules_path(rules_file)),
            stat(rules_path(rules_file)))  # fmt: skip


def night_findings(
    warehouse: Path, rules_file: str | Path | None = None
) -> tuple[NightInputs, list[Finding]]:
    """The night's inputs and findings, computed once per state of the warehouse: the asset
    checks and the alerts asset both need them, in the same process, with nothing written in
    between (detection over thousands of series takes seconds)."""
    key = _fingerprint(Path(warehouse), rules_file)
    if key not in _CACHE:
        inputs = read_inputs(Path(warehouse), rules_file)
        _CACHE.clear()  # one night at a time; a frame of metric_series is not small
        _CACHE[key] = (inputs, findings_for(inputs))
    return _CACHE[key]


def record_night(warehouse: Path, findings: list[Finding], as_of: date) -> list[Alert]:
    """Merges the findings into the alert episodes and rebuilds the queue, in one transaction."""
    with open_warehouse(warehouse) as con:
        alerts = merge_alerts(read_alerts(con), findings, as_of)
        save_night(con, alerts, as_of)
    return alerts
