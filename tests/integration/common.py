"""Shared helpers for the integration tests: where the library is, which
Pythons this machine has, and running a program under the shim."""
import atexit
import glob
import json
import os
import shutil
import subprocess
import tempfile
import unittest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.environ.get("BETAPOOL_BUILD_DIR", os.path.join(ROOT, "build"))
LIB = os.path.join(BUILD, "shim", "libbetapool.so")
# Preloaded after LIB, e.g. the ASan runtime for a sanitized build (scripts/test).
PRELOAD_AFTER = os.environ.get("BETAPOOL_TEST_PRELOAD_AFTER", "").split()
WORKLOADS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "workloads")
# Debian unstable's 3.14 and 3.15 in private roots, made by scripts/lib/pythons.py
# (scripts/test runs it before the integration tests).
PRIVATE_PYTHONS = os.environ.get("BETAPOOL_PYTHONS_DIR", os.path.join(ROOT, "build", "pythons"))
PRIVATE_VERSIONS = ("3.14", "3.15")


def pyenv_root():
    root = os.environ.get("PYENV_ROOT")
    if root:
        return root
    exe = shutil.which("pyenv")
    if exe:
        try:
            return subprocess.run([exe, "root"], capture_output=True, text=True,
                                  timeout=10).stdout.strip() or None
        except (OSError, subprocess.SubprocessError):
            pass
    home = os.path.expanduser("~/.pyenv")
    return home if os.path.isdir(home) else None


def private_python(minor):
    """(path, None) of build/pythons' Debian python<minor>, or (None, why)."""
    root = os.path.join(PRIVATE_PYTHONS, minor)
    py = os.path.join(root, "usr", "bin", "python" + minor)
    if os.path.isfile(os.path.join(root, ".complete")) and os.access(py, os.X_OK):
        return py, None
    try:
        with open(os.path.join(PRIVATE_PYTHONS, minor + ".skip")) as f:
            return None, f.read().strip()
    except OSError:
        return None, "not fetched: run scripts/lib/pythons.py (scripts/test does)"


def pythons():
    """[(label, path or None)] for Debian's python3.11, pyenv 3.10-3.13 and
    Debian unstable's 3.14 and 3.15 (build/pythons). A None path means
    absent: the test skips visibly with the label (absent_reason())."""
    out = [("debian-3.11", "/usr/bin/python3.11" if os.access("/usr/bin/python3.11", os.X_OK) else None)]
    root = pyenv_root()
    for minor in ("3.10", "3.11", "3.12", "3.13"):
        found = None
        if root:
            cands = sorted(glob.glob(os.path.join(root, "versions", minor + ".*", "bin", "python" + minor)))
            cands = [c for c in cands if "t" not in os.path.basename(os.path.dirname(os.path.dirname(c))).split(".")[-1]]
            if cands:
                found = cands[-1]
        out.append(("pyenv-" + minor, found))
    for minor in PRIVATE_VERSIONS:
        out.append(("debian-" + minor, private_python(minor)[0]))
    chosen = selected()
    if chosen is not None:
        out = [(label, path if label in chosen else None) for label, path in out]
    return out


def selected():
    """The labels BETAPOOL_TEST_PYTHONS names (comma-separated), or None: all."""
    value = os.environ.get("BETAPOOL_TEST_PYTHONS", "").strip()
    return {x.strip() for x in value.split(",") if x.strip()} if value else None


def absent_reason(label):
    """Why the Python labelled label is absent, for a skip message."""
    chosen = selected()
    if chosen is not None and label not in chosen:
        return f"{label} is not in BETAPOOL_TEST_PYTHONS={os.environ['BETAPOOL_TEST_PYTHONS']}"
    if label.startswith("debian-") and label[len("debian-"):] in PRIVATE_VERSIONS:
        return f"{label} is absent: {private_python(label[len('debian-'):])[1]}"
    return f"{label} is not installed on this machine"


# Variables every shim run of a test module gets unless it sets its own
# (test_robust runs everything in mode auto with every option of it on).
DEFAULT_ENV = {}


# The CPU registry of this test run (docs/affinity.md): the tests' processes
# share CPUs with each other, not with whatever else runs under betapool on
# the machine (another run of the suite, say), which would make a pin
# depend on it. A test may give its processes one of their own.
_registry = []


def test_registry():
    if not _registry:
        d = tempfile.mkdtemp(prefix="betapool-registry-")
        atexit.register(shutil.rmtree, d, True)
        _registry.append(os.path.join(d, "cpus"))
    return _registry[0]


def shim_env(extra=None, preload=True):
    env = {k: v for k, v in os.environ.items() if not k.startswith("BETAPOOL_")}
    env.pop("LD_PRELOAD", None)
    if preload:
        env["LD_PRELOAD"] = " ".join([LIB] + PRELOAD_AFTER)
        env["BETAPOOL_REGISTRY"] = test_registry()
        env.update(DEFAULT_ENV)
    if extra:
        env.update({k: str(v) for k, v in extra.items()})
    return env


def run(argv, extra_env=None, preload=True, timeout=120, **kw):
    return subprocess.run(argv, env=shim_env(extra_env, preload), capture_output=True,
                          text=True, timeout=timeout, **kw)


def read_log(path):
    with open(path) as f:
        return [json.loads(line) for line in f if line.strip()]


def run_logged(python, script_args, extra_env=None, timeout=120):
    """Run python with the shim and a log; return (completed, records)."""
    return run_logged_env(python, script_args, shim_env(extra_env), timeout)


def run_logged_env(python, script_args, env, timeout=120):
    """Like run_logged, with the whole environment given (BETAPOOL_LOG is
    added)."""
    d = tempfile.mkdtemp(prefix="betapool-test-")
    log = os.path.join(d, "run.jsonl")
    env = dict(env, BETAPOOL_LOG=log)
    cp = subprocess.run([python] + list(script_args), env=env, capture_output=True,
                        text=True, timeout=timeout)
    recs = read_log(log) if os.path.exists(log) else []
    shutil.rmtree(d, ignore_errors=True)
    return cp, recs


class ShimTestCase(unittest.TestCase):
    """Skips (visibly) when the library has not been built."""

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(LIB):
            raise unittest.SkipTest(f"{LIB} not built")

    def each_python(self):
        """Yield (label, path) for every Python present; absent ones are
        reported as skipped subtests."""
        for label, path in pythons():
            if path is None:
                with self.subTest(python=label):
                    self.skipTest(absent_reason(label))
                continue
            yield label, path
