"""The rule file: read `rules.yml` (or the file `FIREWATCH_RULES` names), turn each entry into a
`Rule` checked against the metric catalog, and reject a bad rule at load time with a message that
names the rule and the field. `declared_rule_ids` lists the ids without the catalog, for Dagster
to declare one asset check per rule.

The Rule itself is `rule.py`; the catalog and the check against it are `catalog.py`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from dagster_project.settings import rules_path

from .catalog import MetricInfo, catalog_index, validate_rule
from .rule import ID_PATTERN, Rule, RuleError

if TYPE_CHECKING:  # imported where used: the code location loads without pandas (0.8 s)
    import pandas as pd

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
    data: Any,
    catalog: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, MetricInfo],
    source: str = "rules",
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
    path: str | os.PathLike[str] | None,
    catalog: pd.DataFrame | Sequence[Mapping[str, Any]] | Mapping[str, MetricInfo],
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
