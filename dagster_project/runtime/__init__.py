"""One night's work beyond dbt: detection over metric_series, backtest replays, the ritual report,
the run summary, and the lab that builds metrics for tests and benchmarks."""
