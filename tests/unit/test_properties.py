"""Property-based tests (hypothesis) of alert episodes and the decision queue's state machine.

Any sequence of nightly findings and human actions keeps the invariants: one episode (and so one
non-terminal queue item) per rule and dimension value, stable ids, no decision lost, legal
transitions only, idempotent re-runs and rebuilds. Pure: no DuckDB, `record_action`'s checks are
mirrored in `record` below. Deterministic (derandomized, no example database) so CI is repeatable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from itertools import groupby

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from dagster_project.divergence.episodes import Alert, alert_id, merge_alerts
from dagster_project.divergence.findings import Finding
from dagster_project.divergence.queue import (
    ACTIONS,
    LogEntry,
    QueueError,
    QueueItem,
    build_queue,
    check_action,
    decision_id,
)
from tests.support.findings import NIGHT1, finding

# Deterministic for CI: the same examples on every run, nothing read from or written to .hypothesis.
PROPERTIES = settings(
    max_examples=200,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
FEWER = settings(PROPERTIES, max_examples=100)
MACHINE = settings(PROPERTIES, max_examples=100, stateful_step_count=40)

# The queue's state machine as the contract and queue.py's docstring describe it, written out
# here independently of queue._ALLOWED so that a change to the code is caught, not mirrored.
SPEC = {
    "acknowledge": ({"open"}, "acknowledged"),
    "decide": ({"open", "acknowledged", "snoozed"}, "decided"),
    "dismiss": ({"open", "acknowledged", "snoozed"}, "dismissed"),
    "snooze": ({"open", "acknowledged"}, "snoozed"),
}
NON_TERMINAL = {"open", "acknowledged", "snoozed"}
DUE = {"error": 2, "warn": 7}

RULES = ("engagement_up_quality_down", "spend_up_pipeline_down")
# the same value under two dimensions is two episodes
SLICES = (
    ("channel", "paid_social"),
    ("channel", "linkedin"),
    ("campaign", "paid_social"),
    ("total", "total"),
)
KEYS = tuple((rule_id, dim, value) for rule_id in RULES for dim, value in SLICES)
UNKNOWN_ID = "D-000000000000"

Key = tuple[str, str, str]
History = list[tuple[date, list[Finding]]]


def key_of(item: Finding | Alert) -> Key:
    return (item.rule_id, item.dimension, item.dimension_value)


@st.composite
def findings_on(draw: st.DrawFn, night: date) -> list[Finding]:
    """Tonight's findings: any subset of the keys, in any order, with any numbers."""
    keys = draw(st.lists(st.sampled_from(KEYS), unique=True))
    out = []
    for rule_id, dimension, value in keys:
        change = st.floats(0.01, 5.0, allow_nan=False, allow_infinity=False)
        out.append(
            finding(
                value,
                night,
                rule_id=rule_id,
                dimension=dimension,
                leading_change=draw(change),
                outcome_change=-draw(change),
                severity=draw(st.sampled_from(("warn", "error"))),
                owner=draw(st.sampled_from(("demand_generation", "sales_ops"))),
                question=draw(st.sampled_from((f"Keep funding {value}?", "Pause it?"))),
                evidence={"q": draw(st.floats(0, 1)), "night": night.isoformat()},
            )
        )
    return out


@st.composite
def nights(draw: st.DrawFn, max_nights: int = 8) -> list[date]:
    """Nights the pipeline ran, in order, sometimes skipping days."""
    out = [NIGHT1 + timedelta(days=draw(st.integers(0, 3)))]
    for _ in range(draw(st.integers(0, max_nights - 1))):
        out.append(out[-1] + timedelta(days=draw(st.integers(1, 3))))
    return out


@st.composite
def histories(draw: st.DrawFn, on: list[date] | None = None) -> History:
    return [(night, draw(findings_on(night))) for night in (on or draw(nights()))]


def replay(history: History) -> list[Alert]:
    alerts: list[Alert] = []
    for night, findings in history:
        alerts = merge_alerts(alerts, findings, night)
    return alerts


@dataclass(frozen=True)
class Episode:
    key: Key
    first: date
    last: date
    cleared_at: date | None
    finding: Finding  # the latest one


def expected_episodes(history: History) -> dict[str, Episode]:
    """The oracle: an episode is a maximal run of consecutive nights a key was found on; it
    clears on the next night the pipeline ran without it, and its id is that of its first night.
    """
    dates = [night for night, _ in history]
    found = [{key_of(f): f for f in findings} for _, findings in history]
    episodes = {}
    for key in KEYS:
        for present, run in groupby(range(len(dates)), key=lambda i, key=key: key in found[i]):
            if not present:
                continue
            run = list(run)
            start, end = run[0], run[-1]
            cleared = dates[end + 1] if end + 1 < len(dates) else None
            episode = Episode(key, dates[start], dates[end], cleared, found[end][key])
            episodes[alert_id(*key, dates[start])] = episode
    return episodes


def assert_alerts_match(alerts: list[Alert], history: History) -> None:
    expected = expected_episodes(history)
    ids = [a.alert_id for a in alerts]
    assert len(ids) == len(set(ids)), "an alert id appears twice"
    assert set(ids) == set(expected)
    assert alerts == sorted(alerts, key=lambda a: (a.first_detected_at, a.alert_id))
    for alert in alerts:
        e, f = expected[alert.alert_id], expected[alert.alert_id].finding
        status = "cleared" if e.cleared_at else "active"
        assert (
            key_of(alert),
            alert.first_detected_at,
            alert.last_detected_at,
            alert.status,
            alert.cleared_at,
        ) == (e.key, e.first, e.last, status, e.cleared_at)
        # what it says is what was found on its last night
        assert (alert.leading_change, alert.outcome_change, alert.severity) == (
            f.leading_change,
            f.outcome_change,
            f.severity,
        )
        assert (alert.owner, alert.question, alert.explanation) == (
            f.owner,
            f.question,
            f.explanation,
        )
        assert json.loads(alert.evidence) == f.evidence


def active_per_key(alerts: list[Alert]) -> dict[Key, list[Alert]]:
    out: dict[Key, list[Alert]] = {}
    for alert in alerts:
        if alert.status == "active":
            out.setdefault(key_of(alert), []).append(alert)
    return out


# ---------------------------------------------------------------------------- episode merging


@PROPERTIES
@given(history=histories(), data=st.data())
def test_episodes_follow_the_nights(history: History, data: st.DataObject) -> None:
    """Ids stable while an episode continues, one active alert per key, an absent night clears,
    a new episode after a clear gets a new id, re-running a night changes nothing."""
    alerts: list[Alert] = []
    ever: set[str] = set()
    for k, (night, findings) in enumerate(history):
        before = {key: group[0] for key, group in active_per_key(alerts).items()}
        alerts = merge_alerts(alerts, findings, night)
        by_id = {a.alert_id: a for a in alerts}
        assert set(ever) <= set(by_id), "an episode disappeared"
        now = active_per_key(alerts)
        assert all(len(group) == 1 for group in now.values()), now
        tonight = {key_of(f) for f in findings}
        assert set(now) == tonight
        for key, old in before.items():
            if key in tonight:  # continues: same id, same first night
                assert now[key][0].alert_id == old.alert_id
                assert now[key][0].first_detected_at == old.first_detected_at
            else:  # absent tonight: cleared tonight
                assert (by_id[old.alert_id].status, by_id[old.alert_id].cleared_at) == (
                    "cleared",
                    night,
                )
        for key in tonight - set(before):  # a new episode: a new id, starting tonight
            assert now[key][0].alert_id not in ever
            assert now[key][0].first_detected_at == night
        ever |= set(by_id)
        assert_alerts_match(alerts, history[: k + 1])
        # re-running the night, with its findings in any order, gives identical alerts
        again = merge_alerts(alerts, data.draw(st.permutations(findings)), night)
        assert again == alerts
        assert merge_alerts(again, findings, night) == alerts


@FEWER
@given(data=st.data())
def test_ids_depend_only_on_rule_dimension_value_and_first_night(data: st.DataObject) -> None:
    """Two unrelated histories over the same nights (other numbers, other keys found): an
    episode with the same key and first night has the same id in both; different ones differ."""
    on = data.draw(nights())
    seen: dict[str, tuple[Key, date]] = {}
    by_episode: dict[tuple[Key, date], str] = {}
    for _ in range(2):
        for alert in replay(data.draw(histories(on))):
            episode = (key_of(alert), alert.first_detected_at)
            assert seen.setdefault(alert.alert_id, episode) == episode
            assert by_episode.setdefault(episode, alert.alert_id) == alert.alert_id


# ---------------------------------------------------------------------------- the queue


def record(
    alerts: list[Alert],
    log: list[LogEntry],
    did: str,
    action: str,
    actor: str,
    *,
    text: str = "",
    snooze_until: date | None = None,
    today: date,
    now: datetime,
) -> tuple[list[LogEntry], QueueItem]:
    """state.record_action without DuckDB: the same checks in the same order, then the log with
    one entry appended and the acted-on item of the rebuilt queue."""
    if not actor.strip():
        raise ValueError("--by must name who acts")
    items = {i.decision_id: i for i in build_queue(alerts, log, today)}
    if did not in items:
        raise QueueError(f"unknown decision id {did!r}: see `firewatch queue`")
    check_action(items[did], action)
    if action == "snooze" and (snooze_until is None or snooze_until <= today):
        raise QueueError("--until must be a date after today")
    entry_id = max((e.entry_id for e in log), default=0) + 1
    entry = LogEntry(entry_id, did, action, actor.strip(), now, text, snooze_until)
    log = [*log, entry]
    return log, next(i for i in build_queue(alerts, log, today) if i.decision_id == did)


@st.composite
def logs(draw: st.DrawFn, ids: list[str], start: date) -> list[LogEntry]:
    """Any log (legal or not), entry ids unique, in any order."""
    entries = draw(
        st.lists(
            st.tuples(
                st.sampled_from([*ids, UNKNOWN_ID]),
                st.sampled_from(ACTIONS),
                st.sampled_from(("ana", "bo")),
                st.integers(0, 20),
                st.text(max_size=5),
                st.none() | st.integers(0, 20),
            ),
            max_size=12,
        )
    )
    log = [
        LogEntry(
            n + 1,
            did,
            action,
            actor,
            datetime.combine(start + timedelta(days=day), time(9)),
            text,
            None if until is None else start + timedelta(days=until),
        )
        for n, (did, action, actor, day, text, until) in enumerate(entries)
    ]
    return draw(st.permutations(log))


@FEWER
@given(history=histories(), data=st.data())
def test_build_queue_is_deterministic_and_order_free(history: History, data: st.DataObject) -> None:
    """Same inputs, same queue: rebuilt twice, for other days in between, from the log in any
    order."""
    alerts = replay(history)
    log = data.draw(logs([decision_id(a) for a in alerts], history[0][0]))
    today, other = (history[-1][0] + timedelta(days=data.draw(st.integers(0, 20))) for _ in "ab")
    alerts_before, log_before = list(alerts), list(log)
    first = build_queue(alerts, log, today)
    build_queue(alerts, log, other)  # a rebuild for another day in between changes nothing
    assert build_queue(alerts, log, today) == first
    assert build_queue(alerts, data.draw(st.permutations(log)), today) == first
    assert (alerts, log) == (alerts_before, log_before), "build_queue changed its inputs"
    # one item per cause: every alert covered by exactly one item, under one of their own ids
    covered = [alert_id for item in first for alert_id in item.alert_ids.split(",")]
    assert sorted(covered) == sorted(a.alert_id for a in alerts)
    assert {i.decision_id for i in first} <= {decision_id(a) for a in alerts}


@dataclass
class Expected:
    """What the model says of one decision, from the accepted actions alone."""

    status: str = "open"  # before its alert's own status (cleared -> resolved)
    snoozed_until: date | None = None
    decision: LogEntry | None = None  # the latest accepted decide or dismiss


class NightsAndPeople(RuleBasedStateMachine):
    """Nights run (and are re-run, and fully refreshed), days pass, people act, in any order."""

    def __init__(self) -> None:
        super().__init__()
        self.today = NIGHT1
        self.history: History = []
        self.alerts: list[Alert] = []
        self.log: list[LogEntry] = []
        self.accepted: list[LogEntry] = []
        self.expected: dict[str, Expected] = {}
        self.seen: set[str] = set()

    def _queue(self) -> list[QueueItem]:
        return build_queue(self.alerts, self.log, self.today)

    @initialize(data=st.data())
    def first_night(self, data: st.DataObject) -> None:
        self.run_night(data)

    @rule(data=st.data())
    def run_night(self, data: st.DataObject) -> None:
        """Tonight's run: today if no night ran today yet, else the next day's."""
        if self.history and self.history[-1][0] >= self.today:
            self.days_pass(1)
        findings = data.draw(findings_on(self.today))
        self.alerts = merge_alerts(self.alerts, findings, self.today)
        self.history.append((self.today, findings))
        for alert in self.alerts:
            self.expected.setdefault(decision_id(alert), Expected())

    @rule(data=st.data())
    def rerun_last_night(self, data: st.DataObject) -> None:
        night, findings = self.history[-1]
        queue = self._queue()
        again = merge_alerts(self.alerts, data.draw(st.permutations(findings)), night)
        assert again == self.alerts
        self.alerts = again
        assert self._queue() == queue

    @rule()
    def full_refresh(self) -> None:
        """Alerts recomputed from scratch from every night's findings: same alerts, same queue."""
        queue = self._queue()
        recomputed = replay(self.history)
        assert recomputed == self.alerts
        self.alerts = recomputed
        assert self._queue() == queue

    @rule(days=st.integers(1, 3))
    def days_pass(self, days: int) -> None:
        self.today += timedelta(days=days)
        for e in self.expected.values():
            if e.status == "snoozed" and e.snoozed_until <= self.today:
                e.status = "open"  # the snooze ran out
                event("a snooze ran out")

    def _causes(self) -> dict[str, list[Alert]]:
        """The model of one item per cause: alerts that opened on one night for one dimension
        value share the item of the lowest alert id; one answered under its own id keeps it."""
        answered = {e.decision_id for e in self.accepted}
        groups: dict[tuple, list[Alert]] = {}
        for a in sorted(self.alerts, key=lambda a: a.alert_id):
            groups.setdefault((a.first_detected_at, a.dimension, a.dimension_value), []).append(a)
        causes: dict[str, list[Alert]] = {}
        for first, *rest in groups.values():
            causes[decision_id(first)] = [
                first,
                *(a for a in rest if decision_id(a) not in answered),
            ]
            causes.update({decision_id(a): [a] for a in rest if decision_id(a) in answered})
        return causes

    def _alert(self, did: str) -> Alert | None:
        group = self._causes().get(did)
        return group[0] if group else None

    def _status(self, did: str) -> str:
        if all(a.status == "cleared" for a in self._causes()[did]):
            return "resolved"
        return self.expected[did].status

    def _refusal(self, did: str, action: str, actor: str, until: date | None) -> type | None:
        if not actor.strip():
            return ValueError
        if self._alert(did) is None:
            return QueueError
        if action not in SPEC or self._status(did) not in SPEC[action][0]:
            return QueueError
        if action == "snooze" and (until is None or until <= self.today):
            return QueueError
        return None

    def _actionable(self) -> list[str]:
        return [i.decision_id for i in self._queue() if i.status in NON_TERMINAL]

    @rule(data=st.data())
    def act(self, data: st.DataObject) -> None:
        """Anyone does anything to any item: an unknown id, an unknown action, no name, a past
        snooze date, an item in any status."""
        did = data.draw(st.sampled_from([*sorted(self.expected), UNKNOWN_ID]))
        action = data.draw(st.sampled_from([*ACTIONS, "reopen"]))
        actor = data.draw(st.sampled_from(("ana", " bo ", "  ")))
        until = data.draw(st.integers(-1, 4).map(lambda d: self.today + timedelta(d)) | st.none())
        self._attempt(did, action, actor, data.draw(st.text(max_size=8)), until)

    @precondition(lambda self: bool(self._actionable()))
    @rule(data=st.data())
    def act_on_a_waiting_item(self, data: st.DataObject) -> None:
        """Someone acts on an item still waiting for people (what happens most in real life)."""
        did = data.draw(st.sampled_from(self._actionable()))
        action = data.draw(st.sampled_from(ACTIONS))
        until = self.today + timedelta(days=data.draw(st.integers(1, 3)))
        text = data.draw(st.sampled_from(("cut budget", "known seasonal dip", "")))
        self._attempt(did, action, data.draw(st.sampled_from(("ana", "bo"))), text, until)

    @precondition(lambda self: bool(self._actionable()))
    @rule(data=st.data(), ahead=st.integers(1, 3), later=st.integers(1, 3))
    def snooze_and_wait(self, data: st.DataObject, ahead: int, later: int) -> None:
        """A snooze, then days pass: up to, onto or past its date."""
        did = data.draw(st.sampled_from(self._actionable()))
        self._attempt(did, "snooze", "ana", "", self.today + timedelta(days=ahead))
        self.days_pass(later)

    def _attempt(self, did: str, action: str, actor: str, text: str, until: date | None) -> None:
        now = datetime.combine(self.today, time(9)) + timedelta(minutes=len(self.log))
        kw = dict(text=text, snooze_until=until, today=self.today, now=now)
        refusal = self._refusal(did, action, actor, until)
        if refusal is not None:
            queue, log = self._queue(), list(self.log)
            with pytest.raises(refusal) as error:
                record(self.alerts, self.log, did, action, actor, **kw)
            assert type(error.value) is refusal
            assert (self.log, self._queue()) == (log, queue), "a refused action changed something"
            event(f"refused: {action} ({refusal.__name__})")
            return
        self.log, item = record(self.alerts, self.log, did, action, actor, **kw)
        entry = self.log[-1]
        self.accepted.append(entry)
        assert (entry.decision_id, entry.action, entry.actor) == (did, action, actor.strip())
        e = self.expected[did]
        e.status = SPEC[action][1]
        e.snoozed_until = until if action == "snooze" else None
        if action in ("decide", "dismiss"):
            e.decision = entry
        assert item.status == e.status
        event(f"accepted: {action}")

    @invariant()
    def alerts_are_the_episodes_of_the_nights(self) -> None:
        assert_alerts_match(self.alerts, self.history)

    @invariant()
    def queue_holds_every_accepted_action(self) -> None:
        assert self.log == self.accepted, "the log is append-only"
        queue = self._queue()
        ids = [i.decision_id for i in queue]
        causes = self._causes()
        firsts = sorted(
            (g[0] for g in causes.values()), key=lambda a: (a.first_detected_at, a.alert_id)
        )
        assert ids == [decision_id(a) for a in firsts] and len(set(ids)) == len(ids)
        assert self.seen <= set(ids), "an item (and what people entered on it) disappeared"
        self.seen |= set(ids)
        open_ish: dict[Key, int] = {}
        for alert, item in zip(firsts, queue, strict=True):
            group = causes[item.decision_id]
            assert item.alert_id == alert.alert_id
            assert item.alert_ids == ",".join(a.alert_id for a in group)
            assert (item.rule_id, item.dimension_value, item.owner) == (
                alert.rule_id,
                alert.dimension_value,
                alert.owner,
            )
            assert item.question.startswith(alert.question)
            assert ("Also affected" in item.question) == (len(group) > 1)
            severity = "error" if any(a.severity == "error" for a in group) else "warn"
            assert (item.opened_at, item.due_at, item.severity) == (
                alert.first_detected_at,
                alert.first_detected_at + timedelta(days=DUE[severity]),
                severity,
            )
            e = self.expected[item.decision_id]
            assert item.status == self._status(item.decision_id)
            assert item.snoozed_until == e.snoozed_until
            d = e.decision
            assert item.decision == (d.text if d and d.action == "decide" else None)
            assert item.note == (d.text if d and d.action == "dismiss" else None)
            assert (item.decided_by, item.decided_at) == (
                (d.actor, d.entered_at) if d else (None, None)
            )
            if d and item.status == "resolved":
                event("a decision kept on a resolved item")
            # one waiting item per ongoing episode (a cause whose first alert cleared can still
            # wait on its other alerts, next to a new episode of the same key)
            if item.status in NON_TERMINAL and alert.status == "active":
                open_ish[key_of(alert)] = open_ish.get(key_of(alert), 0) + 1
        assert all(n == 1 for n in open_ish.values()), open_ish


TestNightsAndPeople = NightsAndPeople.TestCase
TestNightsAndPeople.settings = MACHINE


def test_the_spec_is_the_code() -> None:
    """The table above is the one the code enforces: every (status, action) pair."""
    statuses = ("open", "acknowledged", "decided", "dismissed", "snoozed", "resolved")
    for status in statuses:
        item = QueueItem("D-x", "A-x", "r", "v", "o", "q", status, NIGHT1, NIGHT1)
        for action in (*ACTIONS, "reopen"):
            if action in SPEC and status in SPEC[action][0]:
                assert check_action(item, action) == SPEC[action][1]
            else:
                with pytest.raises(QueueError):
                    check_action(item, action)


@PROPERTIES
@given(data=st.data())
def test_a_rerun_of_a_night_is_its_first_run_with_the_new_findings(data: st.DataObject) -> None:
    """Late data: the last night re-run with other findings ends where a first run of that
    night with those findings would have: an episode the first run cleared continues (same id,
    so the same queue item and its decisions). The one difference allowed: an episode the first
    run opened and the re-run no longer finds stays, cleared that same night, so a decision
    someone already entered on it stays in sight (resolved) rather than vanish with it."""
    history = data.draw(histories())
    night = history[-1][0]
    late = data.draw(findings_on(night))
    rerun = merge_alerts(replay(history), late, night)
    first_run = merge_alerts(replay(history[:-1]), late, night)
    found = {key_of(f) for f in late}
    phantoms = [
        a
        for a in rerun
        if a.status == "cleared"
        and a.first_detected_at == a.cleared_at == night
        and key_of(a) not in found
    ]

    def episodes(alerts: list[Alert]) -> list[tuple]:
        # the episode structure the queue hangs on; a finding's numbers may stay from the
        # first run when the re-run clears the episode (there is no older copy to go back to)
        return [
            (a.alert_id, key_of(a), a.status, a.first_detected_at, a.cleared_at) for a in alerts
        ]

    assert episodes([a for a in rerun if a not in phantoms]) == episodes(first_run)
    # where the re-run finds an episode, it carries the re-run's numbers
    assert [a for a in rerun if a.status == "active"] == [
        a for a in first_run if a.status == "active"
    ]
    assert {key_of(a) for a in phantoms} <= {key_of(f) for f in history[-1][1]}
