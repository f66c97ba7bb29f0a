"""Discharge permits: daily incremental fetch from the permit platform API into versioned core tables.

Wiring only: every task calls one library function from ``ecocloud.pipelines.permits``; library
imports happen inside tasks so parsing this file stays cheap. ``fetch`` asks the API for records
updated since the newest published version (``updated_since``, with a one-day look-back) and lands
the pages holding anything new; ``build`` rebuilds permits, outlets and limits with their history
from every landed page, gates them and publishes them together. When nothing changed, ``build`` is
skipped (no Asset event), so the master-data DAG is not woken for nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from ecocloud.dag_defaults import task_defaults

PERMITS = Asset(name="core_permit__permits", uri="ecocloud://lake/core/core_permit__permits")
OUTLETS = Asset(name="core_permit__outlets", uri="ecocloud://lake/core/core_permit__outlets")
LIMITS = Asset(name="core_permit__outlet_limits", uri="ecocloud://lake/core/core_permit__outlet_limits")


@dag(
    dag_id="discharge_permits",
    description="Permit platform API → raw pages → permit versions (SCD2), outlets, limits → quality gate → core",
    schedule=CronDataIntervalTimetable("0 6 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,  # every run rebuilds the same tables
    default_args=task_defaults(retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(hours=1)),
    tags=["ecocloud", "source:permit", "layer:core"],
    doc_md=__doc__,
)
def discharge_permits() -> None:
    @task
    def fetch() -> int:
        """Land the API pages updated since the newest published version; returns pages landed."""
        from ecocloud.pipelines import permits
        from ecocloud.settings import get_settings

        report = permits.fetch(get_settings())
        print(f"updated_since={report.updated_since} pages={report.pages} records={report.records}")
        for path in report.landed:
            print("  landed " + path)
        return len(report.landed)

    @task(outlets=[PERMITS, OUTLETS, LIMITS])
    def build() -> None:
        """Rebuild permit versions with history, outlets and limits; gate; publish together."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ecocloud.pipelines import common, permits
        from ecocloud.settings import get_settings

        report = permits.build(get_settings())
        print("\n".join(report.lines() + report.warnings))
        if report.status in ("skipped", "no-data"):
            raise AirflowSkipException(f"permits {report.status}: nothing to publish")
        try:
            common.check([report])
        except common.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc  # deterministic: retrying cannot help

    @task
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import common
        from ecocloud.settings import get_settings

        common.refresh_serving(get_settings())

    fetch() >> build() >> refresh_serving()


discharge_permits()
