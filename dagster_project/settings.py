"""Where kpi-firewatch reads and writes, and when it runs: flags, environment variables, defaults.

Resolved once per process into absolute paths, because dbt runs in the dbt project's folder and
a relative warehouse path would point somewhere else there.
"""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dagster_project.warehouse.target import (
    DUCKDB,
    POSTGRES,
    SPARK,
    SPARK_HOME_ENV,
    SPARK_SCHEMA_ENV,
    TARGET_ENV,
    TARGETS,
    Location,
    PostgresConfig,
    SparkConfig,
)

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DBT_PROJECT_DIR = PROJECT_ROOT / "dbt_project"

RAW_DIR_ENV = "FIREWATCH_RAW_DIR"
# `landing` (the default): the loader checks the landing folder's files into `raw`;
# `warehouse`: an ELT tool keeps `raw` filled, the loader does not run (ingest/in_warehouse.py).
RAW_SOURCE_ENV = "FIREWATCH_RAW_SOURCE"
RAW_SOURCES = ("landing", "warehouse")
WAREHOUSE_ENV = "FIREWATCH_WAREHOUSE"
BI_COPY_ENV = "FIREWATCH_BI_COPY"
BI_PARQUET_ENV = "FIREWATCH_BI_PARQUET_DIR"
CRON_ENV = "FIREWATCH_SCHEDULE_CRON"
TIMEZONE_ENV = "FIREWATCH_TIMEZONE"
PARTITIONS_START_ENV = "FIREWATCH_PARTITIONS_START"
MEMORY_LIMIT_ENV = "FIREWATCH_DUCKDB_MEMORY_LIMIT"
RULES_ENV = "FIREWATCH_RULES"
RUN_LOCK_WAIT_ENV = "FIREWATCH_RUN_LOCK_WAIT"
QUEUE_WAIT_ENV = "FIREWATCH_QUEUE_WAIT"
LOCK_WAIT_ENV = "FIREWATCH_LOCK_WAIT"
EARLIEST_DATE_ENV = "FIREWATCH_EARLIEST_DATE"
MAX_DROP_ENV = "FIREWATCH_MAX_DROP"
DAGSTER_HOME_ENV = "DAGSTER_HOME"
DEFAULT_DAGSTER_HOME = PROJECT_ROOT / ".dagster_home"
# The Dagster instance settings every instance of the project starts from (copied into a home).
INSTANCE_CONFIG = PROJECT_ROOT / "dagster_project" / "dagster.yaml"

DEFAULT_CRON = "0 2 * * *"
DEFAULT_TIMEZONE = "UTC"
# The first day a partition exists for; data before it is still loaded and built, it is just
# not a partition one can backfill on its own.
DEFAULT_PARTITIONS_START = "2024-01-01"
# Per DuckDB database in a process (dbt's profile reads the same variable): a large build
# spills to disk instead of taking 80% of the machine, DuckDB's default.
DEFAULT_MEMORY_LIMIT = "2GB"
DEFAULT_RULES_PATH = PROJECT_ROOT / "dagster_project" / "rules.yml"
# A second nightly run waits for the first this long (seconds) before it gives up.
DEFAULT_RUN_LOCK_WAIT = 3600.0
# A queue verb waits this long for a nightly run before it gives up.
DEFAULT_QUEUE_WAIT = 600.0
# The load waits this long for a client outside the pipeline (a BI tool or notebook opened on
# the warehouse itself rather than on the BI copy) to let go of DuckDB's file lock.
DEFAULT_LOCK_WAIT = 600.0
# An event before this day is an export default (1970-01-01, 1900-01-01) or a typo, not
# marketing: the loader quarantines it like an event in the future.
DEFAULT_EARLIEST_DATE = "2000-01-01"
# A night whose control totals over all history (spend, sessions, leads) fall by more than this
# share against the last accepted night is stopped before alerts and the BI copy change.
DEFAULT_MAX_DROP = 0.5


class SettingsError(ValueError):
    """A setting from the environment that cannot be used; names the variable."""


def _timezone(text: str) -> str:
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise SettingsError(f"{TIMEZONE_ENV}={text!r} is not an IANA time zone") from None
    return text


def _cron(text: str) -> str:
    # Dagster validates the expression itself; five fields is what it accepts.
    if len(text.split()) != 5:
        raise SettingsError(f"{CRON_ENV}={text!r} is not a five-field cron expression")
    return text


def _start(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise SettingsError(f"{PARTITIONS_START_ENV}={text!r} is not a date (YYYY-MM-DD)") from None


def duckdb_memory_limit() -> str:
    """FIREWATCH_DUCKDB_MEMORY_LIMIT (e.g. `2GB`, `1500MB`), checked before it reaches SQL."""
    text = os.environ.get(MEMORY_LIMIT_ENV, "").strip() or DEFAULT_MEMORY_LIMIT
    if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", text, re.IGNORECASE):
        raise SettingsError(f"{MEMORY_LIMIT_ENV}={text!r} is not a size like 2GB or 1500MB")
    return text


def seconds_from_env(name: str, default: float) -> float:
    """A wait in seconds from environment variable `name` (unset or blank: `default`)."""
    text = os.environ.get(name, "").strip()
    try:
        value = float(text) if text else default
    except ValueError:
        value = -1.0
    if value < 0:
        raise SettingsError(f"{name}={text!r} is not a number of seconds >= 0")
    return value


def run_lock_wait() -> float:
    """FIREWATCH_RUN_LOCK_WAIT: how long a nightly run waits for another one."""
    return seconds_from_env(RUN_LOCK_WAIT_ENV, DEFAULT_RUN_LOCK_WAIT)


def queue_wait() -> float:
    """FIREWATCH_QUEUE_WAIT: how long a queue verb waits for a nightly run."""
    return seconds_from_env(QUEUE_WAIT_ENV, DEFAULT_QUEUE_WAIT)


def lock_wait() -> float:
    """FIREWATCH_LOCK_WAIT: how long the load waits for another client's DuckDB lock."""
    return seconds_from_env(LOCK_WAIT_ENV, DEFAULT_LOCK_WAIT)


def earliest_date() -> date:
    """FIREWATCH_EARLIEST_DATE (YYYY-MM-DD): events before it are quarantined by the load."""
    text = os.environ.get(EARLIEST_DATE_ENV, "").strip() or DEFAULT_EARLIEST_DATE
    try:
        if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            raise ValueError(text)
        return date.fromisoformat(text)
    except ValueError:
        raise SettingsError(f"{EARLIEST_DATE_ENV}={text!r} is not a date (YYYY-MM-DD)") from None


def max_drop() -> float:
    """FIREWATCH_MAX_DROP: the share (0 < x <= 1) a control total may fall by before a night
    is stopped; a total that falls to zero always stops it."""
    text = os.environ.get(MAX_DROP_ENV, "").strip()
    try:
        value = float(text) if text else DEFAULT_MAX_DROP
    except ValueError:
        value = -1.0
    if not 0 < value <= 1:
        raise SettingsError(f"{MAX_DROP_ENV}={text!r} is not a share between 0 and 1 (e.g. 0.5)")
    return value


def rules_path(path: str | os.PathLike[str] | None = None) -> Path:
    """The rule file: the argument, else $FIREWATCH_RULES, else dagster_project/rules.yml."""
    if path is not None:
        return Path(path)
    env = os.environ.get(RULES_ENV)
    return Path(env) if env else DEFAULT_RULES_PATH


def dagster_home() -> Path:
    """$DAGSTER_HOME, else the project's `.dagster_home` (what `make dev` uses), created with the
    project's instance settings: `firewatch run` and the UI share one instance by default, so
    every run shows in the UI."""
    home = Path(os.environ.get(DAGSTER_HOME_ENV, "").strip() or DEFAULT_DAGSTER_HOME).resolve()
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        shutil.copyfile(INSTANCE_CONFIG, config)
    os.environ[DAGSTER_HOME_ENV] = str(home)
    return home


@dataclass(frozen=True)
class Settings:
    raw_dir: Path
    warehouse: Path
    bi_copy: Path | None = None  # None: beside the warehouse, `<stem>_bi.duckdb`
    bi_parquet_dir: Path | None = None  # None: no Parquet copy
    cron: str = DEFAULT_CRON
    timezone: str = DEFAULT_TIMEZONE
    partitions_start: str = DEFAULT_PARTITIONS_START
    # The engine the marts, alerts and the queue live in (docs/engines.md). On PostgreSQL and
    # Spark the DuckDB file above stays the loader's checked staging copy of the landing folder.
    target: str = DUCKDB
    postgres: PostgresConfig | None = None
    spark: SparkConfig | None = None
    raw_source: str = RAW_SOURCES[0]

    @classmethod
    def from_env(
        cls,
        raw_dir: str | Path | None = None,
        warehouse: str | Path | None = None,
        target: str | None = None,
        raw_source: str | None = None,
    ) -> Settings:
        """Flags win over environment variables, which win over the project's defaults."""
        engine = (target or os.environ.get(TARGET_ENV, "").strip() or DUCKDB).lower()
        if engine not in TARGETS:
            raise SettingsError(
                f"{TARGET_ENV}={engine!r} (or --target) is not one of {', '.join(TARGETS)}"
            )
        try:
            postgres = PostgresConfig.from_env() if engine == POSTGRES else None
            spark = SparkConfig.from_env() if engine == SPARK else None
        except ValueError as error:
            raise SettingsError(str(error)) from None
        source = (
            raw_source or os.environ.get(RAW_SOURCE_ENV, "").strip() or RAW_SOURCES[0]
        ).lower()
        if source not in RAW_SOURCES:
            raise SettingsError(
                f"{RAW_SOURCE_ENV}={source!r} (or --raw-source) is not one of "
                + ", ".join(RAW_SOURCES)
            )
        raw = raw_dir or os.environ.get(RAW_DIR_ENV) or PROJECT_ROOT / "data" / "raw"
        wh = (
            warehouse
            or os.environ.get(WAREHOUSE_ENV)
            or PROJECT_ROOT / "warehouse" / "firewatch.duckdb"
        )
        bi = os.environ.get(BI_COPY_ENV, "").strip()
        parquet = os.environ.get(BI_PARQUET_ENV, "").strip()
        return cls(
            raw_dir=Path(raw).expanduser().resolve(),
            warehouse=Path(wh).expanduser().resolve(),
            bi_copy=Path(bi).expanduser().resolve() if bi else None,
            bi_parquet_dir=Path(parquet).expanduser().resolve() if parquet else None,
            cron=_cron(os.environ.get(CRON_ENV, "").strip() or DEFAULT_CRON),
            timezone=_timezone(os.environ.get(TIMEZONE_ENV, "").strip() or DEFAULT_TIMEZONE),
            partitions_start=_start(
                os.environ.get(PARTITIONS_START_ENV, "").strip() or DEFAULT_PARTITIONS_START
            ),
            target=engine,
            postgres=postgres,
            spark=spark,
            raw_source=source,
        )

    @property
    def location(self) -> Location:
        """Where the marts, alerts, the queue and the decision log are."""
        return self.postgres or self.spark or self.warehouse

    @property
    def bi_copy_path(self) -> Path:
        return self.bi_copy or self.warehouse.with_name(f"{self.warehouse.stem}_bi.duckdb")

    def export(self) -> None:
        """Make the paths visible to child processes (dbt reads the warehouse path from the env)."""
        os.environ[RAW_DIR_ENV] = str(self.raw_dir)
        os.environ[WAREHOUSE_ENV] = str(self.warehouse)
        os.environ[TARGET_ENV] = self.target
        os.environ[RAW_SOURCE_ENV] = self.raw_source
        # dbt's profile picks its output from this one
        os.environ["FIREWATCH_DBT_TARGET"] = self.target
        if self.spark is not None:  # (resolved: dbt runs in the dbt project's folder)
            os.environ[SPARK_HOME_ENV] = str(self.spark.home)
            os.environ[SPARK_SCHEMA_ENV] = self.spark.schema
