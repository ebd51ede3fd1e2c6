"""`betapool run`: run a program with libbetapool.so preloaded.

    betapool run [options] -- PROGRAM [ARGS...]
    betapool run [options] app.py [ARGS...]      (this Python runs app.py)
    betapool run [options] -m MODULE [ARGS...]   (this Python runs -m MODULE)

The options become BETAPOOL_* variables in the program's environment only; the
library is appended to any LD_PRELOAD already set, once; then the program
replaces this process (exec), so its exit status is the program's.
"""
import argparse
import os
import re
import sys

from . import _schema       # written at build time from the library's option table

MODES = ("auto", "observe", "off", "enforce")     # enforce: the old name of auto
AFFINITIES = ("auto", "off")
LIB_NAME = "libbetapool.so"

# option, short form, variable it sets, metavar (None for a flag), meaning
OPTIONS = (
    ("--mode", None, "BETAPOOL_MODE", "M", "what betapool does: auto (measure, and act where "
     "it pays), observe (measure only), off; enforce means auto"),
    ("--log", "-o", "BETAPOOL_LOG", "FILE",     # -o FILE, as memray and py-spy name it
     "write the log (JSON Lines) to FILE; %p becomes the pid"),
    ("--interval", None, "BETAPOOL_INTERVAL_MS", "MS", "how often betapool samples and decides, in ms"),
    ("--min", None, "BETAPOOL_MIN_WORKERS", "N", "fewest computing workers admitted while the gate is shut"),
    ("--max", None, "BETAPOOL_MAX_WORKERS", "N", "most computing workers admitted while the gate is shut"),
    ("--affinity", None, "BETAPOOL_AFFINITY", "A",
     "keep GIL-bound Python threads on one CPU (mode auto): " + ", ".join(AFFINITIES)),
    ("--gate", None, "BETAPOOL_GATE", "G",
     "park surplus computing workers while they are forced off the GIL (mode auto): "
     + ", ".join(AFFINITIES)),
    ("--priority", None, "BETAPOOL_PRIORITY", "P",
     "hand the GIL sooner to threads that hold it briefly (mode auto): " + ", ".join(AFFINITIES)),
    ("--stats", None, "BETAPOOL_STATS", None, "print statistics when the program ends"),
    ("--verbose", None, "BETAPOOL_VERBOSE", None, "more messages from betapool on stderr"),
    ("--lib", None, None, "PATH", "the library to preload"),
)


class UsageError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse, its errors raised as UsageError in betapool's words."""

    def error(self, message):
        m = re.match(r"argument (\S+?)(?:/(\S+))?: (.*)", message, re.S)
        if m:
            name = m.group(2) or m.group(1)
            what = m.group(3)
            if what.startswith("expected one argument"):
                metavar = next(o[3] for o in OPTIONS if o[0] == name)
                raise UsageError(f"{name} needs a value ({metavar})")
            if what.startswith("ignored explicit argument"):
                raise UsageError(f"{name} takes no value")
            raise UsageError(what)
        m = re.match(r"unrecognized arguments: (\S+)", message)
        if m:
            raise UsageError(f"unknown option '{m.group(1).partition('=')[0]}' "
                             f"({self.prog} --help lists them)")
        raise UsageError(message)


def checker(name):
    """argparse's type for option `name`: the value checked, as a string."""
    def check(value):
        if name == "--mode" and value not in MODES:
            raise argparse.ArgumentTypeError(
                f"--mode must be one of {', '.join(MODES)}, not '{value}'")
        if name in ("--affinity", "--gate", "--priority") and value not in AFFINITIES:
            raise argparse.ArgumentTypeError(
                f"{name} must be one of {', '.join(AFFINITIES)}, not '{value}'")
        if name in ("--interval", "--min", "--max"):
            if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
                raise argparse.ArgumentTypeError(
                    f"{name} needs a whole number of at least 1, not '{value}'")
            return str(int(value))
        if value == "":
            raise argparse.ArgumentTypeError(f"{name} needs a value, not an empty one")
        return value
    return check


def parser(prog="betapool run"):
    ap = Parser(
        prog=prog, allow_abbrev=False, add_help=False,
        formatter_class=lambda prog: argparse.RawTextHelpFormatter(prog, max_help_position=18),
        usage=f"{prog} [options] -- PROGRAM [ARGS...]\n"
              f"       {prog} [options] SCRIPT.py [ARGS...]\n"
              f"       {prog} [options] -m MODULE [ARGS...]",
        description="Run PROGRAM with " + LIB_NAME + " preloaded: it measures how PROGRAM's "
                    "Python\nthreads share the GIL and, in mode auto, acts on it where that "
                    "pays.\nA SCRIPT.py, or -m MODULE, runs with this Python ("
                    + sys.executable + ").\nEach option sets its variable for PROGRAM only; "
                    "an option not given leaves\na BETAPOOL_* variable already in the "
                    "environment as it is.",
        epilog="The library is appended to LD_PRELOAD (never replacing it, never twice).\n"
               "Exit status: PROGRAM's; 2 for a usage error or a missing library; 126 or 127\n"
               "when PROGRAM cannot be run. Read a log with: betapool summary FILE")
    ap._optionals.title = "options"
    for opt, short, var, metavar, meaning in OPTIONS:
        key = opt[2:]
        if key == "lib":
            default = "the one beside this betapool package"
        else:
            default = _schema.OPTIONS[var]["default"]   # the library's own (shim/options.c)
            if default is None:
                default = "none"
            elif metavar is None:
                default = "on" if default else "off"
        setting = f"{var}=1" if var and metavar is None else (var or "")
        text = meaning + "\n" + (f"[{setting}] " if setting else "") + f"(default: {default})"
        text = text.replace("%", "%%")     # argparse formats help with %
        names = [short, opt] if short else [opt]
        if metavar is None:
            ap.add_argument(*names, dest=key, action="store_true", help=text)
        else:
            ap.add_argument(*names, dest=key, metavar=metavar, type=checker(opt), help=text)
    ap.add_argument("-h", "--help", action="help", help="show this help and exit")
    return ap


def takes_value(ap, arg):
    """Whether option word `arg` (without =VALUE) is one that takes the next word."""
    action = ap._option_string_actions.get(arg)
    return action is not None and action.nargs is None and not isinstance(
        action, (argparse._StoreTrueAction, argparse._HelpAction))


def parse(argv, prog="betapool run"):
    """(settings {option: value}, command) from the arguments after the
    program name. Options end at `--`, at `-m`, or at the first word that is
    not one; a first word ending in .py is a script for this Python. The
    options are argparse's; only where they end is found here, since what
    follows is the program's."""
    ap = parser(prog)
    options, i, command, after_dashes = [], 0, None, False
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            command, after_dashes = argv[i + 1:], True
            break
        if arg == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            command = [sys.executable] + argv[i:]
            break
        if not arg.startswith("-") or arg == "-":
            command = argv[i:]
            break
        if "=" not in arg and takes_value(ap, arg):
            if i + 1 >= len(argv) or argv[i + 1] == "--":
                options.append(arg)     # argparse says that the value is missing
                break
            i += 1
            arg += "=" + argv[i]        # the next word is the value, even "-x"
        options.append(arg)
        i += 1
    args = ap.parse_args(options)
    if not command:
        raise UsageError(f"no program to run (usage: {prog} [options] -- PROGRAM [ARGS...])")
    if command[0].endswith(".py") and not after_dashes:
        command = [sys.executable] + command
    settings = {opt: ("1" if metavar is None else getattr(args, opt[2:]))
                for opt, _short, _var, metavar, _meaning in OPTIONS
                if getattr(args, opt[2:]) not in (None, False)}
    if "--min" in settings and "--max" in settings \
            and int(settings["--min"]) > int(settings["--max"]):
        raise UsageError(f"--min {settings['--min']} is above --max {settings['--max']}")
    return settings, command


def find_library(given):
    """The library to preload: --lib when given, else this package's own
    (beside it when installed, the checkout's build/shim in a checkout)."""
    if given is not None:
        if not usable(given):
            raise UsageError(f"the library given by --lib is not a readable file: {given}")
        return os.path.abspath(given)
    from . import library_path
    path = library_path()
    if path is None or not usable(path):
        raise UsageError(f"cannot find {LIB_NAME} beside the betapool package in "
                         f"{os.path.dirname(os.path.abspath(__file__))}. In a source checkout, "
                         "build it (meson setup build && meson compile -C build); "
                         "or name one with --lib PATH")
    return path


def usable(path):
    return os.path.isfile(path) and os.access(path, os.R_OK)


def with_library(preload, lib):
    """LD_PRELOAD with lib appended, keeping what is there; unchanged when a
    libbetapool is already in it (two copies in one process would fight)."""
    if re.search(r"[\s:]", lib):
        raise UsageError(f"the library's path cannot go in LD_PRELOAD (it holds a space "
                         f"or a colon): {lib}")
    entries = [e for e in re.split(r"[\s:]+", preload) if e]
    for e in entries:
        if os.path.basename(e) == LIB_NAME:
            if os.path.realpath(e) != os.path.realpath(lib):
                print(f"betapool: warning: LD_PRELOAD already holds {e}; using it, "
                      f"not {lib}", file=sys.stderr)
            return preload
    if not entries:
        return lib
    sep = ":" if ":" in preload and not re.search(r"\s", preload.strip()) else " "
    return preload.rstrip(" \t\n:") + sep + lib


def environment(settings, lib):
    """The program's environment: this one, the library added to LD_PRELOAD,
    and each option given as its BETAPOOL_* variable."""
    env = dict(os.environ)
    env["LD_PRELOAD"] = with_library(env.get("LD_PRELOAD", ""), lib)
    for opt, _short, var, _metavar, _meaning in OPTIONS:
        if var and opt in settings:
            env[var] = settings[opt]
    return env


def main(argv, prog="betapool run"):
    try:
        settings, command = parse(argv, prog)
        env = environment(settings, find_library(settings.get("--lib")))
    except UsageError as e:
        print(f"betapool: error: {e}", file=sys.stderr)
        return 2
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        print(f"betapool: error: cannot run '{command[0]}': {e.strerror or e}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126

