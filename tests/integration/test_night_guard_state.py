"""The night guard against a warehouse: tonight's totals over all history from metric_series,
held against the last accepted night before it, recorded in firewatch_state.night_totals only
when accepted. A small hand-made warehouse, no dbt build."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import duckdb

from dagster_project.runtime.guard import Fall, guard_night
from tests.support.warehouse import query

# (metric, day, value): spend 100 a day on 3 days, sessions 10 a day, leads 1 on the first day
DAYS = [date(2025, 3, d) for d in (1, 2, 3)]


def _night(warehouse: Path, as_of: date, spend_per_day: float = 100.0) -> None:
    """What dbt would have built as of `as_of`: metric_series (a day after as_of too, which the
    totals leave out) and the run context."""
    con = duckdb.connect(str(warehouse))
    try:
        con.execute("create schema if not exists intermediate")
        con.execute(
            "create or replace table intermediate.int_run_context as select ? as as_of_date",
            [as_of],
        )
        rows = [("spend", d, spend_per_day) for d in DAYS] + [("sessions", d, 10.0) for d in DAYS]
        rows += [("leads", DAYS[0], 1.0), ("spend", date(2025, 3, 9), 1e6)]
        con.execute(
            "create or replace table main.metric_series (metric_id varchar, grain varchar, "
            "period_start date, dimension varchar, dimension_value varchar, numerator double)"
        )
        for metric_id, day, value in rows:
            for grain in ("day", "week"):  # week rows must not count twice
                con.execute(
                    "insert into main.metric_series values (?, ?, ?, 'total', 'total', ?)",
                    [metric_id, grain, day, value],
                )
        con.execute(
            "insert into main.metric_series values ('spend', 'day', ?, 'channel', 'paid', 5)",
            [DAYS[0]],
        )
    finally:
        con.close()


def _recorded(warehouse: Path) -> list[tuple]:
    return query(
        warehouse,
        "select night, metric_id, total, accepted_drop from firewatch_state.night_totals "
        "order by night, metric_id",
    )


def test_first_night_passes_a_fall_stops_a_rerun_compares_with_the_night_before(
    tmp_path: Path,
) -> None:
    warehouse = tmp_path / "w.duckdb"
    first = date(2025, 3, 3)
    _night(warehouse, first)
    verdict = guard_night(warehouse, 0.5, accept=False)
    assert verdict.previous_night is None and verdict.falls == []
    assert verdict.now == {"spend": 300.0, "sessions": 30.0, "leads": 1.0}
    assert _recorded(warehouse) == [
        (first, "leads", 1.0, False),
        (first, "sessions", 30.0, False),
        (first, "spend", 300.0, False),
    ]

    # the next night's ads export lost most of its spend: 300 → 3 x 40 = 120, 60% gone
    second = date(2025, 3, 4)
    _night(warehouse, second, spend_per_day=40.0)
    verdict = guard_night(warehouse, 0.5, accept=False)
    assert (verdict.previous_night, verdict.falls) == (first, [Fall("spend", 300.0, 120.0)])
    assert verdict.lines(0.5) == [
        "spend: 300 → 120 (-60%)",
        "(all history to 2025-03-04 against 2025-03-03; the limit is a 50% fall, "
        "FIREWATCH_MAX_DROP)",
    ]
    assert len(_recorded(warehouse)) == 3  # nothing recorded for a refused night
    # a looser limit lets it through (and records it, not as an accepted drop)
    assert guard_night(warehouse, 0.7, accept=False).falls == []
    assert (second, "spend", 120.0, False) in _recorded(warehouse)

    # re-running the same night is held against the night before it, not against itself
    assert guard_night(warehouse, 0.5, accept=False).falls == [Fall("spend", 300.0, 120.0)]
    accepted = guard_night(warehouse, 0.5, accept=True)
    assert accepted.falls == [Fall("spend", 300.0, 120.0)]
    assert (second, "spend", 120.0, True) in _recorded(warehouse)
    # the night after an accepted one compares with it
    _night(warehouse, date(2025, 3, 5), spend_per_day=40.0)
    verdict = guard_night(warehouse, 0.5, accept=False)
    assert (verdict.previous_night, verdict.falls) == (second, [])
