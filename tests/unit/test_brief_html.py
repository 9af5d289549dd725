"""The morning brief's page from data, without a warehouse (what Chromium shows of a real one is
in tests/e2e/test_brief.py): escaping, due and overdue on the data's nights, the day-one line."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime

from dagster_project.brief.chart import ChartSpec
from dagster_project.brief.html import AlertView, Brief, is_overdue, render_brief, ritual_line
from dagster_project.divergence.queue import QueueItem

NIGHT = date(2025, 9, 28)
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=alert(1)>'
WRITTEN = datetime(2025, 9, 29, 6, 0, tzinfo=UTC)
EXPLAIN = """A-1  rule  campaign = c  (warn, active)
c sessions +41% while its engaged-session rate -22%

Window 2025-09-15 .. 2025-09-28 against the baseline 2025-06-23 .. 2025-09-14 (week grain):

| metric | window | baseline | change |
|---|---|---|---|
| Sessions | 190 a day (2,664 / 14.0) | 135 a day (11,366 / 84.0) | +41% |

How sure: very sure (q = 0.00015 among 5 tests tonight, p = 8.8e-05)."""


def _item(decision_id: str, owner: str, due: date, status: str = "open") -> QueueItem:
    return QueueItem(
        decision_id=decision_id,
        alert_id="A-" + decision_id.removeprefix("D-"),
        rule_id="sessions_up_nobody_stays",
        dimension_value=HOSTILE,
        owner=owner,
        question=f"{HOSTILE}: stop buying this traffic?",
        status=status,
        opened_at=date(2025, 9, 20),
        due_at=due,
    )


def test_overdue_is_judged_on_the_data_night_for_waiting_items_only() -> None:
    assert is_overdue("open", date(2025, 9, 27), NIGHT)
    assert is_overdue("acknowledged", date(2025, 9, 27), NIGHT)
    assert not is_overdue("open", NIGHT, NIGHT)  # due tonight is not late yet
    assert not is_overdue("snoozed", date(2025, 9, 1), NIGHT)
    assert not is_overdue("open", date(2025, 9, 1), None)


def test_every_string_from_the_data_is_escaped_and_nothing_loads() -> None:
    brief = Brief(
        night=NIGHT,
        source=f"the BI copy /srv/{HOSTILE}.duckdb",
        decisions=[_item("D-1", f"owner {HOSTILE}", date(2025, 9, 27))],
        alerts={"D-1": [AlertView("A-1", EXPLAIN)]},
        attainment=[
            dict(
                period_start=date(2025, 8, 1),
                metric_id="leads",
                label=HOSTILE,
                dimension="channel",
                dimension_value=HOSTILE,
                unit="count",
                target_value=10,
                actual_value=8,
                attainment=0.8,
                status="missed",
                is_month_closed=True,
            )
        ],  # fmt: skip
        rituals=[dict(metric_id="x", owner=HOSTILE, is_ritual=True, decisions_taken=0)],
        labels={"x": HOSTILE},
    )
    page = render_brief(brief, WRITTEN)
    assert HOSTILE not in page and "<img src=x" not in page and "<script" not in page
    assert page.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img") >= 6
    assert not re.search(r"https?://|<link|url\(", page)
    # the explain text's table is a table, its other lines paragraphs
    assert "<th>metric</th>" in page and "<td class=num>190 a day (2,664 / 14.0)</td>" in page
    assert "<p>How sure: very sure" in page


def test_owners_with_overdue_decisions_come_first_and_late_items_lead() -> None:
    brief = Brief(
        night=NIGHT,
        source="test",
        decisions=[
            _item("D-a1", "alpha", date(2025, 10, 1)),
            _item("D-z1", "zulu", date(2025, 10, 2)),
            _item("D-z2", "zulu", date(2025, 9, 25)),
            _item("D-z3", "zulu", date(2025, 9, 1), status="snoozed"),
            _item("D-d1", "alpha", date(2025, 9, 1), status="decided"),
        ],
    )
    page = render_brief(brief, WRITTEN)
    order = re.findall(r"<code>(D-[a-z0-9]+)</code>", page)
    assert order == ["D-z2", "D-z1", "D-a1"]  # waiting only: zulu has one overdue
    assert page.count("OVERDUE") == 1
    assert "zulu <span class=muted>— 2 waiting, 1 overdue" in page
    assert "Not waiting: 1 decided, 1 snoozed." in page


def test_the_ritual_line_speaks_on_day_one() -> None:
    day_one = [dict(is_ritual=True, decisions_taken=0), dict(is_ritual=False, decisions_taken=0)]
    assert ritual_line(day_one).startswith("No decisions have been recorded yet")
    assert ritual_line(day_one).endswith("1 of 2 metrics reported for 90+ days without a decision.")
    later = [dict(is_ritual=False, decisions_taken=1)]
    assert ritual_line(later) == "0 of 1 metrics reported for 90+ days without a decision."
    empty = render_brief(Brief(night=None, source="test"), WRITTEN)
    assert "No decision is waiting for anyone." in empty
    assert "No ritual report yet" in empty and "No targets were loaded" in empty


def test_a_chart_is_embedded_as_a_data_uri_with_its_size() -> None:
    import pandas as pd

    from dagster_project.brief.chart import alert_chart

    days = pd.date_range("2025-06-01", periods=10, freq="7D")
    spec = ChartSpec("t", "Sessions", "Rate", (days[0], days[6]), (days[7], days[9]), days[8])
    png = alert_chart(pd.Series(range(10), index=days), pd.Series(range(10), index=days), spec)
    alerts = {"D-1": [AlertView("A-1", EXPLAIN, png)]}
    page = render_brief(
        Brief(night=NIGHT, source="test", decisions=[_item("D-1", "o", NIGHT)], alerts=alerts),
        WRITTEN,
    )
    assert '<img alt="Chart of A-1" width="720" height="440" src="data:image/png;base64,' in page


def test_a_chart_is_drawn_once_for_the_same_numbers_and_again_for_others() -> None:
    """A night draws each alert's chart for its check and for the brief: the second is the
    first's bytes; other numbers under the same title are a new drawing, never the old one."""
    import pandas as pd

    from dagster_project.brief import chart

    days = pd.date_range("2025-06-01", periods=10, freq="7D")
    spec = ChartSpec("t", "Sessions", "Rate", (days[0], days[6]), (days[7], days[9]), days[8])
    flat = pd.Series([5.0] * 10, index=days)
    first = chart.alert_chart(pd.Series(range(10), index=days), flat, spec)
    again = chart.alert_chart(pd.Series(range(10), index=days), flat.copy(), spec)
    assert again is first
    other = chart.alert_chart(pd.Series(range(1, 11), index=days), flat, spec)
    assert other != first
    assert chart._draw(pd.Series(range(10), index=days), flat, spec) == first
