"""The people-facing verbs of `firewatch`: list the decision queue and answer it."""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
import unicodedata
from datetime import date
from typing import TYPE_CHECKING

from dagster_project.cli.args import add_target, add_warehouse, iso_date
from dagster_project.divergence.queue import QueueError, is_overdue
from dagster_project.runtime.alert_detail import explanation, read_alerts
from dagster_project.settings import Settings, queue_wait
from dagster_project.warehouse.connection import WarehouseBusyError
from dagster_project.warehouse.decisions import TEXT_FLAGS, queue_night, read_queue, record_action
from dagster_project.warehouse.engine import connect

if TYPE_CHECKING:
    import pandas as pd

# sysexits' EX_TEMPFAIL: the warehouse stayed busy; the same command will work later, so a
# script can tell "try again" from "refused".
EXIT_BUSY = 75

_WRAP = 96  # the question's width in the table view: wrapped, never cut


def _warehouse(args: argparse.Namespace):
    return Settings.from_env(warehouse=args.warehouse, target=args.target).location


def _wait() -> float:
    return queue_wait()


def _busy(args: argparse.Namespace, error: WarehouseBusyError, outcome: str) -> int:
    print(f"firewatch {args.command}: {error}; {outcome}", file=sys.stderr)
    return EXIT_BUSY


def _show(args: argparse.Namespace) -> int:
    try:
        with connect(_warehouse(args), read_only=True, wait_seconds=_wait()) as con:
            queue = read_queue(con)
            night = queue_night(con)
            if args.format == "json":  # the numbers behind each item, as `firewatch explain`
                why = {a["alert_id"]: explanation(con, a) for a in read_alerts(con)}
                queue = queue.assign(explain=queue["alert_id"].map(why))
    except WarehouseBusyError as error:
        return _busy(args, error, "the queue was not read")
    except (ValueError, OSError) as error:  # OSError: no file, no server
        print(f"firewatch {args.command}: {error}", file=sys.stderr)
        return 1
    if args.status:
        queue = queue[queue["status"] == args.status]
    if args.owner:
        queue = queue[queue["owner"] == args.owner]
    queue = queue.assign(
        overdue=[_overdue(row, night) for row in queue.itertuples()],
        queue_night=night.isoformat() if night else None,
    )
    if args.format == "json":
        print(json.dumps(json.loads(queue.to_json(orient="records", date_format="iso")), indent=2))
    elif queue.empty:
        print("The decision queue is empty.")
    else:
        print(_table(queue, night))
    return 0


def _overdue(row: object, night: date | None) -> bool:
    """Still waiting for a person after its due night (all dates are the data's nights)."""
    return is_overdue(getattr(row, "status", ""), _day(getattr(row, "due_at", None)), night)


def _day(value: object) -> date | None:
    """A queue date as a date (DuckDB hands dates to pandas as timestamps; NaT is none)."""
    if value is None or value != value:
        return None
    return value.date() if hasattr(value, "date") else value  # type: ignore[return-value]


def _table(queue: pd.DataFrame, night: date | None) -> str:
    """One block per decision: the facts on one line, the whole question wrapped under it."""
    lines = [f"Decision queue as of the night of {night}" if night else "Decision queue"]
    for row in queue.itertuples():
        due = f"due {_day(row.due_at)}" + (" OVERDUE" if row.overdue else "")
        lines.append("")
        lines.append(
            f"{row.decision_id}  {row.status:<12} {str(row.severity or ''):<5} "
            f"{row.owner:<20} {due:<22} {row.dimension_value} · {row.rule_id}"
        )
        lines += textwrap.wrap(
            str(row.question), _WRAP, initial_indent="    ", subsequent_indent="    "
        )
    return "\n".join(lines)


def _control_characters(text: str, allowed: str = "") -> list[str]:
    """The control and line-separator characters in `text` (other than `allowed`), as escapes."""
    return sorted(
        {
            ch.encode("unicode_escape").decode("ascii")
            for ch in text
            if ch not in allowed and unicodedata.category(ch) in ("Cc", "Zl", "Zp")
        }
    )


def _check_input(args: argparse.Namespace, action: str, text: str) -> None:
    """Who acts is one line of printable text, and a note holds no control characters except
    line breaks and tabs: the log is read as the record of who did what, in terminals too, so a
    name cannot forge a second entry and a note cannot rewrite the screen. (Quotes and SQL are
    fine: every value is a bound parameter.)"""
    found = _control_characters(args.by)
    if found:
        raise ValueError(f"--by must be one line of printable text, found {', '.join(found)}")
    found = _control_characters(text, allowed="\n\t")
    if found:
        flag = TEXT_FLAGS.get(action, "the text")
        raise ValueError(
            f"{flag} may hold line breaks and tabs but no other control characters, "
            f"found {', '.join(found)}"
        )


def _act(args: argparse.Namespace, action: str, text: str = "", until: date | None = None) -> int:
    try:
        _check_input(args, action, text)
        with connect(_warehouse(args), wait_seconds=_wait()) as con:
            item = record_action(
                con, args.decision_id, action, args.by, text=text, snooze_until=until
            )
    except WarehouseBusyError as error:
        return _busy(args, error, "nothing was recorded")
    except (QueueError, ValueError, OSError) as error:  # OSError: no file, no server
        print(f"firewatch {args.command}: {error}", file=sys.stderr)
        return 1
    print(f"{item.decision_id} is now {item.status} ({action} by {args.by.strip()}).")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        add_warehouse(parser)
        add_target(parser)
        return parser

    show = verb("queue", "List the decisions waiting for people.")
    show.add_argument(
        "--status",
        choices=["open", "acknowledged", "decided", "dismissed", "snoozed", "resolved"],
        help="Only decisions in this status (default: all).",
    )
    show.add_argument("--owner", help="Only decisions owned by this owner (e.g. web_analytics).")
    show.add_argument(
        "--format",
        choices=["table", "json"],
        default="table",
        help="table for people (default), json for scripts (every column).",
    )
    show.set_defaults(handler=_show)

    for name, help_text in (
        ("acknowledge", "Say you have seen a decision and own it."),
        ("decide", "Record the decision taken."),
        ("dismiss", "Dismiss a decision with a reason."),
        ("snooze", "Put a decision off until a date."),
    ):
        parser = verb(name, help_text)
        parser.add_argument("decision_id", help="The D-… id `firewatch queue` shows.")
        parser.add_argument("--by", required=True, help="Who acts.")
        if name == "decide":
            parser.add_argument("--decision", required=True, help="What was decided, in words.")
            parser.set_defaults(handler=lambda a: _act(a, "decide", text=a.decision))
        elif name == "dismiss":
            parser.add_argument("--reason", required=True, help="Why it needs no decision.")
            parser.set_defaults(handler=lambda a: _act(a, "dismiss", text=a.reason))
        elif name == "snooze":
            parser.add_argument(
                "--until", required=True, type=iso_date, help="Date (YYYY-MM-DD) it comes back."
            )
            parser.set_defaults(handler=lambda a: _act(a, "snooze", until=a.until))
        else:
            parser.set_defaults(handler=lambda a: _act(a, "acknowledge"))
