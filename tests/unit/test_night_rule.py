"""The one rule for the night a run is as of (ingest/night.py default_night)."""

from datetime import date

from dagster_project.ingest.night import default_night

D = date.fromisoformat


def test_the_last_day_both_ads_and_web_have() -> None:
    # web has a stray event on the 29th, ads end on the 28th: the 28th is the last full day
    last = {
        "ads_daily": D("2025-09-28"),
        "web_events": D("2025-09-29"),
        "crm_deals": D("2025-09-30"),
    }
    assert default_night(last) == D("2025-09-28")
    # web export behind ads: the night waits for web
    last = {"ads_daily": D("2025-09-28"), "web_events": D("2025-09-26")}
    assert default_night(last) == D("2025-09-26")


def test_one_required_source_alone_decides_and_crm_only_data_uses_the_crm() -> None:
    assert default_night({"ads_daily": D("2025-09-28"), "web_events": None}) == D("2025-09-28")
    crm_only = {"crm_contacts": D("2018-06-03"), "crm_deals": D("2018-07-09"), "ads_daily": None}
    assert default_night(crm_only) == D("2018-07-09")
    assert default_night({}) is None
