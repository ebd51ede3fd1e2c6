"""The seed's workload (scripts/lib/workloads/seed.py): the stock sweep that
finds the best static pool, and the seed table (stock at the best static T,
stock and every shim side at each T, pinned and unpinned, interleaved), used
by `bench sweep`, `bench seed` and the seed case of `bench matrix`."""
import statistics
import sys

from . import runner

METRICS = [  # key, header, format
    ("tasks_per_s", "tasks/s", "{:.0f}"),
    ("in_p50_ms", "in p50 ms", "{:.3f}"),
    ("in_p99_ms", "in p99 ms", "{:.2f}"),
    ("e2e_p99_ms", "e2e p99 ms", "{:.1f}"),
    ("cpu_s", "CPU s", "{:.2f}"),
    ("ctx", "ctx switches", "{:.0f}"),
]
FUTEX_METRIC = ("futex", "futex calls", "{:.0f}")


class Seed:
    """Runs the seed workload: python, tasks, iters, sleep; pin_cpu for pinned runs."""

    def __init__(self, python, tasks, iters, sleep, pin_cpu, futex=False, timeout=600,
                 show=True):
        self.python, self.tasks, self.iters, self.sleep = python, tasks, iters, sleep
        self.pin_cpu, self.futex, self.timeout, self.show = pin_cpu, futex, timeout, show
        self.metrics = METRICS + ([FUTEX_METRIC] if futex else [])

    def run(self, threads, pinned, side):
        argv = [self.python, runner.workload("seed.py"), str(self.tasks), str(threads),
                str(self.iters), str(self.sleep)]
        r = runner.run(argv, side, pin_cpu=self.pin_cpu if pinned else None, futex=self.futex,
                       timeout=self.timeout)
        if self.show:
            runner.progress(f"  seed {'pinned' if pinned else 'unpinned'} {side.name} T={threads}: "
                            f"{r['tasks_per_s']:.0f} tasks/s, in-task p99 {r['in_p99_ms']:.1f} ms")
        return r

    def medians(self, runs):
        return {key: statistics.median(r[key] for r in runs) for key, _, _ in self.metrics}

    def cells(self, runs):
        m = self.medians(runs)
        return [fmt.format(m[key]) for key, _, fmt in self.metrics]


def rotated(items, k):
    k %= len(items)
    return items[k:] + items[:k]


def sweep(seed, stock, threads, pinned, rounds):
    """Interleaved stock sweep; returns {T: [runs]}."""
    runs = {t: [] for t in threads}
    for rnd in range(rounds):
        for t in rotated(threads, rnd):
            runs[t].append(seed.run(t, pinned, stock))
    return runs


def best_of(runs):
    return max(runs, key=lambda t: statistics.median(r["tasks_per_s"] for r in runs[t]))


def sweep_table(seed, runs, pinned, markdown):
    best = best_of(runs)
    head = ["T"] + [h for _, h, _ in seed.metrics] + ["tasks/s min-max"]
    rows = []
    for t, rs in runs.items():
        tps = [r["tasks_per_s"] for r in rs]
        rows.append([f"{t}{' *' if t == best else ''}"] + seed.cells(rs)
                    + [f"{min(tps):.0f}-{max(tps):.0f}"])
    runner.print_table(f"stock sweep, {'pinned' if pinned else 'unpinned'} "
                       f"(medians; * = best static T)", head, rows, markdown)
    return best


def seed_table(seed, sides, pinnings, shim_threads, best, sweep_threads, sweep_rounds,
               rounds, markdown, results):
    """The seed table. sides[0] is stock; pinnings a list of "pinned"/"unpinned";
    best {pinning: T or None} (None: sweep first). Fills results and returns
    the ratio records (one per pinning, shim side and T)."""
    stock = sides[0]
    shims = sides[1:]
    results.setdefault("sweeps", {})
    for name in pinnings:
        if best.get(name) is None:
            runner.progress(f"# finding the best static T, {name}: stock sweep of "
                            f"{','.join(map(str, sweep_threads))}, {sweep_rounds} round(s)")
            runs = sweep(seed, stock, sweep_threads, name == "pinned", sweep_rounds)
            best[name] = sweep_table(seed, runs, name == "pinned", markdown)
            results["sweeps"][name] = {str(t): rs for t, rs in runs.items()}
    results["best"] = dict(best)

    # configs: (pinning, side name, T), each run once per round. Unpinned shim
    # rows are compared with the same stock pool pinned by hand, so a pinned
    # stock row at each T is run even when only unpinned rows are asked for.
    configs = []
    for name in pinnings:
        configs.append((name, "stock", best[name]))
        for t in shim_threads:
            configs.append((name, "stock", t))
            for s in shims:
                configs.append((name, s.name, t))
    if shims and "unpinned" in pinnings:
        for t in shim_threads:
            configs.append(("pinned", "stock", t))
    configs = list(dict.fromkeys(configs))
    by_name = {s.name: s for s in sides}
    runs = {c: [] for c in configs}
    for rnd in range(rounds):
        runner.progress(f"# seed round {rnd + 1}/{rounds}")
        for c in rotated(configs, rnd):
            runs[c].append(seed.run(c[2], c[0] == "pinned", by_name[c[1]]))

    head = ["pinning", "pool"] + [h for _, h, _ in seed.metrics]
    rows = []
    for name, side, t in configs:
        label = f"{side} T={t}" + (" (best static)" if side == "stock" and t == best.get(name)
                                   else "")
        rows.append([name, label] + seed.cells(runs[(name, side, t)]))
    runner.print_table(f"seed workload, medians of {rounds} interleaved round(s)",
                       head, rows, markdown, left=2)

    ratio_rows = []
    records = []
    for name in pinnings:
        base = runs[(name, "stock", best[name])]
        for t in shim_threads:
            same = runs[(name, "stock", t)]
            by_hand = runs.get(("pinned", "stock", t)) if name == "unpinned" else None
            for s in shims:
                shim = runs[(name, s.name, t)]
                r = {"pinning": name, "side": s.name, "threads": t, "best_static": best[name],
                     "tasks_per_s_vs_best": runner.pair_ratios(base, shim, "tasks_per_s"),
                     "tasks_per_s_vs_same_t": runner.pair_ratios(same, shim, "tasks_per_s"),
                     "tasks_per_s_vs_pinned_by_hand":
                         runner.pair_ratios(by_hand, shim, "tasks_per_s") if by_hand else [],
                     "cpu_vs_same_t": runner.pair_ratios(same, shim, "cpu_s"),
                     "ctx_vs_same_t": runner.pair_ratios(same, shim, "ctx"),
                     "in_p99_vs_same_t": runner.pair_ratios(same, shim, "in_p99_ms"),
                     "in_p99_vs_best": runner.pair_ratios(base, shim, "in_p99_ms"),
                     "stock_runs": same, "shim_runs": shim, "best_runs": base,
                     "by_hand_runs": by_hand or []}
                ratio_rows.append([name, f"{s.name} T={t}", runner.ratio_cell(r["tasks_per_s_vs_best"]),
                                   runner.ratio_cell(r["tasks_per_s_vs_same_t"]),
                                   runner.ratio_cell(r["tasks_per_s_vs_pinned_by_hand"]),
                                   runner.ratio_cell(r["cpu_vs_same_t"]),
                                   runner.ratio_cell(r["in_p99_vs_same_t"]),
                                   runner.ratio_cell(r["in_p99_vs_best"])])
                records.append(r)
    if ratio_rows:
        runner.print_table("ratios (median of per-round ratios [min-max])",
                           ["pinning", "pool", "tasks/s vs best static", "tasks/s vs stock same T",
                       "tasks/s vs stock same T pinned by hand", "CPU vs stock same T",
                       "in p99 vs stock same T", "in p99 vs best static"],
                      ratio_rows, markdown, left=2)
    results["runs"] = [{"pinning": c[0], "side": c[1], "threads": c[2], "runs": rs}
                       for c, rs in runs.items()]
    results["ratios"] = [{k: v for k, v in r.items() if not k.endswith("_runs")}
                         for r in records]
    sys.stdout.flush()
    return records
