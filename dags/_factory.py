"""The one DAG factory: every DAG file is ``make_dag("<spec>")`` over a source spec, except the lake's
maintenance DAG (``make_maintenance_dag()``, declared in ``ecocloud/maintenance.py``).

Tasks: ``land`` (the spec's scheduled landing step), one task per build (its outlets are the
build's registry tables as Assets), then ``refresh_serving``. Library code is imported inside
tasks only, so parsing a DAG file stays cheap. A build that published nothing is skipped (no Asset
event, so downstream DAGs are not woken for nothing); downstream builds still run, after a
failed landing or build too (``all_done``): each decides from the ledger what is pending and reads
only published parts, so one bad segment or day file does not hold back the marts — and the Asset
events that wake other DAGs — of everything else. The run still ends failed: ``fail_if_any_failed``
(``one_failed``, last) runs only after a failed task, and fails. A blocked quality gate
fails the task without retries (retrying the same data cannot help) when the task published
nothing else; when it did, the task succeeds (Airflow records Asset events only for a task that
succeeds) and ``gate_verdict`` (``all_done``, last) fails the run, naming every unit the run left
blocked in any attempt. A unit that fails (an error) is retried; on the last try, when the task
published other units, it succeeds too and ``gate_verdict`` fails the run naming the failed units
— a deterministic failure of one day does not silence the Assets of every run after it.
``refresh_serving`` runs whatever the builds did (``all_done``): the views follow the ledger, a
failed run's too, and retired parts no serving file has listed for the grace period
(``ECOCLOUD_SERVING_RETIRED_GRACE_MINUTES``) are deleted. A run triggered with the param
``accept_shrink`` publishes partitions the gate held back for shrinking (``ecocloud run --accept-shrink``);
with ``accept_shrink_of`` (a list of unit keys) those units' only (``--accept-shrink-of``); with
``rebuild`` (unit keys) those units are rebuilt though current (``ecocloud run --rebuild``).
"""

from __future__ import annotations

import pendulum
from airflow.sdk import (
    DAG,
    Asset,
    AssetOrTimeSchedule,
    CronDataIntervalTimetable,
    CronTriggerTimetable,
    Param,
    TriggerRule,
    dag,
    get_current_context,
    task,
)

from ecocloud import maintenance
from ecocloud.dag_defaults import task_defaults
from ecocloud.runner.spec import SourceSpec
from ecocloud.specs import get_spec


def asset(table_name: str) -> Asset:
    """The Asset of a registry table: named after it, URI ``ecocloud://lake/<layer>/<table>``."""
    layer = table_name.split("_", 1)[0]
    return Asset(name=table_name, uri=f"ecocloud://lake/{layer}/{table_name}")


def _schedule(spec: SourceSpec) -> object:
    cron, tz = spec.schedule.cron, spec.schedule.timezone
    if spec.schedule.assets:
        assets = [asset(t) for t in spec.schedule.assets]
        condition = assets[0]
        for a in assets[1:]:
            condition = condition | a  # type: ignore[assignment]
        if cron is None:
            return condition
        return AssetOrTimeSchedule(timetable=CronTriggerTimetable(cron, timezone=tz), assets=condition)
    # a real data interval per run (a plain cron string gives zero-length intervals in Airflow 3)
    return CronDataIntervalTimetable(cron, timezone=tz) if cron else None


def _run(task_name: str):  # type: ignore[no-untyped-def]
    """The RunInfo of the running task (Airflow's run id, dag.task, data interval)."""
    from ecocloud.runner.tasks import run_info

    ctx = get_current_context()
    return run_info(
        ctx["run_id"],
        f"{ctx['dag'].dag_id}.{task_name}",
        ctx.get("data_interval_start"),
        ctx.get("data_interval_end"),
        accept_shrink=bool(ctx["params"].get("accept_shrink", False)),
        accept_shrink_of=[str(u) for u in ctx["params"].get("accept_shrink_of") or []],
        rebuild=[str(u) for u in ctx["params"].get("rebuild") or []],
    )


def make_dag(spec_name: str) -> DAG:
    spec = get_spec(spec_name)

    @dag(
        dag_id=spec.dag_id,
        description=spec.title,
        schedule=_schedule(spec),
        start_date=pendulum.datetime(
            spec.start_date.year, spec.start_date.month, spec.start_date.day, tz=spec.schedule.timezone
        ),
        # the ledger decides what is pending, and air's landing asks for the days before its own
        # again: nothing is lost between runs
        catchup=False,
        max_active_runs=1,
        default_args=task_defaults(**spec.task_policy),
        tags=["ecocloud", *spec.tags],
        doc_md=spec.description,
        params={
            "accept_shrink": Param(
                False,
                type="boolean",
                description="publish partitions that lost more rows than their table allows, and rebuild "
                "the units the quality gate held back for shrinking alone (an operator's word that a smaller "
                "upstream file is right)",
            ),
            "accept_shrink_of": Param(
                [],
                type="array",
                items={"type": "string"},
                description="as accept_shrink, for these units only: their keys as the task log shows them "
                "(a date, mostly)",
            ),
            "rebuild": Param(
                [],
                type="array",
                items={"type": "string"},
                description="rebuild these units of every build though current (their keys as the task log "
                "shows them: a date, mostly), from what has landed; what depends on them follows",
            ),
        },
    )
    def _dag() -> None:
        @task(task_id="land", doc_md="Land the interval's bytes in the raw zone (with their manifest).")
        def land() -> int:
            from ecocloud.runner.tasks import land as land_step

            return land_step(spec.name, _run("land"))

        previous = land() if spec.land else None
        steps = [previous] if previous is not None else []
        for build in spec.builds:
            previous_task = _build_task(spec, build.name, build.outputs, build.doc)
            current = previous_task()
            if previous is not None:
                previous >> current
            previous = current
            steps.append(current)

        @task(
            task_id="refresh_serving",
            # after failed builds too: the views follow the ledger the published units changed
            trigger_rule=TriggerRule.ALL_DONE,
            outlets=[asset(t) for t in spec.refreshes],
        )
        def refresh_serving() -> None:
            """Regenerate the serving DuckDB file: views from the registry, the ledger's tables, the catalog."""
            from ecocloud.runner.tasks import refresh_serving as refresh

            refresh()

        refreshed = refresh_serving()
        if previous is not None:
            previous >> refreshed

        @task(task_id="fail_if_any_failed", trigger_rule=TriggerRule.ONE_FAILED, retries=0)
        def fail_if_any_failed() -> None:
            """The run's verdict: Airflow judges a run by its last tasks, and refresh_serving (and the
            builds) run after a failure too — this one runs only then, and fails the run."""
            from airflow.sdk.exceptions import AirflowFailException

            raise AirflowFailException("a landing, build or refresh task of this run failed (see its log)")

        @task(task_id="gate_verdict", trigger_rule=TriggerRule.ALL_DONE, retries=0)
        def gate_verdict() -> None:
            """Fails the run when the quality gate blocked a unit in it, in any attempt: a build that
            also published succeeds (its Asset events wake the DAGs downstream), and a retry skips
            a unit blocked before."""
            from airflow.sdk.exceptions import AirflowFailException

            from ecocloud.runner.report import QualityGateFailed
            from ecocloud.runner.tasks import gate_verdict as verdict

            try:
                verdict(spec.name, _run("gate_verdict"))
            except QualityGateFailed as exc:
                raise AirflowFailException(str(exc)) from exc

        [*steps, refreshed] >> fail_if_any_failed()
        refreshed >> gate_verdict()

    return _dag()


def _build_task(spec: SourceSpec, build_name: str, outputs: tuple[str, ...], doc: str):  # type: ignore[no-untyped-def]
    @task(
        task_id=f"build_{build_name}",
        outlets=[asset(t) for t in outputs],
        trigger_rule=TriggerRule.ALL_DONE,  # after a failed upstream task too (module doc)
        doc_md=doc or None,
    )
    def build() -> None:
        from airflow.sdk.exceptions import AirflowFailException, AirflowSkipException

        from ecocloud.runner.report import QualityGateFailed
        from ecocloud.runner.tasks import build as build_step
        from ecocloud.runner.tasks import changed_in_run

        run = _run(f"build_{build_name}")
        ti = get_current_context()["ti"]
        try:
            # on the last try a unit that failed every time does not hold back the Asset events of the
            # units this run published (module doc)
            build_step(spec.name, build_name, run, last_try=ti.try_number > ti.max_tries)
        except QualityGateFailed as exc:
            raise AirflowFailException(str(exc)) from exc  # deterministic: retrying cannot help
        if not changed_in_run(spec.name, build_name, run):
            raise AirflowSkipException(f"{spec.name}.{build_name}: nothing pending")

    return build


def make_maintenance_dag() -> DAG:
    """Daily: delete the lake's crash leftovers past their grace period (``ecocloud sweep --delete``)."""
    start = maintenance.START_DATE

    @dag(
        dag_id=maintenance.DAG_ID,
        description="Lake maintenance: delete table files no ledger part names, once past the grace period",
        schedule=CronTriggerTimetable(maintenance.CRON, timezone=maintenance.TIMEZONE),
        start_date=pendulum.datetime(start.year, start.month, start.day, tz=maintenance.TIMEZONE),
        catchup=False,  # one sweep covers everything missed
        max_active_runs=1,
        default_args=task_defaults(),
        tags=["ecocloud", "maintenance"],
        doc_md=maintenance.DOC,
    )
    def _dag() -> None:
        @task(task_id="sweep_lake")
        def sweep_lake() -> int:
            """Delete the lake's table files that no ledger part names and that were last modified more
            than ECOCLOUD_LAKE_SWEEP_GRACE_HOURS ago (crash leftovers); the task log lists them."""
            from ecocloud.runner.tasks import sweep_lake as sweep

            return sweep()

        sweep_lake()

    return _dag()
