"""The performance bench's data sets: a profile generated for N+1 days, day D's rows of web_events
and ads_daily moved into day files, so one landing folder holds the history up to D-1 and the
day files add exactly one day. Cached under the bench's work folder."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from bench.pipeline_measure import Measurement, measure
from dagster_project.faults.env import sql_literal
from dagster_project.ingest.contract import TABLES

BIN = Path(sys.executable).parent
# Bumped whenever _split changes what it writes, so cached data sets are made again.
SPLIT_VERSION = "2"


@dataclass(frozen=True)
class Dataset:
    """A generated data set split into history (up to D-1) and the files of day D."""

    profile: str
    days: int  # days generated: the history's days + 1
    folder: Path

    @property
    def history(self) -> Path:
        return self.folder / "history"

    @property
    def day_files(self) -> Path:
        return self.folder / "day"

    @property
    def last_day(self) -> date:
        truth = json.loads((self.folder / "ground_truth.json").read_text(encoding="utf-8"))
        return date.fromisoformat(truth["end_date"])

    @property
    def name(self) -> str:
        return f"{self.profile}, {self.days - 1} + 1 days"


def _data_files(folder: Path) -> list[Path]:
    """A table folder's files in the loader's order (name order, no hidden files)."""
    if not folder.is_dir():
        return []
    return sorted(
        (
            p
            for p in folder.iterdir()
            if p.is_file() and not p.name.startswith(".") and p.suffix in (".csv", ".parquet")
        ),
        key=lambda p: p.name,
    )


def _reader(path: Path) -> str:
    """One file as DuckDB reads it for copying: CSV values as text, so they are written back
    exactly as they were; Parquet with its own types."""
    if path.suffix == ".csv":
        return (
            f"read_csv({sql_literal(str(path))}, header = true, all_varchar = true, delim = ',', "
            "quote = '\"', escape = '\"')"
        )
    return f"read_parquet({sql_literal(str(path))})"


def _copy(con: Any, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # zstd like the generator, so a rewritten file reads as fast as the files left alone
    options = (
        "format csv, header true" if path.suffix == ".csv" else "format parquet, compression zstd"
    )
    con.execute(f"copy ({select}) to {sql_literal(str(path))} ({options})")


def _split(gen_raw: Path, history: Path, day_dir: Path, day: date) -> None:
    """Moves day D's rows of web_events and ads_daily out of the generated files into day
    files; every other table keeps its full export (the nightly gets the same CRM files)."""
    import duckdb

    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")  # the loader's reading of timestamps
    is_day = {
        "web_events": f"cast(cast(event_timestamp as timestamptz) as date) = date '{day}'",
        "ads_daily": f"cast(date as date) = date '{day}'",
    }
    previous = (day - timedelta(days=1)).isoformat()
    try:
        for table in TABLES:
            files = _data_files(gen_raw / table)
            if table not in is_day:
                for path in files:
                    (history / table).mkdir(parents=True, exist_ok=True)
                    os.replace(path, history / table / path.name)
                continue
            cond = is_day[table]
            parts = []
            for index, path in enumerate(files):
                (history / table).mkdir(parents=True, exist_ok=True)
                (n_day,) = con.execute(
                    f"select count(*) from {_reader(path)} where {cond}"
                ).fetchone()
                if not n_day:  # a file without the day (an earlier month) stays as generated
                    os.replace(path, history / table / path.name)
                    continue
                # What is left of a file that held day D is named after the last day it now
                # holds (the ads exports are named after their last day already): D's own file
                # must sort after every history file, or the loader would take it for a late
                # file and reload the whole table ("2025-09-28" sorts before "2025-09").
                if table == "ads_daily" and path.name.startswith(day.isoformat()):
                    name = previous + path.name[len(day.isoformat()) :]
                else:
                    name = previous + path.suffix
                rest = f"select * from {_reader(path)} where not ({cond})"
                (n_rest,) = con.execute(f"select count(*) from ({rest})").fetchone()
                if n_rest:
                    if (history / table / name).exists():
                        raise SystemExit(f"two files of {gen_raw / table} hold rows of {day}")
                    _copy(con, rest, history / table / name)
                parts.append(f"select *, {index} as _file_index from {_reader(path)} where {cond}")
            if not parts:
                raise SystemExit(f"{gen_raw / table} holds no rows of {day}")
            rows = " union all by name ".join(parts)
            if table == "ads_daily":
                # One export for the day, with the restatement's values where it has the key.
                select = (
                    f"select * exclude (_file_index) from ({rows}) qualify row_number() over "
                    "(partition by date, platform, account_id, campaign_id "
                    "order by _file_index desc) = 1"
                )
                target = day_dir / table / f"{day}_export{files[-1].suffix}"
            else:
                select = f"select * exclude (_file_index) from ({rows})"
                target = day_dir / table / f"{day}{files[-1].suffix}"
            _copy(con, select, target)
    finally:
        con.close()


def prepare_dataset(
    profile: str, days: int, work: Path, env: dict[str, str], fresh: bool
) -> tuple[Dataset, Measurement | None]:
    """The data set from the cache, else generated and split (with the generation measured)."""
    folder = work / f"{profile}-{days}d"
    dataset = Dataset(profile, days, folder)
    done = folder / "done"
    if done.exists() and not fresh and done.read_text(encoding="utf-8") == SPLIT_VERSION:
        return dataset, None
    shutil.rmtree(folder, ignore_errors=True)
    gen = folder / "gen"
    generated = measure(
        f"generate {profile} {days} days",
        [str(BIN / "firewatch"), "generate", "--out", str(gen), "--profile", profile,
         "--days", str(days)],
        env,
        folder / "logs" / "generate.log",
    )  # fmt: skip
    shutil.move(gen / "ground_truth.json", folder / "ground_truth.json")
    _split(gen / "raw", dataset.history, dataset.day_files, dataset.last_day)
    shutil.rmtree(gen)
    done.write_text(SPLIT_VERSION, encoding="utf-8")
    return dataset, generated


def link_tree(source: Path, target: Path) -> None:
    """Hard links (a copy where they cannot be made) of every data file under source."""
    for table_dir in sorted(p for p in source.iterdir() if p.is_dir()):
        (target / table_dir.name).mkdir(parents=True, exist_ok=True)
        for path in _data_files(table_dir):
            destination = target / table_dir.name / path.name
            try:
                os.link(path, destination)
            except OSError:
                shutil.copy2(path, destination)


def chosen_profiles(
    parser: argparse.ArgumentParser, text: str, choices: Sequence[str]
) -> list[str]:
    """`--profiles`' comma-separated names, refused (parser.error) unless each is a choice."""
    profiles = [p.strip() for p in text.split(",") if p.strip()]
    if not profiles or [p for p in profiles if p not in choices]:
        parser.error(f"--profiles: choose from {', '.join(choices)}")
    return profiles
