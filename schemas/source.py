"""Pollution-source online monitoring (HJ 212 packets from data loggers): tables.

Flow: receiver segments / capture files (raw zone) → ``core_source__packets`` (one row per accepted
packet) and ``core_source__readings`` (one row per numeric value: pollutant × statistic) →
``mart_source__hourly`` / ``mart_source__daily`` (one row per outlet, pollutant and period).
Lines that could not be typed go to ``quarantine_source__packets``; for every input, lines in =
accepted packets + quarantined lines, always.

Conventions (DOMAIN.md §1, DESIGN.md):

* ``mn`` is the data logger's device id; one logger monitors one outlet (排放口), so ``mn`` is the
  outlet key until the master data maps it to ``outlet_code``/``uscc``.
* Instants are UTC (``*_at``); ``DataTime`` is Beijing time on the wire and converted at the ingest
  boundary. ``date`` partitions are Beijing days of ``data_at`` (a packet without DataTime —
  heartbeats, replies — uses its receive time, else the date of the file it came in).
* Pollutant codes are HJ 212-2017 codes; 2005 codes (``B01``, ``011``, ``S01`` …) are mapped and
  the code as sent is kept in ``pollutant_code_original``. Units come from the code table
  (:mod:`schemas.hj212_codes`); a code not in the table has no unit (NULL).
* Retransmissions (same ``mn``, ``cn``, ``data_at``, pollutant, statistic) are all kept in the core
  tables with their raw location; the marts count each reading once (the copy at the latest raw
  location wins) and report how many copies they ignored.
"""

from __future__ import annotations

from schemas.fields import HOURLY, SHARED, SOURCE_MONITORING_CENTRE, WHEN_REJECTED
from schemas.hj212_codes import DATA_FLAGS, FACILITY_UNITS, QUARANTINE_REASON_LABELS
from schemas.registry import Codes, Column, Fields, Layer, Severity, Sharing, Table, register

OWNER = SOURCE_MONITORING_CENTRE
SOURCE = "source"
UPSTREAM = (
    "污染源自动监控系统：企业数采仪经 HJ 212 协议向生态云接收器上报 "
    "(pollution-source online monitoring: enterprise data loggers reporting to the ecocloud receiver over HJ 212)"
)
DERIVED = "生态云 据污染源在线监测数据计算 (computed by ecocloud from the HJ 212 readings)"

# Numeric statistics of a CP item (``<code>-<stat>``); HJ 212-2017 §6.6 plus ZsCou, which loggers send.
# a facility's state (RS: 0 off, 1 running … FACILITY_STATES) and run hours (RT): SB1-RS of 2021 packets
FACILITY_STATS: tuple[str, ...] = tuple(FACILITY_UNITS)
STATS: tuple[str, ...] = (
    "Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "ZsCou", *FACILITY_STATS,
)  # fmt: skip
FLAGS: tuple[str, ...] = tuple(DATA_FLAGS)  # N F M S D C T B
SOURCE_TYPES: tuple[str, ...] = ("wastewater", "flue_gas", "other")
# HJ 212 / HJ 75 flag roll-up of flue gas: a period is N with ≥ this share of N samples, and an hour of
# minute or real-time data only if its N samples cover ≥ this many minutes (a valid hourly mean, 75 % of 60)
FLUE_GAS_NORMAL_SHARE = 0.75
FLUE_GAS_VALID_MINUTES = 45
FLUE_GAS_NORMAL_PERCENT = round(FLUE_GAS_NORMAL_SHARE * 100)  # the share as text writes it: 75 (%)
_PERCENT, _MINUTES = FLUE_GAS_NORMAL_PERCENT, FLUE_GAS_VALID_MINUTES  # for the descriptions below
HOURLY_BASES: tuple[str, ...] = ("2061", "2051", "2011")
DAILY_BASES: tuple[str, ...] = ("2031", "2061", "2051", "2011", "mixed")

_CN_TEXT = "command code (CN): 2011 real-time, 2051 minute, 2061 hourly, 2031 daily …"
_CN_TEXT_ZH = "命令编码（CN）：2011 实时数据，2051 分钟数据，2061 小时数据，2031 日数据……"

F = Fields("source", parent=SHARED)
F.define(
    Column(
        "segment",
        "string",
        "raw location: receiver segment or landed capture file, path relative to the lake",
        description_zh="原始位置：接收器段文件或已存入原始区的抓包文件（相对于数据湖的路径）",
        nullable=False,
    ),
    Column(
        "offset",
        "int64",
        "raw location: byte offset of the record (segment) or line (capture, after gunzip)",
        description_zh="原始位置：记录（段文件）或行（抓包文件，gzip 解压后）的字节偏移量",
        unit="B",
        nullable=False,
        min=0,
    ),
    Column(
        "st",
        "string",
        "system code (ST): 32 wastewater source, 31 flue-gas source, 91 system …",
        description_zh="系统编码（ST）：32 地表水体环境污染源（废水），31 大气环境污染源（废气），91 系统交互……",
    ),
    Column("cn", "string", _CN_TEXT, description_zh=_CN_TEXT_ZH, nullable=False),
    Column(
        "qn",
        "string",
        "request id (QN, YYYYMMDDhhmmsszzz); 2005-style packets have none",
        description_zh="请求编码（QN，YYYYMMDDhhmmsszzz）；HJ/T 212-2005 格式的数据包无此字段",
    ),
    Column(
        "protocol_version",
        "int16",
        "protocol from the Flag version bits: 2005 (also when no Flag), 2017, 2025",
        description_zh="由 Flag 版本位得出的协议版本：2005（无 Flag 时也为 2005）、2017、2025",
        unit="1",
        nullable=False,
        min=2005,
        max=2025,
    ),
    Column(
        "pnum",
        "int16",
        "split packet: total parts (PNUM)",
        description_zh="拆分包：总包数（PNUM）",
        unit="count",
        min=1,
    ),
    Column(
        "pno",
        "int16",
        "split packet: part number (PNO)",
        description_zh="拆分包：包号（PNO）",
        unit="1",
        min=1,
    ),
    Column(
        "data_at",
        "timestamp",
        "DataTime (UTC): sampling instant (2011) or period start (2051/2061/2031)",
        description_zh="数据时间 DataTime（UTC）：采样时刻（2011）或时段起始时刻（2051/2061/2031）",
    ),
    Column(
        "receiver_status",
        "string",
        "receiver's acceptance flag: ok, or unregistered / bad_pw (open registry mode); NULL for capture files",
        description_zh="接收器的接收标记：ok，或 unregistered / bad_pw（开放模式）；来自抓包文件的为 NULL",
    ),
    Column(
        "peer",
        "string",
        "sender ip:port as seen by the receiver; NULL for capture files",
        description_zh="接收器所见的发送端 ip:port；来自抓包文件的为 NULL",
    ),
    Column(
        "readings",
        "int16",
        "rows this packet contributed to core_source__readings",
        description_zh="该数据包写入 core_source__readings 的行数",
        unit="count",
        min=0,
    ),
    Column(
        "warnings",
        "string",
        "parser warnings, comma-separated: mn_not_24_hex, qn_format, st_unknown, duplicate_key:<k>=<v> (a key "
        "sent again with another value v: the first value is the reading) …",
        description_zh="解析警告，以逗号分隔：mn_not_24_hex、qn_format、st_unknown、duplicate_key:<k>=<v>（同一字段再次上报"
        "且取值 v 不同：以首次的值为监测值）……",
    ),
    Column(
        "pollutant_code_original",
        "string",
        "the code as sent (2005 code such as 011 or B01, else the 2017 code)",
        description_zh="上报时的原始编码（2005 版编码如 011 或 B01，否则为 2017 版编码）",
        nullable=False,
    ),
    Column(
        "stat",
        "string",
        "statistic (CP key suffix)",
        description_zh="统计类型（CP 字段名后缀）",
        nullable=False,
        allowed=STATS,
    ),
    Column(
        "value",
        "float64",
        "the value, in `unit`",
        description_zh="数值，单位见 `unit`",
        unit="{unit}",
        nullable=False,
    ),
    Column(
        "unit",
        "string",
        "unit from the HJ 212 code table (Cou: the cumulative unit); NULL if unknown",
        description_zh="取自 HJ 212 编码表的单位（Cou：累计量单位）；未知时为 NULL",
    ),
    Column("detail", "string", "human-readable detail", description_zh="供人阅读的详细说明"),
    Column(
        "raw_line",
        "string",
        "the line as received (UTF-8; other bytes as \\xNN escapes)",
        description_zh="接收到的原始报文行（UTF-8；其他字节以 \\xNN 转义表示）",
    ),
    Column(
        "hour_at",
        "timestamp",
        "start of the Beijing hour (UTC)",
        description_zh="所在北京时间小时的起始时刻（UTC）",
        nullable=False,
    ),
    Column(
        "source_type",
        "string",
        "wastewater (pollutant code prefix w, else ST 32), flue_gas (prefix a, else ST 31) or other: decides the flag "
        f"roll-up (flue gas: N with ≥ {_PERCENT} % N samples covering ≥ {_MINUTES} minutes in an hour of minute or "
        "real-time data; wastewater and other: N only if all are N)",
        description_zh=(
            "wastewater 废水（污染物编码前缀 w，否则按 ST 32）、flue_gas 废气（前缀 a，否则按 ST 31）或 other："
            f"决定数据标记的汇总规则（废气：N 样本占比 ≥ {_PERCENT} % 且分钟/实时数据的小时中 N 样本覆盖 ≥ {_MINUTES} 分钟才为 N；"
            "废水及 other：全部为 N 才为 N）"
        ),
        nullable=False,
        allowed=SOURCE_TYPES,
    ),
    Column(
        "avg_value",
        "float64",
        "mean of the period (of its N samples, or hours, when its flag is N: NULL if none of those has one)",
        description_zh=(
            "时段均值（时段标记为 N 时，仅取其标记为 N 的样本或小时的均值；这些样本或小时均无此值时为 NULL）"
        ),
        unit="{unit}",
    ),
    Column(
        "min_value",
        "float64",
        "minimum of the period (likewise)",
        description_zh="时段最小值（取值规则同上）",
        unit="{unit}",
    ),
    Column(
        "max_value",
        "float64",
        "maximum of the period (likewise)",
        description_zh="时段最大值（取值规则同上）",
        unit="{unit}",
    ),
    Column(
        "cou_value",
        "float64",
        "cumulative amount (Cou) of the period, in `cou_unit`",
        description_zh="时段累计量（Cou），单位见 `cou_unit`",
        unit="{cou_unit}",
    ),
    Column(
        "zs_avg_value",
        "float64",
        "mean converted to the reference O2 (ZsAvg / ZsRtd)",
        description_zh="折算到基准氧含量的均值（ZsAvg / ZsRtd）",
        unit="{unit}",
    ),
    Column("zs_min_value", "float64", "minimum, converted", description_zh="最小值（折算值）", unit="{unit}"),
    Column("zs_max_value", "float64", "maximum, converted", description_zh="最大值（折算值）", unit="{unit}"),
    Column(
        "cou_unit",
        "string",
        "unit of cou_value (HJ 212 code table)",
        description_zh="cou_value 的单位（取自 HJ 212 编码表）",
    ),
    Column(
        "samples",
        "int32",
        "values aggregated",
        description_zh="参与汇总的数值个数",
        unit="count",
        nullable=False,
        min=1,
    ),
    Column(
        "samples_normal",
        "int32",
        "of those, flagged N (or unflagged)",
        description_zh="其中标记为 N（或无标记）的个数",
        unit="count",
        nullable=False,
        min=0,
    ),
    Column(
        "retransmissions",
        "int32",
        "readings ignored as copies of another (counted per statistic: an hourly packet with Min, Avg, "
        "Max and Cou sent three times counts 8; a daily row made from hours, the sum of theirs)",
        description_zh="作为重复副本被忽略的监测值个数（按统计类型计：含 Min、Avg、Max、Cou 的小时数据包发送三次计 8 个；"
        "由小时数据汇总的日数据为各小时之和）",
        unit="count",
        nullable=False,
        min=0,
    ),
    Column(
        "hours",
        "int16",
        "hours of the day in mart_source__hourly (whatever the basis)",
        description_zh="该日在 mart_source__hourly 中的小时数（不论数值依据为何）",
        unit="h",
        nullable=False,
        min=0,
        max=24,
    ),
)

# ``flag`` and ``basis`` mean different things in different tables: each has its own namespace.
PACKET_FIELDS = Fields("source.packets", parent=F)
PACKET_FIELDS.define(
    Column(
        "flag",
        "int16",
        "Flag field (version<<2 | split<<1 | ack); NULL when absent",
        description_zh="拆分包及应答标志 Flag（协议版本<<2 | 拆分包<<1 | 应答）；缺失时为 NULL",
        unit="1",
        min=0,
        max=255,
    ),
)
READING_FIELDS = Fields("source.readings", parent=F)
READING_FIELDS.define(
    Column(
        "flag",
        "string",
        "data flag (N normal, F stopped, M maintenance, S manual, D fault, C calibration, T over "
        "range, B communication fault); NULL when the logger sent none or an empty one (w01018-Flag=)",
        description_zh="数据标记（N 正常，F 停运，M 维护，S 手工输入，D 故障，C 校准，T 超测量上限，"
        "B 通讯异常）；数采仪未上报标记或标记为空（w01018-Flag=）时为 NULL",
        allowed=FLAGS,
        severity=Severity.WARNING,
    ),
)
HOURLY_FIELDS = Fields("source.hourly", parent=F)
HOURLY_FIELDS.define(
    Column(
        "basis",
        "string",
        "command the values come from",
        description_zh="数值所依据的命令编码",
        nullable=False,
        allowed=HOURLY_BASES,
    ),
    Column(
        "flag",
        "string",
        "the hour's (rolled-up) data flag; NULL for a flue-gas hour whose samples are N but cover fewer "
        f"than {_MINUTES} minutes (minutes_normal): too few minutes for a valid hourly value (HJ 75), and HJ 212 "
        "has no flag for that — not valid, not abnormal",
        description_zh=f"该小时的（汇总）数据标记；废气小时的样本虽为 N 但覆盖不足 {_MINUTES} 分钟（minutes_normal）时为空："
        "有效数据不足以构成小时均值（HJ 75），HJ 212 无对应标记——既非有效，也非异常",
    ),
    Column(
        "minutes_normal",
        "int16",
        "minutes of the hour its N samples cover: N samples × the logger's step (the most common gap "
        "between the pollutant's consecutive samples in the hour, seen at least twice), at most 60; "
        "NULL for a 2061 hour or where no gap is seen twice (one or two samples, irregular ones: no "
        "step to measure, not enough for a flue-gas hour). A flue-gas hour "
        f"of minute or real-time data is N only with ≥ {_MINUTES} minutes",
        description_zh="该小时中标记为 N 的样本覆盖的分钟数：N 样本数 × 数采仪采样间隔（该污染物该小时相邻样本间隔的众数，须至少出现两次），"
        f"最多 60；2061 小时或无重复出现的间隔（仅一两个样本或样本不规则：无法测得间隔，对废气小时即不足）时为空。废气的分钟/实时数据小时须不少于 {_MINUTES} 分钟才为 N",
        unit="min",
        min=0,
        max=60,
    ),
)
DAILY_FIELDS = Fields("source.daily", parent=F)
DAILY_FIELDS.define(
    Column(
        "basis",
        "string",
        "what the values come from",
        description_zh="数值的依据（命令编码，或各小时依据不同时为 mixed）",
        nullable=False,
        allowed=DAILY_BASES,
    ),
    Column(
        "flag",
        "string",
        "the day's (rolled-up) data flag; NULL for a flue-gas day not N without an abnormal hour "
        "(its hours not N had too few minutes)",
        description_zh="该日的（汇总）数据标记；废气日不为 N 且无异常小时（非 N 小时均因分钟数不足）时为空",
    ),
)

_DATE = SHARED.get(
    "date",
    description=(
        "Beijing date of data_at (partition key); packets without DataTime: of received_at, else of the file"
    ),
    description_zh=(
        "data_at 所在的日期（北京时间，分区字段）；无 DataTime 的数据包取 received_at 的日期，"
        "再无则取所在文件的日期"
    ),
)
_MN = SHARED.get(
    "mn",
    description="data-logger device id (MN, 设备唯一标识) = the monitored outlet",
    description_zh="数采仪设备唯一标识（MN），即所监控的排放口",
)
_POLLUTANT = SHARED.get(
    "pollutant_code",
    description="HJ 212-2017 pollutant code (2005 codes mapped), e.g. w01018",
    description_zh="HJ 212-2017 污染物编码（2005 版编码已映射），如 w01018",
)
_POLLUTANT_OR_FACILITY = SHARED.get(
    "pollutant_code",
    description="HJ 212-2017 pollutant code (2005 codes mapped), e.g. w01018; for a facility's state or run "
    "time (stat RS, RT), the facility as sent (SB1, SB2 …)",
    description_zh="HJ 212-2017 污染物编码（2005 版编码已映射），如 w01018；设施工况状态或运行时间"
    "（stat 为 RS、RT）为上报的设施编号（SB1、SB2……）",
)
_RECEIVED = SHARED.get(
    "received_at",
    description="when the receiver landed it (UTC); NULL for capture files",
    description_zh="接收器接收并保存的时间（UTC）；来自抓包文件的为 NULL",
)
_NOT_SHARED_DEVICES = (
    "不予共享：含数采仪设备标识、接收端网络地址等设备与传输信息，仅供污染源自动监控中心及数据工程人员用于数据传输运维 "
    "(not shared: device ids and sender network addresses; for the monitoring centre and data engineers running "
    "data transmission only)"
)

# The outlet marts are keyed by the logger's MN, which core_master__monitoring_points keeps from the
# public (an MN could be used to impersonate a logger): they are shared on that condition too.
_KEYED_BY_MN = (
    "有条件共享：按数采仪设备标识（MN）逐排放口给出，MN 可被用于冒充数采仪上报数据，不对社会公开；"
    "供生态环境部门及经授权的分析人员使用 (conditional: rows are keyed by the data logger's id (MN), which "
    "could be used to impersonate a logger and is not published; for environmental departments and "
    "authorised analysts)"
)


packets = Table(
    name="core_source__packets",
    layer=Layer.CORE,
    source=SOURCE,
    title="HJ 212 packets received",
    title_zh="污染源在线监测 数据包",
    description=(
        "One row per accepted HJ 212 packet (framing, length and CRC correct, structure usable), with "
        "its header, its data time, when and from where it was received, the parser's warnings and "
        "its raw location. `readings` says how many rows it contributed to core_source__readings."
    ),
    description_zh=(
        "每个被接受的 HJ 212 数据包一行（包头、长度和CRC校验正确，结构可用），包括包头字段、数据时间、"
        "接收时间和来源、解析警告及原始位置；readings 为该包写入监测值表的行数。"
    ),
    columns=(
        _DATE,
        *F("segment", "offset"),
        _MN,
        *F("st", "cn", "qn"),
        PACKET_FIELDS.get("flag"),
        *F("protocol_version", "pnum", "pno", "data_at"),
        _RECEIVED,
        *F("receiver_status", "peer", "readings", "warnings"),
    ),
    primary_key=("segment", "offset"),
    owner=OWNER,
    frequency=HOURLY,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=_NOT_SHARED_DEVICES,
    source_system=UPSTREAM,
)

readings = Table(
    name="core_source__readings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Pollution-source readings, long format",
    title_zh="污染源在线监测 监测值",
    description=(
        "One row per numeric CP item of an accepted packet that has a DataTime: outlet (mn), command "
        "(cn), time, pollutant, statistic (Rtd real-time, Min/Avg/Max/Cou of a period, Zs* converted "
        "to the reference O2) and the item's data flag. Values are in the pollutant's unit "
        "(`unit`). A facility's state and run time (2021, 2041 packets: SB1-RS, SB1-RT) are rows too, "
        "the facility in `pollutant_code`, stat RS (0 off, 1 running, 2 calibrating, 3 maintenance, "
        "4 alarm, 5 blowback) or RT (hours); the marts leave them out. Retransmitted copies are kept; "
        "the marts count each reading once. Readings of "
        "packets the receiver accepted without authentication (open registry mode) are kept and "
        "flagged (`receiver_status`), never used by the marts."
    ),
    description_zh=(
        "有数据时间的已接受数据包中每个数值型监测项一行：排放口（mn）、命令码、时间、污染物、统计类型"
        "（Rtd 实时值，Min/Avg/Max/Cou 为时段统计，Zs* 为折算到基准含氧量的值）及数据标记，"
        "数值单位见 unit 列。设施工况（2021、2041 数据包的 SB1-RS、SB1-RT）也各为一行：pollutant_code 为设施编号，"
        "stat 为 RS（0 停运，1 运行，2 校准，3 维护，4 报警，5 反吹）或 RT（小时），汇总表不使用。重传的副本均保留，汇总表中每个读数只计一次。开放模式下未经认证接收的数据包"
        "保留并标记（receiver_status），不进入汇总表。"
    ),
    columns=(
        _DATE,
        _MN,
        F.get(
            "st",
            description="system code of the packet (32 wastewater, 31 flue gas)",
            description_zh="所属数据包的系统编码（32 地表水体环境污染源，即废水；31 大气环境污染源，即废气）",
        ),
        F.get("cn"),
        F.get(
            "data_at",
            description="DataTime (UTC): sampling instant or period start",
            description_zh="数据时间 DataTime（UTC）：采样时刻或时段起始时刻",
            nullable=False,
        ),
        _POLLUTANT_OR_FACILITY,
        *F("pollutant_code_original", "stat", "value"),
        READING_FIELDS.get("flag"),
        *F("unit", "segment", "offset"),
        F.get(
            "receiver_status",
            description="the packet's acceptance flag (ok; unregistered / bad_pw in open registry mode: "
            "kept as evidence, left out of the marts); NULL for capture files",
            description_zh="所属数据包的接收标记（ok；开放模式下为 unregistered / bad_pw：作为证据保留，"
            "不进入汇总表）；来自抓包文件的为 NULL",
        ),
    ),
    primary_key=("segment", "offset", "pollutant_code", "stat"),
    owner=OWNER,
    frequency=HOURLY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=(
        "有条件共享：企业在线监测原始数据，供生态环境部门执法、监测和分析人员按职责使用；"
        "对社会公开以小时、日汇总数据为准 (conditional: enterprises' raw online-monitoring values, for "
        "enforcement, monitoring and analysis staff of eco-environment departments within their duties; "
        "the public gets the hourly and daily marts)"
    ),
    source_system=UPSTREAM,
)

# Why a line is in quarantine_source__packets, as the pages name it: the reasons and their labels are
# declared in schemas.hj212_codes (without pyarrow, so the receiver can check its reasons against
# them cheaply); ingest.hj212.protocol fails at import on a reason it writes that is not labelled there.
QUARANTINE_REASONS = Codes(QUARANTINE_REASON_LABELS)

quarantine = Table(
    name="quarantine_source__packets",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="HJ 212 lines that were not accepted",
    title_zh="HJ 212 拒收报文 隔离记录",
    description=(
        "Lines rejected by the receiver (its quarantine segments) or by the parser (damaged framing, "
        "length, CRC, structure) and data packets without DataTime, with the reason, best-effort header "
        "fields and the raw location. For every input: lines in = accepted packets + quarantined lines."
    ),
    description_zh=(
        "被接收器（其隔离段）或解析器（包头、长度、CRC或结构损坏）拒收的报文行，以及没有数据时间的数据包，"
        "附原因、尽量提取的包头字段及原始位置。每个输入的行数等于已接受的数据包数加隔离行数。"
    ),
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of received_at, else of the file (partition key)",
            description_zh="received_at 所在的日期（北京时间，分区字段），无接收时间时取所在文件的日期",
        ),
        *F("segment", "offset"),
        F.get(
            "reason",
            description="machine-readable reason: a code of QUARANTINE_REASONS (declared with its labels in "
            "schemas.hj212_codes; what gives each: the ingest.hj212.protocol docstring)",
            description_zh="机器可读的原因代码，取自 QUARANTINE_REASONS（代码及其名称在 schemas.hj212_codes 中声明；"
            "各原因的来源见 ingest.hj212.protocol 的说明）",
        ),
        F.get("detail"),
        F.get(
            "mn",
            description="MN salvaged from the line, if any",
            description_zh="从该行中提取出的 MN（如有）",
            nullable=True,
        ),
        F.get(
            "cn",
            description="CN salvaged from the line, if any",
            description_zh="从该行中提取出的 CN（如有）",
            nullable=True,
        ),
        F.get(
            "qn",
            description="QN salvaged from the line, if any",
            description_zh="从该行中提取出的 QN（如有）",
        ),
        _RECEIVED,
        F.get("raw_line"),
    ),
    primary_key=("segment", "offset"),
    owner=OWNER,
    frequency=WHEN_REJECTED,
    sharing=Sharing.NOT_SHARED,
    sharing_conditions=(
        "不予共享：被拒收的原始报文可能含数采仪访问密码（PW），仅供数据工程人员排查传输问题 "
        "(not shared: rejected raw lines can contain the logger's password (PW); data engineers only)"
    ),
    source_system=UPSTREAM,
)


def _aggregate_columns(period: str, period_zh: str, mean: str, mean_zh: str) -> tuple[Column, ...]:
    """The value columns of a mart of ``period``s; ``mean``/``mean_zh``: where its mean comes from."""
    return (
        F.get(
            "avg_value", description=f"{period} mean: {mean}", description_zh=f"{period_zh}均值：{mean_zh}"
        ),
        F.get("min_value", description=f"{period} minimum", description_zh=f"{period_zh}最小值"),
        F.get("max_value", description=f"{period} maximum", description_zh=f"{period_zh}最大值"),
        F.get(
            "cou_value",
            description=f"{period} cumulative amount (Cou), in `cou_unit`",
            description_zh=f"{period_zh}累计量（Cou），单位见 `cou_unit`",
        ),
        F.get(
            "zs_avg_value",
            description=f"{period} mean converted to the reference O2 (ZsAvg / ZsRtd)",
            description_zh=f"折算到基准氧含量的{period_zh}均值（ZsAvg / ZsRtd）",
        ),
        F.get(
            "zs_min_value",
            description=f"{period} minimum, converted",
            description_zh=f"{period_zh}最小值（折算值）",
        ),
        F.get(
            "zs_max_value",
            description=f"{period} maximum, converted",
            description_zh=f"{period_zh}最大值（折算值）",
        ),
        F.get(
            "unit",
            description="unit of the concentration values (HJ 212 code table)",
            description_zh="浓度值的单位（取自 HJ 212 编码表）",
        ),
        F.get("cou_unit"),
    )


hourly = Table(
    name="mart_source__hourly",
    layer=Layer.MART,
    source=SOURCE,
    title="Pollution-source hourly values per outlet and pollutant",
    title_zh="污染源小时数据",
    description=(
        "One row per outlet (mn), pollutant and Beijing hour. Basis: the hourly packet (2061) when the "
        "logger sent one, else the minute packets (2051) of the hour, else the real-time values (2011). "
        "The flag is the 2061 flag as sent, or rolled up from the minutes/samples per HJ 212: "
        "wastewater — one abnormal value makes the hour abnormal; flue gas — the hour is N only if "
        f"≥ {_PERCENT} % of its values are N and they cover ≥ {_MINUTES} minutes (HJ 75; `minutes_normal`; one or two "
        "minute or real-time values cannot). An hour not N carries its most frequent abnormal flag, or "
        f"none (NULL) when ≥ {_PERCENT} % of its values are N but they cover too few minutes. A value sent without a flag counts as N. "
        "Retransmitted copies are counted once."
    ),
    description_zh=(
        "每个排放口（mn）、污染物和北京时间小时一行。优先采用数采仪上报的小时数据（2061），否则用该小时的分钟数据（2051），"
        "再否则用实时数据（2011）。数据标记取2061上报值，或按 HJ 212 由分钟/实时数据汇总：废水一个异常值即判该小时异常；"
        f"废气该小时正常值不低于{_PERCENT}%且覆盖不少于{_MINUTES}分钟（HJ 75；minutes_normal）时才为N，否则取出现最多的异常标记，"
        "正常值过少而无异常标记时为空（单个分钟/实时样本不足以构成）。未带标记的值按N计；重传只计一次。"
    ),
    columns=(
        SHARED.get(
            "date",
            description="Beijing date of the hour (partition key)",
            description_zh="该小时所在的日期（北京时间，分区字段）",
        ),
        _MN,
        _POLLUTANT,
        *F("hour_at", "source_type"),
        HOURLY_FIELDS.get("basis"),
        *_aggregate_columns(
            "hourly",
            "小时",
            "2061's Avg as sent, else the mean of the 2051 Avg or 2011 Rtd values; an hour flagged N "
            "averages its N samples only",
            "2061 取上报的 Avg，否则为 2051 的 Avg 或 2011 的 Rtd 的平均值；"
            "标记为 N 的小时仅按其中标记为 N 的样本计算",
        ),
        F.get(
            "samples",
            description="packets aggregated (1 for 2061)",
            description_zh="参与汇总的数据包数（2061 为 1）",
        ),
        F.get("samples_normal"),
        HOURLY_FIELDS.get("minutes_normal"),
        HOURLY_FIELDS.get("flag"),
        F.get("retransmissions"),
    ),
    primary_key=("mn", "pollutant_code", "hour_at"),
    owner=OWNER,
    frequency=HOURLY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_KEYED_BY_MN,
    source_system=DERIVED,
)

daily = Table(
    name="mart_source__daily",
    layer=Layer.MART,
    source=SOURCE,
    title="Pollution-source daily values per outlet and pollutant",
    title_zh="污染源日数据",
    description=(
        "One row per outlet (mn), pollutant and Beijing day. Basis: the daily packet (2031) when the "
        "logger sent one; else the day's hours from mart_source__hourly (basis = their common basis, "
        "or `mixed`): mean of hourly means, min of minima, max of maxima, sum of Cou; the hourly "
        "flags are rolled up with the same HJ 212 rules one level up (wastewater: any abnormal hour; "
        f"flue gas: N only if ≥ {_PERCENT} % of the hours are N)."
    ),
    description_zh=(
        "每个排放口（mn）、污染物和北京时间自然日一行。优先采用数采仪上报的日数据（2031），否则由小时数据汇总"
        "（小时均值的平均、最小值的最小、最大值的最大、累计量求和；basis 为各小时共同的依据或 mixed）；"
        f"数据标记按同样的 HJ 212 规则由小时标记汇总（废水任一小时异常即异常；废气正常小时不低于{_PERCENT}%才为N）。"
    ),
    columns=(
        SHARED.get(
            "date", description="Beijing day (partition key)", description_zh="日期（北京时间，分区字段）"
        ),
        _MN,
        _POLLUTANT,
        F.get("source_type"),
        DAILY_FIELDS.get("basis"),
        *_aggregate_columns(
            "daily",
            "日",
            "2031's Avg as sent, else the mean of the day's hourly means; a day flagged N averages its N "
            "hours only",
            "2031 取上报的 Avg，否则为当日各小时均值的平均值；标记为 N 的日仅按其中标记为 N 的小时计算",
        ),
        F.get("hours"),
        F.get(
            "samples",
            description="packets (2031) or hours aggregated",
            description_zh="参与汇总的数据包数（2031）或小时数",
        ),
        F.get("samples_normal", description="of those, flagged N", description_zh="其中标记为 N 的个数"),
        DAILY_FIELDS.get("flag"),
        F.get("retransmissions"),
    ),
    primary_key=("mn", "pollutant_code", "date"),
    owner=OWNER,
    frequency=HOURLY,
    sharing=Sharing.CONDITIONAL,
    sharing_conditions=_KEYED_BY_MN,
    source_system=DERIVED,
)

register(packets, readings, quarantine, hourly, daily)
