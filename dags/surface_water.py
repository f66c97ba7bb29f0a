"""Airflow DAG: Surface-water real-time board → raw → typed readings → GB 3838 class → quality gate → core and marts (generated from the `water` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("water")
