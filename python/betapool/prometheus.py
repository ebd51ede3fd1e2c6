"""betapool's figures for a program that already serves Prometheus metrics
with prometheus_client (Debian's python3-prometheus-client, or pip's
prometheus-client): the same metrics as BETAPOOL_METRICS_DIR's file, for
this process, read through betapool.metrics().

    from betapool.prometheus import BetapoolCollector
    BetapoolCollector()             # registers itself in prometheus_client.REGISTRY

Like prometheus_client's ProcessCollector and GCCollector, it registers
itself in the registry it is given (REGISTRY by default; None: nowhere).
In a process that does not run under betapool it collects nothing.

Only this module needs prometheus_client: `import betapool` does not.
"""
import os
import sys

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import REGISTRY

try:                                    # prometheus_client >= 0.14
    from prometheus_client.registry import Collector as _Base
except ImportError:                     # older: collectors are plain objects
    _Base = object

import betapool

__all__ = ["BetapoolCollector", "program_name"]

_LABELS = ["pid", "program"]


def program_name(argv=None):
    """The `program` label: the script's base name, the module run with -m,
    or the interpreter's name for -c, - and the interactive prompt (the
    rule of the shim's own file, shim/metrics_file.c, applied to the
    interpreter's original command line)."""
    if argv is None:
        argv = list(getattr(sys, "orig_argv", None) or [sys.executable] + sys.argv)
    if not argv:
        return ""
    name = os.path.basename(argv[0])
    if not name.startswith("python"):
        return name
    i = 1
    while i < len(argv):
        a = argv[i]
        if not a.startswith("-") or a == "-":
            return name if a == "-" else os.path.basename(a)
        if a.startswith("--"):
            if a == "--check-hash-based-pycs":
                i += 1
            i += 1
            continue
        cluster = a[1:]
        for j, c in enumerate(cluster):
            if c == "m":
                mod = cluster[j + 1:] or (argv[i + 1] if i + 1 < len(argv) else "")
                return mod or name
            if c == "c":
                return name
            if c in "WX":
                if j + 1 == len(cluster):
                    i += 1
                break
        i += 1
    return name


class BetapoolCollector(_Base):
    """betapool_gil_wait_seconds_total, betapool_gil_held_seconds_total,
    betapool_threads, betapool_parks_total, betapool_forced_switches_total,
    betapool_pinned and betapool_last_update_timestamp_seconds, labelled
    with this process's pid and program name."""

    def __init__(self, registry=REGISTRY):
        self._program = program_name()
        if registry is not None:
            registry.register(self)

    def _families(self):
        return (
            CounterMetricFamily("betapool_gil_wait_seconds",
                                "Time the process's Python threads spent waiting for the GIL.",
                                labels=_LABELS),
            CounterMetricFamily("betapool_gil_held_seconds",
                                "Time the process's Python threads spent holding the GIL.",
                                labels=_LABELS),
            GaugeMetricFamily("betapool_threads", "Python threads alive at the last sample.",
                              labels=_LABELS),
            CounterMetricFamily("betapool_parks",
                                "Times a computing worker thread was parked at betapool's gate.",
                                labels=_LABELS),
            CounterMetricFamily("betapool_forced_switches",
                                "Times a thread holding the GIL was asked to let go after a "
                                "waiter's full switch interval.", labels=_LABELS),
            GaugeMetricFamily("betapool_pinned",
                              "1 while betapool keeps the Python threads on one CPU, else 0.",
                              labels=_LABELS),
            GaugeMetricFamily("betapool_last_update_timestamp_seconds",
                              "Unix time of betapool's last sample of this process.",
                              labels=_LABELS),
        )

    def describe(self):
        """The names, without reading anything (for the registry's checks)."""
        return list(self._families())

    def collect(self):
        m = betapool.metrics()
        if m is None or "gil_wait_ns" not in m:
            return []                   # not under betapool, or a library too old
        families = self._families()
        labels = [str(os.getpid()), self._program]
        values = (m["gil_wait_ns"] / 1e9, m["gil_held_ns"] / 1e9, m["python_threads"], m["parks"],
                  m["forced_switches"], 0 if m["pinned_cpu"] is None else 1,
                  m["sampled_unix_ns"] / 1e9)
        for family, value in zip(families, values):
            family.add_metric(labels, value)
        return list(families)
