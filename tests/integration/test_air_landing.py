"""Landing air day files: several at once, and the version received last is the one built — unless it
lost station-hours (a truncated copy), which the gate holds back until an operator accepts it. A
station list's rows that are not published are counted, and named in a warning where worth a look."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import serving_rows
from http_upstream import serving
from typer.testing import CliRunner

from ecocloud.builds import air
from ecocloud.cli import app
from ecocloud.runner import engine
from ecocloud.runner.context import RunInfo
from ecocloud.runner.engine import ledger
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from ecocloud.simulator.air import day_file_name, generate_day, station_list_csv
from ecocloud.simulator.province import national_stations
from ecocloud.specs import get_spec
from ingest.air.fetch import STATION_LIST_NAME
from ingest.air.parse import parse_station_list

DAY = dt.date(2023, 3, 1)


def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
    return dt.datetime.combine(day, dt.time(hour, minute), air.BEIJING)


def _versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The day file as published at noon and at midnight (same name, other bytes), and a station list."""
    stations = national_stations(40, seed=5)
    noon, night = tmp_path / "noon", tmp_path / "night"
    noon.mkdir()
    night.mkdir()
    (noon / day_file_name(DAY)).write_bytes(generate_day(DAY, stations, seed=5, hours=range(12)))
    (night / day_file_name(DAY)).write_bytes(generate_day(DAY, stations, seed=5))
    (tmp_path / STATION_LIST_NAME).write_bytes(station_list_csv(stations))
    return noon / day_file_name(DAY), night / day_file_name(DAY), tmp_path / STATION_LIST_NAME


@pytest.mark.parametrize("newest_last", [True, False])
def test_the_location_given_last_wins_when_landed_together(
    settings: Settings, tmp_path: Path, newest_last: bool
) -> None:
    noon, night, station_list = _versions(tmp_path)
    more = []
    for offset in range(1, 9):  # enough files that the landing threads interleave
        day = DAY + dt.timedelta(days=offset)
        path = tmp_path / day_file_name(day)
        path.write_bytes(generate_day(day, national_stations(40, seed=5), seed=offset, hours=range(3)))
        more.append(str(path))
    order = [noon, night] if newest_last else [night, noon]
    locations = [*more[:4], str(order[0]), *more[4:], str(station_list), str(order[1])]

    led = ledger(settings)
    try:
        landed = air.land(settings, led, locations)
        assert [o.origin for o in landed] == [str(Path(p).resolve()) for p in locations]
        received = [o.received_at for o in landed]
        assert received == sorted(received) and len(set(received)) == len(received)
        newest = air.newest_day_files(led)[DAY]
        assert newest.origin == str(order[1].resolve())
        assert set(air.newest_day_files(led)) == {DAY + dt.timedelta(days=i) for i in range(9)}
    finally:
        led.close()


def test_a_refused_location_is_a_clear_error_and_nothing_lands(settings: Settings, tmp_path: Path) -> None:
    """A missing file, a folder, a file that is neither kind: refused before any file lands (the day
    file given first was landed, and the next run built it without a word)."""
    noon, _, _ = _versions(tmp_path)
    notes = tmp_path / "notes.txt"
    notes.write_text("not a station list\n")
    refused = [
        (tmp_path / "china_sites_20230302.csv", FileNotFoundError, "no such file"),
        (tmp_path, ValueError, "is a folder: name the files in it"),
        (notes, ValueError, "neither a day file"),
    ]
    led = ledger(settings)
    try:
        for bad, error, says in refused:
            with pytest.raises(error, match=says):
                air.land(settings, led, [str(noon), str(bad)])
        assert led.raw_objects("air") == []
    finally:
        led.close()


def test_a_station_list_saved_as_utf16_lands_and_reads(settings: Settings, tmp_path: Path) -> None:
    """A spreadsheet's "Unicode text" (UTF-16 with its byte-order mark): day files read so, the station
    list was refused as neither kind of file."""
    night = _versions(tmp_path)[1]
    station_list = tmp_path / STATION_LIST_NAME
    utf16 = tmp_path / "utf16" / "stations.csv"
    utf16.parent.mkdir()
    utf16.write_bytes(station_list.read_bytes().decode("utf-8").encode("utf-16"))
    out = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["ingest", "air", str(utf16), str(night)])
    assert out.exit_code == 0, out.output
    listed = parse_station_list(station_list.read_bytes()).table.num_rows  # as the UTF-8 list reads
    assert serving_rows(settings, "SELECT count(*) FROM core_air__stations WHERE listed") == [(listed,)]


def test_station_list_rows_set_aside_are_counted_and_the_contradicting_ones_named(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    """A row without a station code and repeats that contradict their code's first row are set
    aside with a warning naming them (the first few); an identical repeat is only counted."""
    _, _, station_list = _versions(tmp_path)
    lines = station_list.read_text(encoding="utf-8").splitlines()
    first = lines[1].split(",")  # line 2, the first station
    renamed = [[code, f"{name}(新)", *rest] for code, name, *rest in (line.split(",") for line in lines[1:8])]
    added = [lines[1], *map(",".join, renamed), ",".join(["", *first[1:]])]
    station_list.write_text("\n".join(lines + added) + "\n", encoding="utf-8")

    report = ingest("air", lambda s, led: air.land(s, led, [str(station_list)]))
    [unit] = report.of("stations")
    assert unit.status == "published"
    assert unit.counts["list_rows_in"] == len(lines) - 1 + len(added)
    assert unit.counts["list_rows_kept"] == len(lines) - 1
    set_aside = ("list_rows_without_code", "list_repeats_identical", "list_repeats_contradicting")
    assert [unit.counts[k] for k in set_aside] == [1, 1, 7]
    [no_code, contradicting] = unit.warnings
    assert f"1 row(s) without a station code set aside, line(s) {len(lines) + len(added)}" in no_code
    assert "7 row(s) repeat a station code with other values" in contradicting
    assert f"{first[0]} at line {len(lines) + 2} differs from line 2 in station_name; " in contradicting
    assert contradicting.endswith(" and 2 more")


def _day_rows(settings: Settings) -> list[tuple[object, ...]]:
    """(station-hours, distinct hours) of DAY as the serving views show it."""
    sql = "SELECT count(*), count(DISTINCT observed_at) FROM core_air__station_hourly WHERE date = ?"
    return serving_rows(settings, sql, DAY)


def test_a_newer_day_file_that_lost_hours_is_held_back_until_accepted(
    settings: Settings, tmp_path: Path
) -> None:
    noon, night, station_list = _versions(tmp_path)
    cli = CliRunner(env={"COLUMNS": "250"})
    first = cli.invoke(app, ["ingest", "air", str(station_list), str(night)])
    assert first.exit_code == 0, first.output
    [(whole_day, hours)] = _day_rows(settings)
    assert hours == 24
    quarantine_sql = (
        "SELECT raw_file, count(*) FROM quarantine_air__station_hourly WHERE date = ? GROUP BY ALL"
    )
    quarantined = serving_rows(settings, quarantine_sql, DAY)

    # the noon file arrives after the night one: half the station-hours, as a truncated copy would be
    # (with a line cut short: evidence of its own); beside it, the next day's file is not a day file at
    # all (blocked for what no accepting helps)
    noon.write_bytes(noon.read_bytes() + b"20230301,11,PM2.5\n")
    garbage = tmp_path / day_file_name(DAY + dt.timedelta(days=1))
    garbage.write_bytes(b"<html>503 Service Unavailable</html>\n")
    shrunk = cli.invoke(app, ["ingest", "air", str(noon), str(garbage)])
    assert shrunk.exit_code == 1, shrunk.output
    assert f"{DAY} BLOCKED: core_air__station_hourly {DAY}: " in shrunk.output
    assert "are published: 50.0% fewer, more than the 10% allowed; held back" in shrunk.output
    assert _day_rows(settings) == [(whole_day, 24)]  # the published day stays, and its evidence
    assert serving_rows(settings, quarantine_sql, DAY) == quarantined
    errors = dict(
        serving_rows(settings, "SELECT unit, error FROM platform_ledger__builds WHERE status = 'blocked'")
    )
    assert errors[DAY.isoformat()].startswith("held back for shrinking:\ncore_air__station_hourly")
    assert not errors[(DAY + dt.timedelta(days=1)).isoformat()].startswith("held back for shrinking")

    again = cli.invoke(app, ["run", "air", "--no-land"])  # nothing changed: still held back, not rebuilt
    assert again.exit_code == 0, again.output
    assert _day_rows(settings) == [(whole_day, 24)]

    # the shrink is published; the other blocked day is not rebuilt (the run does not fail on it)
    accepted = cli.invoke(app, ["run", "air", "--no-land", "--accept-shrink"])
    assert accepted.exit_code == 0, accepted.output
    assert "published as the run accepts shrinking" in accepted.output
    assert _day_rows(settings) == [(whole_day // 2, 12)]
    assert serving_rows(settings, quarantine_sql, DAY) != quarantined  # the noon file's evidence now
    statuses = dict(
        serving_rows(settings, "SELECT unit, status FROM platform_ledger__builds WHERE build = 'air.hourly'")
    )
    assert statuses == {DAY.isoformat(): "published", (DAY + dt.timedelta(days=1)).isoformat(): "blocked"}


def test_a_day_file_replaced_by_garbage_is_not_offered_the_shrink_acceptance_alone(
    settings: Settings, tmp_path: Path
) -> None:
    """A newer day file that is not a day file at all also fails the shrink check (no rows where a
    day is published): its hint to accept the shrink says that alone would not publish it."""
    _noon, night, station_list = _versions(tmp_path)
    with_a_bad_line = night.read_bytes() + f"{DAY:%Y%m%d},25,AQI\n".encode()  # quarantined: too short
    night.write_bytes(with_a_bad_line)
    cli = CliRunner(env={"COLUMNS": "250"})
    assert cli.invoke(app, ["ingest", "air", str(station_list), str(night)]).exit_code == 0
    quarantined = "SELECT raw_file, reason, detail FROM quarantine_air__station_hourly"
    evidence = serving_rows(settings, quarantined)
    assert len(evidence) == 1 and evidence[0][1] == "malformed_line" and "fields" in evidence[0][2]
    garbage = tmp_path / "garbage" / day_file_name(DAY)
    garbage.parent.mkdir()
    garbage.write_bytes(b"<html>503 Service Unavailable</html>\n")
    blocked = cli.invoke(app, ["ingest", "air", str(garbage)])
    assert blocked.exit_code == 1, blocked.output
    errors = dict(
        serving_rows(settings, "SELECT unit, error FROM platform_ledger__builds WHERE status = 'blocked'")
    )
    assert "more than the 10% allowed" in errors[DAY.isoformat()]
    assert not errors[DAY.isoformat()].startswith("held back for shrinking")
    assert errors[DAY.isoformat()].endswith(engine.SHRINK_NOT_ALONE)
    assert _day_rows(settings)[0][1] == 24  # the published day stays
    # and so does its quarantine: the rows and their evidence describe one file (the garbage's
    # quarantine replaced it, and the published day's quarantined line was gone)
    assert serving_rows(settings, quarantined) == evidence
    # a run after it has nothing to do, and says the day is still blocked and why (it said "current")
    again = cli.invoke(app, ["run", "air", "--no-land"])
    assert again.exit_code == 0, again.output
    assert f"{DAY} still BLOCKED (its input is unchanged): " in again.output
    assert "expected date,hour,type" in again.output and "1 of them still blocked" in again.output


def test_an_operator_accepts_the_shrink_of_the_days_named(settings: Settings, tmp_path: Path) -> None:
    """Two days held back for shrinking; `--accept-shrink-of` the first publishes it alone, the other
    stays held back; a key that was not held back is named as such."""
    noon, night, station_list = _versions(tmp_path)
    stations = national_stations(40, seed=5)
    later = DAY + dt.timedelta(days=1)
    later_night, later_noon = (
        tmp_path / "night" / day_file_name(later),
        tmp_path / "noon" / day_file_name(later),
    )
    later_night.write_bytes(generate_day(later, stations, seed=6))
    later_noon.write_bytes(generate_day(later, stations, seed=6, hours=range(12)))
    cli = CliRunner(env={"COLUMNS": "250"})
    assert cli.invoke(app, ["ingest", "air", str(station_list), str(night), str(later_night)]).exit_code == 0
    [(whole_day, _)] = _day_rows(settings)
    held = cli.invoke(app, ["ingest", "air", str(noon), str(later_noon)])
    assert held.exit_code == 1 and held.output.count("held back, the published rows stay") == 2, held.output
    assert f"a run with --accept-shrink-of {later} or --accept-shrink" in held.output

    accept = [
        "--accept-shrink-of",
        f" {DAY} ",
        "--accept-shrink-of",
        "2099-01-01",
    ]  # a key pasted with spaces
    one = cli.invoke(app, ["run", "air", "--no-land", *accept])
    assert one.exit_code == 0, one.output
    assert "--accept-shrink-of 2099-01-01: no unit 2099-01-01 was held back for shrinking" in one.output
    assert f"--accept-shrink-of {DAY}:" not in one.output
    assert _day_rows(settings) == [(whole_day // 2, 12)]
    later_hours = "SELECT count(DISTINCT observed_at) FROM core_air__station_hourly WHERE date = ?"
    assert serving_rows(settings, later_hours, later) == [(24,)]
    statuses = dict(
        serving_rows(settings, "SELECT unit, status FROM platform_ledger__builds WHERE build = 'air.hourly'")
    )
    assert statuses == {str(DAY): "published", str(later): "blocked"}


def test_a_day_file_that_grows_is_not_held_back(settings: Settings, tmp_path: Path) -> None:
    noon, night, station_list = _versions(tmp_path)
    cli = CliRunner(env={"COLUMNS": "250"})
    for files in ([station_list, noon], [night]):
        out = cli.invoke(app, ["ingest", "air", *map(str, files)])
        assert out.exit_code == 0, out.output
        assert "BLOCKED" not in out.output
    [(_, hours)] = _day_rows(settings)
    assert hours == 24


def test_the_good_day_file_served_again_after_a_truncated_one_is_the_newest(
    settings: Settings, tmp_path: Path
) -> None:
    """A → B → A: the bytes of the first version, received again after the held-back one, are the
    newest version (a new raw object), so the day is current again and nothing waits."""
    noon, night, station_list = _versions(tmp_path)
    cli = CliRunner(env={"COLUMNS": "250"})
    assert cli.invoke(app, ["ingest", "air", str(station_list), str(night)]).exit_code == 0
    [(whole_day, _)] = _day_rows(settings)
    assert cli.invoke(app, ["ingest", "air", str(noon)]).exit_code == 1  # held back

    again = cli.invoke(app, ["ingest", "air", str(night)])
    assert again.exit_code == 0, again.output
    assert f"{DAY}  │ published" in again.output or f"{DAY} │ published" in again.output, again.output
    # it says whose bytes these are, and not that there was nothing to build (it was built)
    assert re.search(r"\(the same bytes as raw/air/\S+\)\n", again.output), again.output
    led = ledger(settings)
    try:
        newest = air.newest_day_files(led)[DAY]
        versions = led.raw_versions("air", newest.logical_name)
    finally:
        led.close()
    assert [v.sha256 for v in versions] == [versions[0].sha256, versions[1].sha256, versions[0].sha256]
    assert newest == versions[-1] and "@" in newest.raw_path
    assert _day_rows(settings) == [(whole_day, 24)]
    # the held-back unit is current now: a run with --accept-shrink has nothing of it to publish
    accepted = CliRunner(env={"COLUMNS": "250"}).invoke(app, ["run", "air", "--no-land", "--accept-shrink"])
    assert accepted.exit_code == 0, accepted.output
    assert _day_rows(settings) == [(whole_day, 24)]


def test_a_stale_earlier_copy_given_again_does_not_replace_the_newest(
    settings: Settings, tmp_path: Path
) -> None:
    """Noon, then night, then noon again (a stale mirror): the night file stays the newest, the day whole;
    a station list given again after another stays where it was too."""
    noon, night, station_list = _versions(tmp_path)
    other_list = tmp_path / "other" / STATION_LIST_NAME
    other_list.parent.mkdir()
    other_list.write_bytes(station_list_csv(national_stations(41, seed=6)))
    cli = CliRunner(env={"COLUMNS": "250"})
    for files, new in (([station_list, noon], 2), ([night, other_list], 2), ([noon, station_list], 0)):
        out = cli.invoke(app, ["ingest", "air", *map(str, files)])
        assert out.exit_code == 0, out.output
        assert f"landed {new} new raw object(s)" in out.output  # a copy that stays where it was is not new
    led = ledger(settings)
    try:
        assert air.newest_day_files(led)[DAY].origin == str(night.resolve())
        assert len(led.raw_versions("air", air.newest_day_files(led)[DAY].logical_name)) == 2
        assert led.latest_raw("air", STATION_LIST_NAME).origin == str(other_list.resolve())
    finally:
        led.close()
    [(_, hours)] = _day_rows(settings)
    assert hours == 24


def test_an_earlier_version_is_weighed_uncompressed_against_the_largest(
    settings: Settings, tmp_path: Path
) -> None:
    """Noon, the whole day gzipped, a truncated plain copy (held back), the gzipped file again: it is
    the largest landed once uncompressed, so the newest again, also when named after the copy in one
    call. The noon copy given again after that is smaller than the largest: it is not."""
    import gzip

    noon, night, station_list = _versions(tmp_path)
    lines = night.read_bytes().splitlines(keepends=True)
    truncated = tmp_path / "cut" / night.name
    truncated.parent.mkdir()
    truncated.write_bytes(b"".join(lines[: len(lines) // 2]))
    whole_gz = tmp_path / "gz" / f"{night.name}.gz"
    whole_gz.parent.mkdir()
    whole_gz.write_bytes(gzip.compress(night.read_bytes()))
    assert whole_gz.stat().st_size < truncated.stat().st_size  # stored sizes would say otherwise
    cli = CliRunner(env={"COLUMNS": "250"})

    def newest() -> str:
        led = ledger(settings)
        try:
            return str(air.newest_day_files(led)[DAY].origin)
        finally:
            led.close()

    assert cli.invoke(app, ["ingest", "air", str(station_list), str(noon)]).exit_code == 0
    assert cli.invoke(app, ["ingest", "air", str(whole_gz)]).exit_code == 0  # grown
    [(whole_day, _)] = _day_rows(settings)
    assert cli.invoke(app, ["ingest", "air", str(truncated)]).exit_code == 1  # held back
    # in one call, the copy first and the whole file after it: the whole file wins
    again = cli.invoke(app, ["ingest", "air", str(truncated), str(whole_gz)])
    assert again.exit_code == 0, again.output
    assert newest() == str(whole_gz.resolve())
    assert _day_rows(settings) == [(whole_day, 24)]
    stale = cli.invoke(app, ["ingest", "air", str(noon)])  # the noon copy again: smaller than the largest
    assert stale.exit_code == 0, stale.output
    assert newest() == str(whole_gz.resolve()) and _day_rows(settings) == [(whole_day, 24)]


def test_scheduled_runs_land_again_the_days_they_skipped(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """Landed at 20:00 on the first day, then the scheduler was away until 01:00 on the third (catchup
    is off: the runs in between never happen). The 01:00 run lands its own day, and the first day's
    file grown to 24 hours and the whole second day — the end of a day is not lost for good."""
    from ecocloud.simulator.server import running_simulator

    first, second, third = (DAY + dt.timedelta(days=i) for i in range(3))

    def at(day: dt.date, hour: int) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour), air.BEIJING)

    with running_simulator(start_date=first, days=3, seed=3, now=at(first, 20)) as sim:
        settings.air_base_url = f"{sim.base_url}/air"
        led = ledger(settings)
        try:
            with caplog.at_level("WARNING", logger="ecocloud.builds.air"):
                air.land_interval(settings, led, at(first, 19), at(first, 20))  # the day before: 404
            assert f"china_sites_{first - dt.timedelta(days=1):%Y%m%d}.csv" in caplog.text
            before = air.newest_day_files(led)
            assert sorted(before) == [first]
            sim.clock.set(at(third, 1) + dt.timedelta(minutes=30))
            air.land_interval(settings, led, at(third, 1), at(third, 2))
            after = air.newest_day_files(led)
            assert sorted(after) == [first, second, third]
            assert after[first].size > before[first].size  # the hours after 20:00
            # the next run asks for the earlier days again (the simulated clock stands still): every
            # file unchanged, nothing lands
            assert air.land_interval(settings, led, at(third, 1), at(third, 2)) == []
        finally:
            led.close()


def test_the_run_of_a_day_s_last_hour_lands_the_next_day_s_file_which_holds_it(settings: Settings) -> None:
    """The release stamps an hour by its end: 23:00–24:00 is hour 0 of the next day's file. The run
    for that hour, at 00:30, lands that file (and the day's own), and the day's statistics have all
    24 hours."""
    from ecocloud.simulator.server import running_simulator

    first, second = DAY, DAY + dt.timedelta(days=1)
    assert air.release_days(at(first, 23), at(second, 0)) == [second]
    assert air.release_days(at(first, 21), at(first, 22)) == [first]
    assert air.release_days(at(first, 0), at(second, 0)) == [first, second]
    with running_simulator(start_date=first, days=2, seed=3, now=at(second, 0, 30)) as sim:
        settings.air_base_url = f"{sim.base_url}/air"
        led = ledger(settings)
        try:
            air.land_interval(settings, led, at(first, 23), at(second, 0))
            assert sorted(air.newest_day_files(led)) == [first, second]
        finally:
            led.close()
    engine.run_spec(settings, get_spec("air"), RunInfo.cli("test"))
    engine.refresh_serving(settings)
    [(hours,)] = serving_rows(
        settings, "SELECT max(pm25_hours) FROM core_air__station_daily WHERE date = ?", first
    )
    assert hours == 24


def test_the_run_just_after_midnight_lands_the_day_before_while_today_is_not_out(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """The 00:00–01:00 run at 01:05 with the release 70 minutes late: today's file answers 404. That
    is a warning, not a failed run — the run still lands the day before grown to its last hour."""
    from ecocloud.simulator.server import running_simulator

    first, second = DAY, DAY + dt.timedelta(days=1)

    def at(day: dt.date, hour: int, minute: int = 0) -> dt.datetime:
        return dt.datetime.combine(day, dt.time(hour, minute), air.BEIJING)

    delay = dt.timedelta(minutes=70)
    with running_simulator(start_date=first, days=2, seed=3, now=at(first, 22), publish_delay=delay) as sim:
        settings.air_base_url = f"{sim.base_url}/air"
        led = ledger(settings)
        try:
            air.land_interval(settings, led, at(first, 21), at(first, 22))
            before = air.newest_day_files(led)[first].size
            sim.clock.set(at(second, 1, 5))
            with caplog.at_level("WARNING", logger="ecocloud.builds.air"):
                air.land_interval(settings, led, at(second, 0), at(second, 1))
            assert f"china_sites_{second:%Y%m%d}.csv" in caplog.text  # not out yet: named
            files = air.newest_day_files(led)
            assert sorted(files) == [first] and files[first].size > before  # grown to 23:00
        finally:
            led.close()


def test_days_older_than_the_catch_up_window_are_named_not_fetched(
    settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    """ECOCLOUD_AIR_CATCH_UP_DAYS bounds what one run asks for after a long absence; a day older than
    that with no file at all is named with how to land it."""
    from ecocloud.simulator.server import running_simulator

    first, second, third, fourth = (DAY + dt.timedelta(days=i) for i in range(4))
    noon = dt.time(12)
    with running_simulator(start_date=first, days=4, seed=3, now=dt.datetime.combine(first, noon)) as sim:
        settings.air_base_url, settings.air_catch_up_days = f"{sim.base_url}/air", 1
        led = ledger(settings)
        try:
            air.land(settings, led, [f"{settings.air_base_url}/{day_file_name(first)}"])
            sim.clock.set(dt.datetime.combine(fourth, noon))
            with caplog.at_level("WARNING", logger="ecocloud.builds.air"):
                start = dt.datetime.combine(fourth, dt.time(11), air.BEIJING)
                air.land_interval(settings, led, start, start + dt.timedelta(hours=1))
            assert sorted(air.newest_day_files(led)) == [first, third, fourth]  # not the second
            assert f"no day file landed for 1 day(s) from {second} to {second}" in caplog.text
            assert "ECOCLOUD_AIR_CATCH_UP_DAYS=1" in caplog.text and "ecocloud ingest air" in caplog.text
        finally:
            led.close()


def test_an_earlier_day_that_fails_does_not_cost_the_run_its_own(settings: Settings) -> None:
    """The day before answers 500 (after retries): the run's own day and the station list land first,
    then the run fails naming the day before — which the next run asks for again."""
    from ingest.http import FetchError

    stations = national_stations(20, seed=5)
    files = {
        STATION_LIST_NAME: station_list_csv(stations),
        day_file_name(DAY): generate_day(DAY, stations, seed=5),
    }
    failing = day_file_name(DAY - dt.timedelta(days=1))

    def answer(path: str) -> tuple[int, bytes]:
        name = path.rsplit("/", 1)[-1]
        return (500, b"down") if name == failing else (200, files[name]) if name in files else (404, b"")

    with serving(answer) as base:
        settings.air_base_url, settings.http_retries = f"{base}/air", 0
        led = ledger(settings)
        try:
            at = dt.datetime.combine(DAY, dt.time(9), air.BEIJING)
            with pytest.raises(FetchError, match=r"2 file\(s\) landed, but days failed: .*20230228"):
                air.land_interval(settings, led, at, at + dt.timedelta(hours=1))
            assert sorted(air.newest_day_files(led)) == [DAY]
        finally:
            led.close()


def test_holding_back_the_next_day_does_not_rebuild_the_day_before(
    settings: Settings, tmp_path: Path
) -> None:
    """A day's daily build reads the next day's hour 0 (the hour ending 24:00), versioned by that
    hour's digest as its published unit recorded it. A held-back next day recorded the attempt's
    counts only, so the day before was rebuilt from unchanged data, and again once the hold ended."""
    stations = national_stations(30, seed=7)
    after = DAY + dt.timedelta(days=1)
    folder, truncated = tmp_path / "files", tmp_path / "truncated"
    folder.mkdir()
    truncated.mkdir()
    for day in (DAY, after):
        (folder / day_file_name(day)).write_bytes(generate_day(day, stations, seed=7))
    (tmp_path / STATION_LIST_NAME).write_bytes(station_list_csv(stations))
    cli = CliRunner(env={"COLUMNS": "250"})
    files = [str(folder / day_file_name(day)) for day in (DAY, after)]
    first = cli.invoke(app, ["ingest", "air", str(tmp_path / STATION_LIST_NAME), *files])
    assert first.exit_code == 0, first.output
    built_sql = "SELECT built_at FROM platform_ledger__builds WHERE build = 'air.daily' AND unit = ?"
    before = serving_rows(settings, built_sql, DAY.isoformat())

    # the next day's file again, with half its hours: held back for shrinking (hour 0 still there)
    (truncated / day_file_name(after)).write_bytes(generate_day(after, stations, seed=7, hours=range(12)))
    held = cli.invoke(app, ["ingest", "air", str(truncated / day_file_name(after))])
    assert held.exit_code == 1 and f"{after} BLOCKED" in held.output, held.output
    assert serving_rows(settings, built_sql, DAY.isoformat()) == before  # the day before: not rebuilt
    again = cli.invoke(app, ["run", "air", "--no-land"])
    assert again.exit_code == 0 and serving_rows(settings, built_sql, DAY.isoformat()) == before
