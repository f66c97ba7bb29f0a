"""Airflow DAG: the shared catalog, rebuilt whenever a dataset changes (generated from the `catalog` spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("catalog")
