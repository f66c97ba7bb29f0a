"""The permit API client's paging guard: a listing that shifts while we page is re-read from page 1."""

from __future__ import annotations

import io
import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import urllib3
from requests.structures import CaseInsensitiveDict

from ingest.http import FetchError
from ingest.permits.fetch import PagingError, fetch_pages
from ingest.permits.parse import PermitPageError, parse_page


def record(i: int) -> dict[str, Any]:
    return {"permitNo": f"P{i:03d}", "version": 1, "updatedAt": f"2026-11-{1 + i:02d}T09:00:00+08:00"}


def reply(body: dict[str, Any]) -> requests.Response:
    """A real ``requests.Response`` over in-memory bytes (what ``ingest.http.fetch`` streams from)."""
    content = json.dumps(body).encode()
    resp = requests.Response()
    resp.status_code = 200
    resp.raw = urllib3.HTTPResponse(io.BytesIO(content), preload_content=False, status=200)
    resp.headers = CaseInsensitiveDict({"Content-Length": str(len(content))})
    return resp


class ShiftingPlatform:
    """Serves ``records`` two per page; after ``shift_after`` requests a new record appears at the start
    (a platform breaking the append-only promise) — ``shifts`` times."""

    def __init__(self, records: list[dict[str, Any]], shifts: int, *, move: bool = False) -> None:
        self.records = records
        self.shifts = shifts
        self.move = move  # republish the first record instead (it moves to the end, the total stays)
        self.requests = 0

    def get(self, url: str, **_: Any) -> requests.Response:
        self.requests += 1
        page = int(parse_qs(urlsplit(url).query)["page"][0])
        if page == 2 and self.shifts:  # between page 1 and page 2 the listing changes
            self.shifts -= 1
            if self.move:
                moved = self.records.pop(0)
                self.records.append({**moved, "updatedAt": "2026-12-31T09:00:00+08:00"})
            else:  # an older record is inserted
                self.records.insert(0, {**record(0), "permitNo": f"A{self.shifts}"})
        chunk = self.records[(page - 1) * 2 : page * 2]
        total = len(self.records)
        return reply(
            {"code": 0, "page": page, "total": total, "totalPages": -(-total // 2), "records": chunk}
        )


def test_consistent_listing_is_read_once() -> None:
    platform = ShiftingPlatform([record(i) for i in range(1, 6)], shifts=0)
    pages = fetch_pages(platform, "http://x/permits", updated_since=None, page_size=2)  # type: ignore[arg-type]
    assert [len(p.records) for p in pages] == [2, 2, 1] and platform.requests == 3


def test_a_shifting_listing_is_reread_from_page_one() -> None:
    platform = ShiftingPlatform([record(i) for i in range(1, 6)], shifts=1)
    pages = fetch_pages(platform, "http://x/permits", updated_since=None, page_size=2)  # type: ignore[arg-type]
    keys = [r["permitNo"] for p in pages for r in p.records]
    assert len(keys) == len(set(keys)) == 6  # nothing skipped, nothing twice
    assert platform.requests == 2 + 3  # page 1, page 2 (total changed) — then a clean pass of 3 pages


def test_a_listing_that_keeps_shifting_fails() -> None:
    platform = ShiftingPlatform([record(i) for i in range(1, 6)], shifts=10)
    with pytest.raises(PagingError):
        fetch_pages(platform, "http://x/permits", updated_since=None, page_size=2, max_restarts=2)  # type: ignore[arg-type]


def test_a_record_republished_while_paging_is_not_lost() -> None:
    platform = ShiftingPlatform([record(i) for i in range(1, 6)], shifts=1, move=True)
    pages = fetch_pages(platform, "http://x/permits", updated_since=None, page_size=2)  # type: ignore[arg-type]
    keys = [r["permitNo"] for p in pages for r in p.records]
    assert sorted(keys) == ["P001", "P002", "P003", "P004", "P005"]  # P003 was skipped on the first pass
    assert platform.requests == 3 + 3


class OnePage:
    def __init__(self, body: dict[str, Any]) -> None:
        self.body = body

    def get(self, url: str, **_: Any) -> requests.Response:
        return reply(self.body)


@pytest.mark.parametrize("odd", [None, "oops", [1], {"permitNo": "P009", "version": [2]}])
def test_a_record_of_any_json_shape_is_fetched_for_the_parser_to_quarantine(odd: Any) -> None:
    # two alike that are no objects are not one record read twice (they have no identity to repeat)
    records = [record(1), odd] + ([] if isinstance(odd, dict) else [odd])
    body = {"code": 0, "page": 1, "total": len(records), "totalPages": 1, "records": records}
    (page,) = fetch_pages(OnePage(body), "http://x/permits", updated_since=None)  # type: ignore[arg-type]
    assert page.records == records
    parsed = parse_page(page.content, raw_file="page")
    assert 1 in parsed.quarantine.column("record_index").to_pylist()  # the odd record, with its reason


@pytest.mark.parametrize(("key", "value"), [("page", "1/3"), ("total", "未知"), ("totalPages", 1.5)])
def test_paging_counts_that_are_no_numbers_refuse_the_page_clearly(key: str, value: Any) -> None:
    body = {"code": 0, "page": 1, "total": 1, "totalPages": 1, "records": [record(1)], key: value}
    with pytest.raises(FetchError, match=f"{key} .* is not a whole number"):
        fetch_pages(OnePage(body), "http://x/permits", updated_since=None)  # type: ignore[arg-type]
    with pytest.raises(PermitPageError, match="is not a whole number"):
        parse_page(json.dumps(body, ensure_ascii=False).encode(), raw_file="saved.json")
