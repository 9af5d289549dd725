"""The morning brief: read what it shows from the BI copy (what people read) or, before there is
one, from the warehouse read-only (on PostgreSQL, which has no BI copy, from the database);
render it (brief/html.py) and swap the file in whole.

The nightly job writes it beside the BI copy after each successful run; `firewatch brief` writes
it on demand."""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from pathlib import Path

from dagster_project.brief.html import AlertView, Brief, render_brief
from dagster_project.divergence.queue import WAITING, QueueItem, is_overdue
from dagster_project.runtime.alert_detail import chart_png, explanation, read_alerts
from dagster_project.settings import Settings, queue_wait
from dagster_project.warehouse.connection import run_as_of
from dagster_project.warehouse.decisions import queue_night
from dagster_project.warehouse.engine import Warehouse, connect
from dagster_project.warehouse.target import DUCKDB

BRIEF_NAME = "brief.html"


def brief_path(settings: Settings) -> Path:
    """Where the nightly run writes the brief: beside the BI copy."""
    return settings.bi_copy_path.with_name(BRIEF_NAME)


@dataclass(frozen=True)
class BriefReport:
    path: Path
    source: str
    night: date | None
    waiting: int
    overdue: int


@contextlib.contextmanager
def _source(settings: Settings) -> Iterator[tuple[Warehouse, str, str, bool]]:
    """The BI copy read-only when it exists (never locked by a run: it is swapped in whole),
    else the warehouse read-only, waiting for a nightly run as the queue verbs do; on
    PostgreSQL or Spark the database itself."""
    if settings.target != DUCKDB:
        with connect(settings.location, read_only=True, wait_seconds=queue_wait()) as wh:
            yield wh, str(settings.location), "the database", False
        return
    copy = settings.bi_copy_path
    if copy.exists():
        import duckdb

        from dagster_project.warehouse.engine import DuckDBWarehouse

        con = duckdb.connect(str(copy), read_only=True)
        try:
            yield DuckDBWarehouse(con), str(copy), "the BI copy", True
        finally:
            con.close()
        return
    if not settings.warehouse.exists():
        raise FileNotFoundError(
            f"no BI copy at {copy} and no warehouse at {settings.warehouse}: run `firewatch run`"
        )
    with connect(settings.warehouse, read_only=True, wait_seconds=queue_wait()) as wh:
        yield wh, str(settings.warehouse), "the warehouse (no BI copy yet)", False


def _night(con: Warehouse, is_copy: bool) -> date | None:
    """The night the queue's dates are on: the run's night (the copy's as_of_date, which is the
    night the queue was rebuilt for), or the warehouse's queue night."""
    if is_copy:
        if not con.table_exists("{marts}", "bi_copy_info"):
            return None
        return con.rows("select max(as_of_date) from {marts}.bi_copy_info")[0][0]
    night = queue_night(con)
    if night is None and con.table_exists("intermediate", "int_run_context"):
        night = run_as_of(con)
    return night


def _table_rows(con: Warehouse, table: str, sql: str) -> list[dict]:
    """`sql`'s rows, or none when the table is not there (a copy from an older run)."""
    return con.records(sql) if con.table_exists("{marts}", table) else []


_QUEUE_FIELDS = {f.name for f in fields(QueueItem)}
# The targets of the month running and of the last closed month, all channels first.
_ATTAINMENT_SQL = """
with months as (
    select max(period_start) as p from {marts}.target_attainment
    union select max(period_start) from {marts}.target_attainment where is_month_closed
)
select t.*, c.label, c.unit from {marts}.target_attainment t
left join {marts}.metric_catalog c using (metric_id)
where t.period_start in (select p from months)
order by t.period_start desc, t.dimension <> 'total', t.metric_id, t.dimension_value"""
# The missed-target explanation of the latest month that missed one.
_EXPLANATION_SQL = """
select * from {marts}.target_gap_explanation
where period_start = (select max(period_start) from {marts}.target_gap_explanation)
order by metric_id, factor_order"""


def _queue(con: Warehouse) -> list[QueueItem]:
    rows = _table_rows(
        con,
        "decision_queue",
        "select * from {marts}.decision_queue order by opened_at, decision_id",
    )
    return [QueueItem(**{k: v for k, v in row.items() if k in _QUEUE_FIELDS}) for row in rows]


def _alert_views(con: Warehouse, queue: list[QueueItem]) -> dict[str, tuple[AlertView, ...]]:
    """Each waiting decision's alerts (all those its cause covers): numbers and chart."""
    alerts = {a["alert_id"]: a for a in read_alerts(con)}
    views = {}
    for item in queue:
        if item.status in WAITING:
            ids = [i for i in (item.alert_ids or item.alert_id).split(",") if i in alerts]
            views[item.decision_id] = tuple(
                AlertView(i, explanation(con, alerts[i]), chart_png(con, alerts[i])) for i in ids
            )
    return views


def _rituals(con: Warehouse, is_copy: bool) -> list[dict]:
    """The copy's ritual report (as of its run); from the warehouse, live with the decisions
    entered since (as `firewatch rituals`)."""
    if not is_copy and con.table_exists("{marts}", "metric_catalog"):
        from dagster_project.runtime.rituals import compute

        frame = compute(con)
        return frame.astype(object).where(frame.notna(), None).to_dict("records")
    return _table_rows(
        con, "ritual_metrics", "select * from {marts}.ritual_metrics order by metric_id"
    )


def read_brief(settings: Settings) -> tuple[Brief, str]:
    with _source(settings) as (con, path, what, is_copy):
        labels = (
            dict(con.rows("select metric_id, label from {marts}.metric_catalog"))
            if con.table_exists("{marts}", "metric_catalog")
            else {}
        )
        queue = _queue(con)
        brief = Brief(
            night=_night(con, is_copy),
            source=f"{what} {path}",
            decisions=queue,
            alerts=_alert_views(con, queue),
            attainment=_table_rows(con, "target_attainment", _ATTAINMENT_SQL),
            explanation=_table_rows(con, "target_gap_explanation", _EXPLANATION_SQL),
            rituals=_rituals(con, is_copy),
            labels=labels,
        )
    return brief, path


# A temporary file this old is what a killed run left (a brief is written in seconds).
_STALE_SECONDS = 3600.0


def write_atomically(path: Path, text: str) -> None:
    """Writes beside `path` and renames over it: a reader sees the old brief or the new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    for left in path.parent.glob(f".{path.name}.*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            if left.stat().st_mtime < time.time() - _STALE_SECONDS:
                left.unlink()
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        tmp.chmod(0o644)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_brief(settings: Settings, out: Path | None = None) -> BriefReport:
    """Reads, renders and writes the brief (to `out`, default beside the BI copy)."""
    brief, source = read_brief(settings)
    target = Path(out) if out is not None else brief_path(settings)
    write_atomically(target, render_brief(brief, datetime.now(UTC)))
    waiting = [d for d in brief.decisions if d.status in WAITING]
    return BriefReport(
        path=target.resolve(),
        source=source,
        night=brief.night,
        waiting=len(waiting),
        overdue=sum(is_overdue(d.status, d.due_at, brief.night) for d in waiting),
    )
