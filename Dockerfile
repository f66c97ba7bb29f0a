# The ecocloud image: every Airflow component, the HJ 212 receiver and the web app run from it
# (docker-compose.yml chooses the command). It installs requirements.lock exactly, as `make venv` does.
FROM python:3.11-slim-bookworm

# Keep in step with UV_VERSION in the Makefile (a test checks).
ARG UV_VERSION=0.13.9

ENV PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    UV_NO_CACHE=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH

# The pinned lock first, on its own layer: a code change does not reinstall the dependencies.
# Bytecode is compiled at install (as in the Makefile): every Airflow task process would otherwise
# recompile Airflow, GX and pandas, and the non-root user could not write the caches anyway.
COPY requirements.lock /opt/ecocloud/requirements.lock
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install "uv==${UV_VERSION}" \
 && /opt/venv/bin/uv pip sync --compile-bytecode --python /opt/venv/bin/python /opt/ecocloud/requirements.lock

# The project, installed in place (editable) so that dags/ sits beside the packages as in a checkout.
WORKDIR /opt/ecocloud
COPY pyproject.toml ./
COPY schemas ./schemas
COPY transforms ./transforms
COPY warehouse ./warehouse
COPY ingest ./ingest
COPY ecocloud ./ecocloud
COPY dags ./dags
# The HJ 212 parser's C kernels are compiled here (gcc only for this step; the image keeps the .so).
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev \
 && /opt/venv/bin/uv pip install --no-deps --python /opt/venv/bin/python -e . \
 && python -c "import ingest.hj212._tokens" \
 && apt-get purge -y --auto-remove gcc libc6-dev && rm -rf /var/lib/apt/lists/* \
 && python -m compileall -q schemas transforms warehouse ingest ecocloud dags

# A non-root user (Airflow's uid, group 0 so that an arbitrary uid with group 0 also works) owning
# only the state directories; volumes mounted there start with this ownership.
RUN useradd --uid 50000 --gid 0 --home-dir /var/lib/ecocloud --no-create-home --shell /bin/bash ecocloud \
 && mkdir -p /var/lib/ecocloud/hj212 /var/lib/ecocloud/serving /var/lib/airflow/logs \
 && chown -R 50000:0 /var/lib/ecocloud /var/lib/airflow \
 && chmod -R g=u /var/lib/ecocloud /var/lib/airflow

ENV ECOCLOUD_HOME=/var/lib/ecocloud \
    AIRFLOW_HOME=/var/lib/airflow \
    AIRFLOW__CORE__DAGS_FOLDER=/opt/ecocloud/dags \
    AIRFLOW__CORE__LOAD_EXAMPLES=false

USER 50000
WORKDIR /var/lib/ecocloud
CMD ["ecocloud", "--help"]
