"""The Makefile rebuilds the dbt manifest when the dbt project changes, a removed model too."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _manifest_is_current(project: Path) -> bool:
    # `make -q` runs nothing and exits 0 when the target is up to date, 1 when it is not
    done = subprocess.run(["make", "-q", "manifest"], cwd=project, capture_output=True)
    assert done.returncode in (0, 1), done.stderr
    return done.returncode == 0


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_the_manifest_is_rebuilt_after_a_model_is_added_changed_or_removed(
    tmp_path: Path,
) -> None:
    project = tmp_path / "checkout"
    (project / "dbt_project").mkdir(parents=True)
    for name in ("Makefile", "pyproject.toml", "constraints.txt", "dbt_project/dbt_project.yml"):
        shutil.copy(ROOT / name, project / name)
    for folder in ("models", "macros", "seeds", "tests"):
        shutil.copytree(ROOT / "dbt_project" / folder, project / "dbt_project" / folder)
    stamp = project / ".venv" / ".installed-stamp"
    manifest = project / "dbt_project" / "target" / "manifest.json"
    stamp.parent.mkdir()
    manifest.parent.mkdir()
    stamp.touch()
    manifest.write_text("{}")
    # the checkout as `make manifest` leaves it: every file older than the manifest
    before = time.time() - 1000
    for path in project.rglob("*"):
        os.utime(path, (before, before))
    os.utime(stamp, (before + 1, before + 1))
    os.utime(manifest, (before + 100, before + 100))
    assert _manifest_is_current(project)

    model = project / "dbt_project" / "models" / "marts" / "quality" / "quarantine.sql"
    os.utime(model, (before + 200, before + 200))
    assert not _manifest_is_current(project)  # a model changed
    os.utime(manifest, (before + 300, before + 300))
    assert _manifest_is_current(project)
    model.unlink()  # the folder's time is now
    assert not _manifest_is_current(project)  # a model removed: the manifest still lists it
