"""Warming the waiting dbt process (runtime/dbt_process.py) before the night's command arrives.

A dbt process pays on its first command for work done once per process: mashumaro compiles the
(de)serialisers of dbt's contracts, JSON schemas are built to validate the project and the
profile, the partial-parse state is read. On the demo warehouse a first `dbt parse` in a fresh
process took 1.57 s and a second one in the same process 0.14 s. The waiting process does that
first parse on its own core while Dagster loads, from the warehouse's kept partial-parse state;
the night's `dbt build` then starts warm. Its files go to a temporary folder and its output
nowhere, and it gives up rather than parse the whole project (about 10 s of CPU) when there is
no state, the state does not fit or an override macro changed; the deprecations it saw are
forgotten, so the build warns of them itself. The build itself is dbt's as before: it reads
the project, the profile and the state again and decides for itself.

Imports nothing heavy: dbt is imported by the caller.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from dagster_project.settings import DBT_PROJECT_DIR

# The project's target folder, where dbt and dagster-dbt keep their files.
DBT_TARGET_DIR = DBT_PROJECT_DIR / "target"


def partial_parse_state(warehouse: Path, target: str | None = None) -> Path:
    """Where dbt's partial-parse state for one warehouse (and dbt target) is kept: dbt counts
    the warehouse path as part of the profile, so a state written for another warehouse makes
    it parse the whole project again (10 s of CPU), and two warehouses sharing one file kept
    overwriting each other's."""
    import hashlib

    target = target or os.environ.get("FIREWATCH_DBT_TARGET", "duckdb")
    key = hashlib.sha256(f"{target}|{Path(warehouse).resolve()}".encode()).hexdigest()[:16]
    return DBT_TARGET_DIR / "partial_parse" / f"{key}.msgpack"


class _WouldParseAll(Exception):
    """The state is missing or does not fit: warming would cost a whole parse."""


@contextmanager
def _output_to_nowhere() -> Iterator[None]:
    """File descriptors 1 and 2 to /dev/null: the parent reads this process's output as the
    night's dbt output, which must begin with the build's own first line."""
    saved = [os.dup(1), os.dup(2)]
    null = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(null, 1)
        os.dup2(null, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, null):
            os.close(fd)


def warm_up(state: Path, project_dir: Path = DBT_PROJECT_DIR) -> bool:
    """One quiet `dbt parse` of `project_dir` from the partial-parse `state` (profiles in the
    project's folder); True if it ran through. Never a whole parse, never a file outside a
    temporary folder, nothing sent anywhere; any failure only means the build starts cold."""
    if not state.is_file():
        return False
    from dbt import deprecations
    from dbt.cli.main import dbtRunner
    from dbt.parser.manifest import ManifestLoader

    real_read = ManifestLoader.read_manifest_for_partial_parse
    real_macros = ManifestLoader.skip_partial_parsing_because_of_macros

    def state_or_nothing(self: ManifestLoader):  # type: ignore[no-untyped-def]
        manifest = real_read(self)
        if manifest is None:  # no state, or one that does not fit
            raise _WouldParseAll(str(state))
        return manifest

    def macros_or_nothing(self: ManifestLoader) -> bool:
        if real_macros(self):  # a changed override macro (generate_schema_name and the like)
            raise _WouldParseAll(str(state))
        return False

    saved = os.environ.get("DBT_PARTIAL_PARSE_FILE_PATH")
    os.environ["DBT_PARTIAL_PARSE_FILE_PATH"] = str(state)
    ManifestLoader.read_manifest_for_partial_parse = state_or_nothing  # type: ignore[method-assign]
    ManifestLoader.skip_partial_parsing_because_of_macros = macros_or_nothing  # type: ignore[method-assign]
    try:
        with (
            tempfile.TemporaryDirectory(prefix="firewatch-dbt-warmup-") as folder,
            _output_to_nowhere(),
        ):
            result = dbtRunner().invoke(
                ["parse", "--project-dir", str(project_dir), "--profiles-dir", str(project_dir),
                 "--target-path", folder, "--log-path", folder, "--quiet", "--no-write-json",
                 "--no-send-anonymous-usage-stats"]
            )  # fmt: skip
        return bool(result.success)
    except Exception:  # noqa: BLE001 (a warm-up that fails leaves a cold start, nothing else)
        return False
    finally:
        ManifestLoader.read_manifest_for_partial_parse = real_read  # type: ignore[method-assign]
        ManifestLoader.skip_partial_parsing_because_of_macros = real_macros  # type: ignore[method-assign]
        # dbt shows each deprecation once per process: the night's command must show its own
        deprecations.reset_deprecations()
        deprecations.buffered_deprecations.clear()
        if saved is None:
            os.environ.pop("DBT_PARTIAL_PARSE_FILE_PATH", None)
        else:
            os.environ["DBT_PARTIAL_PARSE_FILE_PATH"] = saved


def night_state(warehouse: Path, target: str) -> Path | None:
    """The state to warm a night's dbt process with; None on Spark, whose dbt starts the JVM
    that holds the catalog (one at a time) and gains nothing from a warm Python."""
    return None if target == "spark" else partial_parse_state(warehouse, target)
