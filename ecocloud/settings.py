"""One settings object for the whole platform, read from ``ECOCLOUD_*`` environment variables.

Everything that lives on disk hangs off ``ECOCLOUD_HOME`` so that two homes never mix: the lake,
the serving DuckDB file, the ledger and the Airflow home. The lake may live elsewhere instead:
``ECOCLOUD_LAKE_URL`` (``file:///…`` or ``s3://bucket/prefix`` with the ``ECOCLOUD_S3_*`` settings).
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas.clock import BEIJING_ZONE

if TYPE_CHECKING:
    import duckdb

    from ingest.http import HttpLimits
    from warehouse.fs import Lake


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="ECOCLOUD_", extra="ignore")

    home: Path = Field(default=Path(".ecocloud"), description="root of everything ecocloud writes")
    lake_url: str | None = Field(
        default=None,
        description="the Parquet lake: file:///path (or a path) or s3://bucket/prefix; default <home>/lake",
    )
    lake_dir: Path | None = Field(default=None, description="local lake folder (older name of lake_url)")
    # the object store of an s3:// lake (MinIO, or any S3-compatible server); unset: botocore's defaults
    s3_endpoint_url: str | None = Field(default=None, description="e.g. http://minio:9000; unset: AWS")
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_region: str | None = Field(default=None, description="e.g. us-east-1")
    duckdb_path: Path | None = Field(
        default=None, description="serving DuckDB file; default <home>/ecocloud.duckdb"
    )
    airflow_home: Path | None = Field(default=None, description="Airflow home; default <home>/airflow")
    state_db_url: str | None = Field(
        default=None,
        description="the platform's state database (ledger, locks, lineage, web users): an SQLAlchemy "
        "URL; default sqlite:///<home>/state.sqlite, postgresql+psycopg://… when machines share it",
    )

    # upstream endpoints (the simulator serves these on loopback by default)
    air_base_url: str = Field(default="http://127.0.0.1:8765/air", description="where day files are fetched")
    air_catch_up_days: int = Field(
        default=7,
        ge=1,
        le=366,
        description="days before a scheduled run's own that it asks for again, as they may have grown since "
        "they were landed or a skipped run never landed them (not before the first day ever landed): "
        "conditional GETs, so where the upstream sends validators an unchanged file costs a 304",
    )
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
    http_timeout_s: float = Field(default=30.0, description="longest wait for any one read of an answer")
    http_retries: int = 4
    http_backoff_s: float = 0.5
    # limits on what an upstream can make us do (ingest/http.py); http_limits() bundles them
    http_max_bytes: int = Field(
        default=256 * 2**20, description="largest answer body after decompression (and .gz file inflated)"
    )
    http_deadline_s: float = Field(
        default=300.0, description="whole request: connect, every read, retries, back-off, redirects"
    )
    http_max_redirects: int = 5
    http_redirect_hosts: str = Field(
        default="",
        description="comma-separated hosts that redirects and listings may point to besides the "
        "upstream's own host (default: same host only)",
    )
    http_max_pages: int | None = Field(
        default=None,
        description="pages a paged fetch follows before refusing; default each fetcher's own "
        "(permit API 10,000, water board 500)",
    )

    workers: int = Field(
        default_factory=lambda: os.cpu_count() or 1,
        description="forked processes for a parallel build's batches",
    )

    simulator_host: str = "127.0.0.1"
    simulator_port: int = Field(
        default=8765, description="simulator HTTP port (`ecocloud simulate`, `up --simulate`)"
    )

    # HJ 212: the TCP receiver (`ecocloud receive`) and the pollution_sources DAG
    hj212_landing_dir: Path | None = Field(
        default=None,
        description="where the HJ 212 receiver lands segments (a local folder); default <lake>/raw/hj212, "
        "or <home>/hj212 when the lake is on S3",
    )
    hj212_port: int = Field(default=9212, description="HJ 212 receiver TCP port")
    hj212_proxy_protocol: bool = Field(
        default=False,
        description="the receiver sits behind TCP gateways sending the PROXY protocol (HAProxy send-proxy-v2, v1 "
        "or v2): every connection must start with its header, and the logger's address it carries is the peer "
        "for per-peer caps, the auth throttle and landing records",
    )
    hj212_trusted_proxies: str = Field(
        default="",
        description="comma-separated addresses or networks (CIDR) of those gateways: with the PROXY protocol on, "
        "a connection from anywhere else is refused (its header would be a claim anyone can make)",
    )
    hj212_compact_after_hours: float = Field(
        default=24.0,
        ge=0,
        description="the source spec's compact build rewrites a date partition of packets, readings or "
        "quarantine into one part once every part of it is at least this old (hours since written)",
    )
    hj212_compact_min_parts: int = Field(
        default=2,
        ge=2,
        description="… and a partition compacted before only when it has at least this many parts again "
        "(one never compacted is compacted once, whatever its part count)",
    )
    serving_retired_grace_minutes: float = Field(
        default=15.0,
        ge=0,
        description="a part a unit replaced (retired) is deleted by the first serving refresh at least this long after "
        "the first refresh that stopped listing it: a connection opened on an earlier serving file (a web request, "
        "a sandboxed query, a notebook) keeps reading it that long; engines reading the table folders see both "
        "parts until then",
    )
    lake_sweep_grace_hours: float = Field(
        default=72.0,
        ge=1,
        description="`ecocloud sweep` and the lake_maintenance DAG delete a table file the ledger does not list only once it is this "
        "old (hours since last modified): a part just written is unlisted until its run records it",
    )
    receiver_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.]+$",  # '-' separates a segment name's parts
        description="the HJ 212 receiver's id (segment name prefix, landing-zone lock): letters, digits, '_' and "
        "'.'; default: the host name with other characters as '_'. Unique per receiver of a deployment",
    )

    # the SQL surface (`ecocloud sql`, the web app): ecocloud/query.py
    sql_timeout_s: float = Field(default=30.0, description="a query is interrupted after this long")
    sql_memory_limit: str = Field(default="1GB", description="DuckDB memory_limit of a query (no spilling)")
    sql_threads: int = Field(default=2, description="DuckDB threads of a query")
    sql_max_rows: int = Field(default=100_000, description="rows a query returns at most (the rest is cut)")
    sql_max_result_bytes: int = Field(
        default=64_000_000,
        description="bytes a query returns at most, text by its length, other values 8 bytes each and 64 "
        "inside a list or struct (a larger result fails: DuckDB's memory_limit does not cover the strings "
        "and lists a query builds)",
    )
    web_sql_concurrency: int = Field(
        default=2, description="/sql queries the web app runs at once; more wait a second, then get 503"
    )
    web_sql_max_cells: int = Field(
        default=50_000,
        ge=1,
        description="values (rows × columns) a /sql page shows at most: a wide result is cut to fewer rows, "
        "one with more columns is refused (the web app's own process rebuilds and renders every value)",
    )

    # the web app (`ecocloud serve`) and its users
    web_cookie_secure: bool = Field(
        default=True,
        description="mark session cookies Secure (HTTPS only); false only for plain-http localhost",
    )
    web_session_hours: float = Field(default=8.0, description="a login lasts this long", gt=0)
    web_login_max_failures: int = Field(
        default=5,
        description="failed logins for a user name from one client in the window before refusing "
        "(x4 from one client for any names, x10 for one name from any clients; a browser the user logged in "
        "from before: this many of its own, whatever other clients did)",
        ge=1,
    )
    web_login_window_minutes: float = Field(default=15.0, description="window of the login throttle", gt=0)
    web_login_hashes_at_once: int = Field(
        default=2,
        description="password checks (Argon2id: 64 MiB and ~0.1 s of a core each) run at once; more logins "
        "wait their turn up to 10 s, then get 503 (a flood of logins costs queueing, not memory); at most 8 "
        "wait, more get 503 at once (a flood holds no more of the web app's threads)",
        ge=1,
    )
    web_forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="the reverse proxies whose X-Forwarded-For and X-Forwarded-Proto the web app believes "
        "(comma-separated addresses or networks): behind a proxy elsewhere, name it, or every client is the "
        "proxy to the login throttle and the client limit soon refuses everyone. Not '*' where clients can "
        "reach the app directly: each could then claim any address, and the per-client limit is gone",
    )
    web_sample_rows: int = Field(default=20, description="sample rows on a dataset page", ge=0, le=1000)
    web_download_max_days: int = Field(
        default=31, ge=1, description="days of partitions one download of a dataset's rows holds at most"
    )
    web_download_max_rows: int = Field(
        default=2_000_000,
        ge=1,
        description="rows one download of a dataset holds at most (CSV ~100 bytes a row)",
    )
    web_download_concurrency: int = Field(
        default=4,
        ge=1,
        description="download files that exist at once, being written or sent (each up to max_rows on the "
        "temporary disk); one more reader gets 503 and tries again",
    )
    catalog_base_url: str = Field(
        default="http://127.0.0.1:8080",
        description="public address of the web app: dataset URIs of the DCAT export (made on the command line, "
        "and served at /catalog.jsonld when this is set; else there the address a request came to); forms "
        "posted from this origin are accepted when a proxy hands the app another Host",
    )
    catalog_publisher_zh: str = "江西省生态环境厅 大数据中心"
    catalog_publisher_en: str = "Jiangxi Department of Ecology and Environment, big-data centre"
    catalog_region_name: str = Field(
        default="江西省 (Jiangxi)", description="spatial coverage of the catalog"
    )
    catalog_region_code: str = Field(default="360000", description="GB/T 2260 code of that region")
    catalog_license_url: str | None = Field(
        default=None,
        description="licence of the 无条件共享 (openly shared) data: a URI the DCAT export gives their "
        "downloads as dct:license (the province's open-data licence page, or e.g. "
        "https://creativecommons.org/licenses/by/4.0/); none by default: no licence is claimed",
    )

    # enforcement analytics: a TOML file whose keys override transforms/risk/rules.toml
    risk_rules: Path | None = Field(
        default=None, description="risk rules override (ECOCLOUD_RISK_RULES); default: the shipped rules"
    )

    @cached_property
    def root(self) -> Path:
        return self.home.expanduser().resolve()

    @cached_property
    def lake_store(self) -> Lake:
        """The lake, local or on S3: every read and write of it goes through this object."""
        from warehouse.fs import LocalLake, S3Options, lake_at

        if self.lake_url:
            secret = self.s3_secret_access_key
            options = S3Options(
                endpoint_url=self.s3_endpoint_url or None,
                access_key_id=self.s3_access_key_id or None,
                secret_access_key=secret.get_secret_value() if secret else None,
                region=self.s3_region or None,
            )
            found = lake_at(self.lake_url, options)
            if isinstance(found, LocalLake):
                return LocalLake(found.root.resolve())
            return found
        return LocalLake((self.lake_dir or self.root / "lake").expanduser().resolve())

    @property
    def lake(self) -> Path:
        """The local lake's folder; an S3 lake has none (:class:`warehouse.fs.NotLocalError`)."""
        return self.lake_store.local_path()

    @property
    def duckdb_file(self) -> Path:
        return (self.duckdb_path or self.root / "ecocloud.duckdb").expanduser().resolve()

    def connect_serving(self, *, zone: str = BEIJING_ZONE) -> duckdb.DuckDBPyConnection:
        """The serving database, read-only, able to read this lake (every reader opens it here: an
        S3 lake's views need its filesystem registered). FileNotFoundError before the first ingest.
        Its session's time zone is Beijing's, as `ecocloud sql` has it (``::DATE`` and ``date_trunc``
        cut Beijing days, instants come back in Beijing time): an analyst's notebook counts the days
        the pages show. The platform's own readers, written against UTC sessions, pass ``zone="UTC"``."""
        import duckdb

        from schemas.sql import string_literal
        from warehouse.serving import connect_readonly

        con = connect_readonly(self.duckdb_file, self.lake_store)
        try:
            con.execute(f"SET TimeZone = {string_literal(zone)}")
        except duckdb.Error:  # an unknown zone: no connection left open behind the error
            con.close()
            raise
        return con

    @property
    def airflow_dir(self) -> Path:
        return (self.airflow_home or self.root / "airflow").expanduser().resolve()

    @property
    def hj212_landing(self) -> Path:
        """HJ 212 landing dir (receiver segments); rejected lines go to ``<it>_quarantine`` beside it.

        Default: ``<lake>/raw/hj212`` on a local lake, ``<home>/hj212`` with an S3 lake (segments are
        copied into the lake's raw zone when registered)."""
        if self.hj212_landing_dir is not None:
            return self.hj212_landing_dir.expanduser().resolve()
        store = self.lake_store
        return store.local_path("raw/hj212") if store.is_local else self.root / "hj212"

    def http_limits(self) -> HttpLimits:
        """The HTTP limits for ``ingest.http.make_session(..., limits=settings.http_limits())``."""
        from ingest.http import HttpLimits

        hosts = frozenset(h.strip().lower() for h in self.http_redirect_hosts.split(",") if h.strip())
        return HttpLimits(
            max_bytes=self.http_max_bytes,
            deadline_s=self.http_deadline_s,
            max_redirects=self.http_max_redirects,
            redirect_hosts=hosts,
        )

    @property
    def state_url(self) -> str:
        """The state database URL (``state_db_url``, else SQLite in the home)."""
        return self.state_db_url or f"sqlite:///{self.root / 'state.sqlite'}"


def get_settings() -> Settings:
    """Fresh settings from the current environment (cheap; tests change the environment)."""
    return Settings()
