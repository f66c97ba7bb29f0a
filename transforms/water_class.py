"""GB 3838-2002 water class, exceedances over the target class and basin labels, vectorised.

Every function works on whole columns (numpy / Arrow / DuckDB); nothing loops over rows. The
limits live in ``schemas.gb3838_standard`` (DOMAIN.md §4), the rules are restated there:

* item class by ``numpy.searchsorted`` on the class limits: an upper-limit item is class k when
  C ≤ limit_k (a value equal to a limit is in that class), DO (a lower limit) when DO ≥ limit_k,
  pH is class I inside 6–9 (both ends included) and 劣V (6) outside; worse than V is 6;
* the section class is the worst item class over pH, DO, CODMn (COD, BOD5 when present), NH3-N and
  TP — TP on the lake/reservoir limits for lakes and reservoirs; pH counts only outside 6–9 (inside it
  holds in every class, so pH alone says nothing); a row with none of the others measured and pH
  inside 6–9 or missing has no class (NULL);
* TN is classified for lakes and reservoirs only and reported as ``tn_class``, never in the
  section class (the national platform publishes the class without TN: with TN 472 of 479
  published classes of the real snapshot are reproduced instead of 475);
* the deciding items (定类项目) are those whose class is the section class, pH only when outside
  6–9;
* exceedances are items whose class is worse than the section's target class; 超标倍数 =
  C / limit_target − 1 for upper-limit items (evaluation method: none for pH and DO, which are
  named without a multiple).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from numpy.typing import NDArray

from schemas.gb3838_standard import (
    BASIN_FAIR_PCT,
    BASIN_GOOD_PCT,
    BASIN_HEAVY_WORSE_V_PCT,
    BASIN_MODERATE_WORSE_V_PCT,
    BASIN_SHARE_MIN_SECTIONS,
    CLASS_LABELS,
    CLASS_QUALITY,
    CLASS_WORSE_THAN_V,
    DEFAULT_SECTION_TYPE,
    DEFAULT_TARGET_CLASS,
    ITEMS,
    LAKE_TYPES,
    PH,
    ROLLUP_METHODS,
    Gb3838Item,
)
from schemas.sql import string_list
from schemas.water import EXCEED_ITEMS, EXCEED_MULTIPLE_DECIMALS, MONTHLY_ITEMS
from transforms.arrow_sql import query_arrow

__all__ = [
    "CLASS_OUTPUT_COLUMNS",
    "attach_sections",
    "basin_label",
    "basin_monthly",
    "classify",
    "item_class",
    "section_monthly",
]

F64 = NDArray[np.float64]
I8 = NDArray[np.int8]
BoolArray = NDArray[np.bool_]

SHARE, MEAN = ROLLUP_METHODS  # how a basin's label is found (basin_monthly)
MULTIPLE_DECIMALS = 4  # stored 超标倍数 (removes float noise such as 0.4999999999999998)

CLASS_OUTPUT_COLUMNS: tuple[str, ...] = (
    "water_class",
    "water_class_label",
    "quality_label",
    "tn_class",
    "deciding_items",
    "items_without_value",
    "exceed_items",
    *(f"{c.removesuffix('_mgl')}_exceed_multiple" for c in EXCEED_ITEMS),
)


def _floats(column: pa.ChunkedArray | pa.Array) -> F64:
    arr = pc.cast(column, pa.float64())
    return np.asarray(pc.fill_null(arr, np.nan).to_numpy(zero_copy_only=False), dtype=np.float64)


def item_class(values: F64, item: Gb3838Item, is_lake: BoolArray) -> I8:
    """GB 3838 class (1..6) of one item per row; 0 where the value is missing or not evaluated."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    if item.direction == "range":  # pH: 6 ≤ pH ≤ 9 in every class, else 劣V
        lo, hi = item.river
        cls = np.where((values >= lo) & (values <= hi), 1, CLASS_WORSE_THAN_V)
    else:
        sign = -1.0 if item.direction == "min" else 1.0  # DO ≥ limit  ⇔  −DO ≤ −limit
        river = np.searchsorted(sign * np.asarray(item.river), sign * values, side="left") + 1
        cls = river
        if item.lake is not None:
            lake = np.searchsorted(sign * np.asarray(item.lake), sign * values, side="left") + 1
            cls = np.where(is_lake, lake, river)
    cls = np.where(missing, 0, cls)
    if item.lakes_only:
        cls = np.where(is_lake, cls, 0)
    return cls.astype(np.int8)


def _target_limit(item: Gb3838Item, target: NDArray[np.int64], is_lake: BoolArray) -> F64:
    """The item's limit for each row's target class (upper-limit items only)."""
    idx = np.clip(target, 1, 5) - 1
    river = np.asarray(item.river)[idx]
    if item.lake is None:
        return river
    return np.where(is_lake, np.asarray(item.lake)[idx], river)


def _labels(mask: BoolArray, text: str | pa.Array, n: int) -> pa.Array:
    """``text`` where ``mask``, NULL elsewhere."""
    full = pa.array([text] * n, pa.string()) if isinstance(text, str) else text
    return pc.if_else(pa.array(mask), full, pa.scalar(None, pa.string()))


def _join(parts: Sequence[pa.Array], n: int, sep: str = "、") -> pa.Array:
    """Element-wise join of the non-NULL strings of ``parts``; NULL where all are NULL.

    (pyarrow 26's ``binary_join_element_wise(null_handling="skip")`` drops the rows where every
    input is NULL, so NULLs are replaced by "" and the separators tidied instead.)
    """
    if not parts:
        return pa.nulls(n, pa.string())
    joined = pc.binary_join_element_wise(*parts, sep, null_handling="replace", null_replacement="")
    joined = pc.replace_substring_regex(joined, f"{sep}{{2,}}", sep)
    joined = pc.replace_substring_regex(joined, f"^{sep}|{sep}$", "")
    return pc.if_else(pc.equal(joined, ""), pa.scalar(None, pa.string()), joined)


def _from_codes(codes: I8, names: Sequence[str]) -> pa.Array:
    """Label per class code (1-based index into ``names``); code 0 = NULL."""
    lookup = np.asarray(["", *names], dtype=object)
    return pa.array(lookup[codes], pa.string(), mask=codes == 0)


def classify(data: pa.Table) -> pa.Table:
    """Class, labels, TN class and exceedances of every row of ``data``.

    ``data`` has ``section_type`` (river/lake/reservoir), ``target_class`` (1..5) and any of the GB 3838
    item columns (``ph``, ``do_mgl``, ``codmn_mgl``, ``cod_mgl``, ``bod5_mgl``, ``nh3n_mgl``,
    ``tp_mgl``, ``tn_mgl``); an absent column counts as not measured. Returns ``CLASS_OUTPUT_COLUMNS``.
    """
    n = data.num_rows
    is_lake = pc.is_in(
        pc.fill_null(data.column("section_type"), DEFAULT_SECTION_TYPE), pa.array(sorted(LAKE_TYPES))
    ).to_numpy(zero_copy_only=False)
    target = np.asarray(
        pc.fill_null(pc.cast(data.column("target_class"), pa.int64()), DEFAULT_TARGET_CLASS).to_numpy(
            zero_copy_only=False
        ),
        dtype=np.int64,
    )
    section = np.zeros(n, dtype=np.int8)
    tn_class = np.zeros(n, dtype=np.int8)
    present: list[tuple[Gb3838Item, F64, I8]] = []
    for item in ITEMS:
        if item.column not in data.column_names:
            continue
        values = _floats(data.column(item.column))
        cls = item_class(values, item, is_lake)
        present.append((item, values, cls))
        if item.in_section_class:
            # pH inside 6–9 says nothing of the class (pH alone gave class I); outside it is 劣V
            says = np.where(cls == CLASS_WORSE_THAN_V, cls, 0) if item.direction == "range" else cls
            section = np.maximum(section, says)
        elif item.column == "tn_mgl":
            tn_class = cls

    deciding, exceeding, unvalued = [], [], []
    multiples: dict[str, pa.Array] = {}
    for item, values, cls in present:
        if not item.in_section_class:
            continue
        unvalued.append(_labels(np.isnan(values), item.label, n))
        decides = (cls == section) & (section > 0)
        if item.direction == "range":  # inside its range pH does not constrain the class
            decides &= cls == CLASS_WORSE_THAN_V
        deciding.append(_labels(decides, item.label, n))
        over = (cls > target) & (cls > 0)
        if item.multiple:
            with np.errstate(divide="ignore", invalid="ignore"):
                mult = np.round(values / _target_limit(item, target, is_lake) - 1.0, MULTIPLE_DECIMALS)
            text = pc.binary_join_element_wise(
                item.label + "(",
                pc.cast(pa.array(np.round(mult, EXCEED_MULTIPLE_DECIMALS)), pa.string()),
                ")",
                "",
            )
            exceeding.append(_labels(over, text, n))
            if item.column in EXCEED_ITEMS:
                multiples[item.column] = pa.array(mult, pa.float64(), mask=~over)
        else:
            exceeding.append(_labels(over, item.label, n))

    out: dict[str, pa.Array] = {
        "water_class": pa.array(section, pa.int8(), mask=section == 0),
        "water_class_label": _from_codes(section, CLASS_LABELS),
        "quality_label": _from_codes(section, CLASS_QUALITY),
        "tn_class": pa.array(tn_class, pa.int8(), mask=tn_class == 0),
        "deciding_items": _join(deciding, n),
        # a class judged without an item may read better than the water is (a lake's TP failing QC)
        "items_without_value": pc.if_else(
            pa.array(section == 0), pa.scalar(None, pa.string()), _join(unvalued, n)
        ),
        "exceed_items": _join(exceeding, n),
    }
    for col in EXCEED_ITEMS:
        out[f"{col.removesuffix('_mgl')}_exceed_multiple"] = multiples.get(col, pa.nulls(n, pa.float64()))
    return pa.table(out)


def basin_label(share_i_iii_pct: F64, share_worse_v_pct: F64) -> pa.Array:
    """DOMAIN.md §4 basin label from the shares (percent) of sections in I–III and in 劣V."""
    good = np.asarray(share_i_iii_pct, dtype=np.float64)
    worse = np.asarray(share_worse_v_pct, dtype=np.float64)
    labels = np.select(
        [
            good >= BASIN_GOOD_PCT,
            good >= BASIN_FAIR_PCT,
            worse < BASIN_MODERATE_WORSE_V_PCT,
            worse < BASIN_HEAVY_WORSE_V_PCT,
        ],
        ["优", "良好", "轻度污染", "中度污染"],
        default="重度污染",
    ).astype(object)
    missing = np.isnan(good) | np.isnan(worse)
    return pa.array(labels, pa.string(), mask=missing)


# -------------------------------------------------------------------------------------- joins


def attach_sections(readings: pa.Table, registry: pa.Table) -> pa.Table:
    """Add ``section_type``, ``target_class`` and ``section_listed`` from the section registry.

    ``registry`` has ``section_id``, ``section_type``, ``target_class`` (``ingest.water.sections``).
    Sections not in it are rivers held to class III, with ``section_listed`` false. Row order is kept.
    """
    extra = query_arrow(
        f"""
        SELECT coalesce(s.section_type, '{DEFAULT_SECTION_TYPE}') AS section_type,
               CAST(coalesce(s.target_class, {DEFAULT_TARGET_CLASS}) AS TINYINT) AS target_class,
               s.section_id IS NOT NULL AS section_listed
        FROM r LEFT JOIN s USING (section_id) ORDER BY r._row
        """,
        r=readings.append_column("_row", pa.array(np.arange(readings.num_rows))),
        s=registry.select(["section_id", "section_type", "target_class"]),
    )
    out = readings
    for name in extra.column_names:
        if name in out.column_names:
            out = out.drop_columns([name])
        out = out.append_column(name, extra.column(name))
    return out


def section_monthly(readings: pa.Table, registry: pa.Table, month: dt.date) -> pa.Table:
    """Monthly means per section (arithmetic, of every reading of the month) classified with GB 3838
    once rounded to each item's reporting precision (the stored means are not rounded).

    ``readings`` are core_water__section_readings rows of one month; ``registry`` the parsed section
    registry (for ``water_body``). The type and target of the newest reading are used.
    """
    means = ", ".join(f"avg({c}) AS {c}" for c in MONTHLY_ITEMS)
    agg = query_arrow(
        f"""
        SELECT DATE '{month.isoformat()}' AS month, section_id,
               arg_max(province, observed_at) AS province, arg_max(basin, observed_at) AS basin,
               arg_max(section_name, observed_at) AS section_name,
               any_value(s.water_body) AS water_body,
               arg_max(section_type, observed_at) AS section_type,
               arg_max(target_class, observed_at) AS target_class,
               bool_or(section_listed) AS section_listed,
               CAST(count(*) AS INTEGER) AS readings,
               CAST(count(DISTINCT date) AS SMALLINT) AS days,
               {means},
               min(ph) AS ph_min, max(ph) AS ph_max,
               CAST(count(*) FILTER (WHERE ph < {PH.river[0]!r} OR ph > {PH.river[1]!r}) AS INTEGER)
                   AS ph_readings_out_of_range
        FROM r LEFT JOIN s USING (section_id)
        GROUP BY section_id ORDER BY section_id
        """,
        r=readings,
        s=registry.select(["section_id", "water_body"]),
    )
    classes = classify(_reported(agg))
    for name in classes.column_names:
        agg = agg.append_column(name, classes.column(name))
    meets = pc.less_equal(
        pc.cast(agg.column("water_class"), pa.int16()), pc.cast(agg.column("target_class"), pa.int16())
    )
    return agg.append_column("meets_target", meets)


def _reported(means: pa.Table) -> pa.Table:
    """The GB 3838 item means rounded (修约) to each item's reporting precision, as national practice
    compares them with the limits; a raw float mean is noisy in the last bit, so three readings of
    TP 0.2 average 0.20000000000000004, just over the class III limit."""
    for item in ITEMS:
        if item.column in means.column_names:
            i = means.column_names.index(item.column)
            rounded = pc.round(means.column(i), ndigits=item.decimals, round_mode="half_to_even")
            means = means.set_column(i, item.column, rounded)
    return means


def basin_monthly(monthly: pa.Table) -> pa.Table:
    """Basin roll-up of section monthly classes: the basin as a whole and each water body in it.

    With at least ``BASIN_SHARE_MIN_SECTIONS`` sections, the label comes from the shares of sections in
    I–III and 劣V; with fewer river sections, and for a lake or reservoir (all its points such), from
    the class of the mean concentrations of its sections (``rollup_method`` mean, that class in
    ``water_class``) — a one-section river in class V is 中度污染 (by the shares it was 轻度污染), a lake
    of class III 良好. Rivers and lakes together, or sections whose means give no class, go by the
    shares. A section whose class lacks one of its items (``items_without_value``) is counted in
    ``sections_incomplete`` and left out of the class counts, the shares (their denominator) and the
    count of sections that picks the method; the mean concentrations average the sections that have
    each item, and a mean class lacking an item (none had it) is no label: the shares decide (none
    when every section is incomplete)."""
    items = [i.column for i in ITEMS if i.column in monthly.column_names]
    means = ", ".join(f"avg({c}) AS {c}" for c in items)
    lakes = string_list(sorted(LAKE_TYPES))
    # a class judged without one of its items may be better than the water: not one for the shares
    complete_sql = "items_without_value IS NULL"
    agg = query_arrow(
        f"""
        SELECT any_value(month) AS month, basin, water_body,
               CAST(count(*) AS INTEGER) AS sections,
               CAST(count(*) FILTER (WHERE NOT {complete_sql}) AS INTEGER) AS sections_incomplete,
               CAST(count(*) FILTER (WHERE {complete_sql} AND water_class <= 3) AS INTEGER) AS sections_i_iii,
               CAST(count(*) FILTER (WHERE {complete_sql} AND water_class BETWEEN 4 AND 5) AS INTEGER) AS sections_iv_v,
               CAST(count(*) FILTER (WHERE {complete_sql} AND water_class = 6) AS INTEGER) AS sections_worse_v,
               100.0 * count(*) FILTER (WHERE {complete_sql} AND water_class <= 3)
                   / nullif(count(*) FILTER (WHERE {complete_sql}), 0) AS share_i_iii_pct,
               100.0 * count(*) FILTER (WHERE {complete_sql} AND water_class = 6)
                   / nullif(count(*) FILTER (WHERE {complete_sql}), 0) AS share_worse_v_pct,
               count(*) FILTER (WHERE coalesce(section_type, '{DEFAULT_SECTION_TYPE}') IN ({lakes})) AS lakes,
               {means}
        FROM m WHERE water_class IS NOT NULL
        GROUP BY GROUPING SETS ((basin), (basin, water_body))
        -- sections without a water body belong to the basin total only
        HAVING grouping(water_body) = 1 OR water_body IS NOT NULL
        ORDER BY basin, water_body NULLS FIRST
        """,
        m=monthly,
    )
    sections, lake_sections = agg.column("sections").to_numpy(), agg.column("lakes").to_numpy()
    all_lake, no_lake = lake_sections == sections, lake_sections == 0
    typed = agg.select(items).append_column(
        "section_type", pa.array(np.where(all_lake, "lake", DEFAULT_SECTION_TYPE), pa.string())
    )
    typed = typed.append_column(
        "target_class", pa.array(np.full(agg.num_rows, DEFAULT_TARGET_CLASS), pa.int8())
    )
    of_means = classify(_reported(typed))
    # by the mean: a lake's points, or fewer than 5 complete river sections — not rivers and lakes
    # together (the method judges them apart; a lake's TP averaged with a river's would be judged on
    # the river's limits), nor where the means give no class (pH out of range in each section, inside
    # on average) or one without an item (no section had it: the class may be better than the water)
    complete = sections - agg.column("sections_incomplete").to_numpy()
    has_class = pc.is_valid(of_means.column("water_class")).to_numpy(zero_copy_only=False)
    whole = pc.is_null(of_means.column("items_without_value")).to_numpy(zero_copy_only=False)
    by_mean = (all_lake | (no_lake & (complete < BASIN_SHARE_MIN_SECTIONS))) & has_class & whole
    shares = basin_label(_floats(agg.column("share_i_iii_pct")), _floats(agg.column("share_worse_v_pct")))
    mask = pa.array(by_mean)
    label = pc.if_else(mask, of_means.column("quality_label"), shares)
    mean_class = pc.if_else(mask, of_means.column("water_class"), pa.scalar(None, pa.int8()))
    mean_label = pc.if_else(mask, of_means.column("water_class_label"), pa.scalar(None, pa.string()))
    method = pa.array(np.where(by_mean, MEAN, SHARE), pa.string())
    out = agg.drop_columns(["lakes", *items])
    return (
        out.append_column("water_class", mean_class)
        .append_column("water_class_label", mean_label)
        .append_column("rollup_method", method)
        .append_column("basin_label", label)
    )
