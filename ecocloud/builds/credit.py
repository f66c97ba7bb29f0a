"""Enterprise-credit steps: landing result files, rebuilding ``core_credit__ratings``.

``land`` discovers result files (a URL listing or a drop folder) and lands the new or changed ones;
``Ratings`` rebuilds the table from the newest version of every landed file. When two files hold
the same province, year and batch (a corrected republication), the newer file's rows replace the
older one's; a year's list published in batches (第一批, 第二批 …) adds up. USCCs failing GB 32100 are flagged and kept; names are normalised for matching. A file that
cannot be read at all is quarantined whole, with the reason; the other files publish.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Sequence
from typing import Any

import pyarrow as pa

from ecocloud.builds import http_session
from ecocloud.runner.context import StepContext
from ecocloud.runner.units import Output, Unit
from ecocloud.settings import Settings
from ingest.credit.fetch import SOURCE, discover, land_file
from ingest.credit.parse import CreditFileError, file_quarantine, parse_credit_file
from ingest.raw import read_raw
from schemas import credit as schema
from transforms.arrow_sql import query_arrow
from transforms.identifiers import normalize_name_array, with_uscc_flags
from warehouse.ledger import Ledger, RawObject


def land(
    settings: Settings,
    ledger: Ledger,
    locations: Sequence[str] | None = None,
    *,
    province: str | None = None,
    year: int | None = None,
) -> list[RawObject]:
    """Land every new or changed file at ``locations`` (default: ``settings.credit_base_url``).

    ``province`` (key, code or name) and ``year`` apply to every file found, for files whose name and
    content do not say.
    """
    session = http_session(settings)
    landed = []
    for location in locations or [settings.credit_base_url]:
        for found in discover(location, session=session, timeout_s=settings.http_timeout_s):
            item = dataclasses.replace(found, province=province or found.province, year=year or found.year)
            obj = land_file(
                settings.lake_store, ledger, item, session=session, timeout_s=settings.http_timeout_s
            )
            if obj is not None:
                landed.append(obj)
    return landed


def land_interval(settings: Settings, ledger: Ledger, *_interval: dt.datetime) -> list[RawObject]:
    return land(settings, ledger)


def copies_newest_first(objects: list[RawObject]) -> list[list[RawObject]]:
    """Every received copy of each logical file, newest first (the files in order of their newest)."""
    by_name: dict[str, list[RawObject]] = {}
    for o in objects:
        by_name.setdefault(o.logical_name, []).append(o)
    files = [sorted(copies, key=lambda o: o.received_at, reverse=True) for copies in by_name.values()]
    return sorted(files, key=lambda copies: copies[0].received_at)


class Ratings:
    """A file's newest copy is read; when it cannot be (a damaged re-publication), the newest copy
    that can be stands for it — so one bad upload does not erase a province-year's ratings — and the
    bad copy is quarantined saying so."""

    def plan(self, ctx: StepContext) -> Iterable[Unit]:
        files = copies_newest_first(ctx.ledger.raw_objects(SOURCE))
        if files:
            inputs = tuple(ctx.raw_input(o) for copies in files for o in copies)
            yield Unit("all", inputs, size=sum(copies[0].size for copies in files))

    def build(self, ctx: StepContext, unit: Unit) -> Output:
        objs = {o.raw_path: o for o in ctx.ledger.raw_objects(SOURCE)}
        rows = [schema.stage_rows.empty()]
        quarantine = [schema.quarantine.empty()]
        files = copies_newest_first([objs[i.id] for i in unit.inputs])
        counts: dict[str, Any] = {
            "files": len(files),
            "files_unreadable": 0,
            "files_from_an_older_copy": 0,
            "rows_read": 0,
            "rows_quarantined": 0,
            "rows_skipped": 0,  # notes and blank subtotal lines below a table: no rating cell filled
            "sheets_skipped": 0,  # their non-blank rows are quarantined (in rows_read)
        }
        warnings: list[str] = []
        for copies in files:
            parsed = None
            for n, obj in enumerate(copies):
                try:
                    parsed = parse_credit_file(
                        read_raw(ctx.lake, obj),
                        file_name=obj.logical_name,
                        raw_file=obj.raw_path,
                        received_at=dt.datetime.fromisoformat(obj.received_at),
                    )
                except CreditFileError as exc:
                    if n == 0:
                        counts["files_unreadable"] += 1
                    older = (
                        "; the newest readable copy before it stands for the file"
                        if n + 1 < len(copies)
                        else ""
                    )
                    quarantine.append(file_quarantine(obj.raw_path, f"{exc}{older}"))
                    if n == 0:  # the newest copy: the run says why the file changed nothing
                        warnings.append(f"{obj.raw_path}: {exc}{older}")
                    continue
                if n > 0:
                    counts["files_from_an_older_copy"] += 1
                break
            if parsed is None:
                continue
            rows.append(parsed.rows)
            quarantine.append(parsed.quarantine)
            counts["rows_read"] += parsed.counts.get("rows_read", 0)
            for key in ("rows_quarantined", "rows_skipped", "sheets_skipped"):
                counts[key] += parsed.counts.get(key, 0)

        ratings = with_uscc_flags(pa.concat_tables(rows))
        ratings = ratings.append_column(
            "enterprise_name_norm", normalize_name_array(ratings.column("enterprise_name"))
        )
        ratings = schema.ratings.conform(newest_ratings(ratings))
        counts["rows_superseded"] = sum(t.num_rows for t in rows) - ratings.num_rows
        counts["ratings"] = ratings.num_rows
        counts["uscc_invalid"] = ratings.num_rows - sum(ratings.column("uscc_valid").to_pylist())
        counts["years"] = sorted(
            {
                f"{p}/{y}"
                for p, y in zip(
                    ratings["province_code"].to_pylist(), ratings["year"].to_pylist(), strict=True
                )
            }
        )
        quarantine_t = schema.quarantine.conform(pa.concat_tables(quarantine))
        return Output({schema.ratings.name: ratings, schema.quarantine.name: quarantine_t}, counts, warnings)


def newest_ratings(rows: pa.Table) -> pa.Table:
    """The ratings in force: the rows of the most recently received file of each province, list year
    (a file's list year: the year most of its rows carry, the later one on a tie) and batch
    (``list_batch``: a year's list published as 第一批, 第二批 … adds up; no batch stated is a batch of
    its own), and where an enterprise (its USCC, else its normalised name: as the risk scores tell
    them apart) has ratings of one year in two such files — a row of another year in a list: an
    enterprise re-evaluated late; a later batch rating it again — those of the later list: the later
    list year, then the later batch (files land in any order: a folder's 第三批 sorts before its
    第二批; a list stating no batch — a whole year's list — comes after every list of its year received
    before it, and the batches received after it after it: a round of their own), then the newer
    file. A file replaces the lists of its own province, year and batch only, never another year's
    because of one row, nor an earlier batch of its year."""
    return query_arrow(
        """
        WITH keyed AS (
            SELECT *, coalesce(list_batch, 0) AS _batch FROM r  -- a join key: no batch is batch 0
        ), per_year AS (
            SELECT raw_file, province_code, _batch, year, count(*) AS n, max(received_at) AS received_at
            FROM keyed GROUP BY ALL
        ), lists AS (
            SELECT raw_file, province_code, _batch, arg_max(year, (n, year)) AS list_year,
                   max(received_at) AS received_at
            FROM per_year GROUP BY raw_file, province_code, _batch
        ), ordered AS (  -- a list stating no batch starts a round of its year: after what came before it
            SELECT *, count(*) FILTER (WHERE _batch = 0) OVER (
                          PARTITION BY province_code, list_year ORDER BY received_at
                          RANGE BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS _round
            FROM lists
        ), newest AS (
            SELECT raw_file, province_code, _batch, list_year, (_round, _batch) AS _order FROM ordered
            QUALIFY row_number() OVER (
                PARTITION BY province_code, list_year, _batch ORDER BY received_at DESC, raw_file DESC) = 1
        ), listed AS (  -- newest holds each (file, province, batch) once: the join keeps the rows
            SELECT k.* EXCLUDE (_batch), n.list_year AS _list_year, n._order AS _list_order,
                   coalesce(k.uscc, k.enterprise_name_norm) AS _who  -- as scoring tells them apart
            FROM keyed k JOIN newest n USING (raw_file, province_code, _batch)
        )
        SELECT * EXCLUDE (_who, _list_year, _list_order) FROM listed
        QUALIFY raw_file = arg_max(raw_file, (_list_year, _list_order, received_at, raw_file))
                           OVER (PARTITION BY province_code, year, _who)
        ORDER BY province_code, year, raw_file, sheet, row_no
        """,
        r=rows,
    )
