"""GB 3838-2002 classifier at every boundary (DOMAIN.md §4), exceedances, labels and roll-ups."""

from __future__ import annotations

import datetime as dt
import math

import numpy as np
import pyarrow as pa
import pytest

from schemas.gb3838_standard import CODMN, DO, NH3N, PH, TN, TP
from schemas.water import DECIMALS, EXCEED_MULTIPLE_DECIMALS, MONTHLY_ITEMS
from transforms.water_class import (
    attach_sections,
    basin_label,
    basin_monthly,
    classify,
    item_class,
    section_monthly,
)

RIVER = np.array([False])
LAKE = np.array([True])


def one(item, value: float, lake: bool = False) -> int:
    return int(item_class(np.array([value]), item, LAKE if lake else RIVER)[0])


# (value, class) at and just beyond every limit of DOMAIN.md §4's table: equal to a limit is that class.
@pytest.mark.parametrize(
    ("item", "cases"),
    [
        (CODMN, [(0.0, 1), (2, 1), (2.01, 2), (4, 2), (4.01, 3), (6, 3), (6.01, 4), (10, 4), (10.01, 5), (15, 5), (15.01, 6)]),
        (NH3N, [(0.15, 1), (0.151, 2), (0.5, 2), (0.501, 3), (1.0, 3), (1.001, 4), (1.5, 4), (1.501, 5), (2.0, 5), (2.001, 6)]),
        (TP, [(0.02, 1), (0.021, 2), (0.1, 2), (0.101, 3), (0.2, 3), (0.201, 4), (0.3, 4), (0.301, 5), (0.4, 5), (0.401, 6)]),
    ],
)  # fmt: skip
def test_upper_limit_items_river(item, cases: list[tuple[float, int]]) -> None:
    assert [one(item, v) for v, _ in cases] == [c for _, c in cases]


def test_tp_lake_limits_differ() -> None:
    cases = [(0.01, 1), (0.011, 2), (0.025, 2), (0.026, 3), (0.05, 3), (0.051, 4), (0.1, 4), (0.101, 5), (0.2, 5), (0.201, 6)]  # fmt: skip
    assert [one(TP, v, lake=True) for v, _ in cases] == [c for _, c in cases]
    # the same 0.15 mg/L is river class III and lake class V
    assert one(TP, 0.15) == 3 and one(TP, 0.15, lake=True) == 5


def test_do_is_a_lower_limit() -> None:
    cases = [(9.0, 1), (7.5, 1), (7.49, 2), (6.0, 2), (5.99, 3), (5.0, 3), (4.99, 4), (3.0, 4), (2.99, 5), (2.0, 5), (1.99, 6), (0.0, 6)]  # fmt: skip
    assert [one(DO, v) for v, _ in cases] == [c for _, c in cases]


def test_ph_inside_6_to_9_does_not_constrain_outside_is_worse_than_v() -> None:
    assert [one(PH, v) for v in (6.0, 7.2, 9.0)] == [1, 1, 1]
    assert [one(PH, v) for v in (5.99, 9.01, 10.5)] == [6, 6, 6]


def test_tn_only_for_lakes() -> None:
    assert one(TN, 0.2, lake=True) == 1 and one(TN, 1.01, lake=True) == 4 and one(TN, 2.5, lake=True) == 6
    assert one(TN, 2.5, lake=False) == 0  # rivers: not evaluated


def test_missing_values_are_not_evaluated() -> None:
    assert item_class(np.array([np.nan]), CODMN, RIVER).tolist() == [0]


def rows(**cols: list) -> pa.Table:
    n = len(next(iter(cols.values())))
    cols.setdefault("section_type", ["river"] * n)
    cols.setdefault("target_class", [3] * n)
    return pa.table(
        {
            k: pa.array(
                v, pa.string() if k == "section_type" else pa.int8() if k == "target_class" else pa.float64()
            )
            for k, v in cols.items()
        }
    )


def test_worst_single_item_decides_and_tn_stays_out_of_the_section_class() -> None:
    t = rows(
        ph=[7.5, 7.5, 7.5, None],
        do_mgl=[8.0, 8.0, 4.0, None],
        codmn_mgl=[1.5, 3.0, 1.0, None],
        nh3n_mgl=[0.1, 0.1, 0.1, None],
        tp_mgl=[0.015, 0.04, 0.015, None],
        tn_mgl=[3.0, 3.0, 3.0, None],
        section_type=["lake", "river", "river", "river"],
    )
    out = classify(t).to_pydict()
    # lake: TP 0.015 is lake class II; TN 3.0 (劣V) is reported apart and does not change the class
    assert out["water_class"] == [2, 2, 4, None]
    assert out["water_class_label"] == ["II", "II", "IV", None]
    assert out["quality_label"] == ["优", "优", "轻度污染", None]
    assert out["tn_class"] == [6, None, None, None]
    assert out["deciding_items"] == ["总磷", "高锰酸盐指数、总磷", "溶解氧", None]


def test_a_class_judged_without_an_item_names_it() -> None:
    """A lake whose TP failed quality control was class II (优) from its other items, against a
    published IV, with nothing to say the class lacked its deciding item."""
    t = rows(
        ph=[7.5, 7.5, None],
        do_mgl=[8.0, 8.0, None],
        codmn_mgl=[1.5, 1.5, None],
        nh3n_mgl=[0.1, None, None],
        tp_mgl=[None, 0.015, None],
        section_type=["lake", "lake", "lake"],
    )
    out = classify(t).to_pydict()
    assert out["water_class"] == [1, 2, None]  # row 0: the worst of the items it has
    assert out["items_without_value"] == ["总磷", "氨氮", None]  # no class, nothing to qualify
    complete = classify(rows(ph=[7.5], do_mgl=[8.0], codmn_mgl=[1.5], nh3n_mgl=[0.1], tp_mgl=[0.015]))
    assert complete.column("items_without_value").to_pylist() == [None]


def test_ph_inside_6_to_9_is_never_a_deciding_item() -> None:
    t = rows(
        ph=[7.0, 9.5, 7.0, 6.0],
        do_mgl=[8.0, 8.0, None, None],
        codmn_mgl=[1.5, 1.5, None, None],
        nh3n_mgl=[0.1, 0.1, None, None],
        tp_mgl=[0.015, 0.015, 0.015, None],
    )
    out = classify(t).to_pydict()
    assert out["water_class"] == [1, 6, 1, None]  # pH 6.0 alone: no class (test below)
    # class I by every item: pH 7.0 is inside its range, not what makes the class I
    assert out["deciding_items"] == ["溶解氧、高锰酸盐指数、氨氮、总磷", "pH", "总磷", None]


def test_exceedance_multiples_over_the_target_class() -> None:
    t = rows(
        ph=[9.5, 7.0, 7.0],
        do_mgl=[4.0, 8.0, 8.0],
        codmn_mgl=[9.0, 3.0, 3.0],
        nh3n_mgl=[1.5, 0.2, 0.4],
        tp_mgl=[0.3, 0.1, 0.075],
        section_type=["river", "river", "lake"],
        target_class=[3, 2, 3],
    )
    out = classify(t).to_pydict()
    # target III: CODMn 9/6 − 1 = 0.5, NH3-N 1.5/1.0 − 1 = 0.5, TP 0.3/0.2 − 1 = 0.5; pH and DO without multiple
    assert out["codmn_exceed_multiple"] == [0.5, None, None]
    assert out["nh3n_exceed_multiple"] == [0.5, None, None]
    assert out["tp_exceed_multiple"][0] == 0.5
    assert out["exceed_items"][0] == "pH、溶解氧、高锰酸盐指数(0.5)、氨氮(0.5)、总磷(0.5)"
    assert out["water_class"][0] == 6  # pH outside 6–9
    # target II: TP 0.1 is within II (equal to the limit), NH3-N 0.2 within II
    assert out["exceed_items"][1] is None
    # lake target III: TP 0.075 over the lake III limit 0.05 → 0.5
    assert out["tp_exceed_multiple"][2] == 0.5 and out["water_class"][2] == 4
    assert out["exceed_items"][2] == "总磷(0.5)"


def test_exceed_items_print_multiples_at_the_columns_declared_decimals() -> None:
    """exceed_items rounds each 超标倍数 to the decimals the *_exceed_multiple columns declare in the
    registry (2); the columns keep four."""
    assert {DECIMALS[f"{c}_exceed_multiple"] for c in ("codmn", "nh3n", "tp")} == {2}
    assert EXCEED_MULTIPLE_DECIMALS == 2
    # target III: NH3-N 1.23456 / 1.0 − 1 = 0.23456, TP 0.2937 / 0.2 − 1 = 0.4685
    out = classify(rows(nh3n_mgl=[1.23456], tp_mgl=[0.2937], target_class=[3])).to_pydict()
    assert out["nh3n_exceed_multiple"] == [0.2346] and out["tp_exceed_multiple"] == [0.4685]
    assert out["exceed_items"] == ["氨氮(0.23)、总磷(0.47)"]


def test_absent_columns_count_as_not_measured() -> None:
    t = rows(codmn_mgl=[5.0])
    out = classify(t).to_pydict()
    assert out["water_class"] == [3] and out["tn_class"] == [None] and out["tp_exceed_multiple"] == [None]


def test_ph_alone_gives_no_class_unless_outside_6_to_9() -> None:
    """pH inside 6–9 holds in every class: a reading (or a month) of pH alone was class I (优), met its
    target and counted among the basin's good sections."""
    out = classify(rows(ph=[7.0, 9.5, 7.0], codmn_mgl=[None, None, 5.0])).to_pydict()
    assert out["water_class"] == [None, 6, 3]


@pytest.mark.parametrize(
    ("good", "worse", "label"),
    [
        (100, 0, "优"), (90, 0, "优"), (89.99, 0, "良好"), (75, 10, "良好"),
        (74.99, 0, "轻度污染"), (60, 19.99, "轻度污染"), (60, 20, "中度污染"), (50, 39.99, "中度污染"),
        (50, 40, "重度污染"), (0, 100, "重度污染"),
    ],
)  # fmt: skip
def test_basin_label_boundaries(good: float, worse: float, label: str) -> None:
    assert basin_label(np.array([good]), np.array([worse])).to_pylist() == [label]


def test_attach_sections_defaults_unknown_sections_to_river_iii() -> None:
    readings = pa.table({"section_id": ["A", "B", "C"], "x": [1, 2, 3]})
    registry = pa.table(
        {"section_id": ["B"], "section_type": ["lake"], "target_class": pa.array([2], pa.int8())}
    )
    out = attach_sections(readings, registry).to_pydict()
    assert out["section_id"] == ["A", "B", "C"]
    assert out["section_type"] == ["river", "lake", "river"]
    assert out["target_class"] == [3, 2, 3]
    assert out["section_listed"] == [False, True, False]


def test_monthly_means_then_class_and_basin_rollup() -> None:
    ts = [dt.datetime(2026, 8, d, 4, tzinfo=dt.UTC) for d in (1, 2)]
    base = {
        "province": ["P"] * 2,
        "basin": ["长江流域"] * 2,
        "observed_at": ts,
        "date": [t.date() for t in ts],
        "section_type": ["river"] * 2,
        "target_class": pa.array([3, 3], pa.int8()),
        "section_listed": [True, True],
        "water_temp_c": [20.0, 22.0],
        "ph": [7.0, 7.2],
        "do_mgl": [8.0, 8.0],
        "tn_mgl": [1.0, 1.0],
    }
    readings = []
    # section S1: NH3-N 0.9 and 1.3 → mean 1.1 → IV (over III by 0.1); S2: clean II; S3: 劣V
    for sid, nh3n, codmn, tp in (("S1", [0.9, 1.3], [3.0, 3.0], [0.1, 0.1]), ("S2", [0.3, 0.3], [3.0, 3.0], [0.05] * 2), ("S3", [3.0, 2.5], [5.0] * 2, [0.1] * 2)):  # fmt: skip
        readings.append(
            pa.table({**base, "section_id": [sid] * 2, "section_name": [sid] * 2, "nh3n_mgl": nh3n, "codmn_mgl": codmn, "tp_mgl": tp})
        )  # fmt: skip
    registry = pa.table({"section_id": ["S1", "S2"], "water_body": ["赣江", "赣江"]})
    monthly = section_monthly(pa.concat_tables(readings), registry, dt.date(2026, 8, 1)).to_pydict()
    assert monthly["section_id"] == ["S1", "S2", "S3"]
    assert monthly["water_class"] == [4, 2, 6]
    assert monthly["readings"] == [2, 2, 2] and monthly["days"] == [2, 2, 2]
    assert monthly["meets_target"] == [False, True, False]
    assert math.isclose(monthly["nh3n_exceed_multiple"][0], 0.1)
    basins = basin_monthly(pa.table(monthly)).to_pydict()
    assert basins["water_body"] == [None, "赣江"]  # the basin total, then the water body
    assert basins["sections"] == [3, 2]
    assert basins["sections_i_iii"] == [1, 1] and basins["sections_worse_v"] == [1, 0]
    # fewer than 5 sections: the class of their mean concentrations, not the shares (33 % I–III and
    # 33 % 劣V would be 中度污染): NH3-N (1.1 + 0.3 + 2.75) / 3 = 1.38 is IV; in 赣江 (1.1 + 0.3) / 2 III
    assert basins["rollup_method"] == ["mean", "mean"]
    assert basins["water_class"] == [4, 3] and basins["basin_label"] == ["轻度污染", "良好"]
    assert basins["water_class_label"] == ["IV", "III"]  # it was a bare 4 beside the sections' labels


def test_five_sections_or_more_are_judged_by_their_shares_and_a_lake_by_its_mean() -> None:
    """地表水环境质量评价办法（试行）: the share method from 5 sections; below, and for a lake's points,
    the mean concentrations classed as one section (DOMAIN.md §4 states the shares)."""
    classes = [2, 2, 3, 6, 6]  # 60 % I–III, 40 % 劣V: 重度污染 by the shares
    tp = {2: 0.05, 3: 0.15, 6: 0.5}
    monthly = pa.table(
        {
            "month": [dt.date(2026, 8, 1)] * 7,
            "basin": ["长江流域"] * 5 + ["鄱阳湖"] * 2,
            "water_body": ["赣江"] * 5 + ["鄱阳湖"] * 2,
            "section_type": ["river"] * 5 + ["lake"] * 2,
            "water_class": pa.array([*classes, 3, 4], pa.int8()),
            "tp_mgl": [tp[c] for c in classes] + [0.04, 0.06],  # lake limits: mean 0.05 is III
            "items_without_value": pa.array([None] * 7, pa.string()),
        }
    )
    out = basin_monthly(monthly).to_pydict()
    assert list(zip(out["basin"], out["water_body"], strict=True)) == [
        ("鄱阳湖", None), ("鄱阳湖", "鄱阳湖"), ("长江流域", None), ("长江流域", "赣江")
    ]  # fmt: skip
    assert out["rollup_method"] == ["mean", "mean", "share", "share"]
    assert out["water_class"] == [3, 3, None, None]
    assert out["basin_label"] == ["良好", "良好", "重度污染", "重度污染"]


def test_rivers_and_lakes_together_and_means_without_a_class_go_by_the_shares() -> None:
    """A lake point at TP 0.1 (lake class IV) and a river section at TP 0.1 (river II): averaged and
    judged on the river limits the basin was 优, the lake's pollution gone — rivers and lakes are judged
    apart, so their total goes by the shares. Two sections in 劣V by pH (5.0 and 10.0) average to pH 7.5,
    which gives no class: the shares again, not a basin without a label."""
    monthly = pa.table(
        {
            "month": [dt.date(2026, 8, 1)] * 4,
            "basin": ["甲"] * 2 + ["乙"] * 2,
            "water_body": ["湖", "河", "河一", "河二"],
            "section_type": ["lake", "river", "river", "river"],
            "water_class": pa.array([4, 2, 6, 6], pa.int8()),
            "tp_mgl": [0.1, 0.1, None, None],
            "ph": [7.0, 7.0, 5.0, 10.0],
            "items_without_value": pa.array([None] * 4, pa.string()),
        }
    )
    out = {(r["basin"], r["water_body"]): r for r in basin_monthly(monthly).to_pylist()}
    assert [(out[k]["rollup_method"], out[k]["water_class"], out[k]["basin_label"]) for k in (
        ("甲", None), ("甲", "湖"), ("甲", "河"), ("乙", None)
    )] == [("share", None, "轻度污染"), ("mean", 4, "轻度污染"), ("mean", 2, "优"), ("share", None, "重度污染")]  # fmt: skip


def test_a_section_classed_without_one_of_its_items_is_left_out_of_the_shares() -> None:
    """The analyst's lake section with TP failing QC was class II (its other items) and counted in
    the basin's I–III share: a class judged without an item may be better than the water, so it is
    counted apart (sections_incomplete) and the shares are of the complete ones."""
    classes = [2, 2, 3, 4, 6, 2]
    monthly = pa.table(
        {
            "month": [dt.date(2026, 8, 1)] * 6,
            "basin": ["长江流域"] * 6,
            "water_body": ["赣江"] * 6,
            "section_type": ["river"] * 6,
            "water_class": pa.array(classes, pa.int8()),
            "items_without_value": pa.array([None] * 5 + ["总磷"], pa.string()),
        }
    )
    (basin, body) = basin_monthly(monthly).to_pylist()
    assert (basin["sections"], basin["sections_incomplete"], basin["sections_i_iii"]) == (6, 1, 3)
    assert (basin["sections_iv_v"], basin["sections_worse_v"]) == (1, 1)
    assert basin["share_i_iii_pct"] == pytest.approx(60.0)  # 3 of 5, not 4 of 6 (66.7)
    assert basin["share_worse_v_pct"] == pytest.approx(20.0) and basin["basin_label"] == "中度污染"
    assert body["sections_incomplete"] == 1
    # every section incomplete: no shares, and no label from them
    every = monthly.set_column(5, "items_without_value", pa.array(["总磷"] * 6, pa.string()))
    (basin, _) = basin_monthly(every).to_pylist()
    assert (basin["share_i_iii_pct"], basin["basin_label"], basin["rollup_method"]) == (None, None, "share")


def test_a_lake_or_few_sections_judged_by_the_mean_need_every_item() -> None:
    """A lake's one point without TP (the analyst's 湖区东): by its mean it was 优 from the other
    items; no section had TP, so the mean class lacks it and gives no label. Five river sections of
    which four lack an item: fewer than 5 complete, so the mean of the five, not the shares of one."""
    items = {"ph": 7.0, "do_mgl": 8.0, "codmn_mgl": 2.0, "nh3n_mgl": 0.1, "tp_mgl": 0.02}
    lake = pa.table(
        {
            "month": [dt.date(2026, 8, 1)],
            "basin": ["鄱阳湖"],
            "water_body": ["鄱阳湖"],
            "section_type": ["lake"],
            "water_class": pa.array([2], pa.int8()),
            **{c: pa.array([None if c == "tp_mgl" else v], pa.float64()) for c, v in items.items()},
            "items_without_value": ["总磷"],
        }
    )
    # one row for the lake as a basin (water_body None) and one for the lake as a water body: its one
    # section is incomplete, so nothing is counted in a class and neither row is classed or labelled
    basin_row, body_row = basin_monthly(lake).to_pylist()
    fields = ("basin", "water_body", "sections", "sections_incomplete", "sections_i_iii", "sections_iv_v",
              "sections_worse_v", "share_i_iii_pct", "water_class", "rollup_method", "basin_label")  # fmt: skip
    assert [basin_row[f] for f in fields] == ["鄱阳湖", None, 1, 1, 0, 0, 0, None, None, "share", None]
    assert [body_row[f] for f in fields] == ["鄱阳湖", "鄱阳湖", 1, 1, 0, 0, 0, None, None, "share", None]
    rivers = pa.table(
        {
            "month": [dt.date(2026, 8, 1)] * 5,
            "basin": ["长江流域"] * 5,
            "water_body": ["赣江"] * 5,
            "section_type": ["river"] * 5,
            "water_class": pa.array([1] * 5, pa.int8()),
            **{c: pa.array([v] + [None if c == "tp_mgl" else v] * 4, pa.float64()) for c, v in items.items()},
            "items_without_value": pa.array([None] + ["总磷"] * 4, pa.string()),
        }
    )
    (basin, _) = basin_monthly(rivers).to_pylist()
    assert (basin["sections_incomplete"], basin["rollup_method"], basin["water_class"]) == (4, "mean", 1)


def one_section_month(**items: list[float]) -> dict:
    """section_monthly of one river section (target III) with the given readings of each item."""
    n = len(next(iter(items.values())))
    ts = [dt.datetime(2026, 8, 1 + d, 4, tzinfo=dt.UTC) for d in range(n)]
    readings = pa.table(
        {
            "section_id": ["S"] * n,
            "province": ["P"] * n,
            "basin": ["长江流域"] * n,
            "section_name": ["S"] * n,
            "observed_at": ts,
            "date": [t.date() for t in ts],
            "section_type": ["river"] * n,
            "target_class": pa.array([3] * n, pa.int8()),
            "section_listed": [True] * n,
            **{c: pa.array(items.get(c, [None] * n), pa.float64()) for c in MONTHLY_ITEMS},
        }
    )
    registry = pa.table({"section_id": ["S"], "water_body": ["赣江"]})
    return section_monthly(readings, registry, dt.date(2026, 8, 1)).to_pydict()


@pytest.mark.parametrize(
    ("items", "water_class", "basin"),
    [
        ({"tp_mgl": [0.2, 0.2, 0.2]}, 3, "良好"),  # float mean 0.20000000000000004
        ({"tp_mgl": [0.2, 0.4]}, 4, "轻度污染"),  # float mean 0.30000000000000004
        ({"do_mgl": [4.8, 5.1, 5.1]}, 3, "良好"),  # float mean 4.999999999999999, a lower limit
    ],
)
def test_monthly_mean_on_a_limit_is_in_that_class(items: dict, water_class: int, basin: str) -> None:
    n = len(next(iter(items.values())))
    clean = {
        "ph": [7.0] * n,
        "do_mgl": [8.0] * n,
        "codmn_mgl": [2.0] * n,
        "nh3n_mgl": [0.1] * n,
        "tp_mgl": [0.01] * n,
    }
    monthly = one_section_month(**(clean | items))  # every item the class is judged on: a whole class
    assert monthly["water_class"] == [water_class]
    assert monthly["exceed_items"] == [None if water_class <= 3 else "总磷(0.5)"]
    assert basin_monthly(pa.table(monthly)).to_pydict()["basin_label"] == [basin, basin]


def test_a_month_names_its_ph_range_and_the_readings_outside_6_to_9_that_its_mean_hides() -> None:
    # pH 5.0 and 9.4 average 7.2, inside 6–9: the mean says nothing of the class; the range and the
    # count of readings outside it are what the monthly report shows
    monthly = one_section_month(ph=[5.0, 9.4, 7.2, 9.0], tp_mgl=[0.1] * 4)
    assert math.isclose(monthly["ph"][0], 7.65)  # inside 6–9
    assert monthly["ph_min"] == [5.0] and monthly["ph_max"] == [9.4]
    assert monthly["ph_readings_out_of_range"] == [2]  # 9.0 is inside (both ends included)
    none = one_section_month(tp_mgl=[0.1, 0.1])  # no pH reading: no range, none outside it
    assert none["ph_min"] == [None] and none["ph_readings_out_of_range"] == [0]
