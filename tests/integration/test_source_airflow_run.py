"""Airflow really runs pollution_sources (``airflow dags test``) over segments a real HJ 212 receiver
wrote: packets built with build_packet go over TCP to the receiver (in-process, port 0), which
lands and acks them and closes its segments on shutdown; a run publishes every closed segment not
yet ingested — here one whose data interval ended a day before the segments closed (a scheduler
behind, or a backfill): the ledger decides what is pending, not the interval."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import time
from typing import Any

import duckdb
import pytest
from conftest import airflow_dags_test

from ecocloud.airflow_env import ensure_db
from ecocloud.builds.sources import quarantine_dir
from ecocloud.runner import engine
from ecocloud.settings import Settings
from ingest.hj212.protocol import Packet, build_packet, parse_line
from ingest.hj212.receiver import Receiver, ReceiverConfig
from schemas.clock import BEIJING
from schemas.registry import get_table

pytestmark = [pytest.mark.slow, pytest.mark.timeout(600)]

MNS = [f"{0x888836 << 72 | i:024X}" for i in range(3)]


def packets(now: dt.datetime) -> list[bytes]:
    out = []
    start = now.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0) - dt.timedelta(hours=1)
    for i, mn in enumerate(MNS):
        for m in range(0, 60, 10):
            when = start + dt.timedelta(minutes=m)
            out.append(
                build_packet(
                    qn=f"{when:%Y%m%d%H%M%S}{i:03d}",
                    st="31",
                    cn="2051",
                    mn=mn,
                    flag=5,
                    data_time=when,
                    items={"a21026": {"Min": 10.0, "Avg": 12.0 + m, "Max": 15.0, "ZsAvg": 14.0, "Flag": "N"}},
                )
            )
    return out


async def send_all(settings: Settings, lines: list[bytes]) -> int:
    config = ReceiverConfig(landing_dir=settings.hj212_landing, host="127.0.0.1", port=0, receiver_id="itest")
    acks = 0
    async with Receiver(config) as receiver:
        reader, writer = await asyncio.open_connection("127.0.0.1", receiver.port)
        for line in lines:
            writer.write(line)
            reply = parse_line(await asyncio.wait_for(reader.readuntil(b"\n"), 10))
            assert isinstance(reply, Packet)
            acks += reply.cn == "9014"  # landed (fsynced) before the ack
        writer.close()
    return acks  # leaving the context closes the segments (manifest, rename)


def test_dags_test_publishes_what_the_receiver_landed(settings: Settings) -> None:
    ensure_db(settings)
    good = packets(dt.datetime.now(dt.UTC))
    damaged = good[0][:30] + good[0][31:]  # a dropped byte: the receiver quarantines it (length)
    acks = asyncio.run(send_all(settings, [*good, damaged]))
    assert acks == len(good)
    manifests = sorted(settings.hj212_landing.rglob("*.manifest.json")) + sorted(
        quarantine_dir(settings).rglob("*.manifest.json")
    )
    assert len(manifests) == 2
    closed = max(dt.datetime.fromisoformat(json.loads(m.read_text())["closed_at"]) for m in manifests)
    # a run whose data interval ended a day before the segments closed still takes them
    end = closed.astimezone(BEIJING).replace(minute=0, second=0, microsecond=0) - dt.timedelta(days=1)
    airflow_dags_test(settings, "pollution_sources", end, timeout=540)
    con = duckdb.connect(str(settings.duckdb_file), read_only=True)
    try:
        packets_n, quarantined, hourly = con.execute(
            "SELECT (SELECT count(*) FROM core_source__packets WHERE receiver_status = 'ok'), "
            "(SELECT count(*) FROM quarantine_source__packets WHERE reason = 'length_mismatch'), "
            "(SELECT count(*) FROM mart_source__hourly WHERE basis = '2051' AND samples = 6 AND flag = 'N')"
        ).fetchall()[0]
        builds = con.execute(
            "SELECT build, status, count(*) FROM platform_ledger__builds GROUP BY ALL ORDER BY 1"
        ).fetchall()
    finally:
        con.close()
    assert (packets_n, quarantined, hourly) == (len(good), 1, len(MNS))
    days = {(dt.datetime.now(dt.UTC) - dt.timedelta(hours=h)).astimezone(BEIJING).date() for h in (0, 1)}
    assert builds[0] == ("source.core", "published", 2)  # the data segment and the rejects segment
    assert builds[1][:2] == ("source.marts", "published") and builds[1][2] in range(1, len(days) + 1)


def test_the_maintenance_dag_deletes_only_old_leftovers(settings: Settings, ingest: Any) -> None:
    """``airflow dags test lake_maintenance`` after a real ingest: of the files no ledger part names,
    those older than the grace period go (a part a killed run wrote, a killed write's temporary file);
    every listed part, and an unlisted file still within the grace period, stay."""
    from ecocloud.builds.sources import register_segments
    from schemas import source
    from warehouse import lake as lk
    from warehouse.ledger import partition_date

    ensure_db(settings)
    asyncio.run(send_all(settings, packets(dt.datetime.now(dt.UTC))))
    ingest("source", register_segments)
    led = engine.ledger(settings)
    try:
        parts = led.parts()
    finally:
        led.close()
    listed = sorted(lk.part_file(get_table(p.table_name), partition_date(p.partition), p.part) for p in parts)
    day = partition_date(next(p.partition for p in parts if p.table_name == source.readings.name))
    old = time.time() - (settings.lake_sweep_grace_hours + 1) * 3600
    folder = settings.lake / lk.partition_prefix(source.readings, day)
    leftovers = [folder / "seg-killed.parquet", folder / ".data.parquet.0f0f.tmp"]
    young = folder / "seg-running.parquet"
    for f in (*leftovers, young):
        f.write_bytes(b"PAR1 left by a killed process")
    for f in leftovers:
        os.utime(f, (old, old))

    out = airflow_dags_test(settings, "lake_maintenance", timeout=300)
    assert f"2 unlisted file(s) older than {settings.lake_sweep_grace_hours:g} h deleted" in out, out[-4000:]
    assert not any(f.exists() for f in leftovers)
    assert young.exists()
    assert listed and all((settings.lake / rel).exists() for rel in listed)
