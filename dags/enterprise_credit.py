"""Airflow DAG: Provincial credit result files (XLSX/CSV) → raw → typed ratings by scheme → quality gate → core (generated from the `credit` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("credit")
