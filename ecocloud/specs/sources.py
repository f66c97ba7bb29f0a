"""Pollution-source online monitoring (HJ 212): receiver segments and capture files, hourly."""

from __future__ import annotations

from datetime import timedelta

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="source",
    dag_id="pollution_sources",
    title="HJ 212 receiver segments → packets, readings, quarantine → quality gate → hourly/daily marts",
    description=(
        "Each run registers every closed receiver segment the raw manifest does not hold yet "
        "(whenever it closed: the ledger decides what is pending, not the data interval), parses each "
        "new input into packets, readings and quarantine (a part file per input in every date it "
        "touches), then rebuilds the hourly and daily marts of every date whose readings changed."
    ),
    arrival=Arrival.SEGMENTS,
    land="ecocloud.builds.sources:register_segments",
    schedule=Schedule(cron="0 * * * *"),
    builds=(
        Build(
            "core",
            outputs=("core_source__packets", "core_source__readings", "quarantine_source__packets"),
            evidence=("quarantine_source__packets",),
            publish=Publish.PART,
            summary=("lines", "accepted", "quarantined", "readings"),
            steps="ecocloud.builds.sources:Core",
            parallel=True,
            batch_units=256,
            batch_bytes=256 << 20,
            # thousands of small parts a run, rewritten into one zstd file per date by "compact": lz4
            # halves the CPU of writing a small part (BENCHMARKS.md, HJ 212 ingest)
            compression="lz4",
            doc="Parse each new segment or capture; gate per table once per batch; a part per input and date.",
        ),
        Build(
            "compact",
            outputs=("core_source__packets", "core_source__readings", "quarantine_source__packets"),
            evidence=("core_source__packets", "core_source__readings", "quarantine_source__packets"),
            publish=Publish.PART,
            summary=("table", "parts_in", "rows_out"),
            steps="ecocloud.builds.compaction:SOURCE",
            batch_units=64,  # each batch re-plans (ledger reads): few batches, bounded by bytes held
            batch_bytes=128 << 20,
            doc="Rewrite each date partition whose parts are all older than ECOCLOUD_HJ212_COMPACT_AFTER_HOURS "
            "into one file sorted by the table's key (rows already gated; lineage kept).",
        ),
        Build(
            "marts",
            outputs=("mart_source__hourly", "mart_source__daily"),
            publish=Publish.PARTITION,
            summary=("hourly", "daily", "hours_recomputed"),
            steps="ecocloud.builds.sources:Marts",
            batch_units=64,
            # 2: an N period's mean, min and max from its N samples only; 3: Cou units of NOx, smoke, NH3-N …;
            # 4: the type from the pollutant code before ST, a sample's flag as sent, a mean's count of what it sums
            code_version="4",
            doc="Hourly and daily values per outlet and pollutant (HJ 212 basis and flag roll-up).",
        ),
    ),
    task_policy={"execution_timeout": timedelta(minutes=50)},
    tags=("source:hj212", "layer:core", "layer:mart"),
)
