"""What Dagster sees: the assets, checks, job, schedule, partitions and progress reporting.

These modules wire; the work they start lives in ingest, warehouse, runtime and notify."""
