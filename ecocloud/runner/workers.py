"""Forked worker processes for a parallel build's batches, stopped when the build is interrupted.

``ProcessPoolExecutor`` leaving its ``with`` block waits for the calls already running. So Airflow's
``execution_timeout`` (``AirflowTaskTimeout``, raised by SIGALRM in the task's main thread) or a
Ctrl-C took effect only once every running batch had finished: a task that had timed out went on
writing for as long as its batches took, and the timeout did not bound a hung one at all. Here an
interruption kills the workers first. That is safe: a batch records each unit in one ledger
transaction after its atomic publish and its locks go with its process, so a killed batch's
unrecorded units are pending for the next run. A batch that raises an ordinary exception still lets
the others finish, as before: their units are good work. A run killed outright (SIGKILL, the OOM
killer) cannot kill them: the kernel does (on Linux), as each worker asks for SIGKILL when its
parent dies — they hung on, holding the state database open, until killed by hand.
"""

from __future__ import annotations

import ctypes
import multiprocessing
import os
import signal
import sys
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager

# how long each killed worker may take to be reaped before the interruption goes on regardless
_REAP_SECONDS = 10.0


@contextmanager
def worker_pool(workers: int) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``workers`` forked processes, killed when an interruption (a ``BaseException`` that
    is no ``Exception``: a timeout, a termination, Ctrl-C) leaves the block."""
    pool = ProcessPoolExecutor(
        workers,
        mp_context=multiprocessing.get_context("fork"),
        initializer=die_with_parent,
        initargs=(signal.SIGKILL, os.getpid()),
    )
    try:
        yield pool
    except Exception:
        _wait_for(pool)  # the other batches finish, unless an interruption comes meanwhile
        raise
    except BaseException:
        _kill(pool)
        raise
    _wait_for(pool)


def _wait_for(pool: ProcessPoolExecutor) -> None:
    try:
        pool.shutdown(wait=True)
    except BaseException:
        _kill(pool)
        raise


def _kill(pool: ProcessPoolExecutor) -> None:
    # SIGKILL, not SIGTERM: forked from an Airflow task, a worker inherits its SIGTERM handler,
    # which ignores the signal in any process but the task's own.
    # (Python 3.14 has ProcessPoolExecutor.kill_workers(); on 3.11 the processes are this attribute.)
    processes = list((pool._processes or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        process.kill()
    for process in processes:
        process.join(_REAP_SECONDS)


_PRCTL = ctypes.CDLL(None).prctl if sys.platform == "linux" else None
_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: signal.Signals, parent: int) -> None:
    """In a child of ``parent``: ``sig`` from the kernel when the thread that started it ends, even by
    SIGKILL (Linux; elsewhere a no-op). The pool's workers start from the thread that submits to it.
    A parent gone before the request (between the fork and here) ends the child at once."""
    if _PRCTL is not None:
        _PRCTL(_PR_SET_PDEATHSIG, sig)
        if os.getppid() != parent:
            os._exit(1)
