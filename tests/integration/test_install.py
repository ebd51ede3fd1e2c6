"""`meson install` puts the library, the header, a pkg-config file, the
betapool Python package and the `betapool` command in place, and the command
works from there: it finds the installed package and, relative to it, the
installed library."""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import common


class TestInstall(common.ShimTestCase):
    def test_installed_tree_works(self):
        dest = tempfile.mkdtemp(prefix="betapool-install-")
        self.addCleanup(shutil.rmtree, dest, True)
        cp = subprocess.run(["meson", "install", "-C", common.BUILD, "--quiet", "--destdir", dest],
                            capture_output=True, text=True, timeout=300)
        self.assertEqual(cp.returncode, 0, cp.stdout + cp.stderr)
        found = {}
        for root, _, files in os.walk(dest):
            for f in files:
                found.setdefault(f, os.path.join(root, f))
        for name in ("libbetapool.so", "betapool.h", "betapool.pc", "betapool", "__init__.py",
                     "_where.py", "_schema.py", "cli.py", "trace.py", "top.py"):
            self.assertIn(name, found)
        # the generated vocabulary beside the package that reads it
        self.assertEqual(os.path.dirname(found["__init__.py"]), os.path.dirname(found["_schema.py"]))
        self.assertNotIn("betapool-log", found)     # the old name stays in the checkout only
        self.assertTrue(os.access(found["betapool"], os.X_OK))
        self.assertIn(os.sep + "bin" + os.sep, found["betapool"])
        self.assertEqual(os.path.dirname(found["__init__.py"]), os.path.dirname(found["_where.py"]))
        # Every module of the package is installed beside __init__.py (meson
        # lists them by hand: a module left out imports in a checkout only).
        package = os.path.join(common.ROOT, "python", "betapool")
        modules = sorted(f for f in os.listdir(package) if f.endswith(".py"))
        installed = os.listdir(os.path.dirname(found["__init__.py"]))
        self.assertEqual([m for m in modules if m not in installed], [])
        with open(found["betapool.pc"]) as f:
            self.assertIn("-lbetapool", f.read())

        # The installed command runs the installed package (not the
        # checkout's), which finds the installed library (not the build's).
        env = {k: v for k, v in os.environ.items()
               if k not in ("LD_PRELOAD", "PYTHONPATH") and not k.startswith("BETAPOOL")}
        log = os.path.join(dest, "run.jsonl")
        probe = ("import os, betapool; print(os.environ['LD_PRELOAD']); "
                 "print(betapool.__file__); print(betapool.metrics()['mode'])")
        cp = subprocess.run([found["betapool"], "run", "--mode", "observe", "--log", log, "--",
                             sys.executable, "-c", probe], capture_output=True, text=True,
                            env=dict(env, PYTHONPATH=os.path.dirname(os.path.dirname(
                                found["__init__.py"]))), timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        preload, package, mode = cp.stdout.split()
        self.assertEqual(os.path.realpath(preload), os.path.realpath(found["libbetapool.so"]))
        self.assertEqual(os.path.realpath(package), os.path.realpath(found["__init__.py"]))
        self.assertEqual(mode, "observe")
        cp = subprocess.run([found["betapool"], "summary", log], capture_output=True, text=True,
                            env=env, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("mode observe", cp.stdout)


if __name__ == "__main__":
    unittest.main()
