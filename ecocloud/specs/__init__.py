"""Every source spec of the platform, by name. Light to import: DAG files read these at parse time."""

from __future__ import annotations

import importlib

from ecocloud.errors import InTwoLanguages
from ecocloud.runner.spec import SourceSpec

SPEC_MODULES = ("air", "water", "sources", "permits", "credit", "master", "risk", "catalog")


def all_specs() -> list[SourceSpec]:
    return [importlib.import_module(f"ecocloud.specs.{m}").SPEC for m in SPEC_MODULES]


class UnknownSpec(InTwoLanguages, LookupError):
    """No spec in ``SPEC_MODULES`` has the name or DAG id asked for."""


def get_spec(name: str) -> SourceSpec:
    """A spec by its name (``air``) or its DAG id (``air_quality``); ``UnknownSpec`` naming the
    known ones where none has it."""
    specs = all_specs()
    for spec in specs:
        if name in (spec.name, spec.dag_id):
            return spec
    known = ", ".join(f"{s.name} ({s.dag_id})" for s in specs)
    raise UnknownSpec(
        f"no source spec {name!r}; the known ones, by name (DAG id): {known}",
        f"没有数据源规格 {name!r}；已有的（名称及 DAG id）：{known}",
    )
