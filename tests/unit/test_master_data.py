"""Master data: registry CSV parsing, snapshot history (SCD2) and the join-quality report."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from ingest.master import MasterFileError, kind_of, normalize_pollutants, parse_master_csv
from transforms.master_join import CHECKS, INPUTS, join_report
from transforms.scd2 import snapshot_history

UTC = dt.UTC
T1, T2, T3, T4 = (dt.datetime(2026, 11, d, 1, tzinfo=UTC) for d in (1, 2, 3, 4))


def test_registry_files_are_told_apart_by_header() -> None:
    ent = "\ufeffuscc,enterprise_name,region_code\n91350200776049653A,甲公司,350200\n".encode()
    pts = b"mn,uscc,outlet_code,region_code\nABC,X,DA001,360100\n"
    chinese = "统一社会信用代码,企业名称\n91350200776049653A,甲公司\n".encode("gb18030")
    assert (kind_of(ent), kind_of(pts), kind_of(chinese)) == (
        "enterprises",
        "monitoring_points",
        "enterprises",
    )
    with pytest.raises(MasterFileError):
        kind_of(b"a,b\n1,2\n")


def test_points_file_rows_flags_and_quarantine() -> None:
    text = (
        "mn,uscc,outlet_code,region_code,point_name,pollutants\n"
        "010000A8900016F000169DC0,91350200776049653A,da001,360100,1#炉,a21026; 03 ;a21026|S01\n"
        "SHORT-MN,91350200776049653A,DW001,360100,总排口,w01018\n"
        ",91350200776049653A,DW002,360100,无MN,\n"
        "010000A8900016F000169DC0,91350200776049653A,DA002,360100,重复,\n"
        "\n"
    )
    p = parse_master_csv(text.encode(), raw_file="raw/m.csv")
    rows = p.rows.to_pylist()
    assert [r["mn"] for r in rows] == ["010000A8900016F000169DC0", "SHORT-MN"]
    assert [r["mn_standard"] for r in rows] == [True, False]  # flagged, kept
    assert rows[0]["outlet_code"] == "DA001"
    assert rows[0]["pollutants"] == "a21026,a21002,a19001"  # 2005 codes 03, S01 mapped; deduplicated
    assert [(q["line_no"], q["reason"]) for q in p.quarantine.to_pylist()] == [
        (4, "no mn"),
        (5, "duplicate mn: already on line 2"),
    ]
    assert p.counts == {"rows_read": 4, "rows": 2, "quarantined": 2, "blank": 1}
    assert normalize_pollutants("") is None


def test_codes_typed_full_width_are_the_codes_and_names_keep_their_form() -> None:
    """A registry typed with a full-width input method: its MN must match the packets', its outlet the
    permit's, its pollutant codes the readings'."""
    text = (
        "mn,uscc,outlet_code,region_code,point_name,pollutants\n"
        "０１００００Ａ８９０００１６Ｆ０００１６９ＤＣ０,91350200776049653A,ＤＡ００１,３６０１００,１＃炉（东）,"
        "ａ２１０２６；ａ２１００２\n"
    )
    (row,) = parse_master_csv(text.encode(), raw_file="raw/m.csv").rows.to_pylist()
    assert (row["mn"], row["mn_standard"]) == ("010000A8900016F000169DC0", True)
    assert (row["outlet_code"], row["region_code"]) == ("DA001", "360100")
    assert row["pollutants"] == "a21026,a21002"
    assert row["point_name"] == "１＃炉（东）"  # a name, as written


def test_an_enterprise_s_industry_code_as_the_standard_writes_it() -> None:
    text = "uscc,enterprise_name,industry_code\n91350200776049653A,测试污水处理有限公司,4620\n"
    (row,) = parse_master_csv(text.encode(), raw_file="raw/e.csv").rows.to_pylist()
    assert row["industry_code"] == "D4620"  # the national default limits of sewage plants match it


def test_an_enterprise_whose_uscc_a_spreadsheet_wrote_in_e_notation_has_no_key() -> None:
    """9.13601E+17 is what Excel saved of two different codes: neither may become a key (the second
    was quarantined as the first's duplicate); both are quarantined saying why."""
    text = "统一社会信用代码,企业名称\r\n9.13601E+17,甲化工有限公司\r\n9.13601e+17,乙水泥有限公司\r\n"
    p = parse_master_csv(text.encode("gbk"), raw_file="enterprises.csv")
    assert p.rows.num_rows == 0
    reasons = p.quarantine.column("reason").to_pylist()
    assert len(reasons) == 2 and all("E notation" in r and "digits are lost" in r for r in reasons)


def test_an_enterprise_written_twice_in_other_forms_is_a_duplicate() -> None:
    """The build compares USCCs normalised (case, full-width, spaces): a second spelling of one is a
    duplicate here, not a second row of the same key there (which blocked the whole registry)."""
    text = (
        "uscc,enterprise_name,region_code\n"
        "91350200776049653A,甲公司,350200\n"
        "91350200776049653a,甲公司（小写）,350200\n"
        "９１３５０２００７７６０４９６５３Ａ,甲公司（全角）,350200\n"
        "9135 0200 7760 4965 3A,甲公司（空格）,350200\n"
    )
    p = parse_master_csv(text.encode(), raw_file="raw/e.csv")
    assert [r["enterprise_name"] for r in p.rows.to_pylist()] == ["甲公司"]
    assert [(q["line_no"], q["key"], q["reason"]) for q in p.quarantine.to_pylist()] == [
        (3, "91350200776049653a", "duplicate uscc: already on line 2"),
        (4, "９１３５０２００７７６０４９６５３Ａ", "duplicate uscc: already on line 2"),
        (5, "9135 0200 7760 4965 3A", "duplicate uscc: already on line 2"),
    ]
    assert p.counts == {"rows_read": 4, "rows": 1, "quarantined": 3, "blank": 0}


def test_a_dash_for_a_uscc_is_no_uscc_not_a_key() -> None:
    """Firms without a USCC written with a dash: each is quarantined for having none, not published
    under the key "-" (nor the second called a duplicate of the first)."""
    text = "uscc,enterprise_name\n-,甲个体户\n-,乙个体户\n—,丙个体户\n91350200776049653A,丁公司\n"
    p = parse_master_csv(text.encode(), raw_file="raw/e.csv")
    assert [r["enterprise_name"] for r in p.rows.to_pylist()] == ["丁公司"]
    assert [(q["line_no"], q["key"], q["reason"]) for q in p.quarantine.to_pylist()] == [
        (2, "-", "no uscc"),
        (3, "-", "no uscc"),
        (4, "—", "no uscc"),
    ]


def test_a_repeated_header_and_a_totals_row_are_not_enterprises() -> None:
    """Two exports pasted into one file repeat the header; a sum line closes a table. Neither became
    an enterprise keyed 统一社会信用代码 or 合计."""
    text = (
        "\ufeff统一社会信用代码,企业名称,行政区划代码\n"
        "91350200776049653A,甲公司,350200\n"
        "统一社会信用代码,企业名称,行政区划代码\n"
        "91360700705512345X,乙公司,360700\n"
        "\ufeffuscc,enterprise_name,region_code,\n"  # another export's header, its BOM and a trailing comma
        "合 计,2家,\n"
    )
    p = parse_master_csv(text.encode(), raw_file="raw/e.csv")
    assert [r["enterprise_name"] for r in p.rows.to_pylist()] == ["甲公司", "乙公司"]
    assert [(q["line_no"], q["reason"]) for q in p.quarantine.to_pylist()] == [
        (3, "the header row again"),
        (5, "the header row again"),
        (6, "a totals row (合 计)"),
    ]


def _snapshot(rows: list[tuple[str, str]], at: dt.datetime) -> pa.Table:
    return pa.table(
        {
            "k": [r[0] for r in rows],
            "name": [r[1] for r in rows],
            "raw_file": [f"raw/{at:%d}" for _ in rows],
            "snapshot_at": pa.array([at] * len(rows), pa.timestamp("us", "UTC")),
        }
    )


def test_snapshot_history_opens_closes_and_reopens_versions() -> None:
    rows = pa.concat_tables(
        [
            _snapshot([("a", "甲"), ("b", "乙")], T1),
            _snapshot([("a", "甲"), ("b", "乙二")], T2),  # b renamed
            _snapshot([("b", "乙二")], T3),  # a dropped
            _snapshot([("a", "甲"), ("b", "乙二")], T4),  # a back
        ]
    )
    out = snapshot_history(rows, [T1, T2, T3, T4], key="k", attributes=["name"]).to_pylist()
    got = [(r["k"], r["name"], r["valid_from"], r["valid_to"], r["is_current"], r["raw_file"]) for r in out]
    assert got == [
        ("a", "甲", T1, T3, False, "raw/01"),
        ("a", "甲", T4, None, True, "raw/04"),
        ("b", "乙", T1, T2, False, "raw/01"),
        ("b", "乙二", T2, None, True, "raw/02"),
    ]
    # an empty last snapshot closes everything
    out = snapshot_history(rows, [T1, T2, T3, T4, T4 + dt.timedelta(days=1)], key="k", attributes=["name"])
    assert not any(out["is_current"].to_pylist())


# ---- join report on tiny inline tables --------------------------------------------------------
E1, E2 = "91350200776049653A", "913502007760496530"  # E2 fails the check


def _t(**cols: list) -> pa.Table:
    return pa.table(cols)


def _inputs(packets: pa.Table | None) -> dict[str, pa.Table | None]:
    ts = pa.timestamp("us", "UTC")
    long_ago, soon = dt.datetime(2020, 1, 1, tzinfo=UTC), dt.datetime(2030, 1, 1, tzinfo=UTC)
    return {
        "enterprises": _t(
            uscc=[E1, E1, E2],
            uscc_valid=[True, True, False],
            uscc_problem=[None, None, "check_char"],
            enterprise_name=["甲旧名", "甲新名", "乙"],
            enterprise_name_norm=["甲旧名", "甲新名", "乙"],
            is_current=[False, True, True],
        ),
        "points": _t(
            mn=["M1", "M2", "M3"],
            uscc=[E1, E1, "91XXXXXXXXXXXXXXXX"],
            uscc_valid=[True, True, False],
            outlet_code=["DA001", "DW009", "DA001"],
            is_current=[True, True, True],
        ),
        "permits": _t(
            permit_no=[E1 + "001P"],
            uscc=[E1],
            uscc_valid=[True],
            uscc_problem=pa.array([None], pa.string()),
            enterprise_name=["甲新名"],
            enterprise_name_norm=["甲新名"],
            status=["valid"],
            permit_valid_to=[dt.date(2029, 12, 31)],
            valid_from=pa.array([long_ago], ts),
            in_force_from=pa.array([long_ago], ts),
            in_force_to=pa.array([soon], ts),
            is_current=[True],
        ),
        "outlets": _t(
            uscc=[E1],
            outlet_code=["DA001"],
            in_force_from=pa.array([long_ago], ts),
            in_force_to=pa.array([soon], ts),
        ),
        "credit": _t(  # a year's list in two batches: row 4 of each has no USCC
            province_code=["360000"] * 4,
            year=[2025] * 4,
            raw_file=[*[f"raw/credit/a/{FIRST_BATCH}"] * 3, f"raw/credit/b/{SECOND_BATCH}"],
            sheet=[""] * 4,
            row_no=[2, 3, 4, 4],
            uscc=[E1, "91350200776049653B", None, None],
            uscc_valid=[True, False, False, False],
            uscc_problem=[None, "check_char", "missing", "missing"],
            enterprise_name=["甲旧名", "乙", "丙", "丁"],
            enterprise_name_norm=["甲旧名", "乙", "丙", "丁"],
        ),
        "packets": packets,
    }


FIRST_BATCH, SECOND_BATCH = "江西省2025年度结果（第一批）.1f0c.csv", "江西省2025年度结果（第二批）.9a2e.csv"


def test_join_report_items_and_summaries() -> None:
    at = dt.datetime(2026, 11, 20, tzinfo=UTC)
    report = join_report(_inputs(pa.table({"mn": ["M1", "M9"], "packets": [10, 7]})), at=at).to_pylist()
    summary = {
        r["check_name"]: (r["occurrences"], r["checked"]) for r in report if r["row_kind"] == "summary"
    }
    assert set(summary) == {c.name for c in CHECKS}
    items = {(r["check_name"], r["subject_key"]): r for r in report if r["row_kind"] == "item"}
    assert items[("mn_unregistered", "M9")]["occurrences"] == 7
    assert items[("outlet_without_permit", "M2")]["detail"] == f"outlet DW009 is not on permit {E1}001P"
    assert (
        items[("outlet_without_permit", "M3")]["detail"] == "outlet DA001: no discharge permit for this USCC"
    )
    assert ("point_uscc_unmatched", "M3") in items
    assert (
        "the registry has this name under " + E2
        in items[("credit_uscc_unmatched", f"360000/2025/91350200776049653B {FIRST_BATCH} #3")]["detail"]
    )
    for batch, name in ((FIRST_BATCH, "丙"), (SECOND_BATCH, "丁")):  # one item each, not a duplicate key
        assert items[("credit_uscc_unmatched", f"360000/2025/(none) {batch} #4")]["detail"].startswith(name)
    assert items[("name_mismatch", f"360000/2025/{E1} {FIRST_BATCH} #2")]["detail"].endswith(
        "(a former name: renamed)"
    )
    invalid = {k for (c, k) in items if c == "uscc_invalid"}
    assert invalid == {E2, "M3", "91350200776049653B", "(missing)"}
    assert summary["mn_unregistered"] == (1, True)
    assert summary["permit_uscc_unmatched"] == (0, True)


def test_missing_inputs_are_reported_not_checked() -> None:
    at = dt.datetime(2026, 11, 20, tzinfo=UTC)
    inputs = _inputs(None)
    report = join_report(inputs, at=at).to_pylist()
    mn = next(r for r in report if r["check_name"] == "mn_unregistered")
    assert (mn["row_kind"], mn["checked"], mn["occurrences"]) == ("summary", False, 0)
    assert "core_source__packets not in the lake yet" in mn["detail"]
    inputs["credit"] = inputs["credit"].slice(0, 0)  # type: ignore[union-attr]
    report = join_report(inputs, at=at).to_pylist()
    assert not any(r["check_name"] == "credit_uscc_unmatched" and r["row_kind"] == "item" for r in report)
    assert set(INPUTS) == set(inputs)


def test_a_utf8_file_with_a_gbk_line_is_refused_not_garbled() -> None:
    """A row pasted in from a GBK file: the file is refused naming the line (as GB18030 it decoded
    without an error, every name garbled)."""
    rows = ["uscc,enterprise_name", "91350200776049653A,江西化工有限公司", "91360100641893144E,南昌水务集团"]
    data = b"\n".join([r.encode() for r in rows] + ["91360100641893144F,赣州稀土集团".encode("gbk")])
    with pytest.raises(MasterFileError, match=r"mixed encodings: .*\(line 4\)"):
        parse_master_csv(data, raw_file="raw/e.csv")
    gbk = parse_master_csv("\n".join(rows).encode("gb18030"), raw_file="raw/e.csv")  # one encoding: read
    assert [r["enterprise_name"] for r in gbk.rows.to_pylist()] == ["江西化工有限公司", "南昌水务集团"]


def test_a_logger_whose_mn_a_spreadsheet_wrote_in_e_notation_has_no_key() -> None:
    """An all-digit MN in a number cell: 3.30211E+23 for two loggers, neither a key; a hex MN that
    merely starts with a digit and an E is one."""
    text = (
        "mn,uscc,outlet_code\n"
        "3.30211E+23,91350200776049653A,DA001\n"
        "3.30211E+23,91350200776049653A,DA002\n"
        "1E1234567890123456789012,91350200776049653A,DW001\n"
    )
    p = parse_master_csv(text.encode(), raw_file="raw/m.csv")
    assert [r["mn"] for r in p.rows.to_pylist()] == ["1E1234567890123456789012"]
    assert [
        r.startswith("mn 3.30211E+23 is a number in E notation") for r in p.quarantine["reason"].to_pylist()
    ] == [
        True,
        True,
    ]
