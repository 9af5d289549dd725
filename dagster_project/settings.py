"""Where kpi-firewatch reads and writes: paths from flags, environment variables or defaults.

Resolved once per process into absolute paths, because dbt runs in the dbt project's folder and
a relative warehouse path would point somewhere else there.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

RAW_DIR_ENV = "FIREWATCH_RAW_DIR"
WAREHOUSE_ENV = "FIREWATCH_WAREHOUSE"


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path

    @classmethod
    def from_env(
        cls, raw_dir: str | Path | None = None, warehouse: str | Path | None = None
    ) -> Settings:
        """Flags win over environment variables, which win over the project's defaults."""
        raw = raw_dir or os.environ.get(RAW_DIR_ENV) or PROJECT_ROOT / "data" / "raw"
        wh = (
            warehouse
            or os.environ.get(WAREHOUSE_ENV)
            or PROJECT_ROOT / "warehouse" / "firewatch.duckdb"
        )
        return cls(
            raw_dir=Path(raw).expanduser().resolve(), warehouse=Path(wh).expanduser().resolve()
        )

    def export(self) -> None:
        """Make the paths visible to child processes (dbt reads the warehouse path from the env)."""
        os.environ[RAW_DIR_ENV] = str(self.raw_dir)
        os.environ[WAREHOUSE_ENV] = str(self.warehouse)
