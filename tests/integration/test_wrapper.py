"""scripts/betapool, the command people type, without the real library: a
fake library file (not ELF: the loader says so on stderr and the child runs
on) and a child that prints its environment. One test reads the built
library's defaults, to hold --help to them."""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from common import LIB, ROOT, shim_env

WRAPPER = os.path.join(ROOT, "scripts", "betapool")
DUMP_ENV = "import os, json; print(json.dumps(dict(os.environ)))"
DUMP_ARGV = "import sys, json; print(json.dumps(sys.argv[1:]))"
OPTION_NAMES = ("--mode", "--log", "--interval", "--min", "--max", "--affinity", "--stats",
                "--verbose", "--lib")


class WrapperTest(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="betapool-wrapper-")
        self.lib = self.fake_lib(os.path.join(self.dir, "fake", "libbetapool.so"))

    def tearDown(self):
        shutil.rmtree(self.dir, ignore_errors=True)

    @staticmethod
    def fake_lib(path):
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("not a shared object\n")
        return path

    def wrapper(self, args, env=None, script=WRAPPER):
        """Run the wrapper with an environment free of BETAPOOL_* and
        LD_PRELOAD, plus `env`."""
        return subprocess.run([sys.executable, script] + list(args), capture_output=True,
                              text=True, env=shim_env(env, preload=False), timeout=60)

    def child_env(self, options, env=None, script=WRAPPER):
        cp = self.wrapper(list(options) + ["--", sys.executable, "-c", DUMP_ENV], env, script)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        return json.loads(cp.stdout)

    def betapool_vars(self, child):
        return {k: v for k, v in child.items() if k.startswith("BETAPOOL_")}

    def assert_usage_error(self, cp, *words):
        self.assertEqual(cp.returncode, 2, cp.stderr)
        self.assertTrue(cp.stderr.startswith("betapool: error: "), cp.stderr)
        for w in words:
            self.assertIn(w, cp.stderr)

    # -- variables ---------------------------------------------------------

    def test_executable(self):
        self.assertTrue(os.access(WRAPPER, os.X_OK))

    def test_every_option_sets_its_variable(self):
        child = self.child_env(["--lib", self.lib, "--mode", "enforce", "--log", "run-%p.jsonl",
                                "--interval", "50", "--min", "2", "--max", "8", "--affinity",
                                "off", "--stats", "--verbose"])
        self.assertEqual(self.betapool_vars(child), {
            "BETAPOOL_MODE": "enforce", "BETAPOOL_LOG": "run-%p.jsonl",
            "BETAPOOL_INTERVAL_MS": "50", "BETAPOOL_MIN_WORKERS": "2",
            "BETAPOOL_MAX_WORKERS": "8", "BETAPOOL_AFFINITY": "off", "BETAPOOL_STATS": "1",
            "BETAPOOL_VERBOSE": "1"})
        self.assertEqual(child["LD_PRELOAD"], self.lib)

    def test_equals_form(self):
        child = self.child_env([f"--lib={self.lib}", "--mode=off", "--interval=250"])
        self.assertEqual(self.betapool_vars(child),
                         {"BETAPOOL_MODE": "off", "BETAPOOL_INTERVAL_MS": "250"})

    def test_no_options_no_variables(self):
        child = self.child_env(["--lib", self.lib])
        self.assertEqual(self.betapool_vars(child), {})
        self.assertEqual(child["LD_PRELOAD"], self.lib)

    def test_inherited_variables_kept_unless_given(self):
        env = {"BETAPOOL_MODE": "off", "BETAPOOL_LOG": "a.jsonl"}
        child = self.child_env(["--lib", self.lib, "--mode", "enforce"], env)
        self.assertEqual(child["BETAPOOL_MODE"], "enforce")
        self.assertEqual(child["BETAPOOL_LOG"], "a.jsonl")

    def test_program_options_are_the_programs(self):
        cp = self.wrapper(["--lib", self.lib, sys.executable, "-c", DUMP_ARGV,
                           "--mode", "x", "--", "-y"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout), ["--mode", "x", "--", "-y"])

    # -- LD_PRELOAD --------------------------------------------------------

    def test_preload_appended_space(self):
        before = "/nonexistent/a.so /nonexistent/b.so"
        child = self.child_env(["--lib", self.lib], {"LD_PRELOAD": before})
        self.assertEqual(child["LD_PRELOAD"], before + " " + self.lib)

    def test_preload_appended_colon(self):
        before = "/nonexistent/a.so:/nonexistent/b.so"
        child = self.child_env(["--lib", self.lib], {"LD_PRELOAD": before})
        self.assertEqual(child["LD_PRELOAD"], before + ":" + self.lib)

    def test_preload_not_added_twice(self):
        before = f"/nonexistent/a.so:{self.lib}"
        child = self.child_env(["--lib", self.lib], {"LD_PRELOAD": before})
        self.assertEqual(child["LD_PRELOAD"], before)
        # betapool run under betapool
        inner = [sys.executable, WRAPPER, "--lib", self.lib, "--", sys.executable, "-c",
                 DUMP_ENV]
        cp = self.wrapper(["--lib", self.lib, "--"] + inner)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout)["LD_PRELOAD"], self.lib)

    def test_other_betapool_already_preloaded(self):
        other = self.fake_lib(os.path.join(self.dir, "other", "libbetapool.so"))
        cp = self.wrapper(["--lib", self.lib, "--", sys.executable, "-c", DUMP_ENV],
                          {"LD_PRELOAD": other})
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout)["LD_PRELOAD"], other)
        self.assertIn("betapool: warning: LD_PRELOAD already holds", cp.stderr)

    # -- exit status and errors --------------------------------------------

    def test_exit_status_is_the_programs(self):
        cp = self.wrapper(["--lib", self.lib, "--", "sh", "-c", "exit 7"])
        self.assertEqual(cp.returncode, 7)
        cp = self.wrapper(["--lib", self.lib, "--", "sh", "-c", "exit 0"])
        self.assertEqual(cp.returncode, 0)

    def test_program_not_found(self):
        cp = self.wrapper(["--lib", self.lib, "--", os.path.join(self.dir, "no-such-program")])
        self.assertEqual(cp.returncode, 127)
        self.assertIn("betapool: error: cannot run", cp.stderr)

    def test_bad_options(self):
        for args, words in (
                (["--bogus"], ["unknown option '--bogus'"]),
                (["-x"], ["unknown option '-x'"]),
                (["--mode"], ["--mode needs a value"]),
                (["--mode", "fast"], ["--mode", "fast"]),
                (["--interval", "0"], ["--interval", "'0'"]),
                (["--min", "two"], ["--min", "'two'"]),
                (["--min", "9", "--max", "8"], ["above --max"]),
                (["--stats=1"], ["--stats takes no value"]),
                (["--log", ""], ["--log"])):
            with self.subTest(args=args):
                cp = self.wrapper(["--lib", self.lib] + args + ["--", "sh", "-c", "exit 0"])
                self.assert_usage_error(cp, *words)

    def test_missing_program(self):
        self.assert_usage_error(self.wrapper(["--lib", self.lib]), "no program")
        self.assert_usage_error(self.wrapper(["--lib", self.lib, "--"]), "no program")

    def test_missing_library(self):
        missing = os.path.join(self.dir, "nope", "libbetapool.so")
        cp = self.wrapper(["--lib", missing, "--", "sh", "-c", "exit 0"])
        self.assert_usage_error(cp, "--lib", missing)
        cp = self.wrapper(["--", "sh", "-c", "exit 0"], {"BETAPOOL_LIB": missing})
        self.assert_usage_error(cp, "BETAPOOL_LIB", missing)
        cp = self.wrapper(["--lib", self.dir, "--", "sh", "-c", "exit 0"])
        self.assert_usage_error(cp, "not a readable file")

    def test_library_from_environment(self):
        child = self.child_env([], {"BETAPOOL_LIB": self.lib})
        self.assertEqual(child["LD_PRELOAD"], self.lib)
        # --lib wins over BETAPOOL_LIB
        other = self.fake_lib(os.path.join(self.dir, "other", "libbetapool.so"))
        child = self.child_env(["--lib", other], {"BETAPOOL_LIB": self.lib})
        self.assertEqual(child["LD_PRELOAD"], other)

    # -- finding the library from the script's place -----------------------

    def install_copy(self, tree, script_dir):
        """A copy of the wrapper at tree/script_dir/betapool."""
        os.makedirs(os.path.join(tree, script_dir), exist_ok=True)
        path = os.path.join(tree, script_dir, "betapool")
        shutil.copy(WRAPPER, path)
        return path

    def test_library_found_beside_script(self):
        for script_dir, lib_dir in (("scripts", "build/shim"),
                                    ("bin", "lib/x86_64-linux-gnu"),
                                    ("bin", "lib64"),
                                    ("bin", "lib")):
            with self.subTest(lib_dir=lib_dir):
                tree = os.path.join(self.dir, "tree-" + lib_dir.replace("/", "-"))
                script = self.install_copy(tree, script_dir)
                lib = self.fake_lib(os.path.join(tree, lib_dir, "libbetapool.so"))
                child = self.child_env([], script=script)
                self.assertEqual(child["LD_PRELOAD"], lib)

    def test_build_tree_before_install_and_symlinked_script(self):
        tree = os.path.join(self.dir, "tree")
        script = self.install_copy(tree, "scripts")
        built = self.fake_lib(os.path.join(tree, "build", "shim", "libbetapool.so"))
        self.fake_lib(os.path.join(tree, "lib", "libbetapool.so"))
        self.assertEqual(self.child_env([], script=script)["LD_PRELOAD"], built)
        link_dir = os.path.join(self.dir, "elsewhere", "bin")
        os.makedirs(link_dir)
        os.symlink(script, os.path.join(link_dir, "betapool"))
        child = self.child_env([], script=os.path.join(link_dir, "betapool"))
        self.assertEqual(child["LD_PRELOAD"], built)

    def test_no_library_anywhere(self):
        script = self.install_copy(os.path.join(self.dir, "empty"), "bin")
        cp = self.wrapper(["--", "sh", "-c", "exit 0"], script=script)
        self.assert_usage_error(cp, "cannot find libbetapool.so", "lib64", "--lib")

    # -- help --------------------------------------------------------------

    def test_help_lists_options_and_defaults(self):
        for flag in ("--help", "-h"):
            cp = self.wrapper([flag])
            self.assertEqual(cp.returncode, 0)
            self.assertEqual(cp.stderr, "")
            for name in OPTION_NAMES:
                self.assertIn(name, cp.stdout)
            for var in ("BETAPOOL_MODE", "BETAPOOL_LOG", "BETAPOOL_INTERVAL_MS",
                        "BETAPOOL_MIN_WORKERS", "BETAPOOL_MAX_WORKERS", "BETAPOOL_AFFINITY",
                        "BETAPOOL_STATS", "BETAPOOL_VERBOSE"):
                self.assertIn(var, cp.stdout)

    def test_help_defaults_are_the_librarys(self):
        """--help's defaults against what the built library prints with
        BETAPOOL_VERBOSE=1 (`option NAME = VALUE (default)`)."""
        if not os.path.exists(LIB):
            self.skipTest(f"{LIB} not built")
        helped = {}
        lines = self.wrapper(["--help"]).stdout.splitlines()
        for opt_line, default_line in zip(lines, lines[1:]):
            m = re.match(r"\s+(--[a-z]+)", opt_line)
            d = re.search(r"\(default: (.*)\)$", default_line)
            if m and d:
                helped[m.group(1)] = d.group(1)
        env = shim_env({"BETAPOOL_VERBOSE": "1"})
        cp = subprocess.run([sys.executable, "-c", "pass"], env=env, capture_output=True, text=True,
                            timeout=60)
        lib = {k: v.strip('"') for k, v in
               re.findall(r"option (\w+)\s+= (\S+) \(default\)", cp.stderr)}
        self.assertTrue(lib, f"no option lines from the library: {cp.stderr}")
        for opt, name in (("--mode", "mode"), ("--interval", "interval_ms"),
                          ("--min", "min_workers"), ("--max", "max_workers"),
                          ("--affinity", "affinity")):
            self.assertEqual(helped.get(opt), lib.get(name), f"{opt}: --help says "
                             f"{helped.get(opt)}, the library {lib.get(name)}")


if __name__ == "__main__":
    unittest.main()
