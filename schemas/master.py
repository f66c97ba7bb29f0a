"""Master data: the enterprise and monitoring-point registries, versioned, and the join-quality report.

The registries are CSV files the data engineers maintain; every file received is a full snapshot.
History is kept as SCD type 2: a row changes → its version closes (``valid_to``) and a new one opens
at the time the snapshot was received; a row missing from a snapshot closes. The monitoring-point
columns ``mn, uscc, outlet_code, region_code`` are those of the HJ 212 receiver's device registry
(``ingest.hj212.devices``), so the current points can be loaded there.

Water sections and air stations have their own registries (schemas.water, core_air__stations).
"""

from __future__ import annotations

from schemas.fields import (
    DAILY,
    EVERY_RUN,
    MASTER_DATA_STEWARDS,
    ON_CHANGE,
    SHARED,
    STAGE_ONLY,
    WHEN_REJECTED,
)
from schemas.registry import Codes, Column, Fields, Layer, Sharing, Table, register

OWNER = MASTER_DATA_STEWARDS
SOURCE = "master"
REGISTRIES = (
    "生态云 主数据登记表：企业名录与自动监控点位（数据工程人员维护的 CSV 快照） "
    "(ecocloud master-data registries: enterprise and monitoring-point CSV snapshots kept by data engineers)"
)
JOIN_CHECK = "生态云 主数据关联质量检查 (ecocloud master-data join-quality check)"

# the join-quality report's checks, each with what it means
JOIN_CHECKS = Codes(
    {
        "mn_unregistered": "MN 发送数据但不在任何版本的监测点位名录中",
        "outlet_without_permit": "现行监测点位的排放口不在任何有效排污许可证上",
        "point_uscc_unmatched": "现行监测点位的统一社会信用代码不在企业名录中",
        "permit_uscc_unmatched": "现行排污许可证的统一社会信用代码不在企业名录中",
        "credit_uscc_unmatched": "信用评价记录的统一社会信用代码不在企业名录中（给出名称匹配建议）",
        "uscc_invalid": "统一社会信用代码未通过 GB 32100 校验",
        "name_mismatch": "统一社会信用代码相同但规范化名称与企业现名不同",
        "identity_uscc_unmatched": "MN 的点位在读数时所指的统一社会信用代码不在任何版本的企业名录中",
    }
)

F = Fields("master", parent=SHARED)
F.define(
    Column(
        "mn_standard",
        "bool",
        "MN is 24 hex characters as HJ 212-2017 says",
        description_zh="MN 是否符合 HJ 212-2017 的规定（24位十六进制字符）",
        nullable=False,
    ),
    Column("point_name", "string", "point name", description_zh="监控点位名称"),
    Column(
        "pollutants",
        "string",
        "HJ 212-2017 codes measured, comma-separated (2005 codes mapped)",
        description_zh="监测的 HJ 212-2017 污染物编码，以逗号分隔（2005 版编码已映射）",
    ),
    Column(
        "file_kind",
        "string",
        "enterprises or monitoring_points, when known",
        description_zh="文件类别：enterprises（企业名录）或 monitoring_points（监控点位名录），已知时填写",
    ),
    Column(
        "key",
        "string",
        "the row's key (USCC or MN) when present",
        description_zh="该行的主键（统一社会信用代码或 MN），存在时填写",
    ),
    Column(
        "snapshot_at",
        "timestamp",
        "when the snapshot the row comes from was received (UTC)",
        description_zh="该行所属快照的接收时间（UTC）",
    ),
    Column(
        "check_name", "string", "which check", description_zh="检查项", allowed=JOIN_CHECKS, nullable=False
    ),
    Column(
        "row_kind",
        "string",
        "summary or item",
        description_zh="行类型：summary（汇总）或 item（明细）",
        allowed=("summary", "item"),
        nullable=False,
    ),
    Column(
        "subject_table",
        "string",
        "table the item comes from",
        description_zh="明细条目所在的表",
        nullable=False,
    ),
    Column(
        "subject_key",
        "string",
        "the offending key (MN, permit/outlet, USCC, file:row); '*' for a summary",
        description_zh="有问题的键（MN、许可证编号/排放口编号、统一社会信用代码、文件:行号）；汇总行为 '*'",
        nullable=False,
    ),
    Column(
        "detail",
        "string",
        "what is wrong, and a suggestion where there is one",
        description_zh="问题说明，有建议时附上建议",
    ),
    Column(
        "occurrences",
        "int64",
        "items (summary) or rows / packets involved (item)",
        description_zh="问题条数（汇总行）或涉及的行数/数据包数（明细行）",
        unit="count",
        nullable=False,
        min=0,
    ),
    Column(
        "checked",
        "bool",
        "the check could run (its inputs exist)",
        description_zh="检查是否得以执行（其输入表均已存在）",
        nullable=False,
    ),
    Column(
        "generated_at",
        "timestamp",
        "when the report was computed (UTC)",
        description_zh="报告生成时间（UTC）",
        nullable=False,
    ),
    Column(
        "packets",
        "int64",
        "packets received from the MN",
        description_zh="从该 MN 收到的数据包数",
        unit="count",
    ),
)


def _version_columns() -> tuple[Column, ...]:
    return (
        F.get(
            "valid_from",
            description="this version was first received (UTC)",
            description_zh="首次收到此版本的时间（UTC）",
        ),
        F.get(
            "valid_to",
            description="a later snapshot changed or dropped it (UTC); NULL: current",
            description_zh="其后某一快照变更或删除此版本的时间（UTC）；NULL 表示现行版本",
        ),
        F.get(
            "is_current",
            description="in the latest snapshot, unchanged",
            description_zh="是否在最新快照中且未变更",
        ),
        F.get(
            "raw_file",
            description="raw-zone snapshot this version was first read from",
            description_zh="首次读取到此版本的原始区快照文件",
        ),
    )


_ENTERPRISE = (
    F.get("enterprise_name", description="registered name", description_zh="企业登记名称", nullable=False),
    F.get(
        "enterprise_name_norm",
        description="name normalised for matching",
        description_zh="用于匹配的规范化名称",
        nullable=False,
    ),
)
_REGION = F.get(
    "region_code",
    description="GB/T 2260 region code (legacy codes mapped to current)",
    description_zh="GB/T 2260 行政区划代码（旧代码已映射为现行代码）",
)
_MN = F.get(
    "mn",
    description="data-logger MN (设备唯一标识), normally 24 hex characters",
    description_zh="数采仪设备唯一标识（MN），通常为24位十六进制字符",
)
_POINT_USCC = F.get(
    "uscc", description="enterprise USCC, normalised", description_zh="企业统一社会信用代码（已规范化）"
)
_OUTLET = F.get(
    "outlet_code",
    description="permitted outlet code, e.g. DA001, DW001",
    description_zh="许可排放口编号，如 DA001、DW001",
)

enterprises = Table(
    name="core_master__enterprises",
    layer=Layer.CORE,
    source=SOURCE,
    title="Enterprise registry, versioned",
    title_zh="企业基础信息",
    description=(
        "Regulated enterprises keyed by USCC, one row per version. A rename keeps the USCC and opens a "
        "new version. A USCC failing the GB 32100 check is kept and flagged (`uscc_valid`)."
    ),
    description_zh=(
        "以统一社会信用代码为键的重点监管企业名录，每个版本一行；企业更名时代码不变并新开一个版本。"
        "未通过 GB 32100 校验的代码予以保留并标记（uscc_valid）。"
    ),
    columns=(
        F.get(
            "uscc",
            description="unified social credit code (统一社会信用代码), normalised",
            description_zh="统一社会信用代码（已规范化）",
            nullable=False,
        ),
        *F("uscc_valid", "uscc_problem"),
        *_ENTERPRISE,
        _REGION,
        F.get("industry_code"),
        F.get("industry_name", description="industry name", description_zh="行业名称"),
        F.get("address"),
        *_version_columns(),
    ),
    primary_key=("uscc", "valid_from"),
    partition_by=None,
    owner=OWNER,
    frequency=ON_CHANGE,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=(
        "有条件共享：重点监管企业名录（含地址、行业），供政府部门按职责共享使用，不对社会公开 "
        "(conditional: the regulated-enterprise registry with addresses and industries, for government "
        "departments within their duties; not published)"
    ),
    source_system=REGISTRIES,
)

monitoring_points = Table(
    name="core_master__monitoring_points",
    layer=Layer.CORE,
    source=SOURCE,
    title="Pollution-source monitoring points, versioned",
    title_zh="污染源自动监控点位",
    description=(
        "Online-monitoring points keyed by the data logger's MN: the enterprise (USCC), the permitted "
        "outlet (DA001 / DW001 …), region and the HJ 212 pollutant codes measured. One row per version."
    ),
    description_zh=(
        "以数采仪 MN 为键的污染源自动监控点位：所属企业（统一社会信用代码）、许可排放口（DA001/DW001 等）、"
        "行政区划及监测的 HJ 212 污染物编码，每个版本一行。"
    ),
    columns=(
        _MN,
        F.get("mn_standard"),
        _POINT_USCC,
        F.get("uscc_valid"),
        _OUTLET,
        F.get(
            "medium",
            description="air (DA) or water (DW), from the outlet code",
            description_zh="air（废气，DA）或 water（废水，DW），由排放口编号得出",
        ),
        F.get("region_code", description="GB/T 2260 region code", description_zh="GB/T 2260 行政区划代码"),
        *F("point_name", "pollutants"),
        *_version_columns(),
    ),
    primary_key=("mn", "valid_from"),
    partition_by=None,
    owner=OWNER,
    frequency=ON_CHANGE,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=(
        "有条件共享：数采仪 MN 与企业、排放口的对应关系，供生态环境部门执法和监测人员使用；"
        "MN 可被用于冒充数采仪上报数据，不对社会公开 (conditional: which data logger (MN) monitors which "
        "enterprise outlet, for enforcement and monitoring staff; an MN could be used to impersonate a "
        "logger, so it is not published)"
    ),
    source_system=REGISTRIES,
)

quarantine = Table(
    name="quarantine_master__rows",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="Master-data rows that could not be typed",
    title_zh="主数据 隔离记录",
    description=(
        "Rows of master-data files without their key (USCC, MN), duplicates of a key within one file, "
        "or files that are neither registry, with the reason. line_no 0 = the whole file."
    ),
    description_zh="主数据文件中缺少主键（统一社会信用代码或 MN）的行、同一文件内主键重复的行，或不属于任何登记表的文件，附原因；line_no 为0表示整个文件。",
    columns=(
        F.get(
            "raw_file",
            description="raw-zone file (relative to the lake)",
            description_zh="原始区文件（相对于数据湖的路径）",
        ),
        F.get(
            "line_no",
            description="1-based line number (header = 1); 0 = the whole file",
            description_zh="行号（从1开始，表头为第1行）；0 表示整个文件",
        ),
        *F("file_kind", "key"),
        F.get(
            "raw_value", description="the row as read (truncated)", description_zh="读取到的该行原文（截断）"
        ),
        F.get("reason", description="why it was not published", description_zh="未发布的原因"),
    ),
    primary_key=("raw_file", "line_no"),
    partition_by=None,
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：主数据文件中无法解析的内容，仅供数据工程人员排查登记表问题 "
        "(not shared: untypeable content of the registry files, for data engineers fixing the registries)"
    ),
    source_system=REGISTRIES,
)

_REPORT_ROW = (
    *F("check_name", "row_kind", "subject_table", "subject_key"),
    F.get("uscc", description="USCC involved", description_zh="涉及的统一社会信用代码"),
    *F("detail", "occurrences", "checked"),
)

join_report = Table(
    name="quality_master__join_report",
    layer=Layer.QUALITY,
    source=SOURCE,
    title="Join-quality report of the master data",
    title_zh="主数据关联质量报告",
    description=(
        "How well permits, credit ratings, monitoring points and incoming packets join on USCC, MN and "
        "outlet. Per day and check: one `summary` row (occurrences = number of items; `checked` false "
        "when an input table does not exist yet) and one `item` row per offending key."
    ),
    description_zh=(
        "排污许可证、信用评价、自动监控点位与接收的数据包之间按统一社会信用代码、MN 和排放口关联的质量。"
        "每天每项检查一行汇总（occurrences 为问题条数；输入表尚不存在时 checked 为 false），"
        "每个问题键一行明细。"
    ),
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of the report (partition key)",
            description_zh="报告日期（北京时间，分区字段）",
        ),
        *_REPORT_ROW,
        F.get("generated_at"),
    ),
    primary_key=("date", "check_name", "row_kind", "subject_table", "subject_key"),
    owner=OWNER,
    frequency=DAILY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=(
        "有条件共享：主数据关联问题清单（涉及企业代码与数采仪），供数据治理人员及相关业务处室核查整改 "
        "(conditional: master-data join problems naming enterprises and loggers, for data stewards and the "
        "divisions concerned to check and fix)"
    ),
    source_system=JOIN_CHECK,
)

# -- stage: typed rows handed between the parsers, transforms and builds (in memory only) -------
stage_enterprises = Table(
    name="stage_master__enterprises",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Rows of an enterprise-registry snapshot, typed",
    title_zh="企业名录快照 解析结果",
    description=(
        "One row per enterprise of one snapshot file (ingest.master), with the snapshot it came from; "
        "USCC checks, region mapping and versions come in the build."
    ),
    description_zh="企业名录每个快照文件的解析结果，每家企业一行并注明来源快照；代码校验、区划映射和版本由构建步骤完成。",
    columns=(
        F.get(
            "uscc",
            description="unified social credit code (统一社会信用代码) as in the file",
            description_zh="文件中所写的统一社会信用代码",
        ),
        F.get("enterprise_name", description="registered name", description_zh="企业登记名称"),
        *F("region_code", "industry_code", "industry_name", "address"),
        F.get(
            "raw_file",
            description="raw-zone snapshot the row was read from",
            description_zh="读取该行的原始区快照文件",
        ),
        F.get("snapshot_at"),
    ),
    primary_key=("raw_file", "uscc"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=REGISTRIES,
)

stage_monitoring_points = Table(
    name="stage_master__monitoring_points",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Rows of a monitoring-point registry snapshot, typed",
    title_zh="自动监控点位快照 解析结果",
    description=(
        "One row per point of one snapshot file (ingest.master), with the snapshot it came from; "
        "outlet codes upper-cased, pollutant codes mapped to HJ 212-2017."
    ),
    description_zh="自动监控点位每个快照文件的解析结果，每个点位一行并注明来源快照；排放口编号转为大写，污染物编码映射为 HJ 212-2017 代码。",
    columns=(
        _MN,
        _POINT_USCC,
        _OUTLET,
        *F("region_code", "point_name", "pollutants", "mn_standard"),
        F.get(
            "raw_file",
            description="raw-zone snapshot the row was read from",
            description_zh="读取该行的原始区快照文件",
        ),
        F.get("snapshot_at"),
    ),
    primary_key=("raw_file", "mn"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=REGISTRIES,
)

stage_join_items = Table(
    name="stage_master__join_report_rows",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Join-report rows as transforms.master_join computes them",
    title_zh="主数据关联检查 计算结果",
    description="Summary and item rows of every join check, before the report's date and time are added.",
    description_zh="各项关联检查的汇总行和明细行，尚未加上报告日期和生成时间。",
    columns=_REPORT_ROW,
    primary_key=("check_name", "row_kind", "subject_table", "subject_key"),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=JOIN_CHECK,
)

stage_packet_counts = Table(
    name="stage_master__join_inputs_packets",
    layer=Layer.STAGE,
    source=SOURCE,
    title="Packets per MN, an input of the join report",
    title_zh="各数采仪数据包数（关联检查输入）",
    description="Packets per MN in core_source__packets: what the mn_unregistered check reads.",
    description_zh="core_source__packets 中各 MN 的数据包数，供“MN 未登记”检查使用。",
    columns=(F.get("mn"), F.get("packets")),
    primary_key=("mn",),
    partition_by=None,
    owner=OWNER,
    frequency=EVERY_RUN,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=STAGE_ONLY,
    source_system=JOIN_CHECK,
)

register(
    enterprises,
    monitoring_points,
    quarantine,
    join_report,
    stage_enterprises,
    stage_monitoring_points,
    stage_join_items,
    stage_packet_counts,
)
