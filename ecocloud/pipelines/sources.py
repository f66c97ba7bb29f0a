"""Pollution-source online monitoring (HJ 212): receiver segments / capture files → lake → marts.

Each public function is one idempotent step that a task of ``dags/pollution_sources.py`` or the CLI
calls.

Inputs
------
* **Receiver segments** — the TCP receiver (``ecocloud receive``) lands every line in append-only
  segment files under ``settings.hj212_landing`` (accepted lines) and ``<landing>_quarantine``
  (rejected lines) and closes them with a manifest. A run takes the segments whose ``closed_at``
  lies in its data interval (:func:`ingest.hj212.segments.list_closed_segments`), so a segment that
  closes late lands in a later run, and every segment is selected by exactly one interval.
* **Capture files** (``ecocloud ingest hj212 FILE…``) — one packet per line, ``.gz`` allowed; the
  bytes are landed in the raw zone (``raw/hj212_capture/``) first.

Exactly once, idempotent
------------------------
The ledger has one build per input (``segment/<name>``, ``capture/<sha256>``), so a rerun of an
interval skips what it already published. An input's rows go to the Beijing-date partitions of
``core_source__packets`` / ``core_source__readings`` / ``quarantine_source__packets`` as *its own
part file* (``part=<kind>-<segment stem>``): several segments and runs contribute to one date, a
rerun replaces only its own parts (whole and atomically), a late segment adds a part. A rebuild
that no longer has rows for a date removes its part there.

Quality gate
------------
Inputs are processed in groups. A group's rows are gated per table and date in one Great
Expectations run (the gate has a fixed cost per run); a failed blocking expectation blocks the
inputs that have rows in that partition — they are recorded ``blocked`` and retried by the next
run. Quarantine rows are evidence and are always written. Lines in = accepted + quarantined is
asserted for every input.

Parallelism
-----------
An ordinary hourly run is one group in the task's process. Large inputs (≥ 32 MB: backfills,
``ecocloud ingest hj212`` on many files) are split into groups of similar size, a multiple of
``settings.workers``, each processed whole (land, parse, gate, write, ledger) by a forked worker;
the parent imports GX and compiles the suites first (workers inherit them) while a thread lands
the capture files. :func:`tune_process_memory` keeps freed memory for reuse: page faults on fresh
large arrays cost a third of the run otherwise.

Marts
-----
``mart_source__hourly`` / ``mart_source__daily`` are rebuilt for every date an input touched, from
all the date's reading parts (retransmissions collapsed there, see :mod:`transforms.source_marts`).
An hourly run recomputes only the hours its segments touched and keeps the date's other hourly
rows (:attr:`RunReport.hours`); a full rebuild of a large date splits the outlets over worker
processes. Sums are exact, so a rebuilt mart is byte-identical. Then gate, write, refresh serving.
"""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import logging
import multiprocessing
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from ecocloud.pipelines.common import write_gate_results
from ecocloud.settings import Settings
from ingest.hj212 import batch as hj_batch
from ingest.hj212.protocol import BEIJING
from ingest.hj212.segments import list_closed_segments, read_manifest
from ingest.raw import land_bytes
from schemas import source as schema
from schemas.registry import Table
from transforms.source_marts import daily_values, hourly_values
from warehouse import lake as lk
from warehouse import serving
from warehouse.ledger import Ledger
from warehouse.quality import GateVerdict, run_gate

__all__ = [
    "CAPTURE_SOURCE",
    "SOURCE",
    "Input",
    "InputReport",
    "MartReport",
    "QualityGateFailed",
    "RunReport",
    "build_marts",
    "capture_input",
    "check_report",
    "ingest_files",
    "ingest_inputs",
    "ingest_interval",
    "input_from_dict",
    "input_to_dict",
    "pipeline_version",
    "quarantine_dir",
    "refresh_serving",
    "segment_inputs",
    "summary",
    "tune_process_memory",
    "warm_gate",
]

log = logging.getLogger(__name__)

SOURCE = "hj212"  # ledger source
CAPTURE_SOURCE = "hj212_capture"  # raw-zone folder of capture files ingested from the command line
_CODE_VERSION = "1"
_CORE_TABLES: tuple[Table, ...] = (schema.packets, schema.readings)
_PARALLEL_MIN_BYTES = 32 << 20  # below this, one process (a typical hourly run)
_GROUP_MAX_BYTES = 512 << 20  # input bytes per worker task (memory: ~4x this in Arrow + pandas)
_DATE_IN_NAME = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")
_HOUR_US = 3_600_000_000


def pipeline_version() -> str:
    """Changes with the code version or any source table definition (forces rebuilds)."""
    tables = (schema.packets, schema.readings, schema.quarantine, schema.hourly, schema.daily)
    digest = hashlib.sha256(repr(tables).encode()).hexdigest()[:12]
    return f"source-{_CODE_VERSION}-{digest}"


class QualityGateFailed(RuntimeError):
    """A blocking expectation failed: the partition was not published (the message says why)."""


@dataclass(frozen=True)
class Input:
    """One raw object to ingest: a closed receiver segment (``data`` / ``quarantine``) or a capture."""

    kind: str  # data | quarantine | capture
    path: Path
    sha256: str
    default_date: dt.date  # Beijing date of the raw partition: for rows without any time
    name: str  # the value of the `segment` column: the file name

    @property
    def key(self) -> str:
        """Ledger key: one build per input."""
        return f"capture/{self.sha256}" if self.kind == "capture" else f"segment/{self.kind}/{self.name}"

    @property
    def part(self) -> str:
        """Part-file name of this input's rows in every partition it touches."""
        if self.kind == "capture":
            return f"capture-{self.sha256[:16]}"
        return f"{self.kind}-{self.name.removesuffix('.h212')}"


def input_to_dict(inp: Input) -> dict[str, str]:
    """JSON-able form (Airflow XCom)."""
    return {
        "kind": inp.kind,
        "path": str(inp.path),
        "sha256": inp.sha256,
        "default_date": inp.default_date.isoformat(),
        "name": inp.name,
    }


def input_from_dict(d: dict[str, str]) -> Input:
    return Input(d["kind"], Path(d["path"]), d["sha256"], dt.date.fromisoformat(d["default_date"]), d["name"])


@dataclass
class InputReport:
    name: str
    kind: str
    status: str  # published | skipped | blocked
    counts: dict[str, Any] = field(default_factory=dict)
    dates: list[str] = field(default_factory=list)  # dates whose core partitions it (re)wrote
    gate: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    timings: dict[str, float] = field(default_factory=dict)  # land, parse, gate (its share), write


@dataclass
class MartReport:
    date: dt.date
    status: str  # published | skipped | blocked | no-data
    counts: dict[str, Any] = field(default_factory=dict)
    gate: list[str] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


@dataclass
class RunReport:
    inputs: list[InputReport] = field(default_factory=list)
    marts: list[MartReport] = field(default_factory=list)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def dates(self) -> list[dt.date]:
        return sorted({dt.date.fromisoformat(d) for r in self.inputs for d in r.dates})

    @property
    def counts(self) -> dict[str, int]:
        out = {
            "inputs": len(self.inputs),
            "lines": 0,
            "accepted": 0,
            "quarantined": 0,
            "readings": 0,
            "fast": 0,
        }
        for r in self.inputs:
            for k in ("lines", "accepted", "quarantined", "readings", "fast"):
                out[k] += int(r.counts.get(k, 0))
        out["skipped"] = sum(r.status == "skipped" for r in self.inputs)
        out["blocked"] = sum(r.status == "blocked" for r in self.inputs)
        return out

    @property
    def hours(self) -> dict[dt.date, set[int] | None]:
        """Per date touched: the Beijing hours whose hourly values must be recomputed (None: all)."""
        out: dict[dt.date, set[int] | None] = {}
        for r in self.inputs:
            known = r.counts.get("hours")
            for d in r.dates:
                day = dt.date.fromisoformat(d)
                if day in out and out[day] is None:
                    continue
                if not isinstance(known, dict):
                    out[day] = None  # unknown (e.g. a rebuild that removed rows): the whole day
                else:
                    out[day] = (out.get(day) or set()) | set(known.get(d, []))
        return out

    @property
    def stage_seconds(self) -> dict[str, float]:
        """Seconds per stage summed over inputs (across worker processes: CPU-time-like)."""
        out: dict[str, float] = {}
        for r in self.inputs:
            for k, v in r.timings.items():
                out[k] = out.get(k, 0.0) + v
        return out

    @property
    def status(self) -> str:
        if any(r.status == "blocked" for r in self.inputs) or any(m.status == "blocked" for m in self.marts):
            return "blocked"
        return "published"


def _ledger(settings: Settings) -> Ledger:
    return Ledger(settings.ledger_file)


def quarantine_dir(settings: Settings) -> Path:
    """Where the receiver lands rejected lines (its default: ``<landing>_quarantine`` beside it)."""
    landing = settings.hj212_landing
    return landing.with_name(landing.name + "_quarantine")


# -- inputs -------------------------------------------------------------------------------------
def segment_inputs(settings: Settings, start: dt.datetime, end: dt.datetime) -> list[Input]:
    """Closed segments (accepted and quarantined lines) whose ``closed_at`` is in [start, end)."""
    start = dt.datetime.fromtimestamp(start.timestamp(), dt.UTC)  # Airflow hands pendulum times
    end = dt.datetime.fromtimestamp(end.timestamp(), dt.UTC)
    out: list[Input] = []
    for root in (settings.hj212_landing, quarantine_dir(settings)):
        for info in list_closed_segments(root, start, end):
            manifest = read_manifest(info.path)
            folder = info.path.parent.name
            day = (
                dt.date.fromisoformat(folder[5:])
                if folder.startswith("date=")
                else info.opened_at.astimezone(BEIJING).date()
            )
            out.append(
                Input(
                    kind=str(manifest.get("kind", info.kind)),
                    path=info.path,
                    sha256=info.sha256,
                    default_date=day,
                    name=info.path.name,
                )
            )
    return out


def _capture_date(name: str) -> dt.date:
    m = _DATE_IN_NAME.search(name)
    if m:
        try:
            return dt.date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        except ValueError:
            pass
    return dt.datetime.now(BEIJING).date()


def capture_input(settings: Settings, path: str | Path, ledger: Ledger | None = None) -> Input:
    """Land a capture file's bytes in the raw zone (once per content) and describe it as an input."""
    src = Path(path)
    data = src.read_bytes()
    day = _capture_date(src.name)
    obj = land_bytes(
        settings.lake,
        ledger or _ledger(settings),
        source=CAPTURE_SOURCE,
        logical_name=src.name,
        partition=day,
        data=data,
        origin=str(src.resolve()),
    )
    raw = settings.lake / obj.raw_path
    return Input("capture", raw, obj.sha256, day, raw.name)


def _read_input(inp: Input) -> hj_batch.ParsedBatch:
    data = inp.path.read_bytes()
    if inp.kind == "capture":
        if data[:2] == b"\x1f\x8b":
            data = gzip.decompress(data)
        return hj_batch.parse_capture(data, segment=inp.name, default_date=inp.default_date)
    if inp.sha256 and hashlib.sha256(data).hexdigest() != inp.sha256:
        raise ValueError(f"{inp.path}: content differs from its manifest (sha256)")
    return hj_batch.parse_segment(data, segment=inp.name, default_date=inp.default_date, kind=inp.kind)


# -- one group of inputs ------------------------------------------------------------------------
_Source = Input | str  # a str is a capture file still to land


def _by_date(table: pa.Table) -> dict[dt.date, pa.Table]:
    if table.num_rows == 0:
        return {}
    col = table.column("date")
    days = sorted(pc.unique(col).to_pylist())
    if len(days) == 1:
        return {days[0]: table}
    return {d: table.filter(pc.equal(col, pa.scalar(d, pa.date32()))) for d in days}


def _ingest_group(settings: Settings, sources: list[_Source], force: bool) -> list[InputReport]:
    """Land (captures), parse, gate per table and date, publish each input's parts, record builds."""
    ledger = _ledger(settings)
    version = pipeline_version()
    reports: list[InputReport] = []
    todo: list[tuple[Input, InputReport, hj_batch.ParsedBatch, dict[Table, dict[dt.date, pa.Table]]]] = []
    for src in sources:
        t0 = time.perf_counter()
        inp = capture_input(settings, src, ledger) if isinstance(src, str) else src
        if not force and ledger.is_current(SOURCE, inp.key, inp.sha256, version):
            prev = ledger.build(SOURCE, inp.key)
            reports.append(InputReport(inp.name, inp.kind, "skipped", prev.counts if prev else {}))
            continue
        t1 = time.perf_counter()
        batch = _read_input(inp)
        batch.check()  # lines in = accepted + quarantined
        counts: dict[str, Any] = {
            "lines": batch.lines,
            "accepted": batch.accepted,
            "quarantined": batch.quarantined,
            "readings": batch.readings.num_rows,
            "fast": batch.fast,
            "fallback": batch.fallback,
            "reasons": batch.reasons,
        }
        t2 = time.perf_counter()
        rep = InputReport(
            inp.name,
            inp.kind,
            "published",
            counts,
            seconds=t2 - t0,
            timings={"land": t1 - t0, "parse": t2 - t1},
        )
        parts = {t: _by_date(getattr(batch, t.name.rsplit("__", 1)[1])) for t in _CORE_TABLES}
        parts[schema.quarantine] = _by_date(batch.quarantine)
        todo.append((inp, rep, batch, parts))
        reports.append(rep)
    if not todo:
        return reports

    # gate each (table, date) once for the whole group
    t0 = time.perf_counter()
    run_id = uuid.uuid4().hex[:12]
    failed: dict[tuple[str, dt.date], list[str]] = {}
    verdicts: list[GateVerdict] = []
    gate_lines: list[str] = []
    warnings: list[str] = []
    for table in _CORE_TABLES:
        dates = sorted({d for *_, parts in todo for d in parts[table]})
        for day in dates:
            data = pa.concat_tables([parts[table][day] for *_, parts in todo if day in parts[table]])
            gate = run_gate(table, data, partition_date=day, run_id=run_id)
            verdicts.append(gate)
            gate_lines.append(gate.summary())
            warnings.extend(gate.warnings)
            if not gate.passed:
                failed[(table.name, day)] = gate.blocking_failures
    write_gate_results(settings, verdicts)
    gate_s = time.perf_counter() - t0
    gated_rows = sum(rep.counts["accepted"] + rep.counts["readings"] + 1 for _, rep, *_ in todo)

    for inp, rep, _batch, parts in todo:
        t0 = time.perf_counter()
        prev = ledger.build(SOURCE, inp.key)
        prev_dates = {dt.date.fromisoformat(d) for d in (prev.counts.get("dates", []) if prev else [])}
        blocking = [
            f"{name} {day}: {msg}"
            for (name, day), msgs in failed.items()
            for msg in msgs
            if any(t.name == name and day in parts[t] for t in _CORE_TABLES)
        ]
        rep.gate = gate_lines
        rep.warnings = warnings
        q_dates = set(parts[schema.quarantine])
        for day in sorted(q_dates | prev_dates):
            _write_or_delete(settings, schema.quarantine, parts[schema.quarantine].get(day), day, inp.part)
        core_dates = {d for t in _CORE_TABLES for d in parts[t]}
        if blocking:
            rep.status = "blocked"
            rep.failures = blocking
        else:
            for table in _CORE_TABLES:
                for day in sorted(core_dates | prev_dates):
                    _write_or_delete(settings, table, parts[table].get(day), day, inp.part)
            rep.dates = [d.isoformat() for d in sorted(core_dates | (prev_dates - core_dates))]
        rep.counts["dates"] = sorted({d.isoformat() for d in core_dates | q_dates})
        if not blocking:
            rep.counts["hours"] = _hours(parts[schema.readings]) if not (prev_dates - core_dates) else None
        ledger.record_build(SOURCE, inp.key, inp.sha256, version, rep.status, rep.counts)
        share = gate_s * (rep.counts["accepted"] + rep.counts["readings"] + 1) / gated_rows
        rep.timings["gate"] = share
        rep.timings["write"] = time.perf_counter() - t0
        rep.seconds += rep.timings["write"] + share
    return reports


def _hours(readings_by_date: dict[dt.date, pa.Table]) -> dict[str, list[int]]:
    """Beijing hours (0-23) per date that the hourly mart takes from these readings."""
    out: dict[str, list[int]] = {}
    for day, rows in readings_by_date.items():
        sel = rows.filter(pc.is_in(rows.column("cn"), pa.array(["2061", "2051", "2011"])))
        us = sel.column("data_at").cast(pa.int64()).to_numpy()
        hours = ((us + 8 * _HOUR_US) // _HOUR_US) % 24
        out[day.isoformat()] = sorted({int(h) for h in set(hours.tolist())})
    return out


def _write_or_delete(
    settings: Settings, table: Table, rows: pa.Table | None, day: dt.date, part: str
) -> None:
    if rows is not None and rows.num_rows:
        lk.write_partition(settings.lake, table, rows, day, part=part)
    else:
        lk.delete_partition(settings.lake, table, day, part=part)


def _ingest_group_job(settings: Settings, sources: list[_Source], force: bool) -> list[InputReport]:
    # worker process entry point: quiet libraries, same code path
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    return _ingest_group(settings, sources, force)


def _size(src: _Source) -> int:
    try:
        return (Path(src) if isinstance(src, str) else src.path).stat().st_size
    except OSError:
        return 0


def _groups(sources: list[_Source], workers: int) -> list[list[_Source]]:
    """Split into about ``workers`` groups of similar byte size (and at most _GROUP_MAX_BYTES each),
    keeping the given order inside each group."""
    sizes = [_size(s) for s in sources]
    total = sum(sizes)
    n = workers * max(1, -(-total // (_GROUP_MAX_BYTES * workers)))  # a multiple of workers: no idle tail
    groups: list[list[_Source]] = [[] for _ in range(min(n, len(sources)))]
    loads = [0] * len(groups)
    for i in sorted(range(len(sources)), key=lambda i: -sizes[i]):  # largest first, to the lightest
        g = loads.index(min(loads))
        groups[g].append(sources[i])
        loads[g] += sizes[i]
    rank = {id(src): i for i, src in enumerate(sources)}
    return [sorted(g, key=lambda src: rank[id(src)]) for g in groups if g]


def _pool_context() -> multiprocessing.context.BaseContext:
    """fork where available: workers inherit the imported libraries and the compiled GX suites
    (Python's logging re-initialises its locks in a forked child; GX's tqdm monitor thread is idle)."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")


_TUNED = False


def tune_process_memory() -> None:
    """Large short-lived arrays dominate batch ingest; on this kind of host the kernel's page
    zeroing (transparent huge pages, memory returned and faulted in again) cost as much as a third
    of the run. Process-wide and idempotent: keep freed heap memory for reuse (glibc: no mmap for
    big blocks, trim above 1 GiB), let Arrow use that heap, and ask numpy not to madvise huge pages."""
    global _TUNED
    if _TUNED:
        return
    _TUNED = True
    try:
        from numpy._core import multiarray

        multiarray._set_madvise_hugepage(False)  # type: ignore[attr-defined]
    except (ImportError, AttributeError):  # pragma: no cover - other numpy versions
        pass
    pa.set_memory_pool(pa.system_memory_pool())
    try:
        import ctypes
        import ctypes.util

        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt(-4, 0)  # M_MMAP_MAX: serve big blocks from the heap, so they can be reused
        libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD: give memory back to the OS only above 1 GiB free
    except (OSError, AttributeError):  # pragma: no cover - not glibc
        pass


def warm_gate() -> None:
    """Import Great Expectations and compile the core tables' suites (seconds, once per process)."""
    for table in _CORE_TABLES:
        run_gate(table, table.arrow_schema().empty_table(), partition_date=dt.date(2000, 1, 1))


def ingest_inputs(
    settings: Settings,
    sources: Iterable[_Source],
    *,
    force: bool = False,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
    timings: dict[str, float] | None = None,
) -> list[InputReport]:
    """Ingest inputs (``Input`` or capture-file paths) exactly once; in parallel when large.

    ``workers=None``: one process below 32 MB of input, else ``settings.workers`` (default: cores). ``on_done(n)`` is called
    as inputs finish (progress).
    """
    items = list(sources)
    if not items:
        return []
    tune_process_memory()
    total = sum(_size(s) for s in items)
    if workers is None:
        workers = 1 if total < _PARALLEL_MIN_BYTES else max(1, settings.workers)
    groups = _groups(items, workers)
    reports: list[InputReport] = []
    if workers <= 1 or len(groups) <= 1:
        for g in groups:
            reports += _ingest_group(settings, g, force)
            if on_done:
                on_done(len(g))
        return _in_order(reports, items)
    ledger = _ledger(settings)  # create the SQLite file (WAL mode) before workers race to do it
    t0 = time.perf_counter()
    # Import GX and compile the suites once here (forked workers inherit them); meanwhile a thread
    # lands the capture files (hashing and writing release the GIL), so that time is not lost.
    with ThreadPoolExecutor(max_workers=1) as landing:
        landed = landing.submit(
            lambda: [capture_input(settings, s, ledger) if isinstance(s, str) else s for s in items]
        )
        warm_gate()
        resolved = landed.result()
    if timings is not None:
        timings["warmup"] = time.perf_counter() - t0  # GX import + suites, landing
    groups = _groups(list(resolved), workers)

    with ProcessPoolExecutor(max_workers=min(workers, len(groups)), mp_context=_pool_context()) as pool:
        futures = {pool.submit(_ingest_group_job, settings, g, force): len(g) for g in groups}
        for fut in as_completed(futures):
            reports += fut.result()
            if on_done:
                on_done(futures[fut])
    return _in_order(reports, items)


def _in_order(reports: list[InputReport], items: list[_Source]) -> list[InputReport]:
    """Reports in the order the inputs were given (captures are named after their raw file)."""
    order: dict[str, int] = {}
    for i, src in enumerate(items):
        order[src.name if isinstance(src, Input) else Path(src).name.split(".", 1)[0]] = i
    return sorted(reports, key=lambda r: order.get(r.name, order.get(r.name.split(".", 1)[0], len(order))))


# -- marts --------------------------------------------------------------------------------------
def _mart_inputs(files: list[Path]) -> str:
    h = hashlib.sha256()
    for f in files:
        st = f.stat()
        h.update(f"{f.name}:{st.st_size}:{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _gate_and_write(
    settings: Settings, table: Table, data: pa.Table, day: dt.date, run_id: str, report: MartReport
) -> bool:
    gate = run_gate(table, data, partition_date=day, run_id=run_id)
    write_gate_results(settings, [gate])
    report.gate.append(gate.summary())
    report.warnings.extend(gate.warnings)
    report.failures.extend(gate.blocking_failures)
    if gate.passed:
        lk.write_partition(settings.lake, table, data, day)
    return gate.passed


def build_marts(
    settings: Settings,
    days: Iterable[dt.date],
    *,
    force: bool = False,
    hours: Mapping[dt.date, set[int] | None] | None = None,
) -> list[MartReport]:
    """Rebuild the hourly and daily marts of ``days`` from all their reading parts.

    ``hours`` (from :attr:`RunReport.hours`) makes the hourly mart incremental: only the Beijing
    hours that new readings touched are recomputed (from every part of the date, so retransmissions
    across segments still collapse), the date's other hourly rows are kept; the daily mart is then
    recomputed from the whole day. Without it, or on ``force``, the whole date is rebuilt.
    """
    ledger = _ledger(settings)
    version = pipeline_version()
    reports = []
    for day in sorted(set(days)):
        rep = MartReport(day, "published")
        reports.append(rep)
        files = sorted(lk.partition_dir(settings.lake, schema.readings, day).glob("*.parquet"))
        key = f"marts/{day.isoformat()}"
        if not files:
            for table in (schema.hourly, schema.daily):
                lk.delete_partition(settings.lake, table, day)
            rep.status = "no-data"
            ledger.record_build(SOURCE, key, "", version, rep.status, {})
            continue
        inputs = _mart_inputs(files)
        if not force and ledger.is_current(SOURCE, key, inputs, version):
            rep.status = "skipped"
            continue
        prev = ledger.build(SOURCE, key)
        affected = None if hours is None else hours.get(day)
        incremental = (
            not force
            and affected is not None
            and prev is not None
            and prev.status == "published"
            and prev.pipeline_version == version
            and day in lk.partitions(settings.lake, schema.hourly)
        )
        con = duckdb.connect()
        try:
            file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
            con.execute(f"CREATE VIEW readings AS SELECT * FROM read_parquet([{file_list}])")
            if incremental:
                assert affected is not None
                hourly = _merge_hours(
                    con, lk.read_partition(settings.lake, schema.hourly, day), day, affected
                )
            else:
                hourly = _hourly_full(con, files, settings.workers)
            hourly = hourly.filter(pc.equal(hourly.column("date"), pa.scalar(day, pa.date32())))
            con.register("hourly", hourly)
            daily = schema.daily.conform(daily_values(con, "readings", "hourly"))
            daily = daily.filter(pc.equal(daily.column("date"), pa.scalar(day, pa.date32())))
        finally:
            con.close()
        run_id = uuid.uuid4().hex[:12]
        ok = _gate_and_write(settings, schema.hourly, hourly, day, run_id, rep)
        ok = _gate_and_write(settings, schema.daily, daily, day, run_id, rep) and ok
        rep.status = "published" if ok else "blocked"
        rep.counts = {
            "hourly": hourly.num_rows,
            "daily": daily.num_rows,
            "reading_parts": len(files),
            "hours_recomputed": len(affected) if incremental and affected is not None else 24,
        }
        ledger.record_build(SOURCE, key, inputs, version, rep.status, rep.counts)
    return reports


_MART_PARALLEL_MIN_BYTES = 64 << 20  # readings parts of a date above which outlets are split over processes


def _hourly_of_outlets(files: list[Path], part: int, parts: int) -> pa.Table:
    """Hourly rows of the outlets with ``hash(mn) % parts == part`` (one worker's share)."""
    con = duckdb.connect()
    try:
        con.execute("SET threads = 1")
        file_list = ", ".join("'" + str(f).replace("'", "''") + "'" for f in files)
        con.execute(
            f"CREATE VIEW share AS SELECT * FROM read_parquet([{file_list}]) WHERE hash(mn) % {parts} = {part}"
        )
        return schema.hourly.conform(hourly_values(con, "share"))
    finally:
        con.close()


def _hourly_full(con: duckdb.DuckDBPyConnection, files: list[Path], workers: int) -> pa.Table:
    """A whole date's hourly rows. Outlets are independent, so a large date is split by outlet over
    worker processes (DuckDB's own threads gain nothing on this aggregation here)."""
    size = sum(f.stat().st_size for f in files)
    if workers <= 1 or size < _MART_PARALLEL_MIN_BYTES:
        return schema.hourly.conform(hourly_values(con, "readings"))
    with ProcessPoolExecutor(max_workers=workers, mp_context=_pool_context()) as pool:
        shares = list(pool.map(_hourly_of_outlets, [files] * workers, range(workers), [workers] * workers))
    merged = pa.concat_tables(shares)
    order = pc.sort_indices(
        merged, [("mn", "ascending"), ("pollutant_code", "ascending"), ("hour_at", "ascending")]
    )
    return merged.take(order)


def _merge_hours(con: duckdb.DuckDBPyConnection, old: pa.Table, day: dt.date, affected: set[int]) -> pa.Table:
    """The date's hourly rows: ``old`` ones outside ``affected`` hours + those hours recomputed."""
    midnight_us = int(dt.datetime.combine(day, dt.time(0), BEIJING).timestamp()) * 1_000_000
    hour_index = pc.divide(pc.subtract(old.column("hour_at").cast(pa.int64()), midnight_us), _HOUR_US)
    keep = old.filter(pc.invert(pc.is_in(hour_index, pa.array(sorted(affected), pa.int64()))))
    if not affected:
        return keep
    wanted = ", ".join(str(midnight_us // _HOUR_US + h) for h in sorted(affected))
    con.execute(
        f"CREATE VIEW touched AS SELECT * FROM readings WHERE epoch_us(data_at) // {_HOUR_US} IN ({wanted})"
    )
    new = schema.hourly.conform(hourly_values(con, "touched"))
    merged = pa.concat_tables([keep, new])
    order = pc.sort_indices(
        merged, [("mn", "ascending"), ("pollutant_code", "ascending"), ("hour_at", "ascending")]
    )
    return merged.take(order)


def refresh_serving(settings: Settings) -> None:
    serving.refresh(settings.lake, settings.duckdb_file, _ledger(settings))


# -- whole runs ---------------------------------------------------------------------------------
def _finish(
    settings: Settings, report: RunReport, *, force: bool, marts: bool = True, refresh: bool = True
) -> RunReport:
    t0 = time.perf_counter()
    if marts and report.dates:
        report.marts = build_marts(settings, report.dates, force=force, hours=report.hours)
    report.timings["marts"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    changed = any(r.status != "skipped" for r in report.inputs) or any(
        m.status != "skipped" for m in report.marts
    )
    if refresh and (changed or not settings.duckdb_file.exists()):
        refresh_serving(settings)
    report.timings["serving"] = time.perf_counter() - t0
    return report


def ingest_interval(
    settings: Settings,
    start: dt.datetime,
    end: dt.datetime,
    *,
    force: bool = False,
    workers: int | None = None,
) -> RunReport:
    """The closed segments of [start, end): ingest, marts for the dates they touch, serving."""
    t0 = time.perf_counter()
    timings: dict[str, float] = {}
    inputs = segment_inputs(settings, start, end)
    report = RunReport(ingest_inputs(settings, inputs, force=force, workers=workers, timings=timings))
    report.timings.update(timings)
    report.timings["ingest"] = time.perf_counter() - t0
    return _finish(settings, report, force=force)


def ingest_files(
    settings: Settings,
    paths: Iterable[str | Path],
    *,
    force: bool = False,
    workers: int | None = None,
    on_done: Callable[[int], None] | None = None,
) -> RunReport:
    """`ecocloud ingest hj212 FILE…`: land capture files in the raw zone, then the same path."""
    t0 = time.perf_counter()
    files = [str(Path(p)) for p in paths]
    for f in files:
        if not Path(f).is_file():
            raise FileNotFoundError(f)
    timings: dict[str, float] = {}
    report = RunReport(
        ingest_inputs(settings, files, force=force, workers=workers, on_done=on_done, timings=timings)
    )
    report.timings.update(timings)
    report.timings["ingest"] = time.perf_counter() - t0
    return _finish(settings, report, force=force)


def check_report(report: RunReport) -> None:
    """Raise when anything was blocked by the quality gate, listing every reason."""
    lines = [f"{r.name}: {f}" for r in report.inputs if r.status == "blocked" for f in r.failures]
    lines += [f"{m.date}: {f}" for m in report.marts if m.status == "blocked" for f in m.failures]
    if lines:
        raise QualityGateFailed("quality gate blocked publication:\n" + "\n".join(lines))


def summary(report: RunReport) -> str:
    """One JSON line: counts, dates and timings (task logs)."""
    return json.dumps(
        {
            "status": report.status,
            "counts": report.counts,
            "dates": [d.isoformat() for d in report.dates],
            "marts": {m.date.isoformat(): m.status for m in report.marts},
            "timings_s": {k: round(v, 3) for k, v in report.timings.items()},
            "stage_s": {k: round(v, 3) for k, v in report.stage_seconds.items()},
        },
        ensure_ascii=False,
    )
