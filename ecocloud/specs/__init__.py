"""Every source spec of the platform, by name. Light to import: DAG files read these at parse time."""

from __future__ import annotations

import importlib

from ecocloud.runner.spec import SourceSpec

SPEC_MODULES = ("air", "water", "sources", "permits", "credit", "master", "risk", "catalog")


def all_specs() -> list[SourceSpec]:
    return [importlib.import_module(f"ecocloud.specs.{m}").SPEC for m in SPEC_MODULES]


def get_spec(name: str) -> SourceSpec:
    """A spec by its name (``air``) or its DAG id (``air_quality``)."""
    for spec in all_specs():
        if name in (spec.name, spec.dag_id):
            return spec
    raise KeyError(f"no source spec {name!r}; known: {[s.name for s in all_specs()]}")
