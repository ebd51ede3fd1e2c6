"""Thread pools with the BetaPool seed's interface: `AdaptiveThreadPoolExecutor`
(resized by the blocking ratio and the GIL Safety Veto), `StaticThreadPoolExecutor`
(a fixed pool, measured the same way), `ControllerConfig` and `ControllerState`.
Same names, signatures, defaults and decisions as the seed's.

What differs, and why:
- The blocking ratio sees the GIL when libbetapool.so is preloaded. The seed
  computes 1 - cpu/wall per task, and a thread waiting for the GIL is off the
  CPU, so contention raises it: 16 pure-Python CPU threads score ~0.9, as if
  they were doing I/O, and the veto never fires. Under the shim a task's
  ratio comes from the shim's count of the thread's own time (held, waited,
  idle, parked, outside the GIL, read at the task's start and end): the
  share of its active time spent outside the GIL, ~0 for such a pool.
  Without the shim the seed's formula is used, and the executor says so
  (`gil_aware` is False; with enable_logging, one warning per process).
- Scaling down retires threads: a surplus worker exits when it finishes its
  task (the seed lowered a cap and kept the threads).
- It is a concurrent.futures.Executor: map() submits at once and cancels
  what is left if the caller stops early, as the standard executors do.
- psutil is optional: without it the CPU figure comes from /proc/stat.
- The decision history and the experiment log keep the last 10,000 entries.
"""
import concurrent.futures
import itertools
import logging
import os
import queue
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Optional

from . import _threadtimes
from .metrics import MetricsCollector, TaskMetrics


__all__ = ["AdaptiveThreadPoolExecutor", "StaticThreadPoolExecutor", "ControllerConfig",
           "ControllerState", "decide"]

logger = logging.getLogger(__name__)
HISTORY_MAX = 10000

SCALE_UP, SCALE_DOWN, HOLD = "scaleUp", "scaleDown", "hold"


@dataclass
class ControllerConfig:
    """The controller's tuning (the seed's defaults)."""
    monitor_interval_sec: float = 0.5       # between decisions
    beta_high_threshold: float = 0.7        # above: blocking, add threads
    beta_low_threshold: float = 0.3         # below: computing, remove threads (the veto)
    scale_up_step: int = 2
    scale_down_step: int = 1
    cpu_upper_threshold: float = 85.0       # machine CPU %: never add above, remove above
    cpu_lower_threshold: float = 50.0       # kept for the seed's interface; no rule reads it
    stabilization_window_sec: float = 2.0   # no decision this soon after a resize
    warmup_task_count: int = 10             # no decision before this many tasks


@dataclass
class ControllerState:
    """What the controller has done so far."""
    current_threads: int
    last_scale_time: float = field(default_factory=time.time)
    scale_up_count: int = 0
    scale_down_count: int = 0
    decision_history: List[Dict[str, Any]] = field(default_factory=list)

    def record_decision(self, timestamp: float, threads_before: int, threads_after: int,
                        blocking_ratio: float, cpu_percent: float, throughput: float,
                        decision: str, **extra: Any) -> None:
        entry = {"timestamp": timestamp, "threads_before": threads_before,
                 "threads_after": threads_after, "blocking_ratio": blocking_ratio,
                 "cpu_percent": cpu_percent, "throughput": throughput, "decision": decision}
        entry.update(extra)
        self.decision_history.append(entry)
        if len(self.decision_history) > HISTORY_MAX:
            del self.decision_history[:len(self.decision_history) - HISTORY_MAX]


def decide(config, beta, cpu_percent, current, min_workers, max_workers):
    """The seed's rule, as a pure function: (decision, threads after).
    Blocking work (beta above the high threshold) gets more threads while
    the CPU has room; computing work (beta below the low threshold: the
    GIL Safety Veto) or a saturated CPU gets fewer."""
    if beta > config.beta_high_threshold:
        if cpu_percent < config.cpu_upper_threshold:
            after = min(current + config.scale_up_step, max_workers)
            if after > current:
                return SCALE_UP, after
        return HOLD, current
    if beta < config.beta_low_threshold or cpu_percent > config.cpu_upper_threshold:
        after = max(current - config.scale_down_step, min_workers)
        if after < current:
            return SCALE_DOWN, after
    return HOLD, current


class _SystemCPU:
    """Machine-wide CPU use in percent since the previous call (0.0 on the
    first), as psutil.cpu_percent(interval=None) reports it; from
    /proc/stat when psutil is absent, 50.0 when neither can say."""

    def __init__(self):
        self._last = None
        self._lock = threading.Lock()
        self._psutil = None         # not looked for yet: importing it costs ~30 ms

    def _find_psutil(self):
        if self._psutil is None:
            try:
                import psutil
            except ImportError:     # optional
                psutil = False
            self._psutil = psutil
        return self._psutil

    @staticmethod
    def _read():
        with open("/proc/stat") as f:
            fields = [int(x) for x in f.readline().split()[1:]]
        idle = fields[3] + (fields[4] if len(fields) > 4 else 0)   # idle + iowait
        # guest time is already counted in user time
        total = sum(fields[:8])
        return total - idle, total

    def percent(self):
        psutil = self._find_psutil()
        if psutil:
            return float(psutil.cpu_percent(interval=None))
        try:
            busy, total = self._read()
        except (OSError, ValueError, IndexError):
            return 50.0
        with self._lock:
            last, self._last = self._last, (busy, total)
        if last is None or total <= last[1]:
            return 0.0
        return 100.0 * max(0, busy - last[0]) / (total - last[1])


_cpu = _SystemCPU()
_warned_blind = False
_live_pools = weakref.WeakSet()


def _at_exit():
    for pool in list(_live_pools):
        pool.shutdown(wait=True)


# Like concurrent.futures.thread: stop the workers before the interpreter
# joins its non-daemon threads (threading._register_atexit exists since 3.9).
if hasattr(threading, "_register_atexit"):
    threading._register_atexit(_at_exit)
    _DAEMON = False
else:                                                   # pragma: no cover
    import atexit
    atexit.register(_at_exit)
    _DAEMON = True


class _Work:
    __slots__ = ("future", "fn", "args", "kwargs", "task_id")

    def __init__(self, future, fn, args, kwargs, task_id):
        self.future, self.fn, self.args, self.kwargs, self.task_id = future, fn, args, kwargs, task_id


_WAKE = object()        # a worker that takes it re-checks whether it is surplus, or stops


class _MeasuredPool(concurrent.futures.Executor):
    """Worker threads that measure every task; the pool's size (target) can
    change while it runs, and surplus workers exit between tasks."""

    _pool_ids = itertools.count()

    def __init__(self, threads):
        self._target = threads
        self._live = 0
        # Each queued item is claimed by one idle worker or counted in the
        # backlog that the next workers to look will take: so a submit knows
        # whether it needs a new thread.
        self._idle = 0
        self._backlog = 0
        self._queue = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads = set()
        self._shutdown = False
        self._names = itertools.count()
        self._prefix = f"{type(self).__name__}-{next(self._pool_ids)}"
        self._metrics_collector = MetricsCollector()
        self._task_ids = itertools.count(1)
        self._experiment_log = []
        self._experiment_log_lock = threading.Lock()
        self.gil_aware = _threadtimes.available()
        _live_pools.add(self)

    # ---- the queue and the workers ----
    def _post(self, item):
        """Queue an item (lock held)."""
        if self._idle > 0:
            self._idle -= 1
        else:
            self._backlog += 1
        self._queue.put(item)

    def _start_worker(self):
        """One more worker, for one backlog item (lock held); False if no
        thread can be started (the interpreter is finishing)."""
        t = threading.Thread(target=self._worker, name=f"{self._prefix}_{next(self._names)}",
                             daemon=_DAEMON, args=(True,))
        try:
            t.start()
        except RuntimeError:
            return False
        self._live += 1
        self._threads.add(t)
        return True

    def _grow(self):
        """Start workers for queued work up to the target (lock held)."""
        while self._backlog > 0 and self._live < self._target and not self._shutdown:
            if not self._start_worker():
                break
            self._backlog -= 1      # the new worker's first item

    def _worker(self, claimed):
        """claimed: started for a backlog item, which it takes first."""
        me = threading.current_thread()
        while True:
            if not claimed:
                with self._lock:
                    if self._live > self._target and not self._shutdown:
                        self._live -= 1             # surplus: retire between tasks
                        self._threads.discard(me)
                        return
                    if self._backlog > 0:
                        self._backlog -= 1
                    else:
                        self._idle += 1
            claimed = False
            item = self._queue.get()
            if item is _WAKE:
                if self._shutdown:
                    with self._lock:
                        self._live -= 1
                        self._threads.discard(me)
                    return
                continue
            self._run(item)
            del item

    def _run(self, work):
        if not work.future.set_running_or_notify_cancel():
            return
        gil0 = _threadtimes.read() if self.gil_aware else None
        wall0 = time.time()
        cpu0 = time.thread_time()
        error = None
        try:
            result = work.fn(*work.args, **work.kwargs)
        except BaseException as exc:
            error = exc
        cpu1 = time.thread_time()
        wall1 = time.time()
        gil1 = _threadtimes.read() if gil0 is not None else None
        self._record(work.task_id, wall1 - wall0, cpu1 - cpu0, wall1, gil0, gil1, error)
        if error is None:
            work.future.set_result(result)
        else:
            work.future.set_exception(error)
            error = None            # no cycle through the traceback

    def _record(self, task_id, wall, cpu, end, gil0, gil1, error):
        held = wait = None
        if gil0 is not None and gil1 is not None:
            span, held, wait, idle, parked, outside = (b - a for a, b in zip(gil0, gil1))
            # Active time: the task's time less its waits for the GIL, at
            # betapool's gate and on Python locks and queues; the ratio is the
            # share of it spent outside the GIL (I/O, sleep, native code).
            active = span - wait - parked - idle
            beta = (active - held) / active if active > 0 else 0.0
        else:
            beta = 1.0 - cpu / wall if wall > 0 else 0.0
        m = TaskMetrics(task_id=task_id, wall_time=wall, cpu_time=cpu, blocking_ratio=beta,
                        timestamp=end, success=error is None,
                        error_message=None if error is None else str(error),
                        gil_held_time=held, gil_wait_time=wait)
        self._metrics_collector.record(m)
        self._after_task(m)

    def _after_task(self, m):
        pass

    def _log_point(self, point):
        with self._experiment_log_lock:
            self._experiment_log.append(point)
            if len(self._experiment_log) > HISTORY_MAX:
                del self._experiment_log[:len(self._experiment_log) - HISTORY_MAX]

    # ---- the interface ----
    def submit(self, fn: Callable, /, *args: Any, **kwargs: Any) -> concurrent.futures.Future:
        """Run fn(*args, **kwargs) on a worker; a Future for its result."""
        with self._lock:
            if self._shutdown:
                raise RuntimeError("cannot schedule new futures after shutdown")
            future = concurrent.futures.Future()
            self._post(_Work(future, fn, args, kwargs, f"task-{next(self._task_ids):08d}"))
            self._grow()
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No new tasks; the queued ones still run (unless cancel_futures),
        then the workers exit. wait: return only after they have."""
        with self._lock:
            if cancel_futures:
                while True:
                    try:
                        item = self._queue.get_nowait()
                    except queue.Empty:
                        break
                    if isinstance(item, _Work):
                        item.future.cancel()
            if not self._shutdown:
                self._shutdown = True
                for _ in range(self._live):
                    self._post(_WAKE)
            threads = list(self._threads)
        self._stop_monitor(wait)
        if wait:
            for t in threads:
                if t is not threading.current_thread():
                    t.join()

    def _stop_monitor(self, wait):
        pass

    def get_experiment_log(self) -> List[Dict[str, Any]]:
        with self._experiment_log_lock:
            return list(self._experiment_log)

    def _live_threads(self):
        with self._lock:
            return self._live

    def _common_metrics(self):
        agg = self._metrics_collector.get_aggregated_metrics()
        return agg, {
            "live_threads": self._live_threads(),
            "gil_aware": self.gil_aware,
            "avg_cpu_blocking_ratio": self._metrics_collector.get_recent_cpu_blocking_ratio(),
        }


class AdaptiveThreadPoolExecutor(_MeasuredPool):
    """A thread pool sized by its tasks' blocking ratio: it starts with
    min_workers threads and, every monitor interval, adds scale_up_step
    while tasks block (beta > beta_high_threshold and the CPU has room) or
    removes scale_down_step while they compute (beta < beta_low_threshold:
    the GIL Safety Veto) or the CPU is saturated; never outside
    [min_workers, max_workers]. See the module for what differs from the
    seed."""

    def __init__(self, min_workers: int = 4, max_workers: int = 64,
                 config: Optional[ControllerConfig] = None, enable_logging: bool = False):
        if min_workers < 1:
            raise ValueError("min_workers must be at least 1")
        if max_workers < min_workers:
            raise ValueError("max_workers must be at least min_workers")
        self.min_workers = min_workers
        self.max_workers = max_workers
        self.config = config or ControllerConfig()
        self._enable_logging = enable_logging
        super().__init__(min_workers)
        self._controller_state = ControllerState(current_threads=min_workers)
        self._controller_lock = threading.Lock()
        self._stop_event = threading.Event()
        if enable_logging and not self.gil_aware:
            _warn_blind()
        self._monitor_thread = threading.Thread(target=self._monitor_loop, daemon=True,
                                                name="BetaPool-Monitor")
        self._monitor_thread.start()

    def _monitor_loop(self):
        while not self._stop_event.wait(self.config.monitor_interval_sec):
            try:
                self._make_scaling_decision()
            except Exception:           # the pool runs on without its controller's turn
                logger.exception("betapool: the controller's turn failed")

    def _make_scaling_decision(self):
        now = time.time()
        state = self._controller_state
        if now - state.last_scale_time < self.config.stabilization_window_sec:
            return
        collector = self._metrics_collector
        if collector.total_tasks < self.config.warmup_task_count:
            return
        beta = collector.get_recent_blocking_ratio()
        cpu_beta = collector.get_recent_cpu_blocking_ratio()
        cpu_percent = _cpu.percent()
        throughput = collector.get_throughput()
        with self._controller_lock:
            before = state.current_threads
            decision, after = decide(self.config, beta, cpu_percent, before,
                                     self.min_workers, self.max_workers)
            if after != before:
                self._resize(after)
                state.current_threads = after
                state.last_scale_time = now
                if decision == SCALE_UP:
                    state.scale_up_count += 1
                else:
                    state.scale_down_count += 1
            state.record_decision(now, before, after, beta, cpu_percent, throughput, decision,
                                  cpu_blocking_ratio=cpu_beta, gil_aware=self.gil_aware)
        lat = collector.get_latency_percentiles()
        self._log_point({"timestamp": now, "active_threads": after, "blocking_ratio": beta,
                         "cpu_percent": cpu_percent, "throughput": throughput,
                         "p50_latency": lat["p50"], "p99_latency": lat["p99"]})
        if self._enable_logging:
            logger.debug("betapool controller: threads=%d beta=%.3f (1-cpu/wall %.3f) cpu=%.1f%% "
                         "throughput=%.1f decision=%s", after, beta, cpu_beta, cpu_percent,
                         throughput, decision)

    def _resize(self, threads):
        """The one place the pool's size changes: more threads start for
        queued work; surplus ones are woken to retire (busy ones retire when
        their task ends)."""
        with self._lock:
            if self._shutdown:
                return
            self._target = threads
            self._grow()
            for _ in range(max(0, self._live - threads)):
                if self._idle == 0:
                    break
                self._post(_WAKE)

    def _stop_monitor(self, wait):
        self._stop_event.set()
        if wait and self._monitor_thread is not threading.current_thread():
            self._monitor_thread.join(timeout=2.0)

    def get_current_thread_count(self) -> int:
        """The pool's size as the controller set it."""
        with self._controller_lock:
            return self._controller_state.current_threads

    def get_metrics(self) -> Dict[str, Any]:
        """The seed's keys (current_threads, min_workers, max_workers,
        total_tasks, avg_blocking_ratio, throughput, p50_latency,
        p99_latency, scale_up_count, scale_down_count), then betapool's:
        live_threads (worker threads alive now), gil_aware (the ratio sees
        the GIL), avg_cpu_blocking_ratio (the seed's 1 - cpu/wall over the
        same tasks)."""
        agg, ours = self._common_metrics()
        out = {
            "current_threads": self.get_current_thread_count(),
            "min_workers": self.min_workers,
            "max_workers": self.max_workers,
            "total_tasks": self._metrics_collector.total_tasks,
            "avg_blocking_ratio": agg.avg_blocking_ratio,
            "throughput": agg.throughput,
            "p50_latency": agg.p50_latency,
            "p99_latency": agg.p99_latency,
            "scale_up_count": self._controller_state.scale_up_count,
            "scale_down_count": self._controller_state.scale_down_count,
        }
        out.update(ours)
        return out

    def get_decision_history(self) -> List[Dict[str, Any]]:
        """Every decision the controller made (the last 10,000): timestamp,
        threads_before, threads_after, blocking_ratio, cpu_percent,
        throughput, decision (scaleUp, scaleDown, hold), and betapool's
        cpu_blocking_ratio and gil_aware."""
        with self._controller_lock:
            return list(self._controller_state.decision_history)


class StaticThreadPoolExecutor(_MeasuredPool):
    """A fixed pool of `workers` threads, measured like the adaptive one:
    the baseline to compare it with. Its experiment log has one point per
    task."""

    def __init__(self, workers: int = 4):
        self.workers = workers
        super().__init__(workers)
        self._start_time = time.time()

    def _after_task(self, m):
        self._log_point({"timestamp": m.timestamp, "active_threads": self.workers,
                         "blocking_ratio": m.blocking_ratio, "cpu_percent": _cpu.percent(),
                         "throughput": self._metrics_collector.get_throughput(),
                         "p50_latency": 0.0, "p99_latency": 0.0})

    def get_current_thread_count(self) -> int:
        return self.workers

    def get_metrics(self) -> Dict[str, Any]:
        """The seed's keys (current_threads, total_tasks, avg_blocking_ratio,
        throughput, p50_latency, p99_latency), then betapool's as for the
        adaptive pool."""
        agg, ours = self._common_metrics()
        out = {
            "current_threads": self.workers,
            "total_tasks": self._metrics_collector.total_tasks,
            "avg_blocking_ratio": agg.avg_blocking_ratio,
            "throughput": agg.throughput,
            "p50_latency": agg.p50_latency,
            "p99_latency": agg.p99_latency,
        }
        out.update(ours)
        return out


def _warn_blind():
    global _warned_blind
    if _warned_blind:
        return
    _warned_blind = True
    logger.warning(
        "betapool: libbetapool.so is not preloaded here (or has not found the GIL), so the "
        "blocking ratio is the seed's 1 - cpu/wall, which counts waiting for the GIL as "
        "blocking; run the program under `betapool run` for a ratio that sees the GIL")
