"""Segment files (record format, rotation, crash recovery, listing by close time) and devices."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ingest.hj212.devices import DeviceRegistry, uscc_check_ok
from ingest.hj212.segments import SegmentWriter, iter_records, list_closed_segments, read_manifest

pytestmark = pytest.mark.unit

RAW = b"##0010QN=1;ST=32\r\n"


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


T0 = datetime(2024, 5, 1, 3, 0, 0, tzinfo=UTC).timestamp()  # 11:00 Beijing


def test_record_format_keeps_raw_bytes_exact(tmp_path: Path) -> None:
    w = SegmentWriter(tmp_path, "r1", clock=Clock(T0))
    odd = b"no newline \t tab \r\n inside\x00"
    w.write_batch([(T0 + 0.5, "ok", "127.0.0.1:5000", RAW), (T0 + 0.75, "line_too_long", "::1:7", odd)])
    path = w.current_path
    assert path is not None
    assert path.name == "r1-20240501T030000-000000.h212.open"
    assert path.parent.name == "date=2024-05-01"
    assert path.read_bytes().startswith(
        b"2024-05-01T03:00:00.500000Z\tok\t127.0.0.1:5000\t18\t" + RAW + b"\n"
    )
    recs = list(iter_records(path))
    assert [(r.status, r.peer, r.raw) for r in recs] == [
        ("ok", "127.0.0.1:5000", RAW),
        ("line_too_long", "::1:7", odd),
    ]
    assert recs[1].received_at == datetime(2024, 5, 1, 3, 0, 0, 750000, tzinfo=UTC)
    closed = w.close()
    assert closed is not None
    assert closed.name == "r1-20240501T030000-000000.h212"
    m = read_manifest(closed)
    assert (m["records"], m["bytes"], m["receiver_id"], m["kind"]) == (2, closed.stat().st_size, "r1", "data")


def test_beijing_date_partition(tmp_path: Path) -> None:
    t = datetime(2024, 4, 30, 16, 30, tzinfo=UTC).timestamp()  # 00:30 on 1 May in Beijing
    w = SegmentWriter(tmp_path, "r1", clock=Clock(t))
    w.write_batch([(t, "ok", "p", RAW)])
    assert w.current_path is not None
    assert w.current_path.parent.name == "date=2024-05-01"


def test_rotation_by_size_time_and_date(tmp_path: Path) -> None:
    clock = Clock(T0)
    w = SegmentWriter(tmp_path, "r1", rotate_seconds=300, rotate_bytes=200, clock=clock)
    for _ in range(6):
        w.write_batch([(clock.t, "ok", "p", RAW)])
    assert len(w.closed) == 1  # 55-byte records, 200-byte segments: 3 per segment
    clock.t += 301
    w.maybe_rotate()
    assert len(w.closed) == 2
    assert w.current_path is None
    assert all(p.stat().st_size <= 200 for p in w.closed)
    assert [len(list(iter_records(p))) for p in w.closed] == [3, 3]
    clock.t = datetime(2024, 5, 1, 15, 59, 59, tzinfo=UTC).timestamp()  # 23:59:59 Beijing
    w.write_batch([(clock.t, "ok", "p", RAW)])
    clock.t += 2  # Beijing midnight: next record goes to a new segment in date=2024-05-02
    w.write_batch([(clock.t, "ok", "p", RAW)])
    assert w.current_path is not None
    assert w.current_path.parent.name == "date=2024-05-02"
    assert w.closed[-1].parent.name == "date=2024-05-01"


def test_recover_truncates_torn_tail_and_closes(tmp_path: Path) -> None:
    clock = Clock(T0)
    w = SegmentWriter(tmp_path, "r1", clock=clock)
    w.write_batch([(T0, "ok", "p", RAW), (T0, "ok", "p", RAW)])
    path = w.current_path
    assert path is not None
    with path.open("ab") as fh:  # a crash in the middle of a write
        fh.write(b"2024-05-01T03:00:01.000000Z\tok\tp\t18\t##00")
    w.release()  # the crashed process's lock goes with it
    other = SegmentWriter(tmp_path, "r2", clock=clock)  # another receiver's open file is not touched
    other.write_batch([(T0, "ok", "p", RAW)])
    clock.t = T0 + 3600
    w2 = SegmentWriter(tmp_path, "r1", clock=clock)
    (recovered,) = w2.recover()
    assert recovered.name == "r1-20240501T030000-000000.h212"
    assert [r.raw for r in iter_records(recovered)] == [RAW, RAW]
    m = read_manifest(recovered)
    assert m["recovered"] is True
    assert m["closed_at"] == "2024-05-01T04:00:00.000000Z"
    assert other.current_path is not None
    assert other.current_path.exists()
    # the new writer does not reuse the recovered name
    w2.write_batch([(clock.t, "ok", "p", RAW)])
    assert w2.current_path is not None
    assert w2.current_path.name != "r1-20240501T030000-000000.h212.open"


def test_list_closed_segments_by_close_time(tmp_path: Path) -> None:
    clock = Clock(T0)
    w = SegmentWriter(tmp_path, "r1", clock=clock)
    for step in range(3):  # segments opened at T0, T0+10min, T0+20min, each closed 5 min later
        clock.t = T0 + step * 600
        w.write_batch([(clock.t, "ok", "p", RAW)])
        clock.t += 300
        w.close()
    base = datetime.fromtimestamp(T0, UTC)
    first = list_closed_segments(tmp_path, base, base + timedelta(minutes=10))
    assert [s.closed_at for s in first] == [base + timedelta(minutes=5)]
    second = list_closed_segments(tmp_path, base + timedelta(minutes=10), base + timedelta(minutes=30))
    assert [s.closed_at for s in second] == [base + timedelta(minutes=15), base + timedelta(minutes=25)]
    assert all(s.records == 1 for s in second)
    assert list_closed_segments(tmp_path, base, base + timedelta(hours=1), receiver_id="other") == []
    with pytest.raises(ValueError, match="aware"):
        list_closed_segments(tmp_path, datetime(2024, 1, 1), datetime(2024, 1, 2))


def test_receiver_id_is_validated(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="receiver_id"):
        SegmentWriter(tmp_path, "a-b")


def test_device_registry_csv_and_json(tmp_path: Path) -> None:
    csv_path = tmp_path / "d.csv"
    csv_path.write_text(
        "\ufeffmn,password,uscc,outlet_code,region_code,name\n"
        "MN1,pw1,91350200776049653A,DA001,360100,某公司\n"
        "MN2,pw2,91350200776049653B,DW001,52220,\n",
        encoding="utf-8",
    )
    reg = DeviceRegistry.load(csv_path)
    assert len(reg) == 2
    assert reg.mode == "registered"
    dev = reg.get("MN1")
    assert dev is not None
    assert (dev.uscc, dev.outlet_code, dev.region_code, dev.name) == (
        "91350200776049653A",
        "DA001",
        "360100",
        "某公司",
    )
    assert reg.check("MN1", "pw1") is None
    assert reg.check("MN1", "bad") == "bad_pw"
    assert reg.check("MNX", "pw1") == "unknown_mn"
    assert reg.check(None, None) == "unknown_mn"
    assert any("GB 32100" in w for w in reg.warnings)
    assert any("6 digits" in w for w in reg.warnings)
    json_path = tmp_path / "d.json"
    json_path.write_text(json.dumps({"devices": [{"mn": "MN3", "password": "p"}]}), encoding="utf-8")
    reg2 = DeviceRegistry.load(json_path, "open")
    assert (reg2.mode, reg2.check("MN3", "p")) == ("open", None)


def test_uscc_check_character() -> None:
    assert uscc_check_ok("91350200776049653A")  # DOMAIN.md §5 example, sum 1261 -> A
    assert not uscc_check_ok("91350200776049653B")
    assert not uscc_check_ok("9135020077604965")
