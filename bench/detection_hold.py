"""Detection benchmark, episodes that hold: per rule, how often the alert is still active on the
last night of a 35-day change, the share of nights since onset with the alert active, and false
episodes per 90 nights on null runs, before (each night judged afresh, an episode cleared on the
first night without a finding) and after (episodes held against the baseline from before they
began, cleared after `clear_after_nights` failed nights). Prints a Markdown section for
docs/detection.md.

The runs are built like `bench/detection.py`'s (same loader and dbt models, same cache), on
seeds, onsets and magnitudes the default benchmark does not use:

    .venv/bin/python bench/detection_hold.py --scenario-runs-per-kind 3 --null-runs 24 \\
        --seed-offset 10000 --onset-shift 3 --magnitudes 0.25,0.35,0.45
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import defaultdict
from concurrent.futures import ProcessPoolExecutor
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.detection_runs import (  # noqa: E402
    CACHE,
    RULE_OF_KIND,
    build_all,
    load_run,
    plan,
)

DETECTORS = {"before": False, "after": True}  # name -> replay_nights(hold=...)


def evaluate_hold(run_id: str) -> dict[str, Any]:
    """Replays one cached run with and without holding episodes; per detector, the episodes
    (rule, value, first night, status) and the nights each (rule, value) was active."""
    from dagster_project.runtime.backtest import replay_nights

    meta, inputs, first, last = load_run(run_id)
    out: dict[str, Any] = {"run_id": run_id, "spec": meta["spec"], "last_night": last.isoformat()}
    out["nights"] = (last - first).days + 1
    for name, hold in DETECTORS.items():
        replay = replay_nights(inputs, first, last, hold=hold)
        active: dict[str, list[str]] = defaultdict(list)
        for night, keys in replay.active.items():
            for rule_id, _dim, value in keys:
                active[f"{rule_id}|{value}"].append(night.isoformat())
        out[name] = {
            "episodes": [
                [a.rule_id, a.dimension_value, a.first_detected_at.isoformat(), a.status]
                for a in replay.alerts
            ],
            "active": dict(active),
        }
    return out


def tally(results: list[dict[str, Any]], which: str) -> dict[str, dict[str, Any]]:
    per_rule: dict[str, dict[str, Any]] = defaultdict(
        lambda: {"runs": 0, "active_end": 0, "on": 0, "since": 0, "null_eps": 0, "null_on": 0}
    )
    for rule_id in RULE_OF_KIND.values():
        per_rule[rule_id]["runs"] = 0
    null_nights = 0
    for res in results:
        spec, got = res["spec"], res[which]
        if spec["kind"] == "null":
            null_nights += res["nights"]
            for rule_id, *_ in got["episodes"]:
                per_rule[rule_id]["null_eps"] += 1
            for key, nights in got["active"].items():
                per_rule[key.split("|")[0]]["null_on"] += len(nights)
            continue
        rule_id, channel = RULE_OF_KIND[spec["kind"]], spec["channel"]
        onset, last = date.fromisoformat(spec["onset"]), res["last_night"]
        nights = [n for n in got["active"].get(f"{rule_id}|{channel}", []) if n >= spec["onset"]]
        stats = per_rule[rule_id]
        stats["runs"] += 1
        stats["active_end"] += last in nights
        stats["on"] += len(nights)
        stats["since"] += (date.fromisoformat(last) - onset).days + 1
    for stats in per_rule.values():
        stats["null_nights"] = null_nights
    return per_rule


def table(results: list[dict[str, Any]]) -> list[str]:
    tallies = {name: tally(results, name) for name in DETECTORS}
    rules = sorted(set(RULE_OF_KIND.values()))
    lines = [
        "| rule | scenario runs | active at the end, before | after "
        "| nights alerting / nights since onset, before | after "
        "| false episodes / 90 nights (null), before | after "
        "| null nights with an alert active, before | after |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for rule_id in rules:
        cells = [rule_id, str(tallies["after"][rule_id]["runs"])]
        for key in ("active_end", "on", "null_eps", "null_on"):
            for name in DETECTORS:
                s = tallies[name][rule_id]
                if key == "active_end":
                    cells.append(f"{s['active_end']}/{s['runs']}")
                elif key == "on":
                    share = s["on"] / s["since"] if s["since"] else float("nan")
                    cells.append(f"{share:.2f} ({s['on']}/{s['since']})")
                elif key == "null_eps":
                    rate = 90 * s["null_eps"] / s["null_nights"] if s["null_nights"] else 0.0
                    cells.append(f"{rate:.3f} ({s['null_eps']} in {s['null_nights']} nights)")
                else:
                    cells.append(str(s["null_on"]))
        lines.append("| " + " | ".join(cells) + " |")
    return lines


SECTION = "## Episodes that hold"


def section(results: list[dict[str, Any]], command: str) -> str:
    """The docs/detection.md section: how the figures were made, and the table."""
    scen = [r for r in results if r["spec"]["kind"] != "null"]
    nulls = [r for r in results if r["spec"]["kind"] == "null"]
    mags = sorted({r["spec"]["magnitude"] for r in scen})
    days = sorted({date.fromisoformat(r["spec"]["onset"]).strftime("%a") for r in scen})
    lines = [
        SECTION,
        "",
        "Issue 13 item 2. *Before*: every night judged afresh against a baseline that slides "
        "into the new level, an episode cleared on the first night without a finding. *After* "
        "(`divergence/hold.py`): an open episode is judged each night against the baseline from "
        "before it began (kept in its evidence JSON), stays active while the divergence shows "
        "there (same directions, the outcome at its floor, the leading metric at the rule's "
        "`hold_leading_share` of its floor since 2026-12-06, divergence p <= the rule's "
        "`hold_p`, 0.2, unadjusted) and clears after `clear_after_nights` (3) failed nights in a "
        "row. Both replay the same cached runs with `firewatch backtest`'s `replay_nights` "
        "(`hold=False` / `hold=True`).",
        "",
        f"{len(scen)} scenario runs (medium profile, one change each, magnitudes "
        f"{', '.join(f'{round(m * 100)}%' for m in mags)}, onsets on "
        f"{', '.join(days)}"
        f", seeds {min(r['spec']['seed'] for r in scen)} and up; none of them is a default run) "
        f"and {len(nulls)} null runs (small profile, seeds "
        f"{min((r['spec']['seed'] for r in nulls), default=0)} and up, the last 90 nights "
        "replayed), made with:",
        "",
        "    " + command,
        "",
        "- *active at the end*: the rule's episode on the changed channel is active on the last "
        "replayed night, 35 days after the onset (the change is still in place).",
        "- *nights alerting / nights since onset*: nights from the onset to the last with that "
        "episode active (detection takes days, so 1.00 is out of reach).",
        "- *false episodes / 90 nights (null)*: episodes per rule on the null runs; the last "
        "columns count the null nights on which such an episode was active (a held false episode "
        "lasts longer; the hold never opens one).",
        "",
        *table(results),
        "",
    ]
    return "\n".join(lines)


def write_section(path: Path, text: str, heading: str = SECTION) -> None:
    """Replaces the section in `path` (from its heading to the next `## ` heading), or adds it."""
    doc = path.read_text(encoding="utf-8")
    start = doc.find(heading)
    if start < 0:
        doc = doc.rstrip("\n") + "\n\n" + text
    else:
        end = doc.find("\n## ", start + len(heading))
        doc = doc[:start] + text + (doc[end + 1 :] if end >= 0 else "")
    path.write_text(doc, encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--stage", choices=["all", "build", "evaluate"], default="all")
    parser.add_argument("--scenario-runs-per-kind", type=int, default=3)
    parser.add_argument("--null-runs", type=int, default=24)
    parser.add_argument("--seed-offset", type=int, default=10000)
    parser.add_argument("--onset-shift", type=int, default=3)
    parser.add_argument("--magnitudes", default="0.25,0.35,0.45")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--results", default=str(CACHE / "hold_results.json"))
    parser.add_argument("--out", default=None, help="docs/detection.md: write the section there")
    args = parser.parse_args()
    os.environ.setdefault("FIREWATCH_DBT_THREADS", "1" if args.workers > 1 else "2")
    magnitudes = tuple(float(m) for m in args.magnitudes.split(","))
    runs = plan(
        args.scenario_runs_per_kind,
        args.null_runs,
        seed_offset=args.seed_offset,
        onset_shift=args.onset_shift,
        magnitudes=magnitudes,
    )
    started = time.perf_counter()
    if args.stage in ("all", "build"):
        build_all(runs, args.workers)
    if args.stage == "build":
        return 0
    ids = [r.run_id for r in runs if (CACHE / r.run_id / "done").exists()]
    with ProcessPoolExecutor(args.workers) as pool:
        results = list(pool.map(evaluate_hold, ids))
    Path(args.results).write_text(json.dumps(results), encoding="utf-8")
    print(f"{len(results)} runs evaluated in {time.perf_counter() - started:.0f}s\n")
    print("\n".join(table(results)))
    if args.out:
        command = ".venv/bin/python bench/detection_hold.py " + " ".join(sys.argv[1:])
        write_section(Path(args.out), section(results, command))
        print(f"wrote the section into {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
