"""Tables the platform itself publishes about its runs: quality results and processing ledger."""

from __future__ import annotations

from schemas.registry import Column, Layer, Sharing, Table, register

OWNER = "大数据中心 (big-data centre platform team)"

expectation_results = Table(
    name="quality_platform__expectation_results",
    layer=Layer.QUALITY,
    source="platform",
    title="Quality-gate results (数据质量检查结果)",
    description=(
        "One row per expectation evaluated on a partition by the Great Expectations quality gate. "
        "A failed blocking expectation stopped that partition from being published."
    ),
    columns=(
        Column("date", "date", "partition date checked (Beijing day)", nullable=False),
        Column("table_name", "string", "table checked", nullable=False),
        Column("run_id", "string", "gate run identifier", nullable=False),
        Column("validated_at", "timestamp", "when the gate ran (UTC)", nullable=False),
        Column("expectation", "string", "expectation type", nullable=False),
        Column("column_name", "string", "column(s) the expectation is about"),
        Column("severity", "string", "blocking or warning", allowed=("blocking", "warning"), nullable=False),
        Column("success", "bool", "whether the expectation held", nullable=False),
        Column("element_count", "int64", "rows checked"),
        Column("unexpected_count", "int64", "rows that broke it"),
        Column("unexpected_percent", "float64", "share of rows that broke it", unit="%", min=0, max=100),
        Column("observed_value", "string", "observed value (aggregate expectations)"),
        Column("details", "string", "the expectation's arguments, JSON"),
        Column(
            "published", "bool", "whether the partition was published after this gate run", nullable=False
        ),
    ),
    primary_key=("table_name", "date", "run_id", "expectation", "column_name", "details"),
    owner=OWNER,
    frequency="every run",
    sharing=Sharing.CONDITIONAL,
)

register(expectation_results)
