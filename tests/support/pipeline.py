"""The whole nightly job on a landing folder, as `firewatch run` runs it, and where real data sets
are kept on this machine."""

from __future__ import annotations

from pathlib import Path

REALDATA = Path(__file__).resolve().parents[3] / "shared" / "realdata"


def run_pipeline(raw_dir: Path, warehouse: Path, as_of: str = "") -> int:
    from dagster_project.cli.run import run_nightly

    return run_nightly(raw_dir=raw_dir, warehouse=warehouse, as_of=as_of, quiet=True)
