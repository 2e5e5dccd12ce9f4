"""How many threads a model trains with: all allowed cores, minus those other processes keep busy.

A fit trains many small models one after another, and each starts OpenMP threads on every core
it is given. When other processes already use those cores, the threads spin against them and a
fit becomes several times slower than on one thread (measured in ``benchmarks/threads.py``). The
default policy therefore reads, before each model, how busy the allowed cores were over the last
half second or more, not counting this process's own threads, and trains on the cores left idle
(at least one). Linux reports this in ``/proc/stat``; elsewhere the policy uses every core.

Predictions do not depend on the thread count (LightGBM runs ``deterministic`` and row-wise;
XGBoost's ``hist`` is deterministic), so adapting it changes speed only.
"""

from __future__ import annotations

import os
import time

#: A reading needs a window this long: ``/proc/stat`` counts in hundredths of a second.
MIN_WINDOW_S = 0.5
#: The first reading of a fit waits this long (a fit trains for seconds; this costs a tenth).
FIRST_WINDOW_S = 0.1
_TICK_S = 1.0 / os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 0.01


def available_cores() -> int:
    """Cores this process may run on: its CPU affinity where the system reports it (a
    container or ``taskset`` limits it; ``os.cpu_count`` would count the whole machine, and
    OpenMP threads beyond the allowed cores spin against each other)."""
    cpus = _allowed_cpus()
    return max(1, len(cpus)) if cpus is not None else (os.cpu_count() or 1)


def _allowed_cpus() -> set[int] | None:
    return set(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None


def _busy_seconds(cpus: set[int]) -> float | None:
    """CPU seconds spent busy on ``cpus`` since boot, by every process; None if unknown."""
    try:
        with open("/proc/stat", "rb") as f:
            lines = f.read().decode("ascii", "replace").splitlines()
    except OSError:
        return None
    busy = 0
    seen = False
    for line in lines:
        if not line.startswith("cpu") or line.startswith("cpu "):
            continue
        name, *fields = line.split()
        try:
            cpu = int(name[3:])
        except ValueError:
            continue
        if cpu not in cpus:
            continue
        values = [int(v) for v in fields[:8]]
        # user nice system idle iowait irq softirq steal: busy is everything but idle/iowait
        busy += sum(values) - values[3] - values[4]
        seen = True
    return busy * _TICK_S if seen else None


def _own_seconds() -> float:
    t = os.times()
    return t.user + t.system


class LoadAwareThreads:
    """Threads for the next model: the allowed cores that other processes left idle.

    Call it before each model; it re-reads the load once at least :data:`MIN_WINDOW_S` has
    passed and otherwise repeats its last answer, so it costs nothing per model.
    """

    def __init__(self, cores: int | None = None):
        self.cpus = _allowed_cpus()
        self.cores = cores or available_cores()
        self._last: tuple[float, float, float] | None = None
        self._threads = self.cores
        #: Cores other processes kept busy at the last reading (for reports and tests).
        self.others_busy: float | None = None

    def _reading(self) -> tuple[float, float, float] | None:
        busy = _busy_seconds(self.cpus) if self.cpus else None
        if busy is None:
            return None
        return time.monotonic(), busy, _own_seconds()

    def __call__(self) -> int:
        if self.cores == 1 or self.cpus is None:
            return self.cores
        if self._last is None:
            self._last = self._reading()
            if self._last is None:  # no /proc/stat: use every core
                self.cpus = None
                return self.cores
            time.sleep(FIRST_WINDOW_S)
        now = self._reading()
        if now is None:
            return self._threads
        window = now[0] - self._last[0]
        if window < MIN_WINDOW_S and self.others_busy is not None:
            return self._threads
        others = ((now[1] - self._last[1]) - (now[2] - self._last[2])) / window
        self.others_busy = max(0.0, others)
        self._last = now
        self._threads = int(min(self.cores, max(1, self.cores - round(self.others_busy))))
        return self._threads
