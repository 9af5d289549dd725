"""Which warehouse kpi-firewatch runs on: the embedded DuckDB file (the default), a PostgreSQL
database, or for the dbt marts and the night's state a local Spark catalog (docs/engines.md).
Plain data, no driver imported here."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DUCKDB = "duckdb"
POSTGRES = "postgres"
SPARK = "spark"
TARGETS = (DUCKDB, POSTGRES, SPARK)
TARGET_ENV = "FIREWATCH_TARGET"
SPARK_HOME_ENV = "FIREWATCH_SPARK_HOME"
SPARK_SCHEMA_ENV = "FIREWATCH_SPARK_SCHEMA"


@dataclass(frozen=True)
class PostgresConfig:
    """Where the PostgreSQL warehouse is: the `FIREWATCH_PG_*` variables dbt's profile reads."""

    host: str = "127.0.0.1"
    port: int = 5432
    user: str = "firewatch"
    password: str = field(default="", repr=False)  # never shown: see __str__
    database: str = "firewatch"
    schema: str = "public"
    sslmode: str = "prefer"

    @classmethod
    def from_env(cls) -> PostgresConfig:
        env = os.environ
        default = cls()
        port = env.get("FIREWATCH_PG_PORT", "").strip() or str(default.port)
        if not port.isdigit():
            raise ValueError(f"FIREWATCH_PG_PORT={port!r} is not a port number")
        return cls(
            host=env.get("FIREWATCH_PG_HOST", "").strip() or default.host,
            port=int(port),
            user=env.get("FIREWATCH_PG_USER", "").strip() or default.user,
            password=env.get("FIREWATCH_PG_PASSWORD", ""),
            database=env.get("FIREWATCH_PG_DATABASE", "").strip() or default.database,
            schema=env.get("FIREWATCH_PG_SCHEMA", "").strip() or default.schema,
            sslmode=env.get("FIREWATCH_PG_SSLMODE", "").strip() or default.sslmode,
        )

    def __str__(self) -> str:  # never the password
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.database}"

    def connect(self) -> Any:
        """A psycopg2 connection in autocommit mode (`transaction()` opens one explicitly)."""
        import psycopg2

        try:
            con = psycopg2.connect(
                host=self.host,
                port=self.port,
                user=self.user,
                password=self.password or None,
                dbname=self.database,
                sslmode=self.sslmode,
                application_name="kpi-firewatch",
            )
        except psycopg2.OperationalError as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            reason = lines[-1] if lines else "refused"
            raise ConnectionError(
                f"cannot connect to PostgreSQL at {self} ({reason}); check the FIREWATCH_PG_* "
                "variables"
            ) from None
        con.autocommit = True
        return con


@dataclass(frozen=True)
class SparkConfig:
    """Where the Spark catalog is, as dbt's `spark` output reads it: the folder holding the Hive
    metastore and Spark's warehouse folder (FIREWATCH_SPARK_HOME), and the database of the
    public marts (FIREWATCH_SPARK_SCHEMA), where `alerts` and `decision_queue` go too."""

    home: Path
    schema: str = "firewatch"

    def __str__(self) -> str:
        return f"the Spark catalog in {self.home} (database {self.schema})"

    @property
    def catalog(self) -> Path:
        """The metastore's folder; its run lock (`<home>/metastore_db.run.lock`) admits one
        process at a time, as the embedded Derby database under it does."""
        return self.home / "metastore_db"

    @classmethod
    def from_env(cls) -> SparkConfig:
        home = os.environ.get(SPARK_HOME_ENV, "").strip()
        if not home:  # dbt's profile would put the metastore at `/metastore_db`
            raise ValueError(f"{SPARK_HOME_ENV} must name the Spark folder (it is not set)")
        schema = os.environ.get(SPARK_SCHEMA_ENV, "").strip() or cls.schema
        # absolute: dbt runs in the dbt project's folder
        return cls(home=Path(home).expanduser().resolve(), schema=schema)


# A warehouse a night runs on: a DuckDB file, a PostgreSQL database or a local Spark catalog.
Location = Path | PostgresConfig | SparkConfig
