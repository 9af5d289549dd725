"""The machine a benchmark ran on, in one line for the reports under docs/."""

from __future__ import annotations

import os
import platform


def describe() -> str:
    """'2 cores (CPU model), 24 GiB RAM, Python 3.11.7'."""
    cpu = "unknown CPU"
    with open("/proc/cpuinfo", encoding="utf-8") as handle:
        for line in handle:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return f"{os.cpu_count()} cores ({cpu}), {mem:.0f} GiB RAM, Python {platform.python_version()}"
