"""The text `firewatch run` ends with: what was built, over which days, the headline numbers."""

from __future__ import annotations

from dagster_project.warehouse.engine import Warehouse, connect
from dagster_project.warehouse.target import Location

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


def _one(wh: Warehouse, text: str) -> int:
    return wh.rows(text)[0][0]


def warehouse_summary(warehouse: Location) -> str:
    with connect(warehouse, read_only=True, wait_seconds=0.0) as con:
        as_of, start, currency = con.rows(
            "select as_of_date, history_start_date, reporting_currency "
            "from intermediate.int_run_context"
        )[0]
        counts = {name: _one(con, f"select count(*) from {{marts}}.{name}") for name in _MARTS}
        # Whole-history totals from the monthly rows; CAC is the catalog's ratio of sums
        # (its own numerator and denominator), not a division redone here.
        sums = {
            metric_id: (num / den if den else None) if metric_id == "cac" else num
            for metric_id, num, den in con.rows(
                "select metric_id, sum(numerator), sum(denominator) from {marts}.metric_series "
                "where grain = 'month' and dimension = 'total' and metric_id in "
                "('spend', 'sessions', 'leads', 'sql', 'customers', 'revenue', 'cac') "
                "group by metric_id"
            )
        }
        immature = _one(
            con,
            "select count(*) from {marts}.metric_series where not is_mature and layer = 'meaning'",
        )
        alerts = (
            con.rows(
                "select explanation from {marts}.alerts where status = 'active' "
                "order by severity, alert_id"
            )
            if con.table_exists("{marts}", "alerts")
            else []
        )
        open_items = (
            _one(
                con,
                "select count(*) from {marts}.decision_queue "
                "where status in ('open', 'acknowledged')",
            )
            if con.table_exists("{marts}", "decision_queue")
            else 0
        )
        held = (
            con.rows(
                "select table_name, count(*) from {marts}.quarantine group by table_name "
                "order by table_name"
            )
            if con.table_exists("{marts}", "quarantine")
            else []
        )
        channels = _one(
            con,
            "select count(distinct dimension_value) from {marts}.metric_series "
            "where dimension = 'channel'",
        )
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
