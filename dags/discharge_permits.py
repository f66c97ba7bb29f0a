"""Airflow DAG: Permit platform API → raw pages → permit versions (SCD2), outlets, limits → quality gate → core (generated from the `permit` source spec, `ecocloud/specs/`)."""

from _factory import make_dag

dag = make_dag("permit")
