"""The GIL priority under the default mode, on every Python of
common.pythons(): a main thread doing socket round trips next to CPU-bound
threads gets the GIL within the bound instead of a switch interval per call,
the log says which waits were shortened, and the CPU threads are never
starved (each loops at least once a second); with BETAPOOL_PRIORITY=off no
wait is shortened. The directed hand-off: the exit record counts the
hand-overs by class, the main thread's round trips make it interactive,
a waiter was taken past a higher class only after being held back
(BETAPOOL_HANDOFF auto and directed; with ask and off nobody is held
back).

Workload: workloads/priority_client.py (its echo server runs without the
shim). Speed is the benchmarks' job (scripts/bench matrix); this checks the
mechanism, with margins no noise reaches: stock CPython makes a few dozen
round trips a second here, betapool thousands."""
import json
import os
import sys

from test_auto import AutoCase, brief, of, wl

CPU_THREADS, SECONDS = 4, 2.0


class TestPriority(AutoCase):

    def test_socket_client_next_to_cpu_threads(self):
        args = [wl("priority_client.py"), str(CPU_THREADS), str(SECONDS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                stock, _ = self.bare(py, args)
                cp, out, recs, took = self.logged(label, py, args)
                why = f"{brief(recs)}\nstock {json.dumps(stock)}\nshim {json.dumps(out)}"
                ex = recs[-1]
                self.assertGreater(ex["favoured"], 0, f"{label}: no wait was shortened. {why}")
                samples = [r for r in of(recs, "sample") if r.get("favoured")]
                self.assertTrue(samples, f"{label}: no sample names a favoured thread. {why}")
                self.assertIn(out["pid"], {r["tid"] for r in samples},
                              f"{label}: the main thread (tid = pid) was never favoured. {why}")
                self.assertEqual(sum(r.get("favoured", 0) for r in of(recs, "process")), ex["favoured"],
                                 f"{label}: process records' favoured do not add up to the exit's. {why}")
                # Thousands against dozens: a factor of 5 is far inside both.
                self.assertGreater(out["rt_per_s"], 5 * stock["rt_per_s"], f"{label}: round trips. {why}")
                # Never starved: every CPU thread looped, none paused a second.
                self.assertTrue(all(n > 0 for n in out["loops"]), f"{label}: a CPU thread never ran. {why}")
                self.assertLess(out["max_gap_s"], 1.0, f"{label}: a CPU thread waited {out['max_gap_s']:.2f} s "
                                f"between loops. {why}")
                print(f"\n  priority {label}: {out['rt_per_s']:.0f} round trips/s (p99 {out['p99_ms']:.2f} ms) "
                      f"against {stock['rt_per_s']:.0f} stock; CPU loops {sum(out['loops'])} against "
                      f"{sum(stock['loops'])}; longest CPU gap {out['max_gap_s'] * 1e3:.0f} ms; "
                      f"favoured waits {ex['favoured']}", file=sys.stderr, end="")

    def test_handoff_serves_by_class(self):
        args = [wl("priority_client.py"), str(CPU_THREADS), str(SECONDS)]
        for label, py in self.each_python():
            with self.subTest(python=label):
                for handoff in ("auto", "directed", "ask", "off"):
                    env = {"BETAPOOL_HANDOFF": handoff}
                    cp, out, recs, took = self.logged(label, py, args, env)
                    ex = recs[-1]
                    why = f"handoff {handoff}: {brief(recs)}\nexit {json.dumps(ex.get('handoff'))}"
                    self.assertEqual(recs[0]["options"]["handoff"], handoff, why)
                    h = ex.get("handoff")
                    self.assertIsInstance(h, dict, why)
                    served = h["served"]
                    self.assertEqual(set(served), {"computing", "interactive", "due"}, why)
                    # Premise: the gate shut (the hand-off acts only then),
                    # so waits were counted at all.
                    if not any(r.get("gate") == "shut" for r in of(recs, "decision")):
                        self.skipTest(f"{label}: the gate never shut here; nothing to hand off. {why}")
                    # The client blocks on its socket between short holds:
                    # interactive; the CPU threads wait behind each other.
                    self.assertGreater(served["interactive"], 0, why)
                    self.assertGreater(served["computing"] + served["due"], 0, why)
                    self.assertGreater(h["interactive_wait_p99_us"], 0, why)
                    self.assertGreaterEqual(h["interactive_wait_p99_us"], h["interactive_wait_p50_us"], why)
                    if handoff in ("auto", "directed"):
                        # Taken past a higher class only once held back its
                        # bound: every pass-over followed a hold-back.
                        self.assertLessEqual(h["passed_over"], h["held_back"], why)
                    else:
                        self.assertEqual(h["held_back"], 0, why)
                    self.assertTrue(all(n > 0 for n in out["loops"]), f"a CPU thread never ran. {why}")
                    print(f"\n  handoff {label} {handoff}: {out['rt_per_s']:.0f} round trips/s, served {served}, "
                          f"interactive p50/p99 {h['interactive_wait_p50_us']}/{h['interactive_wait_p99_us']} us, "
                          f"computing max {h['computing_wait_max_us']} us, held back {h['held_back']}, "
                          f"passed over {h['passed_over']}", file=sys.stderr, end="")

    def test_off_shortens_nothing(self):
        args = [wl("priority_client.py"), str(CPU_THREADS), "1.0"]
        label, py = next(self.each_python())
        cp, out, recs, took = self.logged(label, py, args, {"BETAPOOL_PRIORITY": "off"})
        self.assertEqual(recs[0]["options"]["priority"], "off")
        self.assertEqual(recs[-1]["favoured"], 0, brief(recs))
        self.assertEqual([r for r in of(recs, "sample") if r.get("favoured")], [])


if __name__ == "__main__":
    import unittest
    unittest.main()
