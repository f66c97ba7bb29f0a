"""Discharge permits: the permit platform's paged API, daily."""

from __future__ import annotations

from datetime import timedelta

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="permit",
    dag_id="discharge_permits",
    title="Permit platform API → raw pages → permit versions (SCD2), outlets, limits → quality gate → core",
    description=(
        "Each run asks the API for records updated since the newest published version "
        "(`updated_since`, with a one-day look-back) and lands the pages holding anything new; the "
        "build rebuilds permits, outlets and limits with their history from every landed page, gates "
        "them and publishes them together. Unchanged pages build nothing (no Asset event)."
    ),
    arrival=Arrival.PAGED_API,
    land="ecocloud.builds.permits:land_interval",
    schedule=Schedule(cron="0 6 * * *"),
    builds=(
        Build(
            "permits",
            outputs=(
                "core_permit__permits",
                "core_permit__outlets",
                "core_permit__outlet_limits",
                "quarantine_permit__records",
            ),
            evidence=("quarantine_permit__records",),
            publish=Publish.WHOLE,
            summary=(
                "pages",
                "pages_unreadable",
                "versions",
                "permits",
                "in_force_now",
                "revoked",
                "outlets",
                "limits",
                "quarantined",
            ),
            steps="ecocloud.builds.permits:Permits",
            # 2: validTo 长期有效/永久…, full-width outlet codes, undated revocations, late-recorded cancellations;
            # 3: a renewal issued early leaves the old version in force until its printed start; an
            # undated revocation dated when first recorded (effective_recorded)
            code_version="3",
            doc="Permit versions with history, outlets and limits; gated and published together.",
        ),
    ),
    task_policy={"retry_delay": timedelta(minutes=5), "max_retry_delay": timedelta(hours=1)},
    tags=("source:permit", "layer:core"),
)
