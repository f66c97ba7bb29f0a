"""Airflow DAG: National ambient air release → raw → typed station-hours → quality gate → core and marts (generated from the `air` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("air")
