"""The city ranking of a day still under way: the air page opens on the newest complete day, and a
day under way, when asked for, says up to which hour its ranking is (its means turn valid at 20 hours
and change every hour after)."""

from __future__ import annotations

import datetime as dt
import re
import subprocess
from pathlib import Path

import pytest
import requests
from conftest import ecocloud_bin, outside_env, running_web

from ecocloud.simulator.server import running_simulator

pytestmark = pytest.mark.integration

BEIJING = dt.timezone(dt.timedelta(hours=8))


def test_the_air_page_opens_on_a_complete_day_and_marks_the_day_under_way(tmp_path: Path) -> None:
    today = dt.datetime.now(BEIJING).date()
    yesterday = today - dt.timedelta(days=1)
    env = outside_env() | {"ECOCLOUD_HOME": str(tmp_path / "home")}
    # the release has reached 21:00 of today: 22 hours, enough for valid daily means and a ranking
    with running_simulator(
        start_date=yesterday, days=2, seed=7, now=dt.datetime.combine(today, dt.time(21, 30))
    ) as sim:
        urls = [f"{sim.base_url}/air/station_list.csv"] + [
            f"{sim.base_url}/air/china_sites_{d:%Y%m%d}.csv" for d in (yesterday, today)
        ]
        subprocess.run([ecocloud_bin(), "ingest", "air", *urls], env=env, check=True, timeout=600)
    with running_web(env) as base:
        page = requests.get(f"{base}/overview/air", timeout=10).text
        assert re.search(rf'<option value="{yesterday}" selected>', page)
        assert f'<option value="{today}"' in page and 'id="day-under-way"' not in page
        under_way = requests.get(f"{base}/overview/air", params={"date": str(today)}, timeout=10).text
        notice = re.search(r'id="day-under-way">(.*?)</p>', under_way, re.S)
        assert notice and f"{today} 21:00" in notice.group(1)
        assert re.search(r'<td class="num">1</td>', under_way)  # ranked from its hours so far
