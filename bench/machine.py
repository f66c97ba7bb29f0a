"""What machine a benchmark ran on, recorded the same way in every benchmark's results.

Hosts of one size differ in CPU type from session to session (BENCHMARKS.md: an Intel Xeon and two
AMD EPYC models), and the type moves the figures, the pure-Python baselines most: each result says
which CPU it comes from.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path
from typing import Any


def cpu_model() -> str:
    """The CPU as Linux names it (model name, family and model number)."""
    fields: dict[str, str] = {}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            fields.setdefault(key.strip(), value.strip())
    except OSError:
        return platform.processor() or "unknown"
    name = fields.get("model name", "unknown")
    return f"{name} (family {fields.get('cpu family', '?')}, model {fields.get('model', '?')})"


def describe() -> dict[str, Any]:
    """CPU model, logical CPUs, architecture, Python and platform, for a results file."""
    return {
        "cpu": cpu_model(),
        "cpus": os.cpu_count(),
        "arch": platform.machine(),
        "python": platform.python_version(),
        "platform": platform.platform(),
    }


def summary() -> str:
    """One line for a benchmark's printout."""
    m = describe()
    return f"{m['cpu']}, {m['cpus']} cpus, {m['arch']}, Python {m['python']}"
