"""Measuring a fit in its own process: peak resident memory that loading the data does not hide."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import sys
import time


def status_mb(field: str) -> float:
    """A ``/proc/self/status`` memory field (``VmRSS``, ``VmHWM``) in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return float("nan")


def release_freed() -> None:
    """Return the allocator's freed pages to the system (glibc ``malloc_trim``), so that a
    resident-memory difference measures what is held, not heap pages that earlier work freed
    and that a later allocation happens to reuse."""
    import ctypes

    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc: the measure is only coarser
        pass


def reset_peak() -> None:
    """Reset the kernel's peak-RSS mark, so that the peak of loading the data does not hide the
    peak of fitting (``ru_maxrss`` cannot be reset; ``VmHWM`` can, through ``clear_refs``)."""
    with open("/proc/self/clear_refs", "w") as fh:
        fh.write("5")


def machine() -> str:
    return (f"{platform.machine()}, {platform.processor() or 'cpu'}, {os.cpu_count()} cores, "
            f"Python {platform.python_version()}")


def commit() -> str:
    """The short hash of the checked-out commit, for results files."""
    return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                          text=True).stdout.strip()


@contextlib.contextmanager
def busy_processes(n: int):
    """``n`` busy-looping processes beside the block (the "loaded" machine of the benchmarks),
    given a second to start, and killed when it ends."""
    procs = [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(n)]
    try:
        if procs:
            time.sleep(1.0)
        yield
    finally:
        for p in procs:
            p.kill()
