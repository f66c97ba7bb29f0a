"""The simulated province's enterprises: one deterministic source for permits, credit, master data, loggers."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import re
import types
import zipfile

import openpyxl.packaging.core
import openpyxl.writer.excel
import pytest

from ecocloud.simulator.enterprise_feeds import (
    CreditUpstream,
    MasterUpstream,
    PermitsUpstream,
    credit_xlsx,
    master_points_csv,
)
from ecocloud.simulator.enterprises import simulated_sources
from ecocloud.simulator.server import Request, Resource, Response, SimClock, Upstream
from ingest.hj212.devices import DeviceRegistry
from schemas.region_codes import JIANGXI_PREFECTURES
from transforms.identifiers import is_valid_uscc

ANCHOR = dt.date(2026, 11, 20)
S = simulated_sources(0, ANCHOR)


def credit_xlsx_at(monkeypatch: pytest.MonkeyPatch, when: dt.datetime, year: int) -> bytes:
    """credit_xlsx with the wall clock at ``when`` for what reads it while the file is written:
    openpyxl's document created/modified times and zipfile's entry times."""

    class Frozen(dt.datetime):
        @classmethod
        def now(cls, tz: dt.tzinfo | None = None) -> Frozen:
            return cls.fromtimestamp(when.timestamp(), tz)

    clock = types.SimpleNamespace(datetime=Frozen, timezone=dt.timezone)
    with monkeypatch.context() as m:
        m.setattr(openpyxl.packaging.core, "datetime", clock)
        m.setattr(openpyxl.writer.excel, "datetime", clock)
        m.setattr(
            zipfile, "time", types.SimpleNamespace(time=when.timestamp, localtime=zipfile.time.localtime)
        )
        return credit_xlsx(S, year)


def get(upstream: Upstream, path: str, **query: str) -> Resource | Response | None:
    req = Request("GET", f"/{path}", {k: [v] for k, v in query.items()}, {})
    return upstream.handle(req, path.split("/", 1)[1])


def test_enterprises_are_plausible_and_their_usccs_validate() -> None:
    regulated = [e for e in S.enterprises if e.permits]
    assert 40 <= len(regulated) <= 80
    assert {e.industry_code for e in regulated} >= {"D4411", "C2221", "C2614", "D4620", "C3120"}
    invalid = [e.uscc for e in S.enterprises if not is_valid_uscc(e.uscc)]
    assert invalid == [S.faults.invalid_uscc]  # the one early code; every other code validates
    # registered under a county of a Jiangxi prefecture (a county filter finds them), every
    # prefecture's counties in turn
    assert {e.region_code[:4] + "00" for e in S.enterprises} <= set(JIANGXI_PREFECTURES)
    assert all(e.region_code[4:] != "00" for e in S.enterprises)
    assert len({e.region_code for e in S.enterprises}) > len({e.region_code[:4] for e in S.enterprises})
    assert all(e.uscc[2:8] == e.region_code for e in S.enterprises)  # positions 3–8: registration region
    assert len({e.uscc for e in S.enterprises}) == len(S.enterprises)
    assert len({e.name for e in S.enterprises}) == len(S.enterprises)
    for e in regulated:
        assert all(v.permit_no == e.uscc + "001P" for v in e.permits)
        assert [v.version for v in e.permits] == list(range(1, len(e.permits) + 1))


def test_monitoring_points_and_device_registry_compatibility() -> None:
    points = S.monitoring_points
    assert all(re.fullmatch(r"[0-9A-F]{24}", p.mn) for p in points)
    assert len({p.mn for p in points}) == len(points)
    assert [p.mn for p in points if not p.registered] == [S.faults.unregistered_mn]
    registry = DeviceRegistry.from_rows(S.device_rows())
    assert len(registry) == len(points)
    assert all("fails the GB 32100 check" in w for w in registry.warnings)  # only the invalid-USCC works
    dev = registry.get(points[0].mn)
    assert dev is not None and (dev.uscc, dev.outlet_code, dev.region_code) == (
        points[0].uscc,
        points[0].outlet_code,
        points[0].region_code,
    )
    served = list(csv.DictReader(io.StringIO(master_points_csv(S).decode("utf-8-sig"))))
    assert S.faults.unregistered_mn not in {r["mn"] for r in served}
    assert "password" not in served[0]  # secrets stay with the receiver's device file


def test_deterministic_from_seed_and_anchor(monkeypatch: pytest.MonkeyPatch) -> None:
    again = simulated_sources.__wrapped__(0, ANCHOR)  # bypass the cache
    assert again == S
    other = simulated_sources.__wrapped__(1, ANCHOR)
    assert {e.uscc for e in other.enterprises} != {e.uscc for e in S.enterprises}
    later = simulated_sources.__wrapped__(0, ANCHOR + dt.timedelta(days=30))
    assert [e.uscc for e in later.enterprises] == [e.uscc for e in S.enterprises]  # same firms, shifted dates
    # byte-stable XLSX: the same bytes when written at two different wall-clock times (openpyxl's
    # document times and the zip entry times would differ; credit_xlsx pins both)
    year = S.credit_years[1]
    a = credit_xlsx_at(monkeypatch, dt.datetime(2025, 1, 2, 3, 4, 5, tzinfo=dt.UTC), year)
    b = credit_xlsx_at(monkeypatch, dt.datetime(2026, 7, 8, 9, 10, 17, tzinfo=dt.UTC), year)
    assert a == b


def test_faults_are_where_the_docstring_says() -> None:
    f = S.faults
    revoked = S.enterprise(f.revoked_permit[:18]).permits
    assert [v.status for v in revoked] == ["valid", "revoked"] and revoked[-1].effective_date == ANCHOR
    expired = S.enterprise(f.expired_permit[:18]).permits
    assert len(expired) == 1 and expired[0].valid_to < ANCHOR
    renewed = S.enterprise(f.renewed_permit[:18]).permits
    assert renewed[1].version_type == "延续" and renewed[1].valid_from == renewed[0].valid_to + dt.timedelta(
        days=1
    )
    renamed = S.enterprise(f.renamed_uscc)
    assert renamed.former_name and renamed.name_at(dt.datetime(2026, 11, 1)) == renamed.former_name
    assert renamed.name_at(dt.datetime(2026, 11, 20)) == renamed.name
    assert not is_valid_uscc(f.credit_typo[0]) and is_valid_uscc(f.credit_typo[1])
    assert all(not S.enterprise(u).in_registry and not S.enterprise(u).permits for u in f.credit_only)
    uscc, outlet = f.unpermitted_outlet
    assert outlet not in {o.code for v in S.enterprise(uscc).permits for o in v.outlets}
    assert "（集团）" in f.bracket_name


def test_permit_api_paging_filter_and_errors() -> None:
    clock = SimClock(dt.datetime(2026, 11, 20, 9))
    api = PermitsUpstream(S, clock)
    first = get(api, "permits/api/v1/permits", page_size="10")
    assert isinstance(first, Resource)
    body = json.loads(first.body)
    total = body["total"]
    assert body["totalPages"] == -(-total // 10) and len(body["records"]) == 10
    keys = []
    for page in range(1, body["totalPages"] + 1):
        r = get(api, "permits/api/v1/permits", page_size="10", page=str(page))
        assert isinstance(r, Resource)
        keys += [(x["updatedAt"], x["permitNo"], x["version"]) for x in json.loads(r.body)["records"]]
    assert keys == sorted(keys) and len(set(keys)) == total
    # the revocation is published at 10:00 on the anchor day
    assert all(k[1] != S.faults.revoked_permit or k[2] == 1 for k in keys)
    clock.set(dt.datetime(2026, 11, 20, 10, 0))
    r = get(api, "permits/api/v1/permits", updated_since="2026-11-20T10:00:00+08:00")
    assert isinstance(r, Resource)
    assert [(x["permitNo"], x["status"]) for x in json.loads(r.body)["records"]] == [
        (S.faults.revoked_permit, "revoked")
    ]
    for bad in ({"page": "0"}, {"page_size": "501"}, {"updated_since": "yesterday"}, {"page": "x"}):
        answer = get(api, "permits/api/v1/permits", **bad)
        assert isinstance(answer, Response) and answer.status == 400
    assert get(api, "permits/api/v2/other") is None


def test_credit_and_master_follow_the_clock() -> None:
    early = SimClock(dt.datetime(2025, 1, 1))
    listing = get(CreditUpstream(S, early), "credit/index.json")
    assert isinstance(listing, Resource) and json.loads(listing.body) == {"files": []}
    now = SimClock(dt.datetime(2026, 11, 20, 12))
    listing = get(CreditUpstream(S, now), "credit/index.json")
    assert isinstance(listing, Resource)
    assert [f["format"] for f in json.loads(listing.body)["files"]] == ["csv", "xlsx"]
    before = get(MasterUpstream(S, SimClock(dt.datetime(2026, 11, 16))), "master/enterprises.csv")
    after = get(MasterUpstream(S, now), "master/enterprises.csv")
    assert isinstance(before, Resource) and isinstance(after, Resource)
    renamed = S.enterprise(S.faults.renamed_uscc)
    assert renamed.former_name and renamed.former_name in before.body.decode("utf-8-sig")
    assert renamed.name in after.body.decode("utf-8-sig")
    assert after.last_modified is not None and before.last_modified is not None
    assert after.last_modified > before.last_modified
