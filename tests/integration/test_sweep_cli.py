"""`ecocloud sweep --delete` run with a ledger other than the lake's own — a new empty one, where the
shell had ECOCLOUD_LAKE_URL but not the home or ECOCLOUD_STATE_DB_URL the builds use — refuses to
delete the lake's published files; `--force` deletes them."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from pathlib import Path

from conftest import ecocloud_bin, outside_env

from schemas import source
from warehouse import lake as lk
from warehouse.fs import LocalLake

TEN_DAYS_AGO = (dt.datetime.now(dt.UTC) - dt.timedelta(days=10)).timestamp()


def sweep(env: dict[str, str], cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [ecocloud_bin(), "sweep", *flags], env=env, cwd=cwd, capture_output=True, text=True, check=False
    )


def test_a_sweep_on_another_ledger_deletes_nothing_without_force(tmp_path: Path) -> None:
    lake = LocalLake(tmp_path / "lake")
    files = []
    for day in (dt.date(2026, 11, 20), dt.date(2026, 11, 21)):
        written = lk.write_part(lake, source.readings, source.readings.empty(), day, part="data")
        os.utime(lake.local_path(written.rel), (TEN_DAYS_AGO, TEN_DAYS_AGO))
        files.append(written.rel)
    shell = tmp_path / "ops-shell"
    shell.mkdir()
    env = outside_env() | {"ECOCLOUD_LAKE_URL": f"file://{tmp_path / 'lake'}"}

    listing = sweep(env, shell)
    assert listing.returncode == 0, listing.stderr
    assert "unlisted (run with --delete to remove): 2 file(s)" in listing.stdout
    refused = sweep(env, shell, "--delete")
    assert refused.returncode == 1, refused.stdout + refused.stderr
    assert "the ledger lists 0 of the lake's 2 table files" in " ".join(refused.stdout.split())
    assert all(lake.exists(rel) for rel in files)
    assert (shell / ".ecocloud" / "state.sqlite").exists()  # the empty ledger the shell's default made

    forced = sweep(env, shell, "--delete", "--force")
    assert forced.returncode == 0, forced.stderr
    assert "deleted: 2 file(s)" in forced.stdout
    assert not any(lake.exists(rel) for rel in files)


def test_a_sweep_says_how_many_unlisted_files_it_left_for_being_young(tmp_path: Path) -> None:
    """An operator who swept after a kill read "no unlisted files older than 72 h" and could not tell
    that a leftover of a minute ago was there, waiting for its grace."""
    lake = LocalLake(tmp_path / "lake")
    old = lk.write_part(lake, source.readings, source.readings.empty(), dt.date(2026, 11, 20), part="old")
    os.utime(lake.local_path(old.rel), (TEN_DAYS_AGO, TEN_DAYS_AGO))
    lk.write_part(lake, source.readings, source.readings.empty(), dt.date(2026, 11, 21), part="young")
    env = outside_env() | {
        "ECOCLOUD_HOME": str(tmp_path / "home"),
        "ECOCLOUD_LAKE_URL": f"file://{tmp_path / 'lake'}",
    }
    listing = sweep(env, tmp_path)
    assert listing.returncode == 0, listing.stderr
    assert "1 unlisted file(s) younger than 72 h left alone" in listing.stdout
    assert "unlisted (run with --delete to remove): 1 file(s)" in listing.stdout
