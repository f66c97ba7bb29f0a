"""``ecocloud demo``: the simulator and the real DAGs through Airflow for a few simulated days."""

from __future__ import annotations

import datetime as dt
import secrets
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from ecocloud.airflow_env import airflow_bin, airflow_env, ensure_db
from ecocloud.ports import free_port, port_free
from ecocloud.query import run_query
from ecocloud.settings import Settings
from ecocloud.simulator.server import RunningSimulator, running_simulator
from ecocloud.terminal import rows_table, said
from schemas import risk as risk_schema
from schemas.clock import BEIJING


@dataclass(frozen=True)
class DagRun:
    dag_id: str
    logical_date: dt.datetime  # the end of the data interval the run processes
    why: str


def planned_runs(first: dt.date, days: int) -> list[DagRun]:
    """Which DAG runs the demo makes, in order: each processes one data interval."""
    runs = [
        # the run for a day's last hour (23:00-24:00 Beijing) asks for the next day's file, which holds
        # that hour as its hour 0 (not served for the last day), and lands the day's own file whole
        # (its catch-up)
        DagRun(
            "air_quality",
            dt.datetime.combine(first + dt.timedelta(days=i + 1), dt.time(0), BEIJING),
            f"air, data interval {first + dt.timedelta(days=i)} 23:00-24:00",
        )
        for i in range(days)
    ]
    last = first + dt.timedelta(days=days)
    runs.append(
        DagRun("surface_water", dt.datetime.combine(last, dt.time(0), BEIJING), "surface water, 20:00-24:00")
    )
    morning = dt.datetime.combine(last, dt.time(7), BEIJING)
    runs += [
        DagRun("discharge_permits", morning, "permit platform, changes since the last run"),
        DagRun("enterprise_credit", morning, "provincial credit result files"),
        DagRun("master_data", morning, "enterprises, monitoring points and the join-quality report"),
    ]
    return runs


def _extra_env(sim: RunningSimulator, home: Path) -> dict[str, str]:
    from ecocloud.simulator.water import jiangxi_sections, registry_csv

    sections = home / "demo-inputs" / "jiangxi_sections.csv"  # the section registry data engineers keep
    sections.parent.mkdir(parents=True, exist_ok=True)
    sections.write_bytes(registry_csv(jiangxi_sections(2026)))
    return {
        "ECOCLOUD_AIR_BASE_URL": f"{sim.base_url}/air",
        "ECOCLOUD_WATER_BASE_URL": f"{sim.base_url}/water",
        "ECOCLOUD_WATER_SECTIONS_CSV": str(sections),
        "ECOCLOUD_PERMITS_BASE_URL": f"{sim.base_url}/permits",
        "ECOCLOUD_CREDIT_BASE_URL": f"{sim.base_url}/credit",
        "ECOCLOUD_MASTER_BASE_URL": f"{sim.base_url}/master",
    }


def run_demo(
    settings: Settings, *, days: int, console: Console, serve: bool = False, port: int = 8080
) -> None:
    t0 = time.monotonic()
    today = dt.datetime.now(BEIJING).date()
    first = today - dt.timedelta(days=days)
    console.rule("[bold]ecocloud demo")
    console.print(f"home: {settings.root}  (set ECOCLOUD_HOME to use another)", markup=False)
    console.print("preparing the Airflow metadata database (SQLite) …")
    ensure_db(settings)

    # simulated Beijing time: every demo day file is complete; the last day's own statistics lack its
    # hour ending 24:00, which is hour 0 of today's file (the simulator serves the demo days only)
    now = dt.datetime.combine(today, dt.time(0, 30))
    with running_simulator(start_date=first, days=days, seed=2026, now=now) as sim:
        console.print(
            f"simulator: {sim.base_url}/ — Jiangxi: {len(sim.air.stations)} air stations in 11 cities, "
            f"surface-water board, permit API, credit and master files; "
            f"{first} … {first + dt.timedelta(days=days - 1)}"
        )
        env = airflow_env(settings) | _extra_env(sim, settings.root)
        for run in planned_runs(first, days):
            _dags_test(settings, env, run, console)
        sources_run = _run_loggers(settings, console)
        _dags_test(settings, env, sources_run, console)
        risk_at = sources_run.logical_date
        _dags_test(
            settings,
            env,
            DagRun("enforcement_risk", risk_at, "exceedances, indicators, risk scores"),
            console,
        )
        # the morning's report could not check the MNs: no packets then (the daily run does, next day)
        why = "the join-quality report again, now with the loggers' packets and identities"
        _dags_test(settings, env, DagRun("master_data", risk_at, why), console)
        _dags_test(settings, env, DagRun("shared_catalog", risk_at, "the shared catalog"), console)

    _show(settings, console, "air: what was ingested", _INGESTED)
    _show(
        settings,
        console,
        f"air: city ranking, {first + dt.timedelta(days=days - 1)} (1 = best air)",
        _RANKING,
    )
    _show(settings, console, "surface water: basins this month (GB 3838)", _BASINS)
    _show(settings, console, "pollution sources: what the loggers sent (HJ 212)", _PACKETS)
    _show(settings, console, "pollution sources: rejected lines by reason", _REJECTS)
    _show(settings, console, "enforcement: sources to inspect first (ecocloud risk)", _RISK)
    _show(settings, console, "enterprises: credit levels and permits in force", _ENTERPRISES)
    _show(settings, console, "join-quality report (ecocloud quality)", _JOIN_REPORT)
    _show(settings, console, "quality gate (every table, latest run per day)", _QUALITY)
    console.rule(f"done in {time.monotonic() - t0:.0f} s")
    console.print(
        "where to look next:\n"
        '  .venv/bin/ecocloud sql "SHOW TABLES"            every published table is a view\n'
        '  .venv/bin/ecocloud sql "SELECT * FROM mart_air__city_daily_ranking ORDER BY date, rank"\n'
        '  .venv/bin/ecocloud sql "SELECT * FROM core_water__section_readings" --format csv\n'
        f"  DuckDB database:  {settings.duckdb_file}  (a connection of your own: SET TimeZone = "
        "'Asia/Shanghai' first, as `ecocloud sql` has it, or ::DATE cuts the host's days)\n"
        f"  Parquet lake:     {settings.lake_store.uri()}\n"
        f"  Airflow logs:     {settings.airflow_dir}/demo-*.log\n"
        "  the platform for continuous use (scheduler, UI, receiver, web app): "
        ".venv/bin/ecocloud up --simulate\n"
    )
    if serve:
        serve_web(settings, console, port)
    else:
        console.print(
            "web app on this data: .venv/bin/ecocloud serve --insecure-cookies  (plain http on loopback; "
            "`make demo` from a terminal starts it with demo logins, `--no-serve` skips it; to sign in "
            "here, add a login first: .venv/bin/ecocloud users add NAME --role analyst)"
        )


DEMO_USERS = (("demo-analyst", "analyst"), ("demo-enforcement", "enforcement"), ("demo-admin", "admin"))


def demo_users(settings: Settings) -> dict[str, tuple[str, str]]:
    """Demo logins with fresh random passwords (replacing earlier ones): name -> (role, password)."""
    from ecocloud.web.users import UserStore

    store = UserStore(settings.state_url)
    logins = {}
    for name, role in DEMO_USERS:
        password = secrets.token_urlsafe(12)
        store.add_user(name, password, role, replace=True)
        logins[name] = (role, password)
    return logins


def serve_web(settings: Settings, console: Console, port: int) -> None:
    """The web app on the demo's data, on loopback, until Ctrl-C (plain http: cookies without Secure)."""
    from ecocloud.cli_web import run_server
    from ecocloud.runner.engine import refresh_serving

    refresh_serving(settings)  # catalog as of now
    logins = demo_users(settings)
    port = port if port_free(port) else free_port()
    console.rule("[bold]web app")
    console.print(f"open http://127.0.0.1:{port}/  (Chinese; English at the top right) — Ctrl-C stops it")
    console.print("anonymous visitors see the 无条件共享 datasets; demo logins (passwords shown only now):")
    for name, (role, password) in logins.items():
        console.print(f"  {name:<18} {password}   role {role}")
    console.print("more users: .venv/bin/ecocloud users add NAME --role analyst|enforcement|admin|public")
    run_server(
        settings.model_copy(update={"web_cookie_secure": False}), "127.0.0.1", port
    )  # uvicorn stops on Ctrl-C


def _run_loggers(settings: Settings, console: Console) -> DagRun:
    """A real HJ 212 receiver in this process and the simulated logger fleet against it.

    Returns the ``pollution_sources`` run for the current hour; a run takes every closed segment the
    ledger has not ingested yet, whatever its interval, so late segments are never lost.
    """
    import asyncio

    from ecocloud.simulator.fleet import FaultPlan, fleet_devices, run_fleet
    from ingest.hj212.receiver import Receiver, ReceiverConfig

    sim_end = dt.datetime.now(BEIJING).replace(minute=0, second=0, microsecond=0, tzinfo=None)
    labels = settings.root / "simulator" / "hj212_fault_labels.jsonl"
    labels.parent.mkdir(parents=True, exist_ok=True)
    devices = fleet_devices(2026)

    async def session() -> tuple[int, int]:
        config = ReceiverConfig(
            landing_dir=settings.hj212_landing,
            host="127.0.0.1",
            port=0,
            receiver_id="demo",
            stats_interval_s=3600,
        )
        async with Receiver(config) as receiver:
            stats = await run_fleet(
                "127.0.0.1",
                receiver.port,
                devices,
                start=sim_end - dt.timedelta(hours=3),
                duration=dt.timedelta(hours=3),
                speed=0,  # as fast as the acks come back
                seed=2026,
                faults=FaultPlan.default(),
                labels_path=labels,
                wall_timeout_s=180,
            )
        return stats.sent, stats.acked  # leaving the receiver closes its segments

    started = time.monotonic()
    sent, acked = asyncio.run(session())
    console.print(
        f"HJ 212: {len(devices)} simulated data loggers sent {sent:,} lines over TCP to the receiver, "
        f"{acked:,} acknowledged after durable landing ({time.monotonic() - started:.0f} s; "
        f"injected faults: {labels})"
    )
    end = dt.datetime.now(BEIJING).replace(minute=0, second=0, microsecond=0) + dt.timedelta(hours=1)
    return DagRun("pollution_sources", end, "HJ 212 segments the receiver closed this hour")


# what `airflow dags test` logs while a failed task waits for its retry (the DAGs retry with backoff:
# minutes of silence in a demo, where a failure should show at once)
RETRY_WAIT = "up_for_retry"


def run_until(cmd: list[str], env: dict[str, str], log: Path, stop_at: str) -> tuple[int | None, str]:
    """Run ``cmd``, its output (stdout and stderr) into ``log`` as it comes; stop it at the first line
    containing ``stop_at``. (return code, None when stopped; the whole output)."""
    lines: list[str] = []
    with (
        log.open("w", encoding="utf-8", buffering=1) as sink,
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True) as proc,
    ):
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            sink.write(line)
            if stop_at in line:
                proc.terminate()
                proc.wait()
                return None, "".join(lines)
        return proc.wait(), "".join(lines)


def _dags_test(settings: Settings, env: dict[str, str], run: DagRun, console: Console) -> None:
    console.print(f"airflow dags test {run.dag_id} {run.logical_date.isoformat()}  ({run.why})")
    started = time.monotonic()
    log = settings.airflow_dir / f"demo-{run.dag_id}-{run.logical_date:%Y%m%dT%H%M}.log"
    code, output = run_until(
        [airflow_bin(), "dags", "test", run.dag_id, run.logical_date.isoformat()], env, log, RETRY_WAIT
    )
    ok = code == 0 and "state=success" in output
    status = "[green]success" if ok else "[red]FAILED"
    console.print(f"  {status}[/] in {time.monotonic() - started:.0f} s (log: {said(log)})")
    if not ok:  # Airflow's log as it is: its [brackets] are not markup
        if code is None:
            console.print("  a task failed (the demo does not wait for Airflow's retries):", style="red")
        console.print(output[-3000:], markup=False)
        raise SystemExit(1)


_INGESTED = """
SELECT date, count(*) AS station_hours, count(DISTINCT station_code) AS stations,
       count(DISTINCT observed_at) AS hours, min(aqi_standard) AS standard,
       round(100.0 * count(*) FILTER (WHERE aqi = aqi_published) / count(aqi_published), 3) AS "aqi = published %",
       (SELECT count(*) FROM quarantine_air__station_hourly q WHERE q.date = h.date) AS quarantined
FROM core_air__station_hourly h GROUP BY date ORDER BY date
"""
_QUALITY = """
SELECT table_name,   -- partitions checked; an unpartitioned table is one
       count(DISTINCT coalesce(partition_date::VARCHAR, 'whole table')) AS partitions, count(*) AS expectations,
       count(*) FILTER (WHERE NOT success AND severity = 'blocking') AS blocking_failed,
       count(*) FILTER (WHERE NOT success AND severity = 'warning') AS warnings
FROM quality_platform__expectation_results GROUP BY table_name ORDER BY table_name
"""
_RANKING = """
SELECT rank, city, stations,   -- GB/T 8170 rounding (a tie to even), as the web pages show them
       round_even(pm25_ugm3, 1) AS pm25_ugm3, round_even(o3_8h_max_ugm3, 1) AS o3_8h_max_ugm3,
       aqi, aqi_category, primary_pollutants
FROM mart_air__city_daily_ranking WHERE date = (SELECT max(date) FROM mart_air__city_daily_ranking)
ORDER BY rank NULLS LAST, city
"""
_PACKETS = """
SELECT cn, protocol_version, count(*) AS packets, count(DISTINCT mn) AS loggers
FROM core_source__packets GROUP BY ALL ORDER BY cn, protocol_version
"""
_REJECTS = """
SELECT reason, count(*) AS lines FROM quarantine_source__packets GROUP BY ALL ORDER BY lines DESC
"""
_RISK = f"""
SELECT rank, {risk_schema.rounded_sql("score", "score")} AS score, enterprise_name, outlet_code, split_part(top_reasons, '；', 1) AS first_reason
FROM mart_risk__outlet_scores
WHERE date = (SELECT max(date) FROM mart_risk__outlet_scores) AND score > 0
  AND period_days = (SELECT min(period_days) FROM mart_risk__outlet_scores)
ORDER BY rank LIMIT 8
"""
_ENTERPRISES = """
SELECT c.scheme, c.level, count(*) AS enterprises,
       count(p.uscc) AS with_permit_in_force
FROM core_credit__ratings c
LEFT JOIN (SELECT DISTINCT uscc FROM core_permit__permits WHERE is_current AND status = 'valid') p USING (uscc)
WHERE c.year = (SELECT max(year) FROM core_credit__ratings)
GROUP BY ALL ORDER BY min(c.level_rank)
"""
_JOIN_REPORT = """
SELECT check_name, CASE WHEN checked THEN occurrences::VARCHAR ELSE 'not checked' END AS occurrences
FROM quality_master__join_report
WHERE row_kind = 'summary' AND date = (SELECT max(date) FROM quality_master__join_report)
ORDER BY check_name
"""
_BASINS = """
SELECT * EXCLUDE (month) FROM mart_water__basin_monthly
WHERE month = (SELECT max(month) FROM mart_water__basin_monthly) AND water_body IS NULL
"""


def _show(settings: Settings, console: Console, title: str, sql: str) -> None:
    columns, rows = run_query(settings, sql)
    console.print(rows_table(columns, rows, title=title))
