"""`ecocloud up` unpauses each of our DAGs once: it unpaused every one at every start, undoing an
operator's pause."""

from __future__ import annotations

import io
import json
import threading
from typing import Any

import pytest
from rich.console import Console

from ecocloud import up
from ecocloud.settings import Settings


class _Airflow(up.AirflowClient):
    """Airflow's DAG API over a dict: registered DAG id -> paused (new DAGs are paused at creation)."""

    def __init__(self, dags: dict[str, bool]) -> None:
        super().__init__("http://127.0.0.1:1", "admin", "password")
        self.dags = dags
        self.patched: list[str] = []

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if method == "GET":
            return {"dags": [{"dag_id": d, "is_paused": paused} for d, paused in self.dags.items()]}
        dag_id = path.rpartition("/")[2]
        assert body is not None
        self.dags[dag_id] = body["is_paused"]
        self.patched.append(dag_id)
        return {}


def _up_starts(settings: Settings, airflow: _Airflow, console: Console | None = None) -> list[str] | None:
    sup = up.Supervisor(settings.root / "up", up.up_env(settings, up.UpConfig()))
    return up.unpause_new_dags(
        settings, sup, threading.Event(), airflow, console or Console(file=io.StringIO())
    )


def test_up_unpauses_a_dag_once_and_keeps_an_operators_pause(settings: Settings) -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, airflow) == [] and airflow.patched == ours
    assert not any(airflow.dags.values())

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


def test_up_unpauses_again_on_other_metadata(settings: Settings) -> None:
    """The record is of one Airflow metadata database: on a new one (another URL) the DAGs are new."""
    ours = up.our_dag_ids()
    settings.airflow_dir.mkdir(parents=True)
    other = {"metadata": "postgresql://airflow@elsewhere/airflow", "dag_ids": ours}
    (settings.airflow_dir / up.UNPAUSED_FILE).write_text(json.dumps(other))
    airflow = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, airflow) == [] and airflow.patched == ours
    record = json.loads((settings.airflow_dir / up.UNPAUSED_FILE).read_text())
    assert record["dag_ids"] == sorted(ours) and record["metadata"].startswith("sqlite:///")


@pytest.mark.parametrize("record", ["[]", '"x"', '{"dag_ids": null}', '{"dag_ids": "air"}', "{not json"])
def test_a_record_not_of_its_shape_counts_as_none_and_is_rewritten(settings: Settings, record: str) -> None:
    """A record of another shape stopped every up after its children had started (AttributeError,
    TypeError), or read "air" as the DAGs a, i, r."""
    ours = up.our_dag_ids()
    settings.airflow_dir.mkdir(parents=True)
    (settings.airflow_dir / up.UNPAUSED_FILE).write_text(record)
    airflow = _Airflow(dict.fromkeys(ours, True))
    console = Console(file=io.StringIO(), width=400)
    assert _up_starts(settings, airflow, console) == [] and airflow.patched == ours
    assert json.loads((settings.airflow_dir / up.UNPAUSED_FILE).read_text())["dag_ids"] == sorted(ours)
    assert console.file.getvalue().startswith(f"warning: {settings.airflow_dir / up.UNPAUSED_FILE}: not")  # type: ignore[attr-defined]


def test_a_home_that_cannot_take_the_record_does_not_stop_up(settings: Settings) -> None:
    ours = up.our_dag_ids()
    settings.airflow_dir.mkdir(parents=True)
    (settings.airflow_dir / (up.UNPAUSED_FILE.removesuffix(".json") + ".tmp")).mkdir()  # the write fails
    airflow = _Airflow(dict.fromkeys(ours, True))
    assert _up_starts(settings, airflow) == [] and airflow.patched == ours
    assert not (settings.airflow_dir / up.UNPAUSED_FILE).exists()


def test_up_waits_until_our_dags_are_registered() -> None:
    ours = up.our_dag_ids()
    airflow = _Airflow(dict.fromkeys(ours[1:], True))
    assert airflow.unpause_all(ours, unpause=ours) is False and airflow.patched == []
