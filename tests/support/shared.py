"""Something built once for the whole test run, whichever pytest-xdist worker needs it first.

`pytest -n auto` runs a session fixture once per worker; for a fixture that runs the nightly job
that is a whole pipeline run per worker. Here the first worker to ask builds into a folder all
workers share (the run's base temp folder, above each worker's own), holding a file lock; the
others wait on the lock and then find it built. Without xdist it is a plain temp folder."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Callable
from pathlib import Path

import pytest


def built_once(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], None]
) -> Path:
    """The folder `build(folder)` filled, built at most once per test run (again only if a
    build failed). Users must not change what is in it: copy a file before writing to it."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        folder = tmp_path_factory.mktemp(name)
        build(folder)
        return folder
    # each worker's base temp is <run's base temp>/popen-gwN: the parent is this run's alone
    folder = tmp_path_factory.getbasetemp().parent / f"shared-{name}"
    folder.mkdir(exist_ok=True)
    done = folder / ".built"
    with (folder.parent / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        if not done.exists():
            build(folder)
            done.touch()
    return folder
