"""Credit result files: header mapping per province, level schemes and their order (DOMAIN.md §6)."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from openpyxl import Workbook

from ingest.credit.config import _load, province, provinces
from ingest.credit.fetch import CreditFile
from ingest.credit.parse import CreditFileError, ParsedCredit, map_level, parse_credit_file
from ingest.listing import ListedFile
from schemas.credit import SCHEMES
from transforms.identifiers import uscc_check_char

NOW = dt.datetime(2026, 9, 21, 1, tzinfo=dt.UTC)


def uscc(region: str, body: str) -> str:
    first17 = "91" + region + body
    return first17 + uscc_check_char(first17)


JX1, JX2, JX3 = uscc("360100", "MA35F7Q12"), uscc("360700", "705512345"), uscc("361100", "MA39XX011")
GZ1, GZ2 = uscc("520100", "MA6DK1234"), uscc("522700", "214400111")


def parse(data: bytes, name: str, **kw: Any) -> ParsedCredit:
    return parse_credit_file(data, file_name=name, raw_file="raw/x", received_at=NOW, **kw)


def xlsx(rows: list[list[object]], title: str = "说明") -> bytes:
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    for row in rows:
        ws.append(row)
    wb.create_sheet(title).append(["本表为评价结果", "请勿修改"])  # a sheet without a table
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def test_schemes_are_ordered_categories() -> None:
    jx, national, gz = SCHEMES["jiangxi-5"], SCHEMES["national-4"], SCHEMES["guizhou-4"]
    assert jx.codes == ("green", "blue", "yellow", "red", "black")
    assert [lvl.rank for lvl in jx.levels] == [1, 2, 3, 4, 5]  # 1 = best, black worst
    assert national.codes == gz.codes == ("green", "blue", "yellow", "red")
    assert "black" not in national.codes
    assert [lvl.label for lvl in national.levels] == ["环保诚信", "环保良好", "环保警示", "环保不良"]
    assert sorted(jx.codes, key=lambda c: jx.level(c).rank)[-1] == "black"


def test_jiangxi_xlsx_with_title_row_and_five_levels() -> None:
    data = xlsx(
        [
            ["江西省2025年度企业环境信用评价结果"],
            ["序号", "设区市", "县（市、区）", "企业名称", "统一社会信用代码", "评价等级", "备注"],
            [1, "南昌市", "", "江西甲化工（集团）有限公司", JX1, "环保诚信企业", None],
            [2.0, "赣州市", "", "江西乙纸业有限公司", JX2.lower(), "环保严重失信企业", None],
            [3, "上饶市", "", "江西丙水泥有限公司", JX3, "环保良好企业 ", None],
            [4, "上饶市", "", "江西丁有限公司", JX3, "优秀企业", None],  # not a Jiangxi label
            [5, "上饶市", "", "", JX3, "环保警示企业", None],  # no name
            ["注：评价结果有效期一年。"],  # a note below the table
        ]
    )
    p = parse(data, "jiangxi_credit_2025.xlsx")
    assert p.province is not None and p.province.key == "jiangxi"
    rows = p.rows.to_pylist()
    assert [(r["level"], r["level_rank"]) for r in rows] == [("green", 1), ("black", 5), ("blue", 2)]
    assert {r["scheme"] for r in rows} == {"jiangxi-5"} and {r["year"] for r in rows} == {2025}
    assert [r["region_code"] for r in rows] == ["360100", "360700", "361100"]
    assert [r["row_no"] for r in rows] == [3, 4, 5]
    assert rows[1]["uscc"] == JX2.lower()  # normalised and checked by the pipeline, not here
    q = p.quarantine.to_pylist()
    assert [(r["row_no"], r["reason"]) for r in q] == [
        (6, "level '优秀企业' is not a label of 江西省 (jiangxi-5)"),
        (7, "no enterprise name"),
        (1, "a sheet with no header row naming an enterprise-name and a level column"),
    ]
    assert (q[2]["sheet"], q[2]["raw_value"]) == ("说明", "本表为评价结果,请勿修改")  # evidence, not dropped
    assert p.counts == {
        "sheets_skipped": 1,
        "rows_skipped": 1,
        "rows_read": 6,
        "rows_kept": 3,
        "rows_quarantined": 3,
    }


def test_merged_cells_give_their_value_to_every_row_they_span() -> None:
    """A list merges a region (and here a level) over the rows of its enterprises; read-only openpyxl
    gives the value to the first row only, so the others lost their region or were quarantined."""
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["江西省2025年度企业环境信用评价结果"])
    ws.append(["序号", "设区市", "企业名称", "统一社会信用代码", "评价等级"])
    ws.append([1, "南昌市", "江西甲化工有限公司", JX1, "环保诚信企业"])
    ws.append([2, None, "江西乙纸业有限公司", JX2, None])
    ws.append([3, None, "江西丙水泥有限公司", JX3, "环保良好企业"])
    ws.append(["注：本名单自公布之日起生效"])
    ws.merge_cells("A1:E1")  # the title over the table
    ws.merge_cells("A6:E6")  # a note across the table: a note, not a rating with a bad level
    ws.merge_cells("B3:B5")
    ws.merge_cells("E3:E4")
    ws.merge_cells("A7:Z100")  # an empty range below the table fills nothing
    buf = io.BytesIO()
    wb.save(buf)
    p = parse(buf.getvalue(), "jiangxi_credit_2025.xlsx")
    rows = p.rows.to_pylist()
    assert [(r["enterprise_name"], r["region_code"], r["level"]) for r in rows] == [
        ("江西甲化工有限公司", "360100", "green"),
        ("江西乙纸业有限公司", "360100", "green"),
        ("江西丙水泥有限公司", "360100", "blue"),
    ]
    assert p.quarantine.num_rows == 0 and (p.counts["rows_read"], p.counts["rows_skipped"]) == (3, 1)


def test_a_merged_range_over_the_whole_sheet_fills_only_the_cells_there_are() -> None:
    """Hostile bytes: a merge of every cell Excel has (openpyxl itself would build 17 billion cells to
    write it) costs what the sheet's own cells cost."""
    import zipfile

    whole = io.BytesIO()
    with (
        zipfile.ZipFile(
            io.BytesIO(xlsx([["企业名称", "评价等级"], ["江西甲化工有限公司", "环保诚信企业"], ["乙"]]))
        ) as src,
        zipfile.ZipFile(whole, "w", zipfile.ZIP_DEFLATED) as out,
    ):
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/worksheets/sheet1.xml":
                merge = b'<mergeCells count="1"><mergeCell ref="B2:XFD1048576"/></mergeCells>'
                data = data.replace(b"</sheetData>", b"</sheetData>" + merge)
            out.writestr(item, data)
    p = parse(whole.getvalue(), "jiangxi_credit_2025.xlsx")
    assert [(r["enterprise_name"], r["level"]) for r in p.rows.to_pylist()] == [
        ("江西甲化工有限公司", "green"),
        ("乙", "green"),
    ]


def test_two_sheets_of_one_name_keep_their_rows_apart() -> None:
    """A workbook naming two sheets alike (Excel refuses it; other writers do not): each keeps its rows,
    under a name of its own, so no two ratings share a file, sheet and row."""
    import zipfile

    wb = Workbook()
    first = wb.active
    assert first is not None
    first.title = "名单"
    first.append(["企业名称", "评价等级"])
    first.append(["江西甲化工有限公司", "环保诚信企业"])
    second = wb.create_sheet("名单2")
    second.append(["企业名称", "评价等级"])
    second.append(["江西乙化工有限公司", "环保良好企业"])
    buf, renamed = io.BytesIO(), io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, zipfile.ZipFile(renamed, "w") as out:
        for item in src.infolist():
            data = src.read(item.filename)
            if item.filename == "xl/workbook.xml":
                data = data.replace('name="名单2"'.encode(), 'name="名单"'.encode())
            out.writestr(item, data)
    p = parse(renamed.getvalue(), "jiangxi_credit_2025.xlsx")
    assert [(r["sheet"], r["row_no"], r["enterprise_name"]) for r in p.rows.to_pylist()] == [
        ("名单", 2, "江西甲化工有限公司"),
        ("名单#2", 2, "江西乙化工有限公司"),
    ]


def test_jiangxi_csv_in_gb18030_with_other_headers_and_labels() -> None:
    text = "序号,企业名称,社会信用代码,所属地区,信用等级\r\n1,江西甲化工有限公司,{},南昌市,绿牌\r\n2,江西乙,{},九江市,黑牌\r\n"
    p = parse(text.format(JX1, JX2).encode("gb18030"), "jiangxi_credit_2024.csv")
    rows = p.rows.to_pylist()
    assert [(r["level"], r["level_label"], r["year"]) for r in rows] == [
        ("green", "绿牌", 2024),
        ("black", "黑牌", 2024),
    ]
    assert rows[1]["region_code"] == "360400" and rows[0]["sheet"] == ""


def test_guizhou_headers_four_levels_and_sub_grades() -> None:
    text = (
        "评价年度,市(州),被评价企业名称,统一社会信用代码,信用评价结果\n"
        f"2025,贵阳市,贵州甲公司,{GZ1},环保良好（B+）\n"
        f"2025,黔南布依族苗族自治州,贵州乙公司,{GZ2},环保诚信企业\n"
        f"2025,黔南州,贵州丙公司,{GZ2},环保严重失信企业\n"  # black is not a Guizhou level
    )
    p = parse(text.encode(), "2025年度评价结果.csv")  # no hint in the name: USCCs say Guizhou
    assert p.province is not None and p.province.key == "guizhou"
    rows = p.rows.to_pylist()
    assert [(r["level"], r["level_rank"], r["sub_grade"]) for r in rows] == [
        ("blue", 2, "B+"),
        ("green", 1, None),
    ]
    assert [r["region_code"] for r in rows] == ["520100", "522700"]
    assert {r["scheme"] for r in rows} == {"guizhou-4"}
    assert p.quarantine.num_rows == 1


def test_level_labels() -> None:
    jx, gz = province("jiangxi"), province("520000")
    assert map_level("环保诚信企业", jx) == ("green", None)
    assert map_level(" 环保诚信 ", jx) == ("green", None)
    assert map_level("黑牌", jx) == ("black", None)
    assert map_level("环保良好企业B级", gz) == ("blue", "B")
    assert map_level("环保警示(C)", gz) == ("yellow", "C")
    assert map_level("环保诚信企业企业", jx) is None
    assert map_level("黑牌", gz) is None


def test_province_and_year_must_be_known() -> None:
    text = f"企业名称,统一社会信用代码,评价等级\n江西甲,{JX1},绿牌\n".encode()
    no_year = parse(text, "results.csv")
    assert no_year.rows.num_rows == 0
    assert no_year.quarantine["reason"].to_pylist() == [
        "no evaluation year (none in the row, the file name or the title)"
    ]
    given = parse(text, "results.csv", year=2023, province=province("jiangxi"))
    assert given.rows["year"].to_pylist() == [2023]
    with pytest.raises(CreditFileError, match="header"):
        parse(b"a,b,c\n1,2,3\n", "jiangxi_2025.csv")
    mixed = f"企业名称,统一社会信用代码,评价等级\n甲,{JX1},绿牌\n乙,{GZ1},绿牌\n".encode()
    with pytest.raises(CreditFileError, match="province"):
        parse(mixed, "2025.csv")


def test_listing_metadata_goes_into_the_raw_name() -> None:
    f = ListedFile("http://x/files/results.xlsx", "results.xlsx")
    assert CreditFile(f, "360000", 2025).logical_name == "jiangxi_2025_results.xlsx"
    g = ListedFile("http://x/files/jiangxi_credit_2025.xlsx", "jiangxi_credit_2025.xlsx")
    assert CreditFile(g, "360000", 2025).logical_name == "jiangxi_credit_2025.xlsx"
    assert CreditFile(g).logical_name == "jiangxi_credit_2025.xlsx"


def test_configuration_is_checked_against_the_schemes(tmp_path: Path) -> None:
    assert {"jiangxi", "guizhou"} <= set(provinces())
    assert province("江西省").scheme == "jiangxi-5"
    bad = tmp_path / "p.toml"
    bad.write_text(
        '[provinces.x]\nprovince_code = "360000"\nscheme = "national-4"\n'
        '[provinces.x.columns]\nenterprise_name = ["企业名称"]\nlevel = ["等级"]\n'
        '[provinces.x.levels]\ngreen = ["a"]\nblue = ["b"]\nyellow = ["c"]\nred = ["d"]\nblack = ["e"]\n',
        encoding="utf-8",
    )
    with pytest.raises(ValueError, match="levels"):
        _load(bad)
    bad.write_text('[provinces.x]\nprovince_code = "1"\nscheme = "nope"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="scheme"):
        _load(bad)


def test_enterprises_listed_with_a_dash_for_their_uscc_keep_their_own_ratings() -> None:
    """Small firms without a USCC are listed with "—": the dash is no identity. A later file's late
    row for a third such firm must not take the place of the first two's ratings (as one "enterprise
    —" it did), nor may two of them in one file be one."""
    from ecocloud.builds.credit import newest_ratings
    from transforms.identifiers import normalize_name_array, with_uscc_flags

    head = "企业名称,统一社会信用代码,评价等级,评价年度\n"
    first = (
        head
        + f"甲个体户,—,环保警示企业,2023\n乙个体户,-,环保不良企业,2023\n丙公司,{uscc('3601', '00641893144')},环保诚信企业,2023\n"
    )
    later = head + f"丁公司,{uscc('3502', '00776049653')},环保诚信企业,2024\n己个体户,—,环保良好企业,2023\n"
    parsed = [
        parse(first.encode(), "江西省2023年度企业环境信用评价结果.csv"),
        parse_credit_file(
            later.encode(),
            file_name="江西省2024年度企业环境信用评价结果.csv",
            raw_file="later.csv",
            received_at=NOW + dt.timedelta(days=30),
        ),
    ]
    rows = with_uscc_flags(pa.concat_tables([p.rows for p in parsed]))
    rows = rows.append_column("enterprise_name_norm", normalize_name_array(rows.column("enterprise_name")))
    kept = newest_ratings(rows)
    assert kept.num_rows == rows.num_rows == 5
    by_name = {r["enterprise_name"]: r for r in kept.to_pylist()}
    assert {n: r["uscc"] for n, r in by_name.items() if "个体户" in n} == dict.fromkeys(
        ("甲个体户", "乙个体户", "己个体户"), None
    )
    assert by_name["乙个体户"]["level"] == parsed[0].rows.column("level")[1].as_py()


def _in_force(files: list[tuple[str, str, int]]) -> dict[str, str]:
    """Enterprise name → 2024 level in force after the (file name, CSV text, days after NOW received) files."""
    from ecocloud.builds.credit import newest_ratings
    from transforms.identifiers import normalize_name_array, with_uscc_flags

    parsed = [
        parse_credit_file(
            text.encode(), file_name=name, raw_file=f"raw/{n}", received_at=NOW + dt.timedelta(days=days)
        )
        for n, (name, text, days) in enumerate(files)
    ]
    rows = with_uscc_flags(pa.concat_tables([p.rows for p in parsed]))
    rows = rows.append_column("enterprise_name_norm", normalize_name_array(rows.column("enterprise_name")))
    kept = [r for r in newest_ratings(rows).to_pylist() if r["year"] == 2024]
    assert len({r["enterprise_name"] for r in kept}) == len(kept)
    return {r["enterprise_name"]: r["level"] for r in kept}


def test_a_list_published_in_batches_adds_up_and_a_corrected_batch_replaces_its_own() -> None:
    """Provinces publish a year's ratings in batches (第一批, 第二批 …): the second batch took the place
    of the first, and every enterprise rated only in the first lost its rating — a red-listed
    discharger looked unrated. Batches add up; an enterprise in two keeps the later batch's rating; a
    corrected batch replaces its own batch only; a batch stated in the title counts as in the name."""
    head = "企业名称,统一社会信用代码,评价等级\n"
    a, b, c = (f"{n}公司,{uscc('3601', body)}" for n, body in (("甲", "00641893144"), ("乙", "00776049653"),
                                                              ("丙", "00612345673")))  # fmt: skip
    first = (
        "江西省2024年度企业环境信用评价结果（第一批）.csv",
        head + f"{a},环保不良企业\n{b},环保诚信企业\n",
        0,
    )
    second = (
        "江西省2024年度企业环境信用评价结果（第二批）.csv",
        head + f"{c},环保警示企业\n{a},环保良好企业\n",
        10,
    )
    assert _in_force([first, second]) == {"甲公司": "blue", "乙公司": "green", "丙公司": "yellow"}
    corrected = (
        "江西省2024年度企业环境信用评价结果（第一批，更正）.csv",
        head + f"{a},环保不良企业\n{b},环保良好企业\n",
        20,
    )
    # the correction replaces batch 1 (乙 now blue); 甲 keeps the rating of the later batch
    assert _in_force([first, second, corrected]) == {"甲公司": "blue", "乙公司": "blue", "丙公司": "yellow"}
    titled = ("江西省2024年度结果.csv", "江西省2024年度企业环境信用评价结果 第二批\n" + second[1], 10)
    assert _in_force([first, titled]) == {"甲公司": "blue", "乙公司": "green", "丙公司": "yellow"}
    # no batch stated: a whole list, replaced by the next whole list of its year only
    whole, again = ("江西省2024年度结果.csv", first[1], 0), ("江西省2024年度结果（更正）.csv", second[1], 30)
    assert _in_force([whole, again]) == {"甲公司": "blue", "丙公司": "yellow"}
    assert _in_force([whole, second]) == {"甲公司": "blue", "乙公司": "green", "丙公司": "yellow"}
    # a whole year's list received after its batches rates anew the enterprises it names (甲 was
    # blue in batch 2); one received between them comes before the later batch
    consolidated = ("江西省2024年度企业环境信用评价结果汇总.csv", head + f"{a},环保诚信企业\n", 40)
    assert _in_force([first, second, consolidated]) == {
        "甲公司": "green",
        "乙公司": "green",
        "丙公司": "yellow",
    }
    between = (consolidated[0], consolidated[1], 5)
    assert _in_force([first, second, between])["甲公司"] == "blue"
    # a batch corrected after the whole list rates anew the enterprises it names
    corrected_second = (
        "江西省2024年度企业环境信用评价结果（第二批，更正）.csv",
        head + f"{a},环保警示企业\n",
        50,
    )
    assert _in_force([first, second, consolidated, corrected_second])["甲公司"] == "yellow"
    assert [r["list_batch"] for r in parse(second[1].encode(), second[0]).rows.to_pylist()] == [2, 2]
    # files land in any order (a folder lists 第三批 before 第二批): the later batch rates 甲, not the
    # file received last
    assert _in_force([(second[0], second[1], 0), (first[0], first[1], 10)])["甲公司"] == "blue"
    # a later year's list re-rating 甲 for 2024 (re-evaluated late) wins over 2024's batches, whatever
    # their numbers: batches are compared within one list's year
    late = ("江西省2025年度企业环境信用评价结果.csv", "企业名称,统一社会信用代码,评价等级,评价年度\n"
            f"{a},环保诚信企业,2024\n{c},环保诚信企业,2025\n{b},环保诚信企业,2025\n", 200)  # fmt: skip
    assert _in_force([first, second, late])["甲公司"] == "green"
    # 首批 is the first batch: its correction replaces it
    first_named = ("江西省2024年度首批企业环境信用评价结果.csv", first[1], 0)
    assert _in_force([first_named, corrected])["乙公司"] == "blue"


def test_a_batch_stated_in_a_workbook_s_first_title_is_the_whole_file_s() -> None:
    """The title row "…（第二批）" above the first sheet only: the second sheet's ratings are of the
    same batch — as "no batch" they stood for the year's whole list and replaced it."""
    wb = Workbook()
    first_sheet = wb.active
    first_sheet.title = "南昌市"
    first_sheet.append(["江西省2024年度企业环境信用评价结果（第二批）"])
    first_sheet.append(["企业名称", "统一社会信用代码", "评价等级"])
    first_sheet.append(["乙公司", uscc("3601", "00776049653"), "环保诚信企业"])
    second_sheet = wb.create_sheet("九江市")
    second_sheet.append(["企业名称", "统一社会信用代码", "评价等级"])
    second_sheet.append(["丙公司", uscc("3604", "00612345673"), "环保警示企业"])
    buf = io.BytesIO()
    wb.save(buf)
    rows = parse(buf.getvalue(), "江西省2024年度评价结果（续）.xlsx").rows.to_pylist()
    assert [(r["enterprise_name"], r["list_batch"]) for r in rows] == [("乙公司", 2), ("丙公司", 2)]


def test_the_evaluation_year_is_the_one_a_name_states_as_such() -> None:
    """A list published in 2024 rates 2023: the year written 年度 (or put before the name by a listing)
    is the evaluation year, not the first year in the name; given as 2023, that name needs no prefix."""
    text = "企业名称,评价等级\n甲公司,环保诚信企业\n".encode()
    name = "江西省2024年发布的2023年度企业环境信用评价结果.csv"
    assert parse(text, name).rows["year"].to_pylist() == [2023]
    listed = CreditFile(ListedFile("https://example.invalid/" + name, name), "jiangxi", 2023)
    assert listed.logical_name == name  # the name states 2023 already
    assert CreditFile(
        ListedFile("/x/江西省2024年发布的结果.csv", "江西省2024年发布的结果.csv"), "jiangxi", 2023
    ).logical_name == ("2023_江西省2024年发布的结果.csv")
    assert parse(text, "2023_江西省2024年发布的结果.csv").rows["year"].to_pylist() == [2023]
    # a listing that says 2024 for a name saying 2023年度: the listing's year, put before the name, wins
    contradicted = CreditFile(ListedFile("/x/" + name, name), "jiangxi", 2024).logical_name
    assert contradicted == "2024_" + name and parse(text, contradicted).rows["year"].to_pylist() == [2024]


def test_a_uscc_stored_as_a_number_is_flagged_as_one_not_passed_off_as_its_rounded_digits() -> None:
    """Excel keeps 15 significant digits: an all-digit USCC typed into a number cell comes back as
    913601001234567936. Written out in full it looked like a real code failing only its check
    character (the flag early legal codes carry too); it is a number, and flagged as one."""
    from transforms.identifiers import with_uscc_flags

    body = "91360100123456789"
    true = body + uscc_check_char(body)
    wb = Workbook()
    ws = wb.active
    assert ws is not None
    ws.append(["企业名称", "评价等级", "评价年度", "统一社会信用代码"])
    ws.append(["甲公司", "环保诚信企业", 2024, float(true)])  # a double: 15 significant digits
    ws.append(["乙公司", "环保良好企业", 2024, true])  # as text
    buf = io.BytesIO()
    wb.save(buf)
    parsed = parse_credit_file(
        buf.getvalue(), file_name="jiangxi_2024.xlsx", raw_file="r.xlsx", received_at=dt.datetime.now(dt.UTC)
    )
    rows = with_uscc_flags(parsed.rows).select(["enterprise_name", "uscc", "uscc_problem"]).to_pylist()
    assert rows[0]["uscc_problem"] == "number" and "E+17" in rows[0]["uscc"]
    assert rows[1] == {"enterprise_name": "乙公司", "uscc": true, "uscc_problem": None}
