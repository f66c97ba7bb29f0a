"""Ambient air quality: hourly ingest of the national release into the lake.

Wiring only: every task calls one library function from ``ecocloud.pipelines.air``; imports of
library code happen inside tasks so parsing this file stays cheap. Each run processes its data
interval: it fetches the day file(s) covering the interval and rebuilds those Beijing days whole.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, get_current_context, task

from ecocloud.dag_defaults import task_defaults

STATION_HOURLY = Asset(name="core_air__station_hourly", uri="ecocloud://lake/core/core_air__station_hourly")
STATIONS = Asset(name="core_air__stations", uri="ecocloud://lake/core/core_air__stations")
STATION_DAILY = Asset(name="core_air__station_daily", uri="ecocloud://lake/core/core_air__station_daily")
CITY_RANKING = Asset(
    name="mart_air__city_daily_ranking", uri="ecocloud://lake/mart/mart_air__city_daily_ranking"
)


@dag(
    dag_id="air_quality",
    description="National ambient air release → raw → typed station-hours → quality gate → core and marts",
    # A real one-hour data interval per run (a plain cron string gives zero-length intervals in Airflow 3).
    schedule=CronDataIntervalTimetable("0 * * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,  # consecutive hours rebuild the same day partition; run them in order
    default_args=task_defaults(),
    tags=["ecocloud", "source:air", "layer:core"],
    doc_md=__doc__,
)
def air_quality() -> None:
    @task
    def fetch() -> list[str]:
        """Land the day file(s) for the interval and the station list in the raw zone."""
        from ecocloud.pipelines import air
        from ecocloud.settings import get_settings

        ctx = get_current_context()
        days = air.fetch_interval(get_settings(), ctx["data_interval_start"], ctx["data_interval_end"])
        return [d.isoformat() for d in days]

    @task(outlets=[STATION_HOURLY])
    def build_station_hourly(days: list[str]) -> list[str]:
        """Parse, compute AQI, gate and publish each day's station-hours; quarantine what can't be typed."""
        import datetime as dt

        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import air
        from ecocloud.settings import get_settings

        ctx = get_current_context()
        settings = get_settings()
        reports = [
            air.build_day(settings, dt.date.fromisoformat(d), expected_latest=ctx["data_interval_start"])
            for d in days
        ]
        for r in reports:
            print(f"{r.date} {r.status} {r.counts}")
            for line in r.gate + r.warnings:
                print("  " + line)
        try:
            air.check_reports(reports)
        except air.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc  # deterministic: retrying cannot help
        return [r.date.isoformat() for r in reports if r.status in ("published", "skipped")]

    @task(outlets=[STATIONS])
    def build_stations() -> None:
        """Station dimension: the station list plus stations seen in data but missing from it."""
        from ecocloud.pipelines import air
        from ecocloud.settings import get_settings

        print(air.publish_stations(get_settings()).counts)

    @task(outlets=[STATION_DAILY, CITY_RANKING])
    def build_daily(days: list[str]) -> None:
        """Daily means with GB 3095 validity, daily AQI and the city ranking."""
        import datetime as dt

        from airflow.exceptions import AirflowFailException

        from ecocloud.pipelines import air
        from ecocloud.settings import get_settings

        settings = get_settings()
        reports = air.build_daily(settings, [dt.date.fromisoformat(d) for d in days])
        for r in reports:
            print(f"{r.date} {r.status} {r.counts}")
        try:
            air.check_reports(reports)
        except air.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import air
        from ecocloud.settings import get_settings

        air.refresh_serving(get_settings())

    days = fetch()
    published = build_station_hourly(days)
    stations = build_stations()
    daily = build_daily(published)
    published >> stations >> daily >> refresh_serving()


air_quality()
