"""Every `firewatch` verb and option says what it does in --help."""

from __future__ import annotations

import argparse

from dagster_project.cli.main import build_parser


def _undocumented(parser: argparse.ArgumentParser) -> list[str]:
    missing = []
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    documented_verbs = {choice.dest for choice in verbs._choices_actions if choice.help}
    for name, sub in verbs.choices.items():
        if name not in documented_verbs:
            missing.append(name)
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or action.help:
                continue
            missing.append(f"{name} {'/'.join(action.option_strings) or action.dest}")
    return missing


def test_every_verb_and_option_has_help() -> None:
    parser = build_parser()
    assert _undocumented(parser) == []
    # the check itself sees a missing help text
    (verbs,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    verbs.choices["queue"].add_argument("--undocumented")
    assert _undocumented(parser) == ["queue --undocumented"]
