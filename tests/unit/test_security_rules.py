"""Security, without a run: rule files refuse injection naming the file, rule and field; passwords
come from the environment only and are read in one place; names in check metadata are plain
Markdown text. (The landing folder's file names are in tests/integration/test_security_landing.py,
the two pipeline runs in tests/e2e/test_security.py.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
import yaml

from dagster_project.divergence.catalog import catalog_index
from dagster_project.divergence.rule import RuleError
from dagster_project.divergence.rules import declared_rule_ids, load_rules, parse_rules
from dagster_project.notify.config import SMTP_PASSWORD, WEBHOOK_URL
from dagster_project.settings import DBT_PROJECT_DIR, PROJECT_ROOT
from tests.support.injection import CAMPAIGN_RULE, INJECTION
from tests.support.metric_frames import synthetic_catalog

# ---------------------------------------------------------------------------- (a) rule files


def _rule(**changes: Any) -> dict[str, Any]:
    rule = {
        "id": "my_rule",
        "leading_metric": "sessions",
        "outcome_metric": "engagement_rate",
        "outcome_bad": "down",
        "question": "{dimension_value}: {leading_label} {leading_change}?",
    }
    rule.update(changes)
    return rule


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"id": INJECTION}, f"rule {INJECTION!r}, field 'id': must match"),
        ({"id": 'a"b'}, "field 'id': must match"),
        ({"leading_metric": "sessions'; drop table alerts; --"}, "field 'leading_metric'"),
        ({"outcome_metric": 'engagement_rate" or "1"="1'}, "field 'outcome_metric'"),
        ({"leading_metric": "Sessions"}, "field 'leading_metric': 'Sessions' is not a metric id"),
        ({"dimensions": ["channel; drop"]}, "field 'dimensions': 'channel; drop' is not one of"),
        ({"dimensions": ["total", "channel' --"]}, "field 'dimensions'"),
        ({"grain": "week'; --"}, "field 'grain'"),
        ({"question": "{dimension_value:>999999999}"}, "take no format spec or conversion"),
        ({"question": "{dimension_value!r}"}, "take no format spec or conversion"),
        ({"question": "{dimension_value.__class__}"}, "unknown placeholder"),
    ],
)
def test_rule_files_refuse_injection_naming_file_rule_and_field(
    tmp_path: Path, changes: dict[str, Any], expected: str
) -> None:
    path = tmp_path / "evil_rules.yml"
    path.write_text(yaml.safe_dump({"rules": [_rule(**changes)]}), encoding="utf-8")
    with pytest.raises(RuleError) as caught:
        load_rules(path, synthetic_catalog())
    message = str(caught.value)
    assert expected in message
    assert str(path) in message and "rule " in message


def test_metric_ids_are_checked_before_the_catalog_is_consulted() -> None:
    # even a catalog that somehow listed the text as a metric does not let it through
    evil = "sessions'; drop table alerts; --"
    index = catalog_index(synthetic_catalog())
    index[evil] = replace(index["sessions"], metric_id=evil)
    with pytest.raises(RuleError, match="field 'leading_metric'.*is not a metric id"):
        parse_rules([_rule(leading_metric=evil)], index)


def test_declared_rule_ids_refuse_what_dagster_cannot_name(tmp_path: Path) -> None:
    """The ids Dagster declares one check per rule from, before any catalog is read."""
    path = tmp_path / "rules.yml"
    path.write_text(CAMPAIGN_RULE, encoding="utf-8")
    assert declared_rule_ids(path) == ["campaign_sessions_up_nobody_stays"]
    for bad, expected in (
        ([_rule(id=INJECTION)], f"rule {INJECTION!r}, field 'id': must match"),
        ([_rule(), _rule()], "rule 'my_rule', field 'id': duplicate id"),
        ([{"leading_metric": "sessions"}], "rule #1, field 'id': missing"),
    ):
        path.write_text(yaml.safe_dump({"rules": bad}), encoding="utf-8")
        with pytest.raises(RuleError) as caught:
            declared_rule_ids(path)
        assert expected in str(caught.value) and str(path) in str(caught.value)


# ------------------------------------------------------------------------------- (d) secrets


def test_warehouse_passwords_come_from_env_var_only() -> None:
    profiles = yaml.safe_load((DBT_PROJECT_DIR / "profiles.yml").read_text(encoding="utf-8"))
    credential = re.compile(r"pass|secret|token|key", re.IGNORECASE)
    env_only = re.compile(r"^\{\{\s*env_var\('FIREWATCH_[A-Z_]+'(\s*,\s*'')?\)\s*\}\}$")

    def walk(node: Any, where: str) -> Iterator[tuple[str, Any]]:
        if isinstance(node, dict):
            for key, value in node.items():
                yield from walk(value, f"{where}.{key}")
        else:
            yield where, node

    found = [(where, value) for where, value in walk(profiles, "profiles")]
    passwords = [(w, v) for w, v in found if credential.search(w.rsplit(".", 1)[-1])]
    assert passwords, "the profile has a password field to check"
    for where, value in passwords:
        # an env_var() with no default, or an empty one: never a password in the file
        assert isinstance(value, str) and env_only.match(value), f"{where}: {value!r}"


def test_credentials_are_read_in_one_place() -> None:
    """The notifiers' credentials are read by notify/config.py alone, the warehouse password by
    dbt's profile and warehouse/target.py alone (which never shows it): no other module can
    log, store or pass them on by accident."""
    readers: dict[str, list[str]] = {}
    for path in sorted((PROJECT_ROOT / "dagster_project").rglob("*.py")):
        text = path.read_text(encoding="utf-8")
        for name in (WEBHOOK_URL, SMTP_PASSWORD, "FIREWATCH_PG_PASSWORD"):
            if name in text:
                readers.setdefault(name, []).append(path.relative_to(PROJECT_ROOT).as_posix())
    assert readers == {
        WEBHOOK_URL: ["dagster_project/notify/config.py"],
        SMTP_PASSWORD: ["dagster_project/notify/config.py"],
        "FIREWATCH_PG_PASSWORD": ["dagster_project/warehouse/target.py"],
    }


def test_the_database_password_is_never_shown(monkeypatch: pytest.MonkeyPatch) -> None:
    from dagster_project.settings import Settings
    from dagster_project.warehouse.target import PostgresConfig

    monkeypatch.setenv("FIREWATCH_PG_PASSWORD", "hunter2-s3cret")
    monkeypatch.setenv("FIREWATCH_PG_HOST", "db.example.com")
    config = PostgresConfig.from_env()
    assert config.password == "hunter2-s3cret"
    settings = Settings.from_env(target="postgres")
    for shown in (str(config), repr(config), repr(settings), str(settings.location)):
        assert "hunter2" not in shown, shown
    assert str(config) == "postgresql://firewatch@db.example.com:5432/firewatch"


# ------------------------------------------------------------------------ (f) check metadata


def test_names_in_check_metadata_are_plain_markdown_text() -> None:
    from dagster_project.defs.divergence import _md_text

    hostile = "![x](http://evil.test/a.png) | <img src=x> \n| forged | row |"
    shown = _md_text(hostile)
    # no unescaped character that starts an image, a link, HTML or a table cell; one line
    assert "\n" not in shown
    for i, ch in enumerate(shown):
        if ch in "|[]!<>":
            assert shown[i - 1] == "\\", (shown, i)
    assert shown.replace("\\", "") == " ".join(hostile.split())
