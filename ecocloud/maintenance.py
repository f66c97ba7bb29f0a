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
# what the DAG's page says to the people running it
DOC = (
    "Once a day at 03:30 Beijing time: deletes the files in the lake's table folders that no ledger part "
    "names (what a killed run leaves: a part written and never recorded, a half-written temporary file) "
    "and the temporary files a killed landing left in the raw zone — only those older than "
    "ECOCLOUD_LAKE_SWEEP_GRACE_HOURS (72). ecocloud's own reads never see them; a reader of the folders "
    "(the external tables of `ecocloud export-ddl`) would. It refuses to delete when the ledger lists "
    "less than a tenth of the lake's files (another ledger than the lake's own). The task log lists what "
    "it deleted; `ecocloud sweep` lists the same without deleting."
)
