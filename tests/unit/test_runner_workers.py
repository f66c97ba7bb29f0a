"""The parallel build's worker pool: an interruption (Airflow's execution_timeout) kills the running
batches instead of waiting for them; an ordinary failure lets the others finish."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from airflow.sdk.exceptions import AirflowTaskTimeout
from airflow.sdk.execution_time.timeout import timeout

from ecocloud.runner.workers import worker_pool


def _slow_write(args: tuple[Path, float]) -> int:
    """A batch that ignores SIGTERM (as a worker forked from an Airflow task does), takes
    ``seconds`` and then leaves a file named after its process."""
    folder, seconds = args
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (folder / f"started-{os.getpid()}").touch()
    time.sleep(seconds)
    (folder / f"finished-{os.getpid()}").touch()
    return os.getpid()


def _fail_or_write(args: tuple[Path, float]) -> int:
    if args[1] == 0:
        # once the other batch runs: Executor.map cancels the calls not yet started when one fails
        deadline = time.monotonic() + 10
        while not list(args[0].glob("started-*")) and time.monotonic() < deadline:
            time.sleep(0.01)
        raise ValueError("a batch that fails")
    return _slow_write(args)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie is dead too: only its parent has not reaped it
    return Path(f"/proc/{pid}/stat").read_text().split(") ")[1][0] != "Z"


def test_a_timeout_kills_the_running_batches_instead_of_waiting_for_them(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(AirflowTaskTimeout), timeout(2), worker_pool(2) as pool:
        list(pool.map(_slow_write, [(tmp_path, 60.0)] * 4))
    waited = time.monotonic() - started
    workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]
    assert len(workers) == 2, "both workers had started a batch"
    assert not [w for w in workers if _alive(w)]
    assert not list(tmp_path.glob("finished-*"))
    assert waited < 30, f"the pool waited {waited:.0f} s for batches of 60 s"


def test_a_failing_batch_lets_the_running_ones_finish(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="a batch that fails"), worker_pool(2) as pool:
        list(pool.map(_fail_or_write, [(tmp_path, 0.0), (tmp_path, 1.0)]))
    assert len(list(tmp_path.glob("finished-*"))) == 1


def test_a_timeout_while_the_others_finish_after_a_failure_still_kills_them(tmp_path: Path) -> None:
    """A batch failed: the pool waits for the others to finish — and a timeout during that wait
    kills them, as any other."""
    with pytest.raises(AirflowTaskTimeout), timeout(3), worker_pool(2) as pool:
        list(pool.map(_fail_or_write, [(tmp_path, 0.0), (tmp_path, 60.0)]))
    workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]
    assert len(workers) == 1
    assert not [w for w in workers if _alive(w)]
    assert not list(tmp_path.glob("finished-*"))


# A run killed outright: its pool's workers, busy with batches that ignore SIGTERM, must not live on.
KILLED_RUN = """
import os, signal, sys, time
from pathlib import Path
from ecocloud.runner.workers import worker_pool

def batch(folder: str) -> None:
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    (Path(folder) / f"started-{os.getpid()}").touch()
    time.sleep(120)

with worker_pool(2) as pool:
    list(pool.map(batch, [sys.argv[1]] * 2))
"""


@pytest.mark.skipif(sys.platform != "linux", reason="the kernel's parent-death signal is Linux's")
def test_a_run_killed_outright_leaves_no_worker_running(tmp_path: Path) -> None:
    run = subprocess.Popen([sys.executable, "-c", KILLED_RUN, str(tmp_path)])
    try:
        deadline = time.monotonic() + 30
        while len(list(tmp_path.glob("started-*"))) < 2:
            assert run.poll() is None and time.monotonic() < deadline
            time.sleep(0.05)
        workers = [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]
        run.kill()
        run.wait()
        deadline = time.monotonic() + 10
        while [w for w in workers if _alive(w)]:
            assert time.monotonic() < deadline, f"workers still running after their run was killed: {workers}"
            time.sleep(0.05)
    finally:
        if run.poll() is None:
            run.kill()
        for w in [int(p.name.split("-")[1]) for p in tmp_path.glob("started-*")]:
            if _alive(w):
                os.kill(w, signal.SIGKILL)
