"""One gate run per table per batch: each part's verdict is exactly the one it gets validated alone.

The oracle: for any batch, every part's verdict, result rows (counts, percentages, samples) and
messages equal those of ``validate`` called with that part alone — except freshness, evaluated once
on the batch, and primary-key duplicates across parts, which count in the batch; both are checked
against their own oracle (the union validated as one part; a key count over the batch).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pytest

from schemas.registry import Column, Layer, PairEquality, Severity, Sharing, Table
from warehouse.quality import GatePart, GateRun, GateVerdict, run_gate, run_gate_partitions, validate

T = Table(
    name="core_test__batch",
    layer=Layer.CORE,
    source="test",
    title="t",
    description="d",
    columns=(
        Column("date", "date", "day", nullable=False),
        Column("thing_id", "string", "id", nullable=False),
        Column("mass_kg", "float64", "mass", unit="kg", min=0, max=100),
        Column("mass_check_kg", "float64", "mass again", unit="kg"),
        Column("temp_c", "float64", "temperature", unit="°C", min=-40, max=60, mostly=0.9),
        Column("count_n", "int16", "a count", min=0, max=50),
        Column("grade", "string", "grade", allowed=("a", "b"), severity=Severity.WARNING),
        Column("seen_at", "timestamp", "when seen", nullable=False),
    ),
    primary_key=("thing_id", "date"),
    owner="o",
    frequency="daily",
    sharing=Sharing.CONDITIONAL,
    freshness_column="seen_at",
    freshness_tolerance=dt.timedelta(hours=1),
    freshness_severity=Severity.BLOCKING,
    pair_checks=(PairEquality("mass_kg", "mass_check_kg", mostly=0.9, description="agree"),),
)
DAYS = [dt.date(2024, 1, d) for d in (1, 2, 3, 4)]
RUN = GateRun(run_id="manual__test", task="test.gate", build="test.batch")
BEIJING = dt.timezone(dt.timedelta(hours=8))
PK_ROW = "expect_compound_columns_to_be_unique:thing_id,date"
FRESHNESS_ROW = "expect_column_max_to_be_between:seen_at"
RUN_SPECIFIC = ("date", "validated_at", "gate_run_id")


def rows(day: dt.date, n: int = 20, *, prefix: str = "t", **changes: dict[int, Any]) -> pa.Table:
    """``n`` clean rows of ``day`` (ids ``<prefix><i>``); ``changes``: column -> {row: value}."""
    noon = dt.datetime(day.year, day.month, day.day, 12, tzinfo=BEIJING).astimezone(dt.UTC)
    cols: dict[str, list[Any]] = {
        "date": [day] * n,
        "thing_id": [f"{prefix}{i}" for i in range(n)],
        "mass_kg": [float(i) for i in range(n)],
        "mass_check_kg": [float(i) for i in range(n)],
        "temp_c": [20.0] * n,
        "count_n": [i % 50 for i in range(n)],
        "grade": ["a"] * n,
        "seen_at": [noon + dt.timedelta(minutes=i) for i in range(n)],
    }
    for column, at in changes.items():
        for i, value in at.items():
            cols[column][i] = value
    return pa.table(cols, schema=T.arrow_schema(strict=False))


def part(unit: str, day: dt.date | None, data: pa.Table) -> GatePart:
    return GatePart(unit, day, data)


def by_check(verdict: GateVerdict) -> dict[str, dict[str, Any]]:
    out = {}
    for r in verdict.results.to_pylist():
        out[f"{r['expectation']}:{r['column_name']}"] = {k: v for k, v in r.items() if k not in RUN_SPECIFIC}
    return out


def comparable(verdict: GateVerdict) -> list[dict[str, Any]]:
    return [
        {k: v for k, v in r.items() if k not in (*RUN_SPECIFIC, "run_id")}
        for r in verdict.results.to_pylist()
    ]


def pk_duplicates(parts: list[GatePart]) -> list[int]:
    """Oracle for the key check: per part, its rows whose (thing_id, date) occurs twice in the batch."""
    keys = [list(zip(p.data["thing_id"].to_pylist(), p.data["date"].to_pylist(), strict=True)) for p in parts]
    seen = Counter(k for ks in keys for k in ks if k != (None, None))
    return [sum(1 for k in ks if seen[k] > 1) for ks in keys]


def assert_each_part_as_if_alone(parts: list[GatePart], expected_latest: dt.datetime | None = None) -> None:
    together = validate(T, parts, run=RUN, expected_latest=expected_latest)
    assert [(v.unit, v.partition) for v in together] == [(p.unit, p.partition) for p in parts]
    assert len({v.gate_run_id for v in together}) == 1
    duplicated = pk_duplicates(parts)
    for p, got, dupes in zip(parts, together, duplicated, strict=True):
        [alone] = validate(T, [p], run=RUN, expected_latest=expected_latest)
        assert got.row_count == alone.row_count == p.data.num_rows
        mine, theirs = by_check(got), by_check(alone)
        # batch-level checks, each against its own oracle
        if PK_ROW in mine:
            assert mine[PK_ROW]["unexpected_count"] == dupes, (p.unit, mine[PK_ROW])
            if dupes == pk_duplicates([p])[0]:  # no key shared with another part: same as alone
                assert mine[PK_ROW] | {"published": None} == theirs[PK_ROW] | {"published": None}
            mine.pop(PK_ROW), theirs.pop(PK_ROW)
        mine.pop(FRESHNESS_ROW, None), theirs.pop(FRESHNESS_ROW, None)
        assert mine == {k: v | {"published": got.passed} for k, v in theirs.items()}, p.unit
        batch_level = ("primary key", "stale:")
        assert [m for m in got.blocking_failures if not any(s in m for s in batch_level)] == [
            m for m in alone.blocking_failures if not any(s in m for s in batch_level)
        ]
        assert got.warnings == alone.warnings
        if not any(s in m for m in got.blocking_failures + alone.blocking_failures for s in batch_level):
            assert got.passed == alone.passed and got.blocking_failures == alone.blocking_failures
    if expected_latest is not None:
        assert_freshness_is_batch_level(parts, together, expected_latest)


def assert_freshness_is_batch_level(
    parts: list[GatePart], together: list[GateVerdict], expected_latest: dt.datetime
) -> None:
    """The freshness row: the union's verdict, on the parts of the newest partition only, each stating
    its own rows."""
    union = pa.concat_tables(p.data.select(T.column_names) for p in parts)
    [whole] = validate(T, [GatePart("union", None, union)], run=RUN, expected_latest=expected_latest)
    expected = {k: v for k, v in by_check(whole)[FRESHNESS_ROW].items() if k not in ("unit", "published")}
    newest = max(p.partition for p in parts if p.partition is not None)
    for p, got in zip(parts, together, strict=True):
        row = by_check(got).get(FRESHNESS_ROW)
        if p.partition != newest:
            assert row is None, p.unit
            continue
        assert row is not None and row["element_count"] == p.data.num_rows
        ignored = ("unit", "published", "partition_date", "element_count")
        assert {k: v for k, v in row.items() if k not in ignored} == {
            k: v for k, v in expected.items() if k not in ignored
        }


SHAPES: dict[str, list[GatePart]] = {
    "clean, two units per partition": [
        part(f"seg{i}", DAYS[i % 3], rows(DAYS[i % 3], prefix=f"s{i}-")) for i in range(6)
    ],
    "one bad part among many": [
        *(part(f"seg{i}", DAYS[0], rows(DAYS[0], prefix=f"s{i}-")) for i in range(4)),
        part("bad", DAYS[0], rows(DAYS[0], prefix="b-", mass_kg={3: 250.0}, thing_id={5: None})),
        part("late", DAYS[1], rows(DAYS[1], prefix="l-")),
    ],
    "mostly borderline in one part": [
        # pair: 2 of 20 differ passes (90 %), 3 of 20 fails; over the batch 5 of 60 differ would pass
        part("two", DAYS[0], rows(DAYS[0], prefix="a", mass_check_kg={0: -1.0, 1: -1.0})),
        part("three", DAYS[0], rows(DAYS[0], prefix="b", mass_check_kg={0: -1.0, 1: -1.0, 2: -1.0})),
        part("none", DAYS[0], rows(DAYS[0], prefix="c")),
        # temp_c mostly 0.9 with a NULL: 2 of 19 non-null rows out of range = 89.47 % fails
        part("temp", DAYS[1], rows(DAYS[1], prefix="d", temp_c={0: None, 1: 99.0, 2: 99.0})),
    ],
    "primary-key duplicates within and across parts": [
        part("within", DAYS[0], rows(DAYS[0], prefix="w", thing_id={1: "w0"})),
        part("across-1", DAYS[1], rows(DAYS[1], n=5, prefix="x")),
        part("across-2", DAYS[1], rows(DAYS[1], n=8, prefix="x")),  # x0..x4 also in across-1
        part("other-day", DAYS[2], rows(DAYS[2], n=5, prefix="x")),  # same ids, another date: fine
    ],
    "empty parts": [
        part("empty-1", DAYS[0], rows(DAYS[0], n=0)),
        part("full", DAYS[0], rows(DAYS[0], prefix="f", grade={2: "z"})),
        part("empty-2", DAYS[1], rows(DAYS[1], n=0)),
    ],
    "a part with another schema": [
        part("ok", DAYS[0], rows(DAYS[0], prefix="o")),
        part(
            "float32",
            DAYS[0],
            rows(DAYS[0], prefix="f").set_column(2, "mass_kg", rows(DAYS[0])["mass_kg"].cast(pa.float32())),
        ),
        part("reordered", DAYS[1], rows(DAYS[1], prefix="r").select(list(reversed(T.column_names)))),
    ],
    "int NULLs in one part, an int out of range in another": [
        part("nulls", DAYS[0], rows(DAYS[0], prefix="n", count_n={0: None})),
        part("range", DAYS[0], rows(DAYS[0], prefix="r", count_n={4: 51, 5: -2})),
    ],
    "rows of another partition, a part without partition": [
        part("wrong-day", DAYS[0], rows(DAYS[0], prefix="w", date={0: DAYS[1], 1: DAYS[3]})),
        part("right", DAYS[1], rows(DAYS[1], prefix="r")),
        part("unchecked", None, rows(DAYS[2], prefix="u")),
    ],
}


@pytest.mark.parametrize("shape", SHAPES)
def test_each_part_gets_the_verdict_it_gets_alone(shape: str) -> None:
    assert_each_part_as_if_alone(SHAPES[shape])


@pytest.mark.parametrize(
    "shape", ["clean, two units per partition", "one bad part among many", "empty parts"]
)
def test_freshness_is_evaluated_once_on_the_batch(shape: str) -> None:
    parts = SHAPES[shape]
    latest = max(t for p in parts for t in p.data["seen_at"].to_pylist())
    assert_each_part_as_if_alone(parts, expected_latest=latest)  # fresh
    assert_each_part_as_if_alone(parts, expected_latest=latest + dt.timedelta(hours=3))  # stale


def test_verdicts_name_the_part_and_the_failing_check() -> None:
    verdicts = validate(T, SHAPES["mostly borderline in one part"], run=RUN)
    assert [v.passed for v in verdicts] == [True, False, True, False]
    assert verdicts[1].blocking_failures == [
        "core_test__batch 2024-01-01 [three]: mass_kg = mass_check_kg on 85 % of rows (needs ≥ 90 %): "
        "3 of 20 rows with both differ, e.g. [[0.0, -1.0], [1.0, -1.0], [2.0, -1.0]] "
        'at key thing_id = ["b0", "b1", "b2"]'
    ]
    assert verdicts[3].blocking_failures == [
        "core_test__batch 2024-01-02 [temp]: temp_c outside [-40, 60] on 2 of 20 rows "
        "(ok on 89.47 % of 19 non-null rows, needs ≥ 90 %), e.g. [99.0, 99.0] "
        'at key thing_id = ["d1", "d2"]'
    ]
    across = validate(T, SHAPES["primary-key duplicates within and across parts"], run=RUN)
    assert [v.passed for v in across] == [False, False, False, True]
    assert "primary key (thing_id, date) duplicated on 5 of 8 rows" in across[2].blocking_failures[0]


def test_keys_meet_across_parts_whatever_the_encoding_of_their_strings() -> None:
    """A key column dictionary-encoded in one part and plain in another: one primary-key check."""
    plain = rows(DAYS[1], n=5, prefix="x")
    i = plain.schema.get_field_index("thing_id")
    encoded = plain.set_column(i, "thing_id", pc.dictionary_encode(plain.column("thing_id")))
    verdicts = validate(T, [part("plain", DAYS[1], plain), part("encoded", DAYS[1], encoded)], run=RUN)
    assert [v.passed for v in verdicts] == [False, False]
    assert "primary key (thing_id, date) duplicated on 5 of 5 rows" in verdicts[1].blocking_failures[0]


def test_the_number_of_gx_runs_does_not_grow_with_the_parts() -> None:
    def gx_runs(parts: list[GatePart]) -> float:
        verdicts = validate(T, parts, run=RUN)
        assert len(verdicts) == len(parts)
        timings = verdicts[0].timings  # a schema unit's results are reused for a schema seen before
        return timings["gx_validations"] + timings["schema_results_reused"]

    def batch(n: int, bad: set[int] = set()) -> list[GatePart]:  # noqa: B006 - read only
        return [
            part(
                f"u{i}",
                DAYS[i % 4],
                rows(DAYS[i % 4], n=5, prefix=f"u{i}-", mass_kg={1: 500.0} if i in bad else {}),
            )
            for i in range(n)
        ]

    clean = gx_runs([part("all", DAYS[0], rows(DAYS[0], n=100))])
    assert clean == gx_runs(batch(40)) > 0
    # a unit with unexpected rows runs once more, in COMPLETE format (the rows' positions): per batch
    assert clean < gx_runs(batch(2, bad={1})) == gx_runs(batch(40, bad={3, 17, 30})) < 2 * clean
    # a part with another Arrow schema is validated as its own batch: one more set of runs
    assert gx_runs(SHAPES["a part with another schema"]) == 2 * clean


def test_run_gate_partitions_equals_run_gate_per_day() -> None:
    days = [
        rows(DAYS[0]),
        rows(DAYS[1], mass_check_kg={0: -1.0}),
        rows(DAYS[2], mass_check_kg=dict.fromkeys(range(5), -1.0)),
        rows(DAYS[3], thing_id={0: None}, grade={1: "z"}),
    ]
    together = run_gate_partitions(T, pa.concat_tables(days))
    assert sorted(together) == DAYS
    for day, data in zip(DAYS, days, strict=True):
        alone = run_gate(T, data, partition_date=day)
        got = together[day]
        assert (got.passed, got.blocking_failures, got.warnings) == (
            alone.passed,
            alone.blocking_failures,
            alone.warnings,
        )
        assert comparable(got) == comparable(alone)
    assert [together[d].passed for d in DAYS] == [True, True, False, False]


def as_dictionaries(data: pa.Table) -> pa.Table:
    """``data`` with its string columns as dictionaries, as the HJ 212 parser hands them over; each
    dictionary also holds an entry no row has (a part keeps its whole input's dictionary), one the
    ``allowed`` check would refuse."""
    for i, f in enumerate(data.schema):
        if f.type == pa.string():
            encoded = data.column(i).combine_chunks().dictionary_encode()
            unused = pa.concat_arrays([encoded.dictionary, pa.array(["not-allowed"])])
            column = pa.DictionaryArray.from_arrays(encoded.indices, unused)
            data = data.set_column(i, f.with_type(column.type), column)
    return data


@pytest.mark.parametrize("shape", SHAPES)
def test_dictionary_columns_get_the_verdicts_of_plain_strings(shape: str) -> None:
    parts = SHAPES[shape]
    plain = validate(T, parts, run=RUN)
    dictionaries = validate(
        T, [GatePart(p.unit, p.partition, as_dictionaries(p.data)) for p in parts], run=RUN
    )
    assert any(pa.types.is_dictionary(f.type) for p in parts for f in as_dictionaries(p.data).schema)
    for got, expected in zip(dictionaries, plain, strict=True):
        assert (got.passed, got.blocking_failures, got.warnings) == (
            expected.passed,
            expected.blocking_failures,
            expected.warnings,
        )
        assert comparable(got) == comparable(expected)


@pytest.mark.parametrize("dictionaries", [False, True], ids=["plain", "dictionary"])
def test_key_duplicates_in_a_batch_of_many_rows(dictionaries: bool) -> None:
    """Past 65,536 rows the key check sorts only the keys that share a hash bucket: every duplicate,
    within a part or across parts, is still found and attributed to its part."""
    n = 36_000
    first = rows(DAYS[0], n=n, prefix="a", thing_id={7: "a9", 30_000: "a29999"})  # 2 pairs within
    second = rows(DAYS[0], n=n, prefix="b", thing_id={0: "a5", 1: "a6", 2: "a6"})  # across parts
    third = rows(DAYS[1], n=n, prefix="a")  # same ids, another date: no duplicate
    parts = [part("one", DAYS[0], first), part("two", DAYS[0], second), part("three", DAYS[1], third)]
    if dictionaries:
        parts = [GatePart(p.unit, p.partition, as_dictionaries(p.data)) for p in parts]
    verdicts = validate(T, parts, run=RUN)
    assert pk_duplicates(parts) == [6, 3, 0]
    assert [by_check(v)[PK_ROW]["unexpected_count"] for v in verdicts] == [6, 3, 0]
    assert [any("primary key" in m for m in v.blocking_failures) for v in verdicts] == [True, True, False]
