"""Security: what comes from configuration or input never becomes SQL, credentials never leave
the environment, the BI copy cannot be written through its documented connections, and the
decision log says who did what and when.

Two pipeline runs, shared by the module (`night`): a successful one on a landing folder whose
campaign names, utm source, CRM lead source and file names are injection attempts, with a rule
that turns two of those campaigns into alerts, queue items and notifications; then a failing one
(a bad raw file) so the run-failure notification and error messages run too. Both with a known
webhook token and SMTP and warehouse passwords in the environment, and one delivery refused per
channel, so the error paths carry the secrets as far as they can get.

The checks that need no run are in tests/unit/test_security_rules.py, the landing folder's file
names in tests/integration/test_security_landing.py.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import logging
import os
import re
import shutil
import stat
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import duckdb
import pytest
from aiosmtpd.smtp import AuthResult

from dagster_project.cli.main import main
from dagster_project.cli.run import run_nightly
from dagster_project.notify.config import (
    NOTIFY_TO,
    OWNER_EMAILS,
    SMTP_FROM,
    SMTP_HOST,
    SMTP_PASSWORD,
    SMTP_PORT,
    SMTP_STARTTLS,
    SMTP_USER,
    WEBHOOK_URL,
)
from dagster_project.settings import (
    BI_COPY_ENV,
    BI_PARQUET_ENV,
    DBT_PROJECT_DIR,
    INSTANCE_CONFIG,
    PROJECT_ROOT,
    RAW_DIR_ENV,
    WAREHOUSE_ENV,
)
from tests.support.injection import CAMPAIGN_RULE, INJECTION, QUOTED, ads_row
from tests.support.landing import write_csv
from tests.support.notify import Mailbox, free_port, serve_webhook, start_smtp
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import query

AS_OF = "2025-05-31"

# Unique per test session, so nothing another run left behind can match (or hide) them.
_RUN = uuid.uuid4().hex
WEBHOOK_TOKEN = f"XoXbSECRETTOKEN{_RUN}"
SMTP_USER_NAME = "firewatch"
SMTP_SECRET = f"smtp-pw-{_RUN}"
PG_SECRET = f"pg-pw-{_RUN}"
SECRETS = {
    "webhook token": WEBHOOK_TOKEN,
    "SMTP password": SMTP_SECRET,
    "SMTP password (base64)": base64.b64encode(SMTP_SECRET.encode()).decode(),
    "SMTP AUTH PLAIN": base64.b64encode(f"\0{SMTP_USER_NAME}\0{SMTP_SECRET}".encode()).decode(),
    "warehouse password": PG_SECRET,
}

INJECTED_ADS_FILE = f"x{INJECTION}.csv"  # x'; drop table alerts; --.csv
QUOTED_WEB_FILE = 'we"b.csv'
DOTTED_CRM_FILE = "contacts..more.csv"


# --------------------------------------------------------------------- the two pipeline runs


@dataclass
class SecretMailbox(Mailbox):
    """Refuses every login, echoing the password it got, until `accept` is set."""

    accept: bool = False

    def authenticate(
        self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        self.logins.append((data.login, data.password))
        if self.accept and data.password == SMTP_SECRET.encode():
            return AuthResult(success=True)
        # a careless server: its reply quotes the password, which must still not surface
        return AuthResult(
            success=False, handled=False, message=f"535 5.7.8 bad password {data.password!r}"
        )


@dataclass
class Night:
    root: Path
    raw: Path
    warehouse: Path
    bi_copy: Path
    dagster_home: Path
    started: float
    first_rc: int
    failed_rc: int
    webhook_paths: list[str]
    webhook_attempts: int
    mail_logins: list[tuple[bytes, bytes]]
    mails: list[Any]
    # what a person or a log collector sees: name -> text
    shown: dict[str, str] = field(default_factory=dict)


def _sessions(campaign: str, tag: str) -> list[dict[str, Any]]:
    """Eight weeks of sessions of one campaign: about 60 a week of which 3 in 5 engage, then
    two weeks of 120 of which 1 in 5 does (sessions up, nobody stays)."""
    rows: list[dict[str, Any]] = []
    for week in range(8):
        monday = date(2025, 3, 31) + timedelta(weeks=week)
        window = week >= 6
        for i in range(120 if window else 55 + (week * 7) % 13):
            uid = f"{tag}-{week}-{i}"
            start = datetime(monday.year, monday.month, monday.day, 9) + timedelta(
                days=i % 7, minutes=i
            )
            base = dict(
                user_pseudo_id=uid,
                session_id=f"s-{uid}",
                session_number=1,
                page_location="https://x.test/",
                source=INJECTION,
                medium="cpc",
                campaign=campaign,
            )
            rows.append(
                dict(
                    base,
                    event_id=f"e-{uid}-1",
                    event_timestamp=start.isoformat() + "Z",
                    event_name="session_start",
                )
            )
            if (i % 5 == 0) if window else (i % 5 < 3):
                rows.append(
                    dict(
                        base,
                        event_id=f"e-{uid}-2",
                        event_timestamp=(start + timedelta(seconds=30)).isoformat() + "Z",
                        event_name="user_engagement",
                        engagement_time_msec=15000,
                    )
                )
    return rows


def write_injection_landing(raw: Path) -> None:
    """The tiny landing folder plus files whose names and values are injection attempts."""
    write_tiny_landing(raw)
    ads = dict(
        account_id="a9",
        currency="USD",
        platform="google_ads",
        impressions=100,
        clicks=10,
        spend=5,
    )
    # dated on the night itself: ads then reach past the last web day (05-25), so the sessions'
    # last week is complete (a period is complete only as far as both ads and web reach)
    write_csv(
        raw,
        "ads_daily",
        INJECTED_ADS_FILE,
        [
            dict(ads, date="2025-05-31", campaign_id="g9", campaign_name=INJECTION,
                 utm_campaign=INJECTION),
            dict(ads, date="2025-05-31", campaign_id='g"10', campaign_name=QUOTED,
                 utm_campaign=QUOTED),
        ],
    )  # fmt: skip
    write_csv(
        raw, "web_events", QUOTED_WEB_FILE, _sessions(INJECTION, "a") + _sessions(QUOTED, "b")
    )
    write_csv(
        raw,
        "crm_contacts",
        DOTTED_CRM_FILE,
        [
            dict(contact_id="c9", created_at="2025-05-20T10:00:00Z", lead_source=INJECTION),
            dict(contact_id='c"10', created_at="2025-05-21T10:00:00Z", lead_source=QUOTED),
        ],
    )


@contextlib.contextmanager
def _captured_logs(sink: list[str]) -> Iterator[None]:
    """Every record of firewatch's and Dagster's loggers, formatted, into `sink`."""

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sink.append(self.format(record))

    handler = Collect(level=logging.DEBUG)
    names = ("dagster_project", "dagster")
    levels = {name: logging.getLogger(name).level for name in names}
    for name in names:
        logging.getLogger(name).addHandler(handler)
    logging.getLogger("dagster_project").setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for name in names:
            logging.getLogger(name).removeHandler(handler)
            logging.getLogger(name).setLevel(levels[name])


@pytest.fixture(scope="module")
def night(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Night]:
    started = time.time()
    root = tmp_path_factory.mktemp("security")
    raw, warehouse, home = root / "raw", root / "wh" / "firewatch.duckdb", root / "dagster_home"
    home.mkdir()
    shutil.copy(INSTANCE_CONFIG, home / "dagster.yaml")
    write_injection_landing(raw)
    rules = root / "rules.yml"
    rules.write_text(CAMPAIGN_RULE, encoding="utf-8")

    mailbox = SecretMailbox(port=free_port())
    controller = start_smtp(mailbox, auth_require_tls=False)
    out, err, records = io.StringIO(), io.StringIO(), []
    shown: dict[str, str] = {}
    try:
        with serve_webhook() as hook, pytest.MonkeyPatch.context() as env:
            webhook_url = f"http://127.0.0.1:{hook.port}/services/T01/B02/{WEBHOOK_TOKEN}"
            for name in (BI_COPY_ENV, BI_PARQUET_ENV, OWNER_EMAILS, SMTP_STARTTLS):
                env.delenv(name, raising=False)
            env.setenv(RAW_DIR_ENV, str(raw))  # run_nightly exports both; restored after
            env.setenv(WAREHOUSE_ENV, str(warehouse))
            env.setenv("DAGSTER_HOME", str(home))
            env.setenv("FIREWATCH_RULES", str(rules))
            env.setenv("no_proxy", "127.0.0.1,localhost")
            env.setenv("NO_PROXY", "127.0.0.1,localhost")
            env.setenv(WEBHOOK_URL, webhook_url)
            env.setenv(SMTP_HOST, "127.0.0.1")
            env.setenv(SMTP_PORT, str(mailbox.port))
            env.setenv(SMTP_USER, SMTP_USER_NAME)
            env.setenv(SMTP_PASSWORD, SMTP_SECRET)
            env.setenv(SMTP_FROM, "firewatch@example.com")
            env.setenv(NOTIFY_TO, "ops@example.com")
            env.setenv("FIREWATCH_PG_PASSWORD", PG_SECRET)
            with (
                contextlib.redirect_stdout(out),
                contextlib.redirect_stderr(err),
                _captured_logs(records),
            ):
                # 1. succeeds: webhook accepts, the SMTP server refuses the login (echoing it)
                first = run_nightly(raw_dir=raw, warehouse=warehouse, as_of=AS_OF)
                if first != 0:  # the second run would only wait for what the first left
                    pytest.fail(f"the first run failed:\n{err.getvalue()[-4000:]}")
                shown["run log of the first run"] = warehouse.with_suffix(".run.log").read_text()
                # 2. fails on a bad raw file: webhook answers 500, the SMTP server accepts
                write_csv(
                    raw,
                    "ads_daily",
                    "zz_bad.csv",
                    [ads_row(date="2025-05-30", spend="abc")],
                )
                hook.fail = 10
                mailbox.accept = True
                failed = run_nightly(raw_dir=raw, warehouse=warehouse, as_of=AS_OF)
            paths = [r["path"] for r in hook.received]
            attempts = hook.attempts
    finally:
        controller.stop()
    shown["stdout"] = out.getvalue()
    shown["stderr"] = err.getvalue()
    shown["log records"] = "\n".join(records)
    yield Night(
        root=root,
        raw=raw,
        warehouse=warehouse,
        bi_copy=warehouse.with_name("firewatch_bi.duckdb"),
        dagster_home=home,
        started=started,
        first_rc=first,
        failed_rc=failed,
        webhook_paths=paths,
        webhook_attempts=attempts,
        mail_logins=list(mailbox.logins),
        mails=list(mailbox.messages),
        shown=shown,
    )


# ------------------------------------------------------------------ (b) values as plain data


def test_injected_values_and_file_names_come_through_verbatim(night: Night) -> None:
    assert night.first_rc == 0, night.shown["stderr"][-3000:]
    wh = night.warehouse
    tables = {
        (schema, name)
        for schema, name in query(
            wh, "select table_schema, table_name from information_schema.tables"
        )
    }
    assert {("main", "alerts"), ("main", "decision_queue"), ("main", "metric_series")} <= tables

    # file names: loaded under their own names, rows attributed to them
    loaded = {name for (name,) in query(wh, "select file_name from raw._loaded_files")}
    assert {INJECTED_ADS_FILE, QUOTED_WEB_FILE, DOTTED_CRM_FILE} <= loaded
    assert query(
        wh, "select count(*) from raw.ads_daily where _source_file = ?", [INJECTED_ADS_FILE]
    ) == [(2,)]
    assert query(
        wh, "select count(*) from raw.web_events where _source_file = ?", [QUOTED_WEB_FILE]
    ) == [(len(_sessions(INJECTION, "a")) * 2,)]

    # values: staging keeps them as they were written
    campaigns = query(
        wh,
        "select campaign_id, campaign_name, campaign from staging.stg_ads__campaign_days "
        "where account_id = 'a9' order by campaign_id",
    )
    assert campaigns == [('g"10', QUOTED, QUOTED), ("g9", INJECTION, INJECTION)]
    assert query(
        wh, "select distinct source, medium from staging.stg_web__events where campaign = ?",
        [INJECTION],
    ) == [(INJECTION, "cpc")]  # fmt: skip
    assert query(
        wh,
        "select contact_id, lead_source from staging.stg_crm__contacts "
        "where contact_id in ('c9', 'c\"10') order by 1",
    ) == [('c"10', QUOTED), ("c9", INJECTION)]
    # an unknown lead source is data to the seed join, not SQL: the contact is unattributed
    assert query(
        wh, "select channel from intermediate.int_contacts_attributed where contact_id = 'c9'"
    ) == [("unattributed",)]
    # an unknown source with medium cpc maps like any other through the channel seed
    assert query(
        wh, "select channel from intermediate.int_source_medium_channels where source = ?",
        [INJECTION],
    ) == [("paid_search",)]  # fmt: skip

    # marts: the campaign names are dimension values of metric_series and of the ads rollup
    values = {
        v
        for (v,) in query(
            wh,
            "select distinct dimension_value from main.metric_series where dimension = 'campaign'",
        )
    }
    assert {INJECTION, QUOTED} <= values

    # detection, alerts and the queue carry them as text, in explanations and questions too
    alerts = query(
        wh, "select dimension_value, explanation, question, status from main.alerts order by 1"
    )
    assert [a[0] for a in alerts] == sorted([INJECTION, QUOTED])
    for value, explanation, question, status in alerts:
        assert status == "active"
        assert value in explanation and question.startswith(f"Campaign {value}: Sessions +")
    queue = query(wh, "select dimension_value, status from main.decision_queue order by 1")
    assert queue == [(v, "open") for v in sorted([INJECTION, QUOTED])]
    # and so does the BI copy
    assert query(night.bi_copy, "select dimension_value from alerts order by 1") == [
        (v,) for v in sorted([INJECTION, QUOTED])
    ]


def test_the_notifications_carry_the_values_as_text(night: Night) -> None:
    # the webhook got the two opened items of the first run (the second run's 500s are not
    # in `received`), on the secret path
    assert night.webhook_paths == [f"/services/T01/B02/{WEBHOOK_TOKEN}"] * 2
    assert night.webhook_attempts >= 3  # + the refused run-failure notice
    rows = query(
        night.warehouse,
        "select notifier, kind, ok, error from firewatch_state.notification_log "
        "order by sent_at, notifier",
    )
    kinds = {(notifier, kind, ok) for notifier, kind, ok, _ in rows}
    assert kinds == {
        ("webhook", "opened", True),
        ("email", "opened", False),
        ("webhook", "run_failed", False),
        ("email", "run_failed", True),
    }
    errors = {(notifier, kind): error for notifier, kind, ok, error in rows if not ok}
    # the server quoted the password in its reply: stored redacted
    assert "SMTPAuthenticationError" in errors["email", "opened"]
    assert "[redacted]" in errors["email", "opened"]
    assert errors["webhook", "run_failed"] == "webhook to 127.0.0.1: HTTP 500 Internal Server Error"
    # the run-failure e-mail went through, after logging in with the password
    assert (SMTP_USER_NAME.encode(), SMTP_SECRET.encode()) in night.mail_logins
    assert [m[2]["Subject"] for m in night.mails] == ["[firewatch] Run failed: nightly"]


def test_decisions_keep_who_what_and_when_verbatim(
    night: Night, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # a copy, so the module's warehouse stays as the runs left it
    warehouse = tmp_path / "firewatch.duckdb"
    shutil.copy(night.warehouse, warehouse)
    w = ["--warehouse", str(warehouse)]
    ids = dict(query(warehouse, "select dimension_value, decision_id from main.decision_queue"))
    before = datetime.now(UTC).replace(tzinfo=None)
    assert main(["decide", ids[INJECTION], "--decision", INJECTION, "--by", "o'brien", *w]) == 0
    assert main(["dismiss", ids[QUOTED], "--reason", QUOTED, "--by", QUOTED, *w]) == 0
    after = datetime.now(UTC).replace(tzinfo=None)
    assert "is now decided (decide by o'brien)" in capsys.readouterr().out
    # an id that is an injection attempt is just an unknown id
    assert main(["acknowledge", f"D-{INJECTION}", "--by", "x", *w]) == 1
    assert f"unknown decision id {'D-' + INJECTION!r}" in capsys.readouterr().err

    log = query(
        warehouse,
        "select decision_id, action, actor, text, entered_at from firewatch_state.decision_log "
        "order by entry_id",
    )
    assert [row[:4] for row in log] == [
        (ids[INJECTION], "decide", "o'brien", INJECTION),
        (ids[QUOTED], "dismiss", QUOTED, QUOTED),
    ]
    # when: naive UTC, at the moment of the command
    for *_, entered_at in log:
        assert before <= entered_at <= after
    queue = query(
        warehouse,
        "select dimension_value, status, decision, decided_by, note from main.decision_queue "
        "order by 1",
    )
    assert sorted(queue) == sorted(
        [(INJECTION, "decided", INJECTION, "o'brien", None), (QUOTED, "dismissed", None, QUOTED,
         QUOTED)]
    )  # fmt: skip
    assert query(warehouse, "select count(*) from main.alerts") == [(2,)]
    assert main(["queue", "--format", "json", *w]) == 0
    shown = {r["dimension_value"]: r for r in json.loads(capsys.readouterr().out)}
    assert shown[INJECTION]["decided_by"] == "o'brien"


def test_who_acts_is_one_line_of_printable_text(
    night: Night, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    warehouse = tmp_path / "firewatch.duckdb"
    shutil.copy(night.warehouse, warehouse)
    (did,) = query(
        warehouse, "select decision_id from main.decision_queue where dimension_value = ?",
        [INJECTION],
    )[0]  # fmt: skip
    w = ["--warehouse", str(warehouse)]
    for actor in ("ana\nbo decided 2025-01-01", "ana\x1b[2K", "ana\x00"):
        assert main(["acknowledge", did, "--by", actor, *w]) == 1
        assert "--by" in capsys.readouterr().err
    # a note may span lines; control characters other than line breaks and tabs are refused
    assert main(["dismiss", did, "--reason", "bad\x1b]0;title\x07", "--by", "ana", *w]) == 1
    assert "--reason" in capsys.readouterr().err
    assert main(["dismiss", did, "--reason", "line one\nline two\tend", "--by", "ana", *w]) == 0
    assert query(warehouse, "select actor, text from firewatch_state.decision_log") == [
        ("ana", "line one\nline two\tend")
    ]


# ------------------------------------------------------------------------------- (d) secrets


def _texts(night: Night) -> dict[str, str | bytes]:
    """Everything a run leaves for people and log collectors to read."""
    found: dict[str, str | bytes] = dict(night.shown)
    # the run log beside the warehouse (the first run's is in `shown`), the lock files, the
    # warehouse and BI copy files themselves
    for path in night.warehouse.parent.rglob("*"):
        if path.is_file():
            found[str(path)] = path.read_bytes()
    for path in night.dagster_home.rglob("*"):  # run and event storage (sqlite), logs
        if path.is_file():
            found[str(path)] = path.read_bytes()
    # dbt's logs, run results, manifests and partial-parse state this module's runs wrote
    for path in DBT_PROJECT_DIR.rglob("*"):
        with contextlib.suppress(FileNotFoundError):  # another run may prune its folders
            if path.is_file() and path.stat().st_mtime >= night.started - 1:
                found[str(path)] = path.read_bytes()
    # every cell of every table of the warehouse and of the BI copy
    for database in (night.warehouse, night.bi_copy):
        con = duckdb.connect(str(database), read_only=True)
        try:
            for schema, table in con.execute(
                "select table_schema, table_name from information_schema.tables "
                "where table_type = 'BASE TABLE'"
            ).fetchall():
                rows = con.execute(f'select * from "{schema}"."{table}"').fetchall()
                found[f"{database.name}:{schema}.{table}"] = "\n".join(
                    "\t".join(map(str, row)) for row in rows
                )
        finally:
            con.close()
    return found


def _in_dbt_step(name: str, *files: str) -> bool:
    """A file of a night's dbt step: dagster-dbt gives each its own target folder."""
    path = Path(name)
    return path.parent.name.startswith("firewatch_dbt-") and path.name in files


def test_no_secret_reaches_logs_metadata_the_warehouse_or_messages(night: Night) -> None:
    assert night.first_rc == 0 and night.failed_rc == 1
    texts = _texts(night)
    # the places are real: the event log, dbt's log, the run log and the failure
    assert any(name.endswith(".db") for name in texts), "no Dagster event log found"
    assert any(_in_dbt_step(name, "dbt.log") for name in texts), "no dbt log found"
    # and what a night does not write (defs/dbt.py `_quiet`): dbt's JSON artifacts
    assert not [n for n in texts if _in_dbt_step(n, "run_results.json", "manifest.json")]
    assert "zz_bad.csv" in night.shown["stderr"] and "not a number: 'abc'" in night.shown["stderr"]
    said = night.shown["stderr"] + night.shown["log records"]
    assert "Notification not delivered: email" in said and "[redacted]" in said
    leaks = [
        f"{what} in {name}"
        for name, text in texts.items()
        for what, secret in SECRETS.items()
        if (secret.encode() if isinstance(text, bytes) else secret) in text
    ]
    assert not leaks, leaks


# --------------------------------------------------------------------------- (e) the BI copy


def _documented_read_only_configs() -> list[dict[str, Any]]:
    """The read-only connections docs/bi.md documents, as duckdb.connect arguments."""
    doc = (PROJECT_ROOT / "docs" / "bi.md").read_text(encoding="utf-8")
    readme = (PROJECT_ROOT / "README.md").read_text(encoding="utf-8")
    assert "read_only=True" in doc and "duckdb -readonly" in readme
    # Superset's duckdb-engine URI: the query string is DuckDB configuration
    (query_string,) = re.findall(r"duckdb:////\S+?\?(\S+)", doc)
    # Metabase's "Additional DuckDB connection string options"
    assert "access_mode=READ_ONLY" in doc
    return [
        {"read_only": True},  # pandas / DuckDB's Python client
        {"config": dict(parse_qsl(query_string))},  # duckdb-engine
        {"config": {"access_mode": "READ_ONLY"}},  # Metabase's option
        {"config": {"access_mode": "read_only"}},  # duckdb -readonly
    ]


def test_the_bi_copy_refuses_writes_through_its_documented_connections(night: Night) -> None:
    # test_publish.py checks the hand-built copy's mode and other-process readers; this is the
    # copy a real run published
    assert stat.S_IMODE(night.bi_copy.stat().st_mode) == 0o444
    for kwargs in _documented_read_only_configs():
        con = duckdb.connect(str(night.bi_copy), **kwargs)
        try:
            assert con.execute("select count(*) from alerts").fetchone() == (2,)
            for write in ("create table x(i int)", "delete from alerts", "drop table alerts"):
                with pytest.raises(duckdb.Error, match="(?i)read.only"):
                    con.execute(write)
        finally:
            con.close()
    if os.geteuid() != 0:  # root writes whatever the mode says
        with pytest.raises(duckdb.Error):
            duckdb.connect(str(night.bi_copy)).close()
    assert query(night.bi_copy, "select count(*) from alerts") == [(2,)]
