"""Tables the platform publishes about itself: gate results, the raw manifest, builds, parts, lineage.

``quality_platform__expectation_results`` lives in the lake (append-only: one part file per gate run).
The ``platform_ledger__*`` tables live in the ledger database (SQLite on one machine, Postgres when
configured), which is transactional across processes and machines; the serving database holds a
copy of each, refreshed with the views.
"""

from __future__ import annotations

from typing import Any

from schemas.fields import EVERY_RUN, PLATFORM_TEAM, SHARED
from schemas.registry import SEVERITIES, Column, Fields, Layer, Sharing, Table, register

SOURCE = "platform"
UNIT_STATUSES = ("published", "blocked", "failed")
INPUT_KINDS = ("raw", "table")

F = Fields("platform", parent=SHARED)
F.define(
    Column(
        "validated_at",
        "timestamp",
        "when the gate ran (UTC)",
        description_zh="质量门运行时间（UTC）",
        nullable=False,
    ),
    Column(
        "gate_run_id",
        "string",
        "one validation of one table in one batch of a run",
        description_zh="质量门检查标识：一次运行中某一批次对一张表的一次检查",
        nullable=False,
    ),
    Column(
        "build",
        "string",
        "the spec build, <source>.<build>, e.g. air.hourly",
        description_zh="构建规格中定义的构建，<source>.<build>，如 air.hourly",
        nullable=False,
    ),
    Column(
        "unit",
        "string",
        "the build's unit of work: a partition (2026-11-20), an input (segment/…), or 'all'",
        description_zh="构建单元：一个分区（2026-11-20）、一个输入（segment/…）或 'all'",
        nullable=False,
    ),
    Column("table_name", "string", "registry table", description_zh="登记表", nullable=False),
    Column(
        "partition_date",
        "date",
        "partition (Beijing day; NULL for an unpartitioned table)",
        description_zh="分区（北京时间日期；不分区的表为 NULL）",
    ),
    Column(
        "expectation",
        "string",
        "Great Expectations expectation type",
        description_zh="Great Expectations 期望类型",
        nullable=False,
    ),
    Column(
        "column_name",
        "string",
        "column(s) the expectation is about",
        description_zh="期望所针对的字段（一个或多个）",
    ),
    Column(
        "severity",
        "string",
        "blocking or warning",
        description_zh="阻断发布或警告",
        allowed=SEVERITIES,
        nullable=False,
    ),
    Column(
        "success",
        "bool",
        "whether the expectation held on this unit's partition",
        description_zh="该期望在本构建单元的分区上是否通过",
        nullable=False,
    ),
    Column("element_count", "int64", "rows checked", description_zh="检查的行数", unit="count"),
    Column("unexpected_count", "int64", "rows that broke it", description_zh="违反期望的行数", unit="count"),
    Column(
        "unexpected_percent",
        "float64",
        "share of non-null rows that broke it",
        description_zh="违反期望的非空行所占比例",
        unit="%",
        min=0,
        max=100,
    ),
    Column(
        "observed_value",
        "string",
        "observed value (aggregate expectations), JSON",
        description_zh="观测值（聚合类期望），JSON",
    ),
    Column("details", "string", "the expectation's arguments, JSON", description_zh="期望的参数，JSON"),
    Column(
        "published",
        "bool",
        "whether the unit was published after this gate run",
        description_zh="本次质量门运行后该构建单元是否已发布",
        nullable=False,
    ),
    Column(
        "raw_path",
        "string",
        "raw-zone path of the object, relative to the lake",
        description_zh="对象在原始区的路径，相对于数据湖",
        nullable=False,
    ),
    Column(
        "source",
        "string",
        "raw-zone source folder (air, hj212_capture, permit …)",
        description_zh="原始区数据源目录（air、hj212_capture、permit …）",
        nullable=False,
    ),
    Column(
        "logical_name",
        "string",
        "upstream name grouping versions of one file",
        description_zh="上游名称，用于归并同一文件的各个版本",
        nullable=False,
    ),
    Column("sha256", "string", "SHA-256 of the bytes", description_zh="内容字节的 SHA-256", nullable=False),
    Column(
        "size_bytes",
        "int64",
        "size of the object or file",
        description_zh="对象或文件的大小",
        unit="B",
        nullable=False,
        min=0,
    ),
    Column(
        "origin",
        "string",
        "URL or local path it came from",
        description_zh="来源 URL 或本地路径",
        nullable=False,
    ),
    Column(
        "received_at",
        "timestamp",
        "when it was landed (UTC)",
        description_zh="接收并存入原始区的时间（UTC）",
        nullable=False,
    ),
    Column(
        "fingerprint",
        "string",
        "hash of the build's spec, code version and input versions",
        description_zh="由构建规格、代码版本与各输入版本计算的哈希值",
        nullable=False,
    ),
    Column(
        "status",
        "string",
        "published | blocked | failed",
        description_zh="published（已发布）、blocked（被质量门阻断）或 failed（失败）",
        allowed=UNIT_STATUSES,
        nullable=False,
    ),
    Column(
        "counts",
        "string",
        "the unit's counts (rows in, published, quarantined …), JSON",
        description_zh="构建单元的计数（输入行数、发布行数、隔离行数 …），JSON",
    ),
    Column(
        "built_at",
        "timestamp",
        "when the unit was built (UTC)",
        description_zh="构建单元的构建时间（UTC）",
        nullable=False,
    ),
    Column(
        "error",
        "string",
        "why a failed unit failed, or why the quality gate blocked it",
        description_zh="失败单元的失败原因，或质量门阻断它的原因",
    ),
    Column(
        "attempted_at",
        "timestamp",
        "when the latest scheduled landing of the source ended, in success or failure (UTC)",
        description_zh="该数据源最近一次定时接入（成功或失败）结束的时间（UTC）",
        nullable=False,
    ),
    Column(
        "succeeded_at",
        "timestamp",
        "when a scheduled landing of the source last succeeded (UTC); NULL: never",
        description_zh="该数据源最近一次定时接入成功的时间（UTC）；为空表示从未成功",
    ),
    Column(
        "part",
        "string",
        "part file name within the partition (data, or one per input)",
        description_zh="分区内的文件名（data，或每个输入一个文件）",
        nullable=False,
    ),
    Column(
        "rows",
        "int64",
        "rows in the part",
        description_zh="该文件的行数",
        unit="count",
        nullable=False,
        min=0,
    ),
    Column(
        "written_at",
        "timestamp",
        "when the part's rows were published (UTC): a compacted part keeps the newest time of the parts "
        "it rewrote",
        description_zh="该文件数据行的发布时间（UTC）：合并重写后的文件保留其所重写各文件中最新的时间",
        nullable=False,
    ),
    Column("output_table", "string", "registry table written", description_zh="写入的登记表", nullable=False),
    Column(
        "output_partition",
        "date",
        "partition written (NULL: unpartitioned)",
        description_zh="写入的分区（NULL：不分区）",
    ),
    Column(
        "input_kind",
        "string",
        "raw (a raw object) or table (a registry table partition)",
        description_zh="raw（原始对象）或 table（登记表分区）",
        allowed=INPUT_KINDS,
        nullable=False,
    ),
    Column(
        "input_id",
        "string",
        "raw_path of a raw object, or a registry table name",
        description_zh="原始对象的 raw_path，或登记表名",
        nullable=False,
    ),
    Column(
        "input_partition",
        "date",
        "partition of an input table (NULL: unpartitioned or raw)",
        description_zh="输入表的分区（NULL：不分区或原始对象）",
    ),
    Column(
        "input_version",
        "string",
        "sha256 of a raw object, or the input partition's version",
        description_zh="原始对象的 sha256，或输入分区的版本",
        nullable=False,
    ),
    Column(
        "recorded_at",
        "timestamp",
        "when the lineage was recorded (UTC)",
        description_zh="血缘记录时间（UTC）",
        nullable=False,
    ),
)

_INTERNAL = "平台运行记录，仅供本中心数据工程人员及经授权的分析人员使用 (platform records: data engineers and authorised analysts)"

# what the gate results say instead of the unexpected values of a 不予共享 table: the results are shared
# wider (the messages in the operators' logs still quote them)
WITHHELD = "withheld: 不予共享 values stay in their table"

expectation_results = Table(
    name="quality_platform__expectation_results",
    layer=Layer.QUALITY,
    source=SOURCE,
    title="Quality-gate results",
    title_zh="数据质量检查结果",
    description=(
        "One row per expectation evaluated by the Great Expectations quality gate on a unit's partition "
        "of a table. A failed blocking expectation stopped that unit from being published. Append-only: "
        "partitioned by the Beijing date of the gate run, one part file per gate run."
    ),
    description_zh="质量门对每个构建单元的每个分区逐条期望的检查结果；阻断级失败的单元未发布。只追加，按检查日期分区。",
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of the gate run (partition key)",
            description_zh="质量门运行日期（北京时间，分区字段）",
        ),
        *F("validated_at", "run_id", "task", "gate_run_id", "build", "unit", "table_name", "partition_date"),
        *F("expectation", "column_name", "severity", "success", "element_count", "unexpected_count"),
        *F("unexpected_percent", "observed_value", "details", "published"),
    ),
    primary_key=("gate_run_id", "unit", "partition_date", "expectation", "column_name", "details"),
    owner=PLATFORM_TEAM,
    frequency=EVERY_RUN,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_INTERNAL,
    source_system="生态云 质量门 (ecocloud quality gate, Great Expectations)",
)


def _ledger_table(**declared: Any) -> Table:
    """A copy of a ledger table in the serving database (the ledger's state as of the last refresh),
    kept by the platform team, for staff and authorised departments."""
    return Table(
        layer=Layer.PLATFORM,
        source="ledger",
        partition_by=None,
        owner=PLATFORM_TEAM,
        frequency=EVERY_RUN,
        sharing=Sharing.CONDITIONAL,
        sharing_conditions=_INTERNAL,
        source_system="生态云 账本 (ecocloud ledger)",
        **declared,
    )


raw_manifest = _ledger_table(
    name="platform_ledger__raw_manifest",
    title="Raw zone manifest",
    title_zh="原始数据清单",
    description="One row per raw object landed: where it came from, when, its size and SHA-256.",
    description_zh="原始区每个对象一行：来源、接收时间、大小与SHA-256。",
    columns=(
        *F("raw_path", "source", "logical_name"),
        SHARED.get(
            "date",
            description="Beijing date the object belongs to (its raw-zone folder)",
            description_zh="对象所属的日期（北京时间，即其原始区目录）",
            nullable=True,
        ),
        *F("sha256", "size_bytes", "origin", "received_at"),
    ),
    primary_key=("raw_path",),
)

builds = _ledger_table(
    name="platform_ledger__builds",
    title="Builds: the latest state of every unit of every spec build",
    title_zh="构建记录",
    description=(
        "One row per (build, unit): the fingerprint it was last built from, its status "
        "(published | blocked | failed), counts, and the run and task that built it. A unit whose "
        "fingerprint differs from the one its inputs give now is pending."
    ),
    description_zh="每个构建单元一行：最近一次构建的指纹、状态（已发布/被质量门阻断/失败）、计数及运行信息。",
    columns=F("build", "unit", "fingerprint", "status", "counts", "run_id", "task", "built_at", "error"),
    primary_key=("build", "unit"),
)

landings = _ledger_table(
    name="platform_ledger__landings",
    title="Landings: the latest scheduled landing of every source",
    title_zh="数据接入记录",
    description=(
        "One row per source spec (air, water, source …): when its scheduled landing last ended and last "
        "succeeded, and the error of the latest when it failed (an upstream down or refusing) — a failed "
        "landing builds nothing, so no build records it."
    ),
    description_zh=(
        "每个数据源一行：最近一次定时接入结束与最近一次成功的时间，以及最近一次失败时的错误（上游不可达或拒绝）"
        "——接入失败时不会产生任何构建，构建记录中看不到它。"
    ),
    columns=(
        F.get(
            "source",
            description="the source spec (air, water, source …)",
            description_zh="数据源规格（air、water、source …）",
        ),
        *F("attempted_at", "succeeded_at"),
        F.get(
            "error",
            description="why the latest landing failed; NULL when it succeeded",
            description_zh="最近一次接入失败的原因；成功时为空",
        ),
        F.get("run_id"),
    ),
    primary_key=("source",),
)

parts = _ledger_table(
    name="platform_ledger__parts",
    title="Published part files of every table partition",
    title_zh="分区文件清单",
    description=(
        "One row per part file in the lake: table, partition, part, the fingerprint of the unit that "
        "wrote it, rows and bytes. A partition's version is derived from its parts, so a downstream "
        "build sees when any input partition changed."
    ),
    description_zh="湖中每个分区文件一行：表、分区、文件、写入它的构建单元指纹、行数与字节数。",
    columns=(
        *F("table_name", "partition_date", "part", "fingerprint", "build", "unit", "rows"),
        F.get("size_bytes", description="bytes of the part file", description_zh="该文件的字节数"),
        *F("run_id", "written_at"),
    ),
    primary_key=("table_name", "partition_date", "part"),
)

lineage = _ledger_table(
    name="platform_ledger__lineage",
    title="Lineage: which inputs built which partition, in which run and task",
    title_zh="数据血缘",
    description=(
        "One row per output partition and input of a published unit: the raw objects and input table "
        "partitions (with their versions) that built it, the build and unit, the run and the task."
    ),
    description_zh="每个已发布分区与其每个输入一行：由哪些原始对象和上游表分区、在哪次运行的哪个任务中构建。",
    columns=F(
        "run_id",
        "task",
        "build",
        "unit",
        "output_table",
        "output_partition",
        "part",
        "input_kind",
        "input_id",
        "input_partition",
        "input_version",
        "recorded_at",
    ),
    primary_key=(
        "run_id",
        "build",
        "unit",
        "output_table",
        "output_partition",
        "input_kind",
        "input_id",
        "input_partition",
    ),
)

register(expectation_results, raw_manifest, builds, landings, parts, lineage)
