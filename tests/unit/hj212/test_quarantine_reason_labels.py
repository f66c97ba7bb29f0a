"""Every reason the HJ 212 code can write into quarantine_source__packets has a label in the registry
(schemas.source.QUARANTINE_REASONS): the ingestion page showed the raw codes (bad_header, bad_pw …)
on the Chinese page. A reason added to the parser, the receiver, the batch parser or the source
build without a label fails here."""

from __future__ import annotations

import ast
import inspect
from types import ModuleType

import pytest

from ecocloud.builds import sources as source_builds
from ingest.hj212 import batch, protocol, receiver, segments
from ingest.hj212.protocol import build_frame, parse_line
from schemas.source import QUARANTINE_REASONS

pytestmark = pytest.mark.unit

MN = "88883600000000000000014D"
# the calls building a reject, by the position of their reason (a receiver's ``forced=`` one too)
_REJECTING_CALLS = {"Reject": 0, "_reject": 0, "salvaged_reject": 0, "_auth_reject": 1}


def _unlabelled(reasons: set[str]) -> list[str]:
    return sorted(r for r in reasons if not QUARANTINE_REASONS.in_language("zh").get(r))


def _reasons_in_calls(module: ModuleType) -> set[str]:
    """The reasons ``module`` builds a reject with, as a literal or a constant it names."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(inspect.getsource(module))):
        if not isinstance(node, ast.Call):
            continue
        name = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        at = _REJECTING_CALLS.get(name)
        given = [node.args[at]] if at is not None and len(node.args) > at else []
        given += [k.value for k in node.keywords if k.arg == "forced"]
        for arg in given:
            if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                found.add(arg.value)
            elif isinstance(arg, ast.Name) and isinstance(getattr(module, arg.id, None), str):
                found.add(getattr(module, arg.id))
            elif isinstance(arg, ast.Attribute) and isinstance(getattr(protocol, arg.attr, None), str):
                found.add(getattr(protocol, arg.attr))  # proto.SPLIT_NO_DATATIME
    return found


def test_every_reason_the_hj212_code_gives_has_a_chinese_and_an_english_label() -> None:
    written = set(protocol.REJECT_REASONS) - {protocol.MISSING_FIELD}  # that one as missing_field:<name>
    for module in (protocol, batch, receiver, segments, source_builds):
        written |= _reasons_in_calls(module)
    assert _unlabelled(written) == []
    english = QUARANTINE_REASONS.in_language("en")
    assert all(english[r] != QUARANTINE_REASONS[r] for r in written)  # an English label each too


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
    assert _unlabelled(reasons) == []
