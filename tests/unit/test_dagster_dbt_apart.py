"""dagster-dbt loaded without dbt-core (runtime/dagster_dbt_apart.py): the definitions' process
does not import dbt, and nothing a user sees changes. Each side runs in a fresh process, since
dagster-dbt decides once, at import, whether dbt-core is there."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
from pathlib import Path

# Two result lines of a real `dbt build --log-format json` (dbt-core 1.11) on a sample warehouse:
# a model built and a data test passed.
EVENTS = Path(__file__).parent / "data" / "dbt_result_events.jsonl"

# The definitions a user sees (asset keys, dependencies, groups, descriptions, metadata, checks)
# and the Dagster events made from dbt's result lines; `core` imports dbt first, which is how
# dagster-dbt loaded before the change.
_PROBE = r"""
import json, re, sys
if sys.argv[1] == "core":
    import dbt.version
from dagster_project.definitions import build_definitions
from dagster_project.defs.dbt import MANIFEST_PATH, TRANSLATOR
from dagster_project.settings import Settings
from dagster_dbt.compat import DBT_PYTHON_VERSION
from dagster_dbt.core.dbt_cli_event import DbtCoreCliEventMessage
from dagster_shared.libraries import DagsterLibraryRegistry

def text(value):
    return re.sub(r" at 0x[0-9a-f]+", "", str(value))

loaded_dbt = sorted(m for m in sys.modules if m == "dbt" or m.startswith("dbt."))
folder = sys.argv[2]
defs = build_definitions(Settings(raw_dir=folder + "/raw", warehouse=folder + "/w.duckdb"))
graph = defs.resolve_asset_graph()
assets = {}
for key in graph.get_all_asset_keys():
    node = graph.get(key)
    assets[text(key)] = [
        sorted(map(text, node.parent_keys)), node.group_name, node.description,
        sorted((k, text(v)) for k, v in node.metadata.items()), sorted(map(text, node.check_keys)),
    ]
checks = {}
for key in graph.asset_check_keys:
    spec = graph.get_check_spec(key)
    checks[text(key)] = [
        spec.description, sorted(text(d.asset_key) for d in spec.additional_deps),
        spec.blocking, sorted((k, text(v)) for k, v in spec.metadata.items()),
    ]
manifest = json.loads(MANIFEST_PATH.read_text())
events = []
for line in sys.stdin:
    message = DbtCoreCliEventMessage(raw_event=json.loads(line), event_history_metadata={})
    made = message.to_default_asset_events(manifest=manifest, dagster_dbt_translator=TRANSLATOR)
    for event in made:
        events.append([
            type(event).__name__, text(getattr(event, "asset_key", None)),
            getattr(event, "output_name", None), getattr(event, "check_name", None),
            getattr(event, "passed", None), text(getattr(event, "severity", None)),
            sorted((k, text(v)) for k, v in event.metadata.items()),
        ])
print(json.dumps({
    "dbt_core_in_dagster_dbt": DBT_PYTHON_VERSION is not None,
    "dbt_modules_after_definitions": len(loaded_dbt),
    "libraries": DagsterLibraryRegistry.get(),
    "assets": assets, "checks": checks, "events": events,
}))
"""


def _variants() -> list[dict]:
    """The recorded model and test results, and the same lines as dbt writes them for the other
    outcomes: a model that failed; a test that failed, warned, errored or was skipped."""
    model, test = (json.loads(line) for line in EVENTS.read_text().splitlines())
    out = [model, test]
    failed_model = copy.deepcopy(model)
    failed_model["data"]["node_info"]["node_status"] = "error"
    failed_model["data"]["status"] = "ERROR"
    out.append(failed_model)
    for status in ("fail", "warn", "error", "skipped"):
        variant = copy.deepcopy(test)
        variant["data"]["node_info"]["node_status"] = status
        variant["data"]["status"] = status
        variant["data"]["num_failures"] = 0 if status in ("error", "skipped") else 3
        out.append(variant)
    return out


def _probe(side: str, tmp_path: Path) -> dict:
    lines = "".join(json.dumps(e) + "\n" for e in _variants())
    done = subprocess.run(
        [sys.executable, "-c", _PROBE, side, str(tmp_path)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dagster_dbt_without_dbt_core_shows_and_reports_the_same(tmp_path: Path) -> None:
    apart, core = _probe("apart", tmp_path), _probe("core", tmp_path)
    # the point of it: dagster-dbt did not load dbt-core, so neither did the definitions
    assert apart["dbt_core_in_dagster_dbt"] is False and core["dbt_core_in_dagster_dbt"] is True
    assert apart["dbt_modules_after_definitions"] == 0
    assert core["dbt_modules_after_definitions"] > 100
    # Dagster's library versions name the engine that runs, not dbt Fusion
    installed = subprocess.run(
        [str(Path(sys.executable).parent / "dbt"), "--version"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    engine = re.search(r"(\d+\.\d+\.\d+)", installed)
    assert engine is not None
    assert apart["libraries"]["dbt-core"] == engine.group(1)
    assert "dbt-fusion" not in apart["libraries"]
    assert apart["libraries"] == core["libraries"]
    # the same assets and checks from the same manifest
    assert len(apart["assets"]) > 60 and len(apart["checks"]) > 150
    assert apart["assets"] == core["assets"]
    assert apart["checks"] == core["checks"]
    # and the same events from dbt's result lines
    assert apart["events"] == core["events"]
    kinds = [(e[0], e[4], e[5]) for e in apart["events"]]
    # (outside a run dagster-dbt makes materialisations and evaluations, in a run outputs and
    # check results of the same content) the model built is one; the failed model none; each
    # test outcome one: pass, fail (error), warn (warn), error (error); a skipped test none
    assert kinds == [
        ("AssetMaterialization", None, "None"),
        ("AssetCheckEvaluation", True, "AssetCheckSeverity.ERROR"),
        ("AssetCheckEvaluation", False, "AssetCheckSeverity.ERROR"),
        ("AssetCheckEvaluation", False, "AssetCheckSeverity.WARN"),
        ("AssetCheckEvaluation", False, "AssetCheckSeverity.ERROR"),
    ], kinds
    assert apart["events"][0][1] == "AssetKey(['staging', 'stg_planning__targets'])"
