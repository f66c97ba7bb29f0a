"""Hourly and daily values per outlet and pollutant from HJ 212 readings, in DuckDB SQL.

Input: rows shaped like ``core_source__readings`` (a DuckDB relation, table or Arrow table named in
the query), usually one Beijing day. Output: Arrow tables shaped like ``mart_source__hourly`` and
``mart_source__daily`` (without ``date`` conversion surprises: every time is computed in epoch
microseconds, so the session time zone never matters).

Rules (DOMAIN.md §1, HJ 212-2017):

* **Retransmissions** — readings with the same (mn, cn, data_at, pollutant, statistic) are one
  reading; the copy at the latest raw location (segment, offset) wins, the others are counted in
  ``retransmissions``.
* **Basis** — per outlet, pollutant and hour: the hourly packet (2061) if sent, else the minute
  packets (2051) of the hour, else the real-time values (2011). Per day: the daily packet (2031) if
  sent, else the day's hours.
* **Values of a period** from its samples: mean of Avg (Rtd for real-time), min of Min (Rtd), max of
  Max (Rtd), sum of Cou; converted values (Zs*) alike. A period rolled up as N takes its mean, min
  and max from its N samples only (HJ 75: data of calibration, maintenance or fault periods is not
  valid data): a flue-gas hour of 45 N minutes and 15 of calibration gas is N, and its mean is the
  45 minutes'. Cou stays the sum of every sample (an amount discharged, not a measurement to
  average). An abnormal period keeps the values of all its samples, under its abnormal flag. The
  daily values from hours follow the same rule over the hours.
* **Flag roll-up** — a sample without a flag counts as N; a sample's flag is its pollutant's Flag
  as sent (a split packet's part without it says nothing; two different flags sent: the abnormal
  one). Wastewater (a ``w`` code, else ST 32): one abnormal sample makes the hour abnormal. Flue gas
  (an ``a`` code, else ST 31 — the code names what is measured, and a real logger sends SO2 under
  ST 32): the hour is N
  only if ≥ 75 % of its samples are N and, for an hour of minute (2051) or real-time (2011) data,
  its N samples cover ≥ 45 minutes (HJ 75: a valid hourly mean needs 45 valid minutes) —
  ``minutes_normal``: the count of its N samples times the logger's sampling step, the most common
  gap between the pollutant's consecutive samples in the hour, seen at least twice (capped at 60).
  So 3 real-time samples in 2 minutes cover 3 minutes, not the hour; one sample, or two (one gap),
  have no step to measure and cannot show 45 minutes (the real captures' loggers send minute data every 1 or 10 minutes, real-time
  data every 30 s or 5 minutes; a logger sending real-time data only hourly is the case this
  misjudges). A 2061 hour's flag is the
  logger's own roll-up, as sent. Other systems use the wastewater rule. A period not N carries its
  most frequent abnormal flag (ties: alphabetical) — but a flue-gas hour whose samples are ≥ 75 % N
  and cover fewer than 45 minutes has no flag (NULL: too few minutes for an hourly value — HJ
  212's flags have no code for it; it fails on its minutes, not its flags), and is not valid. The day rolls up its hours with the same share rule (DOMAIN.md states the
  minute → hour rule; applying it one level up is our choice), a flag-less hour counting as not N.
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from schemas.clock import BEIJING_OFFSET_US, beijing_days
from schemas.hj212_codes import POLLUTANTS
from schemas.source import FLUE_GAS_NORMAL_SHARE, FLUE_GAS_VALID_MINUTES, HOURLY_BASES, STATS
from schemas.sql import exact_decimal

__all__ = [
    "DAILY_CN",
    "FLUE_GAS_NORMAL_SHARE",
    "FLUE_GAS_VALID_MINUTES",
    "HOURLY_CNS",
    "HOURLY_CNS_SQL",
    "HOURLY_PERIOD_US",
    "HOURLY_RANK",
    "HOUR_US",
    "daily_values",
    "hourly_basis_sql",
    "hourly_from_basis_sql",
    "hourly_sql",
    "hourly_values",
    "period_sql",
    "units_table",
]

HOUR_US = 3_600_000_000  # an hour in epoch microseconds (Beijing hours are whole UTC hours)
_DAY_US = 24 * HOUR_US
# the commands the hourly mart is computed from, best basis first (HJ 212: 2061 hourly, 2051
# minute, 2011 real-time data): the registry's bases of an hourly row
HOURLY_CNS = HOURLY_BASES
HOURLY_CNS_SQL = ", ".join(f"'{cn}'" for cn in HOURLY_CNS)  # as a SQL list: cn IN (…)
DAILY_CN = "2031"  # HJ 212 daily data: the daily mart's basis where sent
# a reading's command as its rank for the hourly basis: the lowest rank of an hour wins
HOURLY_RANK = (
    "CASE cn "
    + " ".join(f"WHEN '{cn}' THEN {rank}" for rank, cn in enumerate(HOURLY_CNS[:-1], 1))
    + f" ELSE {len(HOURLY_CNS)} END"
)


def units_table() -> pa.Table:
    """The relation ``units`` the queries read: each pollutant code's unit and Cou unit."""
    return pa.table(
        {
            "u_code": [p.code for p in POLLUTANTS.values()],
            "u_unit": [p.unit for p in POLLUTANTS.values()],
            "u_cou_unit": [p.cou_unit for p in POLLUTANTS.values()],
        }
    )


def _flag_sql(samples: str, normal: str, kind: str, top: str, enough: str = "true") -> str:
    """The period's flag (the rules in the module's docstring); ``enough``: whether its N samples
    cover enough minutes for a flue-gas hour (SQL)."""
    return f"""
    CASE WHEN {normal} = {samples} AND {kind} <> 'flue_gas' THEN 'N'
         WHEN {kind} = 'flue_gas' AND {normal} >= {FLUE_GAS_NORMAL_SHARE} * {samples}
              THEN CASE WHEN {enough} THEN 'N' END  -- N samples, too few minutes: no flag
         ELSE {top} END"""


# One row per sample — a packet's values for one pollutant (mn, pollutant, cn, data_at) — with
# retransmitted copies collapsed: for each statistic the copy at the latest (segment, offset) wins.
# Plain aggregates for the (usual) samples without copies; max_by only where copies exist.
_PLAIN = "stat IN ('Rtd', 'Avg', 'Min', 'Max', 'Cou')"


def _pivot(agg: str, flag: str) -> str:
    """The sample's values from its rows; ``agg`` is ``max({x})`` or ``max_by({x}, k)``, ``flag``
    the matching aggregate of its rows' flags (``_SENT_FLAG`` or ``_LATEST_SENT_FLAG``)."""

    def v(stat: str) -> str:
        return agg.format(x="value") + f" FILTER (WHERE stat = '{stat}')"

    return f"""
           {agg.format(x="st")} AS st,
           coalesce({v("Avg")}, {v("Rtd")}) AS s_avg,
           coalesce({v("Min")}, {v("Rtd")}) AS s_min,
           coalesce({v("Max")}, {v("Rtd")}) AS s_max,
           {v("Cou")} AS s_cou,
           coalesce({v("ZsAvg")}, {v("ZsRtd")}) AS s_zavg,
           coalesce({v("ZsMin")}, {v("ZsRtd")}) AS s_zmin,
           coalesce({v("ZsMax")}, {v("ZsRtd")}) AS s_zmax,
           coalesce({flag.format(rows=_PLAIN)}, {flag.format(rows="true")}, 'N') AS flag"""


# A sample's flag is its pollutant's Flag as sent — the plain statistics' rows first (a Zs statistic's
# row carries the ZsFlag where one was sent) — and N where none was. A row without a flag says
# nothing: a split packet's part that carries the pollutant's Cou but not its Flag counted as N, and
# max('D', 'N') made a fault sample N. A blank flag is no flag. ``{rows}``: the rows read.
# Of one packet's rows, an abnormal flag wins over N ('N' maps to '', below every letter):
_SENT_FLAG = (
    "coalesce(nullif(max(CASE WHEN flag = 'N' THEN '' ELSE flag END) FILTER (WHERE {rows}), ''), "
    "max(flag) FILTER (WHERE {rows} AND flag = 'N'))"
)
# of retransmitted copies, the latest copy that sent one:
_LATEST_SENT_FLAG = "max_by(flag, k) FILTER (WHERE {rows} AND flag <> '')"


# how many different statistics a sample has: one bit per statistic (no COUNT DISTINCT)
_STAT_BIT = "(1::BIGINT << list_position([" + ", ".join(f"'{s}'" for s in STATS) + "], stat))"
_DISTINCT_STATS = f"bit_count(bit_or({_STAT_BIT}))"

# Readings of the hourly basis only: an hour with a 2061 value of a pollutant never uses its 2051 or
# 2011 samples, nor one with 2051 values its 2011 samples — most readings (real-time, minute data)
# are dropped before the expensive per-sample pivot instead of after it. ``hourly_src`` is read
# twice: NOT MATERIALIZED lets each read scan the readings with its own columns and filter instead of
# copying every reading of the batch first; the best basis of each (outlet, pollutant, hour) is one
# grouping, and the readings of that basis one join (three reads and two anti joins before: −30 % on
# a day of a province's fleet, same rows). An inner join, not a SEMI JOIN: best_basis holds each key
# once, so the rows are the same, and DuckDB 2.0 may run a semi join as a RIGHT_SEMI that builds its
# hash table on the ~7 M readings instead of the groups (seen on one date's files read alone: the
# query 3.2 → 1.7 s; the runner's batches were planned the right way round already).
_HOURLY_BASIS_SQL = f"""
hourly_src AS NOT MATERIALIZED (
    SELECT *, epoch_us(data_at) // {HOUR_US} AS hr,
           {HOURLY_RANK} AS basis_rank
    FROM {{readings}} WHERE cn IN ({HOURLY_CNS_SQL})
),
best_basis AS (SELECT mn, pollutant_code, hr, min(basis_rank) AS basis_rank FROM hourly_src GROUP BY ALL),
basis AS (
    SELECT * EXCLUDE (hr, basis_rank)
    FROM hourly_src JOIN best_basis USING (mn, pollutant_code, hr, basis_rank)
),"""

_SAMPLES_SQL = (
    """
src AS (
    SELECT mn, st, cn, data_at, pollutant_code, stat, value, flag, segment, "offset"
    FROM {readings} WHERE cn IN ({cns})
),
plain AS (
    SELECT mn, pollutant_code, cn, data_at,"""
    + _pivot("max({x})", _SENT_FLAG)
    + f""",
           count(*) - ({_DISTINCT_STATS}) AS dups
    FROM src GROUP BY mn, pollutant_code, cn, data_at
),
copied AS (
    SELECT mn, pollutant_code, cn, data_at,"""
    + _pivot("max_by({x}, k)", _LATEST_SENT_FLAG)
    + """
    FROM (
        SELECT s.*, (s.segment, s."offset") AS k
        FROM src s SEMI JOIN (SELECT mn, pollutant_code, cn, data_at FROM plain WHERE dups > 0) d
             USING (mn, pollutant_code, cn, data_at)
    )
    GROUP BY mn, pollutant_code, cn, data_at
),
samples AS (
    SELECT p.mn, p.pollutant_code, p.cn, epoch_us(p.data_at) AS at_us, p.dups,
           coalesce(c.st, p.st) AS st,
           CASE WHEN p.dups > 0 THEN c.s_avg ELSE p.s_avg END AS s_avg,
           CASE WHEN p.dups > 0 THEN c.s_min ELSE p.s_min END AS s_min,
           CASE WHEN p.dups > 0 THEN c.s_max ELSE p.s_max END AS s_max,
           CASE WHEN p.dups > 0 THEN c.s_cou ELSE p.s_cou END AS s_cou,
           CASE WHEN p.dups > 0 THEN c.s_zavg ELSE p.s_zavg END AS s_zavg,
           CASE WHEN p.dups > 0 THEN c.s_zmin ELSE p.s_zmin END AS s_zmin,
           CASE WHEN p.dups > 0 THEN c.s_zmax ELSE p.s_zmax END AS s_zmax,
           CASE WHEN p.dups > 0 THEN c.flag ELSE p.flag END AS flag
    FROM plain p LEFT JOIN copied c USING (mn, pollutant_code, cn, data_at)
)"""
)


# the commands whose samples are spread over an hour at the logger's step (2051 minute, 2011 real-time)
_STEPPED_CNS_SQL = ", ".join(f"'{cn}'" for cn in HOURLY_CNS[1:])


def _steps_sql(period_us: str) -> str:
    """``steps``: per (mn, pollutant, command, period) of minute or real-time samples, the logger's
    sampling step in whole seconds — the most common gap between the pollutant's consecutive samples
    in the period (ties: the smallest). A logger samples at a fixed interval: a missing sample widens
    one gap, a stray or drifted one narrows one, and neither moves the most common gap; another
    pollutant sent a second apart is not this pollutant's sample. A gap counts as the step only if it
    occurs twice: two samples alone (one gap) show no step, as one sample shows none."""
    return f"""
gaps AS (
    SELECT mn, pollutant_code, cn, period_us,
           round((at_us - lag(at_us) OVER (PARTITION BY mn, pollutant_code, cn, period_us ORDER BY at_us)) / 1e6)::BIGINT
               AS gap_s
    FROM (SELECT mn, pollutant_code, cn, {period_us} AS period_us, at_us FROM samples WHERE cn IN ({_STEPPED_CNS_SQL}))
),
steps AS (
    SELECT mn, pollutant_code, cn, period_us, first(gap_s ORDER BY n DESC, gap_s) AS step_s
    FROM (SELECT mn, pollutant_code, cn, period_us, gap_s, count(*) AS n FROM gaps WHERE gap_s > 0 GROUP BY ALL)
    WHERE n >= 2  -- a step seen once is no step: two samples 50 minutes apart are not 100 minutes
    GROUP BY ALL
),"""


# an hour of minute or real-time samples has enough N minutes for flue gas with 45 of them; without a
# step (no gap seen twice: one or two samples) it cannot show them; a 2061 hour was rolled up by the logger
_ENOUGH_MINUTES = (
    f"CASE WHEN cn IN ({_STEPPED_CNS_SQL}) THEN coalesce(minutes_normal >= {FLUE_GAS_VALID_MINUTES}, false) "
    "ELSE true END"
)


def _minutes_normal_sql(samples_normal: str, step_s: str) -> str:
    """The minutes of the hour its N samples cover (whole minutes, at most 60; NULL: step unknown)."""
    # not least(60, …): DuckDB's least skips a NULL argument, and an unknown step must stay unknown
    return (
        f"(CASE WHEN {step_s} IS NOT NULL THEN least(60, ({samples_normal} * {step_s}) // 60) END)::SMALLINT"
    )


def period_sql(period_us: str, *, hourly: bool = False) -> str:
    """Aggregate the samples of each (mn, pollutant, period): per flag first, then per command — on
    small intermediate tables. A period's samples come from one command (the hourly basis join keeps
    one per hour, the daily mart reads 2031 only), so there is no command to pick afterwards; were
    there two, the period would get two rows and the gate's key check would block the mart.
    ``hourly``: the periods are hours, whose flue-gas flag also needs 45 N minutes
    (``minutes_normal``)."""
    minutes = _minutes_normal_sql("p.samples_normal", "s.step_s") if hourly else "NULL::SMALLINT"
    steps_join = "LEFT JOIN steps s USING (mn, pollutant_code, cn, period_us)" if hourly else ""
    return f"""{_steps_sql(period_us) if hourly else ""}
per_flag AS (
    SELECT mn, pollutant_code, cn, {period_us} AS period_us, flag, count(*) AS n,
           sum({exact_decimal("s_avg")}) AS sum_avg, count({exact_decimal("s_avg")}) AS n_avg,
           min(s_min) AS min_v, max(s_max) AS max_v,
           sum({exact_decimal("s_cou")}) AS sum_cou, count({exact_decimal("s_cou")}) AS n_cou,
           sum({exact_decimal("s_zavg")}) AS sum_zavg, count({exact_decimal("s_zavg")}) AS n_zavg, min(s_zmin) AS zmin_v,
           max(s_zmax) AS zmax_v,
           sum(dups) AS dups, bool_or(st = '32') AS ww, bool_or(st = '31') AS fg
    FROM samples GROUP BY ALL
),
per_cn AS (
    SELECT mn, pollutant_code, cn, period_us,
           sum(n)::INTEGER AS samples,
           coalesce(sum(n) FILTER (WHERE flag = 'N'), 0)::INTEGER AS samples_normal,
           sum(sum_avg)::DOUBLE / nullif(sum(n_avg), 0) AS avg_value,
           min(min_v) AS min_value, max(max_v) AS max_value,
           CASE WHEN sum(n_cou) > 0 THEN sum(sum_cou)::DOUBLE END AS cou_value,
           sum(sum_zavg)::DOUBLE / nullif(sum(n_zavg), 0) AS zs_avg_value,
           min(zmin_v) AS zs_min_value, max(zmax_v) AS zs_max_value,
           {_of_normal_samples()},
           first(flag ORDER BY n DESC, flag) FILTER (WHERE flag <> 'N') AS top,
           sum(dups)::INTEGER AS retransmissions,
           CASE WHEN pollutant_code LIKE 'w%' THEN 'wastewater'
                WHEN pollutant_code LIKE 'a%' THEN 'flue_gas'
                WHEN bool_or(ww) THEN 'wastewater'
                WHEN bool_or(fg) THEN 'flue_gas'
                ELSE 'other' END AS source_type
    FROM per_flag GROUP BY mn, pollutant_code, cn, period_us
),
with_minutes AS (
    SELECT p.*, {minutes} AS minutes_normal FROM per_cn p {steps_join}
),
judged AS (
    SELECT *, {_flag_sql("samples", "samples_normal", "source_type", "top", _ENOUGH_MINUTES)} AS flag
    FROM with_minutes
)
SELECT p.mn, p.pollutant_code, p.period_us, p.cn AS basis, p.source_type,
       {_valid_values("p")}, p.cou_value,
       p.samples, p.samples_normal, p.minutes_normal, p.retransmissions, p.flag,
       u.u_unit AS unit, u.u_cou_unit AS cou_unit
FROM judged p LEFT JOIN units u ON u.u_code = p.pollutant_code
ORDER BY p.mn, p.pollutant_code, p.period_us
"""


# the values a period rolled up as N takes from its N samples (or hours) only; Cou is not one of them
# a day's type from its rows' types: one for a w or an a code; another code sent under both ST 32 and
# 31 takes the wastewater rule, as an hour of both does (per_cn: ST 32 first)
_DAY_TYPE = (
    "CASE WHEN bool_or({types} = 'wastewater') THEN 'wastewater' "
    "WHEN bool_or({types} = 'flue_gas') THEN 'flue_gas' ELSE 'other' END"
)
_AVERAGED = ("avg_value", "min_value", "max_value", "zs_avg_value", "zs_min_value", "zs_max_value")


_NORMAL = "flag = 'N'"
_OF_NORMAL = f"FILTER (WHERE {_NORMAL})"


def _of_normal(avg: str, zs_avg: str, lows: tuple[str, str], highs: tuple[str, str]) -> str:
    """``<value>_normal``: the averaged values over the N rows only — ``avg``, ``zs_avg``: the two
    means so restricted; ``lows``, ``highs``: the columns whose min and max give the (converted)
    minimum and maximum."""
    return f"""{avg} AS avg_value_normal, {zs_avg} AS zs_avg_value_normal,
           min({lows[0]}) {_OF_NORMAL} AS min_value_normal, max({highs[0]}) {_OF_NORMAL} AS max_value_normal,
           min({lows[1]}) {_OF_NORMAL} AS zs_min_value_normal,
           max({highs[1]}) {_OF_NORMAL} AS zs_max_value_normal"""


def _of_normal_samples() -> str:
    """per_cn's values over its N samples only, from per_flag's groups."""

    def mean(total: str, count: str) -> str:
        return f"(sum({total}) {_OF_NORMAL})::DOUBLE / nullif(sum({count}) {_OF_NORMAL}, 0)"

    return _of_normal(
        mean("sum_avg", "n_avg"), mean("sum_zavg", "n_zavg"), ("min_v", "zmin_v"), ("max_v", "zmax_v")
    )


def _valid_values(alias: str) -> str:
    """The averaged values of ``alias``'s rows: of the N samples where its ``flag`` is N, else all."""
    return ", ".join(
        f"CASE WHEN {alias}.flag = 'N' THEN {alias}.{v}_normal ELSE {alias}.{v} END AS {v}" for v in _AVERAGED
    )


HOURLY_PERIOD_US = f"(at_us // {HOUR_US}) * {HOUR_US}"  # a sample's hour, from its ``at_us``


def hourly_sql(readings: str) -> str:
    """The hourly query over the readings relation named ``readings``: one row per (mn, pollutant,
    hour) with the hour as ``period_us`` (epoch microseconds); reads the relation ``units``."""
    return (
        "WITH "
        + _HOURLY_BASIS_SQL.format(readings=readings)
        + _SAMPLES_SQL.format(readings="basis", cns=HOURLY_CNS_SQL)
        + ","
        + period_sql(HOURLY_PERIOD_US, hourly=True)
    )


def hourly_basis_sql(readings: str) -> str:
    """The first half of :func:`hourly_sql` alone (benchmarks time the halves): the readings of
    each (outlet, pollutant, hour)'s basis."""
    return "WITH " + _HOURLY_BASIS_SQL.format(readings=readings).rstrip().rstrip(",") + " SELECT * FROM basis"


def hourly_from_basis_sql(basis: str) -> str:
    """The second half of :func:`hourly_sql`: its rows from a relation of basis readings named
    ``basis`` (what :func:`hourly_basis_sql` returns); reads the relation ``units``."""
    return (
        "WITH "
        + _SAMPLES_SQL.format(readings=basis, cns=HOURLY_CNS_SQL)
        + ","
        + period_sql(HOURLY_PERIOD_US, hourly=True)
    )


def hourly_values(con: duckdb.DuckDBPyConnection, readings: str) -> pa.Table:
    """``mart_source__hourly`` rows from the readings relation named ``readings``."""
    con.register("units", units_table())
    out = con.sql(hourly_sql(readings)).to_arrow_table()
    con.unregister("units")
    us = out.column("period_us").to_numpy()
    hour_at = pa.array(us, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    date = pa.array(beijing_days(us).astype("int32"), pa.int32()).cast(pa.date32())
    return out.drop_columns(["period_us"]).append_column("hour_at", hour_at).append_column("date", date)


def daily_values(con: duckdb.DuckDBPyConnection, readings: str, hourly: str) -> pa.Table:
    """``mart_source__daily`` rows: 2031 packets where sent, else the day's rows of ``hourly``."""
    con.register("units", units_table())
    day = f"((at_us + {BEIJING_OFFSET_US}) // {_DAY_US})"
    sql_2031 = "WITH " + _SAMPLES_SQL.format(readings=readings, cns=f"'{DAILY_CN}'") + "," + period_sql(day)
    sent = con.sql(sql_2031).to_arrow_table()
    con.register("sent", sent)
    # the day's hours per flag first, then per day — as period_sql does for the hourly mart: one pass
    # of exact sums over the hourly rows serves both the day's values and those of its N hours
    sql = f"""
    WITH h AS (
        SELECT *, (epoch_us(hour_at) + {BEIJING_OFFSET_US}) // {_DAY_US} AS period_us FROM {hourly}
    ),
    per_flag AS (
        SELECT mn, pollutant_code, period_us, flag, count(*) AS n,
               sum({exact_decimal("avg_value")}) AS sum_avg, count({exact_decimal("avg_value")}) AS n_avg,
               min(min_value) AS min_v, max(max_value) AS max_v,
               sum({exact_decimal("cou_value")}) AS sum_cou,
               sum({exact_decimal("zs_avg_value")}) AS sum_zavg, count({exact_decimal("zs_avg_value")}) AS n_zavg,
               min(zs_min_value) AS zmin_v, max(zs_max_value) AS zmax_v,
               sum(retransmissions) AS retransmissions, min(basis) AS basis_lo, max(basis) AS basis_hi,
               {_DAY_TYPE.format(types="source_type")} AS source_type, any_value(unit) AS unit, any_value(cou_unit) AS cou_unit
        FROM h GROUP BY mn, pollutant_code, period_us, flag
    ),
    from_hours AS MATERIALIZED (
        SELECT mn, pollutant_code, period_us,
               CASE WHEN min(basis_lo) = max(basis_hi) THEN min(basis_lo) ELSE 'mixed' END AS basis,
               {_DAY_TYPE.format(types="source_type")} AS source_type,
               sum(sum_avg)::DOUBLE / nullif(sum(n_avg), 0) AS avg_value,
               min(min_v) AS min_value, max(max_v) AS max_value,
               sum(sum_cou)::DOUBLE AS cou_value,
               sum(sum_zavg)::DOUBLE / nullif(sum(n_zavg), 0) AS zs_avg_value,
               min(zmin_v) AS zs_min_value, max(zmax_v) AS zs_max_value,
               {_of_normal_samples()},
               sum(n)::INTEGER AS samples,
               coalesce(sum(n) FILTER (WHERE flag = 'N'), 0)::INTEGER AS samples_normal,
               first(flag ORDER BY n DESC, flag) FILTER (WHERE flag <> 'N') AS top,
               sum(retransmissions)::INTEGER AS retransmissions,
               any_value(unit) AS unit, any_value(cou_unit) AS cou_unit
        FROM per_flag GROUP BY mn, pollutant_code, period_us
    ),
    judged AS (
        SELECT f.* EXCLUDE (top), {_flag_sql("f.samples", "f.samples_normal", "f.source_type", "f.top")} AS flag
        FROM from_hours f
        WHERE NOT EXISTS (
            SELECT 1 FROM sent s
            WHERE s.mn = f.mn AND s.pollutant_code = f.pollutant_code AND s.period_us = f.period_us
        )
    ),
    derived AS (
        SELECT j.* EXCLUDE ({", ".join(_AVERAGED)}, {", ".join(f"{v}_normal" for v in _AVERAGED)}),
               {_valid_values("j")}
        FROM judged j
    ),
    both_ AS (
        SELECT mn, pollutant_code, period_us, basis, source_type, avg_value, min_value, max_value,
               cou_value, zs_avg_value, zs_min_value, zs_max_value, samples, samples_normal,
               retransmissions, flag, unit, cou_unit
        FROM sent
        UNION ALL
        SELECT mn, pollutant_code, period_us, basis, source_type, avg_value, min_value, max_value,
               cou_value, zs_avg_value, zs_min_value, zs_max_value, samples, samples_normal,
               retransmissions, flag, unit, cou_unit
        FROM derived
    )
    SELECT b.*, coalesce(hrs.samples, 0)::SMALLINT AS hours
    FROM both_ b LEFT JOIN from_hours hrs USING (mn, pollutant_code, period_us)
    ORDER BY mn, pollutant_code, period_us
    """
    out = con.sql(sql).to_arrow_table()
    con.unregister("sent")
    con.unregister("units")
    days = out.column("period_us").to_numpy()
    date = pa.array(days.astype("int32"), pa.int32()).cast(pa.date32())
    return out.drop_columns(["period_us"]).append_column("date", date)
