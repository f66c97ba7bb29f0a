"""The quality gate: Great Expectations suites generated from the schema registry, run once per table
per batch, with an exact verdict for every unit and partition of the batch.

Nothing here is written per table. ``build_suite`` turns a registry ``Table`` into a GX
``ExpectationSuite``. ``validate(table, parts, run=...)`` gates a batch: ``parts`` are the rows the
runner is about to publish, one ``GatePart`` per (unit, partition) — a unit is a partition, an input
file or segment, or the whole table. It returns one ``GateVerdict`` per part, whose ``results``
conform to ``quality_platform__expectation_results``. ``run_gate`` / ``run_gate_partitions`` are the
one-partition and many-partitions wrappers the pipelines call.

Generated expectations, in this order (``meta["ecocloud_check"]`` is ``"<kind>:<subject>"``):

=================  ============================================================  ================
kind               expectation                                                   severity
=================  ============================================================  ================
``columns``        ExpectTableColumnsToMatchSet(registry columns, exact_match)   blocking
``rows``           ExpectTableRowCountToBeBetween(min_value=1), tables that do   warning
                   not declare ``may_be_empty`` (a day without rows is normal
                   there: no exceedance, nothing flagged)
``type``           ExpectColumnValuesToBeOfType, every column                    blocking
``not_null``       ExpectColumnValuesToNotBeNull, non-nullable columns           blocking
``range``          ExpectColumnValuesToBeBetween(min, max, mostly)               column severity
``allowed``        ExpectColumnValuesToBeInSet(allowed, mostly)                  column severity
``primary_key``    ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUniq  blocking
``pair_equality``  ExpectColumnPairValuesToBeEqual(mostly, either_value_missing)  pair severity
``partition``      ExpectColumnPairValuesToBeEqual(partition column,             blocking
                   ``__partition__``, either_value_is_missing)
``shrink``         ExpectTableRowCountToBeBetween(min = published rows            blocking
                   × (1 − max_shrink)), tables that declare ``max_shrink``
``freshness``      ExpectColumnMaxToBeBetween(min = expected_latest - tolerance)  table's
=================  ============================================================  ================

``Column.severity`` applies to the value checks that come with it (range, allowed values); the
structure (column set, types, nullability, key, partition) is always blocking. ``partition`` is
added when the table is partitioned and a part names its partition: ``__partition__`` is a column
the gate adds to the frame holding, on every row, the partition of the part the row came from, so
one expectation checks every part against its own partition. ``freshness`` is added when
``expected_latest`` is given and the table has a ``freshness_column``; its threshold changes every
run, so it is a GX suite parameter (``{"$PARAMETER": ...}``, passed as ``expectation_parameters``):
suites are never rebuilt per batch. ``mostly`` and ``unexpected_percent`` count non-null rows only
(GX semantics; ``not_null`` counts every row).

One batch, verdicts per part. The parts are concatenated and validated with a fixed number of GX
runs, whatever the number of parts: each unit (below) once in BASIC result format, and a unit that
has unexpected rows once more in COMPLETE format, for their positions (COMPLETE costs ~30 % more, so
clean data does not pay for it). Each part's result is then read off GX's results:

* map expectations (not-null, range, allowed, key, pair, partition): GX's
  ``unexpected_index_list`` (row positions in the batch; none on clean data) is mapped back to the
  parts, giving each
  part its unexpected count and sample (its first 5 unexpected rows, values read from the Arrow
  data, so a sample does not depend on the pandas representation); its element count and non-null
  count come from the rows of the frame GX saw (NaN = NULL, as GX counts them), and its
  success is recomputed with GX's rule: ``(non_null - unexpected) / non_null >= mostly``, vacuously
  true without non-null rows. The per-part counts must add up to GX's batch counts (else
  ``RuntimeError``: a GX contract changed).
* column set and types are schema-level: every part with the same Arrow schema (same fields, any
  order) gets the same result. Parts with another schema are validated as their own batch (a fixed
  set of runs per distinct schema, normally one).
* ``rows`` is evaluated per part from the part's row count and the expectation's bounds (the
  batch's row count says nothing about a part); GX does not run it. So is ``shrink``, added when the
  table declares ``max_shrink``: a part whose unit has published rows in its partition
  (``GatePart.published_rows``) may have at most that share fewer (a truncated upstream file must
  not replace a good one). Where the run accepts the part's shrink (``GatePart.shrink_accepted``)
  it is reported as a warning and published.
* the primary key is checked over the whole batch (a schema group): a key repeated across two parts
  fails both, on the rows that hold it.
* ``freshness`` is evaluated once, on the batch (max over all rows; with several schemas, over the
  group with the most rows), and reported on the parts of the newest partition in the batch (all
  parts for an unpartitioned table).
So a part's verdict, counts and messages are those it would get validated alone, except for
freshness and for keys duplicated across parts (both batch-level by design).

Two pandas representations. GX's pandas checks are fast only on some dtypes, and its type check
sees only the dtype, so the gate does not feed one frame to one validation. At compile time (once
per process and table variant, cached) the suite is split into *units*, each validated on its own
frame; every expectation is evaluated once per batch (see above) and reported in suite order:

* the **schema unit** (column set, types) runs on ``schema_frame(data.schema)``: zero rows, one
  column per Arrow field, with the dtypes below. GX compares the dtype's scalar type with the named
  type, so each registry type has its own dtype and ``type_``:

  =============  ===================  ======================  ====================
  registry type  Arrow                pandas dtype            GX ``type_``
  =============  ===================  ======================  ====================
  string         string               string[pyarrow]         ``str``
  bool           bool                 boolean                 ``bool``
  int8..int64    int8..int64          Int8..Int64             ``int8``..``int64``
  float64        double               Float64                 ``float64``
  date           date32               date32[pyarrow]         ``date``
  timestamp      timestamp[us, UTC]   datetime64[us, UTC]     ``Timestamp``
  =============  ===================  ======================  ====================

  Any other Arrow type gets ``pd.ArrowDtype(<type>)``, whose scalar type is a plain Python type
  (int, float, datetime …), so the check fails and the message names the Arrow type: int64 where
  the registry says int16, float32, naive / non-UTC / ns timestamps, strings in a number column.
  (Exceptions, harmless: large_string passes as ``str``, date64 as ``date``.) The gate checks data
  as handed over and never casts: ``Table.conform`` would, e.g., silently read naive times as UTC.

* the **distinct-values unit**: checks whose verdict on a row depends only on that row's value of
  one column (not null, range, allowed values) run once, together, on a frame holding each checked
  column's *distinct* values (NULL among them if the column has any; shorter columns repeat their
  first value). Each unexpected value is mapped back to the rows holding it, and each row's
  non-null status to the rows (``_Distinct``): a national day of air data has ~48,000 rows but a
  few hundred distinct values per column, and GX's cost per expectation run is mostly fixed
  (~4 ms of Python) plus a per-row part that now sees hundreds of rows instead of millions. A test
  checks the counts and verdicts against GX run by itself on every row. A dictionary column (the
  HJ 212 parser hands its strings over that way) gives its distinct values and codes from its
  dictionary, renumbered over the entries rows hold, without hashing a row. A column checked only
  for NULLs, or for NULLs and range, is not hashed at all (``_Encoded.stand_ins``): the frame holds
  one valid value, or its least and greatest, with NaN and NULL if it has them — the same verdicts,
  since a range check passes every value when it passes both bounds; when a bound fails, GX is run
  again on the distinct values of that column (a batch of HJ 212 readings has hundreds of thousands
  of distinct offsets and values, and clean data never pays that).
* the **key unit**: the primary key's uniqueness runs on the rows whose key another row holds too
  (``_KeyRows``: each key column dictionary-encoded — an integer column without NULLs is its own
  code —, the codes combined into one integer per row, sorted, repeats looked up): no row on clean
  data, where GX's own check hashed every key of the batch (pandas ``duplicated``: ~0.5 µs a row,
  the largest part of the readings' gate). GX decides
  which of those rows are duplicates; the counts are restated on the batch's rows. A float key
  column (pandas holds 0.0 and -0.0 equal, the codes do not) sends every row to GX.
* **row units**: every other check (column pair, partition) is in one unit per column pair or
  partition check, on a frame holding only those columns, because GX's map
  expectations that skip NULLs copy the *whole* frame first (``df[df[col].notnull()]``).

Both kinds of frame are converted by ``to_pandas``, as ExpectColumnValuesToBeBetween is vectorised
only for numpy int64/float64 (on masked Int16/Float64 it runs a Python ``Series.map``: ~3 s per
1.5 M values): ints are numpy int64 (float64 with NaN when they
  have NULLs), floats numpy float64 (NaN = NULL), timestamps datetime64, dates datetime64[ms],
  strings stay Arrow-backed. NaN in a float column therefore counts as NULL (fails not-null, never
  range). GX fingerprints every frame it loads (``pandas.util.hash_pandas_object`` + MD5, a batch
  marker nothing here reads: ~1.1 s per million date32[pyarrow] values, ~0.03 s per million
  datetime64, and per column and index on wide frames); ``_without_fingerprint`` switches it off
  during our runs. Dates stay datetime64 (the cheap case) all the same.

Empty parts (0 rows): everything runs. Column set and types are checked (from the schema), value
checks hold vacuously, ``rows`` warns, ``freshness`` (when asked for) fails if the whole batch is
empty — there is no newest value. So an empty part is publishable unless freshness is required, or its unit
published rows there before and the table declares ``max_shrink``.

Measured (bench/gate_parts.py: core_source__readings, 13 columns, clean, warm process, best of 2-3,
on a shared 2-core machine, so ±30 %): one ``validate`` call on 1 M rows takes 1.3 s as 1 part, 1.0 s
as 14 parts (14 days), 1.1 s as 200 parts (segment × day), in 7 GX runs each; one ``run_gate`` per
day (14 calls) takes 2.6 s (the previous gate, with GX's fingerprint patched out: 2.1 s). On 100 k
rows (an hour of HJ 212 captures): 0.19 s / 0.21 s / 0.35 s, against 1.8 s per day (previous gate:
2.0 s). About half of GX's time on big frames is its fingerprint: twice per unit, since
``Batch.validate`` loads the frame again (one partition of 1 M rows: 1.2 s, the previous gate 0.3 s).

GX itself: imported lazily (the import takes seconds); one ephemeral in-memory context per process
(no data docs, no progress bars, no analytics); each unit is validated with GX's public
``BatchDefinition.get_batch(...).validate(suite, ...)``, which stores no validation result (GX's
docs: "The results generated by batch.validate() are not persisted in storage"); runs are
serialised by a lock (contexts are not thread-safe); during runs GX's loggers are raised to WARNING
and its warnings are muted.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import logging
import math
import sys
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.clock import BEIJING
from schemas.platform import WITHHELD, expectation_results
from schemas.registry import Column, Severity, Sharing, Table

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.expectations import Expectation

__all__ = [
    "EMPTY_SEVERITY",
    "FRESHNESS_PARAMETER",
    "GX_TYPE_NAMES",
    "PANDAS_DTYPES",
    "PARTITION_COLUMN",
    "RESULT_FORMAT",
    "SHRINK_PARAMETER",
    "WITHHELD",
    "GatePart",
    "GateRun",
    "GateVerdict",
    "build_suite",
    "clear_cache",
    "import_gx",
    "run_gate",
    "run_gate_partitions",
    "schema_frame",
    "to_pandas",
    "validate",
]

log = logging.getLogger(__name__)

UTC = dt.UTC

# Suite parameter filled in at run time (GX 1.x: ``{"$PARAMETER": name}`` + expectation_parameters).
FRESHNESS_PARAMETER = "ecocloud_freshness_min"
# The ``shrink`` check's lower bound, different for each part: evaluated by the gate, not by GX.
SHRINK_PARAMETER = "ecocloud_shrink_min"
# Column the gate adds to the partition check's frame: the partition of each row's part.
PARTITION_COLUMN = "__partition__"

EMPTY_SEVERITY = Severity.WARNING  # an empty partition is reported, not blocked

# A unit is validated in BASIC format (counts); one with unexpected rows again in COMPLETE format,
# whose positions of all unexpected rows are mapped back to the parts (COMPLETE costs ~30 % more).
SAMPLE_SIZE = 5  # unexpected values quoted per part and expectation
SAMPLE_KEYS = "partial_unexpected_keys"  # ours beside GX's result keys: the sampled rows' primary keys
FIRST_PASS_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": SAMPLE_SIZE}
RESULT_FORMAT: dict[str, Any] = {
    "result_format": "COMPLETE",
    "partial_unexpected_count": SAMPLE_SIZE,
    "return_unexpected_index_query": False,
}

# Registry logical type -> its pandas dtype in ``schema_frame`` (what the type expectations see).
PANDAS_DTYPES: dict[str, Any] = {
    "string": pd.StringDtype("pyarrow"),
    "bool": pd.BooleanDtype(),
    "int8": pd.Int8Dtype(),
    "int16": pd.Int16Dtype(),
    "int32": pd.Int32Dtype(),
    "int64": pd.Int64Dtype(),
    "float64": pd.Float64Dtype(),
    "date": pd.ArrowDtype(pa.date32()),
    "timestamp": pd.DatetimeTZDtype("us", "UTC"),
}

# Registry logical type -> ``type_`` of ExpectColumnValuesToBeOfType. GX resolves the name with
# ``numpy.dtype(name).type``, else ``getattr(pandas, name)``, else ``getattr(pandas.core.dtypes.dtypes,
# name)`` and compares the result with ``dtype.type``: Int16 -> numpy.int16, boolean -> numpy.bool_,
# string -> str, datetime64[us, UTC] -> pandas.Timestamp (a naive datetime64 has numpy.datetime64),
# date32[pyarrow] -> datetime.date ("date" only resolves because pandas.core.dtypes.dtypes imports
# datetime.date; pinned by a unit test).
_LARGEST = sys.float_info.max  # the open end of a float range (its finite end: ±inf is outside)
GX_TYPE_NAMES: dict[str, str] = {
    "string": "str",
    "bool": "bool",
    "int8": "int8",
    "int16": "int16",
    "int32": "int32",
    "int64": "int64",
    "float64": "float64",
    "date": "date",
    "timestamp": "Timestamp",
}

_EXACT_DTYPES: dict[pa.DataType, Any] = {
    Column("_", logical, "").arrow_type: dtype for logical, dtype in PANDAS_DTYPES.items()
}


def _schema_dtype(arrow_type: pa.DataType) -> Any:
    if pa.types.is_dictionary(arrow_type) and arrow_type.value_type == pa.string():
        arrow_type = arrow_type.value_type  # a parser's dictionary of strings is a string column
    exact = _EXACT_DTYPES.get(arrow_type)
    if exact is not None:
        return exact
    if pa.types.is_timestamp(arrow_type) and arrow_type.unit == "ns":
        # pandas gives ArrowDtype(timestamp[ns, *]) the scalar type pandas.Timestamp, which is what a
        # registry timestamp has: use the µs type (scalar datetime.datetime) so that the check fails
        return pd.ArrowDtype(pa.timestamp("us", tz=arrow_type.tz))
    return pd.ArrowDtype(arrow_type)


def schema_frame(schema: pa.Schema) -> pd.DataFrame:
    """The zero-row frame the schema checks (column set, types) run on: one column per field.

    Registry types get the dtypes of ``PANDAS_DTYPES``; any other Arrow type gets
    ``pd.ArrowDtype(<type>)`` (timestamp[ns, …]: ``pd.ArrowDtype(timestamp[us, …])``), whose
    scalar type is a plain Python type, so ExpectColumnValuesToBeOfType fails on it.
    """
    return pd.DataFrame(
        {f.name: pd.Series([], dtype=_schema_dtype(f.type)) for f in schema},
        index=pd.RangeIndex(0),
    )


def _value_dtype(arrow_type: pa.DataType) -> Any:
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return pd.StringDtype("pyarrow")
    if pa.types.is_boolean(arrow_type):
        return pd.BooleanDtype()
    return None  # pyarrow's default: numpy float64 / int64 / datetime64[unit, tz]


def _value_series(column: pa.ChunkedArray | pa.Array) -> pd.Series:
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if pa.types.is_integer(column.type):
        # int64 without NULLs; float64 (NaN) with them: exact for |values| < 2**53
        column = column.cast(pa.int64() if column.null_count == 0 else pa.float64())
    if pa.types.is_date(column.type):
        return column.to_pandas(date_as_object=False)  # datetime64[ms], NaT for NULL
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        # categorical: GX's checks and its batch fingerprint then hash, compare and match each distinct
        # string once (codes for the rest); gate columns repeat few values (codes, flags, MNs)
        return pc.dictionary_encode(column).to_pandas()
    return column.to_pandas(types_mapper=_value_dtype)


def to_pandas(data: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas as the value checks see it: dtypes on which GX's pandas checks are vectorised.

    Integers: numpy int64, or float64 with NaN when the column has NULLs; floats: numpy float64
    with NaN for NULL (no copy without NULLs); timestamps: datetime64[unit, tz] (no copy without
    NULLs); dates: datetime64[ms] (NaT for NULL); strings: categorical (each distinct string hashed and matched once);
    booleans: boolean (masked). ``validate`` converts column by column, each at most once per batch.
    """
    return pd.DataFrame({name: _value_series(data.column(name)) for name in data.column_names})


# --------------------------------------------------------------------------------------- suites


def _meta(kind: str, subject: str, severity: Severity) -> dict[str, str]:
    return {"severity": severity.value, "ecocloud_check": f"{kind}:{subject}"}


def _expectations(table: Table, *, freshness: bool, partition: bool) -> list[Expectation]:
    import great_expectations.expectations as gxe

    blocking = Severity.BLOCKING
    out: list[Expectation] = [
        gxe.ExpectTableColumnsToMatchSet(
            column_set=table.column_names, exact_match=True, meta=_meta("columns", table.name, blocking)
        ),
    ]
    if not table.may_be_empty:
        out.append(
            gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta("rows", table.name, EMPTY_SEVERITY))
        )
    for col in table.columns:
        out.append(
            gxe.ExpectColumnValuesToBeOfType(
                column=col.name, type_=GX_TYPE_NAMES[col.type], meta=_meta("type", col.name, blocking)
            )
        )
        if not col.nullable:
            out.append(
                gxe.ExpectColumnValuesToNotBeNull(column=col.name, meta=_meta("not_null", col.name, blocking))
            )
        if col.min is not None or col.max is not None:
            # a float range is a finite one: ±inf is outside a bound left open too
            finite = col.type == "float64"
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name,
                    min_value=-_LARGEST if col.min is None and finite else col.min,
                    max_value=_LARGEST if col.max is None and finite else col.max,
                    mostly=col.mostly,
                    meta=_meta("range", col.name, col.severity),
                )
            )
        if col.allowed is not None:
            out.append(
                gxe.ExpectColumnValuesToBeInSet(
                    column=col.name,
                    value_set=list(col.allowed),
                    mostly=col.mostly,
                    meta=_meta("allowed", col.name, col.severity),
                )
            )
    pk_meta = _meta("primary_key", ",".join(table.primary_key), blocking)
    if len(table.primary_key) == 1:
        out.append(gxe.ExpectColumnValuesToBeUnique(column=table.primary_key[0], meta=pk_meta))
    elif table.primary_key:
        out.append(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(table.primary_key), meta=pk_meta))
    for pair in table.pair_checks:
        out.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=pair.column_a,
                column_B=pair.column_b,
                mostly=pair.mostly,
                ignore_row_if="either_value_is_missing",
                meta=_meta("pair_equality", f"{pair.column_a}={pair.column_b}", pair.severity),
            )
        )
    if partition and table.partition_by:
        if PARTITION_COLUMN in table.column_names:
            raise ValueError(f"{table.name}: column name {PARTITION_COLUMN} is reserved for the gate")
        out.append(
            gxe.ExpectColumnPairValuesToBeEqual(
                column_A=table.partition_by,
                column_B=PARTITION_COLUMN,
                ignore_row_if="either_value_is_missing",
                meta=_meta("partition", table.partition_by, blocking),
            )
        )
    if table.max_shrink is not None:
        out.append(
            gxe.ExpectTableRowCountToBeBetween(
                min_value={"$PARAMETER": SHRINK_PARAMETER}, meta=_meta("shrink", table.name, blocking)
            )
        )
    if freshness and table.freshness_column:
        out.append(
            gxe.ExpectColumnMaxToBeBetween(
                column=table.freshness_column,
                min_value={"$PARAMETER": FRESHNESS_PARAMETER},
                meta=_meta("freshness", table.freshness_column, table.freshness_severity),
            )
        )
    return out


def build_suite(table: Table, *, freshness: bool = False, partition: bool = False) -> gx.ExpectationSuite:
    """The GX suite of ``table``, generated from its registry definition (module docstring).

    ``freshness`` adds the freshness expectation (if the table has a ``freshness_column``): the
    column's max must be ≥ the suite parameter ``FRESHNESS_PARAMETER``, a tz-aware datetime.
    ``partition`` adds "every row is in its part's partition" (if the table has ``partition_by``):
    the partition column must equal ``PARTITION_COLUMN``, which ``validate`` adds to the frame. The
    suite is not saved anywhere; ``validate`` compiles its own copy.
    """
    with _LOCK:
        _context()  # GX 1.x: an ExpectationSuite cannot even be constructed without an active context
        import great_expectations as gx

        suite = gx.ExpectationSuite(name=_suite_name(table, freshness=freshness, partition=partition))
        for expectation in _expectations(table, freshness=freshness, partition=partition):
            suite.add_expectation(expectation)
    return suite


def _suite_name(table: Table, *, freshness: bool, partition: bool) -> str:
    variant = "".join(s for s, on in (("+freshness", freshness), ("+partition", partition)) if on)
    return f"{table.name}{variant}"


# ------------------------------------------------------------------------------------ the API


@dataclass(frozen=True)
class GatePart:
    """Rows of one unit of the runner for one partition of the table (0 rows allowed)."""

    unit: str  # the runner's unit key: "2026-11-20", "segment/data/x.h212", "all"
    partition: dt.date | None  # partition these rows are for (None: unpartitioned table)
    data: pa.Table
    published_rows: int | None = None  # the unit's rows published in this partition (None: none)
    # the run accepts a shrink beyond the table's ``max_shrink`` here: a warning, not a block
    shrink_accepted: bool = False


@dataclass(frozen=True)
class GateRun:
    """Who gates: recorded on every result row."""

    run_id: str  # pipeline run (Airflow run id or cli-…)
    task: str  # "<dag_id>.<task_id>" or the CLI command
    build: str  # spec build, e.g. "air.hourly"
    # how the caller's users accept a held-back shrink, said after the failure; "{unit}": the part's unit
    accept_shrink_hint: str = ""


@dataclass
class GateVerdict:
    """The gate's verdict on one part; ``results`` conform to quality_platform__expectation_results."""

    unit: str
    partition: dt.date | None
    table_name: str
    passed: bool  # no blocking expectation failed for this part
    row_count: int
    blocking_failures: list[str]
    warnings: list[str]
    results: pa.Table  # one row per expectation evaluated on this part; ``published`` = passed
    # of the whole validate() call: seconds (compile, convert, validate, split, total), gx_validations
    timings: dict[str, float] = field(default_factory=dict)
    blocking_checks: list[str] = field(default_factory=list)  # "<kind>:<subject>" of each blocking failure
    # the blocking failures as records shared wider than the table may quote them (the ledger's
    # ``error``): a 不予共享 table's name its checks and counts, not its values
    recorded_failures: list[str] = field(default_factory=list)

    @property
    def gate_run_id(self) -> str:
        return str(self.results.column("gate_run_id")[0].as_py())

    @property
    def results_date(self) -> dt.date:
        """The results' partition: the Beijing date of the gate run."""
        value: dt.date = self.results.column("date")[0].as_py()
        return value

    def summary(self) -> str:
        """Log summary: a verdict line, then one line per blocking failure and per warning."""
        failed = self.results.num_rows - sum(self.results.column("success").to_pylist())
        lines = [
            f"quality gate {_label(self.table_name, self.unit, self.partition, '-')}: "
            f"{'PASSED' if self.passed else 'FAILED'} — {self.results.num_rows} expectations, {failed} "
            f"failed ({len(self.blocking_failures)} blocking, {len(self.warnings)} warning) on "
            f"{self.row_count:,} rows in {self.timings.get('total', 0.0):.2f} s [gate run {self.gate_run_id}]"
        ]
        lines += [f"  BLOCKING {m}" for m in self.blocking_failures]
        lines += [f"  WARNING  {m}" for m in self.warnings]
        return "\n".join(lines)

    def published(self, flag: bool) -> pa.Table:
        """``results`` with ``published`` set to ``flag`` (the runner may block a part that passed)."""
        column = self.results.schema.get_field_index("published")
        return self.results.set_column(
            column, "published", pa.array([flag] * self.results.num_rows, pa.bool_())
        )


def _label(table_name: str, unit: str, partition: dt.date | None, unpartitioned: str) -> str:
    place = partition.isoformat() if partition else unpartitioned
    extra = "" if unit in ("all", place) else f" [{unit}]"
    return f"{table_name} {place}{extra}"


def validate(
    table: Table,
    parts: Sequence[GatePart],
    *,
    run: GateRun,
    expected_latest: dt.datetime | None = None,
) -> list[GateVerdict]:
    """Gate ``parts`` (one batch of ``table``) with a fixed number of GX runs; a verdict per part.

    ``expected_latest`` (tz-aware: the start of the run's data interval) adds the freshness check if
    the table has a ``freshness_column``; it is evaluated on the whole batch and reported on the
    parts of its newest partition. Every part's ``results`` share one ``gate_run_id``. Bad data
    never raises: an expectation GX cannot evaluate (e.g. its column is missing) fails, with GX's
    message in ``details``. A part that shrinks more than its table's ``max_shrink`` is blocked,
    unless its ``shrink_accepted`` (then warned about). Raises ``ValueError`` for bad arguments: a naive ``expected_latest``,
    a partition on an unpartitioned table, two parts with the same unit and partition.
    """
    _check_arguments(table, parts, expected_latest)
    if not parts:
        return []
    started = time.perf_counter()
    validated_at = dt.datetime.now(UTC)
    gate_run_id = f"{validated_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:12]}"
    use_freshness = expected_latest is not None and table.freshness_column is not None
    use_partition = table.partition_by is not None and any(p.partition is not None for p in parts)
    parameters: dict[str, Any] = {}
    if use_freshness:
        assert expected_latest is not None and table.freshness_column is not None
        parameters[FRESHNESS_PARAMETER] = _freshness_threshold(table, table.freshness_column, expected_latest)

    timings = dict.fromkeys(
        ("compile", "convert", "validate", "split", "gx_validations", "schema_results_reused"), 0.0
    )
    groups = _schema_groups(parts)
    main = max(range(len(groups)), key=lambda g: (sum(parts[i].data.num_rows for i in groups[g]), -g))
    outcomes: list[list[_Outcome]] = [[] for _ in parts]
    freshness: _Outcome | None = None
    with _LOCK:
        mark = time.perf_counter()
        order = _compiled(table, freshness=use_freshness, partition=use_partition).order
        timings["compile"] += time.perf_counter() - mark
        for g, members in enumerate(groups):
            mark = time.perf_counter()
            compiled = _compiled(table, freshness=use_freshness and g == main, partition=use_partition)
            timings["compile"] += time.perf_counter() - mark
            per_part, fresh = _validate_group(
                table, compiled, [parts[i] for i in members], parameters, timings, run.accept_shrink_hint
            )
            for i, part_outcomes in zip(members, per_part, strict=True):
                outcomes[i] = part_outcomes
            freshness = fresh or freshness
    if freshness is not None:  # judged on the batch's newest value, stated on each newest part's rows
        for i in _newest(parts):
            outcomes[i].append(replace(freshness, element_count=parts[i].data.num_rows))
    timings["total"] = time.perf_counter() - started
    stamp = _Stamp(run, gate_run_id, validated_at, expectation_results.arrow_schema(strict=False))
    return [
        _verdict(table, part, outs, order, stamp, timings) for part, outs in zip(parts, outcomes, strict=True)
    ]


def _check_arguments(table: Table, parts: Sequence[GatePart], expected_latest: dt.datetime | None) -> None:
    if expected_latest is not None and expected_latest.utcoffset() is None:
        raise ValueError("expected_latest must be timezone-aware (UTC)")
    if table.partition_by is None and any(p.partition is not None for p in parts):
        raise ValueError(f"{table.name} is not partitioned: parts must have partition None")
    keys = [(p.unit, p.partition) for p in parts]
    if len(set(keys)) != len(keys):
        raise ValueError(f"{table.name}: two parts with the same unit and partition")


def _schema_groups(parts: Sequence[GatePart]) -> list[list[int]]:
    """Indices of the parts by Arrow schema (same fields and types, in any order; a dictionary column
    as its values' type: its keys must meet the other parts' in one primary-key check), first seen
    first."""
    groups: dict[tuple[tuple[str, str], ...], list[int]] = {}
    for i, part in enumerate(parts):
        key = tuple(sorted((f.name, str(_decoded(f.type))) for f in part.data.schema))
        groups.setdefault(key, []).append(i)
    return list(groups.values())


def _decoded(arrow_type: pa.DataType) -> pa.DataType:
    return arrow_type.value_type if pa.types.is_dictionary(arrow_type) else arrow_type


def _newest(parts: Sequence[GatePart]) -> list[int]:
    """The parts of the newest partition (every part when none names a partition)."""
    dates = [p.partition for p in parts if p.partition is not None]
    if not dates:
        return list(range(len(parts)))
    newest = max(dates)
    return [i for i, p in enumerate(parts) if p.partition == newest]


def run_gate(
    table: Table,
    data: pa.Table,
    *,
    partition_date: dt.date | None,
    expected_latest: dt.datetime | None = None,
    run_id: str | None = None,
) -> GateVerdict:
    """Gate one partition (or, with ``partition_date=None``, an unpartitioned table): ``validate``
    with one part. On a partitioned table ``partition_date`` adds the partition check; None skips it.
    For the pipelines (``ecocloud.pipelines``), which name no build or task."""
    partition = partition_date if table.partition_by is not None else None
    unit = partition.isoformat() if partition else "all"
    [verdict] = validate(
        table,
        [GatePart(unit, partition, data)],
        run=_legacy_run(table, run_id),
        expected_latest=expected_latest,
    )
    return verdict


def run_gate_partitions(
    table: Table, data: pa.Table, *, run_id: str | None = None
) -> dict[dt.date, GateVerdict]:
    """Gate every partition in ``data`` (a backfill: many days of one table) in one ``validate`` call:
    one part per partition value (unit = the date). Freshness does not apply to backfills."""
    if table.partition_by is None:
        raise ValueError(f"{table.name} is not partitioned")
    column = data.column(table.partition_by)
    if column.null_count:
        raise ValueError(f"{table.name}: {column.null_count} rows have no {table.partition_by}")
    days = sorted(pc.unique(column).to_pylist())
    parts = [GatePart(d.isoformat(), d, data.filter(pc.equal(column, d))) for d in days]
    verdicts = validate(table, parts, run=_legacy_run(table, run_id))
    return {v.partition: v for v in verdicts if v.partition is not None}


def _legacy_run(table: Table, run_id: str | None) -> GateRun:
    now = dt.datetime.now(UTC)
    return GateRun(
        run_id=run_id or f"cli-{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}",
        task="ecocloud.pipelines",
        build=f"{table.source}.pipeline",
    )


# ------------------------------------------------------------------------------- GX cache + run

_SCHEMA_KINDS = frozenset({"columns", "type"})
# Map expectations whose verdict on a row depends on that row's value of one column only: GX
# evaluates them on the column's distinct values (``_Distinct``), the gate maps the verdicts back.
_VALUE_WISE = frozenset(
    {
        "expect_column_values_to_not_be_null",
        "expect_column_values_to_be_between",
        "expect_column_values_to_be_in_set",
    }
)
# Key checks: a row can only be a duplicate if its key's codes (``_Encoded``) repeat, so GX runs on
# those rows alone (``_KeyRows``); the gate restates its verdicts on the batch.
_KEY_WISE = frozenset({"expect_column_values_to_be_unique", "expect_compound_columns_to_be_unique"})
# what a value-wise unit's frame holds of a column instead of its distinct values (``_Encoded.stand_ins``)
_StandIn = Literal["presence", "bounds"]


@dataclass(frozen=True)
class _Unit:
    """Expectations validated together on one frame: the schema frame or the frame of ``columns``."""

    schema: bool  # zero-row, exact-dtype frame of all data columns
    columns: tuple[str, ...]  # otherwise: the columns the frame holds (registry names, PARTITION_COLUMN)
    suite: Any  # gx.ExpectationSuite
    distinct: bool = False  # value-wise checks: the frame holds each column's distinct values
    key: bool = False  # the primary key: the frame holds the rows whose key another row holds too
    # of a value-wise unit: the columns whose checks are not-null or range only, each with the stand-ins
    # its frame holds instead of its distinct values ("presence" or "bounds": ``_Encoded.stand_ins``)
    stand_ins: Mapping[str, _StandIn] = field(default_factory=dict)


@dataclass(frozen=True)
class _Compiled:
    units: tuple[_Unit, ...]
    row_count: (
        Any  # the ``rows`` expectation (None: a table that may be empty): evaluated per part, not run by GX
    )
    shrink: Any  # the ``shrink`` expectation (None: the table may shrink): evaluated per part too
    order: Mapping[str, int]  # ecocloud_check -> position in build_suite order


_LOCK = threading.RLock()
_CONTEXT: Any = None
_BATCHES: Any = None  # the one whole-dataframe batch definition every unit's frame goes through
_COMPILED: dict[tuple[Table, bool, bool], _Compiled] = {}
# GX's results of a schema unit: they depend only on the Arrow schema (the frame has no rows)
_SCHEMA_RESULTS: dict[tuple[str, pa.Schema], list[Any]] = {}


def import_gx() -> None:
    """Import the GX modules the gate uses, and nothing else: no context, no suite. Importing GX takes
    seconds; a process that forks task processes (an executor's worker) imports it once for them all."""
    with _quiet_gx():
        import great_expectations
        import great_expectations.data_context.types.base
        import great_expectations.execution_engine.pandas_execution_engine
        import great_expectations.expectations  # noqa: F401


def _context() -> Any:
    global _CONTEXT, _BATCHES
    with _LOCK:
        if _CONTEXT is None:
            with _quiet_gx():
                import great_expectations as gx
                from great_expectations.data_context.types.base import (
                    DataContextConfig,
                    InMemoryStoreBackendDefaults,
                    ProgressBarsConfig,
                )

                config = DataContextConfig(
                    store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
                    progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
                    analytics_enabled=False,
                )
                context = gx.get_context(mode="ephemeral", project_config=config)
                asset = context.data_sources.add_pandas("ecocloud").add_dataframe_asset(name="frames")
                _BATCHES = asset.add_batch_definition_whole_dataframe("frame")
            _CONTEXT = context
        return _CONTEXT


def _check_of(expectation: Expectation) -> str:
    return str((expectation.meta or {}).get("ecocloud_check", ""))


def _domain(expectation: Expectation) -> tuple[str, ...]:
    config = expectation.configuration.kwargs
    if "column" in config:
        return (str(config["column"]),)
    if "column_list" in config:
        return tuple(config["column_list"])
    if "column_A" in config:
        return (str(config["column_A"]), str(config["column_B"]))
    return ()


_NOT_NULL, _BETWEEN = "expect_column_values_to_not_be_null", "expect_column_values_to_be_between"


def _stand_in_kinds(expectations: Sequence[Expectation]) -> dict[str, _StandIn]:
    """The columns a value-wise unit may check on stand-ins for their distinct values: "presence"
    where every check is not-null, "bounds" where they are range checks (and not-null)."""
    kinds: dict[str, set[str]] = {}
    for e in expectations:
        for column in _domain(e):
            kinds.setdefault(column, set()).add(e.expectation_type)
    return {
        c: "presence" if k == {_NOT_NULL} else "bounds"
        for c, k in kinds.items()
        if k in ({_NOT_NULL}, {_BETWEEN}, {_NOT_NULL, _BETWEEN})
    }


def _compiled(table: Table, *, freshness: bool, partition: bool) -> _Compiled:
    key = (table, freshness, partition)
    with _LOCK:
        cached = _COMPILED.get(key)
        if cached is not None:
            return cached
        _context()
        import great_expectations as gx

        expectations = _expectations(table, freshness=freshness, partition=partition)
        order = {_check_of(e): i for i, e in enumerate(expectations)}
        groups: dict[str | tuple[str, ...], list[Expectation]] = {}
        per_part: dict[str, Any] = {"rows": None, "shrink": None}
        for e in expectations:
            kind = _check_of(e).split(":", 1)[0]
            if kind in per_part:
                per_part[kind] = e
                continue
            if kind in _SCHEMA_KINDS:
                group: str | tuple[str, ...] = "schema"
            elif e.expectation_type in _VALUE_WISE:
                group = "distinct"
            elif e.expectation_type in _KEY_WISE:
                group = "key"
            else:
                group = _domain(e)
            groups.setdefault(group, []).append(e)
        prefix = f"{_suite_name(table, freshness=freshness, partition=partition)}#{len(_COMPILED)}"
        with _quiet_gx():
            units = tuple(
                _Unit(
                    schema=group == "schema",
                    columns=tuple(dict.fromkeys(c for e in members for c in _domain(e))),
                    suite=gx.ExpectationSuite(name=f"{prefix}/{i}", expectations=members),
                    distinct=group == "distinct",
                    key=group == "key",
                    stand_ins=_stand_in_kinds(members) if group == "distinct" else {},
                )
                for i, (group, members) in enumerate(groups.items())
            )
        compiled = _Compiled(units=units, row_count=per_part["rows"], shrink=per_part["shrink"], order=order)
        _COMPILED[key] = compiled
        log.debug(
            "compiled the quality gate of %s: %d expectations in %d units", prefix, len(order), len(units)
        )
        return compiled


def clear_cache() -> None:
    """Forget the GX context and compiled suites (tests; a registry reload)."""
    global _CONTEXT, _BATCHES
    with _LOCK:
        _COMPILED.clear()
        _SCHEMA_RESULTS.clear()
        _CONTEXT = _BATCHES = None


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """Keep GX's INFO logging and warnings out of task logs."""
    gx_log = logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(logging.WARNING)  # before the import: importing GX logs hundreds of DEBUG lines
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning)
            yield
    finally:
        gx_log.setLevel(level)


def _run(
    unit: _Unit, frame: pd.DataFrame, parameters: Mapping[str, Any], result_format: Mapping[str, Any]
) -> list[Any]:
    """One GX validation of ``unit``'s suite on ``frame`` (GX's public Batch.validate: no results store)."""
    with _without_fingerprint():
        batch = _BATCHES.get_batch(batch_parameters={"dataframe": frame})
        run = batch.validate(
            unit.suite, result_format=dict(result_format), expectation_parameters=dict(parameters) or None
        )
    return list(run.results)


@contextmanager
def _without_fingerprint() -> Iterator[None]:
    """GX hashes every frame it loads (``pandas.util.hash_pandas_object`` + MD5, twice per run) for a
    batch marker, ``pandas_data_fingerprint``, that no result we read contains; it only does so below
    ``HASH_THRESHOLD`` bytes. On a national air batch the hashing was ~18 % of the whole ingest's CPU
    (BENCHMARKS.md), so the threshold is 0 during our runs (they hold ``_LOCK``) and restored after.
    Verdicts do not depend on it: the gate's oracle tests compare every verdict with GX's own."""
    import great_expectations.execution_engine.pandas_execution_engine as pandas_engine

    saved = getattr(pandas_engine, "HASH_THRESHOLD", None)
    if saved is None:  # another GX: nothing to switch off
        yield
        return
    pandas_engine.HASH_THRESHOLD = 0
    try:
        yield
    finally:
        pandas_engine.HASH_THRESHOLD = saved


def _has_unexpected_rows(results: list[Any]) -> bool:
    return any((r.result or {}).get("unexpected_count") for r in results)


def _outside_bounds(unit: _Unit, results: list[Any]) -> bool:
    """Whether a range check of a column checked on its bounds (``_Unit.stand_ins``) found one out
    of range: then the values between them must be counted too."""
    return any(
        r.expectation_config.type == _BETWEEN
        and unit.stand_ins.get(str(r.expectation_config.kwargs.get("column"))) == "bounds"
        and (r.result or {}).get("unexpected_count")
        for r in results
    )


# ------------------------------------------------------------------------------- one schema group


@dataclass(frozen=True)
class _Layout:
    """Where each part's rows are in the concatenated batch: rows [ends[p] - rows[p], ends[p])."""

    rows: np.ndarray
    ends: np.ndarray

    @classmethod
    def of(cls, parts: Sequence[GatePart]) -> _Layout:
        rows = np.array([p.data.num_rows for p in parts], dtype=np.int64)
        return cls(rows=rows, ends=np.cumsum(rows))

    @property
    def starts(self) -> np.ndarray:
        return self.ends - self.rows

    def count(self, positions: np.ndarray) -> np.ndarray:
        """How many of ``positions`` (rows of the batch) fall in each part."""
        part = np.searchsorted(self.ends, positions, side="right")
        return np.bincount(part, minlength=len(self.rows))

    def sums(self, mask: np.ndarray) -> np.ndarray:
        """Per part, how many rows of ``mask`` (one bool per batch row) are true (counted from the
        false ones: few, where the mask says which rows GX counts as non-null)."""
        return self.rows - self.count(np.flatnonzero(~mask))


def _concat(parts: Sequence[GatePart]) -> pa.Table:
    """The parts' rows as one table (same field set: columns in the first part's order)."""
    names = parts[0].data.column_names
    tables = [p.data.select(names) for p in parts]
    if len(tables) == 1:
        return tables[0]
    for name in names:  # dictionary-encoded in some parts, plain in others (``_schema_groups``)
        if len({t.schema.field(name).type for t in tables}) > 1:
            tables = _one_encoding(tables, name)
    return pa.concat_tables(tables, promote_options="default")


def _one_encoding(tables: list[pa.Table], name: str) -> list[pa.Table]:
    """``tables`` with column ``name`` in one type: the one most of their rows have (the fewer rows
    are encoded or decoded)."""
    rows: dict[pa.DataType, int] = {}
    for t in tables:
        rows[t.schema.field(name).type] = rows.get(t.schema.field(name).type, 0) + t.num_rows
    target = max(rows, key=lambda k: (rows[k], pa.types.is_dictionary(k)))
    out = []
    for table in tables:
        i = table.schema.get_field_index(name)
        column = table.column(i)
        if column.type != target:
            plain = column.cast(_decoded(column.type))
            column = pc.dictionary_encode(plain).cast(target) if pa.types.is_dictionary(target) else plain
        out.append(table.set_column(i, table.schema.field(i).with_type(target), column))
    return out


def _partition_rows(table: Table, parts: Sequence[GatePart], layout: _Layout) -> pa.Array:
    """PARTITION_COLUMN: on every row of the batch, its part's partition (NULL: no partition check)."""
    assert table.partition_by is not None
    partitions = pa.array([p.partition for p in parts], table.column(table.partition_by).arrow_type)
    return partitions.take(pa.array(np.repeat(np.arange(len(parts)), layout.rows)))


def _validate_group(
    table: Table,
    compiled: _Compiled,
    parts: Sequence[GatePart],
    parameters: Mapping[str, Any],
    timings: dict[str, float],
    accept_shrink_hint: str,
) -> tuple[list[list[_Outcome]], _Outcome | None]:
    """Validate parts with one Arrow schema as one batch; each part's outcomes, and freshness."""
    data = _concat(parts)
    layout = _Layout.of(parts)
    partitions = _partition_rows(table, parts, layout) if "partition" in _kinds(compiled) else None
    per_part = [_counted(table, compiled, p, accept_shrink_hint) for p in parts]
    freshness: _Outcome | None = None
    series: dict[str, pd.Series] = {}
    encoded = _Encodings(data, keyed=[c for u in compiled.units if u.key for c in u.columns])
    with _quiet_gx():
        for unit in compiled.units:
            mark = time.perf_counter()
            key_rows = _KeyRows.of(unit, data, encoded) if unit.key else None
            if unit.distinct:
                frame = _distinct_frame(unit, data, encoded, whole=False)
            elif key_rows is not None:
                frame = _frame(unit, key_rows.rows(data, unit.columns), None, {})
            else:
                frame = _frame(unit, data, partitions, series)
            timings["convert"] += time.perf_counter() - mark
            mark = time.perf_counter()
            results = _unit_results(unit, frame, data.schema, parameters, timings)
            whole = unit.distinct and _outside_bounds(unit, results)
            if whole:  # a stand-in bound fails its range: GX counts every distinct value of the column
                frame = _distinct_frame(unit, data, encoded, whole=True)
                results = _unit_results(unit, frame, data.schema, parameters, timings)
            timings["validate"] += time.perf_counter() - mark
            mark = time.perf_counter()
            for r in results:
                read = _read(table, r)
                if read.kind == "freshness":
                    freshness = _outcome(table, data.schema, read, read.success, read.result, data.num_rows)
                    continue
                considered: Callable[[_Read], np.ndarray | None] = functools.partial(_considered, frame=frame)
                if unit.distinct and read.error is None:
                    checked = encoded.values_checked(unit, read.columns[0], whole=whole)
                    read, considered = _Distinct(checked).in_rows(read, frame)
                elif key_rows is not None and read.error is None:
                    read, considered = key_rows.in_rows(read, data)
                for i, outcome in enumerate(_per_part(table, data, layout, parts, read, considered)):
                    if outcome is not None:
                        per_part[i].append(outcome)
            timings["split"] += time.perf_counter() - mark
    return per_part, freshness


def _unit_results(
    unit: _Unit,
    frame: pd.DataFrame,
    schema: pa.Schema,
    parameters: Mapping[str, Any],
    timings: dict[str, float],
) -> list[Any]:
    """GX's results of ``unit`` on ``frame``: a BASIC run, and a COMPLETE one when rows are unexpected
    (their positions attribute them to the parts). A schema unit's results depend on the Arrow
    schema alone: they are reused for a schema seen before."""
    if unit.schema and (unit.suite.name, schema) in _SCHEMA_RESULTS:
        timings["schema_results_reused"] += 1
        return _SCHEMA_RESULTS[(unit.suite.name, schema)]
    results = _run(unit, frame, parameters, FIRST_PASS_FORMAT)
    timings["gx_validations"] += 1
    if _has_unexpected_rows(results):
        results = _run(unit, frame, parameters, RESULT_FORMAT)
        timings["gx_validations"] += 1
    if unit.schema:
        _SCHEMA_RESULTS[(unit.suite.name, schema)] = results
    return results


def _kinds(compiled: _Compiled) -> set[str]:
    return {check.split(":", 1)[0] for check in compiled.order}


def _frame(
    unit: _Unit, data: pa.Table, partitions: pa.Array | None, series: dict[str, pd.Series]
) -> pd.DataFrame:
    if unit.schema:
        return schema_frame(data.schema)
    present = [c for c in unit.columns if c in data.column_names or c == PARTITION_COLUMN]
    for name in present:  # a missing column: GX reports it
        if name not in series:
            series[name] = _value_series(partitions if name == PARTITION_COLUMN else data.column(name))
    if not present:
        return pd.DataFrame(index=pd.RangeIndex(data.num_rows))
    return pd.concat([series[c].rename(c) for c in present], axis=1)


def _indices(chunk: pa.DictionaryArray, null: int) -> np.ndarray:
    """A dictionary chunk's indices as numpy, NULL rows as ``null`` (a view when there is none)."""
    indices = chunk.indices if chunk.null_count == 0 else chunk.indices.fill_null(null)
    return indices.to_numpy(zero_copy_only=False)


@dataclass(frozen=True)
class _Encoded:
    """A column of the batch, read once for every unit that needs it: its distinct values (NULL and
    NaN among them if it holds any; -0.0 and 0.0 apart) and, for key columns, each row's position
    among them (a dictionary encoding: dearer than the distinct values alone)."""

    column: pa.ChunkedArray
    values: pa.Array
    codes: np.ndarray | None  # one per row of the batch; None: not asked for

    @classmethod
    def of(cls, column: pa.ChunkedArray, *, codes: bool) -> _Encoded:
        if pa.types.is_dictionary(column.type):
            return cls._of_dictionary(column, codes=codes)
        if not codes:
            return cls(column, pc.unique(column), None)
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        if encoded.num_chunks == 0:
            return cls(column, pa.array([], column.type), np.empty(0, np.int32))
        # every chunk holds the whole dictionary, and its indices point into it
        indices = [c.indices.to_numpy(zero_copy_only=False) for c in encoded.chunks]
        return cls(column, encoded.chunk(encoded.num_chunks - 1).dictionary, np.concatenate(indices))

    @classmethod
    def stand_ins(cls, column: pa.ChunkedArray, kind: _StandIn) -> _Encoded:
        """Stand-ins for the distinct values of a column checked for NULLs (``presence``: one valid
        value) or for NULLs and range (``bounds``: its least and greatest valid values), with NaN if it
        holds one (pandas, so GX, counts it as missing) and NULL if it holds one. GX's not-null
        verdict on them is its verdict on the distinct values; so is a range verdict when both bounds
        pass (the caller checks every distinct value otherwise). No value is hashed: a batch's offsets
        or readings are mostly distinct, hundreds of thousands of them."""
        dictionary = pa.types.is_dictionary(column.type)
        if dictionary and kind == "bounds":
            return cls._of_dictionary(column, codes=False)  # no hashing either
        value_type = column.type.value_type if dictionary else column.type
        nan = pc.is_nan(column) if pa.types.is_floating(column.type) else None
        stand_ins: list[pa.Array] = []
        if kind == "bounds":
            least, greatest = pc.min_max(column).values()  # NaN only if no other valid value
            if least.is_valid and not (nan is not None and math.isnan(least.as_py())):
                stand_ins.append(pa.array([least, greatest], value_type))
        else:
            usable = pc.is_valid(column) if nan is None else pc.invert(pc.fill_null(nan, True))
            at = pc.index(usable, True).as_py()
            if at >= 0:
                one = column.slice(at, 1).combine_chunks()
                stand_ins.append(one.dictionary_decode() if dictionary else one)
        if nan is not None and pc.any(nan).as_py():
            stand_ins.append(pa.array([float("nan")], value_type))
        if column.null_count:
            stand_ins.append(pa.nulls(1, value_type))
        return cls(column, pa.concat_arrays(stand_ins) if stand_ins else pa.array([], value_type), None)

    @classmethod
    def _of_dictionary(cls, column: pa.ChunkedArray, *, codes: bool) -> _Encoded:
        """A dictionary column (a parser's): its values are the entries of the chunks' unified
        dictionary some row holds (a part keeps its whole input's dictionary), its codes the rows'
        indices renumbered over them — no value is hashed or compared. Without codes nothing per row
        is kept (a batch's rows times the columns: memory this host pays dearly to fault in)."""
        chunks = column.unify_dictionaries().chunks
        dictionary = chunks[0].dictionary if chunks else pa.array([], column.type.value_type)
        null = len(dictionary)  # NULL rows get the code after the last entry
        indices = [_indices(c, null) for c in chunks]
        counts = np.zeros(null + 1, np.int64)
        for ix in indices:
            counts += np.bincount(ix, minlength=null + 1)
        held = np.flatnonzero(counts)
        values = dictionary.take(pa.array(held[held < null]))
        if held.size and held[-1] == null:
            values = pa.concat_arrays([values, pa.nulls(1, values.type)])
        if not codes:
            return cls(column, values, None)
        renumber = np.full(null + 1, -1, np.int32)
        renumber[held] = np.arange(len(held))
        rows = np.concatenate([renumber[ix] for ix in indices]) if indices else np.zeros(0, np.int32)
        return cls(column, values, rows)  # with codes, rows_holding never reads column

    def rows_holding(self, value_positions: np.ndarray) -> np.ndarray:
        """Mask of the batch's rows whose value is one of ``values[value_positions]`` (NULL and NaN
        match themselves)."""
        if self.codes is not None:
            return np.isin(self.codes, value_positions)
        wanted = self.values.take(pa.array(value_positions, pa.int64()))
        valid = wanted.drop_null()
        hit = pc.is_in(self.column, value_set=valid) if len(valid) else None
        if wanted.null_count:  # is_null alone where only NULL is wanted (a nullable column's missing rows)
            hit = pc.is_null(self.column) if hit is None else pc.or_(hit, pc.is_null(self.column))
        if hit is None:
            return np.zeros(len(self.column), dtype=bool)
        return np.asarray(hit.to_numpy(zero_copy_only=False), dtype=bool)


class _Encodings(dict[str, _Encoded]):
    """The batch's columns, each read when first asked for; ``keyed`` ones with their codes."""

    def __init__(self, data: pa.Table, keyed: Sequence[str]) -> None:
        super().__init__()
        self.data = data
        self.keyed = frozenset(keyed)
        self.stand_in_values: dict[str, _Encoded] = {}

    def __missing__(self, name: str) -> _Encoded:
        self[name] = encoded = _Encoded.of(self.data.column(name), codes=name in self.keyed)
        return encoded

    def key_codes(self, name: str) -> tuple[np.ndarray, int]:
        """Each row's code in key column ``name``, and how many codes there can be. An integer column
        without NULLs whose values span less than 2³² is its own code (less its least value), so no
        value is hashed (the readings' offsets: hundreds of thousands of distinct values in a
        batch); any other key column is dictionary-encoded (``_Encoded``)."""
        column = self.data.column(name)
        if pa.types.is_integer(column.type) and column.null_count == 0 and len(column):
            least, greatest = (v.as_py() for v in pc.min_max(column).values())
            if greatest - least < 1 << 32:
                return np.subtract(column.to_numpy(), least, dtype=np.int64), greatest - least + 1
        codes = self[name].codes
        assert codes is not None, f"{name}: a key column is encoded with its codes"
        return codes, max(len(self[name].values), 1)

    def values_checked(self, unit: _Unit, name: str, *, whole: bool = False) -> _Encoded:
        """What a value-wise unit's frame holds of column ``name``: stand-ins for its distinct values
        where the unit allows them (``_Unit.stand_ins``), else (or, for range checks, ``whole``) the
        distinct values."""
        kind = unit.stand_ins.get(name)
        if kind is None or (whole and kind == "bounds"):
            return self[name]
        if name not in self.stand_in_values:
            self.stand_in_values[name] = _Encoded.stand_ins(self.data.column(name), kind)
        return self.stand_in_values[name]


def _restated(
    read: _Read, rows: int, positions: np.ndarray, present: np.ndarray | None
) -> tuple[_Read, Callable[[_Read], np.ndarray | None]]:
    """``read`` restated on the batch's ``rows``: unexpected at ``positions``, the rows GX counts as
    non-null ``present`` (None: every row)."""
    result: dict[str, Any] = {
        "element_count": rows,
        "unexpected_count": len(positions),
        "unexpected_index_list": positions.tolist(),
    }
    considered = rows
    if "missing_count" in read.result:  # not for not_null: it counts every row
        considered = rows if present is None else int(present.sum())
        result["missing_count"] = rows - considered
    success = _passes(rows, considered, len(positions), float(read.kwargs.get("mostly", 1.0)))
    return replace(read, result=result, success=success), lambda _: present


@dataclass(frozen=True)
class _Distinct:
    """Value-wise checks run on a column's distinct values: a national day of air data has ~48,000
    rows but a few hundred distinct values per column. Rows are looked up by value only where GX found
    an unexpected or a missing value (rare: clean data costs one hash pass per column)."""

    column: _Encoded

    def padded(self, length: int) -> pa.Array:
        """The values, the first repeated up to ``length`` (a frame's columns have one length)."""
        values = self.column.values
        n = len(values)
        if n == length:
            return values
        return values.take(np.concatenate([np.arange(n), np.zeros(length - n, dtype=np.int64)]))

    def in_rows(self, read: _Read, frame: pd.DataFrame) -> tuple[_Read, Callable[[_Read], np.ndarray | None]]:
        """``read`` (GX's result on the distinct values in ``frame``) restated on the batch's rows:
        the rows holding an unexpected value; the non-null rows (NaN = NULL, as GX saw them), as a
        mask, or None when every row is."""
        n = len(self.column.values)
        at = np.asarray(read.result.get("unexpected_index_list") or [], dtype=np.int64)
        bad_values = np.unique(np.where(at < n, at, 0))  # past n: padding, a repeat of value 0
        positions = (
            np.flatnonzero(self.column.rows_holding(bad_values)) if len(bad_values) else np.empty(0, np.int64)
        )
        missing_values = np.flatnonzero(frame[read.columns[0]].isna().to_numpy()[:n])
        present = ~self.column.rows_holding(missing_values) if len(missing_values) else None
        return _restated(read, len(self.column.column), positions, present)


def _distinct_frame(unit: _Unit, data: pa.Table, encoded: _Encodings, *, whole: bool) -> pd.DataFrame:
    """The frame of a value-wise unit: each column's distinct values or their stand-ins (a missing
    column: GX reports it)."""
    present = [c for c in unit.columns if c in data.column_names]
    columns = {c: _Distinct(encoded.values_checked(unit, c, whole=whole)) for c in present}
    length = max((len(d.column.values) for d in columns.values()), default=0)
    return pd.DataFrame(
        {c: _value_series(d.padded(length)) for c, d in columns.items()}, index=pd.RangeIndex(length)
    )


def _repeated(key: np.ndarray) -> np.ndarray:
    """The values ``key`` holds more than once. Small batches, and keys that arrive in long ascending
    runs (a parser's rows split by date: ~150 runs in 3.7 M readings), are sorted whole (timsort
    merges the runs: ~6 ms there). Otherwise only keys sharing a hash bucket (2–4 buckets a key up to
    8 M keys; the table stops growing at 2²⁴ counts, 128 MB) can repeat, so only they are sorted: a
    fifth to two fifths of a clean batch's keys instead of all (runs that interleave, such as air's
    hour-major rows, make timsort slower than that)."""
    if len(key) <= 1 << 16 or np.count_nonzero(key[1:] < key[:-1]) <= len(key) >> 12:  # runs ≥ 4,096
        ordered = np.sort(key, kind="stable")
    else:
        bits = min(len(key).bit_length() + 1, 24)
        hashed = (key.view(np.uint64) * np.uint64(0x9E3779B97F4A7C15)) >> np.uint64(64 - bits)
        bucket = hashed.view(np.int64)
        ordered = np.sort(key[(np.bincount(bucket, minlength=1 << bits) > 1)[bucket]])
    return ordered[1:][ordered[1:] == ordered[:-1]]


@dataclass(frozen=True)
class _KeyRows:
    """The batch's rows whose key (the columns' codes together) another row holds too, ascending: the
    only rows a uniqueness check can fail, and all a duplicate's twins. None of them on clean data, so
    GX checks an empty frame instead of hashing millions of keys (pandas ``duplicated``)."""

    positions: np.ndarray

    @classmethod
    def of(cls, unit: _Unit, data: pa.Table, encoded: _Encodings) -> _KeyRows | None:
        """None, and GX checks every row, where codes could split values pandas holds equal: a float
        column (0.0 and -0.0) or a missing one (GX reports it)."""
        columns = [c for c in unit.columns if c in data.column_names]
        if columns != list(unit.columns) or any(
            pa.types.is_floating(data.schema.field(c).type) for c in columns
        ):
            return None
        key = np.zeros(data.num_rows, dtype=np.int64)
        span = 1
        for name in columns:
            codes, width = encoded.key_codes(name)
            if span > (1 << 62) // width:  # the product would overflow: renumber the keys so far
                key = np.unique(key, return_inverse=True)[1].astype(np.int64)
                span = int(key.max()) + 1
            key = key * width + codes
            span *= width
        repeated = _repeated(key)
        if len(repeated) == 0:
            return cls(np.empty(0, np.int64))
        return cls(np.flatnonzero(np.isin(key, repeated)))

    def rows(self, data: pa.Table, columns: Sequence[str]) -> pa.Table:
        """The ``columns`` of the rows at ``positions`` (Arrow's take concatenates every chunk first:
        not on clean data)."""
        keys = data.select(list(columns))
        return keys.slice(0, 0) if len(self.positions) == 0 else keys.take(pa.array(self.positions))

    def in_rows(self, read: _Read, data: pa.Table) -> tuple[_Read, Callable[[_Read], np.ndarray | None]]:
        """``read`` (GX's result on the rows at ``positions``) restated on the batch's rows."""
        at = np.asarray(read.result.get("unexpected_index_list") or [], dtype=np.int64)
        present = (
            None  # no NULL in the key: GX counts every row, whatever its ignore_row_if
            if all(data.column(c).null_count == 0 for c in read.columns)
            else _considered_rows(read, lambda c: pc.is_valid(data.column(c)).to_numpy(zero_copy_only=False))
        )
        return _restated(read, data.num_rows, self.positions[at], present)


# ------------------------------------------------------------------------------------- outcomes


@dataclass(frozen=True)
class _Read:
    """One GX expectation result as the gate reads it."""

    check: str
    kind: str
    subject: str
    expectation: str
    severity: Severity
    kwargs: Mapping[str, Any]
    columns: list[str]  # data columns the expectation is about
    success: bool
    error: str | None
    result: Mapping[str, Any]
    details: str


def _read(table: Table, r: Any) -> _Read:
    config = r.expectation_config
    meta = config.meta or {}
    check = str(meta.get("ecocloud_check", f"{config.type}:"))
    kind, _, subject = check.partition(":")
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    if (
        kind == "freshness"
        and _is_date_column(table, subject)
        and isinstance(kwargs.get("min_value"), dt.datetime)
    ):
        kwargs["min_value"] = kwargs["min_value"].date()  # the threshold went to GX as a datetime64 day
    error = _exception_message(r.exception_info)
    columns = [str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs]
    columns += [str(c) for c in kwargs.get("column_list", [])]
    return _Read(
        check=check,
        kind=kind,
        subject=subject,
        expectation=str(config.type),
        severity=Severity(meta.get("severity", Severity.BLOCKING.value)),
        kwargs=kwargs,
        columns=[c for c in columns if c != PARTITION_COLUMN],
        success=bool(r.success) and error is None,
        error=error,
        result=r.result or {},
        details=_json({**kwargs, **({"error": error} if error else {})}),
    )


@dataclass(frozen=True)
class _Outcome:
    check: str
    expectation: str
    column_name: str | None
    severity: Severity
    success: bool
    element_count: int
    unexpected_count: int | None
    unexpected_percent: float | None
    observed_value: str | None
    details: str
    message: str


def _per_part(
    table: Table,
    data: pa.Table,
    layout: _Layout,
    parts: Sequence[GatePart],
    read: _Read,
    considered: Callable[[_Read], np.ndarray | None],
) -> list[_Outcome | None]:
    """``read`` (a result on the whole batch) restated for each part (None: not checked on it)."""
    rows = [p.data.num_rows for p in parts]
    if read.error is not None or read.kind in _SCHEMA_KINDS:  # the same for every part
        return [_outcome(table, data.schema, read, read.success, read.result, n) for n in rows]
    if "unexpected_count" not in read.result:
        raise RuntimeError(f"{read.check}: an aggregate expectation the gate cannot split by part")
    return [
        None
        if read.kind == "partition" and part.partition is None  # the part named no partition
        else _outcome(table, data.schema, read, success, result, part.data.num_rows, part.partition)
        for part, (success, result) in zip(
            parts, _split_map(table, data, layout, read, considered), strict=True
        )
    ]


def _split_map(
    table: Table,
    data: pa.Table,
    layout: _Layout,
    read: _Read,
    considered: Callable[[_Read], np.ndarray | None],
) -> list[tuple[bool, dict[str, Any]]]:
    """Per part: (success, result) of a map expectation, from GX's unexpected row positions;
    ``considered(read)``: whether GX counts each row of the batch (non-null; every row for not_null),
    None when it counts every row."""
    result = read.result
    positions = np.sort(np.asarray(result.get("unexpected_index_list") or [], dtype=np.int64))
    if len(positions) != int(result["unexpected_count"]):
        raise RuntimeError(
            f"{read.check}: GX gave {len(positions)} unexpected rows of {result['unexpected_count']}"
        )
    unexpected = layout.count(positions)
    skip_missing = "missing_count" not in result  # not_null: every row counts
    mask = None if skip_missing else considered(read)
    considered_rows = layout.rows if mask is None else layout.sums(mask)
    if not skip_missing and int(considered_rows.sum()) != result["element_count"] - result["missing_count"]:
        raise RuntimeError(f"{read.check}: non-null rows per part do not add up to GX's count")
    mostly = float(read.kwargs.get("mostly", 1.0))
    out = []
    for rows, u, c, start in zip(
        layout.rows.tolist(),
        unexpected.tolist(),
        considered_rows.tolist(),
        layout.starts.tolist(),
        strict=True,
    ):
        first = np.searchsorted(positions, start)
        sampled = positions[first : first + min(u, SAMPLE_SIZE)]
        part: dict[str, Any] = {
            "element_count": rows,
            "unexpected_count": u,
            "unexpected_percent": _unexpected_percent(rows, u, c, skip_missing),
            "partial_unexpected_list": _sample(table, data, read, sampled),
        }
        keys = _sample_keys(table, data, read, sampled)
        if keys:
            part[SAMPLE_KEYS] = keys
        if not skip_missing:
            part["missing_count"] = rows - c
        out.append((_passes(rows, c, u, mostly), part))
    if len(out) == 1 and out[0][0] != read.success:
        raise RuntimeError(f"{read.check}: recomputed success differs from GX's")
    return out


def _passes(rows: int, considered: int, unexpected: int, mostly: float) -> bool:
    """GX's rule for a map expectation: (non-null - unexpected) / non-null >= mostly; vacuously true."""
    return (
        rows == 0 or considered == 0 or (float(considered) - float(unexpected)) / float(considered) >= mostly
    )


def _unexpected_percent(rows: int, unexpected: int, considered: int, skip_missing: bool) -> float | None:
    """GX's unexpected_percent: of the non-null rows (of every row for not_null); None without rows."""
    if rows == 0:
        return None
    if skip_missing:
        return unexpected / rows * 100
    return unexpected / considered * 100 if considered > 0 else None


def _considered(read: _Read, frame: pd.DataFrame) -> np.ndarray:
    """Rows GX counts as non-null for a map expectation on ``frame`` (NaN = NULL)."""
    mask = _considered_rows(read, lambda c: frame[c].notna().to_numpy())
    return np.ones(len(frame), dtype=bool) if mask is None else mask


def _considered_rows(read: _Read, present: Callable[[str], np.ndarray]) -> np.ndarray | None:
    """GX's ``ignore_row_if`` rule on the columns' non-null masks (``present(column)``); None when it
    counts every row."""
    kwargs = read.kwargs
    if "column" in kwargs:
        return present(kwargs["column"])
    if "column_A" in kwargs:
        a, b = present(kwargs["column_A"]), present(kwargs["column_B"])
        rule = kwargs.get("ignore_row_if", "both_values_are_missing")
        return {"both_values_are_missing": a | b, "either_value_is_missing": a & b}.get(rule)
    masks = np.array([present(c) for c in kwargs["column_list"]])
    rule = kwargs.get("ignore_row_if", "all_values_are_missing")
    if rule == "all_values_are_missing":
        return np.asarray(masks.any(axis=0))
    if rule == "any_value_is_missing":
        return np.asarray(masks.all(axis=0))
    return None


def _sample(table: Table, data: pa.Table, read: _Read, positions: np.ndarray) -> list[Any]:
    """Values of the unexpected rows at ``positions``, read from the Arrow data."""
    if len(positions) == 0:
        return []
    take = pa.array(positions, pa.int64())
    if read.kind == "partition":
        assert table.partition_by is not None
        return data.column(table.partition_by).take(take).to_pylist()
    if "column_list" in read.kwargs:
        return data.select(list(read.kwargs["column_list"])).take(take).to_pylist()
    values = [data.column(c).take(take).to_pylist() for c in read.columns]
    return values[0] if len(values) == 1 else [list(v) for v in zip(*values, strict=True)]


def _sample_keys(table: Table, data: pa.Table, read: _Read, positions: np.ndarray) -> list[Any]:
    """The primary key of the unexpected rows at ``positions`` (as ``_sample`` gives their values), so
    a failure names the rows to look at, not only what they hold; none for a key check (its sample
    is the key) or where the data lacks a key column (the column check says so)."""
    key = _row_key(table)
    if len(positions) == 0 or not key or read.kind == "primary_key" or not set(key) <= set(data.schema.names):
        return []
    rows = data.select(key).take(pa.array(positions, pa.int64())).to_pylist()
    return [r[key[0]] for r in rows] if len(key) == 1 else [[r[k] for k in key] for r in rows]


def _row_key(table: Table) -> list[str]:
    """The columns naming a row within its part: the primary key without the partition column (a
    failure names its part's partition already)."""
    return [c for c in table.primary_key if c != table.partition_by] or list(table.primary_key)


def _counted(table: Table, compiled: _Compiled, part: GatePart, accept_shrink_hint: str) -> list[_Outcome]:
    """The checks of a part's row count: ``rows``, and ``shrink`` where the unit published rows before."""
    outcomes = [] if compiled.row_count is None else [_row_count(compiled.row_count, part.data.num_rows)]
    if compiled.shrink is not None and part.published_rows is not None:
        assert table.max_shrink is not None
        outcomes.append(_shrink(compiled.shrink, part, table.max_shrink, accept_shrink_hint))
    return outcomes


def _shrink(expectation: Any, part: GatePart, max_shrink: float, hint: str) -> _Outcome:
    """``shrink`` on one part: its rows against the rows its unit published in the partition (a
    failure is a warning where the run accepts the part's shrink; ``hint``: how to accept it)."""
    rows, published, accepted = part.data.num_rows, part.published_rows or 0, part.shrink_accepted
    floor = math.ceil(published * (1 - max_shrink) - 1e-9)
    success = rows >= floor
    # in tenths of a percent, rounded up in integers: never "10.0 % fewer" where 10 % are allowed
    tenths = -(-1000 * (published - rows) // max(published, 1))
    lost = f"{rows:,} rows where {published:,} are published: {tenths / 10:.1f}% fewer, "
    lost += f"more than the {max_shrink:.0%} allowed"
    meta = expectation.meta or {}
    return _Outcome(
        check=str(meta["ecocloud_check"]),
        expectation=str(expectation.expectation_type),
        column_name=None,
        severity=Severity.WARNING if accepted and not success else Severity(meta["severity"]),
        success=success,
        element_count=rows,
        unexpected_count=None,
        unexpected_percent=None,
        # details stay the table's (the catalog sums a run's results by them); the bound is observed
        observed_value=_json({"rows": rows, "published_rows": published, "min_value": floor}),
        details=_json({"max_shrink": max_shrink}),
        message="ok"
        if success
        else f"{lost}; published as the run accepts shrinking"
        if accepted
        else f"{lost}; held back, the published rows stay"
        + (f" ({hint.replace('{unit}', part.unit)})" if hint else ""),
    )


def _row_count(expectation: Any, rows: int) -> _Outcome:
    """``rows`` on one part: the part's row count against the expectation's bounds."""
    kwargs = {k: v for k, v in expectation.configuration.kwargs.items() if k != "batch_id"}
    meta = expectation.meta or {}
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    success = (low is None or rows >= low) and (high is None or rows <= high)
    return _Outcome(
        check=str(meta["ecocloud_check"]),
        expectation=str(expectation.expectation_type),
        column_name=None,
        severity=Severity(meta["severity"]),
        success=success,
        element_count=rows,
        unexpected_count=None,
        unexpected_percent=None,
        observed_value=_json(rows),
        details=_json(kwargs),
        message="ok" if success else "the partition is empty (0 rows)" if rows == 0 else f"{rows:,} rows",
    )


def _outcome(
    table: Table,
    schema: pa.Schema,
    read: _Read,
    success: bool,
    result: Mapping[str, Any],
    rows: int,
    partition: dt.date | None = None,
) -> _Outcome:
    unexpected_count = result.get("unexpected_count")
    unexpected_percent = result.get("unexpected_percent")  # of the non-null rows (GX)
    if "observed_value" in result:
        observed: Any = _registry_value(table, read, result["observed_value"])
    elif unexpected_count and table.sharing is Sharing.NOT_SHARED:
        # the results are shared wider than the table (有条件共享): its values stay in it
        observed = {"partial_unexpected": WITHHELD}
    elif unexpected_count:
        observed = {"partial_unexpected": result.get("partial_unexpected_list", [])}
        if result.get(SAMPLE_KEYS):
            observed[SAMPLE_KEYS] = result[
                SAMPLE_KEYS
            ]  # sorts after: serving's withholding sees values first
    else:
        observed = None
    if success:
        message = "ok"
    elif read.error is not None:
        missing = [c for c in read.columns if c not in schema.names]
        why = f"column {', '.join(missing)} missing" if missing else read.error
        message = f"{read.check} not evaluated ({read.expectation}): {why}"
    else:
        message = _failure_message(table, schema, read, result, partition)
    return _Outcome(
        check=read.check,
        expectation=read.expectation,
        column_name=",".join(read.columns) or None,
        severity=read.severity,
        success=success,
        element_count=int(result.get("element_count", rows)),
        unexpected_count=None if unexpected_count is None else int(unexpected_count),
        unexpected_percent=None if unexpected_percent is None else float(unexpected_percent),
        observed_value=None if observed is None else _json(observed),
        details=read.details,
        message=message,
    )


def _registry_value(table: Table, read: _Read, value: Any) -> Any:
    """An aggregate on a ``date`` column comes back as a datetime (dates are datetime64 for GX)."""
    if read.kind == "freshness" and isinstance(value, dt.datetime) and _is_date_column(table, read.subject):
        return value.date()
    return value


def _is_date_column(table: Table, name: str) -> bool:
    return name in table.column_names and table.column(name).type == "date"


def _failure_message(
    table: Table,
    schema: pa.Schema,
    read: _Read,
    result: Mapping[str, Any],
    partition: dt.date | None,
) -> str:
    kind, subject, kwargs = read.kind, read.subject, read.kwargs
    mostly = float(kwargs.get("mostly", 1.0))
    count = int(result.get("unexpected_count") or 0)
    total = int(result.get("element_count") or 0)
    nonnull = total - int(result.get("missing_count") or 0)
    share = f"{count:,} of {total:,} rows"
    sample = _json(result.get("partial_unexpected_list", []))
    if result.get(SAMPLE_KEYS):
        key = _row_key(table)
        sample += f" at {'key ' + key[0] if len(key) == 1 else 'keys (' + ', '.join(key) + ')'} "
        sample += "= " + _json(result[SAMPLE_KEYS])
    if mostly < 1.0:
        ok = 100.0 - float(result.get("unexpected_percent") or 0.0)
        share += (
            f" (ok on {_pct(ok, floor=True)} % of {nonnull:,} non-null rows, needs ≥ {_pct(mostly * 100)} %)"
        )
    if kind == "columns":
        observed = {str(c) for c in result.get("observed_value") or []}
        declared = set(table.column_names)
        return (
            f"columns differ from the registry: missing {sorted(declared - observed)}, "
            f"undeclared {sorted(observed - declared)}"
        )
    if kind == "type":
        column = table.column(subject)
        return (
            f"{subject} has Arrow type {schema.field(subject).type} (pandas scalar "
            f"{result.get('observed_value')}), the registry says {column.type} = {column.arrow_type}; "
            "cast with Table.conform()"
        )
    if kind == "not_null":
        return f"{subject} is NULL on {share} (not nullable)"
    if kind == "range":
        low, high = _num(kwargs.get("min_value"), "-∞"), _num(kwargs.get("max_value"), "∞")
        return f"{subject} outside [{low}, {high}] on {share}, e.g. {sample}"
    if kind == "allowed":
        return f"{subject} not an allowed value on {share}, e.g. {sample}"
    if kind == "primary_key":
        return f"primary key ({subject.replace(',', ', ')}) duplicated on {share}, e.g. {sample}"
    if kind == "pair_equality":
        a, b = subject.split("=", 1)
        agree = 100.0 - float(result.get("unexpected_percent") or 0.0)
        return (
            f"{a} = {b} on {_pct(agree, floor=True)} % of rows (needs ≥ {_pct(mostly * 100)} %): "
            f"{count:,} of {nonnull:,} rows with both differ, e.g. {sample}"
        )
    if kind == "partition":
        return f"{subject} is not the partition date {_json([partition])} on {share}, e.g. {sample}"
    if kind == "freshness":
        latest = _registry_value(table, read, result.get("observed_value"))
        newest = "none (no rows)" if _isna(latest) else _iso(latest)
        return f"stale: max({subject}) = {newest}, needs ≥ {_iso(kwargs.get('min_value'))}"
    return f"{kind} {subject} failed: {_json(dict(result))}"


# --------------------------------------------------------------------------------------- verdicts


@dataclass(frozen=True)
class _Stamp:
    run: GateRun
    gate_run_id: str
    validated_at: dt.datetime
    schema: pa.Schema  # of quality_platform__expectation_results (built once per call)


def _verdict(
    table: Table,
    part: GatePart,
    unordered: list[_Outcome],
    order: Mapping[str, int],
    stamp: _Stamp,
    timings: dict[str, float],
) -> GateVerdict:
    where = _label(table.name, part.unit, part.partition, "(unpartitioned)")
    outcomes = sorted(unordered, key=lambda o: order.get(o.check, len(order)))
    failed = [o for o in outcomes if not o.success]
    blocking = [f"{where}: {o.message}" for o in failed if o.severity == Severity.BLOCKING]
    warned = [f"{where}: {o.message}" for o in failed if o.severity == Severity.WARNING]
    passed = not blocking
    common = {
        "date": stamp.validated_at.astimezone(BEIJING).date(),
        "validated_at": stamp.validated_at,
        "run_id": stamp.run.run_id,
        "task": stamp.run.task,
        "gate_run_id": stamp.gate_run_id,
        "build": stamp.run.build,
        "unit": part.unit,
        "table_name": table.name,
        "partition_date": part.partition,
        "published": passed,
    }
    rows = [
        {
            **common,
            "expectation": o.expectation,
            "column_name": o.column_name,
            "severity": o.severity.value,
            "success": o.success,
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "observed_value": o.observed_value,
            "details": o.details,
        }
        for o in outcomes
    ]
    results = pa.Table.from_pylist(rows, schema=stamp.schema)
    return GateVerdict(
        unit=part.unit,
        partition=part.partition,
        table_name=table.name,
        passed=passed,
        row_count=part.data.num_rows,
        blocking_failures=blocking,
        warnings=warned,
        results=results,
        timings=dict(timings),
        blocking_checks=[o.check for o in failed if o.severity == Severity.BLOCKING],
        recorded_failures=blocking
        if table.sharing is not Sharing.NOT_SHARED
        else [
            f"{where}: {o.check} failed"
            + (f" on {o.unexpected_count:,} of {o.element_count:,} rows" if o.unexpected_count else "")
            + f" ({WITHHELD})"
            for o in failed
            if o.severity == Severity.BLOCKING
        ],
    )


def _freshness_threshold(table: Table, column: str, expected_latest: dt.datetime) -> dt.datetime:
    """``expected_latest - freshness_tolerance`` in UTC; a ``date`` column: its Beijing day, as a
    naive midnight (dates are datetime64 in the value frames; registry dates are Beijing days)."""
    threshold = (expected_latest - table.freshness_tolerance).astimezone(UTC)
    if _is_date_column(table, column):
        day = threshold.astimezone(BEIJING).date()
        return dt.datetime(day.year, day.month, day.day)
    return threshold


# ------------------------------------------------------------------------------------ rendering


def _pct(value: float, *, floor: bool = False) -> str:
    """Percent with ≤ 2 decimals; observed shares round down so a failure never shows the target."""
    value = math.floor(value * 100) / 100 if floor else round(value, 2)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _num(value: Any, default: str) -> str:
    if value is None or (isinstance(value, float) and abs(value) == _LARGEST):
        return default
    return f"{value:g}" if isinstance(value, float) else str(value)


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(UTC)
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _exception_message(info: Any) -> str | None:
    """GX reports errors flat ({raised_exception, exception_message}) or keyed by metric id."""
    if not isinstance(info, Mapping):
        return None
    if "raised_exception" in info:
        return str(info.get("exception_message") or "error") if info.get("raised_exception") else None
    for value in info.values():
        message = _exception_message(value)
        if message is not None:
            return message
    return None


def _isna(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float):  # numpy float64 too
        return math.isnan(value)
    if isinstance(value, int | str | bytes):  # exact answers before pandas' isna (~2 µs a call)
        return False
    if isinstance(value, Sequence | Mapping):
        return False
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):
        return False


def _plain(value: Any) -> Any:
    """JSON-able form of GX values: numpy scalars, pandas NA/NaT/Timestamp, tuples, sets, dates."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, set | frozenset):
        return sorted((_plain(v) for v in value), key=str)
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if _isna(value):
        return None  # before the datetime branch: pandas.NaT is a datetime
    if isinstance(value, dt.datetime):
        return _iso(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, bool | int | float | str):
        return value
    if hasattr(value, "item"):  # numpy scalar
        return value.item()
    return str(value)


def _json(value: Any) -> str:
    return json.dumps(_plain(value), ensure_ascii=False, sort_keys=True, default=str)
