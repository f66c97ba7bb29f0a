"""Airflow DAG: daily lake maintenance, the sweep of crash leftovers (declared in `ecocloud/maintenance.py`)."""

from _factory import make_maintenance_dag

dag = make_maintenance_dag()
