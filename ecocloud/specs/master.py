"""Master data: enterprise and monitoring-point registries, and the join-quality report."""

from __future__ import annotations

from datetime import timedelta

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="master",
    dag_id="master_data",
    title="Registry CSVs → raw → versioned enterprises and monitoring points → quality gate → core; join report",
    description=(
        "Runs every morning to pick up registry files at ECOCLOUD_MASTER_BASE_URL, and whenever "
        "permits, credit ratings or the outlet identities were republished (their Assets), because the join-quality "
        "report — MNs without a registry entry, outlets without a permit in force, USCCs that match no "
        "enterprise, invalid USCCs — depends on all of them."
    ),
    arrival=Arrival.SNAPSHOTS,
    land="ecocloud.builds.master:land_interval",
    schedule=Schedule(
        cron="0 7 * * *",
        assets=("core_permit__outlets", "core_credit__ratings", "mart_source__outlet_identity"),
    ),
    builds=(
        Build(
            "registries",
            outputs=("core_master__enterprises", "core_master__monitoring_points", "quarantine_master__rows"),
            evidence=("quarantine_master__rows",),
            publish=Publish.WHOLE,
            summary=("enterprises", "monitoring_points", "quarantined"),
            steps="ecocloud.builds.master:Registries",
            # 2: full-width codes normalised; a USCC in E notation is no enterprise key; a snapshot that
            # lost more than half its rows is refused unless accepted
            code_version="2",
            doc="Both versioned registries from every snapshot received; gated and published together.",
        ),
        Build(
            "join_report",
            outputs=("quality_master__join_report",),
            publish=Publish.PARTITION,
            steps="ecocloud.builds.master:JoinReport",
            doc="Today's join-quality report.",
        ),
    ),
    task_policy={"retry_delay": timedelta(minutes=5), "max_retry_delay": timedelta(hours=1)},
    tags=("source:master", "layer:core", "layer:quality"),
)
