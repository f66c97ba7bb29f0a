"""Text a spreadsheet would read as a formula is prefixed with ' in the CSV files we write (the CLI's
and the web app's downloads alike); a sign alone is not a formula and stays as written."""

from __future__ import annotations

import csv
import io

import duckdb
import pyarrow as pa

from ecocloud.spreadsheet import csv_text
from ecocloud.web.downloads import rows_sql
from schemas.registry import get_table

CELLS = ["-", "+", "-1", "=1+1", "+cmd|' /C calc'!A0", "@SUM(A1)", "mg/L", "无量纲"]
WRITTEN = ["-", "+", "'-1", "'=1+1", "'+cmd|' /C calc'!A0", "'@SUM(A1)", "mg/L", "无量纲"]


def test_the_cli_s_csv_prefixes_formulas_and_leaves_a_lone_sign() -> None:
    """A permit's pH limit has the unit "-": the CSV wrote it as '- (a stray apostrophe in the cell)."""
    text = csv_text(["limit_unit"], [[c] for c in CELLS])
    assert [row[0] for row in csv.reader(io.StringIO(text))][1:] == WRITTEN


def test_the_web_download_s_query_does_the_same() -> None:
    table = get_table("core_permit__outlet_limits")
    con = duckdb.connect()
    written = []
    for cell in CELLS:
        rows = pa.Table.from_pylist([{"limit_unit": cell}], schema=table.empty().schema)
        con.register(table.name, rows)
        ((unit,),) = con.execute(f"SELECT limit_unit FROM ({rows_sql(table, 'csv', 'true')})").fetchall()
        written.append(unit)
    assert written == WRITTEN
