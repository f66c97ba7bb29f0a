"""`ecocloud up` unpauses each of our DAGs once: it unpaused every one at every start, undoing an
operator's pause. Its record of what it unpaused is an Airflow Variable, in the metadata database:
a file in the Airflow home outlived a metadata database made again at the same URL, and kept that
database's new DAGs paused for good."""

from __future__ import annotations

import io
import json
import subprocess
import threading
import urllib.error
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from email.message import Message
from typing import Any

import pytest
from conftest import free_port
from rich.console import Console

from ecocloud import up
from ecocloud.airflow_env import airflow_bin
from ecocloud.settings import Settings

VARIABLES = "/api/v2/variables"


def _http_error(path: str, code: int) -> urllib.error.HTTPError:
    return urllib.error.HTTPError(path, code, "refused", Message(), io.BytesIO(b'{"detail": "refused"}'))


class _Airflow(up.AirflowClient):
    """Airflow's DAG and Variable API over dicts: registered DAG id -> paused (new DAGs are paused at
    creation), Variable key -> value (a string, as Airflow stores it). ``refuse_writes``: the API
    server answers a Variable's PATCH and POST with that HTTP status."""

    def __init__(self, dags: dict[str, bool], variables: dict[str, str] | None = None) -> None:
        super().__init__("http://127.0.0.1:1", "admin", "password")
        self.dags = dags
        self.variables = {} if variables is None else variables
        self.patched: list[str] = []
        self.refuse_writes: int | None = None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if path.startswith(VARIABLES):
            return self._variable(method, path, body)
        if method == "GET":
            return {"dags": [{"dag_id": d, "is_paused": paused} for d, paused in self.dags.items()]}
        dag_id = path.rpartition("/")[2]
        assert body is not None
        self.dags[dag_id] = body["is_paused"]
        self.patched.append(dag_id)
        return {}

    def _variable(self, method: str, path: str, body: dict[str, Any] | None) -> Any:
        key = urllib.parse.unquote(path.removeprefix(VARIABLES).lstrip("/")) or (body or {}).get("key")
        if method != "GET" and self.refuse_writes is not None:
            raise _http_error(path, self.refuse_writes)
        if method == "POST":
            assert body is not None and key not in self.variables
        elif key not in self.variables:
            raise _http_error(path, 404)
        if method != "GET":
            assert body is not None and isinstance(body["value"], str) and body["description"]
            self.variables[body["key"]] = body["value"]
        return {"key": key, "value": self.variables[key], "description": "", "is_encrypted": False}

    def recorded(self) -> list[str]:
        return list(json.loads(self.variables[up.UNPAUSED_VARIABLE]))


def _up_starts(
    settings: Settings, airflow: up.AirflowClient, console: Console | None = None
) -> list[str] | None:
    sup = up.Supervisor(settings.root / "up", up.up_env(settings, up.UpConfig()))
    return up.unpause_new_dags(
        settings, sup, threading.Event(), airflow, console or Console(file=io.StringIO())
    )


def _said(console: Console) -> str:
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_up_unpauses_a_dag_once_and_keeps_an_operators_pause(settings: Settings) -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, airflow) == [] and airflow.patched == ours
    assert not any(airflow.dags.values())
    assert airflow.recorded() == sorted(ours)
    assert not (settings.airflow_dir / up.UNPAUSED_FILE).exists()  # the record is in Airflow only

    airflow.dags[ours[0]] = True  # an operator pauses one; up starts again
    airflow.patched.clear()
    assert _up_starts(settings, airflow) == [ours[0]] and airflow.patched == []
    assert airflow.dags[ours[0]] is True


def test_up_unpauses_a_dag_new_since_the_last_start(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours, True))
    monkeypatch.setattr(up, "our_dag_ids", lambda: ours[1:])  # a release before ours[0]'s DAG
    _up_starts(settings, airflow)
    airflow.dags[ours[1]] = True  # paused by an operator
    airflow.patched.clear()
    monkeypatch.setattr(up, "our_dag_ids", lambda: ours)
    assert _up_starts(settings, airflow) == [ours[1]] and airflow.patched == [ours[0]]
    assert airflow.recorded() == sorted(ours)


def test_up_unpauses_again_on_a_metadata_database_made_again(settings: Settings) -> None:
    """The same URL, a new database (dropped and created, or its SQLite file deleted): no Variable,
    so every DAG is new, paused at creation, and unpaused."""
    ours = up.our_dag_ids()
    _up_starts(settings, _Airflow(dict.fromkeys(ours, True)))
    fresh = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, fresh) == [] and fresh.patched == ours
    assert fresh.recorded() == sorted(ours)


def test_an_older_ecocloud_s_record_file_of_this_database_is_honoured_once_and_migrated(
    settings: Settings,
) -> None:
    ours = up.our_dag_ids()
    metadata = up._without_password(up.up_env(settings, up.UpConfig())["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    settings.airflow_dir.mkdir(parents=True)
    legacy = settings.airflow_dir / up.UNPAUSED_FILE
    legacy.write_text(json.dumps({"metadata": metadata, "dag_ids": ours[1:]}))
    dags = dict.fromkeys(ours, False) | {ours[0]: True, ours[1]: True}  # ours[0] new, ours[1] paused since
    airflow = _Airflow(dags)
    assert _up_starts(settings, airflow) == [ours[1]] and airflow.patched == [ours[0]]
    assert airflow.recorded() == sorted(ours) and not legacy.exists()


def test_an_older_ecocloud_s_record_file_of_another_database_counts_as_none_and_stays(
    settings: Settings,
) -> None:
    ours = up.our_dag_ids()
    settings.airflow_dir.mkdir(parents=True)
    legacy = settings.airflow_dir / up.UNPAUSED_FILE
    legacy.write_text(json.dumps({"metadata": "postgresql://airflow@elsewhere/airflow", "dag_ids": ours}))
    airflow = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, airflow) == [] and airflow.patched == ours
    assert airflow.recorded() == sorted(ours) and legacy.exists()  # an up on that database migrates it


@pytest.mark.parametrize("value", ["[]x", '"x"', "null", '{"dag_ids": ["air_quality"]}', '"air"', "[1]"])
def test_a_variable_not_of_its_shape_counts_as_none_is_warned_of_and_rewritten(
    settings: Settings, value: str
) -> None:
    """A record of another shape stopped every up after its children had started (AttributeError,
    TypeError), or read "air" as the DAGs a, i, r."""
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours, True), {up.UNPAUSED_VARIABLE: value})
    console = Console(file=io.StringIO(), width=400)
    assert _up_starts(settings, airflow, console) == [] and airflow.patched == ours
    assert airflow.recorded() == sorted(ours)
    assert f"warning: Airflow Variable {up.UNPAUSED_VARIABLE} is not a JSON list of DAG ids" in _said(console)


@pytest.mark.parametrize(
    "record", ["[]", '"x"', "null", '{"dag_ids": null}', '{"dag_ids": "air"}', "{not json"]
)
def test_an_older_record_file_not_of_its_shape_counts_as_none_and_is_dropped(
    settings: Settings, record: str
) -> None:
    ours = up.our_dag_ids()
    settings.airflow_dir.mkdir(parents=True)
    legacy = settings.airflow_dir / up.UNPAUSED_FILE
    legacy.write_text(record)
    airflow = _Airflow(dict.fromkeys(ours, True))
    console = Console(file=io.StringIO(), width=400)
    assert _up_starts(settings, airflow, console) == [] and airflow.patched == ours
    assert airflow.recorded() == sorted(ours) and not legacy.exists()
    assert f"warning: {legacy}: not" in _said(console)


def test_an_api_server_that_does_not_take_the_record_does_not_stop_up(settings: Settings) -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours, True))
    airflow.refuse_writes = 403
    console = Console(file=io.StringIO(), width=400)
    assert _up_starts(settings, airflow, console) == [] and airflow.patched == ours
    assert airflow.variables == {}
    assert f"warning: Airflow Variable {up.UNPAUSED_VARIABLE} not written (HTTP Error 403" in _said(console)
    assert "the next start unpauses them again" in _said(console)


def test_up_waits_until_our_dags_are_registered() -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours[1:], True))
    assert airflow.unpause_all(ours, unpause=ours) is False and airflow.patched == []


# ------------------------------------------------------------------------ a real Airflow API server
@contextmanager
def _airflow_started(settings: Settings, port: int) -> Iterator[tuple[up.Supervisor, up.AirflowClient]]:
    """Airflow on this home as ``up`` runs it — its metadata migrated, its API server and DAG processor
    (no scheduler: nothing is to run) — until the block ends."""
    env = up.up_env(settings, up.UpConfig(airflow_port=port))
    settings.airflow_dir.mkdir(parents=True, exist_ok=True)
    subprocess.run([airflow_bin(), "db", "migrate"], env=env, check=True, capture_output=True, timeout=300)
    sup = up.Supervisor(settings.root / "up", env)
    try:
        sup.start("airflow-api-server", [airflow_bin(), "api-server", "--host", up.HOST, "--port", str(port)])
        sup.start("airflow-dag-processor", [airflow_bin(), "dag-processor"])
        base = f"http://{up.HOST}:{port}"
        stop = threading.Event()
        up._wait(
            sup, stop, "the Airflow API server", lambda: up._http_ok(f"{base}/api/v2/monitor/health"), 300
        )
        password = up._airflow_admin_password(settings, sup, stop)
        assert password is not None
        yield sup, up.AirflowClient(base, "admin", password)
    finally:
        sup.stop()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_a_metadata_database_made_again_at_the_same_url_has_its_dags_unpaused_again(
    settings: Settings,
) -> None:
    """With Airflow's API server: up unpauses our DAGs; an operator pauses one, and a restart keeps it
    paused; the SQLite metadata database is deleted (made again at the same URL by the next start), and
    that start unpauses every DAG again — the record went with the database."""
    ours = up.our_dag_ids()
    port = free_port()
    console = Console(file=io.StringIO(), width=400)

    def up_starts(sup: up.Supervisor, client: up.AirflowClient) -> list[str] | None:
        return up.unpause_new_dags(settings, sup, threading.Event(), client, console)

    with _airflow_started(settings, port) as (sup, client):
        assert up_starts(sup, client) == []
        assert {d: p for d, p in client.paused().items() if d in ours} == dict.fromkeys(ours, False)
        assert json.loads(client.variable(up.UNPAUSED_VARIABLE) or "") == sorted(ours)
        client.set_variable(up.UNPAUSED_VARIABLE, json.dumps(ours[::-1]), up.UNPAUSED_DESCRIPTION)  # replaced
        assert json.loads(client.variable(up.UNPAUSED_VARIABLE) or "") == ours[::-1]
        client.pause(ours[0])  # an operator's pause
    with _airflow_started(settings, port) as (sup, client):
        assert up_starts(sup, client) == [ours[0]]
    metadata = settings.airflow_dir / "airflow.db"
    assert (
        up.up_env(settings, up.UpConfig())["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"] == f"sqlite:///{metadata}"
    )
    metadata.unlink()
    with _airflow_started(settings, port) as (sup, client):
        assert up_starts(sup, client) == []
        assert {d: p for d, p in client.paused().items() if d in ours} == dict.fromkeys(ours, False)
    assert "warning" not in _said(console)
