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

# what each Great Expectations rule the gate runs checks, for readers who do not know GX's names
EXPECTATION_TYPES = Codes(
    {
        "expect_table_columns_to_match_set": ("字段与登记一致", "columns as registered"),
        "expect_column_values_to_be_of_type": ("字段类型", "column type"),
        "expect_column_values_to_not_be_null": ("非空", "not null"),
        "expect_column_values_to_be_between": ("取值范围", "within range"),
        "expect_column_values_to_be_in_set": ("允许值", "allowed values"),
        "expect_column_values_to_be_unique": ("取值唯一", "unique"),
        "expect_compound_columns_to_be_unique": ("主键唯一", "unique key"),
        "expect_column_pair_values_to_be_equal": ("两字段一致", "two columns agree"),
        "expect_column_max_to_be_between": ("最大值范围", "maximum within range"),
        "expect_table_row_count_to_be_between": ("行数范围", "row count within range"),
    }
)

F = Fields("catalog", parent=SHARED)
F.define(
    Column(
        "layer",
        "string",
        "lake layer (core, mart, quarantine, quality, platform, catalog)",
        description_zh=(
            "数据湖分层（core 核心层、mart 集市层、quarantine 隔离区、quality 质量层、platform 平台层、"
            "catalog 目录层）"
        ),
        nullable=False,
    ),
    Column(
        "source",
        "string",
        "the registry source the table belongs to (air, water, source …)",
        description_zh="表所属的数据源（air、water、source …）",
        nullable=False,
    ),
    Column("title_zh", "string", "Chinese title (中文名称)", description_zh="中文名称", nullable=False),
    Column("title_en", "string", "English title", description_zh="英文名称", nullable=False),
    Column(
        "description_zh", "string", "Chinese description (摘要)", description_zh="中文摘要", nullable=False
    ),
    Column("description_en", "string", "English description", description_zh="英文摘要", nullable=False),
    Column(
        "owner_zh",
        "string",
        "owner department (数据责任部门), Chinese name",
        description_zh="数据责任部门中文名称",
        nullable=False,
    ),
    Column(
        "owner_en",
        "string",
        "owner department, English name",
        description_zh="数据责任部门英文名称",
        nullable=False,
    ),
    Column(
        "contact",
        "string",
        "the data steward's mailbox or phone (联系方式)",
        description_zh="数据管理员的电子邮箱或电话（联系方式）",
        nullable=False,
    ),
    Column(
        "source_system",
        "string",
        "upstream system the data comes from (来源系统)",
        description_zh="数据所来自的上游系统（来源系统）",
    ),
    Column(
        "frequency_zh",
        "string",
        "update frequency (更新周期), Chinese",
        description_zh="更新周期（中文）",
        nullable=False,
    ),
    Column(
        "frequency_en",
        "string",
        "update frequency, English",
        description_zh="更新周期（英文）",
        nullable=False,
    ),
    Column(
        "expected_interval_h",
        "float64",
        "expected time between updates; NULL when none is (on change, per run, or a quarantine table: "
        "when input is rejected)",
        description_zh=(
            "预期的更新间隔；无预期间隔时为 NULL（变更时更新、每次运行更新，或隔离表：有拒收数据时更新）"
        ),
        unit="h",
        min=0,
    ),
    Column(
        "sharing",
        "string",
        "sharing level (共享类型)",
        description_zh="共享类型",
        allowed=tuple(s.value for s in Sharing),
        nullable=False,
    ),
    Column(
        "sharing_conditions",
        "string",
        "who may have it and on what terms (共享条件); NULL when unconditional",
        description_zh="可获取数据的对象及条件（共享条件）；无条件共享时为 NULL",
    ),
    Column("primary_key", "string", "key columns, comma-separated", description_zh="主键字段，以逗号分隔"),
    Column(
        "partition_by",
        "string",
        "partition column (hive partitions in the lake); NULL: unpartitioned",
        description_zh="分区字段（数据湖中的 Hive 分区）；NULL 表示不分区",
    ),
    Column(
        "time_column",
        "string",
        "column giving the data's time (coverage and freshness are read from it)",
        description_zh="表示数据时间的字段（时间覆盖与及时性据此读取）",
    ),
    Column(
        "column_count",
        "int32",
        "columns in the table",
        description_zh="表的字段数",
        unit="count",
        min=1,
        nullable=False,
    ),
    Column(
        "partitions",
        "int64",
        "partitions holding data files",
        description_zh="含数据文件的分区数",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column(
        "files",
        "int64",
        "Parquet files",
        description_zh="Parquet 文件数",
        unit="count",
        min=0,
        nullable=False,
    ),
    Column("first_partition", "date", "oldest partition", description_zh="最早的分区"),
    Column("last_partition", "date", "newest partition", description_zh="最新的分区"),
    Column(
        "coverage_start",
        "timestamp",
        "when the oldest data starts: the time column's minimum (a date: the Beijing midnight its day, "
        "or its month, starts)",
        description_zh="最早数据的开始时间：时间字段的最小值（日期型：该日或该月开始时的北京时间零点）",
    ),
    Column(
        "coverage_end",
        "timestamp",
        "when the newest data ends: the time column's maximum (a date: the end of its Beijing day, or "
        "its month, or its last publication while that period is still being written)",
        description_zh=(
            "最新数据的结束时间：时间字段的最大值（日期型：该北京时间日或该月的结束时刻；该时段仍在写入时，"
            "为其最近一次发布时间）"
        ),
    ),
    Column(
        "last_updated_at",
        "timestamp",
        "when the newest rows were published (UTC; a compacted file keeps the time of the parts it rewrote)",
        description_zh="最新数据行的发布时间（UTC；合并重写后的文件保留其所重写各文件的时间）",
    ),
    Column(
        "freshness_status",
        "string",
        "on time | late | no data (the table holds no rows) | on change (no expected frequency)",
        description_zh=(
            "on time（及时）、late（滞后）、no data（无数据：表中无数据行）或 on change（按需更新："
            "无预期更新周期）"
        ),
        allowed=FRESHNESS_STATUSES,
        nullable=False,
    ),
    Column(
        "data_age_h",
        "float64",
        "hours from freshness_reference_at to the catalog build (readers count them to the time they read)",
        description_zh="从 freshness_reference_at 到目录构建时的小时数（读取方按其读取时刻计算）",
        unit="h",
    ),
    Column(
        "freshness_reference_at",
        "timestamp",
        "when the newest data ends, as freshness counts it: coverage_end, but never after the table's "
        "last write (rows dated in the future are no sign of a live feed); without a time column, the "
        "newest write or the later last check of its source that left its builds current (an upstream "
        "with nothing new writes nothing)",
        description_zh=(
            "判断及时性所用的最新数据结束时间：即 coverage_end，但不晚于该表最近一次写入"
            "（日期在未来的数据行不能说明数据仍在持续接入）；无时间字段的表，取最近一次写入时间"
            "与其数据源最近一次检查（检查后其构建仍为最新）时间中的较晚者（上游无新数据时不写入任何内容）"
        ),
    ),
    Column(
        "freshness_due_at",
        "timestamp",
        "when the table turns late if nothing newer arrives: freshness_reference_at plus the expected "
        "interval and the table's tolerance (NULL: no data, or no expected interval). The web pages, the "
        "exports and `ecocloud catalog show` judge freshness_status, data_age_h and late_by_h against it "
        "when they read, so a catalog not rebuilt since does not stay on time",
        description_zh=(
            "若无更新的数据到达，该表转为滞后的时间：freshness_reference_at 加预期更新间隔"
            "与该表的容许延迟（NULL：无数据或无预期更新间隔）。网页、导出与 `ecocloud catalog show` "
            "在读取时据此判断 freshness_status、data_age_h 与 late_by_h，"
            "因此此后未重建的目录不会一直显示为及时"
        ),
    ),
    Column(
        "late_by_h",
        "float64",
        "hours since freshness_due_at passed (the newest data's age beyond the expected interval and the "
        "table's tolerance); 0 when on time, NULL without data or an expected interval",
        description_zh="超过 freshness_due_at（应更新时间）的小时数（即最新数据距今超出预期更新间隔与该表容许延迟之和的部分）；及时时为 0，无数据或无预期更新间隔时为 NULL",
        unit="h",
        min=0,
    ),
    Column(
        "last_gate_run",
        "string",
        "run id of the newest quality-gate run on the table",
        description_zh="该表最近一次质量门运行的运行 ID",
    ),
    Column(
        "last_gate_at",
        "timestamp",
        "when that gate run validated the table (UTC)",
        description_zh="该次质量门运行检查该表的时间（UTC）",
    ),
    Column(
        "gate_passed",
        "int64",
        "expectations that held in that run",
        description_zh="该次运行中通过的期望数",
        unit="count",
        min=0,
    ),
    Column(
        "gate_failed",
        "int64",
        "blocking expectations that failed in that run",
        description_zh="该次运行中失败的阻断级期望数",
        unit="count",
        min=0,
    ),
    Column(
        "gate_warnings",
        "int64",
        "warning-level expectations that failed in that run",
        description_zh="该次运行中失败的警告级期望数",
        unit="count",
        min=0,
    ),
    Column(
        "gate_partitions",
        "int64",
        "partitions that run checked",
        description_zh="该次运行检查的分区数",
        unit="count",
        min=0,
    ),
    Column(
        "gate_partitions_blocked",
        "int64",
        "of those, partitions not published",
        description_zh="其中未发布的分区数",
        unit="count",
        min=0,
    ),
    Column(
        "quarantine_tables",
        "string",
        "quarantine tables holding this table's rejected input, comma-separated",
        description_zh="存放本表被拒收输入的隔离表，以逗号分隔",
    ),
    Column(
        "quarantined_rows",
        "int64",
        "rows in those quarantine tables",
        description_zh="上述隔离表中的行数",
        unit="count",
        min=0,
    ),
    Column(
        "agreement_percent",
        "float64",
        "share of rows where a computed value equals the published one (see catalog_quality)",
        description_zh="计算值与发布值相等的行所占比例（见 catalog_quality）",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "built_at",
        "timestamp",
        "when the catalog was built (UTC)",
        description_zh="目录构建时间（UTC）",
        nullable=False,
    ),
    Column("column_name", "string", "column name", description_zh="字段名", nullable=False),
    Column(
        "position",
        "int16",
        "1-based position of the column in the table",
        description_zh="字段在表中的位置（从1开始）",
        unit="1",
        min=1,
        nullable=False,
    ),
    Column(
        "data_type",
        "string",
        "registry logical type (string, int16, float64, date, timestamp …)",
        description_zh="登记中声明的逻辑类型（string、int16、float64、date、timestamp …）",
        nullable=False,
    ),
    Column(
        "duckdb_type",
        "string",
        "type of the column in the serving database",
        description_zh="字段在服务数据库中的类型",
        nullable=False,
    ),
    Column("description", "string", "what the column holds", description_zh="字段内容说明", nullable=False),
    Column(
        "unit",
        "string",
        "unit of measure (1 = dimensionless, count, %, µg/m³ …)",
        description_zh="计量单位（1 表示无量纲，count、%、µg/m³ …）",
    ),
    Column(
        "nullable",
        "bool",
        "whether the column may be NULL",
        description_zh="字段是否可为 NULL",
        nullable=False,
    ),
    Column(
        "min_value",
        "float64",
        "smallest physically possible value, in the column's unit",
        description_zh="物理上可能的最小值，以该字段的单位计",
        unit="column unit",
    ),
    Column(
        "max_value",
        "float64",
        "largest physically possible value, in the column's unit",
        description_zh="物理上可能的最大值，以该字段的单位计",
        unit="column unit",
    ),
    Column(
        "allowed_values",
        "string",
        "the allowed values, as a JSON array; NULL when any value is allowed",
        description_zh="允许值，JSON 数组；不限取值时为 NULL",
    ),
    Column(
        "value_labels",
        "string",
        "what each allowed value means, in Chinese, as a JSON object (value → label); NULL when they have no labels",
        description_zh="各允许值的中文含义，JSON 对象（值 → 标签）；无标签时为 NULL",
    ),
    Column(
        "value_check_severity",
        "string",
        "severity of the range / allowed-values check",
        description_zh="取值范围/允许值检查的级别",
        allowed=SEVERITIES,
    ),
    Column(
        "is_primary_key", "bool", "part of the primary key", description_zh="是否属于主键", nullable=False
    ),
    Column(
        "is_partition_key", "bool", "the partition column", description_zh="是否为分区字段", nullable=False
    ),
    Column(
        "declared_in",
        "string",
        "Fields namespace declaring the column (registry)",
        description_zh="登记中声明该字段的 Fields 命名空间",
    ),
    Column(
        "runs",
        "int64",
        "pipeline runs that recorded this edge",
        description_zh="记录该血缘边的流水线运行次数",
        unit="count",
        min=1,
        nullable=False,
    ),
    Column(
        "output_partitions",
        "int64",
        "distinct output partitions built over this edge",
        description_zh="经该血缘边构建的不同输出分区数",
        unit="count",
        min=0,
    ),
    Column(
        "first_recorded_at",
        "timestamp",
        "when the edge was first recorded (UTC)",
        description_zh="该血缘边首次记录时间（UTC）",
        nullable=False,
    ),
    Column(
        "kind",
        "string",
        "expectation | agreement | quarantine",
        description_zh="expectation（质量期望）、agreement（一致性）或 quarantine（隔离）",
        allowed=QUALITY_KINDS,
        nullable=False,
    ),
    Column(
        "check_name",
        "string",
        "expectation type, the compared pair (aqi = aqi_published), or the quarantine table",
        description_zh="期望类型、比对的字段对（aqi = aqi_published）或隔离表",
        nullable=False,
    ),
    Column(
        "checked",
        "int64",
        "partitions checked (expectation), rows compared (agreement)",
        description_zh="检查的分区数（质量期望）、比对的行数（一致性）",
        unit="count",
        min=0,
    ),
    Column(
        "failed",
        "int64",
        "partitions where it failed (expectation), rows that disagree (agreement), rows quarantined",
        description_zh="未通过的分区数（质量期望）、不一致的行数（一致性）、被隔离的行数",
        unit="count",
        min=0,
    ),
    Column(
        "share_percent",
        "float64",
        "agreement share, or share of non-null rows that broke it",
        description_zh="一致行所占比例，或违反期望的非空行所占比例",
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
        PLATFORM.get(
            "table_name",
            description="registry table (dataset identifier)",
            description_zh="登记表（数据集标识）",
        ),
        *F("layer", "source", "title_zh", "title_en", "description_zh", "description_en"),
        *F("owner_zh", "owner_en", "contact", "source_system", "frequency_zh", "frequency_en"),
        *F("expected_interval_h", "sharing", "sharing_conditions", "primary_key", "partition_by"),
        *F("time_column", "column_count"),
        PLATFORM.get("rows", description="rows in the table", description_zh="表的行数"),
        *F("partitions", "files"),
        PLATFORM.get(
            "size_bytes",
            description="bytes of its data files in the lake (NULL: kept elsewhere)",
            description_zh="其数据文件在数据湖中的字节数（NULL：存放在别处）",
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
        "One row per column of every registry table: type, unit, description in Chinese and English, "
        "allowed range or values, "
        "nullability, and whether it is part of the key or the partition column."
    ),
    description_zh=(
        "每张登记表的每个字段一行：类型、单位、中英文说明、取值范围或允许值、是否可空、是否主键或分区字段。"
    ),
    columns=(
        PLATFORM.get("table_name"),
        *F("column_name", "position", "data_type", "duckdb_type", "description"),
        F.get(
            "description_zh",
            description="what the column holds, in Chinese (信息项说明)",
            description_zh="字段内容说明（中文）",
        ),
        *F("unit", "nullable"),
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
        PLATFORM.get(
            "input_id",
            description="a raw-zone source (raw/<source>) or a registry table name",
            description_zh="原始区数据源（raw/<source>）或登记表名",
        ),
        *PLATFORM("build", "task"),
        *F("runs", "output_partitions", "first_recorded_at"),
        PLATFORM.get(
            "recorded_at",
            description="when the edge was last recorded (UTC)",
            description_zh="该血缘边最近一次记录时间（UTC）",
        ),
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
        PLATFORM.get(
            "severity",
            description="blocking or warning (expectations)",
            description_zh="阻断发布或警告（质量期望）",
            nullable=True,
        ),
        PLATFORM.get(
            "success",
            description="whether it held on every partition checked",
            description_zh="是否在所检查的每个分区上均通过",
            nullable=True,
        ),
        *F("checked", "failed"),
        PLATFORM.get(
            "unexpected_count",
            description="rows that broke it, summed over the partitions",
            description_zh="违反期望的行数，按分区累加",
        ),
        F.get("share_percent"),
        PLATFORM.get(
            "run_id", description="the gate run (expectations)", description_zh="质量门运行 ID（质量期望）"
        ),
        PLATFORM.get(
            "validated_at",
            description="when the gate ran (UTC)",
            description_zh="质量门运行时间（UTC）",
            nullable=True,
        ),
        PLATFORM.get(
            "details",
            description="the expectation's arguments, or how the figure is computed, JSON",
            description_zh="期望的参数或该数值的计算方式，JSON",
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
        PLATFORM.get("table_name", description="the quarantine table", description_zh="隔离表"),
        F.get("source"),
        SHARED.get(
            "date",
            description="Beijing date of the quarantined rows; NULL where the table has none",
            description_zh="被隔离行的日期（北京时间）；该表无日期时为 NULL",
            nullable=True,
        ),
        SHARED.get("reason"),
        PLATFORM.get(
            "rows", description="rows quarantined for the reason", description_zh="因该原因被隔离的行数"
        ),
    ),
    primary_key=("table_name", "date", "reason"),
)

register(datasets, columns, lineage, quality, quarantine_reasons)
