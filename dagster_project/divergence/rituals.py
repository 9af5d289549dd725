"""Ritual metrics: "which decision did this number change?" (pure, no I/O).

A metric reported for `ritual_days` or more without a single decision taken on an alert it was
part of is a ritual: it is looked at, not acted on.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

RITUAL_DAYS = 90
COLUMNS = [
    "metric_id",
    "layer",
    "owner",
    "first_reported",
    "days_reported",
    "alerts_raised",
    "decisions_taken",
    "last_decision",
    "last_decided_by",
    "last_decided_at",
    "is_ritual",
]


def ritual_metrics(
    catalog: pd.DataFrame,
    first_reported: pd.DataFrame,
    alerts: pd.DataFrame,
    log: pd.DataFrame,
    as_of: date,
    ritual_days: int = RITUAL_DAYS,
) -> pd.DataFrame:
    """One row per catalog metric.

    catalog: metric_id, layer, owner. first_reported: metric_id, first_period.
    alerts: alert_id, leading_metric, outcome_metric (and decision_id, the queue item that
    covers it, when it is not the alert's own). log: decision_id, action, actor, text,
    entered_at (the append-only decision log).
    """
    own = "D-" + alerts["alert_id"].str.removeprefix("A-")
    # the decision that covers each alert: its cause's (a `decision_id` column), else its own
    covering = alerts["decision_id"].fillna(own) if "decision_id" in alerts else own
    alerts = alerts.assign(decision_id=covering)
    involved = pd.concat(
        [
            alerts[["alert_id", "decision_id", "leading_metric"]].rename(
                columns={"leading_metric": "metric_id"}
            ),
            alerts[["alert_id", "decision_id", "outcome_metric"]].rename(
                columns={"outcome_metric": "metric_id"}
            ),
        ]
    ).drop_duplicates()
    decisions = log[log["action"] == "decide"].merge(involved, on="decision_id")
    decisions = decisions.sort_values(["entered_at", "decision_id"])
    rows = []
    firsts = dict(zip(first_reported["metric_id"], first_reported["first_period"], strict=True))
    for metric in catalog.sort_values("metric_id").itertuples():
        first = firsts.get(metric.metric_id)
        first = pd.Timestamp(first).date() if first is not None and pd.notna(first) else None
        days = (as_of - first).days + 1 if first else 0
        mine = decisions[decisions["metric_id"] == metric.metric_id]
        last = mine.iloc[-1] if len(mine) else None
        rows.append(
            {
                "metric_id": metric.metric_id,
                "layer": metric.layer,
                "owner": metric.owner,
                "first_reported": first,
                "days_reported": days,
                "alerts_raised": int((involved["metric_id"] == metric.metric_id).sum()),
                "decisions_taken": len(mine),
                "last_decision": None if last is None else last["text"],
                "last_decided_by": None if last is None else last["actor"],
                "last_decided_at": None if last is None else last["entered_at"],
                "is_ritual": days >= ritual_days and len(mine) == 0,
            }
        )
    return pd.DataFrame(rows, columns=COLUMNS)
