"""Pollution-source online monitoring (HJ 212): receiver segments → core tables → hourly/daily marts.

Wiring only: every task calls one function of ``ecocloud.pipelines.sources``; library imports happen
inside tasks so parsing this file stays cheap. Each hourly run takes the receiver segments that were
*closed* during its data interval (``ecocloud receive`` lands them under
``ECOCLOUD_HJ212_LANDING_DIR``, default ``<lake>/raw/hj212``): a segment that closes late is taken
by a later run, and the ledger ingests every segment exactly once, so reruns change nothing.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from ecocloud.dag_defaults import task_defaults

PACKETS = Asset(name="core_source__packets", uri="ecocloud://lake/core/core_source__packets")
READINGS = Asset(name="core_source__readings", uri="ecocloud://lake/core/core_source__readings")
QUARANTINE = Asset(
    name="quarantine_source__packets", uri="ecocloud://lake/quarantine/quarantine_source__packets"
)
HOURLY = Asset(name="mart_source__hourly", uri="ecocloud://lake/mart/mart_source__hourly")
DAILY = Asset(name="mart_source__daily", uri="ecocloud://lake/mart/mart_source__daily")


@dag(
    dag_id="pollution_sources",
    description="HJ 212 receiver segments → packets, readings, quarantine → quality gate → hourly/daily marts",
    # A real one-hour data interval per run (a plain cron string gives zero-length intervals in Airflow 3).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,  # consecutive runs add parts to the same date partitions and rebuild its marts
    default_args=task_defaults(execution_timeout=timedelta(minutes=50)),
    tags=["ecocloud", "source:hj212", "layer:core", "layer:mart"],
    doc_md=__doc__,
)
def pollution_sources() -> None:
    @task
    def list_segments() -> list[dict[str, str]]:
        """The closed receiver segments (accepted and quarantined lines) of the data interval."""
        from ecocloud.pipelines import sources
        from ecocloud.settings import get_settings

        ctx = get_current_context()
        inputs = sources.segment_inputs(get_settings(), ctx["data_interval_start"], ctx["data_interval_end"])
        print(f"{len(inputs)} closed segments in the interval")
        return [sources.input_to_dict(i) for i in inputs]

    @task(outlets=[PACKETS, READINGS, QUARANTINE])
    def ingest(segments: list[dict[str, str]]) -> dict[str, list[int] | None]:
        """Parse each new segment, gate per table and date, publish its parts; returns the dates touched
        with the Beijing hours whose hourly values change (None: the whole date)."""
        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import sources
        from ecocloud.settings import get_settings

        report = sources.RunReport(
            sources.ingest_inputs(get_settings(), [sources.input_from_dict(s) for s in segments])
        )
        for r in report.inputs:
            print(f"{r.name} {r.status} {r.counts}")
        print(sources.summary(report))
        try:
            sources.check_report(report)
        except sources.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc  # deterministic: retrying cannot help
        return {d.isoformat(): (None if h is None else sorted(h)) for d, h in report.hours.items()}

    @task(outlets=[HOURLY, DAILY])
    def build_marts(touched: dict[str, list[int] | None]) -> None:
        """Hourly and daily values per outlet and pollutant (HJ 212 basis and flag roll-up) for those dates."""
        import datetime as dt

        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import sources
        from ecocloud.settings import get_settings

        hours = {dt.date.fromisoformat(d): (None if h is None else set(h)) for d, h in touched.items()}
        report = sources.RunReport(marts=sources.build_marts(get_settings(), list(hours), hours=hours))
        for m in report.marts:
            print(f"{m.date} {m.status} {m.counts}")
        try:
            sources.check_report(report)
        except sources.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import sources
        from ecocloud.settings import get_settings

        sources.refresh_serving(get_settings())

    touched = ingest(list_segments())
    build_marts(touched) >> refresh_serving()


pollution_sources()
