"""Where the lake lives — a local folder or an S3 prefix — behind one small interface.

Every read and write of the lake goes through a :class:`Lake`. Paths given to it are relative to
its root, in POSIX form (``core/core_air__station_hourly/date=2026-03-01/data.parquet``);
:meth:`Lake.uri` turns one into the location DuckDB and pyarrow read (a local path, or
``s3://bucket/prefix/…``).

* :class:`LocalLake` (``file:///…`` or a plain path) does direct local I/O: a temporary file,
  fsync, rename over the final name, fsync of the folder — a reader sees the old file or the new
  one, and a crash leaves only a hidden temporary file.
* :class:`S3Lake` (``s3://bucket/prefix``) goes through s3fs (fsspec). An object PUT is atomic, so
  objects are written under their final name; the lake writer gives a replaced part a new name
  (``warehouse.lake``) and the ledger publishes it. DuckDB reads the same objects through the same
  filesystem (:meth:`Lake.register`), so no DuckDB extension is installed or loaded.

s3fs instances are not fork-safe and the runner forks worker processes: an :class:`S3Lake` makes
its filesystem lazily, once per process.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import os
import posixpath
import re
import uuid
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.parquet as pq

if TYPE_CHECKING:
    import duckdb
    from fsspec import AbstractFileSystem

# No Arrow schema in the footer: a column a parser handed over as a dictionary of strings reads back
# as plain strings, like every other part of its table (registry types need no Arrow schema to round-trip)
DEFAULT_CODEC = "zstd"  # the smallest files
PARQUET_OPTIONS: dict[str, Any] = {
    "compression": DEFAULT_CODEC,
    "row_group_size": 256_000,
    "store_schema": False,
}
# the codecs a write may ask for: the default, or lz4, about half the CPU on a small file (zstd sets
# up a context per column chunk) for 25–40 % more bytes, which suits parts that a compaction rewrites
# later (LSM stores pick codecs per level the same way)
CODECS = (DEFAULT_CODEC, "lz4")


def check_codec(compression: str, owner: str = "") -> None:
    """Raise ValueError unless ``compression`` is one of ``CODECS`` (``owner``: who asked, for the message)."""
    if compression not in CODECS:
        where = f"{owner}: " if owner else ""
        raise ValueError(f"{where}unknown codec {compression!r}: one of {', '.join(CODECS)}")


def write_parquet_to(
    sink: Path | io.BytesIO,
    data: pa.Table,
    statistics: bool | list[str],
    key_value: dict[str, str] | None,
    compression: str = DEFAULT_CODEC,
) -> None:
    """``data`` as Parquet with the lake's options; ``key_value``: entries of the footer's metadata."""
    check_codec(compression)
    options = PARQUET_OPTIONS | {"compression": compression, "write_statistics": statistics}
    if not key_value:
        pq.write_table(data, sink, **options)
        return
    del options["row_group_size"]
    with pq.ParquetWriter(sink, data.schema, **options) as writer:
        writer.write_table(data, row_group_size=PARQUET_OPTIONS["row_group_size"])
        writer.add_key_value_metadata(key_value)


# what temporary_beside names: a killed process leaves these behind (warehouse.sweep finds them)
TEMPORARY_NAME = re.compile(r"\..+\.[0-9a-f]{32}\.tmp")


def temporary_beside(path: Path) -> Path:
    """A hidden, unique temporary file beside ``path``, to write before renaming it over ``path``."""
    return path.parent / f".{path.name}.{uuid.uuid4().hex}.tmp"


class NotLocalError(RuntimeError):
    """A local path was asked of a lake that is not on the local disk."""


@dataclass(frozen=True)
class FileInfo:
    size: int
    modified: dt.datetime  # UTC


@dataclass(frozen=True)
class S3Options:
    """How to reach the object store (``ECOCLOUD_S3_*``); None: botocore's defaults."""

    endpoint_url: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)
    region: str | None = None


class Lake(ABC):
    """The lake's storage. Subclasses: :class:`LocalLake`, :class:`S3Lake`."""

    url: str  # file:///… or s3://bucket/prefix

    @property
    @abstractmethod
    def is_local(self) -> bool: ...

    @abstractmethod
    def uri(self, rel: str = "") -> str:
        """The full location of ``rel``: what DuckDB and pyarrow open."""

    @abstractmethod
    def exists(self, rel: str) -> bool: ...

    @abstractmethod
    def read_bytes(self, rel: str) -> bytes: ...

    @abstractmethod
    def write_bytes(self, rel: str, data: bytes) -> None:
        """Create or replace ``rel`` with ``data`` atomically (readers never see part of it)."""

    @abstractmethod
    def write_parquet(
        self,
        rel: str,
        data: pa.Table,
        *,
        statistics: bool | list[str] = True,
        key_value: dict[str, str] | None = None,
        compression: str = DEFAULT_CODEC,
    ) -> int:
        """Write ``data`` as Parquet to ``rel`` atomically (min/max ``statistics`` of every column, or
        of the columns named; ``key_value`` into the footer; a codec of ``CODECS``); returns the
        file's size in bytes."""

    @abstractmethod
    def delete(self, rel: str) -> None:
        """Remove ``rel`` (nothing happens when it is not there)."""

    def delete_many(self, rels: Sequence[str]) -> None:
        """Remove every one of ``rels`` (missing ones are fine)."""
        for rel in rels:
            self.delete(rel)

    @abstractmethod
    def glob(self, pattern: str) -> list[str]:
        """Relative paths matching ``pattern`` (``*`` within one path segment), sorted."""

    @abstractmethod
    def info(self, rel: str) -> FileInfo: ...

    @abstractmethod
    def parquet_metadata(self, rel: str) -> pq.FileMetaData:
        """A Parquet file's footer (only the footer is read)."""

    def parquet_rows(self, rel: str) -> int:
        """Rows of a Parquet file, from its footer."""
        return int(self.parquet_metadata(rel).num_rows)

    @abstractmethod
    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        """Let ``con`` read this lake's :meth:`uri` locations."""

    @abstractmethod
    def contains(self, rel: str, folder: str) -> bool:
        """Whether ``rel`` stays inside ``folder`` (no ``..``, no symlink leading out)."""

    def local_path(self, rel: str = "") -> Path:
        raise NotLocalError(f"the lake is {self.url}, not a local folder")

    def read_parquet(
        self, rel: str, schema: pa.Schema | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        """A Parquet file (only ``columns``, when given: the others are not decoded)."""
        return pq.read_table(pa.BufferReader(self.read_bytes(rel)), schema=schema, columns=columns)

    def connect(self) -> duckdb.DuckDBPyConnection:
        """A fresh in-memory DuckDB connection that reads this lake."""
        import duckdb

        con = duckdb.connect()
        self.register(con)
        return con


def _clean(rel: str) -> str:
    return rel.replace("\\", "/").strip("/")


# ---------------------------------------------------------------------------------------- local
class LocalLake(Lake):
    def __init__(self, root: Path) -> None:
        self.root = root.expanduser()
        self.url = self.root.absolute().as_uri()

    def __repr__(self) -> str:
        return f"LocalLake({str(self.root)!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LocalLake) and other.root == self.root

    def __hash__(self) -> int:
        return hash(self.root)

    @property
    def is_local(self) -> bool:
        return True

    def local_path(self, rel: str = "") -> Path:
        if Path(rel).is_absolute():  # a raw object recorded outside the lake (an HJ 212 landing zone)
            return Path(rel)
        rel = _clean(rel)
        return self.root / rel if rel else self.root

    def uri(self, rel: str = "") -> str:
        return str(self.local_path(rel))

    def exists(self, rel: str) -> bool:
        return self.local_path(rel).exists()

    def read_bytes(self, rel: str) -> bytes:
        return self.local_path(rel).read_bytes()

    def write_bytes(self, rel: str, data: bytes) -> None:
        def write(tmp: Path) -> None:
            with open(tmp, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())

        self._atomic(self.local_path(rel), write)

    def write_parquet(
        self,
        rel: str,
        data: pa.Table,
        *,
        statistics: bool | list[str] = True,
        key_value: dict[str, str] | None = None,
        compression: str = DEFAULT_CODEC,
    ) -> int:
        path = self.local_path(rel)

        def write(tmp: Path) -> None:
            write_parquet_to(tmp, data, statistics, key_value, compression)
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())

        self._atomic(path, write)
        return path.stat().st_size

    @staticmethod
    def _atomic(path: Path, write: Any) -> None:
        """``write(tmp)`` a hidden temporary file beside ``path``, then rename it over ``path``."""
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temporary_beside(path)
        try:
            write(tmp)
            os.replace(tmp, path)
            fsync_dir(path.parent)
        finally:
            tmp.unlink(missing_ok=True)

    def delete(self, rel: str) -> None:
        self.delete_many([rel])

    def delete_many(self, rels: Sequence[str]) -> None:
        folders = set()
        for rel in rels:
            path = self.local_path(rel)
            if path.exists():
                path.unlink()
                folders.add(path.parent)
        for folder in sorted(folders):  # one sync per folder, not per file (compaction deletes many)
            fsync_dir(folder)

    def glob(self, pattern: str) -> list[str]:
        if not self.root.is_dir():
            return []
        return sorted(p.relative_to(self.root).as_posix() for p in self.root.glob(_clean(pattern)))

    def info(self, rel: str) -> FileInfo:
        st = self.local_path(rel).stat()
        return FileInfo(st.st_size, dt.datetime.fromtimestamp(st.st_mtime, dt.UTC))

    def parquet_metadata(self, rel: str) -> pq.FileMetaData:
        return pq.read_metadata(self.local_path(rel))

    def read_parquet(
        self, rel: str, schema: pa.Schema | None = None, columns: Sequence[str] | None = None
    ) -> pa.Table:
        path = self.local_path(rel)
        if schema is not None:
            # a file written with the schema asked for is read directly: asking pyarrow to read it
            # *as* a schema goes through its dataset layer (~2 ms a file)
            with pq.ParquetFile(path) as file:
                if file.schema_arrow.equals(schema, check_metadata=False):
                    return file.read(columns=columns)
        return pq.read_table(path, schema=schema, columns=columns)

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        return None  # DuckDB reads local paths itself

    def contains(self, rel: str, folder: str) -> bool:
        # resolve() also catches a symlinked folder pointing elsewhere
        return self.local_path(rel).resolve().is_relative_to(self.local_path(folder).resolve())


def fsync_dir(folder: Path) -> None:
    dir_fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


# ------------------------------------------------------------------------------------------- S3
class S3Lake(Lake):
    def __init__(self, url: str, options: S3Options | None = None) -> None:
        bucket, _, prefix = url.removeprefix("s3://").partition("/")
        if not url.startswith("s3://") or not bucket:
            raise ValueError(f"not an s3://bucket[/prefix] URL: {url!r}")
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.root = f"{bucket}/{self.prefix}" if self.prefix else bucket
        self.url = f"s3://{self.root}"
        self.options = options or S3Options()
        self._fs: AbstractFileSystem | None = None
        self._pid = 0

    def __repr__(self) -> str:
        return f"S3Lake({self.url!r}, endpoint={self.options.endpoint_url!r})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, S3Lake) and (other.url, other.options) == (self.url, self.options)

    def __hash__(self) -> int:
        return hash(self.url)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fs": None, "_pid": 0}  # each process makes its own filesystem

    @property
    def is_local(self) -> bool:
        return False

    @property
    def fs(self) -> AbstractFileSystem:
        """The s3fs filesystem of this process (made on first use; again after a fork)."""
        if self._fs is None or self._pid != os.getpid():
            import s3fs

            o = self.options
            self._fs = s3fs.S3FileSystem(
                key=o.access_key_id,
                secret=o.secret_access_key,
                endpoint_url=o.endpoint_url,
                client_kwargs={"region_name": o.region} if o.region else {},
                # an S3-compatible server (MinIO) is addressed by path, not by bucket host name
                config_kwargs={"s3": {"addressing_style": "path"}} if o.endpoint_url else {},
                use_listings_cache=False,  # other processes write the lake: never trust a cached listing
                skip_instance_cache=True,
            )
            self._pid = os.getpid()
        return self._fs

    def key(self, rel: str) -> str:
        """The filesystem path (``bucket/prefix/rel``) of ``rel``."""
        rel = _clean(rel)
        return f"{self.root}/{rel}" if rel else self.root

    def uri(self, rel: str = "") -> str:
        return f"s3://{self.key(rel)}"

    def exists(self, rel: str) -> bool:
        return bool(self.fs.exists(self.key(rel)))

    def read_bytes(self, rel: str) -> bytes:
        return bytes(self.fs.cat_file(self.key(rel)))

    def write_bytes(self, rel: str, data: bytes) -> None:
        self.fs.pipe_file(self.key(rel), data)  # one PUT (or a multipart upload): atomic per object

    def write_parquet(
        self,
        rel: str,
        data: pa.Table,
        *,
        statistics: bool | list[str] = True,
        key_value: dict[str, str] | None = None,
        compression: str = DEFAULT_CODEC,
    ) -> int:
        buf = io.BytesIO()
        write_parquet_to(buf, data, statistics, key_value, compression)
        body = buf.getvalue()
        self.write_bytes(rel, body)
        return len(body)

    def delete(self, rel: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm_file(self.key(rel))

    def glob(self, pattern: str) -> list[str]:
        strip = len(self.root) + 1
        return sorted(str(p)[strip:] for p in self.fs.glob(self.key(pattern)))

    def info(self, rel: str) -> FileInfo:
        meta = self.fs.info(self.key(rel))
        modified = meta.get("LastModified") or dt.datetime.now(dt.UTC)
        return FileInfo(int(meta["size"]), modified.astimezone(dt.UTC))

    def parquet_metadata(self, rel: str) -> pq.FileMetaData:
        with self.fs.open(self.key(rel), "rb") as fh:
            return pq.ParquetFile(fh).metadata

    def register(self, con: duckdb.DuckDBPyConnection) -> None:
        con.register_filesystem(self.fs)

    def contains(self, rel: str, folder: str) -> bool:
        path = posixpath.normpath("/" + _clean(rel))
        return path.startswith(posixpath.normpath("/" + _clean(folder)) + "/")


# ------------------------------------------------------------------------------------ locating
def lake_at(location: str | Path, s3: S3Options | None = None) -> Lake:
    """The lake at ``location``: ``s3://bucket/prefix``, ``file:///path`` or a plain path."""
    text = str(location)
    if text.startswith("s3://"):
        return S3Lake(text, s3)
    if text.startswith("file://"):
        from urllib.parse import unquote, urlparse

        parsed = urlparse(text)
        if parsed.netloc not in ("", "localhost"):
            raise ValueError(f"a file:// lake URL names no host: {text!r}")
        return LocalLake(Path(unquote(parsed.path)))
    if "://" in text:
        raise ValueError(f"the lake is file://… or s3://…, not {text!r}")
    return LocalLake(Path(text))


LakeLike = Lake | Path


def as_lake(lake: LakeLike) -> Lake:
    """A :class:`Lake` as is; a ``Path`` is the local lake in that folder."""
    return lake if isinstance(lake, Lake) else LocalLake(lake)
