"""What a night on Spark left, for bench/engines.py: read from the catalog once the measured
`firewatch run --target spark` has ended, in a process of its own.

The catalog's Hive metastore is an embedded Derby database, which admits one JVM at a time and
keeps it until that JVM ends; so the bench's own process never starts Spark, and this script
opens the catalog (`connect(SparkConfig(...))`, under the catalog's run lock, as a person's
`firewatch queue --target spark` does), reads the active alert ids, the decision queue's
(decision_id, status) and the row counts of `alerts` and `metric_series`, writes them to
RESULT.json and ends its JVM with the process.

    .venv/bin/python -m bench.engines_spark HOME RESULT.json [--schema firewatch]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = "firewatch"  # the marts' database (FIREWATCH_SPARK_SCHEMA's default)


def spark_outcome(home: Path, schema: str = SCHEMA) -> dict[str, Any]:
    """The active alert ids, the queue's [decision_id, status] and the row counts of `alerts`
    (every status) and `metric_series` in the catalog under `home`."""
    from dagster_project.warehouse.engine import connect
    from dagster_project.warehouse.spark import release_spark
    from dagster_project.warehouse.target import SparkConfig

    try:
        with connect(SparkConfig(home, schema), read_only=True, wait_seconds=60) as wh:
            active = wh.rows("select alert_id from {marts}.alerts where status = 'active'")
            queue = wh.rows("select decision_id, status from {marts}.decision_queue")
            ((alerts,),) = wh.rows("select count(*) from {marts}.alerts")
            ((series,),) = wh.rows("select count(*) from {marts}.metric_series")
    finally:
        release_spark()  # the JVM ends here, not at interpreter exit
    return {
        "active_alerts": sorted(a for (a,) in active),
        "queue": sorted([d, s] for d, s in queue),
        "alerts_rows": int(alerts),
        "metric_series_rows": int(series),
    }


def main(argv: Sequence[str] | None = None) -> int:
    sys.path.insert(0, str(ROOT))  # (run as `python -m bench.engines_spark` from ROOT)
    parser = argparse.ArgumentParser(description=spark_outcome.__doc__)
    parser.add_argument("home", type=Path, help="Spark's folder (FIREWATCH_SPARK_HOME)")
    parser.add_argument("result", type=Path, help="where the JSON of what the night left goes")
    parser.add_argument("--schema", default=SCHEMA, help="the marts' database")
    args = parser.parse_args(argv)
    out = spark_outcome(args.home.resolve(), args.schema)
    args.result.parent.mkdir(parents=True, exist_ok=True)
    args.result.write_text(json.dumps(out, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
