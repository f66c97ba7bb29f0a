"""Master data: the enterprise and monitoring-point registries, versioned, and the join-quality report.

Wiring only (library code in ``ecocloud.pipelines.master``). Runs every morning to pick up registry
files the data engineers published at ``ECOCLOUD_MASTER_BASE_URL``, and also whenever permits or
credit ratings were republished (their Assets), because the join-quality report — MNs without a
registry entry, outlets without a permit in force, USCCs that match no enterprise, invalid USCCs —
depends on all of them. Each step is skipped by the ledger when its inputs did not change.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, AssetOrTimeSchedule, CronTriggerTimetable, TriggerRule, dag, task

from ecocloud.dag_defaults import task_defaults

# Assets published by discharge_permits and enterprise_credit (same name and URI there).
PERMIT_OUTLETS = Asset(name="core_permit__outlets", uri="ecocloud://lake/core/core_permit__outlets")
CREDIT_RATINGS = Asset(name="core_credit__ratings", uri="ecocloud://lake/core/core_credit__ratings")

ENTERPRISES = Asset(name="core_master__enterprises", uri="ecocloud://lake/core/core_master__enterprises")
POINTS = Asset(
    name="core_master__monitoring_points", uri="ecocloud://lake/core/core_master__monitoring_points"
)
JOIN_REPORT = Asset(
    name="quality_master__join_report", uri="ecocloud://lake/quality/quality_master__join_report"
)


@dag(
    dag_id="master_data",
    description="Registry CSVs → raw → versioned enterprises and monitoring points → quality gate → core; join report",
    schedule=AssetOrTimeSchedule(
        timetable=CronTriggerTimetable("0 7 * * *", timezone="Asia/Shanghai"),
        assets=(PERMIT_OUTLETS | CREDIT_RATINGS),
    ),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(hours=1)),
    tags=["ecocloud", "source:master", "layer:core", "layer:quality"],
    doc_md=__doc__,
)
def master_data() -> None:
    @task
    def land() -> int:
        """Land new snapshots of the registry files; returns files landed."""
        from ecocloud.pipelines import master
        from ecocloud.settings import get_settings

        landed = master.land(get_settings())
        for obj in landed:
            print(f"landed {obj.raw_path} ({obj.logical_name}) from {obj.origin}")
        return len(landed)

    @task(outlets=[ENTERPRISES, POINTS])
    def build_registries() -> None:
        """Rebuild both versioned registries from every snapshot; gate; publish together."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ecocloud.pipelines import common, master
        from ecocloud.settings import get_settings

        report = master.build(get_settings())
        print("\n".join(report.lines() + report.warnings))
        if report.status in ("skipped", "no-data"):
            raise AirflowSkipException(f"registries {report.status}: no new snapshot")
        try:
            common.check([report])
        except common.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(outlets=[JOIN_REPORT], trigger_rule=TriggerRule.NONE_FAILED)
    def join_report() -> None:
        """Today's join-quality report (runs also when the registries were unchanged)."""
        from airflow.sdk.exceptions import AirflowFailException

        from ecocloud.pipelines import common, master
        from ecocloud.settings import get_settings

        report = master.build_join_report(get_settings())
        print("\n".join(report.lines() + report.warnings))
        try:
            common.check([report])
        except common.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task(trigger_rule=TriggerRule.NONE_FAILED)
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import common
        from ecocloud.settings import get_settings

        common.refresh_serving(get_settings())

    land() >> build_registries() >> join_report() >> refresh_serving()


master_data()
