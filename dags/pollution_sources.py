"""Airflow DAG: HJ 212 receiver segments → packets, readings, quarantine → quality gate → hourly/daily marts (generated from the `source` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("source")
