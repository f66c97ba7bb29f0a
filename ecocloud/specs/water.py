"""Surface water: the automatic-station real-time board (4-hourly readings), polled every hour."""

from __future__ import annotations

from ecocloud.runner.spec import Arrival, Build, Publish, Schedule, SourceSpec

SPEC = SourceSpec(
    name="water",
    dag_id="surface_water",
    title="Surface-water real-time board → raw → typed readings → GB 3838 class → quality gate → core and marts",
    description=(
        "Each run fetches every page of the board as it is now (the platform keeps no history: a run "
        "cannot fetch a past interval, so catchup is off and backfills rebuild from the raw zone with "
        "`ecocloud run water --no-land --force`), lands the pages as one snapshot, quarantines rows that "
        "cannot be typed, and rebuilds whole every Beijing day the snapshot has readings of: "
        "classified with GB 3838 against the section registry (ECOCLOUD_WATER_SECTIONS_CSV), gated, "
        "published. Then the section dimension and the monthly marts of the months that changed."
    ),
    arrival=Arrival.SNAPSHOTS,
    land="ecocloud.builds.water:land_interval",
    # hourly, though the readings are 4-hourly: the board keeps none of them once the next is out, so
    # a poll on their own cadence that started late (a scheduler restart, busy slots) lost one for
    # good; an unchanged board lands nothing (conditional GET) and builds nothing
    schedule=Schedule(cron="10 * * * *"),
    builds=(
        Build(
            "snapshots",
            outputs=("quarantine_water__section_readings",),
            evidence=("quarantine_water__section_readings",),
            publish=Publish.PART,
            summary=("rows_in", "rows_typed", "rows_quarantined", "pages_quarantined", "duplicates"),
            steps="ecocloud.builds.water:Snapshots",
            # 2: a duplicate row with other values is quarantined as a conflicting duplicate, with both values;
            # 3: full-width cells read (NFKC), ND / 未检出 below detection instead of a bad cell
            code_version="3",
            doc="Type every page of each new snapshot; quarantine what cannot be typed.",
        ),
        Build(
            "readings",
            outputs=("core_water__section_readings",),
            publish=Publish.PARTITION,
            summary=("readings", "sections", "sections_unlisted", "class_agreement_pct"),
            steps="ecocloud.builds.water:Readings",
            # 2: pH inside 6–9 is no longer named among the deciding items; 3: below_detection_items;
            # 4: pH inside 6–9 alone gives no class; full-width cells, ND / 未检出
            code_version="4",
            freshness=True,
            doc="Each day the snapshots touch: newest reading wins, GB 3838 class, gate, publish.",
        ),
        Build(
            "sections",
            outputs=("core_water__sections",),
            publish=Publish.WHOLE,
            summary=("sections", "listed", "unlisted"),
            steps="ecocloud.builds.water:Sections",
            doc="Section dimension: the registry plus sections seen in readings.",
        ),
        Build(
            "monthly",
            outputs=("mart_water__section_monthly", "mart_water__basin_monthly"),
            publish=Publish.PARTITION,
            summary=("days", "sections", "basin_rows"),
            steps="ecocloud.builds.water:Monthly",
            # 2: classes of the monthly means rounded to each item's reporting precision (修约); pH inside
            # 6–9 no longer among the deciding items; 3: pH inside 6–9 alone gives no class, and a basin
            # or water body of fewer than 5 sections (or a lake) judged by its mean concentrations;
            # 4: the month's pH range and its readings outside 6–9 beside the mean
            code_version="4",
            doc="Section monthly class and the basin roll-up of every month whose days changed.",
        ),
    ),
    tags=("source:water", "layer:core", "layer:mart"),
)
