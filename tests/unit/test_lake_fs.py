"""The lake's location: file:// or s3:// URLs, settings, paths that stay inside, per-process S3 clients."""

from __future__ import annotations

import datetime as dt
import pickle
from pathlib import Path

import pytest

from ecocloud.settings import Settings
from schemas import air
from warehouse import lake as lk
from warehouse.fs import LocalLake, NotLocalError, S3Lake, S3Options, as_lake, lake_at


def test_lake_urls(tmp_path: Path) -> None:
    assert lake_at(tmp_path.as_uri()) == LocalLake(tmp_path)
    assert lake_at(str(tmp_path)) == LocalLake(tmp_path)
    s3 = lake_at("s3://bucket/some/prefix/")
    assert isinstance(s3, S3Lake) and (s3.bucket, s3.prefix) == ("bucket", "some/prefix")
    assert (
        s3.uri("core/t/date=2026-03-01/data.parquet")
        == "s3://bucket/some/prefix/core/t/date=2026-03-01/data.parquet"
    )
    assert lake_at("s3://bucket").uri("raw/x") == "s3://bucket/raw/x"
    for bad in ("http://host/lake", "s3://", "file://otherhost/lake"):
        with pytest.raises(ValueError, match=r"s3:|file:"):
            lake_at(bad)


def test_settings_default_to_the_local_lake_in_the_home(tmp_path: Path) -> None:
    settings = Settings(home=tmp_path)
    assert settings.lake_store == LocalLake(tmp_path / "lake") and settings.lake == tmp_path / "lake"
    assert settings.hj212_landing == tmp_path / "lake" / "raw" / "hj212"


def test_settings_of_an_s3_lake(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        lake_url="s3://ecocloud-lake/lake",
        s3_endpoint_url="http://minio:9000",
        s3_access_key_id="ecocloud",
        s3_secret_access_key="not-in-logs",
        s3_region="us-east-1",
    )
    store = settings.lake_store
    assert isinstance(store, S3Lake) and store.url == "s3://ecocloud-lake/lake"
    assert store.options == S3Options("http://minio:9000", "ecocloud", "not-in-logs", "us-east-1")
    assert "not-in-logs" not in repr(settings) + repr(store) + repr(store.options)
    with pytest.raises(NotLocalError):
        _ = settings.lake  # code that assumes a local folder fails loudly, never writes ./lake
    assert settings.hj212_landing == tmp_path.resolve() / "hj212"  # the receiver lands on local disk


def test_s3_paths_stay_inside_their_folder() -> None:
    store = S3Lake("s3://b/lake")
    assert store.contains("raw/air/date=2026-03-01/x.csv", "raw/air")
    assert not store.contains("raw/air/../credit/x.csv", "raw/air")
    assert not store.contains("raw/airx/y.csv", "raw/air")


def test_an_s3_lake_makes_its_client_per_process() -> None:
    store = S3Lake("s3://b/lake", S3Options("http://127.0.0.1:9", "k", "s", "us-east-1"))
    client = store.fs
    assert store.fs is client  # one per process
    copy = pickle.loads(pickle.dumps(store))  # what a forked worker receives
    assert copy == store and copy._fs is None


def test_local_parts_keep_their_name_and_paths_still_work(tmp_path: Path) -> None:
    day = dt.date(2026, 3, 1)
    rows = air.station_hourly.empty()
    put = lk.write_part(tmp_path, air.station_hourly, rows, day)
    assert put.part == lk.DEFAULT_PART
    assert Path(put.uri) == lk.partition_dir(tmp_path, air.station_hourly, day) / "data.parquet"
    assert put.size_bytes == Path(put.uri).stat().st_size
    assert as_lake(tmp_path).glob(lk.table_pattern(air.station_hourly)) == [put.rel]
    assert lk.read_parts(tmp_path, air.station_hourly, [put.rel], day).num_rows == 0


def test_a_file_of_another_schema_is_read_as_the_schema_asked_for(tmp_path: Path) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    store = LocalLake(tmp_path)
    wanted = pa.schema([pa.field("code", pa.string(), nullable=False), pa.field("value", pa.float64())])
    pq.write_table(
        pa.table({"code": ["a", "b"], "value": [1.0, None]}, schema=wanted), tmp_path / "same.parquet"
    )
    pq.write_table(pa.table({"code": ["c"]}), tmp_path / "older.parquet")  # no value column yet
    same = store.read_parquet("same.parquet", wanted)
    assert same.schema.equals(wanted) and same.column("value").to_pylist() == [1.0, None]
    older = store.read_parquet("older.parquet", wanted)
    assert older.schema.equals(wanted) and older.to_pylist() == [{"code": "c", "value": None}]
    assert store.read_parquet("same.parquet", wanted, columns=["value"]).column_names == ["value"]
