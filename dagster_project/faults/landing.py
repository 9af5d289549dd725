"""The campaign's landing folder: a generated `small` data set with five scenarios, split so that
the history ends on the first night and every later night adds one day file of web events and
ads, as a real night does. `Landing.land(night)` copies a night's day files in."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

import duckdb

from dagster_project.faults.env import BIN, sql_literal

# The generated data: half a year to END, five scenarios whose episodes are open through the
# nights used (backtested: items open from 2025-09-14 to 2025-10-18).
END = date(2025, 10, 26)
FIRST_NIGHT = date(2025, 9, 20)
LAST_NIGHT = date(2025, 10, 18)
SCENARIOS = (
    "clicks_up_nobody_stays:paid_search:2025-09-08",
    "engagement_up_cac_up:paid_social:2025-09-01",
    "traffic_up_returning_down:organic_search:2025-09-05",
    "spend_up_revenue_flat:linkedin:2025-09-01",
    # a fifth channel: one queue item per cause (channel and night), and the people tests need
    # four open items on the first night
    "traffic_up_returning_down:direct:2025-09-05",
)
# The tables the nightly rows of a day land in; the rest are full exports, the same each night.
DAILY = {"web_events": "event_timestamp", "ads_daily": "date"}
ADS_KEY = "date, platform, account_id, campaign_id"


def _data_files(folder: Path) -> list[Path]:
    """A table folder's files in the loader's order (name order, no hidden files)."""
    if not folder.is_dir():
        return []
    return sorted(
        (p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")),
        key=lambda p: p.name,
    )


def _csv(path: Path) -> str:
    # values as text, so they are written back exactly as they were
    return (
        f"read_csv({sql_literal(path)}, header = true, all_varchar = true, delim = ',', "
        "quote = '\"', escape = '\"')"
    )


def _copy(con: duckdb.DuckDBPyConnection, select: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    con.execute(f"copy ({select}) to {sql_literal(path)} (format csv, header true)")


@dataclass(frozen=True)
class Landing:
    """The landing folder `raw` (history up to `first_night`) and one folder of day files per
    later night under `days/<YYYY-MM-DD>/<table>/`."""

    root: Path
    first_night: date
    last_night: date

    @property
    def raw(self) -> Path:
        return self.root / "raw"

    def day_dir(self, night: date) -> Path:
        return self.root / "days" / night.isoformat()

    def nights(self) -> list[date]:
        count = (self.last_night - self.first_night).days
        return [self.first_night + timedelta(days=i) for i in range(1, count + 1)]

    def landed(self, night: date) -> bool:
        return all((self.raw / t / f).exists() for t, f in self._day_files(night))

    def land(self, night: date) -> None:
        """Copies the night's day files into the landing folder (as the exporters would)."""
        for table, name in self._day_files(night):
            target = self.raw / table / name
            tmp = target.with_name(f".{name}.tmp")
            shutil.copyfile(self.day_dir(night) / table / name, tmp)
            os.replace(tmp, target)

    def _day_files(self, night: date) -> list[tuple[str, str]]:
        folder = self.day_dir(night)
        return [(t.name, f.name) for t in sorted(folder.iterdir()) for f in _data_files(t)]


def build_landing(
    root: Path,
    *,
    first_night: date = FIRST_NIGHT,
    last_night: date = LAST_NIGHT,
    env: dict[str, str] | None = None,
) -> Landing:
    """Generates the data set and splits web events and ads into the history and day files.

    History files that held days after `first_night` keep the rest under the name of the
    first night (`web_events/2025-09-20.csv`, `ads_daily/2025-09-20_export.csv`), and each day
    file is named after its day, so every day file sorts after the history and the loader
    appends it instead of reloading the table (a later file that sorted before a loaded one
    would be a late file). A day's ads rows take the restatement's values where it has the key.
    """
    landing = Landing(root, first_night, last_night)
    generated = root / "generated"
    shutil.rmtree(root / "raw", ignore_errors=True)
    shutil.rmtree(root / "days", ignore_errors=True)
    shutil.rmtree(generated, ignore_errors=True)
    command = [
        str(BIN / "firewatch"),
        "generate",
        "--out",
        str(generated),
        "--profile",
        "small",
        "--end-date",
        END.isoformat(),
    ]
    for spec in SCENARIOS:
        command += ["--scenario", spec]
    subprocess.run(command, check=True, env=env, capture_output=True, text=True)
    con = duckdb.connect()
    con.execute("set TimeZone = 'UTC'")
    try:
        for table_dir in sorted((generated / "raw").iterdir()):
            table = table_dir.name
            files = _data_files(table_dir)
            if table not in DAILY:
                (landing.raw / table).mkdir(parents=True, exist_ok=True)
                for path in files:
                    shutil.copyfile(path, landing.raw / table / path.name)
                continue
            _split_table(con, landing, table, files)
    finally:
        con.close()
    shutil.rmtree(generated, ignore_errors=True)
    return landing


def _split_table(
    con: duckdb.DuckDBPyConnection, landing: Landing, table: str, files: list[Path]
) -> None:
    column = DAILY[table]
    day = f"cast(left({column}, 10) as date)"
    first = landing.first_night.isoformat()
    first_day = f"date {sql_literal(first)}"
    history = landing.raw / table
    history.mkdir(parents=True, exist_ok=True)
    kept_rest = False
    for path in files:
        (latest,) = con.execute(f"select max({day}) from {_csv(path)}").fetchone()
        if latest is not None and latest <= landing.first_night:
            shutil.copyfile(path, history / path.name)
            continue
        (n_rest,) = con.execute(
            f"select count(*) from {_csv(path)} where {day} <= {first_day}"
        ).fetchone()
        if n_rest:
            if kept_rest and table == "web_events":
                raise SystemExit(f"two files of {table} hold days on both sides of {first}")
            suffix = "_export.csv" if table == "ads_daily" else ".csv"
            name = f"{first}{suffix}"
            if (history / name).exists():
                name = f"{first}_{path.stem}.csv"
            _copy(
                con,
                f"select * from {_csv(path)} where {day} <= {first_day}",
                history / name,
            )
            kept_rest = True
    parts = [
        f"select *, {index} as _file_index from {_csv(path)} where {day} > {first_day}"
        for index, path in enumerate(files)
    ]
    rows = " union all by name ".join(parts)
    if table == "ads_daily":
        rows = (
            f"select * from ({rows}) qualify row_number() over "
            f"(partition by {ADS_KEY} order by _file_index desc) = 1"
        )
    con.execute(f"create or replace temp table _later as {rows}")
    columns = [
        name for (name,) in con.execute("select name from pragma_table_info('_later')").fetchall()
    ]
    keep = ", ".join(f'"{c}"' for c in columns if c != "_file_index")
    for night in landing.nights():
        suffix = "_export.csv" if table == "ads_daily" else ".csv"
        _copy(
            con,
            f"select {keep} from _later where {day} = date {sql_literal(night.isoformat())} "
            "order by _file_index",
            landing.day_dir(night) / table / f"{night}{suffix}",
        )
