"""`meson install` puts the library, the header, a pkg-config file and the two
commands in place, and the commands work from there."""
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
                found[f] = os.path.join(root, f)
        for name in ("libbetapool.so", "betapool.h", "betapool.pc", "betapool", "betapool-log"):
            self.assertIn(name, found)
        for name in ("betapool", "betapool-log"):
            self.assertTrue(os.access(found[name], os.X_OK), name)
        with open(found["betapool.pc"]) as f:
            self.assertIn("-lbetapool", f.read())

        # The installed wrapper finds the installed library, not the build's.
        env = {k: v for k, v in os.environ.items() if k != "LD_PRELOAD" and not k.startswith("BETAPOOL")}
        log = os.path.join(dest, "run.jsonl")
        probe = "import os; print(os.environ['LD_PRELOAD'])"
        cp = subprocess.run([found["betapool"], "--mode", "observe", "--log", log, "--",
                             sys.executable, "-c", probe], capture_output=True, text=True, env=env,
                            timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(os.path.realpath(cp.stdout.strip()), os.path.realpath(found["libbetapool.so"]))
        cp = subprocess.run([found["betapool-log"], "summary", log], capture_output=True, text=True,
                            timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("mode observe", cp.stdout)


if __name__ == "__main__":
    unittest.main()
