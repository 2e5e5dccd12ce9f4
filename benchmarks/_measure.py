"""Measuring a fit in its own process: peak resident memory that loading the data does not hide."""

from __future__ import annotations

import os
import platform


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark, so that the peak of loading the data does not hide the
    peak of fitting (``ru_maxrss`` cannot be reset; ``VmHWM`` can, through ``clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def machine() -> str:
    return (f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")
