"""Enforcement analytics: exceedances, data-fraud indicators and risk-ranked sources, daily."""

from __future__ import annotations

from datetime import timedelta

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="risk",
    dag_id="enforcement_risk",
    title="Hourly values, registries, permits, credit → identity, exceedances, indicators → risk scores",
    description=(
        "Runs every morning and whenever the hourly source values, the monitoring-point registry, the "
        "permit limits or the credit ratings were republished (their Assets). Rebuilds the daily risk "
        "marts of every day whose inputs changed — outlet identity as of the readings, exceedances "
        "against the limit in force (O2-converted where the permit says so; national defaults, marked, "
        "only without a permit limit), data-fraud and data-quality indicators with the thresholds of "
        "transforms/risk/rules.toml — then scores outlets and enterprises for each period of the rules, "
        "ending on the newest day, with their top reasons in Chinese and the numbers behind them."
    ),
    arrival=Arrival.TABLES,
    schedule=Schedule(
        cron="30 7 * * *",
        assets=(
            "mart_source__hourly",
            "core_master__monitoring_points",
            "core_permit__outlet_limits",
            "core_credit__ratings",
        ),
    ),
    builds=(
        Build(
            "daily",
            outputs=(
                "mart_source__outlet_identity",
                "mart_source__exceedance_hourly",
                "mart_source__exceedance_daily",
                "mart_risk__indicators",
                "mart_source__disclosure_daily",
            ),
            publish=Publish.PARTITION,
            steps="ecocloud.builds.risk:Daily",
            # 2: an hour no logger sent in is no logger's silence; 3: the public disclosure table, and
            # a day over a daily-mean limit has that mean's 超标倍数; 4: the day's mean over the outlet's
            # whole day (a registry edit mid-day split it), permit limits under GB 18918 on the day's
            # mean, permit_status_since only once begun; 5: a default's limit for cold water hour by
            # hour, the daily row's limit the one its hours were judged on
            code_version="5",
            summary=(
                "identities",
                "exceedance_hours",
                "outlet_pollutant_days",
                "indicators_triggered",
                "disclosed",
                "withheld_from_disclosure",
            ),
            doc="Identity, exceedances, indicators and the public disclosure of every day whose hourly values, "
            "registries or rules changed.",
        ),
        Build(
            "scores",
            outputs=("mart_risk__outlet_scores", "mart_risk__enterprise_scores"),
            publish=Publish.PARTITION,
            steps="ecocloud.builds.risk:Scores",
            # 2: an enterprise's reasons carry the MN of the logger each is about; 3: a reason's points
            # rounded as shown (scores their sum), an enterprise's reasons its weighted contributions, the
            # largest multiple in reasons_json at the decimals its sentences show (it kept 3)
            code_version="3",
            summary=("periods", "outlets", "enterprises"),
            doc="Outlet and enterprise risk scores of each period of the rules, ending on the newest day.",
        ),
    ),
    # a new permit or registry version makes every day of history pending (each day reads them):
    # 363 days at 10,000 outlets took 767 s before the next-day lookahead (BENCHMARKS.md), and the
    # province may hold ten times the outlets — the 30 minutes of the default would end such a
    # rebuild as failed on every try
    task_policy={"execution_timeout": timedelta(hours=4)},
    tags=("source:risk", "layer:mart"),
)
