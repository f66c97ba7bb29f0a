"""Find new credit result files (a URL listing or a drop folder, see ``ingest.listing``) and land them.

The raw object's name carries the province and year when the listing (or the caller) knows them and
the file name does not, so a rebuild from the raw zone alone still knows what each file is.
"""

from __future__ import annotations

from dataclasses import dataclass

import requests

from ingest import listing
from ingest.credit.config import province as province_config
from ingest.credit.parse import evaluation_year
from ingest.snapshots import land_snapshot
from warehouse.fs import LakeLike
from warehouse.ledger import Ledger, RawObject

SOURCE = "credit"
SUFFIXES = (".xlsx", ".csv")


@dataclass(frozen=True)
class CreditFile:
    file: listing.ListedFile
    province: str | None = None  # key, code or name
    year: int | None = None

    @property
    def logical_name(self) -> str:
        """The file name, prefixed with the province key and the year when it does not show them
        (the year as the evaluation year: 江西省2024年发布的2023年度… given as 2023 shows it)."""
        name = self.file.name
        if self.year is not None and evaluation_year(name) != self.year:
            name = f"{self.year}_{name}"
        if self.province is not None:
            p = province_config(self.province)
            if not any(h in name.lower() for h in p.file_hints):
                name = f"{p.key}_{name}"
        return name


def discover(
    location: str, *, session: requests.Session | None = None, timeout_s: float = 30.0
) -> list[CreditFile]:
    """The result files at ``location``, with the province and year a listing gives."""
    return [
        CreditFile(
            f,
            f.meta.get("province_code") or f.meta.get("province"),
            int(f.meta["year"]) if f.meta.get("year") else None,
        )
        for f in listing.discover(location, SUFFIXES, session=session, timeout_s=timeout_s)
    ]


def land_file(
    lake: LakeLike,
    ledger: Ledger,
    item: CreditFile,
    *,
    session: requests.Session | None = None,
    timeout_s: float = 30.0,
) -> RawObject | None:
    """Land one file; None when it is unchanged (HTTP 304, or the same bytes as last time)."""
    got = listing.read(item.file, ledger, session=session, timeout_s=timeout_s)
    if got is None:
        return None
    obj = land_snapshot(
        lake,
        ledger,
        source=SOURCE,
        logical_name=item.logical_name,
        data=got.content,
        origin=item.file.location,
    )
    listing.remember(ledger, item.file, got)
    return obj
