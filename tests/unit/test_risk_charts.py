"""The outlet evidence chart: converted values, the limit in force as a step line with its gaps,
exceedance and flag markers, flagged runs shaded — and no markup from data in labels."""

from __future__ import annotations

import datetime as dt
import json

from ecocloud.web.deps import Viewer, bj
from ecocloud.web.risk_charts import outlet_chart, plain
from transforms.risk import load_rules

RULES = load_rules()
UTC = dt.UTC
T0 = dt.datetime(2026, 11, 18, 16, tzinfo=UTC)  # 2026-11-19 00:00 Beijing


def hour(i: int, value: float, limit: float | None, flag: str | None = "N", ref: float | None = 6.0) -> dict:
    return {
        "pollutant_code": "a21026",
        "hour_at": T0 + dt.timedelta(hours=i),
        "avg_value": value,
        "judged_value": value * 1.1,
        "flag": flag,
        "unit": "mg/m³",
        "limit_source": "permit" if limit is not None else None,
        "limit_value": limit,
        "limit_lower": None,
        "o2_reference_pct": ref if limit is not None else None,
    }


def test_chart_draws_the_limit_in_force_and_marks_the_evidence() -> None:
    rows = [
        hour(0, 20, 35),
        hour(1, 40, 35),
        hour(2, 20, 50),
        hour(3, 21, None),
        hour(4, 9, 50, flag="M"),
        hour(5, 8, 50, flag=None),
    ]
    exceedances = [
        {"hour_at": T0 + dt.timedelta(hours=1), "judged_value": 44.0, "exceedance_multiple": 0.257}
    ]
    runs = [
        {"pollutant_code": "*", "indicator": "silence", "category": "data_quality", "run_h": 6,
         "run_start_at": T0 - dt.timedelta(hours=6), "run_end_at": T0},
        {"pollutant_code": "a21002", "indicator": "flatline", "category": "fraud", "run_h": 5,
         "run_start_at": T0, "run_end_at": T0 + dt.timedelta(hours=5)},
    ]  # fmt: skip
    fig = json.loads(
        outlet_chart(Viewer(None, "zh", ""), "a21026", "二氧化硫", rows, exceedances, runs, RULES)
    )
    traces = {t["name"]: t for t in fig["data"]}
    value = traces["小时均值（折算）"]
    assert value["x"][0] == "2026-11-19 00:00" and value["y"][1] == 44.0  # Beijing time, judged values
    assert value["y"][4] is None  # a flagged hour is not judged: a gap, its measured mean marked below
    assert traces["实测值"]["y"][1] == 40
    (limit,) = [t for name, t in traces.items() if name.startswith("限值")]
    assert limit["line"]["shape"] == "hv" and limit["y"] == [
        35,
        35,
        50,
        None,
        50,
        50,
    ]  # a gap without a limit
    assert "许可证" in limit["name"] and "基准氧 6%" in limit["name"]
    assert traces["超标小时"]["x"] == ["2026-11-19 01:00"] and traces["超标小时"]["text"] == ["0.26"]
    # a flue-gas hour of too few minutes has no flag: marked as such, not as a flag named None
    marked = traces["异常/手工标记或分钟数不足"]
    assert marked["text"] == ["M", "不足45分钟"] and marked["y"] == [9, 8]
    # the logger-wide silence is shaded on every pollutant's chart; another pollutant's flat line is not
    (shape,) = fig["layout"]["shapes"]
    assert (shape["x0"], shape["x1"]) == ("2026-11-18 18:00", "2026-11-19 00:00")
    assert shape["label"]["text"] == "中断传输 6 h"


def test_chart_without_a_limit_has_no_limit_line() -> None:
    fig = json.loads(
        outlet_chart(Viewer(None, "en", ""), "a01012", "烟气温度", [hour(0, 80, None)], [], [], RULES)
    )
    assert [t["name"] for t in fig["data"]] == ["hourly mean"]


def test_labels_carry_no_markup() -> None:
    assert plain('<a href="javascript:x">u</a>') == '‹a href="javascript:x"›u‹/a›'
    assert bj(dt.datetime(2026, 12, 31, 16, tzinfo=UTC)) == "2027-01-01 00:00"
