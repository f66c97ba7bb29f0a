"""What the pages read from the serving database: fixed SQL, user input only as bound parameters.

Table names never come from the request as text: a page first finds the registry table
(``schemas.registry.get_table``) and uses its name.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import duckdb

from ecocloud.settings import Settings
from schemas.aqi_standard import POLLUTANT_NAMES as AIR_POLLUTANT_NAMES
from schemas.clock import BEIJING
from schemas.hj212_codes import POLLUTANTS
from schemas.registry import Layer, Table
from transforms.risk.scoring import region_prefix
from warehouse.catalog import RESULTS_TABLE, datasets_as_of, time_column

MAX_TERMS = 8


class NoServingDatabase(RuntimeError):
    """Nothing has been ingested in this home yet."""


@contextmanager
def serving(settings: Settings) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the serving database (opened per request: refreshes swap the file)."""
    try:
        con = settings.connect_serving(zone="UTC")
    except FileNotFoundError as exc:
        raise NoServingDatabase(str(exc)) from exc
    try:
        yield con
    finally:
        con.close()


def _dicts(cur: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    names = [d[0] for d in cur.description or []]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def search_terms(q: str | None) -> list[str]:
    return [t for t in (q or "").split() if t][:MAX_TERMS]


# ------------------------------------------------------------------------------------------ catalog

# where a term may match, with its weight in the ranking: a title first, then the table's name,
# its description, the rest of its entry; a column's name, description or value labels last
_TEXT = (
    ("d.title_zh", 8),
    ("d.title_en", 8),
    ("d.table_name", 4),
    ("d.description_zh", 2),
    ("d.description_en", 2),
    ("d.owner_zh", 1),
    ("d.owner_en", 1),
    ("d.source_system", 1),
    ("d.frequency_zh", 1),
    ("d.frequency_en", 1),
)
_COLUMN_TEXT = ("c.column_name", "c.description_zh", "c.description", "c.value_labels")
_COLUMN_WEIGHT = 1
# a pollutant found as a value a table's pollutant_code may hold: below what the table's entry says
_CODE_VALUE_WEIGHT = 0.5
# a Latin term this short matches whole words only: "CO" is carbon monoxide, not every "code" and "count"
_WHOLE_WORD_CHARS = 3
_LATIN = re.compile(r"[A-Za-z0-9.\-]+")


def _pollutant_spellings() -> dict[str, frozenset[str]]:
    """What a reader may type for a pollutant (any of its Chinese or English names, its formula, its
    code) → every way the registry may write it: its HJ 212 code, names and formula, and the air
    tables' (二氧化硫, sulfur dioxide, SO2: a21026, SO2, 二氧化硫, sulphur dioxide, …). A pollutant
    of the HJ 212 table and of the air tables sharing a name (SO2, 二氧化硫) is one."""
    groups = [{p.code, *p.names} for p in POLLUTANTS.values()]
    groups += [{label, *names} for label, names in AIR_POLLUTANT_NAMES.items()]
    merged: list[set[str]] = []
    for group in groups:
        folded = {n.casefold() for n in group}
        whole = set(group)
        for m in [m for m in merged if folded & {n.casefold() for n in m}]:
            merged.remove(m)
            whole |= m
        merged.append(whole)
    found: dict[str, frozenset[str]] = {}
    for group in merged:
        spellings = frozenset(n for n in group if n)
        found.update({n.casefold(): spellings for n in spellings if n not in POLLUTANTS})
    return found


_POLLUTANT_SPELLINGS = _pollutant_spellings()


def _names_hj212_pollutant(term: str) -> bool:
    """A pollutant's HJ 212 code or one of its names: the tables whose rows carry a pollutant_code
    hold it (their descriptions name few of the codes)."""
    return term in POLLUTANTS or bool(
        _POLLUTANT_SPELLINGS.get(term.casefold(), frozenset()) & POLLUTANTS.keys()
    )


def term_pattern(term: str) -> str:
    """A case-blind regular expression for a search term: a Latin word (letters, digits, ".", "-")
    matches at the start of a word — identifiers split at "_" — and a short one only as a whole word;
    other text (Chinese) anywhere; a pollutant's name also matches its HJ 212 code, its other names and
    its formula — a formula (capitals in it: NO, CO) in its own case only: not the English "no"."""
    spellings = _POLLUTANT_SPELLINGS.get(term.casefold(), frozenset())
    alternatives = [term, *sorted(a for a in spellings if a.casefold() != term.casefold())]
    parts = []
    for alt in alternatives:
        if _LATIN.fullmatch(alt):
            end = "([^a-z0-9]|$)" if len(alt) <= _WHOLE_WORD_CHARS else ""
            if alt in spellings and alt != alt.lower() and alt not in POLLUTANTS:  # a formula
                parts.append(f"(?-i:([^A-Za-z0-9]|^){re.escape(alt)}{end.replace('a-z', 'A-Za-z')})")
            else:
                parts.append(f"([^a-z0-9]|^){re.escape(alt.lower())}{end}")
        else:
            parts.append(re.escape(alt))
    return "(?i)(" + "|".join(parts) + ")"


def search_datasets(
    con: duckdb.DuckDBPyConnection, q: str | None, levels: Sequence[str], layer: str | None = None
) -> list[dict[str, Any]]:
    """Datasets at the given sharing levels matching every term (title, description, owner, columns:
    see :func:`term_pattern`), the best matches first: by the weight of where each term matched. A
    query that is a pollutant's name of several words (sulfur dioxide) is one term."""
    whole = " ".join((q or "").split())
    terms = [whole] if whole.casefold() in _POLLUTANT_SPELLINGS else search_terms(q)
    params: dict[str, Any] = {"levels": list(levels), "layer": layer}
    where = ["list_contains($levels, d.sharing)", "($layer IS NULL OR d.layer = $layer)"]
    score: list[str] = []
    for i, term in enumerate(terms):
        params[f"t{i}"] = term_pattern(term)
        in_columns = " OR ".join(f"coalesce(regexp_matches({c}, $t{i}), false)" for c in _COLUMN_TEXT)
        column_hit = (
            f"EXISTS (SELECT 1 FROM catalog_columns c WHERE c.table_name = d.table_name AND ({in_columns}))"
        )
        hits: list[tuple[str, float]] = [
            (f"coalesce(regexp_matches({c}, $t{i}), false)", w) for c, w in _TEXT
        ]
        hits.append((column_hit, _COLUMN_WEIGHT))
        if _names_hj212_pollutant(term):
            by_code = "SELECT 1 FROM catalog_columns c WHERE c.table_name = d.table_name AND c.column_name = 'pollutant_code'"
            hits.append((f"EXISTS ({by_code})", _CODE_VALUE_WEIGHT))
        where.append("(" + " OR ".join(h for h, _ in hits) + ")")
        score.append("greatest(" + ", ".join(f"{h}::INT * {w}" for h, w in hits) + ")")
    sql = (
        "SELECT d.table_name, d.title_zh, d.title_en, d.description_zh, d.description_en, d.layer, d.source, "
        "d.sharing, d.owner_zh, d.owner_en, d.frequency_zh, d.frequency_en, d.rows, d.freshness_status, "
        "d.late_by_h, d.last_updated_at, d.gate_failed, d.gate_warnings "
        f"FROM {datasets_as_of()} d WHERE {' AND '.join(where)} "
        f"ORDER BY {' + '.join(score) + ' DESC, ' if score else ''}d.layer, d.table_name"
    )
    return _dicts(con.execute(sql, params))


def owners(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every department owning a dataset, whatever its sharing level: its names and contact."""
    return _dicts(
        con.execute("SELECT DISTINCT owner_zh, owner_en, contact FROM catalog_datasets ORDER BY owner_en")
    )


def layer_counts(con: duckdb.DuckDBPyConnection, levels: Sequence[str]) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT layer, count(*) AS datasets, sum(rows) AS rows FROM catalog_datasets "
            "WHERE list_contains($levels, sharing) GROUP BY layer ORDER BY layer",
            {"levels": list(levels)},
        )
    )


def dataset(con: duckdb.DuckDBPyConnection, name: str) -> dict[str, Any] | None:
    rows = _dicts(con.execute(f"SELECT * FROM {datasets_as_of()} d WHERE table_name = $1", [name]))
    return rows[0] if rows else None


def columns(con: duckdb.DuckDBPyConnection, table: Table, lang: str = "zh") -> list[dict[str, Any]]:
    """The table's columns; ``allowed``: its allowed values, each with its label in ``lang`` (the
    registry's; None where there is none, or where it says no more than the value)."""
    rows = _dicts(
        con.execute("SELECT * FROM catalog_columns WHERE table_name = $1 ORDER BY position", [table.name])
    )
    declared = {c.name: c for c in table.columns}
    for row in rows:
        codes = declared[row["column_name"]].labels if row["column_name"] in declared else None
        labels = codes.in_language(lang) if codes else json.loads(row["value_labels"] or "{}")
        values = json.loads(row["allowed_values"]) if row["allowed_values"] else []
        row["allowed"] = [(v, labels.get(v) if labels.get(v) != v else None) for v in values]
    return rows


def lineage(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    """Edges into the table (its producers) and out of it (its consumers)."""
    return _dicts(
        con.execute(
            "SELECT * FROM catalog_lineage WHERE output_table = $1 OR (input_kind = 'table' AND input_id = $1) "
            "ORDER BY output_table, input_kind, input_id",
            [name],
        )
    )


def quality(con: duckdb.DuckDBPyConnection, name: str) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT * FROM catalog_quality WHERE table_name = $1 "
            "ORDER BY kind, success NULLS FIRST, check_name, column_name",
            [name],
        )
    )


def gate_runs(con: duckdb.DuckDBPyConnection, name: str, limit: int = 10) -> list[dict[str, Any]]:
    """The table's latest gate runs, newest first: partitions checked, expectations failed."""
    cols = {r[0] for r in con.execute(f'DESCRIBE "{RESULTS_TABLE}"').fetchall()}
    part = "partition_date" if "partition_date" in cols else "date"
    return _dicts(
        con.execute(
            f"""
            SELECT run_id, max(validated_at) AS validated_at, count(DISTINCT "{part}") AS partitions,
                   count(*) AS expectations,
                   count(*) FILTER (WHERE NOT success AND severity = 'blocking') AS failed,
                   count(*) FILTER (WHERE NOT success AND severity = 'warning') AS warnings,
                   count(DISTINCT "{part}") FILTER (WHERE NOT published) AS blocked
            FROM "{RESULTS_TABLE}" WHERE table_name = $1
            GROUP BY run_id ORDER BY max(validated_at) DESC LIMIT $2
            """,
            [name, limit],
        )
    )


def gate_run_results(con: duckdb.DuckDBPyConnection, name: str, run_id: str) -> list[dict[str, Any]]:
    cols = {r[0] for r in con.execute(f'DESCRIBE "{RESULTS_TABLE}"').fetchall()}
    part = "partition_date" if "partition_date" in cols else "date"
    return _dicts(
        con.execute(
            f"""
            SELECT "{part}" AS partition, validated_at, expectation, column_name, severity, success,
                   element_count, unexpected_count, unexpected_percent, observed_value, details, published
            FROM "{RESULTS_TABLE}" WHERE table_name = $1 AND run_id = $2
            ORDER BY "{part}", success, expectation, column_name
            """,
            [name, run_id],
        )
    )


def sample(con: duckdb.DuckDBPyConnection, table: Table, n: int) -> tuple[list[str], list[tuple[Any, ...]]]:
    """The newest ``n`` rows of a registry table (by its time column when it has one), then in key
    order: the same rows on every visit, not whichever rows of the newest day the scan met first."""
    time = [f'"{col}" DESC NULLS LAST'] if (col := time_column(table)) else []
    order = ", ".join(time + [f'"{k}"' for k in table.primary_key if k != col])
    cur = con.execute(f'SELECT * FROM "{table.name}" {"ORDER BY " + order if order else ""} LIMIT $1', [n])
    return [d[0] for d in cur.description or []], cur.fetchall()


# ----------------------------------------------------------------------------------------- overviews


def ranking_dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    rows = con.execute("SELECT DISTINCT date FROM mart_air__city_daily_ranking ORDER BY date DESC").fetchall()
    return [r[0] for r in rows]


def last_air_hour(con: duckdb.DuckDBPyConnection, day: dt.date) -> dt.datetime | None:
    """The latest hour of ``day`` (a Beijing date) that any station has data for."""
    ((last,),) = con.execute(
        "SELECT max(observed_at) FROM core_air__station_hourly WHERE date = $1", [day]
    ).fetchall()
    return last


def city_ranking(con: duckdb.DuckDBPyConnection, day: dt.date) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT rank, city, stations, aqi, aqi_category, primary_pollutants, pm25_ugm3, pm10_ugm3, "
            "o3_8h_max_ugm3, missing_indicators FROM mart_air__city_daily_ranking "
            "WHERE date = $1 ORDER BY rank NULLS LAST, city",
            [day],
        )
    )


def air_stations(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _dicts(
        con.execute(
            "SELECT station_code, station_name, city FROM core_air__stations "
            "ORDER BY city NULLS LAST, station_code"
        )
    )


def station_hours(
    con: duckdb.DuckDBPyConnection, code: str, start: dt.date, end: dt.date
) -> list[dict[str, Any]]:
    """The station's hours of the Beijing days ``start`` … ``end``: those ending after the first's
    00:00 and by the last's 24:00 (the release stamps an hour by its end: the last is in the next
    day's file, which ``date`` names)."""
    since = dt.datetime.combine(start, dt.time(), BEIJING)
    until = dt.datetime.combine(end + dt.timedelta(days=1), dt.time(), BEIJING)
    return _dicts(
        con.execute(
            "SELECT observed_at, aqi, aqi_published, aqi_category, primary_pollutants, pm25_ugm3, o3_ugm3 "
            "FROM core_air__station_hourly WHERE station_code = $1 AND date BETWEEN $2 AND $3 "
            "AND observed_at > $4 AND observed_at <= $5 ORDER BY observed_at",
            [code, start, end + dt.timedelta(days=1), since, until],
        )
    )


def station_span(con: duckdb.DuckDBPyConnection, code: str) -> tuple[dt.date | None, dt.date | None]:
    ((first, last),) = con.execute(
        "SELECT min(date), max(date) FROM core_air__station_hourly WHERE station_code = $1", [code]
    ).fetchall()
    return first, last


def basin_months(con: duckdb.DuckDBPyConnection, basin: str | None) -> list[dict[str, Any]]:
    """Each basin's months, with how many of its sections had no class that month (nothing measured)
    and how many a class lacking one of its items (``sections_incomplete``): the basin's shares are
    of the others."""
    return _dicts(
        con.execute(
            """
            WITH b AS (SELECT * FROM mart_water__basin_monthly WHERE water_body IS NULL),
            -- a basin-month none of whose sections had a class has no row in the basin mart
            u AS (SELECT month, basin, count(*) - count(water_class) AS unclassified
                  FROM mart_water__section_monthly GROUP BY month, basin)
            SELECT coalesce(b.month, u.month) AS month, coalesce(b.basin, u.basin) AS basin,
                   coalesce(b.sections, 0) AS sections, coalesce(b.sections_incomplete, 0) AS sections_incomplete,
                   b.sections_i_iii, b.sections_iv_v,
                   b.sections_worse_v, b.share_i_iii_pct, b.share_worse_v_pct, b.water_class,
                   b.rollup_method, b.basin_label, coalesce(u.unclassified, 0) AS unclassified
            FROM b FULL JOIN u ON b.month = u.month AND b.basin IS NOT DISTINCT FROM u.basin
            WHERE (b.month IS NOT NULL OR u.unclassified > 0)
              AND ($1 IS NULL OR coalesce(b.basin, u.basin) = $1)
            ORDER BY basin, month
            """,
            [basin],
        )
    )


def basins(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        r[0]
        for r in con.execute(
            "SELECT DISTINCT basin FROM mart_water__basin_monthly WHERE basin IS NOT NULL ORDER BY basin"
        ).fetchall()
    ]


def ingestion_health(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per source: its tables' freshness, the latest gate runs and quarantined rows (catalog)."""
    return _dicts(
        con.execute(
            f"""
            SELECT source,
                   count(*) AS tables,
                   count(*) FILTER (WHERE freshness_status = 'late') AS late_tables,
                   max(late_by_h) AS worst_late_h,
                   string_agg(table_name, ', ' ORDER BY table_name) FILTER (WHERE freshness_status = 'late')
                       AS late_names,
                   max(last_updated_at) AS last_update,
                   max(last_gate_at) AS last_gate_at,
                   sum(gate_failed) AS gate_failed,
                   sum(gate_warnings) AS gate_warnings,
                   sum(gate_partitions_blocked) AS partitions_blocked,
                   sum(rows) FILTER (WHERE layer = $quarantine) AS quarantined_rows,
                   sum(rows) FILTER (WHERE list_contains($published, layer)) AS published_rows
            FROM {datasets_as_of()} d WHERE list_contains($in_lake, layer)
            GROUP BY source ORDER BY source
            """,
            {
                "quarantine": Layer.QUARANTINE.value,
                "published": [layer.value for layer in Layer if layer.holds_published_rows],
                "in_lake": [layer.value for layer in Layer if layer.in_lake],
            },
        )
    )


def quarantine_reasons(
    con: duckdb.DuckDBPyConnection, per_source: int = 3
) -> dict[str, list[dict[str, Any]]]:
    """Per source, its most frequent quarantine reasons (rows over every date, the newest date seen)."""
    rows = _dicts(
        con.execute(
            """
            SELECT source, table_name, reason, sum(rows) AS rows, max(date) AS last_date
            FROM catalog_quarantine_reasons GROUP BY source, table_name, reason
            QUALIFY row_number() OVER (PARTITION BY source ORDER BY sum(rows) DESC, reason) <= $n
            ORDER BY source, rows DESC, reason
            """,
            {"n": per_source},
        )
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        out.setdefault(row["source"], []).append(row)
    return out


def build_health(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Per spec build: units by status and the last run (the ledger; empty until the runner records)."""
    return _dicts(
        con.execute(
            """
            SELECT build, count(*) AS units,
                   count(*) FILTER (WHERE status = 'published') AS published,
                   count(*) FILTER (WHERE status = 'blocked') AS blocked,
                   count(*) FILTER (WHERE status = 'failed') AS failed,
                   max(built_at) AS last_built_at, arg_max(run_id, built_at) AS last_run,
                   arg_max(task, built_at) AS last_task
            FROM platform_ledger__builds GROUP BY build ORDER BY build
            """
        )
    )


def failed_landings(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """The sources whose latest scheduled landing failed (the ledger), with when it last succeeded;
    none from a serving database an older version refreshed (no copy of the landings yet)."""
    try:
        return _dicts(
            con.execute(
                """
                SELECT source, attempted_at, succeeded_at, error, run_id FROM platform_ledger__landings
                WHERE error IS NOT NULL ORDER BY source
                """
            )
        )
    except duckdb.CatalogException:
        return []


def units_not_published(con: duckdb.DuckDBPyConnection, limit: int = 50) -> list[dict[str, Any]]:
    """The units the ledger holds blocked or failed, newest first, with why (their recorded error)."""
    return _dicts(
        con.execute(
            """
            SELECT build, unit, status, error, built_at, run_id FROM platform_ledger__builds
            WHERE status IN ('blocked', 'failed') ORDER BY built_at DESC, build, unit LIMIT $n
            """,
            {"n": limit},
        )
    )


# ------------------------------------------------------------------------- pollution-source disclosure
def disclosure_dates(con: duckdb.DuckDBPyConnection) -> list[dt.date]:
    rows = con.execute(
        "SELECT DISTINCT date FROM mart_source__disclosure_daily ORDER BY date DESC"
    ).fetchall()
    return [r[0] for r in rows]


def disclosure_rows(
    con: duckdb.DuckDBPyConnection, day: dt.date, q: str | None, exceeded_only: bool, limit: int
) -> tuple[list[dict[str, Any]], int]:
    """A day's disclosed results (at most ``limit``, exceedances first) and how many match in all:
    ``q``'s words each in the enterprise's name or USCC, or a region code (a prefecture's 360100 finds
    its counties' 3601xx too); ``exceeded_only``: rows with an hour over the limit or a day's mean over it."""
    where = ["date = $day"]
    params: dict[str, object] = {"day": day}
    for i, term in enumerate(search_terms(q)):
        where.append(f"(enterprise_name ILIKE $t{i} ESCAPE '\\' OR uscc ILIKE $t{i} ESCAPE '\\' "
                     f"OR starts_with(region_code, $r{i}))")  # fmt: skip
        params[f"t{i}"] = _like(term)
        # a region code stands for the regions under it: 360000 the province, 360100 a prefecture
        digits = term.isascii() and term.isdigit()
        params[f"r{i}"] = (region_prefix(term) if len(term) == 6 else term) if digits else None
    if exceeded_only:
        where.append("(hours_exceeded > 0 OR day_mean_exceeded)")
    cond = " AND ".join(where)
    ((total,),) = con.execute(
        f"SELECT count(*) FROM mart_source__disclosure_daily WHERE {cond}", params
    ).fetchall()
    rows = _dicts(
        con.execute(
            "SELECT uscc, enterprise_name, outlet_code, point_no, point_name, region_code, pollutant_code, unit, "
            "identity_from_at, daily_mean_value, limit_value, limit_lower, limit_unit, limit_source, "
            "limit_standard, limit_changed, hours_present, hours_valid, hours_judged, hours_exceeded, "
            f"day_mean_exceeded FROM mart_source__disclosure_daily WHERE {cond} "
            "ORDER BY coalesce(day_mean_exceeded, false) DESC, hours_exceeded DESC, enterprise_name, uscc, "
            f"outlet_code, point_no, pollutant_code, identity_from_at LIMIT {int(limit)}",
            params,
        )
    )
    return rows, total
