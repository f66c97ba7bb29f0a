"""Per-province configuration of credit result files (``provinces.toml`` beside this module)."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from schemas.credit import SCHEMES
from transforms.identifiers import normalize_name

CONFIG_FILE = Path(__file__).with_name("provinces.toml")
COLUMNS = ("uscc", "enterprise_name", "level", "region", "year", "sub_grade")
REQUIRED_COLUMNS = ("enterprise_name", "level")


@dataclass(frozen=True)
class ProvinceConfig:
    key: str  # jiangxi
    name: str  # 江西省
    province_code: str
    scheme: str
    file_hints: tuple[str, ...]
    columns: dict[str, tuple[str, ...]]  # column -> header names, normalised
    levels: dict[str, tuple[str, ...]]  # level code -> labels, normalised, longest first
    labels: tuple[tuple[str, str], ...] = ()  # (label, level code) of every level, longest label first

    def column_of(self, header: str) -> str | None:
        h = normalize_name(header) or ""
        for column, names in self.columns.items():
            if h in names:
                return column
        return None


def _load(path: Path) -> dict[str, ProvinceConfig]:
    raw = tomllib.loads(path.read_text(encoding="utf-8"))
    out = {}
    for key, p in raw.get("provinces", {}).items():
        scheme = SCHEMES.get(p.get("scheme", ""))
        if scheme is None:
            raise ValueError(f"{path}: {key}: unknown scheme {p.get('scheme')!r} (have {sorted(SCHEMES)})")
        columns = {
            c: tuple(normalize_name(h) or "" for h in names) for c, names in p.get("columns", {}).items()
        }
        if unknown := set(columns) - set(COLUMNS):
            raise ValueError(f"{path}: {key}: unknown columns {sorted(unknown)}")
        if missing := set(REQUIRED_COLUMNS) - set(columns):
            raise ValueError(f"{path}: {key}: no header names for {sorted(missing)}")
        levels = {
            lvl: tuple(sorted((normalize_name(x) or "" for x in labels), key=len, reverse=True))
            for lvl, labels in p.get("levels", {}).items()
        }
        if set(levels) != set(scheme.codes):
            raise ValueError(
                f"{path}: {key}: levels {sorted(levels)} ≠ scheme {scheme.name} {list(scheme.codes)}"
            )
        out[key] = ProvinceConfig(
            key=key,
            name=p.get("name", key),
            province_code=str(p["province_code"]),
            scheme=scheme.name,
            file_hints=tuple(h.lower() for h in p.get("file_hints", [])),
            columns=columns,
            levels=levels,
            labels=tuple(
                sorted(
                    ((a, code) for code, aliases in levels.items() for a in aliases), key=lambda p: -len(p[0])
                )
            ),
        )
    return out


@lru_cache(maxsize=4)
def provinces(path: Path = CONFIG_FILE) -> dict[str, ProvinceConfig]:
    """Every configured province, by key; validated against the schemes on load."""
    return _load(path)


def province(key_or_code: str, path: Path = CONFIG_FILE) -> ProvinceConfig:
    """A province by key (``jiangxi``), code (``360000``) or name (``江西省``)."""
    for p in provinces(path).values():
        if key_or_code in (p.key, p.province_code, p.name):
            return p
    raise KeyError(f"no credit-file configuration for province {key_or_code!r} (see {path.name})")
