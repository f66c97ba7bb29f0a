"""The ingest commands' report: what it tells an engineer about units still blocked from an earlier run."""

from __future__ import annotations

import pytest

from ecocloud.cli_ingest import print_report
from ecocloud.runner.report import PUBLISHED, SKIPPED, RunReport, UnitReport

_WHY = (
    "core_air__station_hourly 2026-11-23: pm25 outside [0, 1000] on 1 of 24 rows, e.g. [1187.5] at keys "
    '(station_code, observed_at) = [["1001A", "2026-11-22T16:00:00+00:00"]]'
)


def _report(*units: UnitReport) -> RunReport:
    return RunReport(source="air", run_id="cli-test", units=list(units))


def test_a_unit_still_blocked_beside_new_ones_says_how_to_build_it_again(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """A fixed parser does not make a blocked unit pending (its input is unchanged): the report said
    so only when nothing at all was pending."""
    print_report(
        "air",
        _report(
            UnitReport("air.hourly", "2026-11-24", PUBLISHED, counts={"rows": 24}),
            UnitReport("air.hourly", "2026-11-23", SKIPPED, blocked_before=_WHY),
        ),
    )
    out = capsys.readouterr()
    text = " ".join((out.out + out.err).split())  # the console wraps long lines
    assert "2026-11-23 still BLOCKED (its input is unchanged): " in text
    # the gate stores the sampled row's instant in UTC; the engineer reads it in Beijing time
    assert '[["1001A", "2026-11-23 00:00:00+08:00"]]' in text and "+00:00" not in text
    assert (
        "1 unit(s) still blocked (above): after a fix of the code, ecocloud run air --no-land --rebuild "
        "UNIT builds one again (or a new code_version of its build, every unit)"
    ) in text
    assert "nothing pending" not in text


def test_a_run_with_nothing_pending_says_it_once(capsys: pytest.CaptureFixture[str]) -> None:
    print_report(
        "air",
        _report(
            UnitReport("air.hourly", "2026-11-24", SKIPPED),
            UnitReport("air.hourly", "2026-11-23", SKIPPED, blocked_before=_WHY),
        ),
    )
    text = " ".join(capsys.readouterr().out.split())
    assert "nothing pending: all 2 units are current, 1 of them still blocked (above)" in text
    assert "after a fix of the code" not in text
