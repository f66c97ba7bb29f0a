"""Discover files published as a listing (``index.json``) or dropped in a folder; fetch them.

A location is one of:

* an http(s) URL of a listing — ``…/index.json`` or its folder URL — ``{"files": [{"name": …,
  "url": … (relative to the listing), …more fields kept as ``meta``}]}``;
* an http(s) URL of one file;
* a local folder (a drop folder: every file with one of the suffixes, hidden and Office lock files
  ``~$…`` left out) or a local file.

Files are read with conditional GET (validators kept in the ledger), so an unchanged file costs a 304.

Names and URLs in a listing are the upstream's word, so they are checked before anything is read:
a name that is not a plain file name (``../``, an absolute path, a backslash, a control character,
empty) or a URL on another host than the listing's (unless allowed, ``ECOCLOUD_HTTP_REDIRECT_HOSTS``)
makes the whole listing refused with :class:`ListingError` naming every offending entry. In a drop
folder, a symlink pointing outside the folder is refused the same way.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import requests

from ingest.http import FetchError, fetch, limits_of
from ingest.raw import unsafe_name_reason
from warehouse.ledger import Ledger


class ListingError(FetchError):
    """A listing (or drop folder) names files it must not: nothing from it is read."""


@dataclass(frozen=True)
class ListedFile:
    location: str  # URL or absolute path
    name: str  # file name as published
    meta: dict[str, Any] = field(default_factory=dict)  # other fields of the listing entry


def is_url(location: str) -> bool:
    return location.startswith(("http://", "https://"))


def discover(
    location: str,
    suffixes: tuple[str, ...],
    *,
    session: requests.Session | None = None,
    timeout_s: float = 30.0,
) -> list[ListedFile]:
    """The files at ``location`` whose names end with one of ``suffixes``."""
    if is_url(location):
        return _discover_url(location, suffixes, session, timeout_s)
    path = Path(location).expanduser()
    if path.is_dir():
        folder = path.resolve()
        found = [
            p
            for p in sorted(path.iterdir())
            if p.is_file() and p.name.lower().endswith(suffixes) and not p.name.startswith((".", "~$"))
        ]
        _refuse(
            str(path),
            [(p.name, unsafe_name_reason(p.name) or _outside(p, folder)) for p in found],
        )
        return [ListedFile(str(p.resolve()), p.name) for p in found]
    if path.is_file():
        return [ListedFile(str(path.resolve()), path.name)]
    raise FileNotFoundError(f"no such file or folder: {path}")


def _discover_url(
    location: str, suffixes: tuple[str, ...], session: requests.Session | None, timeout_s: float
) -> list[ListedFile]:
    path_part = location.split("?", 1)[0]
    if path_part.lower().endswith(suffixes):
        name = unquote(path_part.rsplit("/", 1)[-1])
        _refuse(location, [(name, unsafe_name_reason(name))])
        return [ListedFile(location, name)]
    index = location if path_part.endswith(".json") else urljoin(location.rstrip("/") + "/", "index.json")
    if session is None:
        raise ValueError("a requests session is needed to fetch URLs")
    got = fetch(session, index, timeout_s=timeout_s)
    try:
        entries = json.loads(got.content)["files"]
        listed = [
            ListedFile(
                urljoin(index, str(e["url"])),
                str(e["name"]),
                {k: v for k, v in e.items() if k not in ("name", "url")},
            )
            for e in entries
            if str(e["name"]).lower().endswith(suffixes)
        ]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise FetchError(f"{index}: not a file listing ({exc})") from exc
    limits = limits_of(session)
    _refuse(
        index,
        [(f.name, unsafe_name_reason(f.name) or limits.refusal(index, f.location)) for f in listed],
    )
    return listed


def _outside(path: Path, folder: Path) -> str | None:
    target = path.resolve()
    return None if target.is_relative_to(folder) else f"a link to {target}, outside the folder"


def _refuse(where: str, checked: list[tuple[str, str | None]]) -> None:
    bad = [f"{name!r}: {why}" for name, why in checked if why]
    if bad:
        raise ListingError(f"{where}: refusing the listing; unsafe entries: " + "; ".join(bad))


@dataclass(frozen=True)
class Got:
    content: bytes
    etag: str | None = None
    last_modified: str | None = None


def read(
    item: ListedFile, ledger: Ledger, *, session: requests.Session | None = None, timeout_s: float = 30.0
) -> Got | None:
    """The file's bytes; None when a URL answered 304 (unchanged since :func:`remember` last ran)."""
    if not is_url(item.location):
        return Got(Path(item.location).read_bytes())
    if session is None:
        raise ValueError("a requests session is needed to fetch URLs")
    etag, last_modified, _ = ledger.fetch_state(item.location)
    got = fetch(session, item.location, timeout_s=timeout_s, etag=etag, last_modified=last_modified)
    return None if got.not_modified else Got(got.content, got.etag, got.last_modified)


def remember(ledger: Ledger, item: ListedFile, got: Got) -> None:
    """Keep the validators of a URL once its bytes are landed (so the next read can be a 304)."""
    if is_url(item.location):
        ledger.record_fetch(
            item.location, got.etag, got.last_modified, hashlib.sha256(got.content).hexdigest()
        )
