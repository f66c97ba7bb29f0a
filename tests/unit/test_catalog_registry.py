"""No table can be added undocumented: the catalog built from the registry describes every table fully."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from schemas import catalog as cat
from schemas.fields import LAYERS, SOURCES
from schemas.registry import Department, Frequency, Layer, Sharing, all_tables
from warehouse.catalog import catalog_tables
from warehouse.serving import view_sql

NUMERIC = ("int8", "int16", "int32", "int64", "float64")
DATASETS = [t for t in all_tables() if t.layer is not Layer.STAGE]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict]]:
    lake = tmp_path_factory.mktemp("lake")
    con = duckdb.connect()
    try:
        for table in DATASETS:
            con.execute(view_sql(table, []))  # empty, typed views: the registry alone
        return {name: data.to_pylist() for name, data in catalog_tables(con, Path(lake)).items()}
    finally:
        con.close()


def test_every_registry_table_is_a_catalog_dataset(built: dict[str, list[dict]]) -> None:
    assert sorted(r["table_name"] for r in built[cat.datasets.name]) == sorted(t.name for t in DATASETS)
    described = {(r["table_name"], r["column_name"]) for r in built[cat.columns.name]}
    assert described == {(t.name, c.name) for t in DATASETS for c in t.columns}


def test_every_numeric_column_has_a_unit(built: dict[str, list[dict]]) -> None:
    missing = [
        f"{r['table_name']}.{r['column_name']}"
        for r in built[cat.columns.name]
        if r["data_type"] in NUMERIC and not r["unit"]
    ]
    assert missing == []


@pytest.mark.parametrize("table", DATASETS, ids=lambda t: t.name)
def test_every_dataset_has_owner_frequency_sharing_and_chinese_metadata(table) -> None:  # type: ignore[no-untyped-def]
    assert isinstance(table.owner, Department) and table.owner.name_zh and "@" in table.owner.contact
    assert isinstance(table.frequency, Frequency) and table.frequency.label_zh and table.frequency.label_en
    assert isinstance(table.sharing, Sharing)
    if table.sharing is not Sharing.UNCONDITIONAL:
        assert table.sharing_conditions, "a shared-on-conditions or not-shared table says who may have it"
    assert table.title_zh and table.description_zh and table.source_system
    # the pages name its source and layer in either language, not by their codes
    assert SOURCES.in_language("en")[table.source] and SOURCES[table.source] != table.source
    assert LAYERS.in_language("en")[table.layer.value] and LAYERS[table.layer.value] != table.layer.value


def test_a_department_is_declared_once() -> None:
    """Its page address (the DCAT publisher URI) names one department: the monitoring centre was
    declared twice (other capitals, another mailbox), and its page lost the datasets of the other."""
    from ecocloud.catalog_export import organisation_slug

    by_address: dict[str, set[Department]] = {}
    for table in all_tables():
        by_address.setdefault(organisation_slug(table.owner.name_en), set()).add(table.owner)
    assert {a: d for a, d in by_address.items() if len(d) > 1} == {}


def test_every_rule_the_gate_runs_has_a_name_in_both_languages() -> None:
    """The quality pages name a rule in words (非空 / not null), its GX name below: a rule the gate
    generates without a label would show only GX's name."""
    from warehouse.quality import build_suite

    generated = {
        e.expectation_type
        for table in all_tables()
        if table.layer is not Layer.STAGE
        for e in build_suite(table, freshness=True, partition=True).expectations
    }
    assert generated <= set(cat.EXPECTATION_TYPES), generated - set(cat.EXPECTATION_TYPES)
    english = cat.EXPECTATION_TYPES.in_language("en")
    assert all(english[t] != cat.EXPECTATION_TYPES[t] for t in cat.EXPECTATION_TYPES)
