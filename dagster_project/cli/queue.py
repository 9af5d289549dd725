"""The people-facing verbs of `firewatch`: list the decision queue and answer it."""

from __future__ import annotations

import argparse
import json
import sys
import unicodedata
from datetime import date

from dagster_project.cli.args import add_warehouse, iso_date
from dagster_project.divergence.queue import QueueError
from dagster_project.settings import Settings, queue_wait
from dagster_project.warehouse.connection import WarehouseBusyError, open_warehouse
from dagster_project.warehouse.decisions import TEXT_FLAGS, read_queue, record_action

# sysexits' EX_TEMPFAIL: the warehouse stayed busy; the same command will work later, so a
# script can tell "try again" from "refused".
EXIT_BUSY = 75

_COLUMNS = ["decision_id", "status", "owner", "due_at", "dimension_value", "rule_id", "question"]


def _warehouse(args: argparse.Namespace):
    return Settings.from_env(warehouse=args.warehouse).warehouse


def _wait() -> float:
    return queue_wait()


def _busy(args: argparse.Namespace, error: WarehouseBusyError, outcome: str) -> int:
    print(f"firewatch {args.command}: {error}; {outcome}", file=sys.stderr)
    return EXIT_BUSY


def _show(args: argparse.Namespace) -> int:
    try:
        with open_warehouse(_warehouse(args), read_only=True, wait_seconds=_wait()) as con:
            queue = read_queue(con)
    except WarehouseBusyError as error:
        return _busy(args, error, "the queue was not read")
    except (ValueError, FileNotFoundError) as error:
        print(f"firewatch {args.command}: {error}", file=sys.stderr)
        return 1
    if args.status:
        queue = queue[queue["status"] == args.status]
    if args.owner:
        queue = queue[queue["owner"] == args.owner]
    if args.format == "json":
        print(json.dumps(json.loads(queue.to_json(orient="records", date_format="iso")), indent=2))
    elif queue.empty:
        print("The decision queue is empty.")
    else:
        print(queue[_COLUMNS].to_string(index=False, max_colwidth=80))
    return 0


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
        with open_warehouse(_warehouse(args), wait_seconds=_wait()) as con:
            item = record_action(
                con, args.decision_id, action, args.by, text=text, snooze_until=until
            )
    except WarehouseBusyError as error:
        return _busy(args, error, "nothing was recorded")
    except (QueueError, ValueError, FileNotFoundError) as error:
        print(f"firewatch {args.command}: {error}", file=sys.stderr)
        return 1
    print(f"{item.decision_id} is now {item.status} ({action} by {args.by.strip()}).")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    def verb(name: str, help_text: str) -> argparse.ArgumentParser:
        parser = sub.add_parser(name, help=help_text)
        add_warehouse(parser)
        return parser

    show = verb("queue", "List the decisions waiting for people.")
    show.add_argument(
        "--status",
        choices=["open", "acknowledged", "decided", "dismissed", "snoozed", "resolved"],
    )
    show.add_argument("--owner")
    show.add_argument("--format", choices=["table", "json"], default="table")
    show.set_defaults(handler=_show)

    for name, help_text in (
        ("acknowledge", "Say you have seen a decision and own it."),
        ("decide", "Record the decision taken."),
        ("dismiss", "Dismiss a decision with a reason."),
        ("snooze", "Put a decision off until a date."),
    ):
        parser = verb(name, help_text)
        parser.add_argument("decision_id")
        parser.add_argument("--by", required=True, help="Who acts.")
        if name == "decide":
            parser.add_argument("--decision", required=True)
            parser.set_defaults(handler=lambda a: _act(a, "decide", text=a.decision))
        elif name == "dismiss":
            parser.add_argument("--reason", required=True)
            parser.set_defaults(handler=lambda a: _act(a, "dismiss", text=a.reason))
        elif name == "snooze":
            parser.add_argument("--until", required=True, type=iso_date)
            parser.set_defaults(handler=lambda a: _act(a, "snooze", until=a.until))
        else:
            parser.set_defaults(handler=lambda a: _act(a, "acknowledge"))
