"""Every DAG file imports cleanly, cheaply, and follows the project's rules (retries, tags, no cycles)."""

from __future__ import annotations

import itertools
import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from ecocloud import maintenance
from ecocloud.airflow_env import DAGS_DIR, airflow_env
from ecocloud.settings import Settings

AIRFLOW_IMPORT = re.compile(r"^\s*(from airflow[. ]|import airflow\b(?!_))", re.MULTILINE)
DAG_FILES = sorted(p for p in DAGS_DIR.glob("*.py") if not p.name.startswith("_"))
# Parsing a DAG file must not pull in the heavy data stack: that work belongs inside tasks.
HEAVY = (
    "great_expectations",
    "duckdb",
    "pyarrow",
    "pandas",
    "sqlalchemy.dialects.sqlite",
    "ecocloud.runner.engine",
    "ecocloud.builds",
    "ingest",
    "schemas",
    "transforms",
    "warehouse",
)

_PROBE = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    from airflow.dag_processing.dagbag import BundleDagBag
    before = set(sys.modules)
    # as the DAG processor and the task runner parse them: the folder (bundle) is on sys.path
    bag = BundleDagBag(dag_folder=sys.argv[1], bundle_path=Path(sys.argv[1]))
    loaded = sorted(m for m in set(sys.modules) - before)
    out = {"errors": {k: str(v) for k, v in bag.import_errors.items()}, "dags": {}, "modules": loaded}
    for dag_id, dag in bag.dags.items():
        out["dags"][dag_id] = {
            "file": dag.fileloc,
            "tags": sorted(dag.tags),
            "schedule": type(dag.timetable).__name__ + " " + str(getattr(dag.timetable, "expression", "")),
            "catchup": dag.catchup,
            "params": {k: dag.params[k] for k in dag.params},
            "assets": sorted(a.name for a in getattr(getattr(dag.timetable, "asset_condition", None), "objects", [])),
            "tasks": {
                t.task_id: {"retries": t.retries, "trigger_rule": getattr(t.trigger_rule, "value", t.trigger_rule), "outlets": [[a.name, a.uri] for a in t.outlets], "upstream": sorted(t.upstream_task_ids)}
                for t in dag.tasks
            },
        }
    print("RESULT" + json.dumps(out))
    """
)


@pytest.fixture(scope="module")
def dagbag(tmp_path_factory: pytest.TempPathFactory) -> dict:
    import json

    settings = Settings(home=tmp_path_factory.mktemp("home"))
    env = airflow_env(settings)
    subprocess.run(
        [sys.executable, "-m", "airflow", "db", "migrate"], env=env, check=True, capture_output=True
    )
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, str(DAGS_DIR)], env=env, check=True, capture_output=True, text=True
    )
    line = next(ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT"))
    return json.loads(line[len("RESULT") :])


def test_every_dag_file_defines_a_dag_named_after_it(dagbag: dict) -> None:
    assert DAG_FILES
    assert dagbag["errors"] == {}
    assert {Path(d["file"]).stem for d in dagbag["dags"].values()} == {p.stem for p in DAG_FILES}
    assert set(dagbag["dags"]) == {p.stem for p in DAG_FILES}


def test_parsing_imports_nothing_heavy(dagbag: dict) -> None:
    heavy = [m for m in dagbag["modules"] if m.split(".")[0] in HEAVY or m.startswith(HEAVY)]
    assert heavy == []


def test_every_task_retries_and_every_dag_is_tagged(dagbag: dict) -> None:
    for dag_id, dag in dagbag["dags"].items():
        assert "ecocloud" in dag["tags"], dag_id
        assert dag["catchup"] is False, dag_id
        # every task but the run's verdict (its failure is the message, not a fault to retry)
        verdicts = ("fail_if_any_failed", "gate_verdict")
        assert all(t["retries"] >= 2 for n, t in dag["tasks"].items() if n not in verdicts), dag_id
        if dag_id == maintenance.DAG_ID:
            continue  # lands and publishes nothing (checked below)
        assert any(t.startswith("source:") for t in dag["tags"]), dag_id
        assert any(t["outlets"] for t in dag["tasks"].values()), f"{dag_id} publishes no Asset"


def test_no_cycles(dagbag: dict) -> None:
    for dag in dagbag["dags"].values():
        _assert_acyclic(dag)


def _assert_acyclic(dag: dict) -> None:
    upstream = {t: set(v["upstream"]) for t, v in dag["tasks"].items()}
    done: set[str] = set()
    while upstream:
        ready = [t for t, ups in upstream.items() if ups <= done]
        assert ready, f"cycle among {sorted(upstream)}"
        for t in ready:
            done.add(t)
            del upstream[t]


def test_dags_are_generated_from_the_specs(dagbag: dict) -> None:
    """One DAG per spec: land → a task per build (outlets = its registry tables) → refresh_serving."""
    from ecocloud.specs import all_specs
    from ecocloud.up import our_dag_ids

    specs = {s.dag_id: s for s in all_specs()}
    assert sorted(dagbag["dags"]) == sorted(our_dag_ids())
    for dag_id, spec in specs.items():
        dag = dagbag["dags"][dag_id]
        tasks = dag["tasks"]
        chain = [
            *(["land"] if spec.land else []),
            *(f"build_{b.name}" for b in spec.builds),
            "refresh_serving",
        ]
        assert set(tasks) == {*chain, "fail_if_any_failed", "gate_verdict"}, dag_id
        assert tasks[chain[0]]["upstream"] == []
        for before, after in itertools.pairwise(chain):
            assert tasks[after]["upstream"] == [before], (dag_id, after)
        for b in spec.builds:
            assert [o[0] for o in tasks[f"build_{b.name}"]["outlets"]] == list(b.outputs)
        assert [o[0] for o in tasks["refresh_serving"]["outlets"]] == list(spec.refreshes)
        # builds run whatever the tasks before them did (each reads the ledger: one failed unit must
        # not hold back the marts of the rest); serving is refreshed whatever happened
        for b in spec.builds:
            assert tasks[f"build_{b.name}"]["trigger_rule"] == "all_done", (dag_id, b.name)
        assert tasks["refresh_serving"]["trigger_rule"] == "all_done"
        # so the run's verdict is a last task that runs after any failure, and fails (no retries)
        verdict = tasks["fail_if_any_failed"]
        assert (verdict["trigger_rule"], verdict["retries"], verdict["upstream"]) == (
            "one_failed",
            0,
            sorted(chain),
        )
        # and a blocked unit fails the run after everything else, also where its build succeeded
        gate = tasks["gate_verdict"]
        assert (gate["trigger_rule"], gate["retries"], gate["upstream"]) == (
            "all_done",
            0,
            ["refresh_serving"],
        )
        # a trigger may accept shrinking, everywhere or in the units it names
        assert dag["params"] == {"accept_shrink": False, "accept_shrink_of": [], "rebuild": []}, dag_id


def test_the_catalog_is_rebuilt_when_any_dataset_changes(dagbag: dict) -> None:
    published = {o[0] for d in dagbag["dags"].values() for t in d["tasks"].values() for o in t["outlets"]}
    catalog = dagbag["dags"]["shared_catalog"]
    assert catalog["schedule"].startswith("AssetTriggeredTimetable")
    assert set(catalog["assets"]) == published - {
        o[0] for o in catalog["tasks"]["refresh_serving"]["outlets"]
    }


def test_every_outlet_is_a_registry_table(dagbag: dict) -> None:
    from schemas.registry import get_table

    outlets = [o for dag in dagbag["dags"].values() for t in dag["tasks"].values() for o in t["outlets"]]
    assert outlets
    for name, uri in outlets:
        table = get_table(name)  # raises for a name the registry does not have
        assert uri == f"ecocloud://lake/{table.layer.value}/{table.name}"


def test_air_quality_schedule(dagbag: dict) -> None:
    assert dagbag["dags"]["air_quality"]["schedule"] == "CronDataIntervalTimetable 0 * * * *"


def test_the_lake_is_swept_daily_and_nothing_else(dagbag: dict) -> None:
    """The maintenance DAG: one task, on a daily cron at a quiet Beijing hour, publishing no Asset (so
    it wakes no other DAG)."""
    dag = dagbag["dags"][maintenance.DAG_ID]
    assert dag["schedule"] == f"CronTriggerTimetable {maintenance.CRON}"
    assert list(dag["tasks"]) == ["sweep_lake"]
    assert dag["tasks"]["sweep_lake"]["outlets"] == []
    assert "maintenance" in dag["tags"]


def test_library_code_never_imports_airflow() -> None:
    offenders = [
        str(p.relative_to(DAGS_DIR.parent))
        for pkg in ("ecocloud", "ingest", "schemas", "transforms", "warehouse")
        for p in (DAGS_DIR.parent / pkg).rglob("*.py")
        if AIRFLOW_IMPORT.search(p.read_text())
    ]
    assert offenders == []


def test_ecocloud_airflow_runs_airflow_s_cli_on_this_home(tmp_path: Path) -> None:
    """A data engineer's first `airflow dags list` needed the home's environment copied by hand, a
    migrate and a reserialize before it listed anything."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "ECOCLOUD"))}
    env["ECOCLOUD_HOME"] = str(tmp_path / "home")
    ecocloud = str(Path(sys.executable).with_name("ecocloud"))

    def airflow(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [ecocloud, "airflow", *args], check=False, env=env, capture_output=True, text=True, timeout=300
        )

    listed = airflow("dags", "list", "-o", "plain")
    assert listed.returncode == 0, listed.stderr[-2000:]
    assert {"air_quality", "pollution_sources", "surface_water", "lake_maintenance"} <= set(
        re.findall(r"^(\w+)", listed.stdout, re.M)
    )
    assert "graphviz" not in listed.stdout + listed.stderr  # Airflow warned on every command without it
    shown = airflow("dags", "show", "pollution_sources")
    assert shown.returncode == 0, shown.stderr[-2000:]
    assert shown.stdout.startswith("digraph pollution_sources {")  # the graph as DOT text
    assert "land -> build_core" in shown.stdout
    bad = airflow("dags", "no-such-command")
    assert bad.returncode != 0  # Airflow's own exit code, passed on
