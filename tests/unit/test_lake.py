"""Partition writer: whole, atomic replacement; registry-conformed schemas."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.registry import Column, Layer, Sharing, Table
from warehouse import lake

T = Table(
    name="core_test__things",
    layer=Layer.CORE,
    source="test",
    title="t",
    description="d",
    columns=(
        Column("date", "date", "day", nullable=False),
        Column("thing_id", "string", "id", nullable=False),
        Column("mass_kg", "float64", "mass", unit="kg", min=0),
    ),
    primary_key=("thing_id", "date"),
    owner="o",
    frequency="daily",
    sharing=Sharing.CONDITIONAL,
)
D = dt.date(2024, 5, 1)


def rows(n: int, day: dt.date = D) -> pa.Table:
    return pa.table(
        {
            "mass_kg": [float(i) for i in range(n)],
            "thing_id": [f"t{i}" for i in range(n)],
            "date": pa.array([day] * n, pa.date32()),
        }
    )


def test_write_and_read_back_in_registry_order(tmp_path: Path) -> None:
    path = lake.write_partition(tmp_path, T, rows(3), D)
    assert path == tmp_path / "core" / "core_test__things" / "date=2024-05-01" / "data.parquet"
    assert "date" not in pq.read_schema(path).names  # the partition value lives in the path
    back = lake.read_partition(tmp_path, T, D)
    assert back.column_names == ["date", "thing_id", "mass_kg"]
    assert back.num_rows == 3
    assert lake.partitions(tmp_path, T) == [D]


def test_a_part_is_written_with_the_codec_asked_for_and_reads_back_the_same(tmp_path: Path) -> None:
    for codec, stored in (("zstd", "ZSTD"), ("lz4", "LZ4")):
        written = lake.write_part(tmp_path, T, rows(5), D, part=codec, compression=codec)
        meta = pq.read_metadata(tmp_path / written.rel)
        assert {meta.row_group(0).column(c).compression for c in range(meta.num_columns)} == {stored}
    zstd, lz4 = (lake.read_parts(tmp_path, T, [lake.part_file(T, D, p)], D) for p in ("zstd", "lz4"))
    assert zstd.equals(lz4) and zstd.num_rows == 5
    with pytest.raises(ValueError, match="unknown codec 'gzip'"):
        lake.write_part(tmp_path, T, rows(1), D, part="gzip", compression="gzip")
    assert not lake.partition_dir(tmp_path, T, D).joinpath("gzip.parquet").exists()


def test_a_dictionary_column_is_written_as_plain_strings(tmp_path: Path) -> None:
    data = rows(4)
    ids = pa.DictionaryArray.from_arrays(pa.array([1, 0, 1, 0], pa.int32()), pa.array(["a", "b"]))
    data = data.set_column(data.schema.get_field_index("thing_id"), "thing_id", ids)
    lake.write_partition(tmp_path, T, data, D)
    (path,) = (tmp_path / "core" / "core_test__things").rglob("*.parquet")
    assert pq.read_schema(path) == T.arrow_schema(include_partition=False).remove_metadata()
    assert lake.read_partition(tmp_path, T, D).column("thing_id").to_pylist() == ["b", "a", "b", "a"]


def test_statistics_are_written_for_the_columns_a_reader_can_prune_on(tmp_path: Path) -> None:
    noted = Table(
        name="core_test__notes",
        layer=Layer.CORE,
        source="test",
        title="t",
        description="d",
        columns=(*T.columns, Column("note", "string", "free text")),
        primary_key=T.primary_key,
        owner="o",
        frequency="daily",
        sharing=Sharing.CONDITIONAL,
    )
    data = rows(3).append_column("note", pa.array(["x", "y", None]))
    path = lake.write_partition(tmp_path, noted, data, D)
    group = pq.ParquetFile(path).metadata.row_group(0)
    stats = {group.column(i).path_in_schema: group.column(i).is_stats_set for i in range(group.num_columns)}
    assert noted.statistics_columns() == ["date", "thing_id", "mass_kg"]
    assert stats == {"thing_id": True, "mass_kg": True, "note": False}


def test_of_a_key_s_strings_only_the_leading_one_gets_statistics() -> None:
    """A compacted readings part is sorted by (segment, offset, pollutant_code, stat): a row group
    holds a narrow range of segments, and every pollutant code and statistic."""
    from schemas import source

    assert source.readings.primary_key == ("segment", "offset", "pollutant_code", "stat")
    assert source.readings.statistics_columns() == ["date", "data_at", "value", "segment", "offset"]
    assert source.hourly.statistics_columns()[:3] == ["date", "mn", "hour_at"]  # not pollutant_code


def test_rewrite_replaces_whole_partition(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, T, rows(5), D)
    lake.write_partition(tmp_path, T, rows(2), D)
    assert lake.read_partition(tmp_path, T, D).num_rows == 2
    lake.write_partition(tmp_path, T, rows(0), D)
    assert lake.read_partition(tmp_path, T, D).num_rows == 0
    assert lake.partitions(tmp_path, T) == [D]


def test_crash_during_write_leaves_previous_partition_and_no_visible_debris(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lake.write_partition(tmp_path, T, rows(4), D)
    real_write = pq.write_table

    def half_write_then_die(table: pa.Table, where: object, **kw: object) -> None:
        real_write(table.slice(0, 1), where, **kw)
        raise OSError("disk died")

    monkeypatch.setattr(pq, "write_table", half_write_then_die)
    with pytest.raises(OSError, match="disk died"):
        lake.write_partition(tmp_path, T, rows(9), D)
    monkeypatch.undo()
    assert lake.read_partition(tmp_path, T, D).num_rows == 4
    part_dir = lake.partition_dir(tmp_path, T, D)
    assert sorted(p.name for p in part_dir.iterdir()) == ["data.parquet"]


def test_rows_of_another_day_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="written to partition"):
        lake.write_partition(tmp_path, T, rows(2, dt.date(2024, 5, 2)), D)


def test_undeclared_or_missing_columns_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="undeclared"):
        lake.write_partition(tmp_path, T, rows(1).append_column("x", pa.array([1])), D)
    with pytest.raises(ValueError, match="lacks"):
        lake.write_partition(tmp_path, T, rows(1).drop_columns(["mass_kg"]), D)


@pytest.mark.parametrize("as_dictionary", [False, True])
def test_a_null_in_a_not_null_column_is_refused_and_nothing_written(
    tmp_path: Path, as_dictionary: bool
) -> None:
    data = rows(2)
    ids = pa.array(["t0", None])
    if as_dictionary:  # already the type the writer keeps: no cast pass to catch it
        ids = ids.dictionary_encode()
    data = data.set_column(data.schema.get_field_index("thing_id"), "thing_id", ids)
    with pytest.raises(ValueError, match="'thing_id' with null values to non-nullable"):
        lake.write_partition(tmp_path, T, data, D)
    assert list(tmp_path.rglob("*.parquet")) == []


def test_columns_of_another_type_are_cast_to_the_registry_s(tmp_path: Path) -> None:
    data = rows(3)
    data = data.set_column(data.schema.get_field_index("mass_kg"), "mass_kg", pa.array([1, 2, 3], pa.int32()))
    lake.write_partition(tmp_path, T, data, D)
    back = lake.read_partition(tmp_path, T, D)
    assert back.schema.field("mass_kg").type == pa.float64()
    assert back.column("mass_kg").to_pylist() == [1.0, 2.0, 3.0]


def test_write_partitions_splits_by_day(tmp_path: Path) -> None:
    both = pa.concat_tables([rows(2), rows(3, dt.date(2024, 5, 2))])
    written = lake.write_partitions(tmp_path, T, both)
    assert sorted(written) == [D, dt.date(2024, 5, 2)]
    assert lake.read_partition(tmp_path, T, dt.date(2024, 5, 2)).num_rows == 3


def test_parts_of_one_partition_are_replaced_independently(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, T, rows(2), D, part="a")
    lake.write_partition(tmp_path, T, rows(3), D, part="b")
    lake.write_partition(tmp_path, T, rows(1), D, part="a")
    assert lake.read_partition(tmp_path, T, D).num_rows == 4


def test_reading_some_columns_of_parts(tmp_path: Path) -> None:
    lake.write_partition(tmp_path, T, rows(2), D, part="a")
    lake.write_partition(tmp_path, T, rows(3), D, part="b")
    rels = [lake.part_file(T, D, "a"), lake.part_file(T, D, "b")]
    whole = lake.read_parts(tmp_path, T, rels, D)
    some = lake.read_parts(tmp_path, T, rels, D, columns=["mass_kg", "date"])
    assert some.column_names == ["date", "mass_kg"]  # the registry's order
    assert some == whole.select(["date", "mass_kg"])
    assert lake.read_parts(tmp_path, T, rels, D, columns=["thing_id"]).column_names == ["thing_id"]
    empty = lake.read_parts(tmp_path, T, [], D, columns=["mass_kg"])
    assert empty.num_rows == 0 and empty.schema.field("mass_kg").type == pa.float64()
    with pytest.raises(ValueError, match="no columns"):
        lake.read_parts(tmp_path, T, rels, D, columns=["volume"])


def test_table_naming_is_enforced() -> None:
    with pytest.raises(ValueError, match="must start with"):
        Table("things", Layer.CORE, "test", "t", "d", T.columns, ("thing_id",), "o", "f", Sharing.CONDITIONAL)
