"""One settings object for the whole platform, read from ``ECOCLOUD_*`` environment variables.

Everything that lives on disk hangs off ``ECOCLOUD_HOME`` so that two homes never mix: the lake,
the serving DuckDB file, the ledger and the Airflow home.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECOCLOUD_", extra="ignore")

    home: Path = Field(default=Path(".ecocloud"), description="root of everything ecocloud writes")
    lake_dir: Path | None = Field(default=None, description="Parquet lake; default <home>/lake")
    duckdb_path: Path | None = Field(
        default=None, description="serving DuckDB file; default <home>/ecocloud.duckdb"
    )
    airflow_home: Path | None = Field(default=None, description="Airflow home; default <home>/airflow")

    # upstream endpoints (the simulator serves these on loopback by default)
    air_base_url: str = Field(default="http://127.0.0.1:8765/air", description="where day files are fetched")
    water_base_url: str = "http://127.0.0.1:8765/water"
    water_sections_csv: Path | None = Field(default=None, description="surface-water section registry CSV")
    permits_base_url: str = Field(
        default="http://127.0.0.1:8765/permits", description="permit platform API (docs/permit-api.md)"
    )
    credit_base_url: str = Field(
        default="http://127.0.0.1:8765/credit",
        description="credit result files: a URL serving index.json, or a local drop folder",
    )
    master_base_url: str = Field(
        default="http://127.0.0.1:8765/master",
        description="master-data CSVs: a URL serving index.json, or a local folder",
    )
    http_timeout_s: float = 30.0
    http_retries: int = 4
    http_backoff_s: float = 0.5

    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1, description="processes for parsing in backfills"
    )

    simulator_host: str = "127.0.0.1"
    simulator_port: int = 8765

    # HJ 212: the TCP receiver (`ecocloud receive`) and the pollution_sources DAG
    hj212_landing_dir: Path | None = Field(
        default=None, description="where the HJ 212 receiver lands segments; default <lake>/raw/hj212"
    )
    hj212_port: int = Field(default=9212, description="HJ 212 receiver TCP port")

    # enforcement analytics: a TOML file whose keys override transforms/risk/rules.toml
    risk_rules: Path | None = Field(
        default=None, description="risk rules override (ECOCLOUD_RISK_RULES); default: the shipped rules"
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @property
    def lake(self) -> Path:
        return (self.lake_dir or self.root / "lake").expanduser().resolve()

    @property
    def duckdb_file(self) -> Path:
        return (self.duckdb_path or self.root / "ecocloud.duckdb").expanduser().resolve()

    @property
    def airflow_dir(self) -> Path:
        return (self.airflow_home or self.root / "airflow").expanduser().resolve()

    @property
    def hj212_landing(self) -> Path:
        """HJ 212 landing dir (receiver segments); rejected lines go to ``<it>_quarantine`` beside it."""
        return (self.hj212_landing_dir or self.lake / "raw" / "hj212").expanduser().resolve()

    @property
    def ledger_file(self) -> Path:
        """SQLite: raw manifest and processing ledger (transactional, safe for concurrent tasks)."""
        return self.root / "ledger.sqlite"


def get_settings() -> Settings:
    """Fresh settings from the current environment (cheap; tests change the environment)."""
    return Settings()
