"""The quality gate: suites generated from the registry, and one part's verdict and results table.

These tests import Great Expectations (~8 s, once): keep every GX test in this module. The GX
context and compiled suites are process-wide caches in ``warehouse.quality``, so tests share them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.air import station_hourly
from schemas.platform import expectation_results
from schemas.registry import Column, Layer, PairEquality, Severity, Sharing, Table, get_table
from warehouse import quality
from warehouse.quality import GatePart, GateRun, GateVerdict, build_suite, run_gate, validate

pytestmark = pytest.mark.unit

UTC = dt.UTC
DAY = dt.date(2023, 1, 20)
# Beijing day 2023-01-20 = [2023-01-19T16:00Z, 2023-01-20T16:00Z)
FIRST_HOUR = dt.datetime(2023, 1, 19, 16, tzinfo=UTC)
N = 20

READINGS = Table(
    name="core_qgtest__readings",
    layer=Layer.CORE,
    source="qgtest",
    title="quality-gate test table",
    description="test only",
    columns=(
        Column("date", "date", "partition day", nullable=False),
        Column("site", "string", "site code", nullable=False),
        Column("observed_at", "timestamp", "hour (UTC)", nullable=False),
        Column("value", "float64", "a concentration", min=0, max=100),
        Column("hours", "int8", "hours with data", min=0, max=24),
        Column("level", "string", "a category", allowed=("low", "high")),
        Column("calc", "int16", "computed index"),
        Column("pub", "int16", "published index"),
        Column(
            "note", "float64", "unusual above 10, not impossible", min=0, max=10, severity=Severity.WARNING
        ),
        Column("ok", "bool", "a flag"),
    ),
    primary_key=("site", "observed_at"),
    owner="test",
    frequency="hourly",
    sharing=Sharing.NOT_SHARED,
    freshness_column="observed_at",
    freshness_tolerance=dt.timedelta(hours=2),
    freshness_severity=Severity.BLOCKING,
    pair_checks=(PairEquality("calc", "pub", mostly=0.9, description="calc = pub on ≥ 90 %"),),
)

SITES = Table(
    name="core_qgtest__sites",
    layer=Layer.CORE,
    source="qgtest",
    title="unpartitioned test table",
    description="test only",
    columns=(
        Column("site", "string", "site code", nullable=False),
        Column("last_seen_date", "date", "latest day with data"),
    ),
    primary_key=("site",),
    partition_by=None,
    owner="test",
    frequency="on change",
    sharing=Sharing.NOT_SHARED,
    freshness_column="last_seen_date",
    freshness_severity=Severity.BLOCKING,
)


def readings(n: int = N, **overrides: list[Any]) -> pa.Table:
    """A clean partition of READINGS for DAY (hourly rows for two sites), columns overridable."""
    cols: dict[str, list[Any]] = {
        "date": [DAY] * n,
        "site": [f"S{i % 2}" for i in range(n)],
        "observed_at": [FIRST_HOUR + dt.timedelta(hours=i // 2) for i in range(n)],
        "value": [float(i) for i in range(n)],
        "hours": [i % 25 for i in range(n)],
        "level": ["low" if i % 3 else "high" for i in range(n)],
        "calc": [50 + i for i in range(n)],
        "pub": [50 + i for i in range(n)],
        "note": [1.5] * n,
        "ok": [i % 2 == 0 for i in range(n)],
    }
    for name, values in overrides.items():
        assert name in cols, name
        cols[name] = values
    return pa.table(cols, schema=READINGS.arrow_schema())


def latest_of(data: pa.Table) -> dt.datetime:
    return max(data.column("observed_at").to_pylist())


def with_row(column: str, i: int, value: Any, n: int = N) -> pa.Table:
    values = readings(n).column(column).to_pylist()
    values[i] = value
    return readings(n, **{column: values})


def at_row(i: int) -> str:
    """How a failure names row ``i`` of ``readings()`` by its key (site, observed_at)."""
    observed_at = (FIRST_HOUR + dt.timedelta(hours=i // 2)).isoformat()
    return f' at keys (site, observed_at) = [["S{i % 2}", "{observed_at}"]]'


def gate(data: pa.Table, table: Table = READINGS, **kwargs: Any) -> GateVerdict:
    kwargs.setdefault("partition_date", DAY)
    return run_gate(table, data, **kwargs)


def checks(result: GateVerdict) -> dict[str, dict[str, Any]]:
    """Result rows keyed by '<expectation>:<column_name>'."""
    return {f"{r['expectation']}:{r['column_name']}": r for r in result.results.to_pylist()}


def suite_summary(table: Table, **kwargs: bool) -> list[tuple[str, str, str]]:
    """(expectation type, column(s), severity) of every expectation of the generated suite."""
    out = []
    for e in build_suite(table, **kwargs).expectations:
        kw = e.configuration.kwargs
        cols = kw.get("column") or ",".join(kw.get("column_list") or []) or kw.get("column_A") or "-"
        out.append((e.expectation_type, str(cols), str((e.meta or {})["severity"])))
    return out


@pytest.fixture(scope="module", autouse=True)
def gx_context() -> Any:
    """Import GX and build the process-wide ephemeral context once for the module."""
    return quality._context()


# ---------------------------------------------------------------------------------------- suites


def test_suite_is_generated_from_the_registry() -> None:
    got = suite_summary(READINGS)
    assert got[:2] == [
        ("expect_table_columns_to_match_set", "-", "blocking"),
        ("expect_table_row_count_to_be_between", "-", "warning"),
    ]
    assert ("expect_column_values_to_be_of_type", "ok", "blocking") in got
    assert sum(t == "expect_column_values_to_be_of_type" for t, _, _ in got) == len(READINGS.columns)
    not_null = {c for t, c, _ in got if t == "expect_column_values_to_not_be_null"}
    assert not_null == {"date", "site", "observed_at"}
    ranges = {c: s for t, c, s in got if t == "expect_column_values_to_be_between"}
    assert ranges == {"value": "blocking", "hours": "blocking", "note": "warning"}
    assert ("expect_column_values_to_be_in_set", "level", "blocking") in got
    assert ("expect_compound_columns_to_be_unique", "site,observed_at", "blocking") in got
    assert ("expect_column_pair_values_to_be_equal", "calc", "blocking") in got
    # freshness and partition only when asked for (validate asks when it has the values)
    assert not any(t == "expect_column_max_to_be_between" for t, _, _ in got)
    extra = suite_summary(READINGS, freshness=True, partition=True)
    assert extra[len(got) :] == [
        ("expect_column_pair_values_to_be_equal", "date", "blocking"),
        ("expect_column_max_to_be_between", "observed_at", "blocking"),
    ]


def test_suite_arguments_and_meta() -> None:
    suite = build_suite(READINGS, freshness=True, partition=True)
    by_check = {(e.meta or {})["ecocloud_check"]: e.configuration.kwargs for e in suite.expectations}
    assert by_check["columns:core_qgtest__readings"]["column_set"] == READINGS.column_names
    assert by_check["range:value"]["min_value"] == 0 and by_check["range:value"]["max_value"] == 100
    assert by_check["allowed:level"]["value_set"] == ["low", "high"]
    pair = by_check["pair_equality:calc=pub"]
    assert (pair["mostly"], pair["ignore_row_if"]) == (0.9, "either_value_is_missing")
    assert by_check["freshness:observed_at"]["min_value"] == {"$PARAMETER": quality.FRESHNESS_PARAMETER}
    partition = by_check["partition:date"]
    assert (partition["column_A"], partition["column_B"]) == ("date", quality.PARTITION_COLUMN)
    assert partition["ignore_row_if"] == "either_value_is_missing"
    types = {k.split(":")[1]: v["type_"] for k, v in by_check.items() if k.startswith("type:")}
    assert types == {c.name: quality.GX_TYPE_NAMES[c.type] for c in READINGS.columns}


def test_adding_a_column_to_the_table_adds_its_expectations() -> None:
    wider = dataclasses.replace(
        READINGS,
        columns=(
            *READINGS.columns,
            Column("grade", "string", "new", nullable=False, allowed=("A", "B"), mostly=0.95),
        ),
    )
    before, after = suite_summary(READINGS), suite_summary(wider)
    added = [x for x in after if x not in before]
    assert added == [
        ("expect_column_values_to_be_of_type", "grade", "blocking"),
        ("expect_column_values_to_not_be_null", "grade", "blocking"),
        ("expect_column_values_to_be_in_set", "grade", "blocking"),
    ]
    column_set = build_suite(wider).expectations[0].configuration.kwargs["column_set"]
    assert "grade" in column_set
    in_set = [
        e for e in build_suite(wider).expectations if (e.meta or {}).get("ecocloud_check") == "allowed:grade"
    ]
    assert in_set[0].configuration.kwargs["mostly"] == 0.95
    # and the gate uses it: data without the new column fails the column set
    result = gate(readings(), table=wider)
    assert not result.passed
    assert any("missing ['grade']" in m for m in result.blocking_failures)


def test_primary_key_of_one_column_uses_column_uniqueness() -> None:
    assert ("expect_column_values_to_be_unique", "site", "blocking") in suite_summary(SITES)


# ------------------------------------------------------------------------------------ conversion


def test_schema_frame_dtypes_are_the_documented_ones() -> None:
    frame = quality.schema_frame(READINGS.arrow_schema())
    assert len(frame) == 0
    assert dict(frame.dtypes) == {c.name: quality.PANDAS_DTYPES[c.type] for c in READINGS.columns}
    assert str(frame["observed_at"].dtype) == "datetime64[us, UTC]"
    # outside the registry: Arrow-backed; ns timestamps as µs (pandas would give them pandas.Timestamp)
    other = quality.schema_frame(
        pa.schema([("a", pa.int64()), ("b", pa.timestamp("ns")), ("c", pa.float32())])
    )
    assert list(other.dtypes) == [
        pd.Int64Dtype(),
        pd.ArrowDtype(pa.timestamp("us")),
        pd.ArrowDtype(pa.float32()),
    ]


def test_to_pandas_uses_dtypes_gx_vectorises() -> None:
    data = readings(3, value=[1.0, float("nan"), None], calc=[1, None, 3], hours=[1, 2, 3])
    frame = quality.to_pandas(data)
    assert str(frame["hours"].dtype) == "int64"  # int8 without NULLs
    assert str(frame["calc"].dtype) == "float64"  # int16 with NULLs
    assert frame["calc"].isna().tolist() == [False, True, False]
    assert str(frame["value"].dtype) == "float64"
    assert frame["value"].isna().tolist() == [False, True, True]  # NaN is NULL
    assert str(frame["observed_at"].dtype) == "datetime64[us, UTC]"
    # categorical: GX hashes, compares and matches each distinct string once
    assert isinstance(frame["site"].dtype, pd.CategoricalDtype)
    assert frame["site"].astype(object).tolist() == data.column("site").to_pylist()
    assert str(frame["date"].dtype) == "datetime64[ms]"  # date32[pyarrow] costs GX's fingerprint ~1 s/M rows
    assert frame["ok"].dtype == pd.BooleanDtype()


def test_every_registry_type_passes_its_type_expectation() -> None:
    # GX resolves "date" through pandas internals and "Timestamp" through pandas.Timestamp: pin both
    result = gate(readings())
    types = {k: r for k, r in checks(result).items() if k.startswith("expect_column_values_to_be_of_type")}
    assert len(types) == len(READINGS.columns)
    assert all(r["success"] for r in types.values()), types


# -------------------------------------------------------------------------------------- verdicts


def test_clean_partition_passes() -> None:
    data = readings()
    result = gate(data, expected_latest=latest_of(data) + dt.timedelta(hours=1))
    assert result.passed, result.summary()
    assert result.blocking_failures == [] and result.warnings == []
    assert all(result.results.column("success").to_pylist())
    assert result.row_count == N
    assert result.summary().startswith("quality gate core_qgtest__readings 2023-01-20: PASSED")


def test_null_in_non_nullable_column_fails_blocking() -> None:
    result = gate(with_row("site", 3, None))
    assert not result.passed
    assert result.blocking_failures == [
        "core_qgtest__readings 2023-01-20: site is NULL on 1 of 20 rows (not nullable)"
    ]
    row = checks(result)["expect_column_values_to_not_be_null:site"]
    assert (row["success"], row["unexpected_count"], row["unexpected_percent"]) == (False, 1, 5.0)
    assert row["severity"] == "blocking" and row["published"] is False


def test_nan_counts_as_null() -> None:
    # NaN in a nullable float column is a NULL: not a range violation
    assert gate(with_row("value", 0, float("nan"))).passed
    # and conformed data holds it as NULL, as the gate counted it (a NaN would make SQL's max NaN)
    value = READINGS.conform(with_row("value", 0, float("nan"))).column("value")
    assert value.null_count == 1 and value.to_pylist()[0] is None


@pytest.mark.parametrize(
    ("bounds", "value", "expected"),
    [
        (
            {"min": 0, "max": None},
            float("inf"),
            "value outside [0, ∞] on 1 of 20 rows, e.g. [Infinity]" + at_row(5),
        ),
        (
            {"min": None, "max": 100},
            float("-inf"),
            "value outside [-∞, 100] on 1 of 20 rows, e.g. [-Infinity]" + at_row(5),
        ),
    ],
)
def test_an_infinite_value_is_outside_a_float_range_open_on_its_side(
    bounds: dict[str, Any], value: float, expected: str
) -> None:
    one_sided = dataclasses.replace(
        READINGS,
        columns=tuple(dataclasses.replace(c, **bounds) if c.name == "value" else c for c in READINGS.columns),
    )
    result = gate(with_row("value", 5, value), one_sided)
    assert result.blocking_failures == [f"core_qgtest__readings 2023-01-20: {expected}"]
    assert gate(with_row("value", 5, 1e300), one_sided).passed == (bounds["max"] is None)


@pytest.mark.parametrize(
    ("column", "value", "expected"),
    [
        ("value", 100.5, "value outside [0, 100] on 1 of 20 rows, e.g. [100.5]" + at_row(5)),
        ("value", -1.0, "value outside [0, 100] on 1 of 20 rows, e.g. [-1.0]" + at_row(5)),
        ("hours", 25, "hours outside [0, 24] on 1 of 20 rows, e.g. [25]" + at_row(5)),
    ],
)
def test_out_of_range_value_fails(column: str, value: Any, expected: str) -> None:
    result = gate(with_row(column, 5, value))
    assert not result.passed
    assert result.blocking_failures == [f"core_qgtest__readings 2023-01-20: {expected}"]


def test_range_bounds_are_inclusive_and_nulls_ignored() -> None:
    values = [0.0, 100.0, None] + [50.0] * (N - 3)
    assert gate(readings(value=values)).passed


def test_range_with_mostly_tolerates_a_share_of_outliers() -> None:
    tolerant = dataclasses.replace(
        READINGS,
        columns=tuple(
            dataclasses.replace(c, mostly=0.9) if c.name == "value" else c for c in READINGS.columns
        ),
    )
    two_bad = [1000.0, 1000.0] + [1.0] * (N - 2)  # 90 % ok: passes mostly=0.9
    assert gate(readings(value=two_bad), table=tolerant).passed
    three_bad = [1000.0] * 3 + [1.0] * (N - 3)  # 85 %
    result = gate(readings(value=three_bad), table=tolerant)
    assert not result.passed
    assert "ok on 85 % of 20 non-null rows, needs ≥ 90 %" in result.blocking_failures[0]


# Row-level checks (not null, range, allowed values, key, pair) are evaluated in units: value-wise
# ones on each column's distinct values, mapped back to the rows. The oracle is GX run by itself on
# every row of the frame ``to_pandas`` documents, with the whole suite.
ROW_LEVEL = ("not_null", "range", "allowed", "primary_key", "pair_equality")
_TOLERANT_VALUE = dataclasses.replace(
    READINGS,
    columns=tuple(dataclasses.replace(c, mostly=0.8) if c.name == "value" else c for c in READINGS.columns),
)
_VALUE_NOT_NULL = dataclasses.replace(  # NaN and NULL both fail not_null, and are skipped by range
    READINGS,
    columns=tuple(
        dataclasses.replace(c, nullable=False) if c.name == "value" else c for c in READINGS.columns
    ),
)

# keys: GX checks only the rows whose key codes repeat; floats (0.0 == -0.0 in pandas) go to GX whole;
# an integer column without NULLs is its own code, with NULLs it is dictionary-encoded
_KEYS = tuple(
    dataclasses.replace(READINGS, primary_key=key)
    for key in (("site", "hours", "level"), ("level",), ("value",), ("site", "value"), ("hours", "calc"))
)


def _rows_with(draw: st.DrawFn) -> pa.Table:
    n = draw(st.integers(0, 30))

    def column(*choices: Any) -> list[Any]:
        return draw(st.lists(st.sampled_from(choices), min_size=n, max_size=n))

    hours = [FIRST_HOUR + dt.timedelta(hours=h) for h in range(3)]
    cols = {
        "date": column(DAY, None),
        "site": column("S0", "S1", None),
        "observed_at": column(*hours, None),
        "value": column(0.0, -0.0, 50.5, 100.0, 100.5, 150.0, -1.0, -7.5, float("nan"), None),
        "hours": column(0, 24, 25, 30, -1, -3, None),
        "level": column("low", "high", "mid", None),
        "calc": column(1, 2, None),
        "pub": column(1, 2, None),
        "note": column(1.5, 11.0, None),
        "ok": column(True, False, None),
    }
    return pa.table(cols, schema=READINGS.arrow_schema())


def _gx_on_every_row(table: Table, data: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    suite = build_suite(table)
    with quality._LOCK, quality._quiet_gx():
        batch = quality._BATCHES.get_batch(batch_parameters={"dataframe": quality.to_pandas(data)})
        run = batch.validate(suite, result_format={"result_format": "COMPLETE"})
    out = {}
    for r in run.results:
        if str(r.expectation_config.meta["ecocloud_check"]).split(":")[0] in ROW_LEVEL:
            kw = r.expectation_config.kwargs
            cols = [kw[k] for k in ("column", "column_A", "column_B") if k in kw] + kw.get("column_list", [])
            out[(r.expectation_config.type, ",".join(cols))] = {"success": r.success, **r.result}
    return out


def _assert_agrees_with_gx(table: Table, data: pa.Table) -> dict[tuple[str, str], dict[str, Any]]:
    """Our gate and GX on every row give the same verdict and counts for each row-level check;
    returns GX's results (keyed by expectation and column) for a test's own assertions."""
    verdict = validate(table, [GatePart("all", DAY, data)], run=GateRun("oracle", "test", "test"))[0]
    expected = _gx_on_every_row(table, data)
    got = {
        (r["expectation"], r["column_name"]): r
        for r in verdict.results.to_pylist()
        if (r["expectation"], r["column_name"]) in expected
    }
    assert got.keys() == expected.keys()
    for key, gx_result in expected.items():
        mine = got[key]
        assert mine["success"] == gx_result["success"], key
        assert mine["element_count"] == gx_result["element_count"], key
        assert mine["unexpected_count"] == gx_result["unexpected_count"], key
        assert mine["unexpected_percent"] == pytest.approx(gx_result["unexpected_percent"]), key
    return expected


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.composite(_rows_with)(),
    table=st.sampled_from([READINGS, _TOLERANT_VALUE, _VALUE_NOT_NULL, *_KEYS]),
)
def test_row_level_checks_agree_with_gx_on_every_row(data: pa.Table, table: Table) -> None:
    _assert_agrees_with_gx(table, data)


_STAND_IN_CASES = {
    # not-null and range checks run on stand-ins (one value, or the least and greatest, with NaN and
    # NULL): NaN and NULL without an outlier; outliers between the bounds' values; nothing valid
    "nan and null, in range": [1.0, float("nan"), 2.0, None, float("nan")],
    "outliers inside the bounds": [-7.5, -1.0, 5.0, 100.5, 150.0, 100.5],
    "only NaN": [float("nan"), float("nan")],
    "only NULL": [None, None],
    "one outlier below": [3.0, -1.0, 3.0, 99.0],
    "empty": [],
}


@pytest.mark.parametrize(
    "table", [READINGS, _TOLERANT_VALUE, _VALUE_NOT_NULL], ids=["range", "mostly", "not null"]
)
@pytest.mark.parametrize("values", list(_STAND_IN_CASES.values()), ids=list(_STAND_IN_CASES))
def test_checks_on_stand_ins_agree_with_gx_on_every_row(values: list[float | None], table: Table) -> None:
    n = len(values)
    hours = [(-3, 25, 4, 30)[i % 4] if values[i : i + 1] == [None] else i % 24 for i in range(n)]
    data = pa.table(
        {
            "date": [DAY] * n,
            "site": [f"S{i}" for i in range(n)],
            "observed_at": [FIRST_HOUR] * n,
            "value": values,
            "hours": hours,
            "level": ["low"] * n,
            "calc": [1] * n,
            "pub": [1] * n,
            "note": [1.5] * n,
            "ok": [True] * n,
        },
        schema=READINGS.arrow_schema(),
    )
    _assert_agrees_with_gx(table, data)


_OFFSETS = Table(
    name="core_qgtest__offsets",
    layer=Layer.CORE,
    source="qgtest",
    title="integer key test table",
    description="test only",
    columns=(
        Column("date", "date", "partition day", nullable=False),
        Column("segment", "string", "file", nullable=False),
        Column("offset", "int64", "byte offset", unit="B", nullable=False, min=0),
    ),
    primary_key=("segment", "offset"),
    owner="test",
    frequency="hourly",
    sharing=Sharing.NOT_SHARED,
)


@pytest.mark.parametrize(
    "rows",
    [
        # a narrow span, the offsets their own codes: (a, 12) and (b, 0) are neighbours, not twins
        [("a", 0), ("a", 7), ("b", 7), ("a", 12), ("b", 0), ("b", 12), ("a", 12)],
        # spanning 2³² or more: dictionary-encoded
        [("a", 0), ("a", 1 << 40), ("b", 1 << 40), ("b", 5), ("a", 1 << 33), ("a", 5), ("a", 1 << 40)],
        # negative (out of range too), the widest span
        [("a", -(1 << 62)), ("b", 1 << 62), ("a", -(1 << 62)), ("b", 0), ("a", 1 << 62)],
    ],
    ids=["narrow", "wide", "extremes"],
)
def test_integer_key_duplicates_agree_with_gx_on_every_row(rows: list[tuple[str, int]]) -> None:
    data = pa.table(
        {"date": [DAY] * len(rows), "segment": [s for s, _ in rows], "offset": [o for _, o in rows]},
        schema=_OFFSETS.arrow_schema(),
    )
    expected = _assert_agrees_with_gx(_OFFSETS, data)
    assert expected[("expect_compound_columns_to_be_unique", "segment,offset")]["unexpected_count"] == 2


@settings(max_examples=60, deadline=None)
@given(
    starts=st.lists(st.integers(0, 1 << 40), min_size=1, max_size=40),
    planted=st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), max_size=5),
    shuffled=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_repeated_keys_in_runs_or_shuffled(
    starts: list[int], planted: list[tuple[int, int]], shuffled: bool, seed: int
) -> None:
    """``_repeated`` on 300,000 keys in up to 40 ascending runs, which may interleave (sorted whole),
    or shuffled (only the keys sharing a hash bucket sorted), with a few copies planted: exactly the
    values held more than once."""
    import numpy as np

    rng = np.random.default_rng(seed)
    length = 300_000 // len(starts)
    key = np.concatenate([start + np.cumsum(rng.integers(1, 5, length)) for start in starts])
    for source, target in planted:
        key[target % len(key)] = key[source % len(key)]
    if shuffled:
        rng.shuffle(key)
    values, counts = np.unique(key, return_counts=True)
    assert sorted(set(quality._repeated(key).tolist())) == values[counts > 1].tolist()


def test_duplicate_primary_key_fails() -> None:
    data = readings()
    sites, hours = data.column("site").to_pylist(), data.column("observed_at").to_pylist()
    sites[2], hours[2] = sites[0], hours[0]  # row 2 repeats row 0's (site, observed_at)
    result = gate(readings(site=sites, observed_at=hours))
    assert not result.passed
    [message] = result.blocking_failures
    assert "primary key (site, observed_at) duplicated on 2 of 20 rows" in message
    row = checks(result)["expect_compound_columns_to_be_unique:site,observed_at"]
    assert row["unexpected_count"] == 2


def test_duplicate_single_column_key_fails() -> None:
    data = pa.table(
        {"site": ["A", "B", "A"], "last_seen_date": [DAY, None, DAY]}, schema=SITES.arrow_schema()
    )
    result = run_gate(SITES, data, partition_date=None)
    assert not result.passed
    assert "primary key (site) duplicated on 2 of 3 rows" in result.blocking_failures[0]
    # unpartitioned: no partition date; the result rows carry the Beijing date of the run
    [validated_at] = set(result.results.column("validated_at").to_pylist())
    today = validated_at.astimezone(dt.timezone(dt.timedelta(hours=8))).date()
    assert set(result.results.column("date").to_pylist()) == {today} == {result.results_date}
    assert set(result.results.column("partition_date").to_pylist()) == {None}
    assert set(result.results.column("unit").to_pylist()) == {"all"}


def test_disallowed_category_fails() -> None:
    result = gate(with_row("level", 4, "medium"))
    assert not result.passed
    assert result.blocking_failures == [
        'core_qgtest__readings 2023-01-20: level not an allowed value on 1 of 20 rows, e.g. ["medium"]'
        + at_row(4)
    ]


def test_null_category_is_allowed_when_the_column_is_nullable() -> None:
    assert gate(with_row("level", 4, None)).passed


@pytest.mark.parametrize(
    ("mismatches", "passes"),
    [(0, True), (1, True), (2, True), (3, False), (10, False)],
)
def test_pair_agreement_against_mostly(mismatches: int, passes: bool) -> None:
    # 20 rows, mostly = 0.9: up to 2 of 20 may differ
    pub = [50 + i + (1 if i < mismatches else 0) for i in range(N)]
    result = gate(readings(pub=pub))
    assert result.passed is passes, result.summary()
    row = checks(result)["expect_column_pair_values_to_be_equal:calc,pub"]
    assert row["unexpected_count"] == mismatches
    if not passes:
        agree = 100 * (N - mismatches) // N
        assert result.blocking_failures[0].startswith(
            f"core_qgtest__readings 2023-01-20: calc = pub on {agree} % of rows (needs ≥ 90 %)"
        )


def test_pair_ignores_rows_where_either_value_is_missing() -> None:
    # 3 mismatches, but all on rows without a published value: not counted
    pub: list[int | None] = [50 + i for i in range(N)]
    calc: list[int | None] = [50 + i for i in range(N)]
    pub[0] = pub[1] = None
    calc[2] = None
    result = gate(readings(pub=pub, calc=calc))
    assert result.passed
    # 2 mismatches among 17 rows that have both: 88.2 % < 90 %
    pub[3], pub[4] = 0, 0
    result = gate(readings(pub=pub, calc=calc))
    assert not result.passed
    assert (
        "calc = pub on 88.23 % of rows (needs ≥ 90 %): 2 of 17 rows with both differ"
        in result.blocking_failures[0]
    )


def test_warning_severity_failure_is_listed_but_does_not_block() -> None:
    result = gate(with_row("note", 7, 12.0))
    assert result.passed
    assert result.blocking_failures == []
    assert result.warnings == [
        "core_qgtest__readings 2023-01-20: note outside [0, 10] on 1 of 20 rows, e.g. [12.0]" + at_row(7)
    ]
    row = checks(result)["expect_column_values_to_be_between:note"]
    assert (row["success"], row["severity"], row["published"]) == (False, "warning", True)
    assert "WARNING  core_qgtest__readings" in result.summary()


def test_row_of_another_day_fails_the_partition_check() -> None:
    result = gate(with_row("date", 0, DAY + dt.timedelta(days=1)))
    assert not result.passed
    assert result.blocking_failures == [
        'core_qgtest__readings 2023-01-20: date is not the partition date ["2023-01-20"] on 1 of 20 rows, '
        'e.g. ["2023-01-21"]' + at_row(0)
    ]
    # no partition date given: no partition check
    assert gate(with_row("date", 0, DAY + dt.timedelta(days=1)), partition_date=None).passed


# ------------------------------------------------------------------------------------- freshness


@pytest.mark.parametrize(
    ("lag", "passes"),
    [
        (dt.timedelta(hours=0), True),
        (dt.timedelta(hours=2), True),  # exactly the tolerance: inclusive
        (dt.timedelta(hours=2, microseconds=1), False),
        (dt.timedelta(days=1), False),
    ],
)
def test_freshness(lag: dt.timedelta, passes: bool) -> None:
    data = readings()
    latest = latest_of(data)
    compiled_before = len(quality._COMPILED)
    result = gate(data, expected_latest=latest + lag)
    assert result.passed is passes, result.summary()
    row = checks(result)["expect_column_max_to_be_between:observed_at"]
    assert row["success"] is passes
    assert json.loads(row["observed_value"]) == latest.isoformat()
    if not passes:
        needs = (latest + lag - dt.timedelta(hours=2)).isoformat()
        assert result.blocking_failures == [
            f"core_qgtest__readings 2023-01-20: stale: max(observed_at) = {latest.isoformat()}, needs ≥ {needs}"
        ]
    # the threshold is a suite parameter: the compiled suite is reused, never rebuilt per run
    assert len(quality._COMPILED) <= compiled_before + 1


def test_stale_data_is_a_warning_by_default() -> None:
    lenient = dataclasses.replace(READINGS, freshness_severity=Severity.WARNING)
    data = readings()
    result = run_gate(
        lenient, data, partition_date=DAY, expected_latest=latest_of(data) + dt.timedelta(days=1)
    )
    assert result.passed
    assert len(result.warnings) == 1 and "stale: max(observed_at)" in result.warnings[0]
    assert Table.__dataclass_fields__["freshness_severity"].default == Severity.WARNING


def test_freshness_compares_instants_across_time_zones() -> None:
    data = readings()
    beijing = dt.timezone(dt.timedelta(hours=8))
    # same instant as latest + 1 h, expressed in Beijing time
    assert gate(data, expected_latest=(latest_of(data) + dt.timedelta(hours=1)).astimezone(beijing)).passed


def test_freshness_needs_an_aware_datetime() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        gate(readings(), expected_latest=dt.datetime(2023, 1, 20, 16))


def test_freshness_on_a_date_column_compares_beijing_days() -> None:
    data = pa.table(
        {"site": ["A", "B"], "last_seen_date": [DAY, DAY - dt.timedelta(days=3)]}, schema=SITES.arrow_schema()
    )
    end_of_day = dt.datetime(2023, 1, 20, 16, tzinfo=UTC)  # 2023-01-21 00:00 Beijing
    assert run_gate(SITES, data, partition_date=None, expected_latest=end_of_day).passed
    late = run_gate(SITES, data, partition_date=None, expected_latest=end_of_day + dt.timedelta(days=1))
    assert not late.passed
    assert "stale: max(last_seen_date) = 2023-01-20, needs ≥ 2023-01-21" in late.blocking_failures[0]


# ------------------------------------------------------------------------------------ edge cases


def test_empty_partition_passes_with_a_warning() -> None:
    result = gate(readings(0))
    assert result.passed
    assert result.warnings == ["core_qgtest__readings 2023-01-20: the partition is empty (0 rows)"]
    # column set and types are still checked
    rows = checks(result)
    assert rows["expect_table_columns_to_match_set:None"]["success"]
    assert rows["expect_column_values_to_be_of_type:hours"]["success"]
    assert result.results.num_rows == len(build_suite(READINGS, partition=True).expectations)


def test_empty_partition_is_not_fresh() -> None:
    result = gate(readings(0), expected_latest=FIRST_HOUR)
    assert not result.passed
    assert result.blocking_failures == [
        "core_qgtest__readings 2023-01-20: stale: max(observed_at) = none (no rows), needs ≥ 2023-01-19T14:00:00+00:00"
    ]


def test_empty_partition_with_wrong_types_fails() -> None:
    data = readings(0).cast(READINGS.arrow_schema().set(4, pa.field("hours", pa.int64())))
    result = gate(data)
    assert not result.passed
    assert "hours has Arrow type int64" in result.blocking_failures[0]


@pytest.mark.parametrize(
    ("column", "arrow_type", "pandas_scalar"),
    [
        ("hours", pa.int64(), "int64"),  # a registry type, but wider than the int8 declared
        ("value", pa.float32(), "float"),
        ("observed_at", pa.timestamp("us"), "datetime"),  # naive: would be read as UTC by a cast
        ("observed_at", pa.timestamp("us", tz="Asia/Shanghai"), "datetime"),
        ("observed_at", pa.timestamp("ns", tz="UTC"), "datetime"),
        ("calc", pa.string(), "str"),
    ],
)
def test_type_drift_fails_the_type_expectation(
    column: str, arrow_type: pa.DataType, pandas_scalar: str
) -> None:
    data = readings()
    data = data.set_column(data.column_names.index(column), column, data.column(column).cast(arrow_type))
    result = gate(data)
    assert not result.passed
    row = checks(result)[f"expect_column_values_to_be_of_type:{column}"]
    assert not row["success"]
    assert json.loads(row["observed_value"]) == pandas_scalar
    registry = READINGS.column(column)
    assert any(
        m.endswith(
            f"{column} has Arrow type {arrow_type} (pandas scalar {pandas_scalar}), the registry says "
            f"{registry.type} = {registry.arrow_type}; cast with Table.conform()"
        )
        for m in result.blocking_failures
    ), result.blocking_failures


def test_missing_and_undeclared_columns_fail_without_raising() -> None:
    data = readings().drop_columns(["note"]).append_column("surprise", pa.array([1] * N))
    result = gate(data)
    assert not result.passed
    assert result.blocking_failures[0] == (
        "core_qgtest__readings 2023-01-20: columns differ from the registry: missing ['note'], undeclared ['surprise']"
    )
    assert any(
        "type:note not evaluated" in m and "column note missing" in m for m in result.blocking_failures
    )
    # the warning-severity range check on the missing column keeps its severity
    assert any("range:note not evaluated" in m for m in result.warnings)
    assert result.results.num_rows == len(build_suite(READINGS, partition=True).expectations)


# ---------------------------------------------------------------------------------- results table


def test_results_conform_to_the_registry_with_one_row_per_expectation() -> None:
    data = with_row("note", 1, 11.0)
    run = GateRun(run_id="manual__2023-01-20", task="air_quality.gate", build="qgtest.hourly")
    [result] = validate(
        READINGS, [GatePart("segment/s1", DAY, data)], run=run, expected_latest=latest_of(data)
    )
    results = result.results
    assert results.schema == expectation_results.arrow_schema(strict=False)
    assert expectation_results.conform(results).equals(results)
    suite = build_suite(READINGS, freshness=True, partition=True)
    assert results.num_rows == len(suite.expectations)
    assert results.column("expectation").to_pylist() == [e.expectation_type for e in suite.expectations]
    rows = results.to_pylist()
    assert {(r["run_id"], r["task"], r["build"]) for r in rows} == {
        ("manual__2023-01-20", "air_quality.gate", "qgtest.hourly")
    }
    assert {(r["unit"], r["partition_date"], r["table_name"]) for r in rows} == {
        ("segment/s1", DAY, READINGS.name)
    }
    assert {r["gate_run_id"] for r in rows} == {result.gate_run_id}
    # results are partitioned by the Beijing date of the gate run, not by the partition checked
    assert {r["date"] for r in rows} == {rows[0]["validated_at"].astimezone(quality.BEIJING).date()}
    assert {r["published"] for r in rows} == {True}  # passed (the failure is a warning)
    assert len({r["validated_at"] for r in rows}) == 1
    assert rows[0]["validated_at"].tzinfo is not None
    # the primary key of the results table is unique
    key = [tuple(r[k] for k in expectation_results.primary_key) for r in rows]
    assert len(set(key)) == len(key)
    for r in rows:
        json.loads(r["details"])
        assert r["element_count"] == N
        assert r["unexpected_percent"] is None or 0 <= r["unexpected_percent"] <= 100
    note = checks(result)["expect_column_values_to_be_between:note"]
    assert json.loads(note["details"]) == {"column": "note", "max_value": 10.0, "min_value": 0.0}
    # READINGS is 不予共享: the results (有条件共享) hold counts, not its values; the message quotes them
    assert json.loads(note["observed_value"]) == {"partial_unexpected": quality.WITHHELD}
    assert note["unexpected_count"] == 1 and note["unexpected_percent"] == 5.0
    assert "11.0" in result.warnings[0]
    shared = dataclasses.replace(READINGS, name="core_qgtest__shared", sharing=Sharing.CONDITIONAL)
    [open_result] = validate(shared, [GatePart("segment/s1", DAY, data)], run=run)
    shared_note = checks(open_result)["expect_column_values_to_be_between:note"]
    # with the sampled rows' keys, so whoever reads the results can find the rows
    assert json.loads(shared_note["observed_value"]) == {
        "partial_unexpected": [11.0],
        "partial_unexpected_keys": [["S1", FIRST_HOUR.isoformat()]],
    }


def test_failed_gate_marks_every_result_row_unpublished() -> None:
    result = gate(with_row("site", 0, None))
    assert set(result.results.column("published").to_pylist()) == {False}
    assert "FAILED" in result.summary().splitlines()[0]


def test_published_restates_the_flag_without_touching_the_verdict() -> None:
    result = gate(readings())
    assert set(result.results.column("published").to_pylist()) == {True}
    blocked = result.published(False)  # e.g. another table of the same unit failed
    assert set(blocked.column("published").to_pylist()) == {False}
    assert blocked.drop_columns(["published"]).equals(result.results.drop_columns(["published"]))
    assert result.passed and set(result.results.column("published").to_pylist()) == {True}


def test_bad_arguments_are_refused() -> None:
    run = GateRun("r", "t", "b")
    with pytest.raises(ValueError, match="not partitioned"):
        validate(SITES, [GatePart("all", DAY, pa.table({"site": ["A"]}))], run=run)
    twice = [GatePart("u", DAY, readings()), GatePart("u", DAY, readings())]
    with pytest.raises(ValueError, match="same unit and partition"):
        validate(READINGS, twice, run=run)
    assert validate(READINGS, [], run=run) == []


# ------------------------------------------------------------------------------ the real registry


def _hourly(
    n_stations: int = 3, hours: int = 24, mutate: Callable[[dict[str, list[Any]]], None] | None = None
) -> pa.Table:
    first = dt.datetime(2023, 1, 19, 16, tzinfo=UTC)
    rows = [(s, h) for h in range(hours) for s in range(n_stations)]
    cols: dict[str, list[Any]] = {
        "date": [DAY] * len(rows),
        "station_code": [f"{1001 + s}A" for s, _ in rows],
        "observed_at": [first + dt.timedelta(hours=h) for _, h in rows],
    }
    for c in station_hourly.columns:
        if c.type == "float64":
            cols[c.name] = [1.0 + h for _, h in rows]
    cols["aqi_published"] = [20 + h for _, h in rows]
    cols["aqi"] = [20 + h for _, h in rows]
    cols["primary_pollutants"] = [None] * len(rows)
    cols["aqi_category"] = ["优"] * len(rows)
    cols["aqi_standard"] = ["HJ633-2012"] * len(rows)
    if mutate:
        mutate(cols)
    return pa.table(
        {c.name: cols[c.name] for c in station_hourly.columns}, schema=station_hourly.arrow_schema()
    )


def test_station_hourly_clean_day_passes() -> None:
    data = _hourly()
    result = run_gate(
        station_hourly, data, partition_date=DAY, expected_latest=dt.datetime(2023, 1, 20, 16, tzinfo=UTC)
    )
    assert result.passed, result.summary()
    n_checks = len(build_suite(station_hourly, freshness=True, partition=True).expectations)
    assert result.results.num_rows == n_checks - 1  # the day was never published: no shrink check
    # columns, rows, types, not-null, ranges, allowed, key, pair, partition, shrink, freshness
    assert n_checks == 2 + 22 + 3 + 16 + 2 + 1 + 1 + 1 + 1 + 1


def test_station_hourly_aqi_disagreement_blocks() -> None:
    # 1000 station-hours, 9 disagree: 99.1 % < 99.9 %
    def mutate(cols: dict[str, list[Any]]) -> None:
        for i in range(9):
            cols["aqi"][i] += 1

    data = _hourly(n_stations=125, hours=8, mutate=mutate)
    result = run_gate(station_hourly, data, partition_date=DAY)
    assert not result.passed
    assert result.blocking_failures[0].startswith(
        "core_air__station_hourly 2023-01-20: aqi = aqi_published on 99.1 % of rows (needs ≥ 99.9 %)"
    )


def test_station_hourly_unknown_category_blocks() -> None:
    def mutate(cols: dict[str, list[Any]]) -> None:
        cols["aqi_category"][0] = "很好"

    result = run_gate(station_hourly, _hourly(mutate=mutate), partition_date=DAY)
    assert not result.passed
    assert 'aqi_category not an allowed value on 1 of 72 rows, e.g. ["很好"]' in result.blocking_failures[0]


# ------------------------------------------------------------------------------------ shrink

SHRINKING = dataclasses.replace(READINGS, name="core_qgtest__shrinking", max_shrink=0.1)
SHRINK_RUN = GateRun(
    run_id="manual__shrink",
    task="test.gate",
    build="test.shrink",
    accept_shrink_hint="accept with --accept {unit}",
)


def shrink_rows(verdict: GateVerdict) -> list[dict[str, Any]]:
    return [r for r in verdict.results.to_pylist() if json.loads(r["details"]).get("max_shrink") is not None]


@pytest.mark.parametrize(
    ("rows", "published", "floor", "lost"),
    [
        (18, 20, 18, None),
        (17, 20, 18, "15.0"),
        (0, 20, 18, "100.0"),
        (20, 0, 0, None),
        (25, 20, 18, None),
        (9, 10, 9, None),
        (900, 1001, 901, "10.1"),  # 10.09 % lost: said rounded up, never "10 % … more than the 10 %"
    ],
)
def test_a_part_may_lose_at_most_its_tables_share_of_the_published_rows(
    rows: int, published: int, floor: int, lost: str | None
) -> None:
    [verdict] = validate(
        SHRINKING, [GatePart(DAY.isoformat(), DAY, readings(rows), published)], run=SHRINK_RUN
    )
    [result] = shrink_rows(verdict)
    assert (result["success"], result["severity"]) == (lost is None, "blocking")
    assert json.loads(result["observed_value"]) == {
        "rows": rows,
        "published_rows": published,
        "min_value": floor,
    }
    said = [f for f in verdict.blocking_failures if "are published" in f]
    if lost is None:
        assert said == []
    else:
        assert said == [
            f"core_qgtest__shrinking {DAY}: {rows:,} rows where {published:,} are published: {lost}% fewer, "
            f"more than the 10% allowed; held back, the published rows stay (accept with --accept {DAY})"
        ]


def test_a_held_back_shrink_is_said_without_a_hint_where_the_caller_gives_none() -> None:
    quiet = GateRun(run_id="manual__shrink", task="test.gate", build="test.shrink")
    [verdict] = validate(SHRINKING, [GatePart(DAY.isoformat(), DAY, readings(5), 20)], run=quiet)
    assert [f for f in verdict.blocking_failures if "are published" in f] == [
        f"core_qgtest__shrinking {DAY}: 5 rows where 20 are published: 75.0% fewer, "
        "more than the 10% allowed; held back, the published rows stay"
    ]


def test_a_shrink_is_checked_only_where_the_unit_published_before_and_the_table_declares_it() -> None:
    [first] = validate(SHRINKING, [GatePart(DAY.isoformat(), DAY, readings(2))], run=SHRINK_RUN)
    assert first.passed and shrink_rows(first) == []
    [undeclared] = validate(READINGS, [GatePart(DAY.isoformat(), DAY, readings(2), 20)], run=SHRINK_RUN)
    assert undeclared.passed and shrink_rows(undeclared) == []
    checks = [
        (e.expectation_type, (e.meta or {})["ecocloud_check"]) for e in build_suite(SHRINKING).expectations
    ]
    assert ("expect_table_row_count_to_be_between", "shrink:core_qgtest__shrinking") in checks


def test_an_accepted_shrink_is_a_warning_and_publishes() -> None:
    part = GatePart(DAY.isoformat(), DAY, readings(4), 20, shrink_accepted=True)
    elsewhere = readings(4, site=["S2", "S3", "S2", "S3"])
    other = GatePart("other", DAY, elsewhere, 20)  # in the same batch, not accepted: held back
    [verdict, held] = validate(SHRINKING, [part, other], run=SHRINK_RUN)
    assert not held.passed and held.blocking_checks == ["shrink:core_qgtest__shrinking"]
    [result] = shrink_rows(verdict)
    assert verdict.passed and not result["success"] and result["severity"] == "warning"
    assert verdict.warnings == [
        f"core_qgtest__shrinking {DAY}: 4 rows where 20 are published: 80.0% fewer, more than the 10% "
        "allowed; published as the run accepts shrinking"
    ]
    # a shrink within the limit stays a blocking check that passed, in an accepting run too
    [within] = validate(
        SHRINKING, [GatePart(DAY.isoformat(), DAY, readings(19), 20, shrink_accepted=True)], run=SHRINK_RUN
    )
    assert [(r["success"], r["severity"]) for r in shrink_rows(within)] == [(True, "blocking")]


def test_what_the_ledger_records_of_a_not_shared_table_s_failures_quotes_no_value() -> None:
    """The ledger's ``error`` is shared wider (有条件共享) than a 不予共享 table: checks and counts only.
    The messages for the operators' logs keep the values."""
    data = with_row("value", 3, 777.0)
    [closed] = validate(READINGS, [GatePart(DAY.isoformat(), DAY, data)], run=SHRINK_RUN)
    assert not closed.passed and "777" in closed.blocking_failures[0]
    assert closed.recorded_failures == [
        f"core_qgtest__readings {DAY}: range:value failed on 1 of 20 rows ({quality.WITHHELD})"
    ]
    shared = dataclasses.replace(READINGS, name="core_qgtest__shared_rows", sharing=Sharing.CONDITIONAL)
    [open_verdict] = validate(shared, [GatePart(DAY.isoformat(), DAY, data)], run=SHRINK_RUN)
    assert open_verdict.recorded_failures == open_verdict.blocking_failures


def test_a_table_that_may_be_empty_has_no_empty_partition_warning() -> None:
    """A day without an exceedance publishes an empty partition of the hourly exceedances: the gate
    warned "the partition is empty" of it on every such day (the ingestion page's 警告 1). A table of
    one row per registered outlet a day (the daily roll-up, the disclosure) keeps the warning."""
    events = dataclasses.replace(READINGS, events=True, may_be_empty=True)
    assert ("expect_table_row_count_to_be_between", "-", "warning") not in suite_summary(events)
    result = gate(readings(0), events)
    assert result.passed and result.warnings == []
    assert result.results.num_rows == len(build_suite(events, partition=True).expectations)
    assert gate(readings(2), events).passed

    def counts_rows(name: str) -> bool:
        expectations = build_suite(get_table(name)).expectations
        return "expect_table_row_count_to_be_between" in {e.expectation_type for e in expectations}

    assert not counts_rows("mart_source__exceedance_hourly") and not counts_rows("mart_risk__indicators")
    assert counts_rows("mart_source__exceedance_daily") and counts_rows("mart_source__disclosure_daily")
    with pytest.raises(ValueError, match="may be empty is an events table"):
        dataclasses.replace(READINGS, may_be_empty=True)
