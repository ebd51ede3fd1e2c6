"""`pip install --no-build-isolation .` from a copy of the checkout into a
fresh venv builds the shim and installs the library, the `betapool` command
and the `betapool` package; with the copy deleted, `betapool run`,
`summary`, `trace`, `top`, `python -m betapool` and `import betapool` work
from the venv alone. One build (about 30 s here), shared by the tests.

OneWheelTest: scripts/wheel builds one wheel, tagged py3-none-PLATFORM, and
that same file installs with pip into a fresh venv of every Python present
(Debian's 3.11, pyenv's 3.10-3.13, Debian's 3.14 and 3.15 when fetched),
where `python -m betapool run` finds the GIL."""
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import common

SCRIPTS = os.path.join(common.ROOT, "scripts")

PROGRAM = """
import json, threading, time, betapool
def work():
    end = time.monotonic() + 0.4
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=work) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
print(json.dumps({"metrics": betapool.metrics(), "file": betapool.__file__}))
"""


def python_with_mesonpy():
    """A Python that can import mesonpy (Debian's python3-mesonpy is for
    /usr/bin/python3), installing the package when root and it is missing;
    (path, None) or (None, why not)."""
    candidates = [sys.executable, "/usr/bin/python3"]

    def has(py):
        return subprocess.run([py, "-c", "import mesonpy, pyproject_metadata"],
                              capture_output=True, timeout=60).returncode == 0
    for py in candidates:
        if os.access(py, os.X_OK) and has(py):
            return py, None
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        return None, "meson-python is not installed (Debian: apt-get install python3-mesonpy)"
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    cp = subprocess.run(["apt-get", "install", "-y", "-qq", "python3-mesonpy"], env=env,
                        capture_output=True, text=True, timeout=600)
    if cp.returncode != 0 or not has("/usr/bin/python3"):
        return None, "apt-get install python3-mesonpy failed: " + cp.stderr[-300:]
    return "/usr/bin/python3", None


class PipTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="betapool-pip-")
        py, why = python_with_mesonpy()
        if py is None:
            shutil.rmtree(cls.dir, ignore_errors=True)
            raise unittest.SkipTest(why)
        src = os.path.join(cls.dir, "src")
        shutil.copytree(common.ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
            ".git", "build", "build-*", ".mesonpy*", "__pycache__", "*.pyc"))
        cls.venv = os.path.join(cls.dir, "venv")
        env = cls.clean_env()
        subprocess.run([py, "-m", "venv", "--system-site-packages", cls.venv], check=True,
                       env=env, capture_output=True, timeout=300)
        cls.bin = os.path.join(cls.venv, "bin")
        cls.install = subprocess.run(
            [os.path.join(cls.bin, "pip"), "install", "--no-build-isolation", "--no-index",
             "--no-cache-dir", src], env=env, capture_output=True, text=True, timeout=900,
            cwd=cls.dir)
        # From here on the checkout copy is gone: the venv must stand alone.
        shutil.rmtree(src, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.dir, ignore_errors=True)

    @staticmethod
    def clean_env():
        return {k: v for k, v in os.environ.items()
                if k not in ("LD_PRELOAD", "PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")
                and not k.startswith("BETAPOOL_") and not k.startswith("PIP_")}

    def cmd(self, *argv, timeout=120):
        return subprocess.run(list(argv), env=self.clean_env(), capture_output=True, text=True,
                              timeout=timeout, cwd=self.dir)

    def ok(self, *argv):
        cp = self.cmd(*argv)
        self.assertEqual(cp.returncode, 0, cp.stdout[-2000:] + cp.stderr[-2000:])
        return cp

    def site(self):
        cp = self.ok(os.path.join(self.bin, "python"), "-c",
                     "import sysconfig; print(sysconfig.get_paths()['platlib'])")
        return cp.stdout.strip()

    def test_installed(self):
        self.assertEqual(self.install.returncode, 0,
                         self.install.stdout[-3000:] + self.install.stderr[-3000:])
        pkg = os.path.join(self.site(), "betapool")
        for name in ("__init__.py", "cli.py", "_where.py", "_schema.py", "libbetapool.so", "trace.py", "top.py"):
            self.assertTrue(os.path.isfile(os.path.join(pkg, name)), name)
        with open(os.path.join(pkg, "libbetapool.so"), "rb") as f:
            self.assertEqual(f.read(4), b"\x7fELF")
        self.assertTrue(os.access(os.path.join(self.bin, "betapool"), os.X_OK))

    def test_run_summary_trace_top(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr[-3000:])
        betapool = os.path.join(self.bin, "betapool")
        python = os.path.join(self.bin, "python")
        log = os.path.join(self.dir, "run.jsonl")
        cp = self.ok(betapool, "run", "--log", log, "--", python, "-c", PROGRAM)
        out = json.loads(cp.stdout)
        self.assertTrue(out["file"].startswith(self.site()), out["file"])
        m = out["metrics"]
        self.assertIsNotNone(m, "betapool.metrics() is None under `betapool run`")
        self.assertGreaterEqual(m["threads_started"], 4)
        cp = self.ok(betapool, "summary", log)
        self.assertIn("run 1 of 1", cp.stdout)
        self.assertIn("decisions", cp.stdout)
        trace = os.path.join(self.dir, "trace.json")
        self.ok(betapool, "trace", log, "-o", trace)
        with open(trace) as f:
            doc = json.load(f)
        phases = {e["ph"] for e in doc["traceEvents"]}
        self.assertTrue({"M", "X", "C"} <= phases, phases)
        cp = self.ok(betapool, "top", log)
        self.assertIn("[exited]", cp.stdout)
        # the short form and python -m betapool
        app = os.path.join(self.dir, "app.py")
        with open(app, "w") as f:
            f.write("import os, betapool\nprint(betapool.active(), os.environ['LD_PRELOAD'])\n")
        lib = os.path.join(self.site(), "betapool", "libbetapool.so")
        for argv in ([betapool, "run", app], [python, "-m", "betapool", app]):
            cp = self.ok(*argv)
            self.assertEqual(cp.stdout.split(), ["True", lib], argv)

    def test_import_without_the_shim(self):
        self.assertEqual(self.install.returncode, 0, self.install.stderr[-3000:])
        cp = self.ok(os.path.join(self.bin, "python"), "-c",
                     "import betapool; print(betapool.metrics(), betapool.active(), "
                     "betapool.library_path(), betapool.__version__)")
        none, active, lib, version = cp.stdout.split()
        self.assertEqual((none, active), ("None", "False"))
        self.assertEqual(lib, os.path.join(self.site(), "betapool", "libbetapool.so"))
        with open(os.path.join(common.ROOT, "python", "betapool", "__init__.py")) as f:
            self.assertIn(f'__version__ = "{version}"', f.read())


# Under `python -m betapool run`: what the venv's betapool sees.
WHEEL_PROGRAM = """
import json, sys, threading, time, betapool
def work():
    end = time.monotonic() + 0.3
    while time.monotonic() < end:
        pass
ts = [threading.Thread(target=work) for _ in range(3)]
for t in ts: t.start()
for t in ts: t.join()
m = betapool.metrics()
print(json.dumps({"file": betapool.__file__, "gil_found": m and m["gil_found"],
                  "version": "%d.%d" % sys.version_info[:2]}))
"""


class OneWheelTest(unittest.TestCase):
    """One wheel file, built once, for every CPython."""

    @classmethod
    def setUpClass(cls):
        cls.dir = tempfile.mkdtemp(prefix="betapool-wheel-")
        cls.addClassCleanup(shutil.rmtree, cls.dir, True)
        if not (shutil.which("readelf") and shutil.which("nm")):
            raise unittest.SkipTest("binutils (readelf, nm) is not installed")
        cp = subprocess.run([sys.executable, os.path.join(SCRIPTS, "wheel"), "-o",
                             os.path.join(cls.dir, "dist")], capture_output=True, text=True,
                            timeout=900, env=PipTest.clean_env())
        if cp.returncode != 0 and "are missing" in cp.stderr:
            raise unittest.SkipTest(cp.stderr.strip().splitlines()[-1])
        cls.build = cp
        cls.wheel = cp.stdout.strip().splitlines()[-1] if cp.returncode == 0 else None

    def setUp(self):
        self.assertEqual(self.build.returncode, 0, self.build.stdout[-2000:] + self.build.stderr[-3000:])

    def run_ok(self, argv, timeout=300):
        cp = subprocess.run(argv, capture_output=True, text=True, timeout=timeout,
                            env=PipTest.clean_env(), cwd=self.dir)
        self.assertEqual(cp.returncode, 0, f"{argv}: " + cp.stdout[-2000:] + cp.stderr[-2000:])
        return cp

    def test_one_file_for_every_python(self):
        name = os.path.basename(self.wheel)
        # name-version-python-abi-platform.whl: any Python 3, no ABI.
        _, _, py_tag, abi, platform = name[:-len(".whl")].split("-")
        self.assertEqual((py_tag, abi), ("py3", "none"), name)
        self.assertRegex(platform, r"^(manylinux_2_\d+|linux)_x86_64$", name)
        self.assertEqual(os.listdir(os.path.dirname(self.wheel)), [name])
        with open(self.wheel, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()

        present = [(label, py) for label, py in common.pythons() if py]
        installed = []
        borrowed_pip = None      # a venv's pip, for a Python without ensurepip

        def has_ensurepip(py):
            return py is not None and subprocess.run(
                [py, "-c", "import ensurepip"], capture_output=True, timeout=60).returncode == 0
        # Pythons with their own pip first, so one of theirs can serve the rest.
        order = sorted(common.pythons(), key=lambda lp: not has_ensurepip(lp[1]))
        for label, py in order:
            with self.subTest(python=label):
                if py is None:
                    self.skipTest(f"{label} is not installed on this machine")
                venv = os.path.join(self.dir, "venv-" + label)
                own_pip = has_ensurepip(py)
                if own_pip:
                    self.run_ok([py, "-m", "venv", venv])
                    pip = [os.path.join(venv, "bin", "python"), "-m", "pip"]
                    borrowed_pip = pip      # the last of them: pyenv's newest, if present
                python = os.path.join(venv, "bin", "python")
                install = ["install", "--no-index", "--no-deps", "--no-cache-dir",
                           "--disable-pip-version-check"]
                if not own_pip:
                    # Debian keeps ensurepip in pythonX.Y-venv: another
                    # venv's pip installs into this venv's site-packages,
                    # checking the wheel's tags and Requires-Python against
                    # this Python's version (an older pip may not run on a
                    # newer Python, so it does not run under this one).
                    if borrowed_pip is None:
                        self.skipTest(f"{label} has no ensurepip and no other venv's pip was made yet")
                    self.run_ok([py, "-m", "venv", "--without-pip", venv])
                    site = self.run_ok([python, "-c", "import sysconfig, sys; print(sysconfig."
                                        "get_paths()['purelib']); print('%d.%d' % sys.version_info"
                                        "[:2])"]).stdout.split()
                    pip = borrowed_pip
                    install += ["--target", site[0], "--python-version", site[1],
                                "--only-binary=:all:"]
                self.run_ok(pip + install + [self.wheel])
                log = os.path.join(self.dir, label + ".jsonl")
                cp = self.run_ok([python, "-m", "betapool", "run", "--log", log, "--",
                                  python, "-c", WHEEL_PROGRAM], timeout=120)
                out = json.loads(cp.stdout.strip().splitlines()[-1])
                self.assertTrue(out["file"].startswith(venv + os.sep), out["file"])
                self.assertIs(out["gil_found"], True, out)
                recs = common.read_log(log)
                self.assertEqual(recs[0]["event"], "start", recs[0])
                self.assertEqual(recs[0]["gil"], "found", recs[0])
                self.assertTrue(recs[0]["python"].startswith(out["version"] + "."), recs[0])
                installed.append(label)
        with open(self.wheel, "rb") as f:
            self.assertEqual(hashlib.sha256(f.read()).hexdigest(), digest)
        self.assertEqual(sorted(installed), sorted(label for label, _ in present))


if __name__ == "__main__":
    unittest.main()
