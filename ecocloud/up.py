"""``ecocloud up``: the whole platform on one machine, for continuous use, until Ctrl-C.

Children (each in its own process group, its output in ``<home>/up/<name>.log``): Airflow's
scheduler, DAG processor, triggerer and API server (UI) on our DAGs only; the HJ 212 receiver; the
web app; with ``simulate`` the upstream simulator and its data-logger fleet sending to the receiver.
Airflow runs on this home's SQLite metadata with the LocalExecutor (``dags/_executor.py``: its task
processes start with ecocloud's task modules imported) unless ``AIRFLOW__CORE__EXECUTOR`` and
``AIRFLOW__DATABASE__SQL_ALCHEMY_CONN`` say otherwise. SIGINT or SIGTERM stops every child and every
process it started: its process group gets its stop signal, and (on Linux, from /proc) the rest of its
session and its descendants SIGTERM — Airflow 3 starts each task process in a group of its own — and
whatever is left after ``STOP_GRACE_S`` is SIGKILLed. The API server, the web app and the simulator
are stopped only after the others (``Supervisor.stop``): a task being stopped still reports to the API
server. A start-up that fails in any way stops them the same way; a child that dies on its own stops
the rest.

An ``up`` that is killed outright (SIGKILL, the OOM killer) stops nothing itself: its children get
a SIGTERM from the kernel (PR_SET_PDEATHSIG), but Airflow's scheduler was seen to log it and go on
scheduling, and a second ``up`` then ran a second scheduler on the same metadata. So ``up`` writes
who it is and which children it started to ``<home>/up/running.json``, and a guard process in a
session of its own watches it: when ``up`` is gone without having stopped its children (a clean
stop removes the file), the guard stops what is left of them as ``up`` would (SIGTERM, the grace,
SIGKILL). Before it starts anything, ``up`` takes the home's lock (``up.lock``: refused while
another ``up`` of the home holds it) and does the same for an earlier ``up`` whose guard is gone too.
(Linux: without /proc there is no guard and no such clean-up.)
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console

from ecocloud.airflow_env import airflow_bin, airflow_env
from ecocloud.ports import port_free
from ecocloud.runner.workers import die_with_parent
from ecocloud.settings import Settings
from ecocloud.terminal import said

HOST = "127.0.0.1"  # every listener is loopback: docs/deployment.md exposes the platform for real
SIM_SEED = 2026
WEB_ADMIN = "admin"
STOP_GRACE_S = 30.0
# of the grace, what the children stopped last get at least (the API server and the web app stop in a
# second or two); those stopped first, and the task processes they wait for, have the rest
LAST_STAGE_GRACE_S = 5.0
PRELOADING_LOCAL_EXECUTOR = "_executor.PreloadingLocalExecutor"  # dags/_executor.py


@dataclass(frozen=True)
class UpConfig:
    airflow_port: int = 8080
    web_port: int = 8000
    receiver_port: int = 9212
    simulate: bool = False
    simulator_port: int = 8765
    simulator_days: int = 3
    logger_speed: float = 1.0  # simulated seconds per wall second: real time


class UpError(RuntimeError):
    """The platform could not be started (a child died, or did not answer in time)."""


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    log: Path
    stop_signal: signal.Signals = signal.SIGTERM
    stops_last: bool = False  # the others still call it while they finish (see Supervisor.stop)

    def tail(self, chars: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-chars:] if self.log.exists() else ""


@dataclass(frozen=True)
class Stopped:
    codes: dict[str, int]  # each child's exit code
    killed: list[str]  # "pid: command line" of every process SIGKILLed after the grace


@dataclass
class Supervisor:
    """Starts children in their own process groups and stops them (and their descendants)."""

    log_dir: Path
    env: dict[str, str]
    children: list[Child] = field(default_factory=list)
    grace_s: float = STOP_GRACE_S  # from a stop signal to SIGKILL (its guard's too)

    def start(
        self,
        name: str,
        args: list[str],
        stop_signal: signal.Signals = signal.SIGTERM,
        extra_env: dict[str, str] | None = None,
        *,
        stops_last: bool = False,
    ) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                args, env=self.env | (extra_env or {}), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,  # Ctrl-C reaches us only; the session marks all it starts (stop())
                # SIGTERM when up dies, even by SIGKILL (one foreign C call, resolved before the fork)
                preexec_fn=functools.partial(die_with_parent, signal.SIGTERM, os.getpid()),  # noqa: PLW1509
            )  # fmt: skip
        child = Child(name, proc, log, stop_signal, stops_last)
        self.children.append(child)
        self.record()
        return child

    @property
    def running_file(self) -> Path:
        """Who this ``up`` is and which children it started: what its guard reads."""
        return self.log_dir / RUNNING_FILE

    def record(self) -> None:
        if (me := _process(os.getpid())) is None:
            return  # no /proc: no guard either
        record = {
            "up": [me.pid, me.started],
            "boot": _boot_id(),
            "home": self.env.get("ECOCLOUD_HOME", ""),
            "grace_s": self.grace_s,
            "leaders": [c.proc.pid for c in self.children],
        }
        self.log_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.running_file.with_name(RUNNING_FILE + ".tmp")
        tmp.write_text(json.dumps(record))
        os.replace(tmp, self.running_file)

    def exited(self) -> Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def stop(self, grace_s: float | None = None) -> Stopped:
        """Stop the children in two stages within ``grace_s``: first the others, then those that
        ``stops_last`` (a task still running reports its end to the Airflow API server — stopped
        together, the task's report met a refused connection and the task ran again at the next start).
        A stage signals its children's process groups (SIGTERM, or a child's own stop signal), SIGTERMs
        the other processes they started, and waits for them; the first stage until they are gone or
        only ``LAST_STAGE_GRACE_S`` of the grace is left. Whatever of either is left after the grace is
        SIGKILLed; then the children are waited for."""
        grace = self.grace_s if grace_s is None else grace_s
        deadline = time.monotonic() + grace
        stages = [[c for c in self.children if not c.stops_last], [c for c in self.children if c.stops_last]]
        stages = [stage for stage in stages if stage]
        # before any signal: a descendant that left the session (setsid) is found while its parent lives
        trees = [_tree({c.proc.pid for c in stage}, {}) for stage in stages]
        seen: dict[tuple[int, int], _Proc] = {}
        for n, stage in enumerate(stages):
            seen |= _signal_stage(stage, trees[n])
            last = n == len(stages) - 1
            # the last stage waits for what is left of the first too: nothing is killed before the grace ends
            waited = [c for earlier in stages[: n + 1] for c in earlier]
            seen = _wait_gone(
                waited, seen, deadline if last else deadline - min(LAST_STAGE_GRACE_S, grace / 2)
            )
        left = _tree({c.proc.pid for c in self.children}, seen)
        killed = [f"{p.pid}: {_command_line(p)}" for p in left.values()]  # read while they still run
        for proc in left.values():
            _signal(proc, signal.SIGKILL)
        for child in self.children:
            if _group_alive(child.proc.pid):
                _signal_group(child.proc.pid, signal.SIGKILL)
            child.proc.wait()
        self.running_file.unlink(missing_ok=True)  # stopped: nothing for the guard to do
        return Stopped({c.name: c.proc.returncode for c in self.children}, killed)


def _signal_stage(children: list[Child], seen: dict[tuple[int, int], _Proc]) -> dict[tuple[int, int], _Proc]:
    """Signal ``children``'s process groups and SIGTERM the other processes they started (``seen`` so
    far, and any started since); those processes."""
    leaders = {c.proc.pid for c in children}
    seen = _tree(leaders, seen)
    for child in reversed(children):
        _signal_group(child.proc.pid, child.stop_signal)
    for proc in seen.values():  # those in a group of their own (Airflow's task processes) too
        if proc.pgid not in leaders:
            _signal(proc, signal.SIGTERM)
    return seen


def _wait_gone(
    children: list[Child], seen: dict[tuple[int, int], _Proc], deadline: float
) -> dict[tuple[int, int], _Proc]:
    """Wait until ``children`` and the processes they started are gone, or ``deadline``; what of
    them is still running."""
    leaders = {c.proc.pid for c in children}
    for child in children:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.proc.wait(max(0.1, deadline - time.monotonic()))
    while time.monotonic() < deadline:
        seen = _tree(leaders, seen)
        # a group counts only without /proc: a zombie in it (reparented, unreaped) is not a process
        if not (seen if _HAS_PROC else any(_group_alive(pgid) for pgid in leaders)):
            break
        time.sleep(0.2)  # descendants (task processes, API workers) finishing after their leader
    return _tree(leaders, seen)


@dataclass(frozen=True)
class _Proc:
    """A live process as ``/proc/<pid>/stat`` shows it."""

    pid: int
    ppid: int
    pgid: int
    sid: int
    started: int  # clock ticks after boot: with the pid, names the process even once the pid is reused
    command: str


def _tree(leaders: set[int], seen: dict[tuple[int, int], _Proc]) -> dict[tuple[int, int], _Proc]:
    """The live processes of the children ``leaders``: their sessions (a task process's setpgid does
    not leave it), the descendants of those, and the still-live ones of ``seen`` (one that left the
    session and outlived its parent). Empty where there is no /proc."""
    procs = _processes()
    found = {
        (p.pid, p.started): p
        for p in procs
        if p.sid in leaders or p.pid in leaders or (p.pid, p.started) in seen
    }
    by_parent: dict[int, list[_Proc]] = {}
    for p in procs:
        by_parent.setdefault(p.ppid, []).append(p)
    stack = list(found.values())
    while stack:
        for kid in by_parent.get(stack.pop().pid, []):
            if (kid.pid, kid.started) not in found:
                found[kid.pid, kid.started] = kid
                stack.append(kid)
    return found


def _processes() -> list[_Proc]:
    """Every live process (zombies are gone already: they cannot be signalled, only reaped)."""
    if not _HAS_PROC:
        return []  # stop() signals the children's process groups only
    pids = [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]
    return [proc for pid in pids if (proc := _read_proc(pid)) is not None]


def _read_proc(pid: int) -> _Proc | None:
    """``/proc/<pid>/stat``; None for a process that ended (or is a zombie)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None  # ended meanwhile
    command, _, rest = stat[stat.index("(") + 1 :].rpartition(")")  # a command may hold ") "
    fields = rest.split()  # from field 3, the state
    if fields[0] in ("Z", "X"):
        return None
    ppid, pgid, sid, started = (int(fields[i]) for i in (1, 2, 3, 19))
    return _Proc(pid, ppid, pgid, sid, started, command)


def _command_line(proc: _Proc) -> str:
    """As ``ps`` shows it (Airflow's task processes name their task there), else the command name."""
    try:
        args = Path(f"/proc/{proc.pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        args = []
    return b" ".join(a for a in args if a).decode(errors="replace")[:200] or proc.command


def _signal(proc: _Proc, sig: signal.Signals) -> None:
    # just found alive: its pid cannot have been reused since unless pids wrapped round meanwhile
    with contextlib.suppress(ProcessLookupError):
        os.kill(proc.pid, sig)


_HAS_PROC = sys.platform == "linux"  # /proc/<pid>/stat: each process's parent, group and session


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


# ------------------------------------------------------------------------ an up killed outright
RUNNING_FILE = "running.json"
LOCK_FILE = "up.lock"  # held by the up that runs (the kernel lets go when it dies, however it dies)
GUARD_POLL_S = 1.0


def _process(pid: int) -> _Proc | None:
    """The live process ``pid`` (None: gone, a zombie, or no /proc)."""
    return _read_proc(pid) if _HAS_PROC else None


def _alive(pid: int, started: int) -> bool:
    """Whether the process that had ``pid`` when it was ``started`` still runs (not a reused pid)."""
    proc = _process(pid)
    return proc is not None and proc.started == started


def _boot_id() -> str:
    """This boot's id: a record from an earlier boot names processes that are long gone."""
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return ""


def _home_of(proc: _Proc) -> str | None:
    """Its ECOCLOUD_HOME, as it started (None: unreadable — not ours to stop)."""
    try:
        environ = Path(f"/proc/{proc.pid}/environ").read_bytes()
    except OSError:
        return None
    found = [v for v in environ.split(b"\0") if v.startswith(b"ECOCLOUD_HOME=")]
    return found[0].partition(b"=")[2].decode(errors="replace") if found else ""


def _lineage() -> set[int]:
    """This process and its ancestors: never among what it stops."""
    by_pid = {p.pid: p for p in _processes()}
    pids, pid = set(), os.getpid()
    while pid > 1 and pid not in pids:
        pids.add(pid)
        pid = by_pid[pid].ppid if pid in by_pid else 0
    return pids


def stop_left_behind(record: dict[str, Any]) -> list[str]:
    """Stop what an ``up`` that has ended (``record``, its running file) left running, as its own stop
    would: SIGTERM, and SIGKILL after its grace. Only processes of this boot, of its children's sessions
    or trees, started after it, with its home, and not the caller or its ancestors: a pid reused since
    is another's. "pid: command line" of each."""
    if record.get("boot") != _boot_id():
        return []
    leaders, (_, up_started), home = set(record["leaders"]), record["up"], record["home"]
    mine = _lineage()

    def left(seen: dict[tuple[int, int], _Proc]) -> dict[tuple[int, int], _Proc]:
        tree = _tree(leaders, seen)
        return {
            k: p
            for k, p in tree.items()
            if p.started >= up_started and p.pid not in mine and _home_of(p) == home
        }

    seen = left({})
    described = [f"{p.pid}: {_command_line(p)}" for p in seen.values()]
    for proc in seen.values():
        _signal(proc, signal.SIGTERM)
    deadline = time.monotonic() + float(record.get("grace_s", STOP_GRACE_S))
    while (seen := left(seen)) and time.monotonic() < deadline:
        time.sleep(0.2)
    for proc in seen.values():
        _signal(proc, signal.SIGKILL)
    return described


def _lock(log_dir: Path) -> int | None:
    """The home's up lock, taken (an open descriptor), or None when another process holds it."""
    log_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(log_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    return fd


def guard(running: Path, poll_s: float = GUARD_POLL_S) -> None:
    """Watch the ``up`` of ``running`` until it ends; if its file is still there then (it did not
    stop its children), stop what they left running and print each. A new ``up`` of the home that
    holds the lock by then does this itself, and its file is not this guard's to remove."""
    while True:
        try:
            record = json.loads(running.read_text())
        except FileNotFoundError:
            return  # stopped cleanly
        if not _alive(*record["up"]):
            break
        time.sleep(poll_s)
    if (fd := _lock(running.parent)) is None:
        return
    try:
        for line in stop_left_behind(record):
            print(f"stopped what a killed up left running: {line}", flush=True)
        running.unlink(missing_ok=True)
    finally:
        os.close(fd)


def start_guard(sup: Supervisor) -> subprocess.Popen[bytes] | None:
    """The guard of this ``up`` (``python -m ecocloud.up RUNNING_FILE``), in a session of its own so
    that what ends ``up`` does not end it; None where there is no /proc."""
    if not _HAS_PROC:
        return None
    sup.record()
    with (sup.log_dir / "guard.log").open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "ecocloud.up", str(sup.running_file)],
            stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip


def take_home(sup: Supervisor, console: Console) -> int:
    """Before starting: the home's up lock (``UpError`` while another ``up`` of the home holds it), and
    what an earlier ``up`` that was killed left running stopped (its guard killed too). The lock's
    descriptor: held until this process ends."""
    fd = _lock(sup.log_dir)
    try:
        record = json.loads(sup.running_file.read_text())
    except (FileNotFoundError, ValueError):
        record = None
    if fd is None:
        pid = record["up"][0] if record else "?"
        raise UpError(
            f"ecocloud up already runs for this home (pid {pid}); stop it first (Ctrl-C where it runs, or kill {pid})"
        )
    if record is not None:
        if stopped := stop_left_behind(record):
            console.print(
                "[yellow]an earlier ecocloud up of this home was killed and left these running; stopped them: "
                + said("; ".join(stopped))
            )
        sup.running_file.unlink(missing_ok=True)
    return fd


# ------------------------------------------------------------------------------------ environment
def up_env(settings: Settings, config: UpConfig) -> dict[str, str]:
    """The children's environment: Airflow on this home, the venv's commands on PATH, and with
    ``simulate`` every upstream URL pointing at the simulator."""
    env = airflow_env(settings)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env.setdefault("AIRFLOW__CORE__EXECUTOR", PRELOADING_LOCAL_EXECUTOR)
    # task processes at once (Airflow's default, 32, keeps as many LocalExecutor workers around)
    env.setdefault("AIRFLOW__CORE__PARALLELISM", str(max(4, 2 * (os.cpu_count() or 1))))
    env.setdefault(
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://{HOST}:{config.airflow_port}/execution/"
    )
    env["AIRFLOW__API__HOST"] = HOST
    env["AIRFLOW__API__PORT"] = str(config.airflow_port)
    if config.simulate:
        env.update(simulator_env(settings, f"http://{HOST}:{config.simulator_port}"))
    return env


def simulator_env(settings: Settings, base_url: str) -> dict[str, str]:
    """``ECOCLOUD_*`` upstream settings for the simulator at ``base_url`` (and the section registry
    data engineers keep, written into the home)."""
    from ecocloud.simulator.water import jiangxi_sections, registry_csv

    sections = settings.root / "simulator" / "jiangxi_sections.csv"
    sections.parent.mkdir(parents=True, exist_ok=True)
    sections.write_bytes(registry_csv(jiangxi_sections(SIM_SEED)))
    return {
        "ECOCLOUD_AIR_BASE_URL": f"{base_url}/air",
        "ECOCLOUD_WATER_BASE_URL": f"{base_url}/water",
        "ECOCLOUD_WATER_SECTIONS_CSV": str(sections),
        "ECOCLOUD_PERMITS_BASE_URL": f"{base_url}/permits",
        "ECOCLOUD_CREDIT_BASE_URL": f"{base_url}/credit",
        "ECOCLOUD_MASTER_BASE_URL": f"{base_url}/master",
    }


def our_dag_ids() -> list[str]:
    from ecocloud import maintenance
    from ecocloud.specs import all_specs

    return [*(spec.dag_id for spec in all_specs()), maintenance.DAG_ID]


# ---------------------------------------------------------------------------------------- running
def run_up(settings: Settings, config: UpConfig, console: Console) -> int:
    """Start everything, print the addresses and logins, and run until SIGINT/SIGTERM (returns 0)
    or until a child dies (returns 1, with its log's tail). Returns 2, starting nothing, when a port
    it would listen on is taken."""
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    env = up_env(settings, config)
    sup = Supervisor(settings.root / "up", env)
    try:
        lock = take_home(sup, console)
    except UpError as exc:  # another up of this home: nothing of ours to stop
        console.print(f"[red]{said(exc)}")
        return 1
    if taken := ports_taken(config):  # before any child: else another's servers answer our checks
        console.print(f"[red]{said('; '.join(taken))}; nothing started")
        os.close(lock)
        return 2
    watcher = start_guard(sup)
    try:
        return _run(settings, config, sup, stop, console)
    except UpError as exc:
        console.print(f"[red]{said(exc)}")
        return 1
    finally:  # however the run ends (any exception too): nothing it started outlives it
        _stop(sup, console)
        if watcher is not None:  # its file is gone: it ends within a poll
            watcher.wait()
        os.close(lock)


def ports_taken(config: UpConfig) -> list[str]:
    """Why ``up`` cannot listen where ``config`` says: each port something listens on already (another
    home's ``up`` among them), or that two of its options name, with what changes it."""
    options = {
        "--port-airflow": config.airflow_port,
        "--port-web": config.web_port,
        "--receiver-port or ECOCLOUD_HJ212_PORT": config.receiver_port,
    }
    if config.simulate:
        options["--simulator-port or ECOCLOUD_SIMULATOR_PORT"] = config.simulator_port
    by_port: dict[int, list[str]] = {}
    for option, port in options.items():
        by_port.setdefault(port, []).append(option)
    twice = [
        f"port {port} is named twice: by {' and by '.join(named)}"
        for port, named in by_port.items()
        if len(named) > 1
    ]
    return twice or [
        f"port {port} is in use on {HOST} (another program, or another home's ecocloud up): "
        f"choose another with {named[0]}"
        for port, named in by_port.items()
        if not port_free(port)
    ]


def _run(
    settings: Settings, config: UpConfig, sup: Supervisor, stop: threading.Event, console: Console
) -> int:
    started = _start(settings, config, sup, stop, console)
    if started is not None:
        _announce(settings, config, sup, started, console)
        while not stop.wait(0.5):
            if (dead := sup.exited()) is not None:
                raise UpError(f"{dead.name} exited with {dead.proc.returncode}:\n{dead.tail()}")
    return 0


def _stop(sup: Supervisor, console: Console) -> None:
    console.print(f"stopping {len(sup.children)} processes …")
    stopped = sup.stop()
    if stopped.killed:
        console.print(f"killed after the {STOP_GRACE_S:.0f} s grace: " + "; ".join(stopped.killed))
    console.print("stopped: " + ", ".join(f"{name} ({_ended(code)})" for name, code in stopped.codes.items()))


def _ended(code: int) -> str:
    """An exit code as an operator reads it: the status, or the signal that ended the process (uvicorn,
    the web app's server, shuts down on SIGTERM and then ends by it, as Python's default would)."""
    if code >= 0:
        return f"exit {code}"
    try:
        return f"ended by {signal.Signals(-code).name}"
    except ValueError:
        return f"ended by signal {-code}"


@dataclass(frozen=True)
class Started:
    airflow_password: str
    web_password: str
    paused_dag_ids: list[str]  # ours that are paused: an operator paused them after up unpaused them


def _start(
    settings: Settings, config: UpConfig, sup: Supervisor, stop: threading.Event, console: Console
) -> Started | None:
    """Start every child and wait until they answer; the logins, or None when stopped meanwhile."""
    console.print(
        f"home: {settings.root}  (Airflow: {settings.airflow_dir}, logs: {sup.log_dir})", markup=False
    )
    console.print("preparing the Airflow metadata database …")
    settings.airflow_dir.mkdir(parents=True, exist_ok=True)
    migrate = subprocess.run(
        [airflow_bin(), "db", "migrate"], env=sup.env, capture_output=True, text=True, check=False
    )
    if migrate.returncode != 0:
        raise UpError(f"airflow db migrate failed:\n{(migrate.stdout + migrate.stderr)[-3000:]}")
    web_password = _web_admin(settings)
    _start_airflow(sup, config)
    _start_platform(settings, sup, config)

    console.print("waiting for the Airflow API server, the web app and the receiver …")
    base = f"http://{HOST}:{config.airflow_port}"
    _wait(sup, stop, "the Airflow API server", lambda: _http_ok(f"{base}/api/v2/monitor/health"), 300)
    _wait(sup, stop, "the web app", lambda: _http_ok(f"http://{HOST}:{config.web_port}/healthz"), 120)
    _wait(sup, stop, "the HJ 212 receiver", lambda: _tcp_ok(config.receiver_port), 60)
    if config.simulate:
        sim = f"http://{HOST}:{config.simulator_port}/air/station_list.csv"
        _wait(sup, stop, "the simulator", lambda: _http_ok(sim), 60)
    airflow_password = None if stop.is_set() else _airflow_admin_password(settings, sup, stop)
    if airflow_password is None:
        return None
    console.print("waiting for the DAG processor to register our DAGs, then unpausing new ones …")
    paused = unpause_new_dags(settings, sup, stop, AirflowClient(base, "admin", airflow_password), console)
    return None if paused is None else Started(airflow_password, web_password, paused)


def unpause_new_dags(
    settings: Settings, sup: Supervisor, stop: threading.Event, client: AirflowClient, console: Console
) -> list[str] | None:
    """Wait until our DAGs are registered and unpause those that no ``up`` on this Airflow metadata
    database unpaused before (it unpaused every one at every start, undoing an operator's pause). Ours
    that are paused now; None when stopped meanwhile.

    The record of what ``up`` unpaused is the Airflow Variable ``UNPAUSED_VARIABLE``, in the metadata
    database itself: a database dropped and made again at the same URL (or a SQLite file deleted)
    takes it along, and its DAGs, paused at creation, are new again. (A file in the Airflow home,
    keyed by the database's URL, outlived it: its DAGs stayed paused for good.)"""
    ours = our_dag_ids()
    read: list[str | None] = []

    def read_record() -> bool:
        try:
            read.append(client.variable(UNPAUSED_VARIABLE))
        except OSError:  # no answer or 5xx: the API server is still starting
            return False
        return True

    _wait(sup, stop, f"Airflow's Variable {UNPAUSED_VARIABLE}", read_record, 120)
    if stop.is_set():
        return None
    recorded = None if read[-1] is None else _recorded_unpaused(read[-1], console)
    # no Variable: the record of an ecocloud before it, if that was of this database, is honoured once
    before = _legacy_unpaused(settings, sup.env, console) if read[-1] is None else (recorded or set())
    new = [dag_id for dag_id in ours if dag_id not in before]
    _wait(sup, stop, "our DAGs to be registered", lambda: client.unpause_all(ours, unpause=new), 300)
    if stop.is_set():
        return None
    if recorded is None or new:
        recorded = _remember_unpaused(client, before | set(new), console)
    if recorded is not None:  # the Variable holds it: an older record file of this database is done
        _drop_legacy_file(settings, sup.env)
    return [dag_id for dag_id, paused in client.paused().items() if paused and dag_id in ours]


def _warn(console: Console, text: str) -> None:
    """A warning on ``up``'s console, with everything else it prints (``text`` shown as it is)."""
    console.print(f"[yellow]warning: {said(text)}")


# in Airflow's metadata database: gone with it (Admin > Variables in the UI; deleting it has the next
# start unpause every one of our DAGs again)
UNPAUSED_VARIABLE = "ecocloud_unpaused_by_up"
UNPAUSED_DESCRIPTION = (
    "The DAGs `ecocloud up` unpaused on this metadata database (a JSON list of DAG ids): it unpauses each "
    "only once, so an operator's pause since is kept. Deleted, the next `ecocloud up` unpauses them all."
)
UNPAUSED_FILE = "unpaused_by_up.json"  # the record of an older ecocloud, in the Airflow home: migrated


def _recorded_unpaused(value: str, console: Console) -> set[str] | None:
    """The DAG ids of the Variable's ``value``; None, warned, when it is not a JSON list of them."""
    try:
        dag_ids = json.loads(value)
    except ValueError:
        dag_ids = None
    if not (isinstance(dag_ids, list) and all(isinstance(d, str) for d in dag_ids)):
        _warn(
            console,
            f"Airflow Variable {UNPAUSED_VARIABLE} is not a JSON list of DAG ids: {value[:200]!r}; "
            "unpausing every one of our DAGs, and rewriting it",
        )
        return None
    return set(dag_ids)


def _remember_unpaused(client: AirflowClient, dag_ids: set[str], console: Console) -> set[str] | None:
    """Record the DAGs unpaused in the Variable (``dag_ids``; None when not written). An API server that
    does not take it is warned of, not fatal: the platform runs, and the next start unpauses them again."""
    try:
        client.set_variable(UNPAUSED_VARIABLE, json.dumps(sorted(dag_ids)), UNPAUSED_DESCRIPTION)
    except OSError as exc:
        _warn(
            console,
            f"Airflow Variable {UNPAUSED_VARIABLE} not written ({exc}); the next start unpauses them again",
        )
        return None
    return dag_ids


_NO_FILE = object()


def _legacy_record(settings: Settings) -> tuple[Path, Any]:
    """The record file of an ecocloud before the Variable, and its content (``OSError``, ``ValueError``
    when it cannot be read; ``_NO_FILE`` when there is none)."""
    path = settings.airflow_dir / UNPAUSED_FILE
    try:
        return path, json.loads(path.read_text())
    except FileNotFoundError:
        return path, _NO_FILE
    except (OSError, ValueError) as exc:
        return path, exc


def _legacy_unpaused(settings: Settings, env: dict[str, str], console: Console) -> set[str]:
    """The DAGs that the record file of an older ecocloud says an ``up`` unpaused on the metadata database
    ``env`` names (none for another database, or without the file). Honoured once — it is dropped when
    the Variable is written — so an operator's pause survives the upgrade. (A database made again at
    the same URL before the upgrade cannot be told from it: ``ecocloud airflow dags unpause`` then.)
    A file that cannot be read or is not of its shape counts as none, warned."""
    path, record = _legacy_record(settings)
    if record is _NO_FILE:
        return set()
    if isinstance(record, Exception):
        _warn(console, f"{path}: not readable ({record}); unpausing every one of our DAGs")
        return set()
    dag_ids = record.get("dag_ids") if isinstance(record, dict) else None
    if not (isinstance(dag_ids, list) and all(isinstance(d, str) for d in dag_ids)):
        _warn(console, f"{path}: not a record of unpaused DAGs; unpausing every one of our DAGs")
        return set()
    if record.get("metadata") != _without_password(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]):
        return set()
    return set(dag_ids)


def _drop_legacy_file(settings: Settings, env: dict[str, str]) -> None:
    """Remove the older ecocloud's record file once the Variable holds the record — unless it is of
    another metadata database (an ``up`` on that one still migrates it). Best effort."""
    path, record = _legacy_record(settings)
    if record is _NO_FILE:
        return
    metadata = _without_password(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"])
    if (
        isinstance(record, dict)
        and isinstance(record.get("dag_ids"), list)
        and record.get("metadata") != metadata
    ):
        return
    with contextlib.suppress(OSError):
        path.unlink()


def _start_airflow(sup: Supervisor, config: UpConfig) -> None:
    airflow = airflow_bin()
    port = str(config.airflow_port)
    # the execution API: a task stopping reports its end to it (Supervisor.stop)
    sup.start("airflow-api-server", [airflow, "api-server", "--host", HOST, "--port", port], stops_last=True)
    # no log servers: they listen on every interface (Airflow's serve-logs binds "" on fixed ports, so
    # a second home's failed to start), and the API server here reads the task logs from their files
    sup.start("airflow-scheduler", [airflow, "scheduler", "--skip-serve-logs"])
    sup.start("airflow-dag-processor", [airflow, "dag-processor"])
    sup.start("airflow-triggerer", [airflow, "triggerer", "--skip-serve-logs"])
    if "celery" in sup.env["AIRFLOW__CORE__EXECUTOR"].lower():  # a worker of our own; more may join
        sup.start("airflow-celery-worker", [airflow, "celery", "worker", "--skip-serve-logs"])


def _start_platform(settings: Settings, sup: Supervisor, config: UpConfig) -> None:
    """The receiver, the web app, and with ``simulate`` the simulator with its logger fleet."""
    ecocloud = str(Path(sys.executable).with_name("ecocloud"))
    receive = [ecocloud, "receive", "--host", HOST, "--port", str(config.receiver_port)]
    if config.simulate:
        from ecocloud.simulator.fleet import fleet_devices, write_registry

        registry = write_registry(fleet_devices(SIM_SEED), settings.root / "simulator" / "devices.csv")
        receive += ["--devices", str(registry)]  # registered mode: the fleet's loggers and passwords
    sup.start("receiver", receive)
    if config.simulate:
        sup.start(
            "simulator",
            [
                *(ecocloud, "simulate", "--host", HOST, "--port", str(config.simulator_port)),
                *("--days", str(config.simulator_days), "--seed", str(SIM_SEED)),
                *("--loggers", f"{HOST}:{config.receiver_port}", "--logger-speed", str(config.logger_speed)),
            ],
            stop_signal=signal.SIGINT,  # its Ctrl-C: the HTTP server closes, the fleet's threads end with it
            stops_last=True,  # a task stopping may still be fetching from it
        )
    web = [ecocloud, "serve", "--host", HOST, "--port", str(config.web_port), "--insecure-cookies"]
    sup.start("web", web, stops_last=True)  # the other front end: up, as the Airflow UI, while tasks finish


def _wait(
    sup: Supervisor, stop: threading.Event, what: str, ready: Callable[[], bool], timeout_s: float
) -> None:
    deadline = time.monotonic() + timeout_s
    while not stop.is_set():
        if (dead := sup.exited()) is not None:
            raise UpError(
                f"{dead.name} exited with {dead.proc.returncode} while waiting for {what}:\n{dead.tail()}"
            )
        if ready():
            return
        if time.monotonic() > deadline:
            raise UpError(f"{what} did not answer within {timeout_s:.0f} s (logs: {sup.log_dir})")
        stop.wait(1.0)


def _http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def _tcp_ok(port: int) -> bool:
    try:
        with socket.create_connection((HOST, port), timeout=2):
            return True
    except OSError:
        return False


def _web_admin(settings: Settings) -> str:
    """The web app's admin login, with a fresh random password (printed once)."""
    from ecocloud.web.users import UserStore

    password = secrets.token_urlsafe(12)
    UserStore(settings.state_url).add_user(WEB_ADMIN, password, "admin", replace=True)
    return password


def _airflow_admin_password(settings: Settings, sup: Supervisor, stop: threading.Event) -> str | None:
    """The password Airflow's simple auth manager generated for ``admin`` (its passwords file)."""
    configured = sup.env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
    path = (
        Path(configured)
        if configured
        else settings.airflow_dir / "simple_auth_manager_passwords.json.generated"
    )
    found: dict[str, str] = {}

    def read() -> bool:
        try:
            found.update(json.loads(path.read_text()))
        except (OSError, ValueError):
            return False
        return "admin" in found

    _wait(sup, stop, f"Airflow's admin password in {path}", read, 60)
    return found.get("admin")


def _announce(
    settings: Settings, config: UpConfig, sup: Supervisor, started: Started, console: Console
) -> None:
    console.rule("[bold]ecocloud is up")
    console.print(
        f"Airflow UI and REST API  http://{HOST}:{config.airflow_port}/   login admin / {started.airflow_password}"
    )
    console.print(
        f"web app (catalog, SQL)   http://{HOST}:{config.web_port}/   login {WEB_ADMIN} / {started.web_password}"
    )
    console.print(
        f"HJ 212 receiver          {HOST}:{config.receiver_port} (TCP) → {settings.hj212_landing}",
        markup=False,
    )
    if config.simulate:
        console.print(
            f"upstream simulator       http://{HOST}:{config.simulator_port}/ (air, water, permits, credit, "
            f"master); its data loggers send to the receiver"
        )
    unpaused = [dag_id for dag_id in our_dag_ids() if dag_id not in started.paused_dag_ids]
    console.print(f"DAGs unpaused            {', '.join(unpaused) or 'none'}")
    if started.paused_dag_ids:  # up unpauses a DAG once: a pause since is an operator's, and stays
        console.print(
            f"DAGs paused (kept)       {', '.join(started.paused_dag_ids)} (ecocloud airflow dags unpause DAG_ID)"
        )
    console.print(f"state database           {_without_password(settings.state_url)}", markup=False)
    console.print(f"lake and serving DuckDB  {settings.lake_store.uri()}, {settings.duckdb_file}")
    console.print(
        f"logs                     {sup.log_dir}/*.log, Airflow task logs in {settings.airflow_dir}/logs"
    )
    console.print("the web admin password is shown only now; Ctrl-C stops everything")


def _without_password(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


class AirflowClient:
    """The few calls of Airflow's REST API that ``up`` and its tests make (a token from the login)."""

    def __init__(self, base_url: str, username: str, password: str) -> None:
        self.base_url = base_url.rstrip("/")
        self._login = {"username": username, "password": password}
        self._token: str | None = None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        if self._token is None:
            self._token = self._request("POST", "/auth/token", self._login, token=None)["access_token"]
        return self._request(method, path, body, token=self._token)

    def _request(self, method: str, path: str, body: dict[str, Any] | None, *, token: str | None) -> Any:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, headers=headers, method=method)
        with urllib.request.urlopen(request, timeout=30) as reply:
            return json.loads(reply.read() or b"null")

    def dag_ids(self) -> list[str]:
        return sorted(d["dag_id"] for d in self._call("GET", "/api/v2/dags?limit=1000")["dags"])

    def paused(self) -> dict[str, bool]:
        """Whether each registered DAG is paused."""
        return {
            d["dag_id"]: bool(d["is_paused"]) for d in self._call("GET", "/api/v2/dags?limit=1000")["dags"]
        }

    def unpause_all(self, dag_ids: list[str], unpause: list[str] | None = None) -> bool:
        """Once every DAG of ``dag_ids`` is registered, unpause those of ``unpause`` (default: all of
        them); False while any is not registered yet or the API server fails (no answer, 5xx: it is
        starting; unpausing again is harmless). UpError when it refuses (4xx): asking again would not help."""
        try:
            known = set(self.dag_ids())
        except OSError:
            return False
        for dag_id in dag_ids:
            if dag_id not in known:
                return False
        for dag_id in dag_ids if unpause is None else unpause:
            try:
                self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": False})
            except urllib.error.HTTPError as exc:
                if exc.code < 500:
                    detail = exc.read().decode(errors="replace")[:500]
                    raise UpError(f"Airflow refused to unpause {dag_id}: HTTP {exc.code} {detail}") from exc
                return False
            except OSError:
                return False
        return True

    def variable(self, key: str) -> str | None:
        """The value of the Airflow Variable ``key`` in the metadata database (not a secrets backend's);
        None when there is none. UpError when the API server refuses (4xx but 404); OSError when it does
        not answer or fails (5xx)."""
        try:
            value = self._call("GET", f"/api/v2/variables/{urllib.parse.quote(key, safe='')}")["value"]
        except urllib.error.HTTPError as exc:
            if exc.code == 404:
                return None
            if exc.code < 500:
                detail = exc.read().decode(errors="replace")[:500]
                raise UpError(f"Airflow refused to read Variable {key}: HTTP {exc.code} {detail}") from exc
            raise
        return value if isinstance(value, str) else json.dumps(value)  # a value of null: "null"

    def set_variable(self, key: str, value: str, description: str) -> None:
        """Set the Airflow Variable ``key`` to the string ``value`` (replaced, or created); OSError
        (urllib's HTTPError among them) when it is not."""
        body = {"key": key, "value": value, "description": description}
        try:
            self._call("PATCH", f"/api/v2/variables/{urllib.parse.quote(key, safe='')}", body)
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                raise
            self._call("POST", "/api/v2/variables", body)

    def pause(self, dag_id: str) -> None:
        """Pause ``dag_id``, as an operator does in the UI."""
        self._call("PATCH", f"/api/v2/dags/{dag_id}", {"is_paused": True})

    def dag_runs(self, dag_id: str) -> list[dict[str, Any]]:
        return list(self._call("GET", f"/api/v2/dags/{dag_id}/dagRuns?limit=100")["dag_runs"])

    def task_instances(self, dag_id: str, run_id: str) -> list[dict[str, Any]]:
        path = f"/api/v2/dags/{dag_id}/dagRuns/{urllib.parse.quote(run_id, safe='')}/taskInstances"
        return list(self._call("GET", path)["task_instances"])


if __name__ == "__main__":  # the guard of an up: python -m ecocloud.up RUNNING_FILE
    guard(Path(sys.argv[1]))
