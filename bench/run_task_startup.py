"""Airflow task durations under `ecocloud up`, with Airflow's LocalExecutor and with ours.

    .venv/bin/python -m bench.run_task_startup [--runs 2] [--wait 150]

Each run starts ``ecocloud up --simulate`` on a fresh home (the new user's command; the simulator's
fleet sends HJ 212 packets to the receiver), waits ``--wait`` seconds after Airflow is up while the
scheduler runs whatever is due (air_quality, surface_water, pollution_sources, … and the catalog they
wake), then reads every finished task instance's duration from Airflow's REST API and stops the
stack. Runs alternate the executors: ``LocalExecutor`` (a task process imports its modules itself)
and ``_executor.PreloadingLocalExecutor`` (``dags/_executor.py``: forked from a worker that holds
them). Prints per task the durations of each executor's runs; each run is a different set of data,
so compare the medians per task, not single runs.
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ecocloud.ports import free_port
from ecocloud.up import PRELOADING_LOCAL_EXECUTOR, AirflowClient, our_dag_ids

EXECUTORS = ("LocalExecutor", PRELOADING_LOCAL_EXECUTOR)


def one_run(executor: str, wait_s: float) -> list[tuple[str, float]]:
    """(dag.task, seconds) of every task instance that succeeded within ``wait_s`` of Airflow's start."""
    with tempfile.TemporaryDirectory(prefix="ecocloud-bench-tasks-") as tmp:
        ports = {name: free_port() for name in ("airflow", "web", "receiver", "simulator")}
        env = {**os.environ, "ECOCLOUD_HOME": str(Path(tmp) / "home"), "AIRFLOW__CORE__EXECUTOR": executor}
        out = Path(tmp) / "up.out"
        with out.open("wb") as sink:
            proc = subprocess.Popen(
                [
                    *(str(Path(sys.executable).with_name("ecocloud")), "up", "--simulate"),
                    *("--port-airflow", str(ports["airflow"]), "--port-web", str(ports["web"])),
                    *("--receiver-port", str(ports["receiver"]), "--simulator-port", str(ports["simulator"])),
                ],
                env=env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + 300
            found = None
            while found is None and time.monotonic() < deadline and proc.poll() is None:
                time.sleep(2)
                found = re.search(r"Airflow UI.*login admin / (\S+)\n", out.read_text())
            if found is None:
                raise RuntimeError(f"ecocloud up did not start:\n{out.read_text()[-3000:]}")
            time.sleep(wait_s)
            client = AirflowClient(f"http://127.0.0.1:{ports['airflow']}", "admin", found.group(1))
            durations = []
            for dag_id in our_dag_ids():
                for run in client.dag_runs(dag_id):
                    for ti in client.task_instances(dag_id, run["dag_run_id"]):
                        if ti["state"] == "success" and ti.get("duration") is not None:
                            durations.append((f"{dag_id}.{ti['task_id']}", float(ti["duration"])))
            return durations
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(180)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=2, help="runs per executor (alternating)")
    ap.add_argument("--wait", type=float, default=150.0, help="seconds the scheduler runs DAGs per run")
    args = ap.parse_args(argv)
    seen: dict[str, dict[str, list[float]]] = {e: {} for e in EXECUTORS}
    for i in range(args.runs):
        for executor in EXECUTORS:
            started = time.perf_counter()
            rows = one_run(executor, args.wait)
            for task, seconds in rows:
                seen[executor].setdefault(task, []).append(seconds)
            total = sum(s for _, s in rows)
            print(
                f"run {i + 1} {executor}: {len(rows)} task instances, {total:.1f} s of task time "
                f"({time.perf_counter() - started:.0f} s)",
                flush=True,
            )
    print(f"\n{'task':<48} " + " | ".join(f"{e.rsplit('.', 1)[-1]} (n, median s)" for e in EXECUTORS))
    for task in sorted(set().union(*(seen[e] for e in EXECUTORS))):
        cells = []
        for executor in EXECUTORS:
            values = seen[executor].get(task, [])
            cells.append(f"{len(values):>3}, {statistics.median(values):6.2f}" if values else "  -")
        print(f"{task:<48} " + " | ".join(f"{c:<30}" for c in cells))
    for executor in EXECUTORS:
        values = [v for vs in seen[executor].values() for v in vs]
        if values:
            print(f"{executor}: {len(values)} task instances, median {statistics.median(values):.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
