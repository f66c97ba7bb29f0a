"""The CLI on settings and homes a command cannot work with, or that hold nothing yet: a message, never a traceback."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ecocloud import specs
from ecocloud.cli import app


def test_a_home_that_is_a_file_is_named(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a folder")
    done = CliRunner().invoke(app, ["users", "list"], env={"ECOCLOUD_HOME": str(home)})
    assert done.exit_code == 2
    assert f"ECOCLOUD_HOME={home}: {home} is a file" in done.output.replace("\n", "")
    below = CliRunner().invoke(app, ["users", "list"], env={"ECOCLOUD_HOME": str(home / "sub")})
    assert below.exit_code == 2 and f"{home} is a file" in below.output.replace("\n", "")


def test_a_setting_that_does_not_parse_is_named(tmp_path: Path) -> None:
    env = {"ECOCLOUD_HOME": str(tmp_path), "ECOCLOUD_SQL_TIMEOUT_S": "half a minute"}
    done = CliRunner().invoke(app, ["users", "list"], env=env)
    assert done.exit_code == 2
    assert "settings: ECOCLOUD_SQL_TIMEOUT_S: Input should be a valid number" in done.output.replace("\n", "")


def test_users_list_on_a_home_without_users_says_so(tmp_path: Path) -> None:
    done = CliRunner().invoke(app, ["users", "list"], env={"ECOCLOUD_HOME": str(tmp_path)})
    assert done.exit_code == 0
    assert f"no users in {tmp_path}" in done.output.replace("\n", "")


def test_users_list_shows_creation_times_in_beijing_time_as_the_admin_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`users list` said UTC where /admin/users says UTC+8: one clock everywhere (schemas.clock)."""
    from ecocloud.web import users as users_module
    from ecocloud.web.access import Role

    created = dt.datetime(2026, 12, 7, 23, 30, tzinfo=dt.UTC)  # 07:30 on the 8th in Beijing
    monkeypatch.setattr(users_module, "_now", lambda: created)
    env = {"ECOCLOUD_HOME": str(tmp_path)}
    added = CliRunner().invoke(app, ["users", "add", "ana", "--role", Role.ANALYST.value, "--password-stdin"],
                               input="a-long-password\n", env=env)  # fmt: skip
    assert added.exit_code == 0, added.output
    done = CliRunner().invoke(app, ["users", "list"], env=env)
    assert done.exit_code == 0, done.output
    assert "created 2026-12-08 07:30 (UTC+8)" in done.output and "UTC\n" not in done.output


def test_a_spec_no_module_registers_is_named_with_the_known_ones(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`ecocloud ingest air` printed a KeyError's traceback where SPEC_MODULES did not list air;
    `ecocloud run` with a name no spec has says the same as it."""
    env = {"ECOCLOUD_HOME": str(tmp_path), "COLUMNS": "300"}
    typo = CliRunner().invoke(app, ["run", "air_qualty"], env=env)
    assert typo.exit_code == 2 and isinstance(typo.exception, SystemExit)
    assert "no source spec 'air_qualty'; the known ones, by name (DAG id): air (air_quality), " in typo.output
    monkeypatch.setattr(specs, "SPEC_MODULES", tuple(m for m in specs.SPEC_MODULES if m != "air"))
    unregistered = CliRunner().invoke(app, ["ingest", "air", str(tmp_path / "a.csv")], env=env)
    assert unregistered.exit_code == 2 and isinstance(unregistered.exception, SystemExit)
    assert (
        "no source spec 'air'; the known ones, by name (DAG id): water (surface_water), "
        in unregistered.output
    )
    assert "Traceback" not in typo.output + unregistered.output
