"""The metric catalog as detection sees it: the `metric_catalog` frame read into `MetricInfo`
by metric id, and `validate_rule`, which checks a rule against it (metrics exist, share the rule's
dimensions and grain, `outcome_bad` is not the outcome's good direction).

Pure Python over the catalog as a pandas frame or as rows (dicts by column); no Dagster, no
database.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .rule import CENSORED_DIMENSIONS, CENSORED_METRICS, Rule, RuleError

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd


@dataclass(frozen=True)
class MetricInfo:
    """What detection needs to know about one catalog metric."""

    metric_id: str
    label: str
    unit: str
    good_direction: str
    owner: str
    maturity_lag_days: int
    numerator: str | None
    denominator: str | None
    dimensions: tuple[str, ...]
    grains: tuple[str, ...]
    is_additive: bool
    layer: str = ""


def _split_list(value: object) -> tuple[str, ...]:
    """Catalog list columns arrive as 'a,b,c' strings (DuckDB) or as lists (dbt macro)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(part).strip() for part in value)


def _optional_str(value: object) -> str | None:
    # pandas' NA exists only once pandas is imported: records read without it never hold one
    pandas = sys.modules.get("pandas")
    if (
        value is None
        or (isinstance(value, float) and math.isnan(value))
        or (pandas is not None and value is pandas.NA)
    ):
        return None
    text = str(value).strip()
    return text or None


def catalog_index(catalog: pd.DataFrame | Sequence[Mapping[str, Any]]) -> dict[str, MetricInfo]:
    """The catalog (a frame, or rows as dicts: the night's first check reads it without
    pandas) as MetricInfo by metric id. Accepts the warehouse's column names
    (numerator_component, denominator_component) and the macro's (numerator, denominator)."""
    if isinstance(catalog, Sequence):
        # no rows: a catalog without metrics (rules then name their unknown metrics)
        records, columns = catalog, set(catalog[0]) if catalog else {"metric_id"}
    else:
        records, columns = catalog.to_dict("records"), set(catalog.columns)
    if "metric_id" not in columns:
        raise RuleError("metric catalog has no metric_id column")
    num_col = "numerator_component" if "numerator_component" in columns else "numerator"
    den_col = "denominator_component" if "denominator_component" in columns else "denominator"
    out: dict[str, MetricInfo] = {}
    for row in records:
        metric_id = str(row["metric_id"])
        lag = row.get("maturity_lag_days")
        lag_days = 0 if _optional_str(lag) is None else int(lag)
        additive = row.get("is_additive")
        numerator = _optional_str(row.get(num_col))
        denominator = _optional_str(row.get(den_col))
        unit = _optional_str(row.get("unit")) or ""
        out[metric_id] = MetricInfo(
            metric_id=metric_id,
            label=_optional_str(row.get("label")) or metric_id,
            unit=unit,
            good_direction=_optional_str(row.get("good_direction")) or "up",
            owner=_optional_str(row.get("owner")) or "",
            maturity_lag_days=lag_days,
            numerator=numerator,
            denominator=denominator,
            dimensions=_split_list(row.get("dimensions")),
            grains=_split_list(row.get("grains")),
            is_additive=(
                bool(additive)
                if _optional_str(additive) is not None
                else denominator is None and unit in ("count", "currency")
            ),
            layer=_optional_str(row.get("layer")) or "",
        )
    return out


def validate_rule(rule: Rule, metrics: Mapping[str, MetricInfo]) -> None:
    """Checks a rule against the catalog: metrics exist, share the rule's dimensions and grain,
    and `outcome_bad` does not contradict the outcome's good direction."""

    def fail(field_name: str, message: str) -> None:
        raise RuleError(f"rule {rule.id!r}, field {field_name!r}: {message}")

    for field_name in ("leading_metric", "outcome_metric"):
        metric_id = getattr(rule, field_name)
        if metric_id not in metrics:
            fail(
                field_name,
                f"unknown metric {metric_id!r}; the catalog has {', '.join(sorted(metrics))}",
            )
    for field_name in ("leading_metric", "outcome_metric"):
        info = metrics[getattr(rule, field_name)]
        for dim in rule.dimensions:
            if dim not in info.dimensions:
                fail(
                    "dimensions",
                    f"{info.metric_id} is not published by {dim!r} "
                    f"(only {', '.join(info.dimensions) or 'none'})",
                )
        # a censored outcome is read by cohort day from lead_cohort_ages, whatever its grains
        censored_outcome = field_name == "outcome_metric" and rule.outcome_test == "censored"
        if rule.grain not in info.grains and not censored_outcome:
            fail(
                "grain",
                f"{info.metric_id} has no {rule.grain!r} grain (only {', '.join(info.grains)})",
            )
    outcome = metrics[rule.outcome_metric]
    if rule.outcome_test == "censored":
        if outcome.metric_id not in CENSORED_METRICS:
            fail(
                "outcome_test",
                f"censored judges a lead cohort's SQLs by age; {outcome.metric_id} is not one of "
                f"{', '.join(sorted(CENSORED_METRICS))}",
            )
        extra = sorted(set(rule.dimensions) - set(CENSORED_DIMENSIONS))
        if extra:
            fail("dimensions", f"cohorts by age are by total and channel, not {extra[0]!r}")
    if rule.outcome_bad == outcome.good_direction:
        fail(
            "outcome_bad",
            f"{rule.outcome_bad!r} is the good direction of {outcome.metric_id} in the catalog",
        )
