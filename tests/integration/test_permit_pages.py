"""Permit pages landed more than once (saved pages, a later fetch overlapping an earlier one): a page's
bytes land once, an outlet's reject is quarantined once, and a rerun on the same pages changes nothing."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from http_upstream import serving

from ecocloud.builds import permits
from ecocloud.runner.engine import ledger
from ecocloud.runner.report import RunReport
from ecocloud.settings import Settings
from schemas import permits as schema
from warehouse import lake as lk

GOOD = {
    "permitNo": "91360100MA35F7Q12E001P",
    "version": 1,
    "status": "有效",
    "updatedAt": "2026-11-02T09:00:00+08:00",
    "validFrom": "2026-01-01",
    "creditCode": "91360100MA35F7Q12E",
    "entName": "甲化工",
    # the second outlet is rejected (no code), the first kept
    "outlets": [{"outletCode": "DW001", "pollutants": []}, {"outletName": "无编号"}],
}
BAD = {  # an unknown status: the record is rejected whole, never published
    "permitNo": "91360100MA35F7Q12E002P",
    "version": 1,
    "status": "暂停",
    "updatedAt": "2026-11-02T10:00:00+08:00",
    "validFrom": "2026-01-01",
    "outlets": [],
}
OTHER = {**GOOD, "permitNo": "91360100MA35F7Q12E003P", "outlets": []}


def page(*records: dict[str, Any]) -> bytes:
    body = {"code": 0, "page": 1, "total": len(records), "totalPages": 1, "records": list(records)}
    return json.dumps(body, ensure_ascii=False).encode()


def rejects(settings: Settings) -> list[tuple[str | None, str, str]]:
    rows = pq.read_table(lk.table_dir(settings.lake, schema.quarantine)).to_pylist()
    return sorted(((r["permit_no"], r["item"], r["reason"]) for r in rows), key=str)


def test_a_reject_carried_by_two_pages_is_quarantined_once(
    settings: Settings, tmp_path: Path, ingest: Callable[..., RunReport]
) -> None:
    """An outlet rejected in a version is quarantined once, from the copy that won; a record rejected
    whole, once for the same record (its content) — two records alike in what is wrong with them (no
    permit number) are two rejects, also on one page."""
    first, later = tmp_path / "first", tmp_path / "later"
    first.mkdir()
    later.mkdir()
    anonymous = {**BAD, "permitNo": None}
    (first / "p1.json").write_bytes(page(GOOD, BAD, anonymous, {**anonymous, "version": 2}))
    (first / "p1 (copy).json").write_bytes(page(GOOD, BAD, anonymous, {**anonymous, "version": 2}))
    # a later query: three of those records again, keys in another order
    (later / "p1.json").write_bytes(page(OTHER, GOOD, dict(reversed(list(BAD.items()))), anonymous))

    run = ingest("permit", lambda s, led: permits.land_saved_pages(s, led, [str(first)]))
    assert len(run.landed) == 1  # the copy holds the same bytes
    no_number = (None, "permitNo", "no permit number")
    unknown = ("91360100MA35F7Q12E002P", "status", "unknown status (valid / revoked / cancelled)")
    outlet = ("91360100MA35F7Q12E001P", "outlets[1]", "outlet without outletCode")
    once = sorted([no_number, no_number, unknown, outlet], key=str)
    assert rejects(settings) == once
    run = ingest("permit", lambda s, led: permits.land_saved_pages(s, led, [str(later), str(first)]))
    assert len(run.landed) == 1  # the first page again: landed before, not again
    [report] = run.of("permits")
    assert report.status == "published" and report.counts["permits"] == 2
    assert rejects(settings) == once  # each reject of the later page was a second row before
    assert report.counts["copies_dropped"] == 1 and report.counts["rejects_of_copies_dropped"] == 3

    def tables() -> dict[Path, bytes]:  # the permit tables and their quarantine (gate results are appended)
        return {
            p: p.read_bytes() for d in ("core", "quarantine") for p in (settings.lake / d).rglob("*.parquet")
        }

    before = tables()
    again = ingest("permit", force=True)
    assert {u.status for u in again.units} == {"published"}
    assert tables() == before


def test_a_page_fetched_again_unchanged_is_not_landed_again(
    settings: Settings, ingest: Callable[..., RunReport]
) -> None:
    """The scheduled fetch lands a page with something unpublished on it; a quarantined record is never
    published, so the page stayed "new" and was landed again by every run (a copy a day, each one's
    rejects quarantined again). Bytes landed before are not landed again."""
    body = page(GOOD, BAD)
    with serving(lambda _path: (200, body)) as base:
        url = f"{base}/permits"
        first = ingest("permit", lambda s, led: permits.fetch(s, led, base_url=url).landed)
        assert len(first.landed) == 1
        led = ledger(settings)
        try:
            again = permits.fetch(settings, led, base_url=url)
        finally:
            led.close()
        assert again.pages == 1 and again.landed == []
    assert rejects(settings) == sorted(
        [
            ("91360100MA35F7Q12E001P", "outlets[1]", "outlet without outletCode"),
            ("91360100MA35F7Q12E002P", "status", "unknown status (valid / revoked / cancelled)"),
        ],
        key=str,
    )
