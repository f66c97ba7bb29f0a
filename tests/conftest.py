"""Test layers and shared fixtures.

Layers are enforced: a test's directory (unit / integration / e2e) gives it its marker, and a test
that declares a different layer marker fails collection. Tests that read the real field files in
../shared/data must carry the ``realdata`` marker (the ``shared_data`` fixture checks).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from ecocloud.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = REPO.parent / "shared" / "data"
LAYERS = ("unit", "integration", "e2e")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        rel = Path(str(item.fspath)).resolve().relative_to(REPO / "tests")
        layer = rel.parts[0]
        if layer not in LAYERS:
            raise pytest.UsageError(f"{rel}: tests live in tests/unit, tests/integration or tests/e2e")
        declared = {m.name for m in item.iter_markers() if m.name in LAYERS}
        if declared - {layer}:
            raise pytest.UsageError(f"{item.nodeid}: marked {sorted(declared)} but lives in tests/{layer}")
        item.add_marker(getattr(pytest.mark, layer))


@pytest.fixture(scope="session")
def shared_data(request: pytest.FixtureRequest) -> Path:
    """The real field files. Present here and in CI; absent only on a user's own machine."""
    if request.node.get_closest_marker("realdata") is None and not any(
        i.get_closest_marker("realdata") for i in request.session.items
    ):
        raise pytest.UsageError("tests using shared_data must be marked realdata")
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real field files not available: {SHARED_DATA} is absent (a user's own machine)")
    return SHARED_DATA


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """A fresh ECOCLOUD_HOME in a temporary folder (nothing shared between tests)."""
    home = tmp_path / "home"
    monkeypatch.setenv("ECOCLOUD_HOME", str(home))
    for var in ("ECOCLOUD_LAKE_DIR", "ECOCLOUD_DUCKDB_PATH", "ECOCLOUD_AIRFLOW_HOME"):
        monkeypatch.delenv(var, raising=False)
    return Settings()
