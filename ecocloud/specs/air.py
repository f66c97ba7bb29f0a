"""Ambient air quality: the national real-time release, hourly."""

from __future__ import annotations

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="air",
    dag_id="air_quality",
    title="National ambient air release → raw → typed station-hours → quality gate → core and marts",
    description=(
        "Each run lands the day file(s) holding its data interval's hours (an hour is stamped by its "
        "end: 23:00–24:00 is hour 0 of the next day's file) and the station list (conditional GET), "
        "then rebuilds every day whose newest day file changed: station-hours with AQI (HJ 633 by "
        "the day an hour began on), the station dimension, daily statistics over the natural day "
        "with GB 3095 validity (a day also when the next day's file brings its hour 0) and the city "
        "ranking."
    ),
    arrival=Arrival.FILES,
    land="ecocloud.builds.air:land_interval",
    schedule=Schedule(cron="0 * * * *"),
    builds=(
        Build(
            "hourly",
            outputs=("core_air__station_hourly", "quarantine_air__station_hourly"),
            evidence=("quarantine_air__station_hourly",),
            publish=Publish.PARTITION,
            summary=(
                "station_hours_in",
                "station_hours_kept",
                "station_hours_quarantined",
                "lines_quarantined",
                "aqi_agreement_pct",
            ),
            steps="ecocloud.builds.air:Hourly",
            parallel=True,
            batch_units=16,
            freshness=True,
            # 2: an hour's HJ 633 version by the day it began on (hour 0 of a file is the day before's)
            code_version="2",
            doc="Parse, compute AQI, gate and publish each changed day's station-hours; quarantine the rest.",
        ),
        Build(
            "stations",
            outputs=("core_air__stations",),
            publish=Publish.WHOLE,
            summary=("stations", "unlisted"),
            steps="ecocloud.builds.air:Stations",
            doc="Station dimension: the station list plus stations seen in data but missing from it.",
        ),
        Build(
            "daily",
            outputs=("core_air__station_daily", "mart_air__city_daily_ranking"),
            publish=Publish.PARTITION,
            summary=("stations", "cities_ranked"),
            steps="ecocloud.builds.air:Daily",
            parallel=True,
            # ~2,000 rows a day: a year is one batch per worker (GX runs per batch: 64 days a batch
            # took 0.5–0.7 s longer on a national year)
            batch_units=256,
            # 2: daily AQI (and a city's rank) only with all six indicators valid; missing_indicators
            # 3: the natural day (the hours ending 01:00 … 24:00, one of them in the next day's file);
            # under HJ 633-2012 a day without its O3 1-hour maximum has no AQI
            code_version="3",
            doc="Daily means with GB 3095 validity, daily AQI and the city ranking.",
        ),
    ),
    tags=("source:air", "layer:core", "layer:mart"),
)
