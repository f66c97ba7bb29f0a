"""The section registry CSV that data engineers maintain: headers, spellings, refusals."""

from __future__ import annotations

import pytest

from ingest.water.parse import section_id
from ingest.water.sections import SectionRegistryError, parse_sections_csv


def test_registry_with_chinese_headers_and_every_target_spelling() -> None:
    text = (
        "省份,流域,断面名称,断面类型,水质目标,行政区划代码,经度,纬度,所在水体\n"
        "江苏省,太湖流域,拖山,湖泊,Ⅲ类,320200,120.1,31.4,太湖\n"
        "浙江省,浙闽片河流,小金山,湖库,III,330100,,,西湖\n"
        "江西省,长江流域,柘林水库,水库,2,360400,115.4,29.2,修河\n"
        "江西省,长江流域,南昌下游,河流,3,,,,\n"
    )
    reg = parse_sections_csv(text.encode("gb18030")).to_pylist()  # as Excel saves it
    by_name = {r["section_name"]: r for r in reg}
    assert by_name["拖山"]["section_type"] == "lake" and by_name["拖山"]["target_class"] == 3
    assert by_name["小金山"]["section_type"] == "lake" and by_name["小金山"]["longitude"] is None
    assert by_name["柘林水库"]["section_type"] == "reservoir" and by_name["柘林水库"]["target_class"] == 2
    assert by_name["南昌下游"]["section_type"] == "river" and by_name["南昌下游"]["water_body"] is None
    assert by_name["拖山"]["section_id"] == section_id("江苏省", "太湖流域", "拖山")


def test_a_broken_registry_is_refused_with_every_problem() -> None:
    text = (
        "province,basin,section_name,section_type,target_class,region_code,longitude\n"
        "江西省,长江流域,A,pond,3,360100,116\n"
        "江西省,长江流域,B,river,VI,36010,200\n"
        "江西省,长江流域,A,river,3,,\n"
        "江西省,长江流域,B,river,0,,\n"  # a repeat with a problem of its own: both are listed
    )
    with pytest.raises(SectionRegistryError) as err:
        parse_sections_csv(text.encode())
    message = str(err.value)
    for expected in ("line 2: section_type 'pond'", "line 3: target_class 'VI'", "line 3: region_code", "line 3: longitude 200.0 outside", "line 4: 江西省|长江流域|A already on line 2", "line 5: 江西省|长江流域|B already on line 3", "line 5: target_class '0'"):  # fmt: skip
        assert expected in message
    with pytest.raises(SectionRegistryError, match="required columns missing"):
        parse_sections_csv(b"province,basin,section_name\n")
