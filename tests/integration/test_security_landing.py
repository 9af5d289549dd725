"""Security of the landing folder's file names, through the loader: dotted names and a dotted raw
dir are plain names, a symlink inside the folder is read and one leading outside it refused, and
glob characters in a file name are read as themselves."""

from __future__ import annotations

from pathlib import Path

import pytest

from dagster_project.ingest.loader import load_raw
from dagster_project.ingest.problems import RawInputError
from dagster_project.settings import Settings
from tests.support.injection import ads_row
from tests.support.landing import write_csv
from tests.support.tiny_landing import write_tiny_landing
from tests.support.warehouse import query


def test_dotted_names_and_a_dotted_raw_dir_are_plain_names(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    write_csv(raw, "ads_daily", "2025..03..10.csv", [ads_row(campaign_id="dots")])
    # a hidden file, even one that looks like a way up, is not data
    write_csv(raw, "ads_daily", "..evil.csv", [ads_row(spend="abc")])
    (tmp_path / "elsewhere").mkdir()
    dotted = tmp_path / "elsewhere" / ".." / "raw"
    settings = Settings.from_env(raw_dir=dotted, warehouse=tmp_path / "w.duckdb")
    assert settings.raw_dir == raw
    report = load_raw(settings.raw_dir, settings.warehouse)
    assert "2025..03..10.csv" in report.files["ads_daily"]
    assert "..evil.csv" not in report.files["ads_daily"]
    assert query(
        tmp_path / "w.duckdb",
        "select campaign_id from raw.ads_daily where _source_file = '2025..03..10.csv'",
    ) == [("dots",)]


def test_a_symlink_inside_the_landing_folder_is_read(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    (raw / "ads_daily" / "zz_link.csv").symlink_to(raw / "ads_daily" / "2025-03-06_restated.csv")
    report = load_raw(raw, tmp_path / "w.duckdb")
    assert "zz_link.csv" in report.files["ads_daily"]


def test_a_symlink_to_a_file_outside_the_landing_folder_is_refused(tmp_path: Path) -> None:
    raw, outside = tmp_path / "raw", tmp_path / "outside"
    write_tiny_landing(raw)
    write_csv(outside, "private", "payroll.csv", [ads_row(campaign_id="not-yours")])
    link = raw / "ads_daily" / "zz_link.csv"
    link.symlink_to(outside / "private" / "payroll.csv")
    warehouse = tmp_path / "w.duckdb"
    with pytest.raises(RawInputError) as caught:
        load_raw(raw, warehouse)
    message = str(caught.value)
    assert str(link) in message and "outside the landing folder" in message
    assert not warehouse.exists()


@pytest.mark.parametrize("name", ["x[1].csv", "x*.csv", "x?.csv"])
def test_a_file_name_with_glob_characters_is_read_as_itself(tmp_path: Path, name: str) -> None:
    """DuckDB reads `*`, `?` and `[...]` in a path as a pattern: `x[1].csv` reads `x1.csv`."""
    raw = tmp_path / "raw"
    write_tiny_landing(raw)
    write_csv(raw, "ads_daily", "x1.csv", [ads_row(campaign_id="from-x1")])
    write_csv(raw, "ads_daily", name, [ads_row(date="2025-03-11", campaign_id="own")])
    load_raw(raw, tmp_path / "w.duckdb")
    assert query(
        tmp_path / "w.duckdb",
        "select campaign_id from raw.ads_daily where _source_file = ?",
        [name],
    ) == [("own",)]
