#!/usr/bin/env python3
"""Run the integration tests (standard-library unittest) and close with one
plain line, 'N passed, N failed, N skipped', that CI reads.

usage: run.py [-k PATTERN] [-v] [module ...]
"""
import argparse
import os
import signal
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))


class _Result(unittest.TextTestResult):
    """Counts units: a test method, or each subtest of one that has them."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.units_passed = 0
        self._with_subtests = set()

    def addSubTest(self, test, subtest, err):
        super().addSubTest(test, subtest, err)
        self._with_subtests.add(test.id())
        if err is None:
            self.units_passed += 1

    def addSuccess(self, test):
        super().addSuccess(test)
        if test.id() not in self._with_subtests:
            self.units_passed += 1

    def addSkip(self, test, reason):
        super().addSkip(test, reason)
        # Skips must be visible, never silent.
        self.stream.write(f"SKIP {test.id()}: {reason}\n")
        self.stream.flush()


def main():
    # A runner started in the background by a non-interactive shell (`cmd &`
    # in a script, a CI harness) inherits SIGINT ignored, and CPython keeps
    # an ignored SIGINT ignored: then _thread.interrupt_main() does nothing
    # and a real SIGINT kills nothing. Tests that need it fail or hang
    # (measured: CPython 3.12's test_print_exception_gh_102056 recursed for
    # the whole 600 s regrtest timeout, with and without betapool; 3.10's and
    # 3.11's test_interrupt_main_* failed). A handled signal is back to its
    # default in every child this runner starts.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    ap = argparse.ArgumentParser()
    ap.add_argument("-k", dest="pattern", action="append", default=[])
    ap.add_argument("-v", dest="verbose", action="store_true")
    ap.add_argument("modules", nargs="*")
    args = ap.parse_args()
    sys.path.insert(0, HERE)
    loader = unittest.TestLoader()
    if args.pattern:
        loader.testNamePatterns = [f"*{p}*" for p in args.pattern]
    if args.modules:
        suite = unittest.TestSuite(
            loader.loadTestsFromName(os.path.splitext(os.path.basename(m))[0])
            for m in args.modules)
    else:
        suite = loader.discover(HERE, pattern="test_*.py", top_level_dir=HERE)
    runner = unittest.TextTestRunner(verbosity=2 if args.verbose else 1,
                                     resultclass=_Result, stream=sys.stdout)
    res = runner.run(suite)
    failed = len(res.failures) + len(res.errors) + len(res.unexpectedSuccesses)
    skipped = len(res.skipped)
    passed = res.units_passed
    print(f"{passed} passed, {failed} failed, {skipped} skipped")
    return 1 if failed or passed + skipped == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
