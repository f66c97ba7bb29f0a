"""Hourly and daily pollution-source values: HJ 212 flag roll-up, basis selection, retransmissions."""

from __future__ import annotations

import datetime as dt

import duckdb
import pyarrow as pa
import pytest

from ingest.hj212.batch import parse_lines_batch
from ingest.hj212.protocol import build_packet
from schemas import source as schema
from schemas.clock import BEIJING
from transforms.source_marts import daily_values, hourly_values

pytestmark = pytest.mark.unit

MN = "88883600000000000000014D"
DAY = dt.date(2026, 11, 20)
H10 = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)  # 02:00 UTC


def reading(
    cn: str,
    at: dt.datetime,
    stat: str,
    value: float,
    flag: str | None = "N",
    *,
    code: str = "w01018",
    st: str | None = "32",
    segment: str = "seg-a",
    offset: int = 0,
) -> dict[str, object]:
    return {
        "date": at.astimezone(BEIJING).date(),
        "mn": MN,
        "st": st,
        "cn": cn,
        "data_at": at.astimezone(dt.UTC),
        "pollutant_code": code,
        "pollutant_code_original": code,
        "stat": stat,
        "value": value,
        "flag": flag,
        "unit": None,
        "segment": segment,
        "offset": offset,
    }


def hourly(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    con = duckdb.connect()
    con.register("r", pa.Table.from_pylist(rows, schema=schema.readings.arrow_schema()))
    out = schema.hourly.conform(hourly_values(con, "r"))
    return out.to_pylist()


def minutes(n_normal: int, abnormal: str, n_abnormal: int, **kw: object) -> list[dict[str, object]]:
    """One 2051 record per minute of the 10:00 hour: ``n_normal`` flagged N, then the abnormal ones."""
    flags = ["N"] * n_normal + [abnormal] * n_abnormal
    return [
        reading("2051", H10 + dt.timedelta(minutes=i), "Avg", 10.0 + i, f, offset=i, **kw)  # type: ignore[arg-type]
        for i, f in enumerate(flags)
    ]


# -- the roll-up rules (DOMAIN.md §1) ---------------------------------------------------------------


def sampled(
    flags: list[str | None], *, cn: str = "2051", code: str = "w01018", st: str | None = "32"
) -> list[dict[str, object]]:
    """One sample of ``cn`` per minute of the 10:00 hour with each of ``flags`` (None: no flag sent)."""
    stat = "Rtd" if cn == "2011" else "Avg"
    return [
        reading(cn, H10 + dt.timedelta(minutes=i), stat, 10.0, f, code=code, st=st, offset=i)
        for i, f in enumerate(flags)
    ]


@pytest.mark.parametrize(
    ("flags", "cn", "code", "flag"),
    [
        (["N"] * 59 + ["D"], "2051", "w01018", "D"),  # wastewater: one abnormal minute
        (["N"] * 60, "2051", "w01018", "N"),
        (["N"] * 45 + ["M"] * 15, "2051", "a21026", "N"),  # flue gas: exactly 75 % N, 45 minutes
        (["N"] * 44 + ["M"] * 16, "2051", "a21026", "M"),
        (["N", None, "C", "C", "D", "D"], "2051", "w01018", "C"),  # ties: alphabetical; no flag is N
        ([None], "2061", "a21026", "N"),  # an hourly packet without a flag: N, the logger's roll-up
        (["N"], "2061", "a21026", "N"),  # no 45 minutes asked of a 2061 hour
        (["N"] * 3, "2051", "w01018", "N"),  # wastewater: no 45 minutes either
        (["N"] * 3, "2051", "a21026", None),  # flue gas: 3 N minutes are too few (HJ 75), no flag
        (["N"] * 3 + ["C"], "2051", "a21026", None),  # 75 % N but 3 minutes: incomplete, not abnormal
        (["N"] * 2 + ["C"] * 2, "2051", "a21026", "C"),  # under 75 % N: abnormal
    ],
)
def test_hour_flag_roll_up(flags: list[str | None], cn: str, code: str, flag: str | None) -> None:
    """DOMAIN.md §1's roll-up as the marts' SQL applies it: wastewater any abnormal sample, flue gas
    N with ≥ 75 % N samples covering ≥ 45 minutes, else the most frequent abnormal flag."""
    st = "32" if code.startswith("w") else "31"
    (h,) = hourly(sampled(flags, cn=cn, code=code, st=st))
    assert (h["basis"], h["samples"], h["flag"]) == (cn, len(flags), flag)


def stepped(
    offsets_s: list[int], cn: str = "2011", *, code: str = "a21026", st: str = "31"
) -> list[dict[str, object]]:
    """One N sample of ``cn`` at each offset (seconds) into the 10:00 hour."""
    stat = "Rtd" if cn == "2011" else "Avg"
    return [
        reading(cn, H10 + dt.timedelta(seconds=s), stat, 10.0, "N", code=code, st=st, offset=i)
        for i, s in enumerate(offsets_s)
    ]


@pytest.mark.parametrize(
    ("cn", "offsets_s", "minutes", "flag"),
    [
        ("2011", [0, 60, 120], 3, None),  # the analyst's hour: 3 real-time samples in 2 minutes
        ("2011", list(range(0, 3600, 30)), 60, "N"),  # every 30 s, the whole hour
        ("2051", [600 * i for i in range(6)], 60, "N"),  # every 10 minutes
        ("2051", [600 * i for i in range(5)], 50, "N"),  # one 10-minute sample missing: 50 minutes
        ("2051", [600 * i for i in range(4)], 40, None),  # two missing: 40 < 45
        ("2051", [0, 600, 3000], None, None),  # a hole in the middle: no gap seen twice, no step
        # a 1-minute logger down from 10:05 to 10:55: 10 minutes, though its samples span the hour
        ("2051", [60 * i for i in [*range(5), *range(55, 60)]], 10, None),
        ("2051", [1800], None, None),  # one sample: no step to measure, and no 45 minutes
        # two samples (one gap) show no step either: 0 and 50 minutes were "100 minutes" (the trial)
        ("2051", [0, 3000], None, None),
        ("2011", [0, 1500], None, None),
        ("2051", [0, 600, 1200, 3000], 40, None),  # the 10-minute gap seen twice is the step
        ("2011", [1800], None, None),
        # a stray sample 5 s after one of a 30-s logger's does not make its step 5 s
        ("2011", sorted([*range(0, 3600, 30), 65]), 60, "N"),
        # a 2051 stamp drifted by 59 s: the step stays 10 minutes
        ("2051", [0, 600, 1200, 1859, 2400, 3000], 60, "N"),
    ],
)
def test_flue_gas_hour_needs_45_normal_minutes(
    cn: str, offsets_s: list[int], minutes: int | None, flag: str | None
) -> None:
    """HJ 75: a valid hourly mean needs ≥ 45 valid minutes — counted from the logger's step, so a
    few samples bunched in a corner of the hour do not make it N."""
    (h,) = hourly(stepped(offsets_s, cn))
    assert (h["basis"], h["samples_normal"], h["minutes_normal"], h["flag"]) == (
        cn,
        len(offsets_s),
        minutes,
        flag,
    )


def test_a_thin_hour_with_an_abnormal_minute_is_incomplete_not_abnormal() -> None:
    """40 N minutes and 1 of fault: 98 % N, so the flags would pass; it fails on its 40 minutes. It
    is incomplete (no flag, counted as missing by the risk marts), not abnormal (F) — which 2 N and 2
    fault minutes are."""
    (h,) = hourly(minutes(40, "F", 1, code="a21026", st="31"))
    assert (h["samples"], h["minutes_normal"], h["flag"]) == (41, 40, None)
    (h,) = hourly(minutes(2, "F", 2, code="a21026", st="31"))
    assert (h["minutes_normal"], h["flag"]) == (2, "F")


def test_the_step_is_each_pollutants_own() -> None:
    """NOx sent a second after SO2, each every 10 minutes: each pollutant's step is 10 minutes, not 1 s."""
    rows = [
        reading(
            "2051",
            H10 + dt.timedelta(seconds=600 * i + lag),
            "Avg",
            10.0,
            "N",
            code=code,
            st="31",
            offset=2 * i + lag,
        )
        for i in range(6)
        for code, lag in (("a21026", 0), ("a21002", 1))
    ]
    assert [(h["pollutant_code"], h["minutes_normal"], h["flag"]) for h in hourly(rows)] == [
        ("a21002", 60, "N"),
        ("a21026", 60, "N"),
    ]


def test_minutes_rule_is_flue_gas_only_and_not_for_hourly_packets() -> None:
    (h,) = hourly(stepped([0, 60, 120], code="w01018", st="32"))
    assert (h["source_type"], h["minutes_normal"], h["flag"]) == ("wastewater", 3, "N")
    (h,) = hourly([reading("2061", H10, "Avg", 20.0, "N", code="a21026", st="31")])
    assert (h["basis"], h["minutes_normal"], h["flag"]) == ("2061", None, "N")


def test_a_day_of_too_thin_flue_gas_hours_has_no_flag() -> None:
    """Every hour 3 real-time samples in 2 minutes: no hour is N, none abnormal — the day neither."""
    midnight = dt.datetime(2026, 11, 20, 0, 0, tzinfo=BEIJING)
    rows = [
        reading(
            "2011",
            midnight + dt.timedelta(hours=h, minutes=m),
            "Rtd",
            10.0,
            "N",
            code="a21026",
            st="31",
            offset=10 * h + m,
        )
        for h in range(24)
        for m in range(3)
    ]
    (d,) = daily(rows)
    assert (d["hours"], d["samples"], d["samples_normal"], d["flag"]) == (24, 24, 0, None)


def test_wastewater_hour_with_one_abnormal_minute_is_abnormal() -> None:
    (h,) = hourly(minutes(59, "D", 1))
    assert (h["source_type"], h["basis"], h["samples"], h["samples_normal"], h["flag"]) == (
        "wastewater",
        "2051",
        60,
        59,
        "D",
    )
    (h,) = hourly(minutes(60, "D", 0))
    assert h["flag"] == "N"


@pytest.mark.parametrize(("normal", "expected", "mean"), [(45, "N", 32.0), (44, "C", 39.5)])
def test_flue_gas_hour_is_normal_with_75_percent_normal_minutes(
    normal: int, expected: str, mean: float
) -> None:
    """An N hour's values are its N minutes' (10…54, without the 15 of calibration gas); an abnormal
    hour keeps all its minutes' (10…69), under its flag."""
    rows = minutes(normal, "C", 60 - normal, code="a21026", st="31")
    (h,) = hourly(rows)
    assert (h["source_type"], h["samples"], h["samples_normal"], h["flag"]) == (
        "flue_gas",
        60,
        normal,
        expected,
    )
    assert h["avg_value"] == pytest.approx(mean)


@pytest.mark.parametrize(
    ("st", "code", "kind"),
    [
        ("32", "a21026", "flue_gas"),  # the code names what is measured: a real logger sends SO2 under ST 32
        ("31", "w01018", "wastewater"),
        (None, "w01018", "wastewater"),
        ("32", "x1", "wastewater"),  # a code of neither kind: its packet's ST
        ("31", "x1", "flue_gas"),
        ("22", "x1", "other"),
    ],
)
def test_source_type_from_code_prefix_then_st(st: str | None, code: str, kind: str) -> None:
    (h,) = hourly(sampled(["N"], cn="2061", code=code, st=st))
    assert h["source_type"] == kind


def test_source_type_decides_the_roll_up_rule() -> None:
    # the SQL agrees: ST unknown, code a… → flue-gas rule (45 of 60 N is N)
    (h,) = hourly(minutes(45, "D", 15, code="a21026", st="\x00\x00"))
    assert (h["source_type"], h["flag"]) == ("flue_gas", "N")
    # SO2 under ST 32 keeps the flue-gas rules: three minutes of N are not an hour (HJ 75)
    (h,) = hourly(stepped([0, 60, 120], "2051", code="a21026", st="32"))
    assert (h["source_type"], h["minutes_normal"], h["flag"]) == ("flue_gas", 3, None)
    # and a code of neither kind follows its packet's ST
    (h,) = hourly(minutes(59, "D", 1, code="x1", st="32"))
    assert (h["source_type"], h["flag"]) == ("wastewater", "D")


def test_a_day_of_a_code_sent_under_both_st_takes_the_wastewater_rule_as_its_hours_do() -> None:
    """min(source_type) made such a day flue gas while an hour of both STs is wastewater (per_cn)."""
    rows = minutes(60, "D", 0, code="x1", st="31") + [
        reading(
            "2051", H10 + dt.timedelta(hours=1, minutes=i), "Avg", 1.0, code="x1", st="32", offset=100 + i
        )
        for i in range(60)
    ]
    assert {h["source_type"] for h in hourly(rows)} == {"flue_gas", "wastewater"}
    (d,) = daily(rows)
    assert d["source_type"] == "wastewater"


def test_a_split_packets_part_without_the_flag_does_not_make_the_sample_normal() -> None:
    """Part 1 of a 2061 packet carries the pollutant's Avg and Flag D, part 2 its Cou without a Flag:
    the sample is D (a row without a flag said N, and max('D', 'N') is 'N')."""
    rows = [
        reading("2061", H10, "Avg", 80.0, "D", offset=1),
        reading("2061", H10, "Cou", 12.0, None, offset=2),
    ]
    (h,) = hourly(rows)
    assert (h["flag"], h["samples_normal"], h["avg_value"], h["cou_value"]) == ("D", 0, 80.0, 12.0)


def test_a_blank_flag_is_no_flag_and_an_abnormal_flag_wins_within_a_packet() -> None:
    (h,) = hourly([reading("2061", H10, "Avg", 5.0, "")])
    assert (h["flag"], h["samples_normal"]) == ("N", 1)
    both = [reading("2061", H10, "Avg", 5.0, "N", offset=1), reading("2061", H10, "Cou", 1.0, "T", offset=2)]
    (h,) = hourly(both)
    assert h["flag"] == "T"
    # the plain statistics' flag first: a Zs statistic's row carries the ZsFlag
    plain_first = [
        reading("2061", H10, "Avg", 5.0, "N", offset=1),
        reading("2061", H10, "ZsAvg", 6.0, "D", offset=1),
    ]
    (h,) = hourly(plain_first)
    assert h["flag"] == "N"


def test_the_latest_copy_that_sent_a_flag_gives_the_flag() -> None:
    rows = [
        reading("2011", H10, "Rtd", 10.0, "D", segment="seg-a", offset=100),
        reading("2011", H10, "Rtd", 11.0, None, segment="seg-b", offset=5),  # resent later, no Flag
    ]
    (h,) = hourly(rows)
    assert (h["retransmissions"], h["avg_value"], h["flag"]) == (1, 11.0, "D")


def test_a_value_too_large_to_sum_is_left_out_of_the_mean_and_its_count() -> None:
    """|value| ≥ 10^18 is not summed exactly: the mean is of the other samples (10 and 20: 15, not
    30 / 3), and a hostile logger's 60 minutes of 9 × 10^26 no longer overflow the sum and fail the batch."""
    rows = [
        reading("2051", H10 + dt.timedelta(minutes=i), "Avg", v, offset=i)
        for i, v in enumerate([10.0, 20.0, 1e30])
    ]
    (h,) = hourly(rows)
    assert (h["avg_value"], h["samples"]) == (15.0, 3)
    huge = [reading("2051", H10 + dt.timedelta(minutes=i), "Avg", 9e26, offset=i) for i in range(60)]
    (h,) = hourly(huge)
    assert (h["avg_value"], h["samples"]) == (None, 60)
    (d,) = daily(huge)
    assert (d["avg_value"], d["hours"]) == (None, 1)


# -- basis selection 2061 > 2051 > 2011 -----------------------------------------------------------


def test_basis_hourly_packet_wins_over_minutes_and_real_time() -> None:
    rows = [
        reading("2061", H10, "Avg", 20.0, "N", offset=1),
        reading("2061", H10, "Min", 5.0, "N", offset=1),
        reading("2061", H10, "Max", 40.0, "N", offset=1),
        reading("2061", H10, "Cou", 3.5, "N", offset=1),
        *[
            reading("2051", H10 + dt.timedelta(minutes=10 * i), "Avg", 99.0, "D", offset=10 + i)
            for i in range(6)
        ],
        *[
            reading("2011", H10 + dt.timedelta(minutes=5 * i), "Rtd", 77.0, "D", offset=30 + i)
            for i in range(12)
        ],
    ]
    (h,) = hourly(rows)
    assert (
        h["basis"],
        h["avg_value"],
        h["min_value"],
        h["max_value"],
        h["cou_value"],
        h["samples"],
        h["flag"],
    ) == (
        "2061",
        20.0,
        5.0,
        40.0,
        3.5,
        1,
        "N",
    )
    assert h["hour_at"] == dt.datetime(2026, 11, 20, 2, tzinfo=dt.UTC) and h["date"] == DAY


def test_basis_minutes_over_real_time_then_real_time() -> None:
    mins = [
        reading("2051", H10 + dt.timedelta(minutes=10 * i), stat, v, offset=i)
        for i in range(6)
        for stat, v in (("Min", 1.0 + i), ("Avg", 2.0 + i), ("Max", 3.0 + i), ("Cou", 0.5))
    ]
    rt = [
        reading("2011", H10 + dt.timedelta(minutes=5 * i), "Rtd", 100.0 + i, offset=50 + i) for i in range(12)
    ]
    (h,) = hourly(mins + rt)
    assert (h["basis"], h["samples"], h["min_value"], h["max_value"], h["cou_value"]) == (
        "2051",
        6,
        1.0,
        8.0,
        3.0,
    )
    assert h["avg_value"] == pytest.approx(4.5)
    (h,) = hourly(rt)
    assert (h["basis"], h["samples"], h["min_value"], h["max_value"], h["cou_value"]) == (
        "2011",
        12,
        100.0,
        111.0,
        None,
    )
    assert h["avg_value"] == pytest.approx(105.5)


def test_retransmitted_copies_count_once_and_the_latest_copy_wins() -> None:
    rows = [
        reading("2011", H10, "Rtd", 10.0, "N", segment="seg-a", offset=100),
        reading("2011", H10, "Rtd", 10.0, "N", segment="seg-a", offset=900),  # resent in the same segment
        reading("2011", H10, "Rtd", 12.0, "C", segment="seg-b", offset=5),  # resent later, corrected
        reading("2011", H10 + dt.timedelta(minutes=5), "Rtd", 20.0, "N", segment="seg-a", offset=200),
    ]
    (h,) = hourly(rows)
    assert (h["samples"], h["retransmissions"], h["min_value"], h["max_value"], h["flag"]) == (
        2,
        2,
        12.0,
        20.0,
        "C",
    )


# -- daily ----------------------------------------------------------------------------------------


def daily(rows: list[dict[str, object]]) -> list[dict[str, object]]:
    con = duckdb.connect()
    con.register("r", pa.Table.from_pylist(rows, schema=schema.readings.arrow_schema()))
    con.register("h", schema.hourly.conform(hourly_values(con, "r")))
    return schema.daily.conform(daily_values(con, "r", "h")).to_pylist()


def test_daily_from_2031_when_sent_else_from_hours() -> None:
    midnight = dt.datetime(2026, 11, 20, 0, 0, tzinfo=BEIJING)
    hours = [
        reading("2061", midnight + dt.timedelta(hours=h), "Avg", 10.0 * (h + 1), "N" if h else "D", offset=h)
        for h in range(4)
    ]
    (d,) = daily(hours)
    assert (d["date"], d["basis"], d["hours"], d["samples"], d["samples_normal"], d["flag"]) == (
        DAY,
        "2061",
        4,
        4,
        3,
        "D",  # wastewater: one abnormal hour
    )
    assert d["avg_value"] == pytest.approx(25.0)
    sent = [
        reading("2031", midnight, "Avg", 33.0, "N", offset=99),
        reading("2031", midnight, "Cou", 800.0, "N", offset=99),
    ]
    (d,) = daily(hours + sent)
    assert (d["basis"], d["avg_value"], d["cou_value"], d["hours"], d["samples"], d["flag"]) == (
        "2031",
        33.0,
        800.0,
        4,
        1,
        "N",
    )
    mixed = [*hours, reading("2011", midnight + dt.timedelta(hours=5, minutes=3), "Rtd", 1.0, offset=77)]
    (d,) = daily(mixed)
    assert (d["basis"], d["hours"]) == ("mixed", 5)


def test_a_normal_day_from_hours_takes_its_values_from_its_normal_hours() -> None:
    """18 N flue-gas hours at 20 and 6 of maintenance at 500: the day is N (75 % of its hours), and its
    mean 20, not 140, its maximum 21, not 501; its Cou is every hour's."""
    midnight = dt.datetime(2026, 11, 20, 0, 0, tzinfo=BEIJING)
    rows = []
    for h in range(24):
        at, flag, value = (
            midnight + dt.timedelta(hours=h),
            ("N" if h < 18 else "M"),
            (20.0 if h < 18 else 500.0),
        )
        rows += [
            reading("2061", at, "Avg", value, flag, code="a21026", st="31", offset=2 * h),
            reading("2061", at, "Max", value + 1, flag, code="a21026", st="31", offset=2 * h),
            reading("2061", at, "Cou", 1.0, flag, code="a21026", st="31", offset=2 * h + 1),
        ]
    (d,) = daily(rows)
    assert (d["basis"], d["hours"], d["samples_normal"], d["flag"]) == ("2061", 24, 18, "N")
    assert (d["avg_value"], d["max_value"]) == (20.0, 21.0)
    assert d["cou_value"] == pytest.approx(24.0)


def test_packets_to_marts_end_to_end_on_inline_packets() -> None:
    """build_packet → batch parse (long format) → hourly mart, units from the code table."""
    lines = [
        build_packet(
            qn=f"202611201000{i:02d}000",
            st="31",
            cn="2051",
            mn=MN,
            flag=4,
            data_time=H10 + dt.timedelta(minutes=i),
            items={
                "a21026": {"Avg": 30.0 + i, "ZsAvg": 40.0 + i, "Cou": 0.1, "Flag": "N" if i < 45 else "T"}
            },
        )
        for i in range(60)
    ]
    batch = parse_lines_batch(lines, segment="seg", default_date=DAY)
    assert batch.readings.num_rows == 180
    con = duckdb.connect()
    con.register("r", batch.readings)
    (h,) = schema.hourly.conform(hourly_values(con, "r")).to_pylist()
    assert (h["source_type"], h["basis"], h["samples"], h["samples_normal"], h["flag"]) == (
        "flue_gas",
        "2051",
        60,
        45,
        "N",
    )
    assert (h["unit"], h["cou_unit"]) == ("mg/m³", "kg")
    # an N hour's values are its 45 N minutes' (30…74): the 15 minutes above the measuring range (T)
    # are not valid data; its Cou is every minute's amount
    assert h["avg_value"] == pytest.approx(52.0) and h["zs_avg_value"] == pytest.approx(62.0)
    assert h["cou_value"] == pytest.approx(6.0)
