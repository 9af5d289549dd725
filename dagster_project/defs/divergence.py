"""Divergence as Dagster sees it: the night's findings (every rule run once), one WARN check
per rule on metric_series reading them, then the `alerts` and `decision_queue` assets."""

import base64
import json
from collections.abc import Iterator
from dataclasses import asdict

import dagster as dg

from dagster_project.brief.explain import explain_alert
from dagster_project.divergence.findings import Finding
from dagster_project.runtime.alert_detail import chart_png
from dagster_project.runtime.night import NightFindings, night_findings, record_night, rule_ids
from dagster_project.runtime.rituals import refresh as refresh_rituals
from dagster_project.settings import Settings
from dagster_project.warehouse.decisions import read_queue
from dagster_project.warehouse.engine import connect

METRIC_SERIES = dg.AssetKey("metric_series")
METRIC_CATALOG = dg.AssetKey("metric_catalog")
FINDINGS = "divergence_findings"
GROUP = "decisions"
_SAMPLE = 10  # worst dimension values shown per check


def _check_name(rule_id: str) -> str:
    return f"divergence_{rule_id}"


def _md_text(text: str) -> str:
    """A campaign or channel name as plain text in the UI's Markdown: no table breaks, links,
    images or HTML (`![](http://...)` in a campaign name must not load anything)."""
    text = " ".join(str(text).split())
    return "".join(f"\\{c}" if c in "\\|[]!<>`*_" else c for c in text)


def _table(findings: list[Finding]) -> str:
    worst = sorted(findings, key=lambda f: f.outcome_change)[:_SAMPLE]
    lines = ["| dimension value | leading change | outcome change | window |", "|---|---|---|---|"]
    lines += [
        f"| {_md_text(f.dimension_value)} | {f.leading_change:+.0%} | {f.outcome_change:+.0%} | "
        f"{f.window_start} .. {f.window_end} |"
        for f in worst
    ]
    return "\n".join(lines)


def _why(settings: Settings, finding: Finding) -> str:
    """The numbers behind the worst finding as `firewatch explain` shows them, with its chart
    inline (the UI renders Markdown images from data URIs)."""
    alert = {**asdict(finding), "first_detected_at": finding.as_of, "status": "active"}
    # Markdown keeps the table's rows but runs plain lines into one paragraph: a hard break each
    text = "\n".join(
        line if line.startswith("|") or not line.strip() else line + "  "
        for line in explain_alert(alert, finding.evidence).splitlines()
    )
    with connect(settings.location, read_only=True) as wh:
        png = chart_png(wh, {**alert, "evidence": json.dumps(finding.evidence, default=str)})
    if png:
        text += f"\n\n![chart](data:image/png;base64,{base64.b64encode(png).decode()})"
    return text


def build_divergence_checks() -> dg.AssetChecksDefinition:
    ids = rule_ids()

    @dg.multi_asset_check(
        specs=[
            dg.AssetCheckSpec(
                _check_name(rule_id),
                asset=METRIC_SERIES,
                additional_deps=[METRIC_CATALOG, FINDINGS],
                description=f"Divergence rule {rule_id} (rules.yml).",
                blocking=False,
            )
            for rule_id in ids
        ],
        can_subset=True,
        ins={"night": dg.AssetIn(FINDINGS)},
    )
    def divergence_checks(
        context: dg.AssetCheckExecutionContext,
        settings: dg.ResourceParam[Settings],
        night: NightFindings,
    ) -> Iterator[dg.AssetCheckResult]:
        selected = {key.name for key in context.selected_asset_check_keys}
        for rule_id in night.rule_ids:
            if _check_name(rule_id) not in selected:
                continue
            hits = [f for f in night.findings if f.rule_id == rule_id]
            metadata: dict[str, dg.RawMetadataValue] = {
                "as_of": str(night.as_of),
                "divergences": len(hits),
            }
            if hits:
                metadata["explanation"] = hits[0].explanation
                metadata["worst"] = dg.MetadataValue.md(_table(hits))
                metadata["why"] = dg.MetadataValue.md(_why(settings, hits[0]))
                metadata["evidence"] = dg.MetadataValue.json(hits[0].evidence)
            yield dg.AssetCheckResult(
                asset_key=METRIC_SERIES,
                check_name=_check_name(rule_id),
                passed=not hits,
                severity=dg.AssetCheckSeverity.WARN,
                description=hits[0].explanation if hits else "No divergence.",
                metadata=metadata,
            )

    return divergence_checks


@dg.asset(
    key=FINDINGS,
    deps=[METRIC_SERIES, METRIC_CATALOG],
    group_name=GROUP,
    kinds={"python"},
    description=(
        "Every divergence rule (rules.yml) over metric_series, run once a night; the rule "
        "checks and the `alerts` asset read these findings, nothing is written to the warehouse."
    ),
)
def divergence_findings(settings: dg.ResourceParam[Settings]) -> dg.Output[NightFindings]:
    night = night_findings(settings.location)
    return dg.Output(night, metadata={"as_of": str(night.as_of), "findings": len(night.findings)})


@dg.asset(
    key="alerts",
    # the marts as lineage (what the findings were read from), the findings as data
    deps=[METRIC_SERIES, METRIC_CATALOG, FINDINGS],
    ins={"night": dg.AssetIn(FINDINGS)},
    group_name=GROUP,
    kinds={"duckdb"},
    description="One row per divergence episode (docs/contract.md section 2).",
)
def alerts(
    context: dg.AssetExecutionContext, settings: dg.ResourceParam[Settings], night: NightFindings
) -> dg.MaterializeResult:
    findings = night.findings
    merged = record_night(settings.location, findings, night.as_of)
    active = [a for a in merged if a.status == "active"]
    for alert in active:
        context.log.warning(f"Divergence: {alert.explanation}")
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(merged),
            "active": len(active),
            "found_tonight": len(findings),
            "as_of": str(night.as_of),
        }
    )


@dg.asset(
    key="decision_queue",
    deps=["alerts"],
    group_name=GROUP,
    kinds={"duckdb"},
    description="One row per decision asked of a person; rebuilt from the append-only log.",
)
def decision_queue(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    # record_night already rebuilt the queue in the alerts' transaction; this step reports it
    with connect(settings.location, read_only=True) as wh:
        queue = read_queue(wh)
    counts = queue["status"].value_counts().to_dict() if len(queue) else {}
    return dg.MaterializeResult(
        metadata={"dagster/row_count": len(queue), **{f"status_{k}": v for k, v in counts.items()}}
    )


@dg.asset(
    key="ritual_metrics",
    deps=["decision_queue", METRIC_CATALOG],
    group_name=GROUP,
    kinds={"duckdb"},
    description="Per metric: alerts raised, decisions taken; 90+ days without one is a ritual.",
)
def ritual_metrics(settings: dg.ResourceParam[Settings]) -> dg.MaterializeResult:
    frame = refresh_rituals(settings.location)
    return dg.MaterializeResult(
        metadata={
            "dagster/row_count": len(frame),
            "rituals": int(frame["is_ritual"].sum()),
            "ritual_metrics": dg.MetadataValue.json(
                frame.loc[frame["is_ritual"], "metric_id"].tolist()
            ),
        }
    )
