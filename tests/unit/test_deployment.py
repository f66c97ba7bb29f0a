"""The multi-machine deployment files: docker-compose.yml, .env.example, Dockerfile, deploy/.

No Docker engine runs here, so the compose file is checked as Compose itself would read it: the
variables are interpolated from .env.example, then the result is validated against the Compose
Specification's JSON schema (the copy check-jsonschema ships). Beyond the schema, the tests check what
the deployment relies on: health checks, depends_on conditions, the settings every service needs,
scalable workers, receivers behind the gateway, and no secret anywhere in the repository.
"""

from __future__ import annotations

import importlib.resources
import ipaddress
import json
import re
import shlex
import shutil
import stat
import subprocess
import sys
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from compose_file import VARIABLE, interpolate_all, read_env_file
from cryptography.fernet import Fernet

from ecocloud.settings import Settings
from ingest.hj212.proxy_protocol import parse_networks

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "docker-compose.yml"
ENV_EXAMPLE = REPO / ".env.example"
DOCKERFILE = REPO / "Dockerfile"
HAPROXY_CFG = REPO / "deploy" / "haproxy" / "haproxy.cfg"
NEW_ENV = REPO / "deploy" / "new-env.py"
PLACEHOLDER = "change-me"
SECRET_NAME = re.compile(r"PASSWORD|SECRET|FERNET|JWT|TOKEN|REDISCLI_AUTH")
# Settings the lead is adding to ecocloud/settings.py for the scale-out (names agreed in issue 11).
ONE_SHOT_RESTART = {"no", "on-failure"}

# -- reading the files as Compose does (tests/compose_file.py) -----------------------------------


def strings(node: Any) -> Iterator[str]:
    if isinstance(node, str):
        yield node
    elif isinstance(node, list):
        for n in node:
            yield from strings(n)
    elif isinstance(node, dict):
        for v in node.values():
            yield from strings(v)


def variables_used(node: Any) -> set[str]:
    return {
        m["braced"] or m["plain"] for s in strings(node) for m in VARIABLE.finditer(s) if not m["escaped"]
    }


@pytest.fixture(scope="module")
def raw() -> dict[str, Any]:
    data = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))  # YAML anchors and merge keys resolved
    assert isinstance(data, dict)
    return data


@pytest.fixture(scope="module")
def compose(raw: dict[str, Any]) -> dict[str, Any]:
    """The file as `docker compose config` would see it with .env = .env.example."""
    return interpolate_all(raw, read_env_file(ENV_EXAMPLE))


@pytest.fixture(scope="module")
def compose_schema() -> dict[str, Any]:
    vendor = importlib.resources.files("check_jsonschema.builtin_schemas.vendor")
    return json.loads((vendor / "compose-spec.json").read_text(encoding="utf-8"))


def schema_errors(document: dict[str, Any], schema: dict[str, Any]) -> list[str]:
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    validator = validator_class(schema)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return compose["services"]


def command_of(service: dict[str, Any]) -> list[str]:
    cmd = service.get("command", [])
    return shlex.split(cmd) if isinstance(cmd, str) else list(cmd)


def environment_of(service: dict[str, Any]) -> dict[str, str]:
    env = service.get("environment", {})
    if isinstance(env, list):
        env = dict(item.partition("=")[::2] for item in env)
    return {k: str(v) for k, v in env.items()}


def is_one_shot(service: dict[str, Any]) -> bool:
    return service.get("restart") in ONE_SHOT_RESTART


def airflow_services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services(compose).items() if "AIRFLOW__CORE__EXECUTOR" in environment_of(s)}


def receivers(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {n: s for n, s in services(compose).items() if command_of(s)[:2] == ["ecocloud", "receive"]}


# -- the Compose Specification ---------------------------------------------------------------------


def test_compose_file_is_valid_against_the_compose_specification(
    compose: dict[str, Any], compose_schema: dict[str, Any]
) -> None:
    assert schema_errors(compose, compose_schema) == []


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "redis", "healthcheck", "intervall"), "10s"),
        (("services", "airflow-worker", "deploy", "replicas"), ["two"]),
        (("services", "web", "depends_on", "postgres", "condition"), "service_ready"),
    ],
)
def test_the_schema_check_rejects_a_broken_file(
    compose: dict[str, Any], compose_schema: dict[str, Any], path: tuple[str, ...], value: object
) -> None:
    broken = deepcopy(compose)
    node = broken
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    assert schema_errors(broken, compose_schema)


def test_the_services_the_deployment_is_made_of(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    airflow_commands = {tuple(command_of(s)) for s in airflow_services(compose).values()}
    assert {
        ("airflow", "db", "migrate"),
        ("airflow", "scheduler"),
        ("airflow", "dag-processor"),
        ("airflow", "triggerer"),
        ("airflow", "celery", "worker"),
    } <= airflow_commands
    assert any("exec airflow api-server" in " ".join(c) for c in airflow_commands)
    images = {s.get("image", "").split(":")[0] for s in svcs.values()}
    assert {"postgres", "redis", "minio/minio", "haproxy"} <= images
    assert len(receivers(compose)) >= 2
    assert command_of(svcs["web"]) == ["ecocloud", "serve", "--host", "0.0.0.0", "--port", "8080"]


# -- health, start order, restarts -------------------------------------------------------------------


def test_every_service_has_a_healthcheck_or_is_a_one_shot_job_that_others_wait_for(
    compose: dict[str, Any],
) -> None:
    svcs = services(compose)
    awaited = {
        target
        for s in svcs.values()
        for target, dep in s.get("depends_on", {}).items()
        if dep["condition"] == "service_completed_successfully"
    }
    for name, svc in svcs.items():
        if is_one_shot(svc):
            assert name in awaited, f"{name}: a one-shot job nothing waits for"
        else:
            check = svc.get("healthcheck", {})
            assert check.get("test") and check["test"][0] in ("CMD", "CMD-SHELL"), name
            assert not check.get("disable"), name
            assert svc.get("restart") in ("always", "unless-stopped"), f"{name}: no restart policy"


def test_depends_on_names_real_services_with_a_condition_they_can_meet(compose: dict[str, Any]) -> None:
    svcs = services(compose)
    for name, svc in svcs.items():
        deps = svc.get("depends_on", {})
        assert isinstance(deps, dict), f"{name}: depends_on without conditions"
        for target, dep in deps.items():
            assert target in svcs, f"{name} depends on unknown {target}"
            condition = dep["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in svcs[target], f"{name} waits for {target} to be healthy: no check"
            elif condition == "service_completed_successfully":
                assert is_one_shot(svcs[target]), f"{name} waits for {target} to complete: not a job"
            else:
                assert condition == "service_started"
            if is_one_shot(svc) and "healthcheck" in svcs[target]:
                # a job runs once: starting it before what it needs is ready fails it for good
                assert condition == "service_healthy", f"{name} must wait for {target} to be healthy"


def test_workers_scale_out(compose: dict[str, Any]) -> None:
    worker = services(compose)["airflow-worker"]
    assert command_of(worker) == ["airflow", "celery", "worker"]
    for fixed in ("container_name", "ports", "hostname"):
        assert fixed not in worker, f"a fixed {fixed} would stop `--scale airflow-worker=N`"
    assert int(worker["deploy"]["replicas"]) >= 2
    assert not any("container_name" in s for s in services(compose).values())


def test_the_state_database_takes_the_connections_of_four_scaled_workers(compose: dict[str, Any]) -> None:
    """Each parallel build task holds one state connection and two per forked process
    (ECOCLOUD_WORKERS), a Celery worker runs AIRFLOW_WORKER_CONCURRENCY of them: Postgres' default
    100 was reached with two workers on 16-core hosts (the processes were one per core)."""
    worker = environment_of(services(compose)["airflow-worker"])
    per_worker = int(worker["AIRFLOW__CELERY__WORKER_CONCURRENCY"]) * (
        1 + 2 * int(worker["ECOCLOUD_WORKERS"])
    )
    command = command_of(services(compose)["postgres"])
    limit = int(command[command.index("-c") + 1].removeprefix("max_connections="))
    assert limit >= 4 * per_worker + 100, "room for Airflow's own pools beside four workers' tasks"


# -- configuration ---------------------------------------------------------------------------------


def test_every_variable_is_in_env_example_and_every_example_is_used(raw: dict[str, Any]) -> None:
    used = variables_used(raw)
    example = set(read_env_file(ENV_EXAMPLE))
    assert used - example == set(), "used in docker-compose.yml, missing from .env.example"
    assert example - used == set(), "in .env.example, used nowhere"


def test_airflow_components_share_the_celery_configuration(compose: dict[str, Any]) -> None:
    components = airflow_services(compose)
    assert len(components) >= 6
    shared = [
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN",
        "AIRFLOW__CELERY__BROKER_URL",
        "AIRFLOW__CELERY__RESULT_BACKEND",
        "AIRFLOW__CORE__FERNET_KEY",
        "AIRFLOW__API_AUTH__JWT_SECRET",
        "AIRFLOW__API__SECRET_KEY",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL",
        "AIRFLOW__CORE__DAGS_FOLDER",
    ]
    envs = {name: environment_of(s) for name, s in components.items()}
    for key in shared:
        values = {env.get(key) for env in envs.values()}
        assert len(values) == 1 and None not in values, f"{key} differs or is missing: {values}"
    env = next(iter(envs.values()))
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "false"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql+psycopg2://")
    assert env["AIRFLOW__CELERY__BROKER_URL"].startswith("redis://")
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"].startswith("http://airflow-apiserver:8080/")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/ecocloud/dags"
    # the workers run the platform's code: they reach the lake and the state database
    worker = envs["airflow-worker"]
    for key in ("ECOCLOUD_LAKE_URL", "ECOCLOUD_S3_ENDPOINT_URL", "ECOCLOUD_S3_SECRET_ACCESS_KEY"):
        assert worker.get(key), key
    assert worker["ECOCLOUD_STATE_DB_URL"].startswith("postgresql+psycopg://")
    # a worker imports the tasks' modules before its pool forks: a module of the DAG folder, on the path
    preload = json.loads(worker["AIRFLOW__CELERY__EXTRA_CELERY_CONFIG"])["imports"]
    assert worker["PYTHONPATH"] == worker["AIRFLOW__CORE__DAGS_FOLDER"]
    assert preload == ["_celery_preload"] and (REPO / "dags" / "_celery_preload.py").is_file()


def test_platform_settings_in_the_file_are_settings_of_the_platform(compose: dict[str, Any]) -> None:
    """Settings ignore unknown ECOCLOUD_* variables: a misspelt one would go unnoticed but for this."""
    known = set(Settings.model_fields)
    ours = {n: s for n, s in services(compose).items() if "build" in s}
    assert len(ours) >= 9
    for name, svc in ours.items():
        for key in environment_of(svc):
            if key.startswith("ECOCLOUD_"):
                assert key.removeprefix("ECOCLOUD_").lower() in known, f"{name}: {key} is no setting"


def test_receivers_share_one_landing_zone_the_workers_read_behind_one_published_port(
    compose: dict[str, Any],
) -> None:
    svcs = services(compose)
    recv = receivers(compose)
    ids = [environment_of(s)["ECOCLOUD_RECEIVER_ID"] for s in recv.values()]
    assert len(set(ids)) == len(ids) >= 2
    workers = {n: s for n, s in svcs.items() if n.startswith("airflow-worker")}
    assert workers
    landing_volumes = []
    for name, svc in recv.items():
        env = environment_of(svc)
        assert "ports" not in svc, f"{name}: receivers are reached through the gateway only"
        assert command_of(svc)[2:4] == ["--host", "0.0.0.0"]
        landing = [
            v.split(":")[0] for v in svc["volumes"] if v.split(":")[1] == env["ECOCLOUD_HJ212_LANDING_DIR"]
        ]
        assert len(landing) == 1 and landing[0] in compose["volumes"], f"{name}: no named landing volume"
        landing_volumes.append(landing[0])
        assert env["ECOCLOUD_HJ212_PORT"] in " ".join(svc["healthcheck"]["test"])
    # one landing zone for every receiver (ids keep them apart), which the workers read to register
    # closed segments and copy them into the lake
    assert len(set(landing_volumes)) == 1
    for name, svc in workers.items():
        mounts = {v.split(":")[0]: v.split(":")[1] for v in svc.get("volumes", [])}
        assert mounts.get(landing_volumes[0]) == environment_of(svc)["ECOCLOUD_HJ212_LANDING_DIR"], name

    gateway = svcs["hj212-gateway"]
    assert [p.rsplit(":", 1)[1] for p in gateway["ports"]] == ["9212"]
    cfg = HAPROXY_CFG.read_text(encoding="utf-8")
    servers = re.findall(r"^\s*server\s+(\S+)\s+(\S+):(\d+)", cfg, flags=re.MULTILINE)
    assert sorted(host for _, host, _ in servers) == sorted(recv)
    assert {port for _, _, port in servers} == {
        environment_of(s)["ECOCLOUD_HJ212_PORT"] for s in recv.values()
    }
    assert re.search(r"^\s*bind\s+:9212\s*$", cfg, flags=re.MULTILINE)
    assert "8405" in " ".join(gateway["healthcheck"]["test"]) and "bind 127.0.0.1:8405" in cfg


def test_the_receivers_take_each_loggers_address_from_the_gateways_proxy_header(
    compose: dict[str, Any],
) -> None:
    """The gateway sends PROXY v2 (its checks too); the receivers require it and believe it from the
    gateway's network (and loopback, their health check) only; so the per-peer caps stay on."""
    svcs = services(compose)
    subnet = ipaddress.ip_network(compose["networks"]["hj212"]["ipam"]["config"][0]["subnet"])
    assert subnet.is_private
    assert {n for n, s in svcs.items() if "hj212" in s.get("networks", [])} == {
        "hj212-gateway",
        *receivers(compose),
    }
    for name, svc in receivers(compose).items():
        env = environment_of(svc)
        assert env["ECOCLOUD_HJ212_PROXY_PROTOCOL"] == "true", name
        trusted = set(parse_networks(env["ECOCLOUD_HJ212_TRUSTED_PROXIES"]))
        assert trusted == {subnet, ipaddress.ip_network("127.0.0.1/32")}, name
        assert svc["networks"] == ["hj212"], f"{name}: reachable from the gateway's network only"
        assert not {"--max-connections-per-peer", "--quarantine-peer-mb"} & set(command_of(svc)), name
        assert "PROXY UNKNOWN" in " ".join(svc["healthcheck"]["test"]), f"{name}: the check needs a header"
    cfg = HAPROXY_CFG.read_text(encoding="utf-8")
    found = re.search(r"^\s*default-server\s+(.*)$", cfg, flags=re.MULTILINE)
    assert found and {"check", "send-proxy-v2", "check-send-proxy"} <= set(found[1].split())
    assert not re.search(r"^\s*server\s.*\bno-send-proxy", cfg, flags=re.MULTILINE)


def test_the_receivers_hold_no_credential(compose: dict[str, Any]) -> None:
    """A receiver parses bytes from the internet and only writes its landing zone: it gets neither the
    lake's keys nor the state database's URL."""
    for name, svc in receivers(compose).items():
        env = environment_of(svc)
        assert not [k for k in env if re.search("SECRET|PASSWORD|KEY|_URL$", k)], name
        assert (
            env["ECOCLOUD_HJ212_LANDING_DIR"]
            == environment_of(services(compose)["airflow-worker"])["ECOCLOUD_HJ212_LANDING_DIR"]
        )


def test_the_web_app_uses_the_shared_state_database(compose: dict[str, Any]) -> None:
    """Users and sessions live in the state database every web replica shares (no signing key)."""
    env = environment_of(services(compose)["web"])
    assert env["ECOCLOUD_STATE_DB_URL"].startswith("postgresql+psycopg://ecocloud:")


# -- secrets ---------------------------------------------------------------------------------------


def test_env_example_holds_placeholders_only() -> None:
    env = read_env_file(ENV_EXAMPLE)
    secret_names = [k for k in env if SECRET_NAME.search(k)]
    assert len(secret_names) >= 8
    for name in secret_names:
        assert env[name] == PLACEHOLDER, f"{name} has a value in .env.example"
    assert ".env" in (REPO / ".gitignore").read_text(encoding="utf-8").split()
    assert ".env" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()


def test_no_secret_is_written_in_the_compose_file(raw: dict[str, Any]) -> None:
    required = re.compile(r"^\$\{(?P<name>[A-Z0-9_]+):\?[^}]*\}$")
    for name, svc in raw["services"].items():
        for key, value in environment_of(svc).items():
            if SECRET_NAME.search(key) and key != "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE":
                m = required.match(value)
                assert m, f"{name}: {key} must be ${{NAME:?…}} from .env, not {value!r}"
                assert SECRET_NAME.search(m["name"]), f"{name}: {key} comes from {m['name']}"
    # a password inside a URL or a command comes from .env too, with no default
    for text in strings(raw):
        for password in re.findall(r"://[^:/@\s]*:([^@\s]+)@", text):
            assert required.match(password), f"password {password!r} in {text!r}"
        for m in VARIABLE.finditer(text):
            if m["braced"] and SECRET_NAME.search(m["braced"]):
                assert m["op"] == ":?", f"{m[0]}: a secret needs :? (no default, no empty value)"


def test_new_env_writes_fresh_secrets_and_keeps_the_rest(
    tmp_path: Path, compose_schema: dict[str, Any]
) -> None:
    def run(out: Path) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, str(NEW_ENV), "--output", str(out), "--template", str(ENV_EXAMPLE)],
            capture_output=True,
            text=True,
            check=False,
        )

    first, second = tmp_path / "a.env", tmp_path / "b.env"
    assert run(first).returncode == 0 and run(second).returncode == 0
    example, a, b = read_env_file(ENV_EXAMPLE), read_env_file(first), read_env_file(second)
    assert list(a) == list(example)
    for name, value in example.items():
        if value == PLACEHOLDER:
            assert a[name] != PLACEHOLDER and len(a[name]) >= 32 and a[name] != b[name], name
            assert re.fullmatch(r"[A-Za-z0-9_=-]+", a[name]), f"{name}: not safe inside a URL"
        else:
            assert a[name] == value
    Fernet(a["AIRFLOW_FERNET_KEY"].encode())  # raises unless a valid Fernet key
    assert stat.S_IMODE(first.stat().st_mode) == 0o600
    refused = run(first)
    assert refused.returncode == 1 and "not overwritten" in refused.stderr
    # the compose file is complete with it: every :? variable is satisfied, and the schema holds
    raw_file = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))
    assert schema_errors(interpolate_all(raw_file, a), compose_schema) == []


# -- the scripts inside the files ------------------------------------------------------------------


def _snippets(compose: dict[str, Any]) -> Iterator[tuple[str, str, str]]:
    """(service, language, code) of every shell or Python snippet in the file."""
    for name, svc in services(compose).items():
        commands = [svc.get("entrypoint", []) + command_of(svc)]
        test = svc.get("healthcheck", {}).get("test", [])
        if test[:1] == ["CMD-SHELL"]:
            commands.append(["sh", "-c", test[1]])
        elif test[:1] == ["CMD"]:
            commands.append(test[1:])
        for cmd in commands:
            if len(cmd) >= 3 and cmd[0] in ("bash", "sh", "/bin/sh") and cmd[1] == "-c":
                yield name, "bash" if cmd[0] == "bash" else "sh", cmd[2]
            elif len(cmd) >= 3 and cmd[:2] == ["python", "-c"]:
                yield name, "python", cmd[2]


def test_shell_and_python_snippets_are_valid(compose: dict[str, Any]) -> None:
    checked = set()
    for name, language, code in _snippets(compose):
        if language == "python":
            compile(code, f"{name}: python -c", "exec")
        else:
            # a POSIX sh snippet must also parse in bash (some images' sh is bash; bash -n catches more)
            for shell_name in {language, "bash"}:
                shell = shutil.which(shell_name)
                assert shell, f"{shell_name} is needed to check {name}"
                result = subprocess.run(
                    [shell, "-n", "-c", code], capture_output=True, text=True, check=False
                )
                assert result.returncode == 0, f"{name} ({shell_name}): {result.stderr}"
        checked.add((name, language))
    assert {("minio-init", "sh"), ("airflow-apiserver", "bash"), ("hj212-gateway", "bash")} <= checked
    assert ("receiver-1", "python") in checked and ("web", "python") in checked


def test_postgres_creates_the_platform_database_on_first_start(compose: dict[str, Any]) -> None:
    script = REPO / "deploy" / "postgres" / "10-ecocloud-db.sh"
    assert subprocess.run(["sh", "-n", str(script)], check=False).returncode == 0
    assert script.stat().st_mode & stat.S_IXUSR
    mounts = services(compose)["postgres"]["volumes"]
    assert f"./deploy/postgres/{script.name}:/docker-entrypoint-initdb.d/{script.name}:ro" in mounts
    text = script.read_text(encoding="utf-8")
    assert "CREATE DATABASE ecocloud OWNER ecocloud" in text
    state_url = environment_of(services(compose)["web"])["ECOCLOUD_STATE_DB_URL"]
    assert state_url.endswith("@postgres:5432/ecocloud")
    assert "ECOCLOUD_DB_PASSWORD" in environment_of(services(compose)["postgres"])


# -- the image -------------------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for line in DOCKERFILE.read_text(encoding="utf-8").splitlines():
        if not pending and (not line.strip() or line.lstrip().startswith("#")):
            continue
        if line.rstrip().endswith("\\"):
            pending += line.rstrip()[:-1] + " "
            continue
        keyword, _, args = (pending + line).strip().partition(" ")
        out.append((keyword.upper(), " ".join(args.split())))
        pending = ""
    return out


def _installs_the_project(step: str) -> bool:
    return "uv pip install --no-deps" in step and step.rstrip().endswith(" .")


def test_the_image_installs_the_lock_exactly_as_a_non_root_user() -> None:
    steps = dockerfile_instructions()
    assert steps[0][0] == "FROM" and steps[0][1].startswith("python:3.11-slim")
    runs = [args for kw, args in steps if kw == "RUN"]
    copies = [args for kw, args in steps if kw == "COPY"]
    assert any(c.split()[0] == "requirements.lock" for c in copies)
    sync = next(r for r in runs if "uv pip sync" in r)
    assert "--compile-bytecode" in sync and sync.rstrip().endswith("requirements.lock")
    # the project itself, after a compiler for its C kernels, which the same layer then removes
    project = next(r for r in runs if any(_installs_the_project(step) for step in r.split("&&")))
    steps_of_project = [step.strip() for step in project.split("&&")]
    at = next(i for i, step in enumerate(steps_of_project) if _installs_the_project(step))
    assert any("apt-get install" in step and " gcc" in step for step in steps_of_project[:at])
    assert any("apt-get purge" in step and " gcc" in step for step in steps_of_project[at:])
    assert "**/*.so" in (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    assert any("compileall" in r for r in runs)
    users = [args for kw, args in steps if kw == "USER"]
    assert users and users[-1] not in ("root", "0", "0:0")
    makefile_uv = re.search(r"^UV_VERSION := (\S+)$", (REPO / "Makefile").read_text(), flags=re.MULTILINE)
    docker_uv = next(args for kw, args in steps if kw == "ARG" and args.startswith("UV_VERSION="))
    assert makefile_uv and docker_uv == f"UV_VERSION={makefile_uv[1]}"
    for kw, args in steps:
        if kw in ("ENV", "ARG"):
            assert not SECRET_NAME.search(args), f"{kw} {args}: secrets come from the environment at run time"


def test_the_image_copies_the_project_and_dags_where_airflow_looks(compose: dict[str, Any]) -> None:
    steps = dockerfile_instructions()
    copies = [args.split() for kw, args in steps if kw == "COPY"]
    ignored = (REPO / ".dockerignore").read_text(encoding="utf-8").split()
    for *sources, _dest in copies:
        for src in sources:
            assert (REPO / src).exists(), f"COPY {src}: not in the repository"
            assert src not in ignored
    packages = {"schemas", "transforms", "warehouse", "ingest", "ecocloud", "dags"}
    assert packages <= {c[0] for c in copies}
    assert ("WORKDIR", "/opt/ecocloud") in steps and ["dags", "./dags"] in copies
    dags_folder = environment_of(services(compose)["airflow-scheduler"])["AIRFLOW__CORE__DAGS_FOLDER"]
    assert dags_folder == "/opt/ecocloud/dags"
    for must_ignore in (".env", ".venv", ".git", ".ecocloud"):
        assert must_ignore in ignored
