"""Airflow DAG: enforcement analytics, daily and when source values, registries, permits or credit change (generated from the `risk` spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("risk")
