"""`betapool run` (scripts/betapool run in the checkout, the same code as
the installed command), without the real library: a fake library file (not
ELF: the loader says so on stderr and the child runs on) and a child that
prints its environment. One test reads the built library's defaults, to hold
--help to them; another holds README's table of BETAPOOL_* variables to the
library's option table (the generated _schema.py)."""
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest

from common import BUILD, LIB, ROOT, shim_env

WRAPPER = os.path.join(ROOT, "scripts", "betapool")
README = os.path.join(ROOT, "README.md")
SCHEMA = os.path.join(BUILD, "python", "betapool", "_schema.py")
PACKAGE = os.path.join(ROOT, "python", "betapool")
DUMP_ENV = "import os, json; print(json.dumps(dict(os.environ)))"
DUMP_ARGV = "import sys, json; print(json.dumps(sys.argv[1:]))"
OPTION_NAMES = ("--mode", "--log", "--interval", "--min", "--max", "--affinity", "--gate",
                "--priority", "--stats", "--verbose", "--lib")


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

    def wrapper(self, args, env=None, script=WRAPPER, command=("run",)):
        """Run `betapool run ARGS` with an environment free of BETAPOOL_* and
        LD_PRELOAD, plus `env`."""
        return subprocess.run([sys.executable, script] + list(command) + list(args),
                              capture_output=True, text=True, env=shim_env(env, preload=False),
                              timeout=60)

    def child_env(self, options, env=None, script=WRAPPER, command=("run",)):
        cp = self.wrapper(list(options) + ["--", sys.executable, "-c", DUMP_ENV], env, script,
                          command)
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
        child = self.child_env(["--lib", self.lib, "--mode", "auto", "--log", "run-%p.jsonl",
                                "--interval", "50", "--min", "2", "--max", "8", "--affinity",
                                "off", "--gate", "off", "--priority", "auto", "--stats",
                                "--verbose"])
        self.assertEqual(self.betapool_vars(child), {
            "BETAPOOL_MODE": "auto", "BETAPOOL_LOG": "run-%p.jsonl",
            "BETAPOOL_INTERVAL_MS": "50", "BETAPOOL_MIN_WORKERS": "2",
            "BETAPOOL_MAX_WORKERS": "8", "BETAPOOL_AFFINITY": "off", "BETAPOOL_GATE": "off",
            "BETAPOOL_PRIORITY": "auto", "BETAPOOL_STATS": "1",
            "BETAPOOL_VERBOSE": "1"})
        self.assertEqual(child["LD_PRELOAD"], self.lib)

    def test_short_output_option(self):
        """-o FILE is --log FILE, as memray and py-spy spell it, in every
        form: separate, joined with =, and before a script."""
        for args in (["-o", "out-%p.jsonl"], ["-o=out-%p.jsonl"], ["--log", "out-%p.jsonl"]):
            with self.subTest(args=args):
                child = self.child_env(["--lib", self.lib] + args)
                self.assertEqual(self.betapool_vars(child), {"BETAPOOL_LOG": "out-%p.jsonl"})
        script = os.path.join(self.dir, "app.py")
        with open(script, "w") as f:
            f.write("import os\nprint(os.environ['BETAPOOL_LOG'])\n")
        cp = self.wrapper(["--lib", self.lib, "-o", "x.jsonl", script])
        self.assertEqual((cp.returncode, cp.stdout), (0, "x.jsonl\n"), cp.stderr)
        self.assert_usage_error(self.wrapper(["--lib", self.lib, "-o"]), "--log needs a value")

    def test_old_form_without_run(self):
        """scripts/betapool OPTIONS -- PROGRAM, as before the sub-commands."""
        options = ["--lib", self.lib, "--mode", "auto", "--interval", "50"]
        self.assertEqual(self.child_env(options, command=()), self.child_env(options))
        cp = self.wrapper(["--lib", self.lib, sys.executable, "-c", DUMP_ARGV, "x"], command=())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout), ["x"])

    def test_script_and_module_short_forms(self):
        """`run app.py ARGS` and `run -m MODULE ARGS` run this Python; after
        `--`, app.py is a program like any other."""
        script = os.path.join(self.dir, "app.py")
        with open(script, "w") as f:
            f.write("import os, sys, json\n"
                    "print(json.dumps([sys.executable, sys.argv[1:], os.environ['LD_PRELOAD']]))\n")
        for form in (["run"], []):
            cp = self.wrapper(["--lib", self.lib, script, "a", "--mode", "b"], command=form)
            self.assertEqual(cp.returncode, 0, cp.stderr)
            exe, argv, preload = json.loads(cp.stdout)
            self.assertEqual(os.path.realpath(exe), os.path.realpath(sys.executable))
            self.assertEqual(argv, ["a", "--mode", "b"])
            self.assertEqual(preload, self.lib)
        cp = self.wrapper(["--lib", self.lib, "-m", "json.tool", "--help"])
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertIn("json.tool", cp.stdout)
        # after --, not executable: the program cannot be run
        cp = self.wrapper(["--lib", self.lib, "--", script])
        self.assertEqual(cp.returncode, 126, cp.stderr)
        cp = self.wrapper(["--lib", self.lib, "-m"])
        self.assert_usage_error(cp, "-m needs a module")

    def test_python_dash_m_betapool(self):
        """python -m betapool app.py is betapool run app.py."""
        script = os.path.join(self.dir, "app.py")
        with open(script, "w") as f:
            f.write("import os, sys\nprint(os.environ['LD_PRELOAD'], sys.argv[1:])\n")
        env = shim_env({"PYTHONPATH": os.path.dirname(PACKAGE)}, preload=False)
        cp = subprocess.run([sys.executable, "-m", "betapool", "--lib", self.lib, script, "x"],
                            capture_output=True, text=True, env=env, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(cp.stdout.strip(), f"{self.lib} ['x']")
        cp = subprocess.run([sys.executable, "-m", "betapool", "--help"], capture_output=True,
                            text=True, env=env, timeout=60)
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for command in ("run", "summary", "decisions", "plot", "trace", "top"):
            self.assertIn(command, cp.stdout)

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
        child = self.child_env(["--lib", self.lib, "--mode", "auto"], env)
        self.assertEqual(child["BETAPOOL_MODE"], "auto")
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
                (["--gate", "on"], ["--gate must be one of auto, off", "'on'"]),
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
        cp = self.wrapper(["--lib", self.dir, "--", "sh", "-c", "exit 0"])
        self.assert_usage_error(cp, "not a readable file")

    def test_no_library_from_the_environment(self):
        """The library is the package's own or --lib's, never a path from the
        environment (BETAPOOL_LIB was one, once)."""
        tree = self.package_copy("tree", "checkout")
        built = self.fake_lib(os.path.join(tree, "build", "shim", "libbetapool.so"))
        child = self.child_env([], {"BETAPOOL_LIB": self.lib}, script=self.launcher(tree))
        self.assertEqual(child["LD_PRELOAD"], built)

    # -- finding the library from the package's place ----------------------

    def package_copy(self, name, layout, where="libbetapool.so"):
        """A copy of the betapool package in self.dir/name: laid out as in a
        checkout (python/betapool, the library in build/shim), or installed
        (site/betapool with a _where.py as meson writes it). Either has the
        _schema.py the build writes: in build/python/betapool of a checkout,
        beside the package installed."""
        tree = os.path.join(self.dir, name)
        dest = os.path.join(tree, "python" if layout == "checkout" else "site", "betapool")
        shutil.copytree(PACKAGE, dest, ignore=shutil.ignore_patterns("__pycache__", "*.in", "meson.build"))
        schema_dir = os.path.join(tree, "build", "python", "betapool") if layout == "checkout" else dest
        os.makedirs(schema_dir, exist_ok=True)
        shutil.copy(os.path.join(BUILD, "python", "betapool", "_schema.py"), schema_dir)
        if layout == "installed":
            with open(os.path.join(dest, "_where.py"), "w") as f:
                f.write(f"LIBRARY = {where!r}\n")
        return tree

    def launcher(self, tree):
        """A script like scripts/betapool that runs the package copy in tree."""
        parent = "python" if os.path.isdir(os.path.join(tree, "python")) else "site"
        path = os.path.join(tree, "bin", "betapool")
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write("import os, sys\n"
                    f"sys.path.insert(0, {os.path.join(tree, parent)!r})\n"
                    "from betapool.cli import main\n"
                    "sys.exit(main())\n")
        return path

    def test_library_found_relative_to_package(self):
        # a checkout: python/betapool finds build/shim
        tree = self.package_copy("checkout", "checkout")
        built = self.fake_lib(os.path.join(tree, "build", "shim", "libbetapool.so"))
        self.assertEqual(self.child_env([], script=self.launcher(tree))["LD_PRELOAD"], built)
        # installed: where _where.py says, relative to the package (a wheel:
        # beside it; meson install: in libdir)
        for name, where, lib_dir in (("wheel", "libbetapool.so", "site/betapool"),
                                     ("meson", "../../lib/x86_64-linux-gnu/libbetapool.so",
                                      "lib/x86_64-linux-gnu")):
            with self.subTest(layout=name):
                tree = self.package_copy(name, "installed", where)
                lib = self.fake_lib(os.path.join(tree, lib_dir, "libbetapool.so"))
                child = self.child_env([], script=self.launcher(tree))
                self.assertEqual(child["LD_PRELOAD"], os.path.normpath(lib))

    def test_symlinked_script(self):
        """scripts/betapool reached through a symlink still finds its checkout."""
        link_dir = os.path.join(self.dir, "elsewhere", "bin")
        os.makedirs(link_dir)
        os.symlink(WRAPPER, os.path.join(link_dir, "betapool"))
        cp = self.wrapper(["--", sys.executable, "-c", DUMP_ENV],
                          script=os.path.join(link_dir, "betapool"))
        if not os.path.exists(LIB):
            self.assert_usage_error(cp, "cannot find libbetapool.so")
            return
        self.assertEqual(cp.returncode, 0, cp.stderr)
        self.assertEqual(json.loads(cp.stdout)["LD_PRELOAD"], LIB)

    def test_no_library_anywhere(self):
        tree = self.package_copy("empty", "checkout")
        cp = self.wrapper(["--", "sh", "-c", "exit 0"], script=self.launcher(tree))
        self.assert_usage_error(cp, "cannot find libbetapool.so", "--lib")
        tree = self.package_copy("empty-installed", "installed")
        cp = self.wrapper(["--", "sh", "-c", "exit 0"], script=self.launcher(tree))
        self.assert_usage_error(cp, "cannot find libbetapool.so", "--lib")

    # -- help --------------------------------------------------------------

    def test_help_lists_options_and_defaults(self):
        for flag in ("--help", "-h"):
            cp = self.wrapper([flag])
            self.assertTrue(cp.stdout.startswith("usage: betapool run"), cp.stdout)
            self.assertEqual(cp.returncode, 0)
            self.assertEqual(cp.stderr, "")
            for name in OPTION_NAMES:
                self.assertIn(name, cp.stdout)
            for var in ("BETAPOOL_MODE", "BETAPOOL_LOG", "BETAPOOL_INTERVAL_MS",
                        "BETAPOOL_MIN_WORKERS", "BETAPOOL_MAX_WORKERS", "BETAPOOL_AFFINITY",
                        "BETAPOOL_GATE", "BETAPOOL_PRIORITY", "BETAPOOL_STATS",
                        "BETAPOOL_VERBOSE"):
                self.assertIn(var, cp.stdout)
            self.assertEqual(cp.stdout.count("(default: "), len(OPTION_NAMES))

    def test_help_of_every_command_shows_defaults(self):
        """`betapool --help` lists the commands; each command's --help lists
        every option it has with its default."""
        cp = self.wrapper(["--help"], command=())
        self.assertEqual(cp.returncode, 0, cp.stderr)
        for command in ("run", "summary", "decisions", "plot", "trace", "top"):
            self.assertRegex(cp.stdout, rf"\n    {command}\b")
        for command in ("summary", "decisions", "plot", "trace", "top"):
            with self.subTest(command=command):
                cp = self.wrapper(["--help"], command=(command,))
                self.assertEqual(cp.returncode, 0, cp.stderr)
                entries = []        # one per option: its lines of help
                for ln in cp.stdout.split("options:")[1].splitlines():
                    if re.match(r"  -", ln):
                        entries.append(ln)
                    elif entries:
                        entries[-1] += " " + ln.strip()
                entries = [e for e in entries if not e.strip().startswith("-h, --help")]
                self.assertTrue(entries, cp.stdout)
                for e in entries:
                    self.assertRegex(" ".join(e.split()), r"\((default|required)", e)

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
                          ("--affinity", "affinity"), ("--gate", "gate"),
                          ("--priority", "priority")):
            self.assertEqual(helped.get(opt), lib.get(name), f"{opt}: --help says "
                             f"{helped.get(opt)}, the library {lib.get(name)}")

    def test_readme_option_table_is_the_librarys(self):
        """README's table of BETAPOOL_* variables against shim/options.c's
        table (as the build wrote it into _schema.py): the same variables,
        each row's default the library's, and the range a number's meaning
        gives, (LO-HI ...), the library's bounds."""
        if not os.path.exists(SCHEMA):
            self.skipTest(f"{SCHEMA} not built")
        spec = importlib.util.spec_from_file_location("betapool_schema", SCHEMA)
        schema = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(schema)
        rows = {}
        with open(README) as f:
            for ln in f:
                m = re.fullmatch(r"\| `(BETAPOOL_\w+)` \| ([^|]+) \| (.*) \|", ln.strip())
                if m:
                    rows[m.group(1)] = (m.group(2).strip().strip("`"), m.group(3))
        self.assertEqual(sorted(rows), sorted(schema.OPTIONS))
        for var, o in schema.OPTIONS.items():
            with self.subTest(var=var):
                shown, meaning = rows[var]
                if o["type"] == "path":
                    self.assertEqual(shown, "unset")
                elif o["type"] == "choice":
                    self.assertEqual(shown, o["default"])
                else:
                    self.assertEqual(float(shown), o["default"], f"README says {shown}")
                if o["type"] in ("int", "float"):
                    bounds = re.search(r"\(([0-9.]+)-([0-9.]+)\b", meaning)
                    self.assertIsNotNone(bounds, f"README gives no range for {var}")
                    self.assertEqual((float(bounds.group(1)), float(bounds.group(2))),
                                     (o["min"], o["max"]))


if __name__ == "__main__":
    unittest.main()
