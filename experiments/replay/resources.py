"""Wall time, CPU time and peak resident memory of a block of code (Linux ``/proc``; rusage)."""

from __future__ import annotations

import os
import resource
import threading
import time
from pathlib import Path
from types import TracebackType

__all__ = ["ResourceMeter", "current_rss_mb"]

_STATM = Path("/proc/self/statm")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def current_rss_mb() -> float:
    """Resident set size of this process in MiB (peak-so-far RSS if ``/proc`` is absent)."""
    try:
        return int(_STATM.read_text().split()[1]) * _PAGE / 2**20
    except (OSError, IndexError, ValueError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class ResourceMeter:
    """Context manager measuring wall and CPU seconds and peak RSS (sampled every ``interval_s``).

    Attributes:
        elapsed_s: Wall time of the block.
        cpu_s: CPU time (user + system, all threads) of the process during the block.
        peak_mb: Highest RSS seen during the block (MiB).
        start_mb: RSS when the block started (MiB).
    """

    def __init__(self, interval_s: float = 0.02) -> None:
        self.interval_s = interval_s
        self.elapsed_s = 0.0
        self.cpu_s = 0.0
        self._cpu0 = 0.0
        self.peak_mb = 0.0
        self.start_mb = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._t0 = 0.0

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.peak_mb = max(self.peak_mb, current_rss_mb())

    def __enter__(self) -> ResourceMeter:
        self.start_mb = self.peak_mb = current_rss_mb()
        self._t0 = time.perf_counter()
        self._cpu0 = _cpu_seconds()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        self.peak_mb = max(self.peak_mb, current_rss_mb())
        self.elapsed_s = time.perf_counter() - self._t0
        self.cpu_s = _cpu_seconds() - self._cpu0
