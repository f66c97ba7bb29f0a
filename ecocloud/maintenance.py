"""The lake's maintenance DAG, declared as data (no heavy imports: its DAG file reads this at parse time).

Not a source spec: it lands and builds nothing. It sweeps the lake's table folders of crash
leftovers, and the raw zone of killed landings' temporary files (``warehouse.sweep``), once a day,
so a folder reader (the external tables of ``ecocloud export-ddl``) does not depend on someone
running ``ecocloud sweep --delete`` by hand.
"""

from __future__ import annotations

import datetime as dt

DAG_ID = "lake_maintenance"
CRON = "30 3 * * *"  # 03:30 Beijing time: after the night's daily runs, before the working day
TIMEZONE = "Asia/Shanghai"
START_DATE = dt.date(2026, 11, 1)
