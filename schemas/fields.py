"""Fields shared by several sources, and the departments that own datasets.

A source module declares its own fields in ``Fields("<source>", parent=SHARED)``; a name declared
here means the same thing everywhere (same type, unit, range). Tables may restate a field's
description for their own use (``SHARED.get("date", description=...)``).
"""

from __future__ import annotations

from datetime import timedelta

from schemas.registry import Column, Department, Fields, Frequency

SHARED = Fields("shared")

SHARED.define(
    Column("date", "date", "Beijing date (partition key)", nullable=False),
    Column("raw_file", "string", "raw-zone object the row was read from, path relative to the lake"),
    Column("reason", "string", "why the row was not published", nullable=False),
    Column("run_id", "string", "pipeline run: the Airflow DAG run id, or cli-<time>-<id> for a command"),
    Column("task", "string", "who ran it: <dag_id>.<task_id> in Airflow, or the ecocloud command"),
)

# -- owners (数据责任部门) -------------------------------------------------------------------------
PLATFORM_TEAM = Department(
    "大数据中心 平台组", "Big-data centre, platform team", "data-platform@sthjt.example.gov.cn"
)

# -- update frequencies ---------------------------------------------------------------------------
HOURLY = Frequency("每小时", "hourly", timedelta(hours=1))
EVERY_4_HOURS = Frequency("每4小时", "every 4 hours", timedelta(hours=4))
DAILY = Frequency("每日", "daily", timedelta(days=1))
MONTHLY = Frequency("每月", "monthly", timedelta(days=31))
YEARLY = Frequency("每年", "yearly", timedelta(days=366))
ON_CHANGE = Frequency("变更时", "on change", None)
EVERY_RUN = Frequency("每次运行", "every pipeline run", None)
