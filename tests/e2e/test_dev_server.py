"""`make dev` tried as a new user would, through the real `dagster dev` and its GraphQL API.

Proves, against a `dagster dev` started from the project root on the tiny landing folder:

- the code location `kpi_firewatch` loads and `nightly_schedule` is visible, at 02:00 UTC and
  RUNNING without anyone switching it on;
- a manual run of `nightly` for one partition, launched with the mutation the UI sends, succeeds
  and leaves a warehouse as of that day, with `metric_series` and the BI copy;
- a two-day backfill launched the way the UI launches one for an asset job is picked up by the
  real backfill daemon and becomes exactly one run over the range (BackfillPolicy.single_run),
  as of its last day, that materializes both days of the partitioned assets and every asset of
  the job, the unpartitioned downstream ones included;
- Ctrl-C (SIGINT) stops `dagster dev` and every process it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import duckdb
import pytest

from dagster_project.defs.partitions import PARTITION_TAG, RANGE_END_TAG, RANGE_START_TAG
from dagster_project.defs.schedules import SCHEDULE_NAME
from dagster_project.settings import INSTANCE_CONFIG, PROJECT_ROOT
from tests.support.tiny_landing import write_tiny_landing

LOCATION = "kpi_firewatch"  # pyproject.toml [tool.dagster] code_location_name
# dagster_project.definitions.NIGHTLY_JOB, not imported: importing that module builds the
# definitions, which needs the dbt manifest before conftest's fixture has built it.
NIGHTLY_JOB = "nightly"
PARTITION_SET = f"{NIGHTLY_JOB}_partition_set"
BACKFILL_TAG = "dagster/backfill"
MANUAL_NIGHT = "2025-03-05"
BACKFILL_NIGHTS = ["2025-03-06", "2025-03-07"]

FINISHED_RUN = {"SUCCESS", "FAILURE", "CANCELED"}
FINISHED_BACKFILL = {"COMPLETED", "COMPLETED_SUCCESS", "COMPLETED_FAILED", "FAILED", "CANCELED"}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _child_env(tmp_path: Path, raw: Path, warehouse: Path) -> dict[str, str]:
    bin_dir = str(Path(sys.executable).parent)
    # Nothing from the caller's shell (`make test` exports DAGSTER_HOME; a developer may have
    # FIREWATCH_TIMEZONE or a notify address set) may change what a new user would see.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("FIREWATCH_", "DAGSTER_"))
    }
    env.update(
        DAGSTER_HOME=str(tmp_path / "dagster_home"),
        FIREWATCH_RAW_DIR=str(raw),
        FIREWATCH_WAREHOUSE=str(warehouse),
        # what `make dev` exports: the venv's bin first, so dagster-dbt finds this venv's dbt
        PATH=bin_dir + os.pathsep + env.get("PATH", ""),
        DBT_SEND_ANONYMOUS_USAGE_STATS="false",
    )
    return env


def _log_tail(log: Path, chars: int = 4000) -> str:
    text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
    return f"\n--- dagster dev log (tail) ---\n{text[-chars:]}"


def _stop(proc: subprocess.Popen[bytes]) -> bool:
    """Ctrl-C for the whole process group (webserver, daemon, code servers, run workers);
    SIGKILL whatever is left after 30 s. Whether SIGINT alone stopped everything."""
    # setsid (not forking: Popen's child is no group leader) made dagster dev the leader of
    # its own group, so the group id is its pid
    pgid = proc.pid
    try:
        os.killpg(pgid, signal.SIGINT)
    except ProcessLookupError:
        return proc.poll() is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)  # anyone left in the group?
        except ProcessLookupError:
            proc.wait()
            return True
        proc.poll()  # reap dagster dev itself, or it stays in the group as a zombie
        time.sleep(0.5)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)
    proc.wait()
    return False


class Dev:
    """The GraphQL endpoint of one running `dagster dev`."""

    def __init__(self, port: int, proc: subprocess.Popen[bytes], log: Path) -> None:
        self.url = f"http://127.0.0.1:{port}/graphql"
        self.proc = proc
        self.log = log
        self.repo: dict[str, str] = {}  # the RepositorySelector, once the location has loaded

    def gql(self, query: str, **variables: Any) -> dict[str, Any]:
        body = json.dumps({"query": query, "variables": variables}).encode()
        request = urllib.request.Request(
            self.url, data=body, headers={"Content-Type": "application/json"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            answer = json.load(response)
        assert not answer.get("errors"), f"{answer['errors']}{_log_tail(self.log)}"
        return answer["data"]

    def wait_for(self, what: str, probe: Callable[[], Any], timeout: float, every: float) -> Any:
        """probe() until it returns something truthy; fails with the log if dagster dev died."""
        deadline = time.monotonic() + timeout
        while True:
            assert self.proc.poll() is None, f"dagster dev exited while {what}{_log_tail(self.log)}"
            result = probe()
            if result:
                return result
            assert time.monotonic() < deadline, f"timed out after {timeout} s {what}" + _log_tail(
                self.log
            )
            time.sleep(every)


WORKSPACE = """{ workspaceOrError { __typename ... on Workspace { locationEntries {
    name locationOrLoadError { __typename ... on PythonError { message stack } } } } } }"""

REPOSITORIES = """{ repositoriesOrError { ... on RepositoryConnection {
    nodes { name location { name } } } } }"""

SCHEDULES = """query($repo: RepositorySelector!) { schedulesOrError(repositorySelector: $repo) {
    __typename ... on Schedules { results {
        name pipelineName cronSchedule executionTimezone scheduleState { status } } }
    ... on PythonError { message } } }"""

# The mutation behind the Launchpad's "Launch run" (the UI's LaunchPipelineExecution resolves to
# the same implementation); a partition is chosen by its tag, as the UI's partition picker does.
LAUNCH_RUN = """mutation($params: ExecutionParams!) { launchRun(executionParams: $params) {
    __typename ... on LaunchRunSuccess { run { runId } }
    ... on PythonError { message stack } ... on InvalidSubsetError { message }
    ... on RunConfigValidationInvalid { errors { message } } } }"""

RUN = """query($id: ID!) { runOrError(runId: $id) { __typename ... on Run {
    runId status tags { key value } assetSelection { path } } } }"""

RUN_ERRORS = """query($id: ID!) { logsForRun(runId: $id) { ... on EventConnection { events {
    __typename ... on MessageEvent { level stepKey message }
    ... on ErrorEvent { error { message } } } } } }"""

JOB_ASSETS = """query($job: PipelineSelector!) { assetNodes(pipeline: $job) {
    assetKey { path } isPartitioned } }"""

LAUNCH_BACKFILL = """mutation($params: LaunchBackfillParams!) {
    launchPartitionBackfill(backfillParams: $params) {
        __typename ... on LaunchBackfillSuccess { backfillId }
        ... on PythonError { message stack } ... on PartitionSetNotFoundError { message }
        ... on UnauthorizedError { message } } }"""

BACKFILL = """query($id: String!) { partitionBackfillOrError(backfillId: $id) {
    __typename ... on PartitionBackfill { status error { message } } } }"""

RUNS_WITH_TAG = """query($filter: RunsFilter!) { runsOrError(filter: $filter) {
    ... on Runs { results { runId status tags { key value } assetSelection { path } } } } }"""

MATERIALIZATIONS = """query($key: AssetKeyInput!, $partitions: [String!]) {
    assetOrError(assetKey: $key) { ... on Asset {
        assetMaterializations(partitions: $partitions) { partition runId } } } }"""


def _run_errors(dev: Dev, run_id: str) -> str:
    events = dev.gql(RUN_ERRORS, id=run_id)["logsForRun"].get("events", [])
    lines = [
        f"{event.get('stepKey') or '-'}: {event.get('message', '')} "
        f"{(event.get('error') or {}).get('message', '')}".strip()
        for event in events
        if event.get("level") == "ERROR" or event.get("error")
    ]
    return "\n".join(lines[-20:]) or "(no error events)"


def _wait_for_run(dev: Dev, run_id: str) -> dict[str, Any]:
    def finished() -> dict[str, Any] | None:
        run = dev.gql(RUN, id=run_id)["runOrError"]
        return run if run.get("status") in FINISHED_RUN else None

    run = dev.wait_for(f"waiting for run {run_id}", finished, timeout=300, every=2)
    assert run["status"] == "SUCCESS", (
        f"run {run_id}: {run['status']}\n{_run_errors(dev, run_id)}{_log_tail(dev.log)}"
    )
    return run


def _tags(run: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag["value"] for tag in run["tags"]}


def _warehouse_rows(warehouse: Path, sql: str) -> list[tuple]:
    # The run is SUCCESS once its last event is written; its worker process may still be
    # letting go of DuckDB's write lock for a moment, so a read-only open may briefly fail.
    deadline = time.monotonic() + 15
    while True:
        try:
            con = duckdb.connect(str(warehouse), read_only=True)
        except duckdb.IOException:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
            continue
        try:
            return con.execute(sql).fetchall()
        finally:
            con.close()


@pytest.mark.slow
def test_make_dev_shows_the_schedule_runs_nightly_and_backfills_two_days_in_one_run(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    warehouse = tmp_path / "firewatch.duckdb"
    home = tmp_path / "dagster_home"
    home.mkdir()
    # What `make dev` gives a new user is an empty DAGSTER_HOME: the defaults (queued run
    # coordinator, daemon, sqlite storage) stay; only telemetry is switched off for a test.
    # the instance configuration `make dev` installs (one run at a time: DuckDB has one writer)
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    port = _free_port()
    log = tmp_path / "dagster_dev.log"
    dagster = Path(sys.executable).parent / "dagster"

    with log.open("wb") as out:
        # `dagster dev` started from a script may inherit SIGINT/SIGTERM as ignored (a background
        # job of a non-interactive shell does) and then never stops on them; `env` restores the
        # default handlers and `setsid` gives it a process group of its own, which is what a
        # terminal's Ctrl-C signals.
        proc = subprocess.Popen(
            ["setsid", "env", "--default-signal=INT,TERM", str(dagster), "dev",
             "-h", "127.0.0.1", "-p", str(port)],
            cwd=PROJECT_ROOT,  # where pyproject.toml's [tool.dagster] is found, as for `make dev`
            env=_child_env(tmp_path, raw, warehouse),
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        dev = Dev(port, proc, log)
        _check_location_and_schedule(dev)
        _manual_run(dev, warehouse)
        _backfill(dev, warehouse)
    finally:
        stopped_by_sigint = _stop(proc)
    assert stopped_by_sigint, "dagster dev did not stop on SIGINT within 30 s" + _log_tail(log)


def _check_location_and_schedule(dev: Dev) -> None:
    def location_loaded() -> dict[str, Any] | None:
        try:
            data = dev.gql(WORKSPACE)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None  # the webserver is not listening yet
        workspace = data["workspaceOrError"]
        entries = {e["name"]: e for e in workspace.get("locationEntries", [])}
        loaded = (entries.get(LOCATION) or {}).get("locationOrLoadError") or {}
        # a definitions module that fails to import is an answer, not something to wait out
        assert loaded.get("__typename") != "PythonError", (
            f"{LOCATION} failed to load: {loaded.get('message')}\n{loaded.get('stack')}"
        )
        return loaded if loaded.get("__typename") == "RepositoryLocation" else None

    dev.wait_for(f"waiting for code location {LOCATION}", location_loaded, timeout=120, every=1)

    repositories = dev.gql(REPOSITORIES)["repositoriesOrError"]["nodes"]
    names = [r["name"] for r in repositories if r["location"]["name"] == LOCATION]
    assert len(names) == 1, repositories
    dev.repo = {"repositoryLocationName": LOCATION, "repositoryName": names[0]}

    schedules = dev.gql(SCHEDULES, repo=dev.repo)["schedulesOrError"]
    assert schedules["__typename"] == "Schedules", schedules
    by_name = {s["name"]: s for s in schedules["results"]}
    assert SCHEDULE_NAME in by_name, f"schedules: {sorted(by_name)}"
    schedule = by_name[SCHEDULE_NAME]
    assert (
        schedule["pipelineName"],
        schedule["cronSchedule"],
        schedule["executionTimezone"],
        schedule["scheduleState"]["status"],
    ) == (NIGHTLY_JOB, "0 2 * * *", "UTC", "RUNNING")


def _manual_run(dev: Dev, warehouse: Path) -> None:
    params = {
        "selector": {**dev.repo, "jobName": NIGHTLY_JOB},
        "runConfigData": {},
        "executionMetadata": {"tags": [{"key": PARTITION_TAG, "value": MANUAL_NIGHT}]},
    }
    launched = dev.gql(LAUNCH_RUN, params=params)["launchRun"]
    assert launched["__typename"] == "LaunchRunSuccess", launched
    run = _wait_for_run(dev, launched["run"]["runId"])
    assert _tags(run)[PARTITION_TAG] == MANUAL_NIGHT

    # read only once the run has finished: DuckDB has one writer and the run was it
    as_of = _warehouse_rows(warehouse, "select as_of_date from intermediate.int_run_context")
    assert as_of == [(date.fromisoformat(MANUAL_NIGHT),)]
    (count,) = _warehouse_rows(warehouse, "select count(*) from main.metric_series")[0]
    assert count > 0
    assert warehouse.with_name("firewatch_bi.duckdb").exists()


def _backfill(dev: Dev, warehouse: Path) -> None:
    job_assets = dev.gql(JOB_ASSETS, job={**dev.repo, "pipelineName": NIGHTLY_JOB})["assetNodes"]
    asset_keys = [{"path": node["assetKey"]["path"]} for node in job_assets]
    partitioned = [
        key for key, node in zip(asset_keys, job_assets, strict=True) if node["isPartitioned"]
    ]
    # What the UI's "Materialize all" on the job page sends for a date range of an asset job
    # (LaunchAssetChoosePartitionsDialog, target "job"): the job's partition set, its assets
    # and the partition names. The backfill daemon then splits it into runs.
    params = {
        "selector": {"partitionSetName": PARTITION_SET, "repositorySelector": dev.repo},
        "assetSelection": asset_keys,
        "partitionNames": BACKFILL_NIGHTS,
        "fromFailure": False,
        "tags": [],
    }
    launched = dev.gql(LAUNCH_BACKFILL, params=params)["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill_id = launched["backfillId"]

    def finished() -> dict[str, Any] | None:
        backfill = dev.gql(BACKFILL, id=backfill_id)["partitionBackfillOrError"]
        return backfill if backfill.get("status") in FINISHED_BACKFILL else None

    # The daemon looks at backfills every 30 s: one pass submits, a later one, after the run
    # has finished, marks the backfill complete (so by then it has submitted every run).
    backfill = dev.wait_for(f"waiting for backfill {backfill_id}", finished, timeout=300, every=3)
    runs = dev.gql(RUNS_WITH_TAG, filter={"tags": [{"key": BACKFILL_TAG, "value": backfill_id}]})
    runs = runs["runsOrError"]["results"]
    described = [(r["runId"], r["status"], _tags(r)) for r in runs]
    for run in runs:
        if run["status"] != "SUCCESS":
            described.append(_run_errors(dev, run["runId"]))
    assert backfill["status"] == "COMPLETED_SUCCESS", f"{backfill}: {described}"
    assert len(runs) == 1, f"a two-day backfill should be one run: {described}"

    (run,) = runs
    tags = _tags(run)
    assert (tags.get(RANGE_START_TAG), tags.get(RANGE_END_TAG)) == tuple(BACKFILL_NIGHTS), tags
    assert PARTITION_TAG not in tags, tags  # a range, not one of its days
    # the one run covers every asset of the job, the unpartitioned downstream ones too
    selected = sorted(tuple(key["path"]) for key in run["assetSelection"] or [])
    assert selected == sorted(tuple(key["path"]) for key in asset_keys)
    # and every partitioned asset recorded both days, in that run
    for key in partitioned:
        events = dev.gql(MATERIALIZATIONS, key=key, partitions=BACKFILL_NIGHTS)["assetOrError"]
        by_partition = {e["partition"]: e["runId"] for e in events["assetMaterializations"]}
        assert by_partition == dict.fromkeys(BACKFILL_NIGHTS, run["runId"]), (key, by_partition)

    # one run as of the range's last day
    as_of = _warehouse_rows(warehouse, "select as_of_date from intermediate.int_run_context")
    assert as_of == [(date.fromisoformat(BACKFILL_NIGHTS[-1]),)]
