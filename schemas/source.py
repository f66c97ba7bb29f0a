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

from schemas.hj212_codes import DATA_FLAGS
from schemas.registry import Column, Layer, Severity, Sharing, Table, register

OWNER = "污染源自动监控中心 (pollution-source automatic monitoring centre)"
SOURCE = "source"

# Numeric statistics of a CP item (``<code>-<stat>``); HJ 212-2017 §6.6 plus ZsCou, which loggers send.
STATS: tuple[str, ...] = ("Rtd", "Min", "Avg", "Max", "Cou", "ZsRtd", "ZsMin", "ZsAvg", "ZsMax", "ZsCou")
FLAGS: tuple[str, ...] = tuple(DATA_FLAGS)  # N F M S D C T B
SOURCE_TYPES: tuple[str, ...] = ("wastewater", "flue_gas", "other")
HOURLY_BASES: tuple[str, ...] = ("2061", "2051", "2011")
DAILY_BASES: tuple[str, ...] = ("2031", "2061", "2051", "2011", "mixed")

_DATE = Column(
    "date",
    "date",
    "Beijing date of data_at (partition key); packets without DataTime: of received_at, else of the file",
    nullable=False,
)
_MN = Column(
    "mn", "string", "data-logger device id (MN, 设备唯一标识) = the monitored outlet", nullable=False
)
_SEGMENT = Column(
    "segment",
    "string",
    "raw location: receiver segment or landed capture file, path relative to the lake",
    nullable=False,
)
_OFFSET = Column(
    "offset",
    "int64",
    "raw location: byte offset of the record (segment) or line (capture, after gunzip)",
    nullable=False,
    min=0,
)
_CN = Column("cn", "string", "command code (CN): 2011 real-time, 2051 minute, 2061 hourly, 2031 daily …")
_POLLUTANT = Column(
    "pollutant_code", "string", "HJ 212-2017 pollutant code (2005 codes mapped), e.g. w01018", nullable=False
)

packets = Table(
    name="core_source__packets",
    layer=Layer.CORE,
    source=SOURCE,
    title="HJ 212 packets received (污染源在线监测 数据包)",
    description=(
        "One row per accepted HJ 212 packet (framing, length and CRC correct, structure usable), with "
        "its header, its data time, when and from where it was received, the parser's warnings and "
        "its raw location. `readings` says how many rows it contributed to core_source__readings."
    ),
    columns=(
        _DATE,
        _SEGMENT,
        _OFFSET,
        _MN,
        Column("st", "string", "system code (ST): 32 wastewater source, 31 flue-gas source, 91 system …"),
        Column("cn", "string", _CN.description, nullable=False),
        Column("qn", "string", "request id (QN, YYYYMMDDhhmmsszzz); 2005-style packets have none"),
        Column("flag", "int16", "Flag field (version<<2 | split<<1 | ack); NULL when absent", min=0, max=255),
        Column(
            "protocol_version",
            "int16",
            "protocol from the Flag version bits: 2005 (also when no Flag), 2017, 2025",
            nullable=False,
            min=2005,
            max=2025,
        ),
        Column("pnum", "int16", "split packet: total parts (PNUM)", min=1),
        Column("pno", "int16", "split packet: part number (PNO)", min=1),
        Column(
            "data_at", "timestamp", "DataTime (UTC): sampling instant (2011) or period start (2051/2061/2031)"
        ),
        Column("received_at", "timestamp", "when the receiver landed it (UTC); NULL for capture files"),
        Column(
            "receiver_status",
            "string",
            "receiver's acceptance flag: ok, or unregistered / bad_pw (open registry mode); NULL for files",
        ),
        Column("peer", "string", "sender ip:port as seen by the receiver; NULL for capture files"),
        Column("readings", "int16", "rows this packet contributed to core_source__readings", min=0),
        Column(
            "warnings",
            "string",
            "parser warnings, comma-separated: mn_not_24_hex, qn_format, st_unknown, duplicate_key:<k> …",
        ),
    ),
    primary_key=("segment", "offset"),
    owner=OWNER,
    frequency="hourly (each closed receiver segment once)",
    sharing=Sharing.NOT_SHARED,
)

readings = Table(
    name="core_source__readings",
    layer=Layer.CORE,
    source=SOURCE,
    title="Pollution-source readings, long format (污染源在线监测 监测值)",
    description=(
        "One row per numeric CP item of an accepted packet that has a DataTime: outlet (mn), command "
        "(cn), time, pollutant, statistic (Rtd real-time, Min/Avg/Max/Cou of a period, Zs* converted "
        "to the reference O2) and the item's data flag. Values are in the pollutant's unit "
        "(`unit`). Retransmitted copies are kept; the marts count each reading once."
    ),
    columns=(
        _DATE,
        _MN,
        Column("st", "string", "system code of the packet (32 wastewater, 31 flue gas)"),
        Column("cn", "string", _CN.description, nullable=False),
        Column("data_at", "timestamp", "DataTime (UTC): sampling instant or period start", nullable=False),
        _POLLUTANT,
        Column(
            "pollutant_code_original",
            "string",
            "the code as sent (2005 code such as 011 or B01, else the 2017 code)",
            nullable=False,
        ),
        Column("stat", "string", "statistic (CP key suffix)", nullable=False, allowed=STATS),
        Column("value", "float64", "the value, in `unit`", nullable=False),
        Column(
            "flag",
            "string",
            "data flag (N normal, F stopped, M maintenance, S manual, D fault, C calibration, T over "
            "range, B communication fault); NULL when the logger sent none",
            allowed=FLAGS,
            severity=Severity.WARNING,
        ),
        Column(
            "unit", "string", "unit from the HJ 212 code table (Cou: the cumulative unit); NULL if unknown"
        ),
        _SEGMENT,
        _OFFSET,
    ),
    primary_key=("segment", "offset", "pollutant_code", "stat"),
    owner=OWNER,
    frequency="hourly (each closed receiver segment once)",
    sharing=Sharing.CONDITIONAL,
)

quarantine = Table(
    name="quarantine_source__packets",
    layer=Layer.QUARANTINE,
    source=SOURCE,
    title="HJ 212 lines that were not accepted",
    description=(
        "Lines rejected by the receiver (its quarantine segments) or by the parser (damaged framing, "
        "length, CRC, structure) and data packets without DataTime, with the reason, best-effort header "
        "fields and the raw location. For every input: lines in = accepted packets + quarantined lines."
    ),
    columns=(
        Column(
            "date", "date", "Beijing date of received_at, else of the file (partition key)", nullable=False
        ),
        _SEGMENT,
        _OFFSET,
        Column(
            "reason",
            "string",
            "machine-readable reason (ingest.hj212.protocol reject reasons)",
            nullable=False,
        ),
        Column("detail", "string", "human-readable detail"),
        Column("mn", "string", "MN salvaged from the line, if any"),
        Column("cn", "string", "CN salvaged from the line, if any"),
        Column("qn", "string", "QN salvaged from the line, if any"),
        Column("received_at", "timestamp", "when the receiver landed it (UTC); NULL for capture files"),
        Column("raw_line", "string", "the line as received (UTF-8; other bytes as \\xNN escapes)"),
    ),
    primary_key=("segment", "offset"),
    owner=OWNER,
    frequency="hourly",
    sharing=Sharing.NOT_SHARED,
)


def _aggregate_columns(period: str) -> tuple[Column, ...]:
    return (
        Column("avg_value", "float64", f"{period} mean (2061/2031: Avg as sent; else mean of Avg or Rtd)"),
        Column("min_value", "float64", f"{period} minimum"),
        Column("max_value", "float64", f"{period} maximum"),
        Column("cou_value", "float64", f"{period} cumulative amount (Cou), in `cou_unit`"),
        Column("zs_avg_value", "float64", f"{period} mean converted to the reference O2 (ZsAvg / ZsRtd)"),
        Column("zs_min_value", "float64", f"{period} minimum, converted"),
        Column("zs_max_value", "float64", f"{period} maximum, converted"),
        Column("unit", "string", "unit of the concentration values (HJ 212 code table)"),
        Column("cou_unit", "string", "unit of cou_value (HJ 212 code table)"),
    )


_SOURCE_TYPE = Column(
    "source_type",
    "string",
    "wastewater (ST 32, else code prefix w) or flue_gas (ST 31, else prefix a): decides the flag roll-up",
    nullable=False,
    allowed=SOURCE_TYPES,
)

hourly = Table(
    name="mart_source__hourly",
    layer=Layer.MART,
    source=SOURCE,
    title="Pollution-source hourly values per outlet and pollutant (污染源小时数据)",
    description=(
        "One row per outlet (mn), pollutant and Beijing hour. Basis: the hourly packet (2061) when the "
        "logger sent one, else the minute packets (2051) of the hour, else the real-time values (2011). "
        "The flag is the 2061 flag as sent, or rolled up from the minutes/samples per HJ 212: "
        "wastewater — one abnormal value makes the hour abnormal; flue gas — the hour is N only if "
        "≥ 75 % of its values are N. An abnormal hour carries its most frequent abnormal flag. A value "
        "sent without a flag counts as N. Retransmitted copies are counted once."
    ),
    columns=(
        Column("date", "date", "Beijing date of the hour (partition key)", nullable=False),
        _MN,
        _POLLUTANT,
        Column("hour_at", "timestamp", "start of the Beijing hour (UTC)", nullable=False),
        _SOURCE_TYPE,
        Column("basis", "string", "command the values come from", nullable=False, allowed=HOURLY_BASES),
        *_aggregate_columns("hourly"),
        Column("samples", "int32", "packets aggregated (1 for 2061)", nullable=False, min=1),
        Column("samples_normal", "int32", "of those, flagged N (or unflagged)", nullable=False, min=0),
        Column("flag", "string", "the hour's (rolled-up) data flag", nullable=False),
        Column("retransmissions", "int32", "duplicate readings ignored", nullable=False, min=0),
    ),
    primary_key=("mn", "pollutant_code", "hour_at"),
    owner=OWNER,
    frequency="hourly",
    sharing=Sharing.UNCONDITIONAL,
)

daily = Table(
    name="mart_source__daily",
    layer=Layer.MART,
    source=SOURCE,
    title="Pollution-source daily values per outlet and pollutant (污染源日数据)",
    description=(
        "One row per outlet (mn), pollutant and Beijing day. Basis: the daily packet (2031) when the "
        "logger sent one; else the day's hours from mart_source__hourly (basis = their common basis, "
        "or `mixed`): mean of hourly means, min of minima, max of maxima, sum of Cou; the hourly "
        "flags are rolled up with the same HJ 212 rules one level up (wastewater: any abnormal hour; "
        "flue gas: N only if ≥ 75 % of the hours are N)."
    ),
    columns=(
        Column("date", "date", "Beijing day (partition key)", nullable=False),
        _MN,
        _POLLUTANT,
        _SOURCE_TYPE,
        Column("basis", "string", "what the values come from", nullable=False, allowed=DAILY_BASES),
        *_aggregate_columns("daily"),
        Column(
            "hours",
            "int16",
            "hours of the day in mart_source__hourly (whatever the basis)",
            nullable=False,
            min=0,
            max=24,
        ),
        Column("samples", "int32", "packets (2031) or hours aggregated", nullable=False, min=1),
        Column("samples_normal", "int32", "of those, flagged N", nullable=False, min=0),
        Column("flag", "string", "the day's (rolled-up) data flag", nullable=False),
        Column("retransmissions", "int32", "duplicate readings ignored", nullable=False, min=0),
    ),
    primary_key=("mn", "pollutant_code", "date"),
    owner=OWNER,
    frequency="hourly (the affected days are rebuilt)",
    sharing=Sharing.UNCONDITIONAL,
)

register(packets, readings, quarantine, hourly, daily)
