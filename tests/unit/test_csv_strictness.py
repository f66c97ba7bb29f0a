"""CSV registries and lists read strictly: a quote that never closes is a file error naming the file
and line, and a quoted cell spread over lines (which hides the lines inside it) is refused or
quarantined with its lines, never swallowed silently."""

from __future__ import annotations

import datetime as dt

import pytest

from ingest.air.parse import AirFileError, parse_station_list
from ingest.credit.parse import CreditFileError, ParsedCredit, parse_credit_file
from ingest.master import MasterFileError, parse_master_csv
from ingest.water.sections import SectionRegistryError, parse_sections_csv
from transforms.identifiers import uscc_check_char

NOW = dt.datetime(2026, 9, 21, 1, tzinfo=dt.UTC)


def _uscc(region: str, body: str) -> str:
    first17 = "91" + region + body
    return first17 + uscc_check_char(first17)


JX1, JX2, JX3 = _uscc("360100", "MA35F7Q12"), _uscc("360700", "705512345"), _uscc("361100", "MA39XX011")
E1, E2, E3 = _uscc("350200", "776049653"), _uscc("360700", "705512341"), _uscc("360100", "MA35F7Q19")


# ------------------------------------------------------------------------------------------ master
def test_master_unclosed_quote_refuses_the_file_naming_file_and_line() -> None:
    text = (
        "uscc,enterprise_name,region_code\n"
        f"{E1},甲公司,350200\n"
        f'{E2},"乙公司,360700\n'  # the quote never closes: every later line would become this cell
        f"{E3},丙公司,360100\n"
    )
    with pytest.raises(MasterFileError, match=r"raw/e\.csv: line 3: .*quote"):
        parse_master_csv(text.encode(), raw_file="raw/e.csv")


def test_master_record_spread_over_lines_refuses_the_snapshot() -> None:
    """A full snapshot missing the records a quoted line break hides would end their history: refused."""
    text = (
        "uscc,enterprise_name,region_code\n"
        f'{E1},"甲公司,350200\n'  # closes on the next line: 乙 would vanish inside 甲's name
        f'{E2},乙公司",360700\n'
        f"{E3},丙公司,360100\n"
    )
    with pytest.raises(MasterFileError, match=r"raw/e\.csv: refused as a snapshot: .*line break: lines 2-3"):
        parse_master_csv(text.encode(), raw_file="raw/e.csv")


def test_master_header_spread_over_lines_is_refused() -> None:
    text = f'uscc,enterprise_name,"region_code\n{E1},甲公司,350200"\n{E2},乙公司,360700\n'
    with pytest.raises(MasterFileError, match=r"raw/e\.csv: .*lines 1-2"):
        parse_master_csv(text.encode(), raw_file="raw/e.csv")


# ------------------------------------------------------------------------------------------ credit
def _credit(text: str, name: str = "jiangxi_credit_2025.csv") -> ParsedCredit:
    return parse_credit_file(text.encode(), file_name=name, raw_file="raw/x", received_at=NOW)


def test_credit_unclosed_quote_refuses_the_file_naming_file_and_line() -> None:
    text = (
        "序号,企业名称,统一社会信用代码,信用等级\n"
        f'1,"江西甲化工有限公司,{JX1},绿牌\n'
        f"2,江西乙化工有限公司,{JX2},红牌\n"  # the red rating that vanished into row 1's name
    )
    with pytest.raises(CreditFileError, match=r"jiangxi_credit_2025\.csv: line 2: .*quote"):
        _credit(text)


def test_credit_quoted_cell_over_lines_is_quarantined_and_later_rows_read() -> None:
    text = (
        "序号,企业名称,统一社会信用代码,信用等级\n"
        f'1,"江西甲化工有限公司,{JX1},绿牌\n'
        f'2,江西乙化工有限公司",{JX2},红牌\n'
        f"3,江西丙化工有限公司,{JX3},黑牌\n"
    )
    p = _credit(text)
    assert [(r["enterprise_name"], r["level"]) for r in p.rows.to_pylist()] == [
        ("江西丙化工有限公司", "black")
    ]
    [q] = p.quarantine.to_pylist()
    assert q["row_no"] == 2 and "lines 2-3" in q["reason"] and "line break" in q["reason"]
    assert JX2 in q["raw_value"]  # the hidden rating is in the quarantine, not lost
    assert p.counts["rows_read"] == p.counts["rows_kept"] + p.counts["rows_quarantined"] == 2


def test_credit_header_spread_over_lines_is_refused() -> None:
    """An optional column's name spread over lines still leaves a header; the rating in it is lost."""
    text = (
        f'序号,企业名称,统一社会信用代码,信用等级,"所属地区\n1,江西甲化工有限公司,{JX1},绿牌,南昌市"\n'
        f"2,江西乙化工有限公司,{JX2},红牌,九江市\n"
    )
    with pytest.raises(CreditFileError, match=r"header.*lines 1-2"):
        _credit(text)


# ------------------------------------------------------------------------------- section registry
_SECTIONS_HEADER = "province,basin,section_name,section_type,target_class,water_body\n"


def test_section_registry_unclosed_quote_is_refused_with_its_line() -> None:
    text = _SECTIONS_HEADER + '江西省,长江流域,A,river,3,"赣江\n江西省,长江流域,B,river,3,赣江\n'
    with pytest.raises(SectionRegistryError, match=r"line 2: .*quote"):
        parse_sections_csv(text.encode())


def test_section_registry_quoted_cell_over_lines_is_refused_with_its_lines() -> None:
    text = _SECTIONS_HEADER + '江西省,长江流域,A,river,3,"赣江\n江西省,长江流域,B,river,3,赣江"\n'
    with pytest.raises(SectionRegistryError, match=r"line break: lines 2-3 read as one section"):
        parse_sections_csv(text.encode())


# ----------------------------------------------------------------------------- air station list
_STATIONS_HEADER = "监测点编码,监测点名称,城市,经度,纬度,对照点\n"


def test_station_list_unclosed_quote_is_a_file_error_with_its_line() -> None:
    text = _STATIONS_HEADER + '1001A,"万寿西宫,北京,116.36,39.87,N\n1002A,定陵,北京,116.22,40.29,Y\n'
    with pytest.raises(AirFileError, match=r"station list: line 2: .*quote"):
        parse_station_list(text.encode())


def test_station_list_quoted_cell_over_lines_is_a_file_error_with_its_lines() -> None:
    text = _STATIONS_HEADER + '1001A,"万寿西宫,北京,116.36,39.87,N\n1002A,定陵",北京,116.22,40.29,Y\n'
    with pytest.raises(AirFileError, match=r"station list: .*line break: lines 2-3 read as one station"):
        parse_station_list(text.encode())
