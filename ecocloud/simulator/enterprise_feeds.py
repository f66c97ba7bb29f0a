"""The simulated enterprise-side upstreams: permit platform API, credit result files, master-data CSVs.

All three render :func:`ecocloud.simulator.enterprises.simulated_sources` and follow the simulator
clock (Beijing): nothing is visible before it was published.

* ``/permits/api/v1/permits?updated_since=…&page=…&page_size=…`` — paged JSON, one record per
  permit version, ordered by (updatedAt, permitNo, version); contract in ``docs/permit-api.md``.
* ``/credit/index.json`` — the published result files; ``/credit/files/<name>``: Jiangxi's latest
  year as XLSX (title row, Chinese headers, five levels 环保诚信企业 … 环保严重失信企业) and the
  year before as CSV (GB18030, other headers, 绿牌 … 黑牌).
* ``/master/index.json``, ``/master/enterprises.csv``, ``/master/monitoring_points.csv`` — the
  registries the data engineers maintain (UTF-8 with BOM, as Excel saves it).

Every body is deterministic for a given clock reading (XLSX included: fixed zip and document
times), so ETags are stable and a client that refetches lands nothing new.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import re
import zipfile
from collections.abc import Sequence
from typing import Any

from ecocloud.simulator.enterprises import (
    CREDIT_LABELS_CSV,
    CREDIT_LABELS_XLSX,
    Enterprise,
    PermitVersion,
    SimulatedSources,
    simulated_sources,
)
from ecocloud.simulator.server import Request, Resource, Response, SimClock, Upstream
from schemas.clock import BEIJING

__all__ = [
    "CreditUpstream",
    "MasterUpstream",
    "PermitsUpstream",
    "credit_csv",
    "credit_xlsx",
    "enterprise_upstreams",
    "master_enterprises_csv",
    "master_points_csv",
    "permit_record",
]

_JSON = "application/json; charset=utf-8"
MAX_PAGE_SIZE = 500
DEFAULT_PAGE_SIZE = 100


def _iso(t: dt.datetime) -> str:
    return t.replace(tzinfo=BEIJING).isoformat()


def _day(d: dt.date | None) -> str | None:
    return d.isoformat() if d else None


def _number(value: float | None) -> float | int | None:
    if value is None:
        return None
    return int(value) if float(value).is_integer() else value


# ------------------------------------------------------------------------------------- permits
def permit_record(v: PermitVersion, e: Enterprise) -> dict[str, Any]:
    """One permit version as the platform publishes it (docs/permit-api.md)."""
    return {
        "permitNo": v.permit_no,
        "version": v.version,
        "versionType": v.version_type,
        "entName": v.enterprise_name,
        "creditCode": e.uscc,
        "industryCode": e.industry_code,
        "industryName": e.industry_name,
        "regionCode": e.region_code,
        "address": e.address,
        "validFrom": _day(v.valid_from),
        "validTo": _day(v.valid_to),
        "issueOrg": v.issue_org,
        "issueDate": _day(v.issue_date),
        "effectiveDate": _day(v.effective_date),
        "status": v.status,
        "statusDate": _day(v.status_date),
        "updatedAt": _iso(v.published_at),
        "outlets": [
            {
                "outletCode": o.code,
                "outletName": o.name,
                "outletType": "主要排放口" if o.main else "一般排放口",
                "longitude": o.longitude,
                "latitude": o.latitude,
                "pollutants": [
                    {
                        "pollutantCode": lim.code,
                        "pollutantName": lim.name,
                        "limitValue": lim.value,
                        "unit": lim.unit,
                        "standard": lim.standard,
                        "o2Reference": _number(lim.o2_reference_pct),
                        "annualLimitT": _number(lim.annual_limit_t),
                    }
                    for lim in o.limits
                ],
            }
            for o in v.outlets
        ],
    }


def _error(status: int, message: str) -> Response:
    body = json.dumps({"code": status, "msg": message}, ensure_ascii=False).encode()
    return Response(status, body, _JSON)


def _parse_since(text: str) -> dt.datetime:
    """ISO 8601; without an offset it is Beijing time. Returns naive Beijing."""
    t = dt.datetime.fromisoformat(text.strip().replace(" ", "T").replace("Z", "+00:00"))
    return t.astimezone(BEIJING).replace(tzinfo=None) if t.tzinfo else t


class PermitsUpstream:
    """The permit platform's public records API (docs/permit-api.md)."""

    prefix = "permits"

    def __init__(self, sources: SimulatedSources, clock: SimClock) -> None:
        self.sources = sources
        self.clock = clock
        self._by_uscc = {e.uscc: e for e in sources.enterprises}

    def handle(self, request: Request, subpath: str) -> Resource | Response | None:
        if subpath != "api/v1/permits":
            return None
        q = {k: v[-1] for k, v in request.query.items() if v}
        try:
            since = _parse_since(q["updated_since"]) if q.get("updated_since") else None
        except ValueError:
            return _error(400, f"updated_since is not an ISO 8601 time: {q.get('updated_since')!r}")
        try:
            page = int(q.get("page", "1"))
            size = int(q.get("page_size", str(DEFAULT_PAGE_SIZE)))
        except ValueError:
            return _error(400, "page and page_size must be integers")
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return _error(400, f"page ≥ 1 and 1 ≤ page_size ≤ {MAX_PAGE_SIZE}")
        now = self.clock.now()
        versions = [
            v for v in self.sources.permit_versions(until=now) if since is None or v.published_at >= since
        ]
        chunk = versions[(page - 1) * size : page * size]
        body = {
            "code": 0,
            "msg": "success",
            "page": page,
            "pageSize": size,
            "total": len(versions),
            "totalPages": math.ceil(len(versions) / size),
            "records": [permit_record(v, self._by_uscc[v.permit_no[:18]]) for v in chunk],
        }
        text = json.dumps(body, ensure_ascii=False, separators=(",", ":"))
        last = max((v.published_at for v in versions), default=None)
        return Resource(text.encode(), _JSON, last)


# -------------------------------------------------------------------------------------- credit
_FIXED_ZIP_TIME = (2020, 1, 1, 0, 0, 0)


def _deterministic_xlsx(data: bytes, at: dt.datetime) -> bytes:
    """Pin the document times openpyxl stamps at save and the zip entry times."""
    stamp = at.replace(tzinfo=BEIJING).astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                body = re.sub(rb"(<dcterms:(created|modified)[^>]*>)[^<]*", rb"\g<1>" + stamp.encode(), body)
            dst.writestr(zipfile.ZipInfo(info.filename, _FIXED_ZIP_TIME), body, zipfile.ZIP_DEFLATED)
    return out.getvalue()


def _rated(sources: SimulatedSources, year: int) -> list[tuple[Enterprise, str]]:
    return [(e, lvl) for e in sources.enterprises for y, lvl in e.credit if y == year]


def credit_xlsx(sources: SimulatedSources, year: int) -> bytes:
    """Jiangxi's results for ``year`` as the province publishes them: a title row, then the table."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.title = f"{year}年度评价结果"
    ws.append([f"江西省{year}年度企业环境信用评价结果"])
    ws.merge_cells("A1:G1")
    ws.append(["序号", "设区市", "县（市、区）", "企业名称", "统一社会信用代码", "评价等级", "备注"])
    for i, (e, level) in enumerate(_rated(sources, year), start=1):
        name = e.name_at(sources.credit_published[1])
        if name == sources.faults.bracket_name:  # typed by hand: half-width brackets and a space
            name = name.replace("（", " (").replace("）", ")")
        ws.append([i, f"{e.city}市", "", name, e.uscc, CREDIT_LABELS_XLSX[level], ""])
    buf = io.BytesIO()
    wb.save(buf)
    return _deterministic_xlsx(buf.getvalue(), sources.credit_published[1])


def credit_csv(sources: SimulatedSources, year: int) -> bytes:
    """Jiangxi's results for ``year`` as a GB18030 CSV with other header names and level labels."""
    typo, real = sources.faults.credit_typo
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["序号", "企业名称", "社会信用代码", "所属地区", "信用等级"])
    for i, (e, level) in enumerate(_rated(sources, year), start=1):
        name = e.name_at(sources.credit_published[0])
        w.writerow([i, name, typo if e.uscc == real else e.uscc, f"{e.city}市", CREDIT_LABELS_CSV[level]])
    return buf.getvalue().encode("gb18030")


class CreditUpstream:
    """Provincial credit result files and their listing."""

    prefix = "credit"

    def __init__(self, sources: SimulatedSources, clock: SimClock) -> None:
        self.sources = sources
        self.clock = clock
        csv_year, xlsx_year = sources.credit_years
        csv_at, xlsx_at = sources.credit_published
        # name -> (year, published, format)
        self.files = {
            f"jiangxi_credit_{xlsx_year}.xlsx": (xlsx_year, xlsx_at, "xlsx"),
            f"jiangxi_credit_{csv_year}.csv": (csv_year, csv_at, "csv"),
        }
        self._cache: dict[str, bytes] = {}

    def _body(self, name: str) -> bytes:
        if name not in self._cache:
            year, _, fmt = self.files[name]
            render = credit_xlsx if fmt == "xlsx" else credit_csv
            self._cache[name] = render(self.sources, year)
        return self._cache[name]

    def handle(self, request: Request, subpath: str) -> Resource | Response | None:
        now = self.clock.now()
        visible = {n: f for n, f in self.files.items() if f[1] <= now}
        if subpath in ("", "index.json"):
            listing = {
                "files": [
                    {
                        "name": name,
                        "url": f"files/{name}",
                        "province": "江西省",
                        "province_code": "360000",
                        "year": year,
                        "format": fmt,
                        "published_at": _iso(at),
                    }
                    for name, (year, at, fmt) in sorted(visible.items(), key=lambda kv: kv[1][1])
                ]
            }
            last = max((f[1] for f in visible.values()), default=None)
            return Resource(json.dumps(listing, ensure_ascii=False, indent=1).encode(), _JSON, last)
        name = subpath.removeprefix("files/")
        if not subpath.startswith("files/") or name not in visible:
            return None
        fmt = self.files[name][2]
        ctype = (
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
            if fmt == "xlsx"
            else "text/csv; charset=gb18030"
        )
        return Resource(self._body(name), ctype, self.files[name][1])


# -------------------------------------------------------------------------------------- master
def master_enterprises_csv(sources: SimulatedSources, at: dt.datetime) -> bytes:
    """The enterprise registry as maintained at ``at`` (Beijing)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["uscc", "enterprise_name", "region_code", "industry_code", "industry_name", "address"])
    for e in sources.enterprises:
        if e.registered_at(at):
            w.writerow([e.uscc, e.name_at(at), e.region_code, e.industry_code, e.industry_name, e.address])
    return buf.getvalue().encode("utf-8-sig")


def master_points_csv(sources: SimulatedSources) -> bytes:
    """The monitoring-point registry (the unregistered replacement logger is missing, as in the field)."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["mn", "uscc", "outlet_code", "region_code", "point_name", "pollutants"])
    for p in sources.monitoring_points:
        if p.registered:
            w.writerow([p.mn, p.uscc, p.outlet_code, p.region_code, p.name, ";".join(p.pollutants)])
    return buf.getvalue().encode("utf-8-sig")


class MasterUpstream:
    """Where the data engineers publish the registries they maintain."""

    prefix = "master"
    FILES = ("enterprises.csv", "monitoring_points.csv")

    def __init__(self, sources: SimulatedSources, clock: SimClock) -> None:
        self.sources = sources
        self.clock = clock
        self.since = dt.datetime.combine(sources.anchor - dt.timedelta(days=400), dt.time(9))

    def _changed(self, now: dt.datetime) -> dt.datetime:
        """The latest registry change at or before ``now``."""
        changes = [self.since] + [
            t for e in self.sources.enterprises for t in (e.renamed_at, e.registry_until) if t and t <= now
        ]
        return max(changes)

    def handle(self, request: Request, subpath: str) -> Resource | Response | None:
        now = self.clock.now()
        if now < self.since:
            return None
        if subpath in ("", "index.json"):
            listing = {"files": [{"name": n, "url": n, "kind": n.removesuffix(".csv")} for n in self.FILES]}
            return Resource(json.dumps(listing, indent=1).encode(), _JSON, self.since)
        if subpath == "enterprises.csv":
            changed = self._changed(now)
            return Resource(master_enterprises_csv(self.sources, changed), "text/csv; charset=utf-8", changed)
        if subpath == "monitoring_points.csv":
            return Resource(master_points_csv(self.sources), "text/csv; charset=utf-8", self.since)
        return None


def enterprise_upstreams(
    *, seed: int, anchor: dt.date, clock: SimClock, sources: SimulatedSources | None = None
) -> Sequence[Upstream]:
    """The permit, credit and master-data upstreams of one simulated province, for ``SimulatorApp.mount``
    (``sources``: a province other than ``simulated_sources(seed, anchor)``, e.g. a risk scenario's)."""
    sources = sources or simulated_sources(seed, anchor)
    return (PermitsUpstream(sources, clock), CreditUpstream(sources, clock), MasterUpstream(sources, clock))
