"""The schema registry: every field, every table's columns, keys, checks and catalog metadata.

This is the single source of truth. Parquet schemas (``arrow_schema``), DuckDB views
(``warehouse.serving``), Great Expectations suites (``warehouse.quality``), DAG Assets and catalog
pages are all generated from the ``Table`` objects declared in the ``schemas.<source>`` modules.

Fields are declared once (as PUDL's field metadata is): a ``Fields`` namespace holds each field's
type, unit, description, range and allowed values, and tables list fields by name. A namespace
looks names up in itself, then in its parent (``SHARED`` holds the fields many sources use:
``date``, ``uscc``, ``region_code`` …), so one name means one thing within a source. A table may
restate what a field means in it (``description`` with ``description_zh``) and whether it may be NULL
there, nothing else.
Where a source uses one column name for different things in different tables (HJ 212 ``flag``: a
packet's Flag field, a reading's data flag, a mart's rolled-up flag), each meaning gets its own
nested namespace (``Fields("source.readings", parent=F)``); a nested name keeps the type and unit of
the name it shadows (tests/unit/test_registry_rules.py).

``register`` refuses a table with a column that no namespace declared, a column without a Chinese
description, a numeric column without a unit, or incomplete catalog metadata (Chinese title and
description, upstream system, and the sharing conditions of a table that is not shared
unconditionally).

``Layer.STAGE`` tables are the typed rows a parser hands to a build: declared here like every other
table (so no code outside ``schemas/`` lists columns), held in memory, never written to the lake.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from enum import StrEnum
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc


class Layer(StrEnum):
    STAGE = "stage"  # typed rows handed from a parser to a build; in memory, never published
    CORE = "core"
    MART = "mart"
    QUARANTINE = "quarantine"
    QUALITY = "quality"
    PLATFORM = "platform"  # the platform's own state (raw manifest, builds, lineage): kept in the ledger
    CATALOG = "catalog"  # the shared catalog (信息资源共享目录): tables in the serving database

    @property
    def in_lake(self) -> bool:
        """Whether its tables are Parquet files in the lake (not in memory, the ledger or the serving file)."""
        return self not in (Layer.STAGE, Layer.PLATFORM, Layer.CATALOG)

    @property
    def holds_published_rows(self) -> bool:
        """Whether its rows count as a source's published rows (the ingestion page): what passed the
        gate, what was built from it and the gate's results; not quarantined rows."""
        return self in (Layer.CORE, Layer.MART, Layer.QUALITY)


class Sharing(StrEnum):
    """Sharing level of the government information-resource catalog (政务信息资源共享目录)."""

    UNCONDITIONAL = "无条件共享"
    CONDITIONAL = "有条件共享"
    NOT_SHARED = "不予共享"


class DateSpan(StrEnum):
    """The time one value of a table's date key stands for (catalog coverage and freshness)."""

    DAY = "day"  # its Beijing day
    MONTH = "month"  # the Beijing month whose first day it is


class Severity(StrEnum):
    BLOCKING = "blocking"  # a failure stops publication of the partition
    WARNING = "warning"  # a failure is recorded and reported, the partition is published


# Logical types -> Arrow types. DuckDB types follow from Arrow.
_ARROW_TYPES: dict[str, pa.DataType] = {
    "string": pa.string(),
    "bool": pa.bool_(),
    "int8": pa.int8(),
    "int16": pa.int16(),
    "int32": pa.int32(),
    "int64": pa.int64(),
    "float64": pa.float64(),
    "date": pa.date32(),
    "timestamp": pa.timestamp("us", tz="UTC"),
}

NUMERIC_TYPES = frozenset({"int8", "int16", "int32", "int64", "float64"})

_DUCKDB_TYPES: dict[str, str] = {
    "string": "VARCHAR",
    "bool": "BOOLEAN",
    "int8": "TINYINT",
    "int16": "SMALLINT",
    "int32": "INTEGER",
    "int64": "BIGINT",
    "float64": "DOUBLE",
    "date": "DATE",
    "timestamp": "TIMESTAMP WITH TIME ZONE",
}


@dataclass(frozen=True)
class Department:
    """Who owns a dataset (数据责任部门) and whom to ask about it."""

    name_zh: str
    name_en: str
    contact: str  # the data steward's mailbox or phone


@dataclass(frozen=True)
class Frequency:
    """How often a dataset is updated; ``expected`` (None: on change only) drives catalog freshness."""

    label_zh: str
    label_en: str
    expected: timedelta | None


class Codes(Mapping[str, str]):
    """A closed list of codes, in order, each with its Chinese label (``in_force`` → 有效) and, where
    given as ``(Chinese, English)``, its English one: a column's allowed values as
    ``Column(…, allowed=codes)`` takes them, and what a page, a report or the catalog shows for each.
    ``label(code)`` is the code itself where it has no label (a value the registry does not know is
    shown, not hidden)."""

    def __init__(self, labels: Mapping[str, str | tuple[str, str]]) -> None:
        pairs = {code: (label, "") if isinstance(label, str) else label for code, label in labels.items()}
        if not pairs or not all(code and zh for code, (zh, _) in pairs.items()):
            raise ValueError("codes need a non-empty code and label each")
        self._labels = {code: zh for code, (zh, _) in pairs.items()}
        self._english = {code: en for code, (_, en) in pairs.items() if en}

    def __getitem__(self, code: str) -> str:
        return self._labels[code]

    def __iter__(self) -> Iterator[str]:
        return iter(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    def __hash__(self) -> int:
        return hash((tuple(self._labels.items()), tuple(self._english.items())))

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Codes)
            and list(self._labels.items()) == list(other._labels.items())
            and self._english == other._english
        )

    def __repr__(self) -> str:
        return f"Codes({self._labels!r})"

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(self._labels)

    def label(self, code: str | None, default: str = "") -> str:
        """The label of ``code``; the code itself where it has none; ``default`` for NULL."""
        if code is None or code == "":
            return default
        return self._labels.get(code, code)

    def in_language(self, lang: str) -> Mapping[str, str]:
        """code → label in ``lang`` ("zh" or "en"); in English the Chinese where no English is given."""
        return (
            self._labels if lang != "en" else {c: self._english.get(c, zh) for c, zh in self._labels.items()}
        )

    def subset(self, *codes: str) -> Codes:
        """These codes with their labels, in the order given."""
        return Codes({c: (self._labels[c], self._english.get(c, "")) for c in codes})


# a check's severity (Severity), as the pages name it
SEVERITIES = Codes({"blocking": ("阻断发布", "blocking"), "warning": ("警告", "warning")})


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    description: str
    # Every numeric column has one: a physical unit (µg/m³, mg/L, °, t/a), "%" for shares, "1" for
    # dimensionless indices, ranks, classes and pH, "count" for counts, "h" for hours. A column whose
    # unit differs by row names the column holding it in braces: "{unit}".
    unit: str | None = None
    nullable: bool = True
    # physical range: values outside are impossible, not merely unusual
    min: float | None = None
    max: float | None = None
    # the values a row may hold; given as ``Codes``, each with its label (kept in ``labels``)
    allowed: tuple[str, ...] | Codes | None = None
    labels: Codes | None = None
    # share of rows that must satisfy the range / allowed-values check for a blocking pass
    mostly: float = 1.0
    severity: Severity = Severity.BLOCKING
    namespace: str | None = None  # set by ``Fields.define``: where the field is declared
    # decimals shown to people (pages, spreadsheets, the CLI's tables) where a column's every digit
    # would mislead: a score of 2.0833333 is 2.08 everywhere; the data keeps every digit
    decimals: int | None = None
    # a short heading for the column where people read it under one (spreadsheet and CSV headers),
    # in English and Chinese, both or neither: "Risk score" / 风险得分 (not ``labels``, which name
    # its values)
    heading: str | None = None
    heading_zh: str | None = None
    # what the catalog's Chinese pages and the serving comments say (信息项说明); ``register``
    # refuses a column without one
    description_zh: str = ""

    def __post_init__(self) -> None:
        if self.type not in _ARROW_TYPES:
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")
        if (self.heading is None) != (self.heading_zh is None) or "" in (self.heading, self.heading_zh):
            raise ValueError(
                f"column {self.name}: a heading is given in English and Chinese, both or neither"
            )
        if isinstance(self.allowed, Codes):  # frozen: set once, here
            object.__setattr__(self, "labels", self.allowed)
            object.__setattr__(self, "allowed", self.allowed.codes)
        elif self.labels is not None and tuple(self.labels) != self.allowed:
            raise ValueError(f"column {self.name}: labels must be of exactly its allowed values")

    @property
    def arrow_type(self) -> pa.DataType:
        return _ARROW_TYPES[self.type]

    @property
    def is_numeric(self) -> bool:
        return self.type in NUMERIC_TYPES

    @property
    def duckdb_type(self) -> str:
        return _DUCKDB_TYPES[self.type]

    def heading_in(self, lang: str) -> str:
        """The column's heading in ``lang`` ("zh" or "en"); an error where it declares none."""
        if lang not in ("zh", "en"):
            raise ValueError(f"no heading language {lang!r}: zh or en")
        heading = self.heading if lang == "en" else self.heading_zh
        if heading is None:
            raise LookupError(f"column {self.name} declares no heading")
        return heading

    @property
    def comment(self) -> str:
        """What a SQL comment on the column says (serving views, DDL exports): the Chinese
        description, the English one and the unit."""
        text = f"{self.description_zh} / {self.description}" if self.description_zh else self.description
        return text + (f" [{self.unit}]" if self.unit else "")


class Fields:
    """A namespace of field declarations: each name declared once, tables use them by name."""

    def __init__(self, namespace: str, parent: Fields | None = None) -> None:
        self.namespace = namespace
        self.parent = parent
        self._fields: dict[str, Column] = {}

    def define(self, *columns: Column) -> None:
        for col in columns:
            if col.name in self._fields:
                raise ValueError(f"field {col.name!r} declared twice in namespace {self.namespace!r}")
            self._fields[col.name] = replace(col, namespace=self.namespace)

    def get(
        self,
        name: str,
        *,
        description: str | None = None,
        description_zh: str | None = None,
        nullable: bool | None = None,
    ) -> Column:
        """The field ``name`` as a table column; ``description`` (with ``description_zh``, both or
        neither: one language must not say what the other does not) and ``nullable`` restate it for
        that table."""
        if (description is None) != (description_zh is None):
            raise ValueError(f"field {name!r}: restate description and description_zh together")
        found = self._fields.get(name)
        if found is None:
            if self.parent is None:
                raise KeyError(f"field {name!r} is not declared in namespace {self.namespace!r}")
            found = self.parent.get(name)
        changes: dict[str, Any] = {}
        if description is not None:
            changes["description"] = description
            changes["description_zh"] = description_zh
        if nullable is not None:
            changes["nullable"] = nullable
        return replace(found, **changes) if changes else found

    def __call__(self, *names: str) -> tuple[Column, ...]:
        """Several fields as columns, in the order given."""
        return tuple(self.get(n) for n in names)

    def declared(self) -> dict[str, Column]:
        return dict(self._fields)

    def decimals(self) -> dict[str, int]:
        """The decimals people are shown of each field that declares them (``Column.decimals``)."""
        return {name: c.decimals for name, c in self._fields.items() if c.decimals is not None}


@dataclass(frozen=True)
class PairEquality:
    """Two columns that must agree on a share of rows where both are present (e.g. AQI vs published)."""

    column_a: str
    column_b: str
    mostly: float
    description: str
    severity: Severity = Severity.BLOCKING


@dataclass(frozen=True)
class Table:
    name: str
    layer: Layer
    source: str
    title: str  # English title
    description: str  # English description
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...]
    owner: Department
    frequency: Frequency
    sharing: Sharing
    partition_by: str | None = "date"
    # catalog metadata (信息资源共享目录)
    title_zh: str = ""
    description_zh: str = ""
    sharing_conditions: str | None = None  # required unless the sharing level is 无条件共享
    source_system: str = ""  # the upstream system the data comes from (Chinese name, English name)
    # freshness: the newest value of this column must reach the start of the run's data interval, less
    # the tolerance (ecocloud.runner.context.RunInfo.expected_latest)
    freshness_column: str | None = None
    freshness_tolerance: timedelta = timedelta(hours=2)
    # A late upstream is reported, not blocked by default: the hours already received still publish.
    freshness_severity: Severity = Severity.WARNING
    # what a value of the date partition column stands for: a month's rows keyed by its first day
    # cover the month (warehouse.catalog)
    date_span: DateSpan = DateSpan.DAY
    # rows are events (an exceedance, a flagged run): a published date partition without rows says
    # none happened that day, so the day counts as covered (warehouse.catalog: freshness, coverage)
    events: bool = False
    # a partition without rows is a normal outcome (no exceedance that day), not a broken input: the
    # gate does not warn of it (warehouse.quality: no ``rows`` check). Not every events table: one row
    # per registered outlet a day (the daily exceedance roll-up, the disclosure) is never empty rightly
    may_be_empty: bool = False
    pair_checks: tuple[PairEquality, ...] = field(default_factory=tuple)
    # The share of a unit's published rows of a partition its new part may lose before the gate holds
    # the part back (a truncated upstream file replacing a good one); None: the table may shrink. Only
    # for tables one build publishes per PARTITION or WHOLE (a PART build's units come and go).
    max_shrink: float | None = None
    # Columns added after parts of the table were written: a lake's older parts, without them, read
    # NULL there (the serving views, warehouse.serving.select_sql), even where no part has them yet.
    # Each must be nullable. The new table signature rebuilds the units, whose parts then hold them.
    added_columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_shrink is not None and not 0 <= self.max_shrink < 1:
            raise ValueError(f"table {self.name}: max_shrink must be in [0, 1)")
        names = [c.name for c in self.columns]
        for name in self.added_columns:
            if name not in names or not self.column(name).nullable:
                raise ValueError(f"table {self.name}: added column {name} is not a nullable column of it")
        if len(set(names)) != len(names):
            raise ValueError(f"table {self.name}: duplicate column names")
        missing = [k for k in self.primary_key if k not in names]
        if missing:
            raise ValueError(f"table {self.name}: primary key columns {missing} not declared")
        if self.partition_by and self.partition_by not in names:
            raise ValueError(f"table {self.name}: partition column {self.partition_by} not declared")
        if self.may_be_empty and not self.events:
            raise ValueError(f"table {self.name}: a table that may be empty is an events table")
        if self.events and not (self.partition_by and self.column(self.partition_by).type == "date"):
            raise ValueError(f"table {self.name}: an events table needs a date partition column")
        if self.date_span is not DateSpan.DAY and not (
            self.partition_by and self.column(self.partition_by).type == "date"
        ):
            raise ValueError(f"table {self.name}: a date span needs a date partition column")
        # catalog tables describe every source at once: catalog_<what>, no source part
        expected_prefix = "catalog_" if self.layer is Layer.CATALOG else f"{self.layer.value}_{self.source}__"
        if not self.name.startswith(expected_prefix):
            raise ValueError(f"table {self.name}: name must start with {expected_prefix!r}")

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name}")

    def arrow_schema(self, *, include_partition: bool = True, strict: bool = True) -> pa.Schema:
        """The Parquet schema; ``strict=False`` leaves every field nullable (data not yet gated)."""
        fields = [
            pa.field(c.name, c.arrow_type, nullable=c.nullable or not strict)
            for c in self.columns
            if include_partition or c.name != self.partition_by
        ]
        return pa.schema(fields, metadata={"ecocloud.table": self.name})

    def conform(self, data: pa.Table, columns: Sequence[str] | None = None) -> pa.Table:
        """Select, order and cast ``data`` to this table's types (only ``columns`` of them, in the
        table's order, when given); fail loudly on a missing or an unknown column.

        Nullability is not enforced here: a NULL where the registry forbids one is the quality
        gate's to report (and block), and the partition writer's strict schema refuses it. A NaN in a
        float column becomes NULL: no measurement (the gate counts it as missing, and so, then, does
        SQL — a NaN stored would make every max, mean and comparison over the column NaN).
        """
        declared, given = self.column_names, set(data.column_names)
        unknown = sorted(set(columns or ()) - set(declared))
        if unknown:
            raise ValueError(f"{self.name} has no columns {unknown}")
        names = [n for n in declared if columns is None or n in columns]
        missing = [n for n in names if n not in given]
        if missing:
            raise ValueError(f"{self.name}: data lacks columns {missing}")
        extra = sorted(given - set(declared))
        if extra:
            raise ValueError(f"{self.name}: data has undeclared columns {extra}")
        schema = self.arrow_schema(strict=False)
        if columns is not None:
            schema = pa.schema([schema.field(n) for n in names], metadata=schema.metadata)
        return _nan_as_null(cast_keeping_dictionaries(data.select(names), schema))

    def statistics_columns(self) -> list[str]:
        """The columns whose min/max Parquet statistics can let a reader skip row groups: every
        non-string column, and the key's leading column (after the partition column, which files do
        not hold) when it is a string: a compacted part is sorted by the key, so a row group holds a
        narrow range of it. Other strings, the key's later ones included (sorted only within each
        value of the columns before them), span nearly every value in every row group, and their
        min/max cost time: all strings about a fifth of the HJ 212 readings' encoding, the readings'
        pollutant code and statistic a tenth."""
        leading = self.sort_key()[:1]
        return [c.name for c in self.columns if c.type != "string" or c.name in leading]

    def sort_key(self) -> list[str]:
        """The columns a compacted part is sorted by: the key without the partition column (which
        the files do not hold)."""
        return [c for c in self.primary_key if c != self.partition_by]

    def empty(self) -> pa.Table:
        """A zero-row table of this table's columns (every one nullable, as ``conform`` gives)."""
        return self.arrow_schema(strict=False).empty_table()

    def from_rows(self, rows: Sequence[Mapping[str, Any]]) -> pa.Table:
        """Rows (dicts keyed by column name; a missing key is NULL) as a table of this table's columns."""
        return pa.Table.from_pylist(list(rows), schema=self.arrow_schema(strict=False))

    def from_columns(self, columns: Mapping[str, Any]) -> pa.Table:
        """Named arrays (or lists), one per column in any order, as a table of this table's columns.

        Each is cast to the registry type (a safe cast: an overflow raises); a missing or an
        undeclared column raises, so a producer and the registry cannot drift apart silently.
        """
        missing = [n for n in self.column_names if n not in columns]
        extra = [n for n in columns if n not in self.column_names]
        if missing or extra:
            raise ValueError(f"{self.name}: columns missing {missing}, undeclared {extra}")
        schema = self.arrow_schema(strict=False)
        arrays = [columns[f.name] for f in schema]
        given = pa.schema(
            [
                pa.field(f.name, a.type) if isinstance(a, pa.Array | pa.ChunkedArray) else f
                for f, a in zip(schema, arrays, strict=True)
            ]
        )
        return pa.Table.from_arrays(arrays, schema=keeping_dictionaries(schema, given))


def keeping_dictionaries(schema: pa.Schema, given: pa.Schema) -> pa.Schema:
    """``schema`` with a string field left a dictionary of strings where ``given`` has one there.

    A parser that read each distinct string once hands its string columns over as dictionaries;
    keeping them saves decoding every row and hashing it again in the gate and the Parquet writer
    (the lake's files hold plain strings all the same: ``warehouse.fs`` writes no Arrow schema).
    """
    given_types = dict(zip(given.names, given.types, strict=True))
    fields = []
    for f in schema:
        kept = given_types.get(f.name)
        is_string_dictionary = (
            kept is not None and pa.types.is_dictionary(kept) and kept.value_type == f.type == pa.string()
        )
        fields.append(f.with_type(kept) if is_string_dictionary else f)
    return pa.schema(fields, metadata=schema.metadata)


def _nan_as_null(data: pa.Table) -> pa.Table:
    """``data`` with every NaN of its float columns NULL (the columns without one untouched)."""
    for i, f in enumerate(data.schema):
        if pa.types.is_floating(f.type):
            column = data.column(i)
            nan = pc.is_nan(column)
            if pc.any(nan).as_py():
                data = data.set_column(i, f, pc.if_else(nan, pa.scalar(None, f.type), column))
    return data


def cast_keeping_dictionaries(data: pa.Table, schema: pa.Schema) -> pa.Table:
    """``data.cast(keeping_dictionaries(schema, data.schema))``, without a cast where every column
    already has its type (the usual case: a parser's output, a conformed part; the cast is a pass of
    Arrow's machinery per column, on every part of every write). A NOT NULL field still refuses a
    column holding NULL, with the error ``Table.cast`` gives."""
    target = keeping_dictionaries(schema, data.schema)
    if data.schema.names != target.names or data.schema.types != target.types:
        return data.cast(target)
    for f, column in zip(target, data.columns, strict=True):
        if not f.nullable and column.null_count:
            raise ValueError(f"Casting field '{f.name}' with null values to non-nullable")
    return pa.Table.from_arrays(data.columns, schema=target)


_TABLES: dict[str, Table] = {}


def registration_problems(table: Table) -> list[str]:
    """Why ``register`` refuses ``table`` (empty when it is complete)."""
    problems = [
        f"column {c.name} is not from a Fields namespace (declare it with Fields.define, list it with F.get)"
        for c in table.columns
        if c.namespace is None
    ]
    problems += [
        f"column {c.name} has no Chinese description (description_zh)"
        for c in table.columns
        if not c.description_zh.strip()
    ]
    problems += [
        f"numeric column {c.name} ({c.type}) has no unit"
        for c in table.columns
        if c.is_numeric and not c.unit
    ]
    from schemas.fields import SOURCES  # it declares the shared fields with this module's classes

    if table.source not in SOURCES:  # the catalog and the DCAT export name a table's source by it
        problems.append(
            f"source {table.source!r} has no label: add it to schemas.fields.SOURCES (Chinese and English)"
        )
    if not isinstance(table.owner, Department):
        problems.append(f"owner {table.owner!r} is not a Department")
    if not isinstance(table.frequency, Frequency):
        problems.append(f"frequency {table.frequency!r} is not a Frequency")
    for attr in ("title", "title_zh", "description", "description_zh", "source_system"):
        if not str(getattr(table, attr)).strip():
            problems.append(f"catalog metadata {attr} is empty")
    if table.sharing is not Sharing.UNCONDITIONAL and not (table.sharing_conditions or "").strip():
        problems.append(
            f"sharing is {table.sharing.value}: sharing_conditions must say who may have it and why"
        )
    return problems


def register(*tables: Table) -> None:
    """Add ``tables`` to the registry; refuses an incomplete table (see ``registration_problems``)."""
    for table in tables:
        problems = registration_problems(table)
        if problems:
            raise ValueError(f"table {table.name} refused by the registry: " + "; ".join(problems))
        if table.name in _TABLES and _TABLES[table.name] != table:
            raise ValueError(f"table {table.name} registered twice with different definitions")
        _TABLES[table.name] = table


def all_tables() -> list[Table]:
    _load_all()
    return sorted(_TABLES.values(), key=lambda t: t.name)


def get_table(name: str) -> Table:
    _load_all()
    try:
        return _TABLES[name]
    except KeyError:
        raise KeyError(f"no table {name!r} in the schema registry") from None


_NOT_TABLE_MODULES = {"registry", "fields", "aqi_standard", "gb3838_standard", "hj212_codes", "region_codes"}


_LOADED = False


def _load_all() -> None:
    """Import every ``schemas.<source>`` module once; each registers its tables on import. (Listing the
    package again at every lookup cost 0.5 ms a call: a serving refresh looks up a table per part.)"""
    global _LOADED
    if _LOADED:
        return
    import importlib
    import pkgutil

    import schemas

    for mod in pkgutil.iter_modules(schemas.__path__):
        if mod.name not in _NOT_TABLE_MODULES and not mod.name.startswith("_"):
            importlib.import_module(f"schemas.{mod.name}")
    _LOADED = True
