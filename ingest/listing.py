"""Discover files published as a listing (``index.json``) or dropped in a folder; fetch them.

A location is one of:

* an http(s) URL of a listing — ``…/index.json`` or its folder URL — ``{"files": [{"name": …,
  "url": … (relative to the listing), …more fields kept as ``meta``}]}``;
* an http(s) URL of one file;
* a local folder (a drop folder: every file with one of the suffixes, hidden and Office lock files
  ``~$…`` left out) or a local file.

Files are read with conditional GET (validators kept in the ledger), so an unchanged file costs a 304.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urljoin

import requests

from ingest.http import FetchError, fetch
from warehouse.ledger import Ledger


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
        path_part = location.split("?", 1)[0]
        if path_part.lower().endswith(suffixes):
            return [ListedFile(location, unquote(path_part.rsplit("/", 1)[-1]))]
        index = location if path_part.endswith(".json") else urljoin(location.rstrip("/") + "/", "index.json")
        if session is None:
            raise ValueError("a requests session is needed to fetch URLs")
        got = fetch(session, index, timeout_s=timeout_s)
        try:
            entries = json.loads(got.content)["files"]
            return [
                ListedFile(
                    urljoin(index, e["url"]),
                    e["name"],
                    {k: v for k, v in e.items() if k not in ("name", "url")},
                )
                for e in entries
                if str(e["name"]).lower().endswith(suffixes)
            ]
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"{index}: not a file listing ({exc})") from exc
    path = Path(location).expanduser()
    if path.is_dir():
        return [
            ListedFile(str(p.resolve()), p.name)
            for p in sorted(path.iterdir())
            if p.is_file() and p.name.lower().endswith(suffixes) and not p.name.startswith((".", "~$"))
        ]
    if path.is_file():
        return [ListedFile(str(path.resolve()), path.name)]
    raise FileNotFoundError(f"no such file or folder: {path}")


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
