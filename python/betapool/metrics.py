"""Per-task measurements and their rolling aggregates: the BetaPool seed's
`TaskMetrics`, `AggregatedMetrics` and `MetricsCollector`, with the same
names, fields, defaults and results.

What is added: a task measured under libbetapool.so also carries its GIL
held and waited seconds (`gil_held_time`, `gil_wait_time`; None without the
shim), and the collector can give the seed's CPU-time formula beside the
ratio the controller uses (`get_recent_cpu_blocking_ratio`).

`betapool.metrics` is also betapool's function that reports what the shim
sees, `betapool.metrics()`. Importing this module makes the package's
attribute this module (that is what importing a submodule does), so the
module is callable and answers with that function: `from betapool.metrics
import TaskMetrics` and `betapool.metrics()` both work, in either order.
"""
import statistics
import sys
import threading
import types
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Dict, List, Optional

__all__ = ["TaskMetrics", "AggregatedMetrics", "MetricsCollector"]


def _clamp01(x):
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


@dataclass
class TaskMetrics:
    """One finished task: its wall and CPU seconds, its blocking ratio
    (clamped to [0, 1] when made), when it finished (Unix time) and whether
    it raised."""
    task_id: str
    wall_time: float
    cpu_time: float
    blocking_ratio: float
    timestamp: float
    success: bool = True
    error_message: Optional[str] = None
    # betapool's: seconds holding and waiting for the GIL (None: not measured)
    gil_held_time: Optional[float] = None
    gil_wait_time: Optional[float] = None

    def __post_init__(self):
        self.blocking_ratio = _clamp01(self.blocking_ratio)

    @property
    def cpu_blocking_ratio(self) -> float:
        """The seed's formula for this task, 1 - cpu/wall, in [0, 1] (0 for
        a task that took no wall time)."""
        return _clamp01(1.0 - self.cpu_time / self.wall_time) if self.wall_time > 0 else 0.0

    def to_dict(self) -> Dict[str, Any]:
        d = {name: getattr(self, name) for name in (
            "task_id", "wall_time", "cpu_time", "blocking_ratio", "timestamp", "success",
            "error_message")}
        if self.gil_held_time is not None:
            d["gil_held_time"] = self.gil_held_time
            d["gil_wait_time"] = self.gil_wait_time
        return d


@dataclass
class AggregatedMetrics:
    """The recent tasks summed up (what get_aggregated_metrics returns)."""
    window_start: float
    window_end: float
    task_count: int
    avg_blocking_ratio: float
    std_blocking_ratio: float
    avg_wall_time: float
    avg_cpu_time: float
    throughput: float
    p50_latency: float
    p99_latency: float


def _percentile(ordered, p):
    """Linear interpolation between the two nearest ranks of a sorted list."""
    if not ordered:
        return 0.0
    pos = (len(ordered) - 1) * p / 100.0
    lo = int(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


class MetricsCollector:
    """Keeps the last `max_history` TaskMetrics; the averages look at the
    last `window_size` (or n) of them. Safe to use from any thread.

    Throughput counts the tasks recorded since a window began: a window
    younger than 0.1 s reports 0.0, and get_throughput() starts a new window
    once the current one is older than 1 s."""

    def __init__(self, window_size: int = 100, max_history: int = 10000):
        self.window_size = window_size
        self.max_history = max_history
        self._recent = deque(maxlen=max_history)
        self._lock = threading.Lock()
        now = time.time()
        self._start_time = now
        self.total_tasks = 0
        self._window_task_count = 0
        self._last_window_reset = now

    def record(self, metrics: TaskMetrics) -> None:
        with self._lock:
            self._recent.append(metrics)
            self.total_tasks += 1
            self._window_task_count += 1

    def _last(self, n):
        """The last n (default window_size) records; caller holds the lock."""
        n = n or self.window_size
        if n >= len(self._recent):
            return list(self._recent)
        return list(self._recent)[-n:]

    def get_recent_blocking_ratio(self, n: Optional[int] = None) -> float:
        """Mean blocking ratio of the last n tasks; 0.5 (undecided) before any."""
        with self._lock:
            recent = self._last(n)
        return statistics.mean(m.blocking_ratio for m in recent) if recent else 0.5

    def get_recent_cpu_blocking_ratio(self, n: Optional[int] = None) -> float:
        """The seed's 1 - cpu/wall, averaged over the last n tasks the same
        way; 0.5 before any. Equal to get_recent_blocking_ratio() without
        the shim."""
        with self._lock:
            recent = self._last(n)
        return statistics.mean(m.cpu_blocking_ratio for m in recent) if recent else 0.5

    def get_blocking_ratio_std(self, n: Optional[int] = None) -> float:
        with self._lock:
            recent = self._last(n)
        return statistics.stdev(m.blocking_ratio for m in recent) if len(recent) >= 2 else 0.0

    def get_throughput(self) -> float:
        """Tasks per second in the current window (see the class)."""
        with self._lock:
            now = time.time()
            elapsed = now - self._last_window_reset
            if elapsed < 0.1:
                return 0.0
            rate = self._window_task_count / elapsed
            if elapsed > 1.0:
                self._window_task_count = 0
                self._last_window_reset = now
            return rate

    def get_latency_percentiles(self, n: Optional[int] = None) -> Dict[str, float]:
        """p50, p90 and p99 of the last n tasks' wall times, in seconds."""
        with self._lock:
            walls = sorted(m.wall_time for m in self._last(n))
        return {"p50": _percentile(walls, 50), "p90": _percentile(walls, 90),
                "p99": _percentile(walls, 99)}

    def get_aggregated_metrics(self, n: Optional[int] = None) -> AggregatedMetrics:
        with self._lock:
            now = time.time()
            recent = self._last(n)
            elapsed = now - self._last_window_reset
            throughput = self._window_task_count / elapsed if elapsed > 0.1 else 0.0
            start = self._start_time
        if not recent:
            return AggregatedMetrics(start, now, 0, 0.5, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
        ratios = [m.blocking_ratio for m in recent]
        walls = sorted(m.wall_time for m in recent)
        return AggregatedMetrics(
            window_start=recent[0].timestamp,
            window_end=now,
            task_count=len(recent),
            avg_blocking_ratio=statistics.mean(ratios),
            std_blocking_ratio=statistics.stdev(ratios) if len(ratios) > 1 else 0.0,
            avg_wall_time=statistics.mean(m.wall_time for m in recent),
            avg_cpu_time=statistics.mean(m.cpu_time for m in recent),
            throughput=throughput,
            p50_latency=_percentile(walls, 50),
            p99_latency=_percentile(walls, 99),
        )

    def reset(self) -> None:
        with self._lock:
            now = time.time()
            self._recent.clear()
            self.total_tasks = 0
            self._window_task_count = 0
            self._last_window_reset = now
            self._start_time = now

    def export_to_list(self) -> List[Dict[str, Any]]:
        """Every kept record as a dict (TaskMetrics.to_dict), oldest first."""
        with self._lock:
            return [m.to_dict() for m in self._recent]


class _CallableModule(types.ModuleType):
    def __call__(self):
        """What betapool sees in this process: betapool.metrics() (see the
        package)."""
        from . import _shim_metrics
        return _shim_metrics()


sys.modules[__name__].__class__ = _CallableModule
