"""The dbt project documents itself, and its metric columns cannot drift from metric_catalog.

Every model has an entry in its folder's `_<folder>__models.yml` with a description, every column
it really has is described, its key is tested (or it says why it has none), and each wide mart's
metric column says what macros/metric_definitions.sql says: the catalog's label, unit and
description (the doc blocks of models/metric_columns.md).

One `dbt build --empty` of the models and seeds on the hand-built landing gives both the parsed
manifest and every model's real columns (no rows are read); metric_catalog has no inputs, so it
is still built with all of its rows, from the macro.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.settings import DBT_PROJECT_DIR

PROJECT = "kpi_firewatch"
# A key test: `unique` and `not_null` on one column, or this generic test on a column list
# (macros/test_unique_key_combination.sql).
COMBINATION_TEST = "unique_key_combination"


class Built:
    def __init__(self, manifest: dict[str, Any], warehouse: Path) -> None:
        self.manifest = manifest
        self.models = {
            node["name"]: node
            for node in manifest["nodes"].values()
            if node["resource_type"] == "model" and node["package_name"] == PROJECT
        }
        con = duckdb.connect(str(warehouse), read_only=True)
        try:
            self.columns = {
                name: [
                    column
                    for (column,) in con.execute(
                        "select column_name from information_schema.columns "
                        "where table_schema = ? and table_name = ? order by ordinal_position",
                        [node["schema"], node["alias"]],
                    ).fetchall()
                ]
                for name, node in self.models.items()
            }
            catalog = self.models["metric_catalog"]
            rows = con.execute(
                f'select metric_id, label, unit, description from "{catalog["schema"]}".'
                f'"{catalog["alias"]}"'
            ).fetchall()
        finally:
            con.close()
        self.catalog = {
            metric_id: {"label": label, "unit": unit, "description": description}
            for metric_id, label, unit, description in rows
        }


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    from dagster_project.ingest.loader import load_raw
    from tests.support.tiny_landing import write_tiny_landing

    root = tmp_path_factory.mktemp("dbt_docs")
    write_tiny_landing(root / "raw")
    warehouse = root / "firewatch.duckdb"
    load_raw(root / "raw", warehouse)
    # A target and log folder of its own: the project's target/ holds the manifest that other
    # tests and Dagster read.
    target = root / "target"
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "dbt"),
            "build",
            "--empty",
            "--resource-type",
            "model",
            "--resource-type",
            "seed",
            "--profiles-dir",
            ".",
            "--target-path",
            str(target),
            "--log-path",
            str(root / "logs"),
        ],
        cwd=DBT_PROJECT_DIR,
        env={
            **os.environ,
            "FIREWATCH_WAREHOUSE": str(warehouse),
            "FIREWATCH_DBT_TARGET": "duckdb",
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        },
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return Built(json.loads((target / "manifest.json").read_text()), warehouse)


def test_every_model_has_a_described_entry_in_its_folders_yaml(built: Built) -> None:
    assert len(built.models) > 40, sorted(built.models)
    wrong = []
    for name, node in sorted(built.models.items()):
        folder = Path(node["original_file_path"]).parent
        expected = f"{PROJECT}://{(folder / f'_{folder.name}__models.yml').as_posix()}"
        if node["patch_path"] != expected:
            wrong.append(f"{name}: entry in {node['patch_path']}, expected {expected}")
        if not node["description"].strip():
            wrong.append(f"{name}: no description")
    assert wrong == []


def test_every_column_a_model_has_is_described(built: Built) -> None:
    wrong = []
    for name, node in sorted(built.models.items()):
        actual = built.columns[name]
        assert actual, f"{name} was not built"
        documented = node["columns"]
        wrong += [f"{name}.{c}: not in the YAML" for c in actual if c not in documented]
        wrong += [
            f"{name}.{c}: the model has no such column" for c in documented if c not in actual
        ]
        wrong += [
            f"{name}.{c}: empty description"
            for c, column in documented.items()
            if not column.get("description", "").strip()
        ]
    assert wrong == []


def test_every_model_has_its_key_tested(built: Built) -> None:
    tests: dict[str, list[dict[str, Any]]] = {}
    for node in built.manifest["nodes"].values():
        if node["resource_type"] == "test" and node.get("attached_node"):
            tests.setdefault(node["attached_node"], []).append(node)
    wrong = []
    for name, node in sorted(built.models.items()):
        tested: dict[str, set[str]] = {}
        combinations = []
        for test in tests.get(node["unique_id"], []):
            metadata = test.get("test_metadata") or {}
            if metadata.get("name") in ("unique", "not_null") and test.get("column_name"):
                tested.setdefault(metadata["name"], set()).add(test["column_name"])
            elif metadata.get("name") == COMBINATION_TEST:
                kwargs = metadata.get("kwargs", {})
                columns = kwargs.get("columns") or kwargs.get("arguments", {}).get("columns")
                combinations.append(columns)
        keyless = str(node["config"].get("meta", {}).get("keyless") or "").strip()
        single = tested.get("unique", set()) & tested.get("not_null", set())
        for columns in combinations:
            missing = [c for c in columns or [] if c not in built.columns[name]]
            if not columns or missing:
                wrong.append(f"{name}: {COMBINATION_TEST} on unknown columns {columns}")
        if keyless and (single or combinations):
            wrong.append(f"{name}: has a key test but meta.keyless says it has no key")
        if not (single or combinations or keyless):
            wrong.append(
                f"{name}: no key test (unique + not_null on one column, or {COMBINATION_TEST}), "
                "nor a meta.keyless reason"
            )
    assert wrong == []


def _metric_doc(metric_id: str, metric: dict[str, str]) -> str:
    """The doc block text of models/metric_columns.md for a metric, from the catalog."""
    return (
        f"{metric['label']} ({metric['unit']}). {metric['description']} "
        f"Defined in metric_catalog as `{metric_id}`."
    )


def test_metric_columns_say_what_metric_catalog_says(built: Built) -> None:
    assert len(built.catalog) > 30, built.catalog
    marts = {n: node for n, node in built.models.items() if node["fqn"][1] == "marts"}
    checked, wrong = 0, []
    for name, node in sorted(marts.items()):
        for column in built.columns[name]:
            metric = built.catalog.get(column)
            if metric is None:
                continue
            checked += 1
            description = node["columns"].get(column, {}).get("description", "")
            stated = f"{metric['label']} ({metric['unit']})"
            if not (
                description.startswith(stated)
                and metric["description"] in description
                and f"`{column}`" in description
            ):
                wrong.append(
                    f"{name}.{column}: {description!r} is not the catalog's: describe it as "
                    f"\"{{{{ doc('metric__{column}') }}}}\", with models/metric_columns.md saying"
                    f"\n{{% docs metric__{column} %}}{_metric_doc(column, metric)}{{% enddocs %}}"
                )
    # every control_* and meaning_* column of a metric (3 x 22 + 2 x 12 today)
    assert checked >= 90
    assert wrong == [], "\n".join(wrong)


def test_metric_doc_blocks_are_the_catalogs(built: Built) -> None:
    """The doc blocks say exactly what the catalog says, and none is left of a removed metric."""
    wrong = []
    for doc in built.manifest["docs"].values():
        if doc["package_name"] != PROJECT or not doc["name"].startswith("metric__"):
            continue
        metric_id = doc["name"].removeprefix("metric__")
        metric = built.catalog.get(metric_id)
        if metric is None:
            wrong.append(f"{doc['name']}: no metric {metric_id} in metric_catalog")
        elif doc["block_contents"].strip() != _metric_doc(metric_id, metric):
            wrong.append(
                f"{doc['name']} should say:\n{{% docs {doc['name']} %}}"
                f"{_metric_doc(metric_id, metric)}{{% enddocs %}}"
            )
    assert wrong == [], "\n".join(wrong)
