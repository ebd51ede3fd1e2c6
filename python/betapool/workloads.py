"""Synthetic tasks and arrival patterns for trying a pool out: the BetaPool
seed's `WorkloadGenerator`, `PoissonArrivalGenerator` and
`BurstArrivalGenerator`, with the same names, defaults and results.

Each WorkloadGenerator method returns a task: a function of no arguments."""
import math
import random
import time
from typing import Any, Callable, Dict

__all__ = ["WorkloadGenerator", "PoissonArrivalGenerator", "BurstArrivalGenerator"]


def _sin_cos_sum(iterations):
    """Pure-Python arithmetic that holds the GIL: sum of sin(i)*cos(i)."""
    return sum((math.sin(i) * math.cos(i) for i in range(iterations)), 0.0)


class WorkloadGenerator:
    """Factories of tasks that block (sleep: the GIL is released), compute in
    Python (the GIL is held), or both."""

    @staticmethod
    def io_task(duration_ms: float = 50.0) -> Callable[[], bool]:
        """Sleeps duration_ms, returns True."""
        def task():
            time.sleep(duration_ms / 1000.0)
            return True
        return task

    @staticmethod
    def cpu_task_python(iterations: int = 100000) -> Callable[[], float]:
        """Sums sin(i)*cos(i) for i < iterations, in Python."""
        def task():
            return _sin_cos_sum(iterations)
        return task

    @staticmethod
    def cpu_task_numpy(matrix_size: int = 100) -> Callable[[], Any]:
        """Multiplies two random matrix_size² matrices with NumPy (which
        releases the GIL); ImportError here when NumPy is missing."""
        try:
            import numpy
        except ImportError:
            raise ImportError("NumPy is required for cpu_task_numpy") from None

        def task():
            a = numpy.random.rand(matrix_size, matrix_size)
            b = numpy.random.rand(matrix_size, matrix_size)
            return numpy.dot(a, b)
        return task

    @staticmethod
    def mixed_task(io_duration_ms: float = 50.0, cpu_iterations: int = 10000) -> Callable[[], float]:
        """Sleeps io_duration_ms, then computes as cpu_task_python(cpu_iterations)."""
        def task():
            time.sleep(io_duration_ms / 1000.0)
            return _sin_cos_sum(cpu_iterations)
        return task

    @staticmethod
    def rag_pipeline_task(network_latency_ms: float = 10.0, vector_db_latency_ms: float = 200.0,
                          llm_latency_ms: float = 500.0, tokenization_iterations: int = 10000,
                          reranking_iterations: int = 20000) -> Callable[[], Dict[str, Any]]:
        """A retrieval-augmented request: receive (sleep), tokenize
        (compute), query a vector store (sleep), re-rank (compute), wait for
        a model (sleep). Returns {"result": float, "stages": {stage: seconds}}
        with stages network_receive, tokenization, vector_db, reranking,
        llm_generation."""
        def task():
            stages = {}
            total = 0.0
            steps = (("network_receive", network_latency_ms, 0),
                     ("tokenization", 0, tokenization_iterations),
                     ("vector_db", vector_db_latency_ms, 0),
                     ("reranking", 0, reranking_iterations),
                     ("llm_generation", llm_latency_ms, 0))
            for name, sleep_ms, iterations in steps:
                began = time.time()
                if sleep_ms:
                    time.sleep(sleep_ms / 1000.0)
                if iterations:
                    # one running sum across both compute stages
                    total = sum((math.sin(i) * math.cos(i) for i in range(iterations)), total)
                stages[name] = time.time() - began
            return {"result": total, "stages": stages}
        return task

    @staticmethod
    def fibonacci_task(n: int = 30) -> Callable[[], int]:
        """Computes fib(n) by naive recursion: all Python, all GIL."""
        def fib(k):
            return k if k < 2 else fib(k - 1) + fib(k - 2)

        def task():
            return fib(n)
        return task

    @staticmethod
    def variable_latency_task(min_ms: float = 10.0, max_ms: float = 100.0,
                              cpu_fraction: float = 0.2) -> Callable[[], float]:
        """Draws a duration uniformly in [min_ms, max_ms]; sleeps (1 -
        cpu_fraction) of it, then sums sin(i) for i < cpu share in ms × 1000."""
        def task():
            total_ms = random.uniform(min_ms, max_ms)
            cpu_ms = total_ms * cpu_fraction
            time.sleep((total_ms - cpu_ms) / 1000.0)
            return sum((math.sin(i) for i in range(int(cpu_ms * 1000))), 0.0)
        return task


class PoissonArrivalGenerator:
    """Arrivals at rate_per_second on average, with exponential gaps."""

    def __init__(self, rate_per_second: float):
        self.rate_per_second = rate_per_second
        self.last_arrival_time = time.time()

    def get_next_interarrival_time(self) -> float:
        return random.expovariate(self.rate_per_second)

    def wait_for_next_arrival(self) -> None:
        time.sleep(self.get_next_interarrival_time())


class BurstArrivalGenerator:
    """Poisson arrivals whose rate alternates: burst_rate_per_second for
    burst_duration_sec, then quiet_rate_per_second for quiet_duration_sec,
    counted from when it was made."""

    def __init__(self, burst_rate_per_second: float = 100.0, quiet_rate_per_second: float = 10.0,
                 burst_duration_sec: float = 5.0, quiet_duration_sec: float = 10.0):
        self.burst_rate = burst_rate_per_second
        self.quiet_rate = quiet_rate_per_second
        self.burst_duration = burst_duration_sec
        self.quiet_duration = quiet_duration_sec
        self.cycle_start = time.time()
        self.in_burst = True

    def get_current_rate(self) -> float:
        into = (time.time() - self.cycle_start) % (self.burst_duration + self.quiet_duration)
        return self.burst_rate if into < self.burst_duration else self.quiet_rate

    def get_next_interarrival_time(self) -> float:
        """The gap to the next arrival at the current rate (1 s at rate 0)."""
        rate = self.get_current_rate()
        return random.expovariate(rate) if rate > 0 else 1.0
