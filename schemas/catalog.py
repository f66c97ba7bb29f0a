"""The shared catalog (信息资源共享目录): what data exists, what it means, how fresh and good it is.

Five tables in the serving database, rebuilt from the registry, the ledger's lineage, the gate
results and the lake itself at every serving refresh (``warehouse.catalog``), so the catalog cannot
drift from the data. They list every registry table but the in-memory stage tables, whatever its
sharing level: the web app and the DCAT export show each reader only the entries their role may see.
"""

from __future__ import annotations

from typing import Any

from schemas.fields import EVERY_RUN, PLATFORM_TEAM, SHARED
from schemas.platform import F as PLATFORM
from schemas.registry import SEVERITIES, Codes, Column, Fields, Layer, Sharing, Table, register

SOURCE = "catalog"
FRESHNESS_STATUSES = ("on time", "late", "no data", "on change")
QUALITY_KINDS = Codes(
    {
        "expectation": ("质量期望", "expectation"),
        "agreement": ("一致性", "agreement"),
        "quarantine": ("隔离", "quarantine"),
    }
)

F = Fields("catalog", parent=SHARED)
F.define(
    Column(
        "layer", "string", "lake layer (core, mart, quarantine, quality, platform, catalog)", nullable=False
    ),
    Column(
        "source", "string", "the registry source the table belongs to (air, water, source …)", nullable=False
    ),
    Column("title_zh", "string", "Chinese title (中文名称)", nullable=False),
    Column("title_en", "string", "English title", nullable=False),
    Column("description_zh", "string", "Chinese description (摘要)", nullable=False),
    Column("description_en", "string", "English description", nullable=False),
    Column("owner_zh", "string", "owner department (数据责任部门), Chinese name", nullable=False),
    Column("owner_en", "string", "owner department, English name", nullable=False),
    Column("contact", "string", "the data steward's mailbox or phone (联系方式)", nullable=False),
    Column("source_system", "string", "upstream system the data comes from (来源系统)"),
    Column("frequency_zh", "string", "update frequency (更新周期), Chinese", nullable=False),
    Column("frequency_en", "string", "update frequency, English", nullable=False),
    Column(
        "expected_interval_h",
        "float64",
        "expected time between updates; NULL when none is (on change, per run, or a quarantine table: "
        "when input is rejected)",
        unit="h",
        min=0,
    ),
    Column(
        "sharing",
        "string",
        "sharing level (共享类型)",
        allowed=tuple(s.value for s in Sharing),
        nullable=False,
    ),
    Column(
        "sharing_conditions",
        "string",
        "who may have it and on what terms (共享条件); NULL when unconditional",
    ),
    Column("primary_key", "string", "key columns, comma-separated"),
    Column("partition_by", "string", "partition column (hive partitions in the lake); NULL: unpartitioned"),
    Column(
        "time_column", "string", "column giving the data's time (coverage and freshness are read from it)"
    ),
    Column("column_count", "int32", "columns in the table", unit="count", min=1, nullable=False),
    Column("partitions", "int64", "partitions holding data files", unit="count", min=0, nullable=False),
    Column("files", "int64", "Parquet files", unit="count", min=0, nullable=False),
    Column("first_partition", "date", "oldest partition"),
    Column("last_partition", "date", "newest partition"),
    Column(
        "coverage_start",
        "timestamp",
        "when the oldest data starts: the time column's minimum (a date: the Beijing midnight its day, "
        "or its month, starts)",
    ),
    Column(
        "coverage_end",
        "timestamp",
        "when the newest data ends: the time column's maximum (a date: the end of its Beijing day, or "
        "its month, or its last publication while that period is still being written)",
    ),
    Column(
        "last_updated_at",
        "timestamp",
        "when the newest rows were published (UTC; a compacted file keeps the time of the parts it rewrote)",
    ),
    Column(
        "freshness_status",
        "string",
        "on time | late | no data (the table holds no rows) | on change (no expected frequency)",
        allowed=FRESHNESS_STATUSES,
        nullable=False,
    ),
    Column(
        "data_age_h",
        "float64",
        "hours from freshness_reference_at to the catalog build (readers count them to the time they read)",
        unit="h",
    ),
    Column(
        "freshness_reference_at",
        "timestamp",
        "when the newest data ends, as freshness counts it: coverage_end, but never after the table's "
        "last write (rows dated in the future are no sign of a live feed); without a time column, the "
        "newest write or the later last check of its source that left its builds current (an upstream "
        "with nothing new writes nothing)",
    ),
    Column(
        "freshness_due_at",
        "timestamp",
        "when the table turns late if nothing newer arrives: freshness_reference_at plus the expected "
        "interval and the table's tolerance (NULL: no data, or no expected interval). The web pages, the "
        "exports and `ecocloud catalog show` judge freshness_status, data_age_h and late_by_h against it "
        "when they read, so a catalog not rebuilt since does not stay on time",
    ),
    Column(
        "late_by_h",
        "float64",
        "hours by which the newest data is older than the expected interval (late: beyond the table's tolerance); 0 when on time",
        unit="h",
        min=0,
    ),
    Column("last_gate_run", "string", "run id of the newest quality-gate run on the table"),
    Column("last_gate_at", "timestamp", "when that gate run validated the table (UTC)"),
    Column("gate_passed", "int64", "expectations that held in that run", unit="count", min=0),
    Column("gate_failed", "int64", "blocking expectations that failed in that run", unit="count", min=0),
    Column(
        "gate_warnings", "int64", "warning-level expectations that failed in that run", unit="count", min=0
    ),
    Column("gate_partitions", "int64", "partitions that run checked", unit="count", min=0),
    Column("gate_partitions_blocked", "int64", "of those, partitions not published", unit="count", min=0),
    Column(
        "quarantine_tables",
        "string",
        "quarantine tables holding this table's rejected input, comma-separated",
    ),
    Column("quarantined_rows", "int64", "rows in those quarantine tables", unit="count", min=0),
    Column(
        "agreement_percent",
        "float64",
        "share of rows where a computed value equals the published one (see catalog_quality)",
        unit="%",
        min=0,
        max=100,
    ),
    Column("built_at", "timestamp", "when the catalog was built (UTC)", nullable=False),
    Column("column_name", "string", "column name", nullable=False),
    Column(
        "position", "int16", "1-based position of the column in the table", unit="1", min=1, nullable=False
    ),
    Column(
        "data_type",
        "string",
        "registry logical type (string, int16, float64, date, timestamp …)",
        nullable=False,
    ),
    Column("duckdb_type", "string", "type of the column in the serving database", nullable=False),
    Column("description", "string", "what the column holds", nullable=False),
    Column("unit", "string", "unit of measure (1 = dimensionless, count, %, µg/m³ …)"),
    Column("nullable", "bool", "whether the column may be NULL", nullable=False),
    Column(
        "min_value", "float64", "smallest physically possible value, in the column's unit", unit="column unit"
    ),
    Column(
        "max_value", "float64", "largest physically possible value, in the column's unit", unit="column unit"
    ),
    Column("allowed_values", "string", "the allowed values, as a JSON array; NULL when any value is allowed"),
    Column(
        "value_labels",
        "string",
        "what each allowed value means, in Chinese, as a JSON object (value → label); NULL when they have no labels",
    ),
    Column(
        "value_check_severity",
        "string",
        "severity of the range / allowed-values check",
        allowed=SEVERITIES,
    ),
    Column("is_primary_key", "bool", "part of the primary key", nullable=False),
    Column("is_partition_key", "bool", "the partition column", nullable=False),
    Column("declared_in", "string", "Fields namespace declaring the column (registry)"),
    Column("runs", "int64", "pipeline runs that recorded this edge", unit="count", min=1, nullable=False),
    Column(
        "output_partitions", "int64", "distinct output partitions built over this edge", unit="count", min=0
    ),
    Column("first_recorded_at", "timestamp", "when the edge was first recorded (UTC)", nullable=False),
    Column("kind", "string", "expectation | agreement | quarantine", allowed=QUALITY_KINDS, nullable=False),
    Column(
        "check_name",
        "string",
        "expectation type, the compared pair (aqi = aqi_published), or the quarantine table",
        nullable=False,
    ),
    Column(
        "checked", "int64", "partitions checked (expectation), rows compared (agreement)", unit="count", min=0
    ),
    Column(
        "failed",
        "int64",
        "partitions where it failed (expectation), rows that disagree (agreement), rows quarantined",
        unit="count",
        min=0,
    ),
    Column(
        "share_percent",
        "float64",
        "agreement share, or share of non-null rows that broke it",
        unit="%",
        min=0,
        max=100,
    ),
)

_CONDITIONS = (
    "目录全集（含不予共享数据集的条目）供本中心及经授权的部门人员使用；公众通过网页目录与DCAT导出获取无条件共享部分 "
    "(the full catalog, including entries of datasets that are not shared, is for staff and authorised "
    "departments; the public gets the unconditionally shared part through the web catalog and the DCAT export)"
)
_SYSTEM = "生态云 共享目录 (ecocloud shared catalog, built from the registry, ledger and lake)"


def _catalog_table(**declared: Any) -> Table:
    """A catalog table: in the serving database, rebuilt whole at every refresh, kept by the platform
    team, for staff and authorised departments."""
    return Table(
        layer=Layer.CATALOG,
        source=SOURCE,
        partition_by=None,
        owner=PLATFORM_TEAM,
        frequency=EVERY_RUN,
        sharing=Sharing.CONDITIONAL,
        sharing_conditions=_CONDITIONS,
        source_system=_SYSTEM,
        **declared,
    )


datasets = _catalog_table(
    name="catalog_datasets",
    title="Catalog: datasets",
    title_zh="共享目录：数据集",
    description=(
        "One row per registry table: titles and descriptions in Chinese and English, owner, source "
        "system, update frequency, sharing level and conditions, keys and partitioning, and live facts "
        "read from the lake at the catalog build: rows, partitions, bytes, time coverage, last update, "
        "freshness against the expected frequency, the latest quality-gate result, quarantined rows and "
        "agreement with published values."
    ),
    description_zh=(
        "每张登记表一行：中英文名称与摘要、责任部门、来源系统、更新周期、共享类型与条件、主键与分区，"
        "以及构建目录时从数据湖读取的实况：行数、分区、字节数、时间覆盖、最近更新、按更新周期判断的及时性、"
        "最近一次质量门结果、隔离行数与发布值一致率。"
    ),
    columns=(
        PLATFORM.get("table_name", description="registry table (dataset identifier)"),
        *F("layer", "source", "title_zh", "title_en", "description_zh", "description_en"),
        *F("owner_zh", "owner_en", "contact", "source_system", "frequency_zh", "frequency_en"),
        *F("expected_interval_h", "sharing", "sharing_conditions", "primary_key", "partition_by"),
        *F("time_column", "column_count"),
        PLATFORM.get("rows", description="rows in the table"),
        *F("partitions", "files"),
        PLATFORM.get(
            "size_bytes",
            description="bytes of its data files in the lake (NULL: kept elsewhere)",
            nullable=True,
        ),
        *F("first_partition", "last_partition", "coverage_start", "coverage_end", "last_updated_at"),
        *F("freshness_status", "data_age_h", "late_by_h", "freshness_reference_at", "freshness_due_at"),
        *F("last_gate_run", "last_gate_at", "gate_passed", "gate_failed", "gate_warnings"),
        *F("gate_partitions", "gate_partitions_blocked", "quarantine_tables", "quarantined_rows"),
        *F("agreement_percent", "built_at"),
    ),
    primary_key=("table_name",),
)

columns = _catalog_table(
    name="catalog_columns",
    title="Catalog: columns",
    title_zh="共享目录：字段",
    description=(
        "One row per column of every registry table: type, unit, description, allowed range or values, "
        "nullability, and whether it is part of the key or the partition column."
    ),
    description_zh="每张登记表的每个字段一行：类型、单位、说明、取值范围或允许值、是否可空、是否主键或分区字段。",
    columns=(
        PLATFORM.get("table_name"),
        *F("column_name", "position", "data_type", "duckdb_type", "description", "unit", "nullable"),
        *F("min_value", "max_value", "allowed_values", "value_labels", "value_check_severity"),
        *F("is_primary_key", "is_partition_key", "declared_in"),
    ),
    primary_key=("table_name", "column_name"),
)

lineage = _catalog_table(
    name="catalog_lineage",
    title="Catalog: lineage",
    title_zh="共享目录：数据血缘",
    description=(
        "One row per edge input → table, per spec build and DAG task, from the ledger's lineage: the raw "
        "source (raw/<source>) or registry table read, the table written, how many runs recorded it and "
        "when. A table's producers are its rows; its consumers are the rows whose input is the table."
    ),
    description_zh="由账本血缘汇总的每条“输入 → 表”边（按构建与DAG任务）：读取的原始数据源或上游表、写入的表、记录它的运行次数与时间。",
    columns=(
        *PLATFORM("output_table", "input_kind"),
        PLATFORM.get("input_id", description="a raw-zone source (raw/<source>) or a registry table name"),
        *PLATFORM("build", "task"),
        *F("runs", "output_partitions", "first_recorded_at"),
        PLATFORM.get("recorded_at", description="when the edge was last recorded (UTC)"),
    ),
    primary_key=("output_table", "input_kind", "input_id", "build", "task"),
)

quality = _catalog_table(
    name="catalog_quality",
    title="Catalog: data quality",
    title_zh="共享目录：数据质量",
    description=(
        "Per table: every expectation of its latest quality-gate run (partitions checked and failed, "
        "rows that broke it), the agreement of computed with published values where the registry pairs "
        "them (AQI, water class), and the rows held in its quarantine tables."
    ),
    description_zh="每张表：最近一次质量门运行的各项期望（检查与失败的分区、违反的行数），计算值与发布值的一致率（AQI、水质类别），以及隔离表中的行数。",
    columns=(
        PLATFORM.get("table_name"),
        *F("kind", "check_name"),
        PLATFORM.get("column_name"),
        PLATFORM.get("severity", description="blocking or warning (expectations)", nullable=True),
        PLATFORM.get("success", description="whether it held on every partition checked", nullable=True),
        *F("checked", "failed"),
        PLATFORM.get("unexpected_count", description="rows that broke it, summed over the partitions"),
        F.get("share_percent"),
        PLATFORM.get("run_id", description="the gate run (expectations)"),
        PLATFORM.get("validated_at", description="when the gate ran (UTC)", nullable=True),
        PLATFORM.get(
            "details", description="the expectation's arguments, or how the figure is computed, JSON"
        ),
    ),
    primary_key=("table_name", "kind", "check_name", "column_name", "details"),
)

quarantine_reasons = _catalog_table(
    name="catalog_quarantine_reasons",
    title="Catalog: why rows were quarantined",
    title_zh="共享目录：隔离原因汇总",
    description=(
        "Per quarantine table, Beijing date (where the table has one) and reason: how many rows were "
        "quarantined — what a data engineer asks after a run. The rows themselves, with the offending "
        "text and raw location, are in the quarantine tables."
    ),
    description_zh="按隔离表、北京日期（该表有日期时）和原因汇总的隔离行数；隔离行本身（含原始文本与原始位置）在各隔离表中。",
    columns=(
        PLATFORM.get("table_name", description="the quarantine table"),
        F.get("source"),
        SHARED.get(
            "date",
            description="Beijing date of the quarantined rows; NULL where the table has none",
            nullable=True,
        ),
        SHARED.get("reason"),
        PLATFORM.get("rows", description="rows quarantined for the reason"),
    ),
    primary_key=("table_name", "date", "reason"),
)

register(datasets, columns, lineage, quality, quarantine_reasons)
