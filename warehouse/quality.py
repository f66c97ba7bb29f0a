"""The quality gate: Great Expectations suites generated from the schema registry.

Nothing here is written per table. ``build_suite`` turns a registry ``Table`` into a GX
``ExpectationSuite``; ``run_gate`` validates the partition about to be published with it and returns
a ``GateResult`` whose ``results`` conform to ``quality_platform__expectation_results``.

Generated expectations, in this order (``meta["ecocloud_check"]`` is ``"<kind>:<subject>"``):

=================  ============================================================  ================
kind               expectation                                                   severity
=================  ============================================================  ================
``columns``        ExpectTableColumnsToMatchSet(registry columns, exact_match)   blocking
``rows``           ExpectTableRowCountToBeBetween(min_value=1)                   warning
``type``           ExpectColumnValuesToBeOfType, every column                    blocking
``not_null``       ExpectColumnValuesToNotBeNull, non-nullable columns           blocking
``range``          ExpectColumnValuesToBeBetween(min, max, mostly)               column severity
``allowed``        ExpectColumnValuesToBeInSet(allowed, mostly)                  column severity
``primary_key``    ExpectColumnValuesToBeUnique / ExpectCompoundColumnsToBeUniq  blocking
``pair_equality``  ExpectColumnPairValuesToBeEqual(mostly, either_value_missing)  pair severity
``partition``      ExpectColumnValuesToBeInSet(partition column, [partition])    blocking
``freshness``      ExpectColumnMaxToBeBetween(min = expected_latest - tolerance)  blocking
=================  ============================================================  ================

``Column.severity`` applies to the value checks that come with it (range, allowed values); the
structure (column set, types, nullability, key, partition) is always blocking. ``partition`` is
added when ``run_gate`` gets a ``partition_date`` and the table is partitioned (it catches rows of
the wrong Beijing day); ``freshness`` when it gets ``expected_latest`` and the table has a
``freshness_column``. Their thresholds change every run, so they are GX suite parameters
(``{"$PARAMETER": ...}``, values passed as ``expectation_parameters``): suites are never rebuilt
per partition. ``mostly`` and ``unexpected_percent`` count non-null rows only (GX semantics).

Two pandas representations. GX's pandas checks are fast only on some dtypes, and its type check
sees only the dtype, so the gate does not feed one frame to one validation definition. At compile
time (once per process and table variant, cached) the suite is split into *units*, each with its
own GX validation definition; every expectation runs exactly once and is reported in suite order:

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

* **value units**, one per column / primary key / column pair, run on a frame holding only those
  columns, converted by ``to_pandas`` for speed: GX's map expectations copy the *whole* batch for
  each expectation (``df[df[col].notnull()]``), and ExpectColumnValuesToBeBetween is vectorised
  only for numpy int64/float64 (on masked Int16/Float64 it runs a Python ``Series.map``: ~3 s per
  1.5 M values). So ints are numpy int64 (float64 with NaN when they have NULLs), floats numpy
  float64 (NaN = NULL), timestamps datetime64, strings and dates stay Arrow-backed.
  NaN in a float column therefore counts as NULL (fails not-null, never range).

* the row count runs on a zero-column frame of the right length.

Empty partitions (0 rows): everything runs. Column set and types are checked (from the schema),
value checks hold vacuously, ``rows`` warns, ``freshness`` (when asked for) fails — there is no
newest value. So an empty partition is publishable unless freshness is required.

Measured (core_air__station_hourly, 22 columns, 49 expectations, warm process): real day file
2023-01-20 (40 k rows) 0.36 s; synthetic 50 k rows 0.32 s; 1.5 M rows 0.97 s (0.07 s of it
converting). The same 1.5 M rows as one masked-dtype frame in one validation definition: 24 s.
First call per process: ~6 s importing GX, then ~0.2 s compiling a table's units.

GX itself: imported lazily (the import takes seconds); one ephemeral in-memory context per process
(no data docs, no progress bars, no analytics); runs are serialised by a lock (contexts are not
thread-safe); during runs GX's loggers are raised to WARNING, its warnings are muted, and GX's
per-batch MD5 fingerprint of the dataframe (only a batch marker, ~2 s per 1.5 M rows) is switched off.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import math
import threading
import time
import uuid
import warnings
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from schemas.platform import expectation_results
from schemas.registry import Column, Severity, Table

if TYPE_CHECKING:
    import great_expectations as gx
    from great_expectations.expectations import Expectation

__all__ = [
    "EMPTY_SEVERITY",
    "FRESHNESS_PARAMETER",
    "GX_TYPE_NAMES",
    "PANDAS_DTYPES",
    "PARTITION_PARAMETER",
    "RESULT_FORMAT",
    "GateResult",
    "build_suite",
    "clear_cache",
    "run_gate",
    "schema_frame",
    "to_pandas",
]

log = logging.getLogger(__name__)

UTC = dt.UTC
BEIJING = dt.timezone(dt.timedelta(hours=8), "Asia/Shanghai")  # no DST in China since 1991

# Suite parameters filled in at run time (GX 1.x: ``{"$PARAMETER": name}`` + expectation_parameters).
FRESHNESS_PARAMETER = "ecocloud_freshness_min"
PARTITION_PARAMETER = "ecocloud_partition_dates"

EMPTY_SEVERITY = Severity.WARNING  # an empty partition is reported, not blocked

# BASIC: counts, percentages and a 5-value sample; no index lists, no unexpected value counts.
RESULT_FORMAT: dict[str, Any] = {"result_format": "BASIC", "partial_unexpected_count": 5}

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
    if pa.types.is_date(arrow_type):
        return pd.ArrowDtype(arrow_type)
    return None  # pyarrow's default: numpy float64 / int64 / datetime64[unit, tz]


def _value_series(column: pa.ChunkedArray) -> pd.Series:
    if pa.types.is_integer(column.type):
        # int64 without NULLs; float64 (NaN) with them: exact for |values| < 2**53
        column = column.cast(pa.int64() if column.null_count == 0 else pa.float64())
    return column.to_pandas(types_mapper=_value_dtype)


def to_pandas(data: pa.Table) -> pd.DataFrame:
    """Arrow -> pandas as the value checks see it: dtypes on which GX's pandas checks are vectorised.

    Integers: numpy int64, or float64 with NaN when the column has NULLs; floats: numpy float64
    with NaN for NULL (no copy without NULLs); timestamps: datetime64[unit, tz] (no copy without
    NULLs); strings: string[pyarrow], dates: date32[pyarrow] (Arrow buffers, no copy); booleans:
    boolean (masked). ``run_gate`` converts column by column, each at most once per run.
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
        gxe.ExpectTableRowCountToBeBetween(min_value=1, meta=_meta("rows", table.name, EMPTY_SEVERITY)),
    ]
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
            out.append(
                gxe.ExpectColumnValuesToBeBetween(
                    column=col.name,
                    min_value=col.min,
                    max_value=col.max,
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
        out.append(
            gxe.ExpectColumnValuesToBeInSet(
                column=table.partition_by,
                value_set={"$PARAMETER": PARTITION_PARAMETER},
                meta=_meta("partition", table.partition_by, blocking),
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
    column's max must be ≥ the suite parameter ``FRESHNESS_PARAMETER``, a tz-aware datetime. ``partition``
    adds "every row is in the partition" (if the table has ``partition_by``): the column's values
    must be in the suite parameter ``PARTITION_PARAMETER``, a one-element list of dates. ``run_gate``
    supplies both. The suite is not saved anywhere; ``run_gate`` compiles its own copy.
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


# ------------------------------------------------------------------------------- GX cache + run

_SCHEMA_KINDS = frozenset({"columns", "type"})


@dataclass(frozen=True)
class _Unit:
    """Expectations validated together on one frame: the schema frame or the frame of ``columns``."""

    schema: bool  # zero-row, exact-dtype frame of all data columns
    columns: tuple[str, ...]  # otherwise: the registry columns the frame holds (() = row count only)
    definition: Any  # gx.ValidationDefinition


@dataclass(frozen=True)
class _Compiled:
    units: tuple[_Unit, ...]
    order: Mapping[str, int]  # ecocloud_check -> position in build_suite order


_LOCK = threading.RLock()
_CONTEXT: Any = None
_COMPILED: dict[tuple[Table, bool, bool], _Compiled] = {}


def _context() -> Any:
    global _CONTEXT
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
                context.data_sources.add_pandas("ecocloud")
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


def _compiled(table: Table, *, freshness: bool, partition: bool) -> _Compiled:
    key = (table, freshness, partition)
    with _LOCK:
        cached = _COMPILED.get(key)
        if cached is not None:
            return cached
        context = _context()
        import great_expectations as gx

        datasource = context.data_sources.get("ecocloud")
        expectations = _expectations(table, freshness=freshness, partition=partition)
        order = {_check_of(e): i for i, e in enumerate(expectations)}
        groups: dict[tuple[bool, tuple[str, ...]], list[Expectation]] = {}
        for e in expectations:
            kind = _check_of(e).split(":", 1)[0]
            group = (True, ()) if kind in _SCHEMA_KINDS else (False, _domain(e))
            groups.setdefault(group, []).append(e)
        # unique GX names: two Table objects may share a name (tests; a registry edit in a long process)
        prefix = f"{_suite_name(table, freshness=freshness, partition=partition)}#{len(_COMPILED)}"
        units = []
        with _quiet_gx():
            for i, ((schema, columns), members) in enumerate(groups.items()):
                name = f"{prefix}/{i}:{'schema' if schema else ','.join(columns) or 'table'}"
                suite = context.suites.add(gx.ExpectationSuite(name=name, expectations=members))
                batch = datasource.add_dataframe_asset(name=name).add_batch_definition_whole_dataframe("df")
                definition = context.validation_definitions.add(
                    gx.ValidationDefinition(name=name, data=batch, suite=suite)
                )
                units.append(_Unit(schema=schema, columns=columns, definition=definition))
        compiled = _Compiled(units=tuple(units), order=order)
        _COMPILED[key] = compiled
        log.debug(
            "compiled the quality gate of %s: %d expectations in %d units", prefix, len(order), len(units)
        )
        return compiled


def _forget_validation_results() -> None:
    """Every ValidationDefinition.run stores its result in the context's (here in-memory) results
    store; nothing reads them back, so drop them instead of growing ~0.1 MB per gate run."""
    store = _context().validation_results_store
    for key in store.list_keys():
        store.remove_key(key)


def clear_cache() -> None:
    """Forget the GX context, suites and validation definitions (tests; a registry reload)."""
    global _CONTEXT
    with _LOCK:
        _COMPILED.clear()
        _CONTEXT = None


@contextmanager
def _quiet_gx() -> Iterator[None]:
    """Keep GX's INFO logging and warnings out of task logs; skip its per-batch MD5 fingerprint."""
    gx_log = logging.getLogger("great_expectations")
    level = gx_log.level
    gx_log.setLevel(logging.WARNING)  # before the import: importing GX logs hundreds of DEBUG lines
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", module=r"great_expectations(\.|$)")
            warnings.filterwarnings("ignore", category=FutureWarning)
            import great_expectations.execution_engine.pandas_execution_engine as engine

            threshold = engine.HASH_THRESHOLD
            engine.HASH_THRESHOLD = 0  # batch marker "pandas_data_fingerprint", computed below this size
            try:
                yield
            finally:
                engine.HASH_THRESHOLD = threshold
    finally:
        gx_log.setLevel(level)


# --------------------------------------------------------------------------------------- result


@dataclass
class GateResult:
    table_name: str
    partition_date: dt.date | None
    run_id: str
    validated_at: dt.datetime
    row_count: int
    passed: bool  # no blocking expectation failed
    blocking_failures: list[str]
    warnings: list[str]
    results: pa.Table  # conforms to schemas.platform.expectation_results; one row per expectation
    timings: dict[str, float] = field(default_factory=dict)  # seconds: compile, convert, validate, total

    def summary(self) -> str:
        """Log summary: a verdict line, then one line per blocking failure and per warning."""
        where = f"{self.table_name} {self.partition_date.isoformat() if self.partition_date else '-'}"
        failed = self.results.num_rows - sum(self.results.column("success").to_pylist())
        lines = [
            f"quality gate {where}: {'PASSED' if self.passed else 'FAILED'} — "
            f"{self.results.num_rows} expectations, {failed} failed ({len(self.blocking_failures)} "
            f"blocking, {len(self.warnings)} warning) on {self.row_count:,} rows in "
            f"{self.timings.get('total', 0.0):.2f} s [run {self.run_id}]"
        ]
        lines += [f"  BLOCKING {m}" for m in self.blocking_failures]
        lines += [f"  WARNING  {m}" for m in self.warnings]
        return "\n".join(lines)


def run_gate(
    table: Table,
    data: pa.Table,
    *,
    partition_date: dt.date | None,
    expected_latest: dt.datetime | None = None,
    run_id: str | None = None,
) -> GateResult:
    """Validate ``data`` (the partition about to be published) against ``table``'s generated suite.

    ``partition_date`` (partitioned tables) adds "every row is in this partition" and is the
    ``date`` of the result rows (unpartitioned tables: pass None; the rows get the Beijing date of
    the run). ``expected_latest`` (tz-aware: the end of the processed interval) adds the freshness
    check if the table has a ``freshness_column``. Bad data never raises: an expectation GX cannot
    evaluate (e.g. its column is missing) fails, with GX's message in ``details``.
    """
    if expected_latest is not None and expected_latest.utcoffset() is None:
        raise ValueError("expected_latest must be timezone-aware (UTC)")
    started = time.perf_counter()
    validated_at = dt.datetime.now(UTC)
    run_id = run_id or f"{validated_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    use_freshness = expected_latest is not None and table.freshness_column is not None
    use_partition = partition_date is not None and table.partition_by is not None
    parameters: dict[str, Any] = {}
    if use_freshness:
        assert expected_latest is not None and table.freshness_column is not None
        parameters[FRESHNESS_PARAMETER] = _freshness_threshold(table, table.freshness_column, expected_latest)
    if use_partition:
        parameters[PARTITION_PARAMETER] = [partition_date]

    timings = {"compile": 0.0, "convert": 0.0, "validate": 0.0}
    with _LOCK:
        mark = time.perf_counter()
        compiled = _compiled(table, freshness=use_freshness, partition=use_partition)
        timings["compile"] = time.perf_counter() - mark
        per_unit = _validate_units(compiled.units, data, parameters, timings)
    outcomes = [_outcome(table, data, r) for _, results in per_unit for r in results]
    return _assemble(table, data, compiled, outcomes, partition_date, run_id, validated_at, timings, started)


def run_gate_partitions(
    table: Table, data: pa.Table, *, run_id: str | None = None
) -> dict[dt.date, GateResult]:
    """Gate every partition in ``data`` (a backfill: many days of one table) with one GX pass.

    GX costs ~6 ms per expectation and run whatever the row count, so gating N days one by one
    pays that N times. Here the whole batch is validated once; an expectation that holds on the
    batch with no unexpected row holds with no unexpected row on each of its partitions (column
    set, types, not-null, ranges, allowed values, key uniqueness, pair equality), so its
    per-partition result follows exactly. Every unit that saw a failure or any unexpected row is
    validated again by GX on each partition's rows, so every verdict is still GX's, per partition.
    Freshness does not apply to backfills (it is about the interval a scheduled run processes).
    """
    if table.partition_by is None:
        raise ValueError(f"{table.name} is not partitioned")
    column = data.column(table.partition_by)
    days = sorted(d for d in pc.unique(column).to_pylist() if d is not None)
    if column.null_count or len(days) <= 1:
        return {d: run_gate(table, data, partition_date=d, run_id=run_id) for d in days}
    started = time.perf_counter()
    validated_at = dt.datetime.now(UTC)
    run_id = run_id or f"{validated_at:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    timings = {"compile": 0.0, "convert": 0.0, "validate": 0.0}
    with _LOCK:
        compiled = _compiled(table, freshness=False, partition=False)
        batch = [
            (unit, [_outcome(table, data, r) for r in results])
            for unit, results in _validate_units(compiled.units, data, {}, timings)
        ]
        dirty = [u for u, outs in batch if any(not o.success or (o.unexpected_count or 0) > 0 for o in outs)]
        clean = [(u, outs) for u, outs in batch if not any(u is d for d in dirty)]
        out: dict[dt.date, GateResult] = {}
        for day in days:
            part = data.filter(pc.equal(column, day))
            outcomes = [_for_partition(o, part.num_rows) for _, unit_outcomes in clean for o in unit_outcomes]
            for _, results in _validate_units(tuple(dirty), part, {}, timings):
                outcomes.extend(_outcome(table, part, r) for r in results)
            out[day] = _assemble(
                table, part, compiled, outcomes, day, run_id, validated_at, dict(timings), started
            )
    return out


def _for_partition(batch_outcome: _Outcome, rows: int) -> _Outcome:
    """A batch outcome with no unexpected row, restated for one partition of ``rows`` rows."""
    kind = batch_outcome.check.split(":", 1)[0]
    return replace(
        batch_outcome,
        element_count=rows,
        observed_value=_json(rows) if kind == "rows" else batch_outcome.observed_value,
        success=rows > 0 if kind == "rows" else batch_outcome.success,
    )


def _validate_units(
    units: Sequence[_Unit], data: pa.Table, parameters: Mapping[str, Any], timings: dict[str, float]
) -> list[tuple[_Unit, list[Any]]]:
    series: dict[str, pd.Series] = {}
    out: list[tuple[_Unit, list[Any]]] = []
    with _quiet_gx():
        for unit in units:
            mark = time.perf_counter()
            frame = _frame(unit, data, series)
            timings["convert"] += time.perf_counter() - mark
            mark = time.perf_counter()
            run = unit.definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters=dict(parameters) or None,
                result_format=RESULT_FORMAT,
            )
            timings["validate"] += time.perf_counter() - mark
            out.append((unit, list(run.results)))
        _forget_validation_results()
    return out


def _assemble(
    table: Table,
    data: pa.Table,
    compiled: _Compiled,
    unordered: list[_Outcome],
    partition_date: dt.date | None,
    run_id: str,
    validated_at: dt.datetime,
    timings: dict[str, float],
    started: float,
) -> GateResult:
    where = f"{table.name} {partition_date.isoformat() if partition_date else '(unpartitioned)'}"
    outcomes = sorted(unordered, key=lambda o: compiled.order.get(o.check, len(compiled.order)))
    blocking = [
        f"{where}: {o.message}" for o in outcomes if not o.success and o.severity == Severity.BLOCKING
    ]
    warned = [f"{where}: {o.message}" for o in outcomes if not o.success and o.severity == Severity.WARNING]
    passed = not blocking

    result_date = partition_date or validated_at.astimezone(BEIJING).date()
    rows = [
        {
            "date": result_date,
            "table_name": table.name,
            "run_id": run_id,
            "validated_at": validated_at,
            "expectation": o.expectation,
            "column_name": o.column_name,
            "severity": o.severity.value,
            "success": o.success,
            "element_count": o.element_count,
            "unexpected_count": o.unexpected_count,
            "unexpected_percent": o.unexpected_percent,
            "observed_value": o.observed_value,
            "details": o.details,
            "published": passed,
        }
        for o in outcomes
    ]
    results = expectation_results.conform(
        pa.Table.from_pylist(rows, schema=expectation_results.arrow_schema())
    )
    timings["total"] = time.perf_counter() - started
    return GateResult(
        table_name=table.name,
        partition_date=partition_date,
        run_id=run_id,
        validated_at=validated_at,
        row_count=data.num_rows,
        passed=passed,
        blocking_failures=blocking,
        warnings=warned,
        results=results,
        timings=timings,
    )


def _freshness_threshold(table: Table, column: str, expected_latest: dt.datetime) -> dt.datetime | dt.date:
    """``expected_latest - freshness_tolerance`` in UTC; as a Beijing date for a ``date`` column."""
    threshold = (expected_latest - table.freshness_tolerance).astimezone(UTC)
    if column in table.column_names and table.column(column).type == "date":
        return threshold.astimezone(BEIJING).date()  # registry dates are Beijing days
    return threshold


def _frame(unit: _Unit, data: pa.Table, series: dict[str, pd.Series]) -> pd.DataFrame:
    if unit.schema:
        return schema_frame(data.schema)
    present = [c for c in unit.columns if c in data.column_names]  # a missing one: GX reports it
    for name in present:
        if name not in series:
            series[name] = _value_series(data.column(name))
    if not present:
        return pd.DataFrame(index=pd.RangeIndex(data.num_rows))
    return pd.concat([series[c].rename(c) for c in present], axis=1)


# ------------------------------------------------------------------------------------- outcomes


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


def _outcome(table: Table, data: pa.Table, r: Any) -> _Outcome:
    config = r.expectation_config
    meta = config.meta or {}
    check = str(meta.get("ecocloud_check", f"{config.type}:"))
    kind, _, subject = check.partition(":")
    severity = Severity(meta.get("severity", Severity.BLOCKING.value))
    kwargs = {k: v for k, v in config.kwargs.items() if k != "batch_id"}
    result: Mapping[str, Any] = r.result or {}
    error = _exception_message(r.exception_info)
    success = bool(r.success) and error is None

    columns = [str(kwargs[k]) for k in ("column", "column_A", "column_B") if k in kwargs]
    columns += [str(c) for c in kwargs.get("column_list", [])]
    unexpected_count = result.get("unexpected_count")
    unexpected_percent = result.get("unexpected_percent")  # of the non-null rows (GX)
    if "observed_value" in result:
        observed: Any = result["observed_value"]
    elif unexpected_count:
        observed = {"partial_unexpected": result.get("partial_unexpected_list", [])}
    else:
        observed = None

    if success:
        message = "ok"
    elif error is not None:
        missing = [c for c in columns if c not in data.column_names]
        why = f"column {', '.join(missing)} missing" if missing else error
        message = f"{check} not evaluated ({config.type}): {why}"
    else:
        message = _failure_message(table, data, kind, subject, kwargs, result)
    return _Outcome(
        check=check,
        expectation=str(config.type),
        column_name=",".join(columns) or None,
        severity=severity,
        success=success,
        element_count=int(result.get("element_count", data.num_rows)),
        unexpected_count=None if unexpected_count is None else int(unexpected_count),
        unexpected_percent=None if unexpected_percent is None else float(unexpected_percent),
        observed_value=None if observed is None else _json(observed),
        details=_json({**kwargs, **({"error": error} if error else {})}),
        message=message,
    )


def _failure_message(
    table: Table,
    data: pa.Table,
    kind: str,
    subject: str,
    kwargs: Mapping[str, Any],
    result: Mapping[str, Any],
) -> str:
    mostly = float(kwargs.get("mostly", 1.0))
    count = int(result.get("unexpected_count") or 0)
    total = int(result.get("element_count") or 0)
    nonnull = total - int(result.get("missing_count") or 0)
    share = f"{count:,} of {total:,} rows"
    sample = _json(result.get("partial_unexpected_list", []))
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
    if kind == "rows":
        return "the partition is empty (0 rows)"
    if kind == "type":
        column = table.column(subject)
        return (
            f"{subject} has Arrow type {data.schema.field(subject).type} (pandas scalar "
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
        return (
            f"{subject} is not the partition date {_json(kwargs.get('value_set'))} on {share}, e.g. {sample}"
        )
    if kind == "freshness":
        latest = result.get("observed_value")
        newest = "none (no rows)" if _isna(latest) else _iso(latest)
        return f"stale: max({subject}) = {newest}, needs ≥ {_iso(kwargs.get('min_value'))}"
    return f"{kind} {subject} failed: {_json(dict(result))}"


def _pct(value: float, *, floor: bool = False) -> str:
    """Percent with ≤ 2 decimals; observed shares round down so a failure never shows the target."""
    value = math.floor(value * 100) / 100 if floor else round(value, 2)
    return f"{value:.2f}".rstrip("0").rstrip(".")


def _num(value: Any, default: str) -> str:
    if value is None:
        return default
    return f"{value:g}" if isinstance(value, float) else str(value)


def _iso(value: Any) -> str:
    if isinstance(value, dt.datetime):
        if value.utcoffset() is not None:
            value = value.astimezone(UTC)
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
    if isinstance(value, str | bytes | Sequence | Mapping):
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
