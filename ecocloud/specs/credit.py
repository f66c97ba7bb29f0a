"""Enterprise environmental credit: provincial result files, every morning."""

from __future__ import annotations

from datetime import timedelta

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="credit",
    dag_id="enterprise_credit",
    title="Provincial credit result files (XLSX/CSV) → raw → typed ratings by scheme → quality gate → core",
    description=(
        "Each run reads the listing at ECOCLOUD_CREDIT_BASE_URL (a URL serving index.json, or a drop "
        "folder) and lands files that are new or changed (conditional GET); the ratings are rebuilt "
        "only when something landed."
    ),
    arrival=Arrival.SNAPSHOTS,
    land="ecocloud.builds.credit:land_interval",
    schedule=Schedule(cron="30 6 * * *"),
    builds=(
        Build(
            "ratings",
            outputs=("core_credit__ratings", "quarantine_credit__rows"),
            evidence=("quarantine_credit__rows",),
            publish=Publish.WHOLE,
            summary=("files", "files_unreadable", "rows_read", "rows_quarantined", "ratings", "uscc_invalid"),
            steps="ecocloud.builds.credit:Ratings",
            # 2: a USCC stored as a number is kept in E notation and flagged as one; 3: list batches;
            # 4: a list without a batch comes after the batches received before it
            code_version="4",
            doc="Ratings from the newest version of every file; a republished province-year-batch replaces the old.",
        ),
    ),
    task_policy={"retry_delay": timedelta(minutes=5), "max_retry_delay": timedelta(hours=1)},
    tags=("source:credit", "layer:core"),
)
