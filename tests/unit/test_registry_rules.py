"""The registry is the only place a column is declared, and what it declares is complete.

(a) No code outside ``schemas/`` builds a schema or a column list by hand (an AST scan of
    ecocloud/, ingest/, transforms/, warehouse/).
(b) Every registered table's columns come from a Fields namespace, every numeric column has a unit,
    the catalog metadata is complete; ``register`` refuses a table that breaks one of these.
(c) A field name declared in a namespace and in one of its ancestors (``SHARED`` for every source)
    has the same type and unit in both.
"""

from __future__ import annotations

import ast
import datetime as dt
import importlib
import pkgutil
import re
from datetime import timedelta
from pathlib import Path

import duckdb
import pytest

import schemas
from schemas.fields import SHARED, WHEN_REJECTED
from schemas.registry import (
    Column,
    Department,
    Fields,
    Frequency,
    Layer,
    Sharing,
    Table,
    all_tables,
    get_table,
    register,
    registration_problems,
)
from warehouse.ledger import Ledger
from warehouse.serving import refresh

REPO = Path(__file__).resolve().parents[2]
SCANNED = ("ecocloud", "ingest", "transforms", "warehouse")

# pyarrow type constructors: a call of one of these is a column type written by hand
_PA_TYPES = frozenset(
    {
        "string", "utf8", "large_string", "large_utf8", "binary", "large_binary", "bool_",
        "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
        "float16", "float32", "float64", "decimal128", "decimal256",
        "date32", "date64", "timestamp", "time32", "time64", "duration",
        "list_", "large_list", "struct", "map_", "dictionary", "null",
    }
)  # fmt: skip
# keyword arguments whose dict says how to read an upstream file's text, not what a table holds
_READ_OPTION_KEYWORDS = frozenset({"column_types"})


def _pyarrow_names(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.asname or a.name for a in node.names if a.name == "pyarrow"}
    return names


def _is_pa_call(node: ast.AST, pa_names: set[str], attrs: frozenset[str]) -> bool:
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and isinstance(node.func.value, ast.Name)
        and node.func.value.id in pa_names
        and node.func.attr in attrs
    )


def _is_empty_typed_array(node: ast.AST, pa_names: set[str]) -> bool:
    """``pa.array([], <type>)``: a column with no values, only a type — a schema written by hand."""
    return (
        _is_pa_call(node, pa_names, frozenset({"array"}))
        and isinstance(node, ast.Call)
        and bool(node.args)
        and isinstance(node.args[0], ast.List | ast.Tuple)
        and not node.args[0].elts
        and (len(node.args) > 1 or any(k.arg == "type" for k in node.keywords))
    )


def hand_schemas(source: str, filename: str = "<source>") -> list[str]:
    """Where ``source`` builds a schema or column list by hand: ``file:line: what``."""
    tree = ast.parse(source, filename)
    pa_names = _pyarrow_names(tree)
    if not pa_names:
        return []
    exempt = {
        id(inner)
        for node in ast.walk(tree)
        if isinstance(node, ast.Call)
        for kw in node.keywords
        if kw.arg in _READ_OPTION_KEYWORDS
        for inner in ast.walk(kw.value)
    }

    def is_type(n: ast.AST) -> bool:
        return _is_pa_call(n, pa_names, _PA_TYPES)

    found = []
    for node in ast.walk(tree):
        what = None
        if _is_pa_call(node, pa_names, frozenset({"schema", "field"})):
            assert isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
            what = f"pa.{node.func.attr}(…)"
        elif isinstance(node, ast.Dict) and id(node) not in exempt:
            if any(v is not None and is_type(v) for v in node.values):
                what = "dict of column → pa type"
            elif any(v is not None and _is_empty_typed_array(v, pa_names) for v in node.values):
                what = "dict of empty typed columns"
        elif isinstance(node, ast.DictComp) and id(node) not in exempt:
            if is_type(node.value) or _is_empty_typed_array(node.value, pa_names):
                what = "dict comprehension of column → pa type"
        elif isinstance(node, ast.Tuple | ast.List) and len(node.elts) == 2:
            name, typ = node.elts
            if isinstance(name, ast.Constant | ast.Name | ast.JoinedStr) and is_type(typ):
                what = "(name, pa type) pair"
        if what:
            found.append(f"{filename}:{node.lineno}: {what}")
    return found


# ------------------------------------------------------------------------------------------- (a)
def test_no_schema_or_column_list_is_built_by_hand_outside_schemas() -> None:
    found = [
        hit
        for package in SCANNED
        for path in sorted((REPO / package).rglob("*.py"))
        for hit in hand_schemas(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))
    ]
    assert found == [], "declare these columns in schemas/ and use table.arrow_schema() / .empty() …"


@pytest.mark.parametrize(
    "snippet",
    [
        "import pyarrow as pa\nS = pa.schema([('a', pa.string())])",
        "import pyarrow as pa\nF = pa.field('a', pa.int32())",
        "import pyarrow as pa\nFIELDS = {'a': pa.string(), 'b': pa.int16()}",
        "import pyarrow as pa\nT = {n: pa.float64() for n in NAMES}",
        "import pyarrow as pa\nCOLS = [('a', pa.string()), ('b', pa.bool_())]",
        "import pyarrow as pa\nCOLS = (('a', pa.string()),)",
        "import pyarrow as xx\nS = xx.schema([])",
        "import pyarrow as pa\nt = pa.table({'a': pa.array([], pa.string())})",
        "import pyarrow as pa\nt = pa.table({'ts': pa.array([], type=pa.timestamp('us', 'UTC'))})",
    ],
)
def test_the_scan_finds_hand_written_schemas(snippet: str) -> None:
    assert len(hand_schemas(snippet)) >= 1


@pytest.mark.parametrize(
    "snippet",
    [
        "import pyarrow as pa\na = pa.array(values, pa.string())",
        "import pyarrow as pa\nt = pa.table({'a': pa.array(values, pa.string())})",
        "import pyarrow as pa\nx = pc.cast(values, pa.float64())",
        "import pyarrow as pa\ns = pa.scalar(None, pa.string())",
        "import pyarrow as pa\nt = T.empty()",
        "import pyarrow as pa\no = ConvertOptions(column_types={n: pa.float64() for n in names})",
        "import pyarrow as pa\no = ConvertOptions(column_types={**{n: pa.string() for n in a}, 'x': pa.int8()})",
        "S = schema({'a': string()})",  # not pyarrow
    ],
)
def test_the_scan_allows_what_is_not_a_column_declaration(snippet: str) -> None:
    assert hand_schemas(snippet) == []


# ------------------------------------------------------------------------------------------- (b)
def test_every_registered_table_is_complete() -> None:
    tables = all_tables()
    assert len(tables) >= 40
    problems = {t.name: registration_problems(t) for t in tables}
    assert {name: p for name, p in problems.items() if p} == {}
    for t in tables:
        assert all(c.namespace for c in t.columns), t.name
        assert all(c.unit for c in t.columns if c.is_numeric), t.name
        assert isinstance(t.owner, Department) and t.owner.contact.endswith(".example.gov.cn")
        assert isinstance(t.frequency, Frequency)
        assert t.title_zh and t.description_zh and t.source_system
        assert t.sharing is Sharing.UNCONDITIONAL or t.sharing_conditions


def test_a_unit_that_differs_by_row_names_a_column_of_its_table() -> None:
    """ "{unit}": the unit is in that column of the same row (the pages say so and name it)."""
    per_row = [
        (t.name, c.name, c.unit)
        for t in all_tables()
        for c in t.columns
        if c.unit and any(mark in c.unit for mark in ("{", "`", "row"))  # "per row: `unit`" was one
    ]
    assert len(per_row) >= 10
    assert [
        (table, name, unit)
        for table, name, unit in per_row
        if not (unit.startswith("{") and unit.endswith("}") and unit[1:-1] in get_table(table).column_names)
    ] == []


def test_quarantine_tables_expect_no_update_interval() -> None:
    """A quarantine table holds rejected input: a clean feed adds nothing to it, so the catalog must
    not call it late for that (its frequency is 'when input is rejected')."""
    quarantine = [t for t in all_tables() if t.layer is Layer.QUARANTINE]
    assert len(quarantine) >= 6
    assert {t.frequency for t in quarantine} == {WHEN_REJECTED}


def test_stage_tables_are_declared_in_the_registry() -> None:
    stage = {t.name for t in all_tables() if t.layer is Layer.STAGE}
    assert {
        "stage_permit__versions",
        "stage_permit__outlets",
        "stage_permit__limits",
        "stage_credit__rows",
        "stage_master__enterprises",
        "stage_master__monitoring_points",
        "stage_water__readings",
        "stage_water__sections_registry",
    } <= stage


_F = Fields("rules_test", parent=SHARED)
_F.define(
    Column("mass_kg", "float64", "a mass", unit="kg", description_zh="质量"),
    Column("count_no_unit", "int32", "a count without its unit", description_zh="没有单位的计数"),
    Column("english_only", "string", "a column described in English only"),
)
_DEPT = Department("测试处", "Test division", "test@sthjt.example.gov.cn")
_FREQ = Frequency("每日", "daily", timedelta(days=1))


def _table(**changes: object) -> Table:
    kw: dict[str, object] = {
        "name": "core_air__rulestest_things",
        "layer": Layer.CORE,
        "source": "air",  # a source with its label (schemas.fields.SOURCES)
        "title": "Things",
        "title_zh": "测试表",
        "description": "Things for a test.",
        "description_zh": "用于测试的表。",
        "columns": (SHARED.get("date"), _F.get("mass_kg")),
        "primary_key": ("date",),
        "owner": _DEPT,
        "frequency": _FREQ,
        "sharing": Sharing.UNCONDITIONAL,
        "source_system": "测试系统 (test system)",
    }
    kw.update(changes)
    return Table(**kw)  # type: ignore[arg-type]


def test_a_complete_table_has_no_problems() -> None:
    assert registration_problems(_table()) == []


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"columns": (SHARED.get("date"), Column("mass_kg", "float64", "hand-made", unit="kg"))},
            "namespace",
        ),
        ({"columns": (SHARED.get("date"), _F.get("count_no_unit"))}, "has no unit"),
        ({"columns": (SHARED.get("date"), _F.get("english_only"))}, "no Chinese description"),
        ({"title_zh": ""}, "title_zh"),
        ({"description_zh": " "}, "description_zh"),
        ({"source_system": ""}, "source_system"),
        ({"sharing": Sharing.CONDITIONAL}, "sharing_conditions"),
        ({"sharing": Sharing.NOT_SHARED, "sharing_conditions": ""}, "sharing_conditions"),
        ({"owner": "some division"}, "Department"),
        ({"frequency": "daily"}, "Frequency"),
        (
            {"source": "noise", "name": "core_noise__things"},
            r"source 'noise' has no label: add it to schemas.fields.SOURCES",
        ),
    ],
)
def test_register_refuses_an_incomplete_table(changes: dict[str, object], problem: str) -> None:
    table = _table(**changes)
    with pytest.raises(ValueError, match=problem):
        register(table)
    assert table.name not in {t.name for t in all_tables()}


def test_a_restated_description_says_it_in_both_languages() -> None:
    """A table restating what a field means there must say it in Chinese too, or the Chinese
    catalog page would keep the field's general meaning beside the table's specific English one."""
    with pytest.raises(ValueError, match="description_zh"):
        _F.get("mass_kg", description="the mass of a thing")
    with pytest.raises(ValueError, match="description_zh"):
        _F.get("mass_kg", description_zh="物体的质量")
    both = _F.get("mass_kg", description="the mass of a thing", description_zh="物体的质量")
    assert (both.description, both.description_zh, both.unit) == ("the mass of a thing", "物体的质量", "kg")
    assert both.comment == "物体的质量 / the mass of a thing [kg]"


def test_a_heading_is_declared_in_both_languages() -> None:
    """A column's heading (a spreadsheet's or CSV's header) in one language only would leave the
    other language's download without it."""
    for half in ({"heading": "Mass"}, {"heading_zh": "质量"}, {"heading": "", "heading_zh": "质量"}):
        with pytest.raises(ValueError, match="heading"):
            Column("mass_kg", "float64", "mass", unit="kg", **half)  # type: ignore[arg-type]
    ns = Fields("heading_test", parent=SHARED)
    ns.define(Column("mass_kg", "float64", "mass", unit="kg", heading="Mass (kg)", heading_zh="质量（千克）"))
    assert (ns.get("mass_kg").heading_in("en"), ns.get("mass_kg").heading_in("zh")) == (
        "Mass (kg)",
        "质量（千克）",
    )
    # a table restating what the field means there keeps its heading
    restated = ns.get("mass_kg", description="the load's mass", description_zh="负荷质量")
    assert restated.heading_in("zh") == "质量（千克）"
    with pytest.raises(LookupError, match="mass_kg declares no heading"):
        _F.get("mass_kg").heading_in("en")


_CJK = re.compile(r"[\u4e00-\u9fff]")


def test_every_chinese_description_is_chinese() -> None:
    """description_zh is the catalog's Chinese text: an English sentence copied into it is a gap
    the registry's emptiness check cannot see."""
    english = sorted(
        {
            (t.name, c.name, c.description_zh)
            for t in all_tables()
            for c in t.columns
            if not _CJK.search(c.description_zh)
        }
    )
    assert english == []


# ------------------------------------------------------------------------------------------- (c)
def _namespaces() -> list[Fields]:
    found: dict[int, Fields] = {id(SHARED): SHARED}
    for mod in pkgutil.iter_modules(schemas.__path__):
        module = importlib.import_module(f"schemas.{mod.name}")
        found.update({id(v): v for v in vars(module).values() if isinstance(v, Fields)})
    return list(found.values())


def test_a_name_declared_again_below_an_ancestor_keeps_its_type_and_unit() -> None:
    namespaces = _namespaces()
    assert {"shared", "air", "water", "source", "permit", "credit", "master", "platform"} <= {
        ns.namespace for ns in namespaces
    }
    conflicts = []
    for ns in namespaces:
        ancestor = ns.parent
        while ancestor is not None:
            for name, col in ns.declared().items():
                other = ancestor.declared().get(name)
                if other is not None and (other.type, other.unit) != (col.type, col.unit):
                    conflicts.append(
                        f"{name}: {ns.namespace} {col.type} [{col.unit}] vs "
                        f"{ancestor.namespace} {other.type} [{other.unit}]"
                    )
            ancestor = ancestor.parent
    assert conflicts == []


# ----------------------------------------------------------------------------------- serving
def test_serving_has_a_view_per_published_table_and_none_for_stage_or_platform(tmp_path: Path) -> None:
    """Lake tables are views; the ledger's and the catalog's tables are tables; stage tables are not served."""
    ledger = Ledger(f"sqlite:///{tmp_path / 'state.sqlite'}")
    db = refresh(tmp_path / "lake", tmp_path / "serving.duckdb", ledger, grace=dt.timedelta(0))
    con = duckdb.connect(str(db), read_only=True)
    try:
        views = {
            r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal").fetchall()
        }
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        comment = con.execute(
            "SELECT comment FROM duckdb_columns() WHERE table_name = 'core_air__station_hourly' "
            "AND column_name = 'pm25_ugm3'"
        ).fetchone()
    finally:
        con.close()
    stored = (Layer.PLATFORM, Layer.CATALOG)  # tables of the serving file itself, not views of the lake
    published = {t.name for t in all_tables() if t.layer not in (Layer.STAGE, *stored)}
    assert views == published
    assert tables == {t.name for t in all_tables() if t.layer in stored}
    assert not any(v.startswith(("stage_", "platform_")) for v in views)
    # an analyst's DESCRIBE/duckdb_columns() says what a column holds in both languages, with its unit
    pm25 = get_table("core_air__station_hourly").column("pm25_ugm3")
    assert comment == (f"{pm25.description_zh} / {pm25.description} [µg/m³]",)


def test_tables_that_may_not_shrink_are_published_whole_per_unit() -> None:
    """The gate's shrink check compares a unit's new part with what that unit published there: a build
    publishing by PART has units whose partitions come and go, and a compaction takes their parts over,
    so a table declaring ``max_shrink`` must be published per PARTITION or WHOLE, by one build."""
    from ecocloud.runner.spec import Publish
    from ecocloud.specs import all_specs

    declared = {t.name for t in all_tables() if t.max_shrink is not None}
    assert declared, "no table declares max_shrink: this rule checks nothing"
    producers: dict[str, list[Publish]] = {}
    for spec in all_specs():
        for build in spec.builds:
            for name in set(build.outputs) & declared:
                producers.setdefault(name, []).append(build.publish)
    for name in sorted(declared):
        modes = producers.get(name, [])
        assert len(modes) == 1 and modes[0] is not Publish.PART, (name, modes)


def test_published_rows_are_those_that_passed_the_gate_were_built_from_them_or_are_gate_results() -> None:
    """The ingestion page counted these layers in its SQL by hand; the registry says which they are."""
    published = {layer for layer in Layer if layer.holds_published_rows}
    assert published == {Layer.CORE, Layer.MART, Layer.QUALITY}
    assert all(layer.in_lake for layer in published)  # counted from the lake's files (the catalog's rows)
