"""A dbt process started at the beginning of `firewatch run` and handed to the night's dbt step.

dbt's own start (Python importing dbt-core and the adapter: about 1.7 s of one core) used to
begin when the dbt step did, after Dagster had loaded. Started first, it imports on the second
core while this process loads Dagster and the loader runs; the dbt step then sends it the
command line, environment and folder dagster-dbt would have started `dbt` with, and reads its
output as it would read that process's. Nothing else changes: the same dbt, arguments and
variables, the same exit code, and dagster-dbt can interrupt it as its own.

A run started elsewhere (the Dagster UI, the schedule's daemon) has no waiting process and
starts `dbt` as before. This module imports nothing heavy: the CLI calls `start()` before it
imports Dagster.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

from dagster_project.runtime.dbt_warmup import night_state

if TYPE_CHECKING:
    from dagster_project.settings import Settings

# The child: import dbt (and the adapter of the target, when it is DuckDB's), warm itself with a
# quiet parse from the warehouse's partial-parse state when it is given one (dbt_warmup.py),
# then wait for one line {"args", "env", "cwd"} and run dbt as the `dbt` script does. An empty
# line or EOF (the parent ended, or the run did not reach dbt) ends it without running anything.
_CHILD = """
import json, os, sys
from dbt.cli.main import cli
if os.environ.get("FIREWATCH_DBT_TARGET", "duckdb") == "duckdb":
    try:
        import dbt.adapters.duckdb
    except ImportError:
        pass
if os.environ.get("FIREWATCH_DBT_WARM_STATE"):
    try:
        from pathlib import Path
        from dagster_project.runtime.dbt_warmup import warm_up
        warm_up(Path(os.environ["FIREWATCH_DBT_WARM_STATE"]))
    except Exception:
        pass
line = sys.stdin.readline()
if not line.strip():
    sys.exit(0)
order = json.loads(line)
os.environ.clear()
os.environ.update(order["env"])
os.chdir(order["cwd"])
sys.argv = [order["args"][0].removesuffix(".exe"), *order["args"][1:]]
sys.exit(cli())
"""

_waiting: subprocess.Popen[bytes] | None = None
_lock = threading.RLock()
handed = 0  # dbt commands this process handed to a waiting dbt (what tests look at)
warmed_from: Path | None = None  # the state the last process started was told to warm with


def dbt_executable() -> Path:
    """The venv's own `dbt` (the one dagster-dbt is given in defs/dbt.py)."""
    return Path(sys.executable).parent / "dbt"


def start(target: str | None = None, warm_state: Path | None = None) -> None:
    """Starts the waiting dbt process, once; does nothing where there is no venv `dbt`.
    `target`: the dbt target the run will use (else FIREWATCH_DBT_TARGET), for which adapter
    it imports ahead; `warm_state`: the partial-parse state the night's dbt will read, to warm
    the process with (its environment must be the night's: the warehouse exported)."""
    global _waiting, warmed_from
    with _lock:
        if _waiting is not None and _waiting.poll() is None:
            return
        _end(_waiting)  # one that died (it never ran anything)
        _waiting = None
        if not dbt_executable().exists():
            return
        env = dict(os.environ)
        if target:
            env["FIREWATCH_DBT_TARGET"] = target
        if warm_state is not None:
            env["FIREWATCH_DBT_WARM_STATE"] = str(warm_state)
        warmed_from = warm_state
        _waiting = subprocess.Popen(
            # -P: the child's path is the venv's, not the current folder's
            [sys.executable, "-P", "-c", _CHILD],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
        )


def _end(process: subprocess.Popen[bytes] | None) -> None:
    """Kills and reaps a child that was never handed a command (it has only imported dbt), and
    closes its pipes."""
    if process is None:
        return
    with suppress(OSError):
        process.kill()
    process.wait()
    for pipe in (process.stdin, process.stdout):
        with suppress(OSError, ValueError):
            if pipe is not None:
                pipe.close()


def stop() -> None:
    """Ends a process that was never handed a command (the run stopped before dbt)."""
    global _waiting
    with _lock:
        process, _waiting = _waiting, None
    _end(process)


@contextmanager
def waiting(target: str | None = None, warm_state: Path | None = None) -> Iterator[None]:
    """A waiting dbt process for what runs inside (one already waiting is kept); one not
    handed to dbt by the end (the run stopped before its dbt step) is ended."""
    start(target=target, warm_state=warm_state)
    try:
        yield
    finally:
        stop()


@contextmanager
def waiting_for(settings: Settings) -> Iterator[None]:
    """`waiting` for the night of `settings`, exported first: the process warms itself with
    the night's environment (dbt's profile reads the warehouse from it)."""
    settings.export()
    with waiting(settings.target, night_state(settings.warehouse, settings.target)):
        yield


def take(
    args: Sequence[str], env: Mapping[str, str], cwd: str | os.PathLike[str]
) -> subprocess.Popen[bytes] | None:
    """The waiting process, now running `args` (None if there is none, it has ended, or the
    command is not the venv's dbt): a Popen whose output is dbt's."""
    global _waiting, handed
    with _lock:
        process = _waiting
        if process is None or process.stdin is None:
            return None
        if not args or Path(args[0]) != dbt_executable():
            return None
        _waiting = None
        if process.poll() is not None:  # it died: dbt starts the usual way
            _end(process)
            return None
        order = {"args": list(args), "env": dict(env), "cwd": os.fspath(cwd)}
        try:
            process.stdin.write((json.dumps(order) + "\n").encode())
            process.stdin.close()
            process.stdin = None  # as if started without one (communicate() flushes an open one)
        except OSError:  # it died meanwhile: dbt starts the usual way
            _end(process)
            return None
        process.args = list(args)  # what dagster-dbt shows as the dbt command
        handed += 1
        return process


# How dagster-dbt 0.29 starts dbt; the waiting process stands in only for exactly this.
_DAGSTER_DBT_POPEN = {"stdout": subprocess.PIPE, "stderr": subprocess.STDOUT}


@contextmanager
def handed_to_dagster_dbt() -> Iterator[None]:
    """While dagster-dbt starts its dbt invocation, its `subprocess.Popen` takes the waiting
    process when there is one (dagster-dbt 0.29 starts dbt with `subprocess.Popen` in
    `dagster_dbt.core.dbt_cli_invocation`; tests/unit/test_dbt_process.py checks it still does).
    A call with other options (a later dagster-dbt) starts dbt the usual way."""
    if _waiting is None:
        yield
        return
    from dagster_dbt.core import dbt_cli_invocation as module

    def popen(args: Sequence[str], **kwargs: Any) -> Any:
        options = {k: v for k, v in kwargs.items() if k not in ("env", "cwd")}
        if options == _DAGSTER_DBT_POPEN and "env" in kwargs and "cwd" in kwargs:
            taken = take(args, kwargs["env"], kwargs["cwd"])
            if taken is not None:
                return taken
        return subprocess.Popen(args, **kwargs)

    shim = SimpleNamespace(**{name: getattr(subprocess, name) for name in subprocess.__all__})
    shim.Popen = popen
    with _lock:  # one step at a time borrows it (the in-process executor runs one anyway)
        real = module.subprocess
        module.subprocess = shim  # type: ignore[assignment]
    try:
        yield
    finally:
        with _lock:
            module.subprocess = real
