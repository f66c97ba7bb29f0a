"""Enterprise environmental credit: look for new provincial result files every morning.

Wiring only (library code in ``ecocloud.pipelines.credit``). ``land`` reads the listing at
``ECOCLOUD_CREDIT_BASE_URL`` (a URL serving index.json, or a local drop folder) and lands files that
are new or changed (conditional GET: an unchanged file costs a 304). ``build`` runs only when
something landed — otherwise it is skipped and emits no Asset event — and rebuilds the ratings.
"""

from __future__ import annotations

from datetime import timedelta

import pendulum
from airflow.sdk import Asset, CronDataIntervalTimetable, dag, task

from ecocloud.dag_defaults import task_defaults

RATINGS = Asset(name="core_credit__ratings", uri="ecocloud://lake/core/core_credit__ratings")


@dag(
    dag_id="enterprise_credit",
    description="Provincial credit result files (XLSX/CSV) → raw → typed ratings by scheme → quality gate → core",
    schedule=CronDataIntervalTimetable("30 6 * * *", timezone="Asia/Shanghai"),
    start_date=pendulum.datetime(2026, 11, 1, tz="Asia/Shanghai"),
    catchup=False,
    max_active_runs=1,
    default_args=task_defaults(retry_delay=timedelta(minutes=5), max_retry_delay=timedelta(hours=1)),
    tags=["ecocloud", "source:credit", "layer:core"],
    doc_md=__doc__,
)
def enterprise_credit() -> None:
    @task
    def land() -> int:
        """Land new or changed result files from the listing / drop folder; returns files landed."""
        from ecocloud.pipelines import credit
        from ecocloud.settings import get_settings

        landed = credit.land(get_settings())
        for obj in landed:
            print(f"landed {obj.raw_path} from {obj.origin}")
        return len(landed)

    @task(outlets=[RATINGS])
    def build() -> None:
        """Rebuild the ratings from the newest version of every file; gate; publish."""
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ecocloud.pipelines import common, credit
        from ecocloud.settings import get_settings

        report = credit.build(get_settings())
        print("\n".join(report.lines() + report.warnings))
        if report.status in ("skipped", "no-data"):
            raise AirflowSkipException(f"credit ratings {report.status}: no new file")
        try:
            common.check([report])
        except common.QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc

    @task
    def refresh_serving() -> None:
        """Regenerate the serving DuckDB file's views from the registry."""
        from ecocloud.pipelines import common
        from ecocloud.settings import get_settings

        common.refresh_serving(get_settings())

    land() >> build() >> refresh_serving()


enterprise_credit()
