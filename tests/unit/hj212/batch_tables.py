"""Comparing two ParsedBatch results row for row (the fast and the reference path, two chunkings)."""

from __future__ import annotations

import pyarrow as pa

from ingest.hj212.batch import ParsedBatch

SORT = {
    "packets": ["offset"],
    "readings": ["offset", "pollutant_code", "stat"],
    "quarantine": ["offset"],
}


def comparable(table: pa.Table) -> pa.Table:
    """Dictionary columns as plain values (Arrow sorts no dictionary) and timestamps as int64 µs
    (years before 1 do not convert to Python)."""
    fields = []
    for f in table.schema:
        t = f.type.value_type if pa.types.is_dictionary(f.type) else f.type
        fields.append(f.with_type(pa.int64() if pa.types.is_timestamp(t) else t))
    return table.cast(pa.schema(fields))


def assert_same(a: ParsedBatch, b: ParsedBatch) -> None:
    """The same counts, reasons, schemas and rows (in ``SORT``'s key order); a difference is named
    by table, column and the first rows that differ."""
    assert (a.lines, a.accepted, a.quarantined) == (b.lines, b.accepted, b.quarantined)
    assert a.reasons == b.reasons
    for name, keys in SORT.items():
        assert getattr(a, name).schema == getattr(b, name).schema, name
        x = comparable(getattr(a, name)).sort_by([(k, "ascending") for k in keys])
        y = comparable(getattr(b, name)).sort_by([(k, "ascending") for k in keys])
        if x.equals(y):
            continue
        for col in x.column_names:
            u, v = x.column(col).to_pylist(), y.column(col).to_pylist()
            diff = [
                (i, p, q) for i, (p, q) in enumerate(zip(u, v, strict=True)) if p != q or repr(p) != repr(q)
            ]
            assert not diff, (name, col, diff[:3])
