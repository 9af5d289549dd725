"""The text `firewatch run` ends with: what was built, over which days, the headline numbers."""

from __future__ import annotations

from pathlib import Path

import duckdb

from dagster_project.warehouse.connection import table_exists

_MARTS = (
    "control_daily",
    "control_weekly",
    "control_monthly",
    "meaning_weekly",
    "meaning_monthly",
    "target_attainment",
    "metric_series",
    "metric_catalog",
)


def _money(value: float | None) -> str:
    return "n/a" if value is None else f"{value:,.0f}"


def warehouse_summary(warehouse: Path) -> str:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        as_of, start, currency = con.execute(
            "select as_of_date, history_start_date, reporting_currency "
            "from intermediate.int_run_context"
        ).fetchone()
        counts = {
            name: con.execute(f"select count(*) from main.{name}").fetchone()[0] for name in _MARTS
        }
        # Whole-history totals from the monthly rows; CAC is the catalog's ratio of sums
        # (its own numerator and denominator), not a division redone here.
        sums = {
            metric_id: (num / den if den else None) if metric_id == "cac" else num
            for metric_id, num, den in con.execute(
                "select metric_id, sum(numerator), sum(denominator) from main.metric_series "
                "where grain = 'month' and dimension = 'total' and metric_id in "
                "('spend', 'sessions', 'leads', 'sql', 'customers', 'revenue', 'cac') "
                "group by metric_id"
            ).fetchall()
        }
        immature = con.execute(
            "select count(*) from main.metric_series where not is_mature and layer = 'meaning'"
        ).fetchone()[0]
        alerts = (
            con.execute(
                "select explanation from main.alerts where status = 'active' "
                "order by severity, alert_id"
            ).fetchall()
            if table_exists(con, "main", "alerts")
            else []
        )
        open_items = (
            con.execute(
                "select count(*) from main.decision_queue where status in ('open', 'acknowledged')"
            ).fetchone()[0]
            if table_exists(con, "main", "decision_queue")
            else 0
        )
        held = (
            con.execute(
                "select table_name, count(*) from main.quarantine group by table_name "
                "order by table_name"
            ).fetchall()
            if table_exists(con, "main", "quarantine")
            else []
        )
        channels = con.execute(
            "select count(distinct dimension_value) from main.metric_series "
            "where dimension = 'channel'"
        ).fetchone()[0]
    finally:
        con.close()
    spend, customers, cac = sums.get("spend"), sums.get("customers"), sums.get("cac")
    lines = [
        f"Warehouse {warehouse}",
        f"  history {start} .. {as_of}, {channels} channels, reporting currency {currency}",
        "  marts: " + ", ".join(f"{name} {rows:,}" for name, rows in counts.items()),
        f"  totals: spend {_money(spend)}, sessions {_money(sums.get('sessions'))}, "
        f"leads {_money(sums.get('leads'))}, SQL {_money(sums.get('sql'))}, "
        f"customers {_money(customers)}, revenue {_money(sums.get('revenue'))}, CAC {_money(cac)}",
        f"  meaning-layer rows still immature (cohorts too young to judge): {immature:,}",
        f"  divergences: {len(alerts)} active alert(s), {open_items} decision(s) waiting "
        "(`firewatch queue`)",
    ]
    lines += [f"    - {text}" for (text,) in alerts[:5]]
    if held:
        listed = ", ".join(f"{table} {n:,}" for table, n in held)
        lines.append(
            f"  quarantine: {sum(n for _, n in held):,} input rows kept out of the numbers "
            f"({listed}): `select * from quarantine` says which file, line and why"
        )
    return "\n".join(lines)
