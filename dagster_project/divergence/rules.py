"""Divergence rules as data: load `rules.yml`, check every rule against the metric catalog, and
reject a bad rule at load time with a message that names the rule and the field.

A rule says: when `leading_metric` moves the good way (`leading_good`) by at least `min_effect`
while `outcome_metric` moves the bad way (`outcome_bad`: `down`, `up`, or `flat` = did not follow),
on a dimension value with enough volume, ask `owner` the `question`.

Pure Python over a pandas catalog frame (the `metric_catalog` table); no Dagster, no database.
"""

from __future__ import annotations

import math
import os
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml

from dagster_project.settings import rules_path

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

Direction = Literal["up", "down"]
OutcomeBad = Literal["down", "up", "flat"]
Grain = Literal["day", "week", "month"]
Severity = Literal["warn", "error"]

DIMENSIONS: tuple[str, ...] = ("total", "channel", "platform", "campaign")
GRAINS: tuple[str, ...] = ("day", "week", "month")
OUTCOME_BAD: tuple[str, ...] = ("down", "up", "flat")
DIRECTIONS: tuple[str, ...] = ("up", "down")
SEVERITIES: tuple[str, ...] = ("warn", "error")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
# Catalog metric ids (metric_definitions.sql) are snake_case; a rule naming anything else is
# refused before the catalog is consulted, so no other text is carried towards the warehouse.
METRIC_ID_PATTERN = re.compile(r"^[a-z][a-z0-9_]*$")
# Placeholders a question template may use (filled by detect.py).
QUESTION_FIELDS: frozenset[str] = frozenset(
    {
        "dimension_value",
        "leading_label",
        "outcome_label",
        "leading_change",
        "outcome_change",
        "window_end",
    }
)


class RuleError(ValueError):
    """A rule file or rule that cannot be used; the message names the rule and the field."""


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


@dataclass(frozen=True)
class Rule:
    """One divergence rule. Construction checks everything that does not need the catalog."""

    id: str
    leading_metric: str
    outcome_metric: str
    outcome_bad: OutcomeBad
    question: str
    leading_good: Direction = "up"
    dimensions: tuple[str, ...] = ("total", "channel")
    grain: Grain = "week"
    window: int = 2  # periods under test
    baseline: int = 12  # periods before the window (and before the gap)
    gap: int = 0  # periods left out between baseline and window (a change's onset week)
    min_volume_leading: float = 0.0  # window volume (count, or denominator of a ratio)
    min_volume_outcome: float = 0.0
    min_effect: float = 0.15  # practical floor on the leading metric's relative change
    min_effect_outcome: float | None = None  # the outcome's floor; None: min_effect
    severity: Severity = "warn"
    owner: str | None = None  # None: the outcome metric's catalog owner
    title: str = ""  # short human name; defaults to the id

    def __post_init__(self) -> None:
        name = self.id if isinstance(self.id, str) else repr(self.id)
        if isinstance(self.dimensions, list):  # frozen: coerce the YAML list once, here
            object.__setattr__(self, "dimensions", tuple(self.dimensions))

        def fail(field_name: str, message: str) -> None:
            raise RuleError(f"rule {name!r}, field {field_name!r}: {message}")

        if not isinstance(self.id, str) or not ID_PATTERN.match(self.id):
            fail("id", "must match ^[a-z][a-z0-9_]{0,62}$ (snake_case, at most 63 characters)")
        for field_name in ("leading_metric", "outcome_metric"):
            value = getattr(self, field_name)
            if not isinstance(value, str) or not METRIC_ID_PATTERN.match(value):
                fail(
                    field_name,
                    f"{value!r} is not a metric id (snake_case, ^[a-z][a-z0-9_]*$)",
                )
        if self.leading_metric == self.outcome_metric:
            fail("outcome_metric", "must differ from leading_metric")
        if self.outcome_bad not in OUTCOME_BAD:
            fail("outcome_bad", f"{self.outcome_bad!r} is not one of {', '.join(OUTCOME_BAD)}")
        if self.leading_good not in DIRECTIONS:
            fail("leading_good", f"{self.leading_good!r} is not one of {', '.join(DIRECTIONS)}")
        if self.grain not in GRAINS:
            fail("grain", f"{self.grain!r} is not one of {', '.join(GRAINS)}")
        if self.severity not in SEVERITIES:
            fail("severity", f"{self.severity!r} is not one of {', '.join(SEVERITIES)}")
        if not isinstance(self.dimensions, tuple) or not self.dimensions:
            fail("dimensions", "must be a non-empty list")
        for dim in self.dimensions:
            if dim not in DIMENSIONS:
                fail("dimensions", f"{dim!r} is not one of {', '.join(DIMENSIONS)}")
        if len(set(self.dimensions)) != len(self.dimensions):
            fail("dimensions", "lists a dimension twice")
        for field_name in ("window", "baseline"):
            value = getattr(self, field_name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                fail(field_name, f"must be a positive whole number of periods, got {value!r}")
        if isinstance(self.gap, bool) or not isinstance(self.gap, int) or self.gap < 0:
            fail("gap", f"must be a whole number of periods >= 0, got {self.gap!r}")
        if self.grain == "day":
            # Whole weeks on both sides give the window and the baseline the same weekday mix, so
            # the weekly cycle cannot masquerade as a change.
            for field_name in ("window", "baseline", "gap"):
                if getattr(self, field_name) % 7:
                    fail(field_name, "must be a multiple of 7 days at day grain (whole weeks)")
        for field_name in ("min_volume_leading", "min_volume_outcome"):
            value = getattr(self, field_name)
            if not _is_number(value) or value < 0:
                fail("min_volume", f"must be a number >= 0, got {value!r}")
        for value in (self.min_effect, self.min_effect_outcome):
            if value is not None and (not _is_number(value) or not 0 < value <= 10):
                fail("min_effect", f"must be a relative change in (0, 10], got {value!r}")
        if self.owner is not None and (not isinstance(self.owner, str) or not self.owner.strip()):
            fail("owner", "must be a non-empty string or left out")
        if not isinstance(self.title, str):
            fail("title", "must be a string")
        if not isinstance(self.question, str) or not self.question.strip():
            fail("question", "must be a non-empty template")
        try:
            parsed = [
                (name, spec, conversion)
                for _, name, spec, conversion in string.Formatter().parse(self.question)
                if name is not None  # "{}" (positional) is a field too, and an unknown one
            ]
        except ValueError as exc:
            fail("question", f"is not a valid template: {exc}")
        placeholders = {name for name, _, _ in parsed}
        # A format spec or conversion ("{dimension_value:>999999999}", "{leading_label!r}") is
        # not needed by any question and could blow up or reshape text that comes from the data.
        styled = sorted(name for name, spec, conversion in parsed if spec or conversion)
        if styled:
            fail(
                "question",
                f"placeholder(s) {', '.join('{' + s + '}' for s in styled)} take no format "
                "spec or conversion; write them plainly, e.g. {dimension_value}",
            )
        unknown = sorted(placeholders - QUESTION_FIELDS)
        if unknown:
            fail(
                "question",
                f"unknown placeholder(s) {', '.join('{' + u + '}' for u in unknown)}; "
                f"use {', '.join('{' + f + '}' for f in sorted(QUESTION_FIELDS))}",
            )

    @property
    def outcome_floor(self) -> float:
        """The outcome's practical floor: its own if given, else the leading metric's."""
        return self.min_effect if self.min_effect_outcome is None else self.min_effect_outcome

    @property
    def display_name(self) -> str:
        return self.title or self.id.replace("_", " ")


def _is_number(value: object) -> bool:
    return (
        isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(float(value))
    )


def _split_list(value: object) -> tuple[str, ...]:
    """Catalog list columns arrive as 'a,b,c' strings (DuckDB) or as lists (dbt macro)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in value.split(",") if part.strip())
    return tuple(str(part).strip() for part in value)


def _optional_str(value: object) -> str | None:
    import pandas as pd

    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    text = str(value).strip()
    return text or None


def catalog_index(catalog: pd.DataFrame) -> dict[str, MetricInfo]:
    """The catalog frame as MetricInfo by metric id. Accepts the warehouse's column names
    (numerator_component, denominator_component) and the macro's (numerator, denominator)."""
    if "metric_id" not in catalog.columns:
        raise RuleError("metric catalog has no metric_id column")
    num_col = "numerator_component" if "numerator_component" in catalog.columns else "numerator"
    den_col = (
        "denominator_component" if "denominator_component" in catalog.columns else "denominator"
    )
    out: dict[str, MetricInfo] = {}
    for row in catalog.to_dict("records"):
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
        if rule.grain not in info.grains:
            fail(
                "grain",
                f"{info.metric_id} has no {rule.grain!r} grain (only {', '.join(info.grains)})",
            )
    outcome = metrics[rule.outcome_metric]
    if rule.outcome_bad == outcome.good_direction:
        fail(
            "outcome_bad",
            f"{rule.outcome_bad!r} is the good direction of {outcome.metric_id} in the catalog",
        )


_FIELD_NAMES = {f.name for f in fields(Rule)} - {
    "min_volume_leading",
    "min_volume_outcome",
    "min_effect_outcome",
}
_KNOWN_KEYS = _FIELD_NAMES | {"min_volume"}


def _rule_from_mapping(raw: Mapping[str, Any], defaults: Mapping[str, Any]) -> Rule:
    merged: dict[str, Any] = {**defaults, **raw}
    name = merged.get("id", "<no id>")
    unknown = sorted(set(merged) - _KNOWN_KEYS)
    if unknown:
        raise RuleError(
            f"rule {name!r}, field {unknown[0]!r}: unknown field; known fields are "
            f"{', '.join(sorted(_KNOWN_KEYS))}"
        )
    for required in ("id", "leading_metric", "outcome_metric", "outcome_bad", "question"):
        if required not in merged:
            raise RuleError(f"rule {name!r}, field {required!r}: missing")
    kwargs = {key: value for key, value in merged.items() if key != "min_volume"}
    dims = kwargs.get("dimensions", ("total", "channel"))
    if isinstance(dims, str):
        dims = [dims]
    if not isinstance(dims, list | tuple):
        raise RuleError(f"rule {name!r}, field 'dimensions': must be a list")
    kwargs["dimensions"] = tuple(dims)
    kwargs["min_volume_leading"], kwargs["min_volume_outcome"] = _per_side(
        name, "min_volume", merged.get("min_volume", 0), 0
    )
    if "min_effect" in merged:
        kwargs["min_effect"], kwargs["min_effect_outcome"] = _per_side(
            name, "min_effect", merged["min_effect"], None
        )
    return Rule(**kwargs)


def _per_side(name: object, field_name: str, value: Any, missing: Any) -> tuple[Any, Any]:
    """A number for both metrics, or {leading: N, outcome: N} (a side left out: `missing`)."""
    if not isinstance(value, Mapping):
        return value, value
    extra = sorted(set(value) - {"leading", "outcome"})
    if extra:
        raise RuleError(
            f"rule {name!r}, field {field_name!r}: unknown key {extra[0]!r} "
            "(use a number or {leading: N, outcome: N})"
        )
    leading = value.get("leading", missing)
    if leading is None:
        raise RuleError(f"rule {name!r}, field {field_name!r}: 'leading' is required")
    return leading, value.get("outcome", missing)


def parse_rules(
    data: Any, catalog: pd.DataFrame | Mapping[str, MetricInfo], source: str = "rules"
) -> list[Rule]:
    """Rules from parsed YAML: ``{defaults: {...}, rules: [...]}`` or a bare list of rules."""
    metrics = catalog if isinstance(catalog, Mapping) else catalog_index(catalog)
    defaults: Mapping[str, Any] = {}
    if isinstance(data, Mapping):
        extra = sorted(set(data) - {"rules", "defaults", "version"})
        if extra:
            raise RuleError(f"{source}: unknown top-level key {extra[0]!r} (use rules, defaults)")
        defaults = data.get("defaults") or {}
        if not isinstance(defaults, Mapping):
            raise RuleError(f"{source}: 'defaults' must be a mapping")
        if "id" in defaults:
            raise RuleError(f"{source}: 'defaults' cannot set an id")
        items = data.get("rules")
    else:
        items = data
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise RuleError(f"{source}: expected a non-empty list of rules under 'rules'")
    rules: list[Rule] = []
    seen: set[str] = set()
    for position, raw in enumerate(items, start=1):
        if not isinstance(raw, Mapping):
            raise RuleError(f"{source}: rule #{position} must be a mapping")
        try:
            rule = _rule_from_mapping(raw, defaults)
            if rule.id in seen:
                raise RuleError(f"rule {rule.id!r}, field 'id': duplicate id")
            validate_rule(rule, metrics)
        except RuleError as exc:
            raise RuleError(f"{source}: {exc}") from None
        except TypeError as exc:  # e.g. a field given a list where a number belongs
            raise RuleError(f"{source}: rule {raw.get('id', position)!r}: {exc}") from None
        seen.add(rule.id)
        rules.append(rule)
    return rules


def load_rules(
    path: str | os.PathLike[str] | None, catalog: pd.DataFrame | Mapping[str, MetricInfo]
) -> list[Rule]:
    """Reads and validates the rule file; raises RuleError naming the rule and field."""
    file = rules_path(path)
    return parse_rules(_read_rules_file(file), catalog, source=str(file))


def _read_rules_file(file: Path) -> object:
    try:
        text = file.read_text(encoding="utf-8")
    except OSError as exc:
        raise RuleError(f"cannot read rules file {file}: {exc}") from None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise RuleError(f"{file}: not valid YAML: {exc}") from None


def declared_rule_ids(path: str | os.PathLike[str] | None = None) -> list[str]:
    """The rule ids of the rule file, each checked against ID_PATTERN and for duplicates, without
    the metric catalog: what Dagster needs to declare one asset check per rule before any run.
    Raises RuleError naming the file, the rule and the field; the full check against the
    catalog happens in `load_rules` when a run reads the warehouse."""
    file = rules_path(path)
    data = _read_rules_file(file)
    items = data.get("rules") if isinstance(data, Mapping) else data
    if not isinstance(items, Sequence) or isinstance(items, str) or not items:
        raise RuleError(f"{file}: expected a non-empty list of rules under 'rules'")
    ids: list[str] = []
    for position, raw in enumerate(items, start=1):
        if not isinstance(raw, Mapping):
            raise RuleError(f"{file}: rule #{position} must be a mapping")
        rule_id = raw.get("id")
        if rule_id is None:
            raise RuleError(f"{file}: rule #{position}, field 'id': missing")
        if not isinstance(rule_id, str) or not ID_PATTERN.match(rule_id):
            raise RuleError(
                f"{file}: rule {rule_id!r}, field 'id': must match ^[a-z][a-z0-9_]{{0,62}}$ "
                "(snake_case, at most 63 characters)"
            )
        if rule_id in ids:
            raise RuleError(f"{file}: rule {rule_id!r}, field 'id': duplicate id")
        ids.append(rule_id)
    return ids
