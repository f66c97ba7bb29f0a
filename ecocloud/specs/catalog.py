"""The shared catalog: rebuilt whenever any dataset changes (an Asset event of any other spec)."""

from __future__ import annotations

from ecocloud.runner.spec import Arrival, Schedule, SourceSpec


def _datasets() -> tuple[str, ...]:
    """Every table the other specs publish."""
    import importlib

    from ecocloud.specs import SPEC_MODULES

    others = [importlib.import_module(f"ecocloud.specs.{m}").SPEC for m in SPEC_MODULES if m != "catalog"]
    return tuple(t for spec in others for t in spec.outputs)


SPEC = SourceSpec(
    name="catalog",
    dag_id="shared_catalog",
    title="Shared catalog (信息资源共享目录): rebuilt from the registry, the ledger and the lake",
    description=(
        "Runs whenever a dataset Asset changes: the serving refresh regenerates the views and the five "
        "catalog tables (catalog_datasets, catalog_columns, catalog_lineage, catalog_quality, "
        "catalog_quarantine_reasons) from the "
        "registry, the ledger's lineage and the lake itself, so the catalog never drifts from the data."
    ),
    arrival=Arrival.TABLES,
    builds=(),
    refreshes=(
        "catalog_datasets",
        "catalog_columns",
        "catalog_lineage",
        "catalog_quality",
        "catalog_quarantine_reasons",
    ),
    schedule=Schedule(assets=_datasets()),
    tags=("source:catalog", "layer:catalog"),
)
