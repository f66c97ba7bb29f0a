"""How `ecocloud up` stops what it started (ecocloud/up.py), with real processes and no Airflow: a
process a child started that moved to a process group of its own (as Airflow 3 starts each task) or
a session of its own, and ignores SIGTERM, is SIGKILLed after the grace; a start-up that fails in any
way still stops the children started so far."""

from __future__ import annotations

import email.message
import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ecocloud import up
from ecocloud.settings import Settings

pytestmark = pytest.mark.skipif(sys.platform != "linux", reason="reads /proc")

# The child forks a grandchild that leaves the child's process group (setpgid) or session (setsid),
# sets its SIGTERM disposition, and only then writes its pid: signalled earlier, it would still be in
# the child's group, and a group signal alone would end it.
FORKING_CHILD = """
import os, signal, sys, time
leave, on_sigterm, pid_file = sys.argv[1:]
if os.fork() == 0:
    os.setpgid(0, 0) if leave == "setpgid" else os.setsid()
    signal.signal(signal.SIGTERM, signal.SIG_IGN if on_sigterm == "ignore" else signal.SIG_DFL)
    with open(pid_file + ".tmp", "w") as out:
        out.write(str(os.getpid()))
    os.replace(pid_file + ".tmp", pid_file)
    while True:
        time.sleep(60)
signal.pause()
"""
DEADLINE_S = 30.0


def _gone(pid: int) -> bool:
    """Ended: no such process, or a zombie (whoever inherited it may never reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat.rpartition(")")[2].split()[0] in ("Z", "X")


def _wait_gone(pid: int) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while not _gone(pid):
        assert time.monotonic() < deadline, f"process {pid} still running after Supervisor.stop()"
        time.sleep(0.05)


@contextmanager
def _grandchild(sup: up.Supervisor, tmp_path: Path, leave: str, on_sigterm: str) -> Iterator[int]:
    """Start the forking child under ``sup``; yield the grandchild's pid once it is set up. Afterwards
    nothing is left running, whatever stop() did."""
    pid_file = tmp_path / "grandchild.pid"
    child = sup.start("child", [sys.executable, "-c", FORKING_CHILD, leave, on_sigterm, str(pid_file)])
    pid = 0
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not pid_file.exists():
            assert child.proc.poll() is None, child.tail()
            assert time.monotonic() < deadline, f"no grandchild pid within {DEADLINE_S:.0f} s"
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        yield pid
    finally:
        if pid and not _gone(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        if child.proc.poll() is None:
            child.proc.kill()
            child.proc.wait()


@pytest.mark.parametrize("leave", ["setpgid", "setsid"])
def test_stop_kills_a_descendant_that_left_the_group_and_ignores_sigterm(tmp_path: Path, leave: str) -> None:
    sup = up.Supervisor(tmp_path / "logs", dict(os.environ))
    with _grandchild(sup, tmp_path, leave, on_sigterm="ignore") as pid:
        stopped = sup.stop(grace_s=1.0)
        _wait_gone(pid)
    assert stopped.codes == {"child": -signal.SIGTERM}
    assert [line.split(":")[0] for line in stopped.killed] == [str(pid)]


def test_stop_sends_sigterm_first_to_a_descendant_in_a_group_of_its_own(tmp_path: Path) -> None:
    sup = up.Supervisor(tmp_path / "logs", dict(os.environ))
    with _grandchild(sup, tmp_path, "setpgid", on_sigterm="default") as pid:
        stopped = sup.stop(grace_s=DEADLINE_S)
        _wait_gone(pid)
    assert stopped.killed == []  # it ended on SIGTERM, within the grace


# A child that, on its stop signal, waits ``delay`` seconds (or with "ignore", never ends), then appends
# its name to the shared file; it writes its ready file once its handler is set.
STOPPING_CHILD = """
import os, signal, sys, time
name, delay, shared, ready = sys.argv[1:]
def on_sigterm(*_):
    time.sleep(float(delay))
    with open(shared, "a") as out:
        out.write(name + "\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, signal.SIG_IGN if delay == "ignore" else on_sigterm)
open(ready, "w").close()
while True:
    time.sleep(60)
"""


def _stopping_child(
    sup: up.Supervisor, tmp_path: Path, name: str, delay: str, *, stops_last: bool
) -> up.Child:
    ready = tmp_path / f"{name}.ready"
    args = [sys.executable, "-c", STOPPING_CHILD, name, delay, str(tmp_path / "stopped"), str(ready)]
    child = sup.start(name, args, stops_last=stops_last)
    deadline = time.monotonic() + DEADLINE_S
    while not ready.exists():
        assert child.proc.poll() is None and time.monotonic() < deadline, child.tail()
        time.sleep(0.05)
    return child


def test_stop_waits_for_the_others_before_it_stops_those_that_stop_last(tmp_path: Path) -> None:
    """Ctrl-C with a task running ended in SIGKILL and the task ran again at the next start: the API
    server it reports its end to was stopped with the scheduler. The scheduler (here a child that takes
    a second to stop) is gone before the API server gets its SIGTERM."""
    sup = up.Supervisor(tmp_path / "logs", dict(os.environ))
    try:
        _stopping_child(sup, tmp_path, "api-server", "0", stops_last=True)
        _stopping_child(sup, tmp_path, "scheduler", "1", stops_last=False)
        stopped = sup.stop(grace_s=DEADLINE_S)
    finally:
        sup.stop(grace_s=0)
    assert (tmp_path / "stopped").read_text().split() == ["scheduler", "api-server"]
    assert stopped.codes == {"api-server": 0, "scheduler": 0} and stopped.killed == []


def test_stop_keeps_part_of_the_grace_for_those_that_stop_last(tmp_path: Path) -> None:
    """A scheduler that never ends does not hold the API server past the grace: it gets its SIGTERM
    with half the grace left (LAST_STAGE_GRACE_S of a longer one), and only the scheduler is killed."""
    sup = up.Supervisor(tmp_path / "logs", dict(os.environ))
    try:
        _stopping_child(sup, tmp_path, "api-server", "0", stops_last=True)
        scheduler = _stopping_child(sup, tmp_path, "scheduler", "ignore", stops_last=False)
        started = time.monotonic()
        stopped = sup.stop(grace_s=2.0)
        took = time.monotonic() - started
    finally:
        sup.stop(grace_s=0)
    assert (tmp_path / "stopped").read_text().split() == ["api-server"]
    assert stopped.codes == {"api-server": 0, "scheduler": -signal.SIGKILL}
    assert [line.split(":")[0] for line in stopped.killed] == [str(scheduler.proc.pid)]
    assert 2.0 <= took < 2.0 + DEADLINE_S / 10


class _Unexpected(Exception):
    pass


def test_run_up_stops_its_children_when_start_up_fails_with_any_exception(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    started: list[up.Child] = []

    def failing_start(_settings: Settings, _config: up.UpConfig, sup: up.Supervisor, *_: Any) -> None:
        started.append(sup.start("sleeper", [sys.executable, "-c", "import time; time.sleep(600)"]))
        raise _Unexpected  # not an UpError: a failed HTTP call, a bug

    monkeypatch.setattr(up, "_start", failing_start)
    handlers = {sig: signal.getsignal(sig) for sig in (signal.SIGINT, signal.SIGTERM)}  # run_up sets its own
    out = io.StringIO()
    try:
        with pytest.raises(_Unexpected):
            up.run_up(settings, up.UpConfig(), Console(file=out, width=200))
        assert started[0].proc.returncode == -signal.SIGTERM, out.getvalue()
        assert "stopped: sleeper (ended by SIGTERM)" in out.getvalue()
    finally:
        for sig, handler in handlers.items():
            signal.signal(sig, handler)
        for child in started:
            if child.proc.poll() is None:
                child.proc.kill()
                child.proc.wait()


def _client_answering_patch_with(status: int, monkeypatch: pytest.MonkeyPatch) -> up.AirflowClient:
    client = up.AirflowClient("http://127.0.0.1:1", "admin", "password")

    def call(method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if method == "GET":
            return {"dags": [{"dag_id": "air_quality"}]}
        body_bytes = io.BytesIO(b'{"detail": "no"}')
        raise urllib.error.HTTPError(client.base_url + path, status, "", email.message.Message(), body_bytes)

    monkeypatch.setattr(client, "_call", call)
    return client


def test_unpause_all_retries_while_the_api_server_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _client_answering_patch_with(503, monkeypatch).unpause_all(["air_quality"]) is False


def test_unpause_all_refused_is_an_up_error(monkeypatch: pytest.MonkeyPatch) -> None:
    client = _client_answering_patch_with(403, monkeypatch)
    refused = 'Airflow refused to unpause air_quality: HTTP 403 {"detail": "no"}'
    with pytest.raises(up.UpError, match=re.escape(refused)):
        client.unpause_all(["air_quality"])


# A stand-in for `ecocloud up` (no Airflow): its guard, then one child, then it waits to be killed.
STANDIN_UP = """
import os, sys, time
from pathlib import Path
from ecocloud import up
sup = up.Supervisor(Path(sys.argv[1]), dict(os.environ), grace_s=1.0)
up.start_guard(sup)
sup.start("child", [sys.executable, "-c", *sys.argv[2:]])
time.sleep(600)
"""


def test_an_up_killed_outright_has_its_children_stopped_by_its_guard(tmp_path: Path) -> None:
    """`up` SIGKILLed stopped nothing itself: a child's descendant that ignored the kernel's SIGTERM
    (Airflow's scheduler, which logged it and went on scheduling) ran on, and the next `up` ran a
    second scheduler beside it. Its guard stops what is left, as `up` would have."""
    logs, pid_file = tmp_path / "up", tmp_path / "grandchild.pid"
    env = {**os.environ, "ECOCLOUD_HOME": str(tmp_path / "home")}
    standin = subprocess.Popen(
        [sys.executable, "-c", STANDIN_UP, str(logs), FORKING_CHILD, "setpgid", "ignore", str(pid_file)],
        env=env,
    )
    pid = 0
    try:
        deadline = time.monotonic() + DEADLINE_S
        while not pid_file.exists():
            assert standin.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        pid = int(pid_file.read_text())
        standin.kill()
        standin.wait()
        _wait_gone(pid)
        deadline = time.monotonic() + DEADLINE_S
        while (logs / up.RUNNING_FILE).exists():
            assert time.monotonic() < deadline, "the guard left the running file"
            time.sleep(0.05)
        assert f"stopped what a killed up left running: {pid}: " in (logs / "guard.log").read_text()
    finally:
        if standin.poll() is None:
            standin.kill()
        if pid and not _gone(pid):
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def test_up_refuses_beside_a_running_up_and_stops_what_a_killed_one_left(tmp_path: Path) -> None:
    env = {**os.environ, "ECOCLOUD_HOME": str(tmp_path / "home")}
    sup = up.Supervisor(tmp_path / "up", env)
    me = up._process(os.getpid())
    assert me is not None
    sup.log_dir.mkdir()
    running = {
        "up": [me.pid, me.started],
        "boot": up._boot_id(),
        "home": env["ECOCLOUD_HOME"],
        "grace_s": 1.0,
    }
    sup.running_file.write_text(json.dumps({**running, "leaders": []}))
    held = up._lock(sup.log_dir)  # another up of this home holds the lock
    assert held is not None
    try:
        with pytest.raises(up.UpError, match=re.escape(f"already runs for this home (pid {me.pid})")):
            up.take_home(sup, Console(file=io.StringIO()))
        assert sup.running_file.exists()  # the running one's
    finally:
        os.close(held)

    left = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(600)"], env=env, start_new_session=True
    )
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True)
    try:  # a killed up left one child; another home's process, and a record of another boot, are not ours
        killed = {**running, "up": [me.pid, me.started - 1], "leaders": [left.pid, other.pid]}
        sup.running_file.write_text(json.dumps({**killed, "boot": "an earlier boot"}))
        fd = up.take_home(sup, Console(file=io.StringIO()))
        os.close(fd)
        assert left.poll() is None and other.poll() is None and not sup.running_file.exists()
        sup.running_file.write_text(json.dumps(killed))
        out = io.StringIO()
        fd = up.take_home(sup, Console(file=out, width=300))
        os.close(fd)
        assert left.wait(DEADLINE_S) == -signal.SIGTERM and other.poll() is None
        assert f"stopped them: {left.pid}: " in out.getvalue() and not sup.running_file.exists()
    finally:
        for proc in (left, other):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
