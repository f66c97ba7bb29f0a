"""Every reason the HJ 212 code writes into quarantine_source__packets has a Chinese and an English
label in the registry (schemas.source.QUARANTINE_REASONS): the ingestion page showed the raw codes
(bad_header, bad_pw …) on the Chinese page. The parser and the batch parser are driven with rejecting
inputs here (parse_line's every reason: test_hj212_protocol.py's REJECT_CASES; the receiver's:
tests/integration/hj212/test_hj212_receiver_limits.py; the source build's: its integration tests);
ingest.hj212.protocol refuses to load with a reason the registry does not label."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
from pathlib import Path

import pytest
from test_hj212_protocol import REJECT_CASES

from ingest.hj212 import protocol
from ingest.hj212.batch import ParsedBatch, parse_capture, parse_segment
from ingest.hj212.protocol import build_frame, build_packet, parse_line
from ingest.hj212.segments import SegmentWriter
from schemas.clock import BEIJING
from schemas.source import QUARANTINE_REASONS

pytestmark = pytest.mark.unit

MN = "88883600000000000000014D"
DAY = dt.date(2026, 11, 20)


def _written(batch: ParsedBatch) -> set[str]:
    return set(batch.quarantine.column("reason").to_pylist())


def test_every_registered_reason_has_a_chinese_and_an_english_label() -> None:
    chinese, english = QUARANTINE_REASONS.in_language("zh"), QUARANTINE_REASONS.in_language("en")
    assert len(QUARANTINE_REASONS) >= 28
    for reason in QUARANTINE_REASONS:
        assert chinese[reason] and chinese[reason] != reason, reason
        # in English a code without an English label falls back to its Chinese one
        assert english[reason] and english[reason] != chinese[reason], reason


def test_every_missing_field_the_parser_names_has_a_label() -> None:
    fields = {
        "QN": "20261120080100123", "ST": "32", "CN": "2011", "PW": "123456", "MN": MN, "Flag": "5",
    }  # fmt: skip
    cp = "CP=&&DataTime=20261120080000;w01018-Rtd=1.0&&"

    def line(**changes: str | None) -> bytes:
        header = {k: v for k, v in (fields | changes).items() if v is not None}
        return build_frame(";".join(f"{k}={v}" for k, v in header.items()) + ";" + cp)

    lines = [line(**{name: None}) for name in ("QN", "ST", "CN", "PW", "MN")]
    lines += [line(Flag="7"), line(Flag="7", PNUM="2")]
    lines.append(build_frame(";".join(f"{k}={v}" for k, v in fields.items())))  # no CP
    reasons = set()
    for raw in lines:
        result = parse_line(raw)
        assert isinstance(result, protocol.Reject), raw
        reasons.add(result.reason)
    assert reasons == {f"missing_field:{n}" for n in ("QN", "ST", "CN", "PW", "MN", "PNUM", "PNO", "CP")}
    assert reasons <= set(QUARANTINE_REASONS)


@pytest.mark.parametrize("fast", [True, False])
def test_every_reason_the_batch_parser_writes_for_a_capture_is_registered(fast: bool) -> None:
    """Every damaged line parse_line rejects, a data packet without DataTime and a later part of a
    split packet without its first part, through the vectorised and the reference path."""
    no_datatime = build_packet(qn="20261120080100123", st="32", cn="2011", mn=MN, flag=4, cp="")
    orphan = build_packet(
        qn="20261120100000002",
        st="32",
        cn="2061",
        mn=MN,
        flag=7,
        pnum=2,
        pno=2,
        items={"w21003": {"Avg": 9.9}},
    )
    damaged = [line for _, line in REJECT_CASES]
    data = b"".join([*damaged, no_datatime, orphan])
    batch = parse_capture(data, segment="cap", default_date=DAY, fast=fast)
    batch.check()
    written = _written(batch)
    assert {"no_datatime", "split_no_datatime", "crc_mismatch", "bad_datatime"} <= written
    assert written <= set(QUARANTINE_REASONS)


def test_the_reason_for_a_packet_dated_ahead_of_its_receipt_is_registered(tmp_path: Path) -> None:
    got = dt.datetime(2026, 11, 20, 10, 0, tzinfo=BEIJING)
    ahead = build_packet(
        qn="20271120100000001", st="32", cn="2011", mn=MN, flag=5,
        data_time=got.replace(year=2027), items={"w01018": {"Rtd": 1.0}},
    )  # fmt: skip
    writer = SegmentWriter(tmp_path, "r1", clock=got.timestamp)
    writer.write_batch([(got.timestamp(), "ok", "10.0.0.1:5000", ahead)])
    path = writer.close()
    assert path is not None
    written = _written(parse_segment(path.read_bytes(), segment=path.name, default_date=DAY))
    assert written == {"data_time_ahead_of_receipt"} and written <= set(QUARANTINE_REASONS)


def test_a_reason_the_registry_does_not_label_stops_the_protocol_module_from_loading() -> None:
    """Without bad_pw's label the receiver's reason constant would write an unlabelled code: the
    module refuses to load, naming the reason."""
    probe = (
        "from types import MappingProxyType\n"
        "import schemas.hj212_codes as codes\n"
        "codes.QUARANTINE_REASON_LABELS = MappingProxyType(\n"
        "    {k: v for k, v in codes.QUARANTINE_REASON_LABELS.items() if k != 'bad_pw'})\n"
        "import ingest.hj212.protocol\n"
    )
    run = subprocess.run(
        [sys.executable, "-c", probe], check=False, capture_output=True, text=True, timeout=60
    )
    assert run.returncode != 0
    assert "ValueError: quarantine reason 'bad_pw' has no Chinese and English label" in run.stderr
