#!/bin/sh
# Runs once, when Postgres initialises an empty data volume: the platform's state database
# (ledger, locks, lineage, web users) beside Airflow's metadata database, with its own role.
set -eu
: "${ECOCLOUD_DB_PASSWORD:?ECOCLOUD_DB_PASSWORD is not set}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
    --set=password="$ECOCLOUD_DB_PASSWORD" <<'SQL'
CREATE ROLE ecocloud LOGIN PASSWORD :'password';
CREATE DATABASE ecocloud OWNER ecocloud;
SQL
