"""Airflow DAG: Registry CSVs → raw → versioned enterprises and monitoring points → quality gate → core; join report (generated from the `master` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("master")
