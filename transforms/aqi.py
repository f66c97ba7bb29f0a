"""Air Quality Index (HJ 633-2012 / HJ 633-2026), vectorised over whole columns.

Every function works on numpy arrays or pyarrow tables as a whole; nothing loops over rows. The
tables of the standard live in ``schemas.aqi_standard``; the version is chosen per row by the
observation date (HJ 633-2026 from 2026-03-01).

Rules implemented (DOMAIN.md §2, cnemc-air README; "note n" = HJ 633 table 1 note n):

* IAQI is linear between breakpoints (HJ 633 §4.3 formula); AQI is the largest IAQI, rounded **up**
  to an integer. IAQIs are rounded to 6 decimals before the ceiling so that floating-point noise
  (CO 0.3 mg/m³ → 3.0000000000000004) does not add one: without it 5 published AQIs of the three
  real day files are missed by one.
* Hourly (real-time) AQI, as the national release computes it: SO2, NO2, CO, O3 1-hour values on
  the 1-hour tables; PM2.5 and PM10 1-hour values on the 24-hour tables; no O3 8-hour term (adding
  it breaks 2 to 10 % of the published values).
  SO2 1-hour > 800 µg/m³ (note 2): 2012 → the SO2 24-hour IAQI (SO2 left out when the 24-hour
  value is missing); 2026 → the IAQI counts as 200. The release itself leaves SO2 out in that case
  (see ``hourly_aqi(so2_24h_fallback=False)``).
* Daily AQI: 24-hour means on the 24-hour tables, O3 daily max 8-hour mean on the 8-hour table,
  and under 2012 also the O3 daily max 1-hour value on the 1-hour table. O3 8-hour > 800 µg/m³
  (note 3): 2012 → the O3 1-hour IAQI only; 2026 → the IAQI counts as 300.
* A concentration above the top (IAQI 500) breakpoint of its table is off the table and the AQI
  is capped at 500, so it counts as IAQI 500 (PM2.5 > 500 µg/m³ → 500). Measured on the real
  files: leaving such PM values out instead misses 15, 104 and 229 published AQIs. Applied to the
  gases the same way (no real file has a gas above its top breakpoint).
* Missing (null / NaN) and negative concentrations are left out; a row with nothing scored has a
  NULL AQI, category and primary pollutant. That is the hourly release's practice (its AQI is the
  highest IAQI of the pollutants it has). A daily AQI from fewer than the six indicators is only a
  lower bound of the day's AQI, so the daily builds pass ``all_indicators=True``: a station-day or
  city-day with an indicator missing or invalid has a NULL AQI (DOMAIN.md §3: invalid periods are
  reported as invalid), and ``missing_indicators`` names what is missing.
* Primary pollutants (HJ 633 §5): when AQI > 50, every pollutant whose **ceil'd** IAQI equals the
  AQI (ties: all), in the order PM2.5, PM10, SO2, NO2, CO, O3, comma-separated. Comparing ceil'd
  IAQIs makes PM2.5 120.2 and PM10 120.9 a tie at AQI 121, the reading of integer IAQIs that the
  national reports print (and that aqi_hub uses); the release files carry no primary pollutant.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import ArrayLike, NDArray

from schemas.air import aqi_scores
from schemas.aqi_standard import (
    AQI_MAX,
    BREAKPOINTS,
    CATEGORIES,
    HJ633_2012,
    HJ633_2026,
    HJ633_2026_EFFECTIVE,
    IAQI_LEVELS,
    POLLUTANT_LABELS,
    PRIMARY_POLLUTANT_MIN_AQI,
    SPECIAL_RULES,
    Breakpoints,
    Indicator,
)

__all__ = [
    "DAILY_INPUT_COLUMNS",
    "DAILY_OPTIONAL_COLUMNS",
    "HOURLY_INPUT_COLUMNS",
    "OUTPUT_SCHEMA",
    "aqi_from_iaqi",
    "category",
    "ceil_iaqi",
    "daily_aqi",
    "hourly_aqi",
    "iaqi",
    "missing_indicators",
    "primary_pollutants",
    "standards_for_dates",
]

FloatArray = NDArray[np.float64]

# Decimals kept before rounding up: far below any real IAQI step (≥ 0.02 at the release's resolution).
_CEIL_DECIMALS = 6

HOURLY_INPUT_COLUMNS: tuple[str, ...] = (
    "date",
    "pm25_ugm3",
    "pm10_ugm3",
    "so2_ugm3",
    "so2_24h_ugm3",
    "no2_ugm3",
    "co_mgm3",
    "o3_ugm3",
)
DAILY_INPUT_COLUMNS: tuple[str, ...] = (
    "date",
    "pm25_ugm3",
    "pm10_ugm3",
    "so2_ugm3",
    "no2_ugm3",
    "co_mgm3",
    "o3_8h_max_ugm3",
)
# Optional for daily_aqi: scored under HJ 633-2012 only; absent column = all missing.
DAILY_OPTIONAL_COLUMNS: tuple[str, ...] = ("o3_1h_max_ugm3",)
_O3_1H = DAILY_OPTIONAL_COLUMNS[0]
_O3_ROW = POLLUTANT_LABELS.index("O3")  # O3's row of an IAQI matrix

# aqi, primary_pollutants, aqi_category, aqi_standard (the registry's stage_air__aqi)
OUTPUT_SCHEMA = aqi_scores.arrow_schema(strict=False)

# primary_pollutants text for every bit mask of tied pollutants (bit k = POLLUTANT_LABELS[k]).
# Labels are taken from these small Arrow arrays by index: no Python string per row.
_PRIMARY_TEXT = pa.array(
    [
        ",".join(label for k, label in enumerate(POLLUTANT_LABELS) if mask >> k & 1) or None
        for mask in range(1 << len(POLLUTANT_LABELS))
    ],
    pa.string(),
)

# bit k of a row's mask = POLLUTANT_LABELS[k], as a column against a (pollutants × rows) matrix
_BITS = (1 << np.arange(len(POLLUTANT_LABELS), dtype=np.int64))[:, None]

_CATEGORY_NAMES = pa.array([c.name for c in CATEGORIES], pa.string())
_STANDARD_NAMES = pa.array([HJ633_2012, HJ633_2026], pa.string())
# Upper AQI bound of each category but the last (优 ≤ 50, 良 ≤ 100, … 重度污染 ≤ 300).
_CATEGORY_UPPER: FloatArray = np.array([c.aqi_hi for c in CATEGORIES[:-1]], dtype=np.float64)


# --------------------------------------------------------------------------------------------------
# IAQI and AQI on arrays


def iaqi(
    conc: ArrayLike,
    breakpoints: Breakpoints | Sequence[float],
    *,
    above_top: float = np.nan,
) -> FloatArray:
    """Individual AQI of each concentration on one HJ 633 table-1 column (unrounded float).

    ``breakpoints`` is a ``schemas.aqi_standard.Breakpoints`` or the column's concentrations in
    IAQI-level order (0, 50, 100, …). NaN in → NaN out; a negative concentration is invalid (NaN).
    A concentration above the top breakpoint is not scored on the table: NaN, or ``above_top``
    when given (the callers below pass 500, the AQI cap). A value equal to a breakpoint gets that
    breakpoint's IAQI exactly.
    """
    bp_conc = np.asarray(breakpoints.conc if isinstance(breakpoints, Breakpoints) else breakpoints, float)
    if bp_conc.ndim != 1 or not 2 <= bp_conc.size <= len(IAQI_LEVELS):
        raise ValueError(f"expected 2..{len(IAQI_LEVELS)} breakpoints, got {bp_conc.size}")
    if np.any(np.diff(bp_conc) <= 0):
        raise ValueError("breakpoints must increase")
    bp_iaqi = np.asarray(IAQI_LEVELS[: bp_conc.size], dtype=np.float64)

    c = np.asarray(conc, dtype=np.float64)
    # Segment j covers (bp[j-1], bp[j]]; NaN sorts after everything and is masked below.
    j = np.clip(np.searchsorted(bp_conc, c, side="left"), 1, bp_conc.size - 1)
    c_lo, c_hi = bp_conc[j - 1], bp_conc[j]
    i_lo, i_hi = bp_iaqi[j - 1], bp_iaqi[j]
    # HJ 633 §4.3: IAQI = (IAQI_hi − IAQI_lo) / (BP_hi − BP_lo) × (C − BP_lo) + IAQI_lo
    # (multiplying before dividing keeps breakpoint values exact).
    with np.errstate(invalid="ignore"):
        out = (i_hi - i_lo) * (c - c_lo) / (c_hi - c_lo) + i_lo
        out = np.where(c > bp_conc[-1], above_top, out)
        out = np.where(np.isnan(c) | (c < 0), np.nan, out)
    return np.asarray(out, dtype=np.float64)


def ceil_iaqi(values: ArrayLike) -> FloatArray:
    """Round IAQI/AQI up to an integer (HJ 633 §4.3), ignoring float noise below 1e-6. NaN stays NaN."""
    x = np.asarray(values, dtype=np.float64)
    return np.asarray(np.ceil(np.round(x, _CEIL_DECIMALS)), dtype=np.float64)


def aqi_from_iaqi(iaqis: ArrayLike) -> FloatArray:
    """AQI per column of an IAQI matrix (pollutants × rows): ceil(max IAQI), NaN when none scored."""
    m = ceil_iaqi(iaqis)
    if m.ndim != 2:
        raise ValueError("expected a 2-D matrix: pollutants × rows")
    if m.shape[0] == 0:
        return np.full(m.shape[1], np.nan)
    return np.asarray(np.fmax.reduce(m, axis=0), dtype=np.float64)


def primary_pollutants(iaqis: ArrayLike, aqi: ArrayLike | None = None) -> pa.Array:
    """Primary pollutant(s) per row of an IAQI matrix in ``POLLUTANT_LABELS`` row order.

    All pollutants whose ceil'd IAQI equals the AQI, when AQI > 50 (HJ 633 §5; ties: all), as
    comma-separated labels; NULL otherwise.
    """
    m = ceil_iaqi(iaqis)
    if m.ndim != 2 or m.shape[0] != len(POLLUTANT_LABELS):
        raise ValueError(f"expected a {len(POLLUTANT_LABELS)} × rows IAQI matrix")
    a = aqi_from_iaqi(m) if aqi is None else np.asarray(aqi, dtype=np.float64)
    bits = np.sum(np.where(m == a[None, :], _BITS, 0), axis=0)
    has = (a >= PRIMARY_POLLUTANT_MIN_AQI) & (bits > 0)
    return _label(_PRIMARY_TEXT, bits, has)


def category(aqi: ArrayLike | pa.Array | pa.ChunkedArray) -> pa.Array:
    """AQI category (HJ 633 table 2: 优 良 轻度污染 中度污染 重度污染 严重污染), vectorised.

    NULL for NULL, NaN or negative AQI.
    """
    a = _to_float(aqi)
    idx = np.searchsorted(_CATEGORY_UPPER, a, side="left")
    valid = ~np.isnan(a) & (a >= 0)
    idx = np.where(valid, idx, 0)
    return _label(_CATEGORY_NAMES, idx, valid)


def standards_for_dates(dates: pa.Array | pa.ChunkedArray) -> pa.Array:
    """HJ 633 version per row of a date32 column (vectorised ``standard_for_date``)."""
    return _standard_labels(_is_2026(dates))


def _standard_labels(is_2026: NDArray[np.bool_]) -> pa.Array:
    return _label(_STANDARD_NAMES, is_2026.astype(np.int8), np.ones(len(is_2026), dtype=np.bool_))


def _label(names: pa.Array, index: NDArray[np.integer], valid: NDArray[np.bool_]) -> pa.Array:
    """``names[index]`` per row, NULL where not ``valid``."""
    return names.take(pa.array(np.where(valid, index, 0), mask=~valid))


# --------------------------------------------------------------------------------------------------
# Tables


def hourly_aqi(table: pa.Table, *, so2_24h_fallback: bool = True) -> pa.Table:
    """Hourly (real-time) AQI of station-hour rows, row-aligned with ``table``.

    Needs ``HOURLY_INPUT_COLUMNS`` (``date`` is the Beijing date, date32; concentrations in the
    registry units, NULL = missing). Returns ``aqi`` (int16), ``primary_pollutants``,
    ``aqi_category`` and ``aqi_standard`` (see the module docstring for the rules).

    ``so2_24h_fallback``: under HJ 633-2012 an SO2 1-hour value above 800 µg/m³ is replaced by the
    SO2 24-hour IAQI (note 2, the default). ``False`` leaves SO2 out instead, which is what the
    national release did on the real files (china_sites_20170101: 2 station-hours where it decides
    the AQI). No effect under HJ 633-2026 (the IAQI counts as 200).
    """
    _require(table, HOURLY_INPUT_COLUMNS)
    cols = {name: _to_float(table.column(name)) for name in HOURLY_INPUT_COLUMNS if name != "date"}

    def iaqis(c: Mapping[str, FloatArray], standard: str) -> FloatArray:
        return _hourly_iaqis(c, standard, so2_24h_fallback=so2_24h_fallback)

    return _finish(table, cols, iaqis)


def daily_aqi(table: pa.Table, *, all_indicators: bool = False) -> pa.Table:
    """Daily AQI of station-day (or city-day) rows, row-aligned with ``table``.

    Needs ``DAILY_INPUT_COLUMNS``; ``o3_1h_max_ugm3`` is used under HJ 633-2012 when present.
    NULL statistics are invalid or missing and are left out; with ``all_indicators`` a row where
    any of the six indicators is left out (see ``missing_indicators``) has a NULL AQI instead.
    """
    cols = _daily_columns(table)
    return _finish(table, cols, _daily_iaqis, all_indicators=all_indicators)


def missing_indicators(table: pa.Table) -> pa.Array:
    """Per daily row, the indicators (``POLLUTANT_LABELS``, comma-separated) without a valid
    statistic or without an IAQI (e.g. O3 8-hour > 800 under 2012 with no 1-hour value); NULL
    when all six are scored."""
    cols = _daily_columns(table)
    matrix = _iaqi_matrix(table, cols, _daily_iaqis)
    bits = np.sum(np.where(_unscored(table, cols, matrix), _BITS, 0), axis=0)
    return _label(_PRIMARY_TEXT, bits, bits > 0)


def _daily_columns(table: pa.Table) -> dict[str, FloatArray]:
    _require(table, DAILY_INPUT_COLUMNS)
    names = DAILY_INPUT_COLUMNS[1:] + DAILY_OPTIONAL_COLUMNS
    n = table.num_rows
    return {
        name: _to_float(table.column(name)) if name in table.column_names else np.full(n, np.nan)
        for name in names
    }


def _unscored(table: pa.Table, cols: Mapping[str, FloatArray], matrix: FloatArray) -> NDArray[np.bool_]:
    """(pollutants × rows) True where the indicator's statistic is missing or was not scored; O3's
    statistic is the daily maximum 8-hour mean (the 2012 1-hour value adds to it, never replaces it).
    Where the rows carry the daily maximum 1-hour O3, a standard that scores it (HJ 633-2012) leaves O3
    unscored without it: the day's O3 IAQI is the higher of the two terms, unknown with one missing."""
    stats = np.stack([cols[name] for name in DAILY_INPUT_COLUMNS[1:]])  # POLLUTANT_LABELS order
    unscored = np.asarray(np.isnan(stats) | np.isnan(matrix), dtype=np.bool_)
    if _O3_1H in table.column_names:
        is_2026 = _is_2026(table.column("date"))
        uses_1h = np.where(
            is_2026,
            SPECIAL_RULES[HJ633_2026].daily_uses_o3_1h,
            SPECIAL_RULES[HJ633_2012].daily_uses_o3_1h,
        )
        unscored[_O3_ROW] |= uses_1h & np.isnan(cols[_O3_1H])
    return unscored


def _hourly_iaqis(c: Mapping[str, FloatArray], standard: str, *, so2_24h_fallback: bool) -> FloatArray:
    bp = BREAKPOINTS[standard]
    rules = SPECIAL_RULES[standard]
    so2 = c["so2_ugm3"]
    over = so2 > rules.so2_1h_limit
    if rules.so2_1h_over_iaqi is None:  # 2012 note 2: SO2 24-hour IAQI instead (NaN when missing)
        so2_over = (
            _score(c["so2_24h_ugm3"], bp[Indicator.SO2_24H])
            if so2_24h_fallback
            else np.full(so2.shape, np.nan)
        )
    else:  # 2026: counts as 200
        so2_over = np.full(so2.shape, float(rules.so2_1h_over_iaqi))
    so2_iaqi = np.where(over, so2_over, iaqi(so2, bp[Indicator.SO2_1H]))
    return np.stack(
        [
            # PM 1-hour values on the 24-hour tables (national real-time release practice)
            _score(c["pm25_ugm3"], bp[Indicator.PM25_24H]),
            _score(c["pm10_ugm3"], bp[Indicator.PM10_24H]),
            so2_iaqi,
            _score(c["no2_ugm3"], bp[Indicator.NO2_1H]),
            _score(c["co_mgm3"], bp[Indicator.CO_1H]),
            _score(c["o3_ugm3"], bp[Indicator.O3_1H]),
        ]
    )


def _daily_iaqis(c: Mapping[str, FloatArray], standard: str) -> FloatArray:
    bp = BREAKPOINTS[standard]
    rules = SPECIAL_RULES[standard]
    o3_8h = c["o3_8h_max_ugm3"]
    over = o3_8h > rules.o3_8h_limit
    # 2012 note 3: above 800 the O3 1-hour IAQI is reported instead -> the 8-hour term drops out and
    # the 1-hour term (always scored in the 2012 daily report) remains. 2026: counts as 300.
    over_value = np.nan if rules.o3_8h_over_iaqi is None else float(rules.o3_8h_over_iaqi)
    o3 = np.where(over, over_value, iaqi(o3_8h, bp[Indicator.O3_8H]))
    if rules.daily_uses_o3_1h:
        o3 = np.fmax(o3, _score(c["o3_1h_max_ugm3"], bp[Indicator.O3_1H]))
    return np.stack(
        [
            _score(c["pm25_ugm3"], bp[Indicator.PM25_24H]),
            _score(c["pm10_ugm3"], bp[Indicator.PM10_24H]),
            _score(c["so2_ugm3"], bp[Indicator.SO2_24H]),
            _score(c["no2_ugm3"], bp[Indicator.NO2_24H]),
            _score(c["co_mgm3"], bp[Indicator.CO_24H]),
            o3,
        ]
    )


def _score(conc: FloatArray, bp: Breakpoints) -> FloatArray:
    """IAQI with the AQI cap: off the top of the table counts as 500."""
    return iaqi(conc, bp, above_top=float(AQI_MAX))


def _iaqi_matrix(
    table: pa.Table,
    cols: dict[str, FloatArray],
    iaqis_for: Callable[[Mapping[str, FloatArray], str], FloatArray],
) -> FloatArray:
    """IAQI, (pollutants in POLLUTANT_LABELS order) × rows, each row under its date's standard."""
    is_2026 = _is_2026(table.column("date"))
    matrix = np.full((len(POLLUTANT_LABELS), table.num_rows), np.nan)
    for standard, rows in ((HJ633_2012, ~is_2026), (HJ633_2026, is_2026)):
        if rows.any():
            matrix[:, rows] = iaqis_for({k: v[rows] for k, v in cols.items()}, standard)
    return matrix


def _finish(
    table: pa.Table,
    cols: dict[str, FloatArray],
    iaqis_for: Callable[[Mapping[str, FloatArray], str], FloatArray],
    *,
    all_indicators: bool = False,
) -> pa.Table:
    is_2026 = _is_2026(table.column("date"))
    matrix = _iaqi_matrix(table, cols, iaqis_for)
    aqi = aqi_from_iaqi(matrix)
    if all_indicators:
        aqi = np.where(_unscored(table, cols, matrix).any(axis=0), np.nan, aqi)
    missing = np.isnan(aqi)
    return pa.table(
        [
            pa.array(np.where(missing, 0, aqi).astype(np.int16), type=pa.int16(), mask=missing),
            primary_pollutants(matrix, aqi),
            category(aqi),
            _standard_labels(is_2026),
        ],
        schema=OUTPUT_SCHEMA,
    )


def _is_2026(dates: pa.Array | pa.ChunkedArray) -> NDArray[np.bool_]:
    d = dates.cast(pa.date32())
    if d.null_count:
        raise ValueError("date has NULLs: the HJ 633 version cannot be chosen")
    effective = pa.scalar(HJ633_2026_EFFECTIVE, type=pa.date32())
    return np.asarray(pc.greater_equal(d, effective).to_numpy(zero_copy_only=False), dtype=np.bool_)


def _to_float(values: ArrayLike | pa.Array | pa.ChunkedArray) -> FloatArray:
    if isinstance(values, pa.Array | pa.ChunkedArray):
        values = pc.fill_null(values.cast(pa.float64()), np.nan).to_numpy(zero_copy_only=False)
    return np.asarray(values, dtype=np.float64)


def _require(table: pa.Table, names: Sequence[str]) -> None:
    missing = [n for n in names if n not in table.column_names]
    if missing:
        raise ValueError(f"AQI input lacks columns {missing}")
