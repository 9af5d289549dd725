"""Shared fixtures: the dbt manifest built once, and the hand-built `tiny` landing folder run
through the whole nightly job once for the whole run. Helpers (landing-folder writers, warehouse
queries, the nightly run) are in tests/support/; `--durations-md PATH` writes per-file durations."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from dagster_project.settings import DBT_PROJECT_DIR
from tests.support.pipeline import run_pipeline
from tests.support.shared import built_once

if TYPE_CHECKING:
    from tests.support.postgres import PostgresServer


@pytest.fixture(scope="session", autouse=True)
def dbt_manifest() -> Path:
    """The manifest `make` builds; built here too so `pytest` alone works on a fresh clone."""
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    manifest = DBT_PROJECT_DIR / "target" / "manifest.json"
    if not manifest.exists():
        subprocess.run(
            [str(Path(bin_dir) / "dbt"), "parse", "--profiles-dir", ".", "--quiet"],
            cwd=DBT_PROJECT_DIR,
            check=True,
        )
    return manifest


@pytest.fixture(scope="session")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The hand-built landing folder run through the whole nightly job as of 2025-05-31, built
    once for the whole run (all workers share it, tests/support/shared.py). Read-only: a test
    that writes to the warehouse, or runs dbt on it (dbt opens it for writing), copies the file
    first; readers open it read-only."""
    from tests.support.tiny_landing import write_tiny_landing

    def build(root: Path) -> None:
        write_tiny_landing(root / "raw")
        assert run_pipeline(root / "raw", root / "firewatch.duckdb", as_of="2025-05-31") == 0

    return built_once(tmp_path_factory, "tiny", build) / "firewatch.duckdb"


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this worker's own (tests/support/postgres.py; installed first when
    root and missing, skipped where it cannot be)."""
    from tests.support.postgres import PostgresUnavailable, postgres_server, server_binaries

    try:
        server_binaries()
    except PostgresUnavailable as missing:
        pytest.skip(str(missing))
    with postgres_server() as server:
        yield server


@pytest.fixture(scope="module")
def postgres(
    postgres_cluster: PostgresServer, request: pytest.FixtureRequest
) -> Iterator[PostgresServer]:
    """An empty database of the test module's own on the worker's server: two modules on one
    worker must not build into one database (an incremental model would keep the other
    module's rows)."""
    from dataclasses import replace

    name = "t_" + request.module.__name__.rsplit(".", 1)[-1][:50]
    admin = postgres_cluster.connect()
    admin.autocommit = True
    with admin.cursor() as cursor:
        cursor.execute(f'drop database if exists "{name}"')
        cursor.execute(f'create database "{name}"')
    admin.close()
    yield replace(postgres_cluster, database=name)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--durations-md",
        metavar="PATH",
        default=None,
        help="write per-file test durations (kind, tests, seconds) as Markdown to PATH",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Longest files first (docs/test_durations.md from the last `make test`): the two workers
    then finish together instead of one running the last long e2e file alone."""
    from tests.support.durations import longest_first

    root = Path(config.rootpath)
    files = list(dict.fromkeys(item.path.relative_to(root).as_posix() for item in items))
    rank = {path: i for i, path in enumerate(longest_first(files, root / "docs/test_durations.md"))}
    items.sort(key=lambda item: rank[item.path.relative_to(root).as_posix()])


def pytest_configure(config: pytest.Config) -> None:
    out = config.getoption("--durations-md", default=None)
    if out and not hasattr(config, "workerinput"):  # the xdist controller, or a plain run
        from tests.support.durations import DurationsReport

        command = "pytest " + " ".join(config.invocation_params.args)
        config.pluginmanager.register(DurationsReport(Path(out), command), "durations-md")
