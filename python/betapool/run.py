"""`betapool run`: run a program with libbetapool.so preloaded.

    betapool run [options] -- PROGRAM [ARGS...]
    betapool run [options] app.py [ARGS...]      (this Python runs app.py)
    betapool run [options] -m MODULE [ARGS...]   (this Python runs -m MODULE)

The options become BETAPOOL_* variables in the program's environment only; the
library is appended to any LD_PRELOAD already set, once; then the program
replaces this process (exec), so its exit status is the program's.
"""
import os
import re
import sys

# The library's defaults, as --help shows them. Keep them equal to the option
# table in shim/ and README's table of BETAPOOL_* variables.
DEFAULTS = {
    "mode": "auto",
    "log": "none",
    "interval": 100,
    "min": 2,
    "max": 8,
    "affinity": "auto",
    "gate": "auto",
    "priority": "auto",
}
MODES = ("auto", "observe", "off", "enforce")     # enforce: the old name of auto
AFFINITIES = ("auto", "off")
LIB_NAME = "libbetapool.so"

# option, variable it sets, metavar (None for a flag), what it means
OPTIONS = (
    ("--mode", "BETAPOOL_MODE", "M", "what betapool does: auto (measure, and act where it "
     "pays), observe (measure only), off; enforce means auto"),
    ("--log", "BETAPOOL_LOG", "FILE", "write the log (JSON Lines) to FILE; %p becomes the pid"),
    ("--interval", "BETAPOOL_INTERVAL_MS", "MS", "how often betapool samples and decides, in ms"),
    ("--min", "BETAPOOL_MIN_WORKERS", "N", "fewest computing workers admitted while the gate is shut"),
    ("--max", "BETAPOOL_MAX_WORKERS", "N", "most computing workers admitted while the gate is shut"),
    ("--affinity", "BETAPOOL_AFFINITY", "A",
     "keep GIL-bound Python threads on one CPU (mode auto): " + ", ".join(AFFINITIES)),
    ("--gate", "BETAPOOL_GATE", "G",
     "park surplus computing workers while they are forced off the GIL (mode auto): "
     + ", ".join(AFFINITIES)),
    ("--priority", "BETAPOOL_PRIORITY", "P",
     "hand the GIL sooner to threads that hold it briefly (mode auto): " + ", ".join(AFFINITIES)),
    ("--stats", "BETAPOOL_STATS", None, "print statistics when the program ends"),
    ("--verbose", "BETAPOOL_VERBOSE", None, "more messages from betapool on stderr"),
    ("--lib", None, "PATH", "the library to preload"),
)
NUMERIC = ("--interval", "--min", "--max")
SHORT = {"-o": "--log"}     # -o FILE, as memray and py-spy name their output


class UsageError(Exception):
    pass


def help_text(prog="betapool run"):
    lines = [
        f"usage: {prog} [options] -- PROGRAM [ARGS...]",
        f"       {prog} [options] SCRIPT.py [ARGS...]",
        f"       {prog} [options] -m MODULE [ARGS...]",
        "",
        "Run PROGRAM with " + LIB_NAME + " preloaded: it measures how PROGRAM's Python",
        "threads share the GIL and, in mode auto, acts on it where that pays.",
        "A SCRIPT.py, or -m MODULE, runs with this Python (" + sys.executable + ").",
        "Each option sets its variable for PROGRAM only; an option not given leaves",
        "a BETAPOOL_* variable already in the environment as it is.",
        "",
        "options:",
    ]
    for opt, var, metavar, meaning in OPTIONS:
        left = f"{opt} {metavar}" if metavar else opt
        left = "".join(f"{s}, " for s, long in SHORT.items() if long == opt) + left
        key = opt[2:]
        if key in DEFAULTS:
            default = DEFAULTS[key]
        elif key == "lib":
            default = "the one beside this betapool package"
        else:
            default = "off"
        setting = f"{var}=1" if var and metavar is None else (var or "")
        lines.append(f"  {left:<15} {meaning}")
        lines.append(f"  {'':<15} " + (f"[{setting}] " if setting else "") + f"(default: {default})")
    lines += [
        f"  {'-h, --help':<15} show this help and exit",
        "",
        "The library is appended to LD_PRELOAD (never replacing it, never twice).",
        "Exit status: PROGRAM's; 2 for a usage error or a missing library; 126 or 127",
        "when PROGRAM cannot be run. Read a log with: betapool summary FILE",
    ]
    return "\n".join(lines) + "\n"


def parse(argv, prog="betapool run"):
    """(settings {option: value}, command) from the arguments after the
    program name. Options end at `--`, at `-m`, or at the first word that is
    not one; a first word ending in .py is a script for this Python."""
    table = {o[0]: o for o in OPTIONS}
    settings = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-h", "--help"):
            sys.stdout.write(help_text(prog))
            sys.exit(0)
        if arg == "-m":
            if i + 1 >= len(argv):
                raise UsageError("-m needs a module name")
            return checked(settings), [sys.executable] + argv[i:]
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        name = SHORT.get(name, name)
        if name not in table:
            raise UsageError(f"unknown option '{name}' ({prog} --help lists them)")
        if table[name][2] is None:
            if eq:
                raise UsageError(f"{name} takes no value")
            settings[name] = "1"
        else:
            if not eq:
                i += 1
                if i >= len(argv) or argv[i] == "--":
                    raise UsageError(f"{name} needs a value ({table[name][2]})")
                value = argv[i]
            settings[name] = check_value(name, value)
        i += 1
    command = argv[i:]
    if not command:
        raise UsageError(f"no program to run (usage: {prog} [options] -- PROGRAM [ARGS...])")
    if command[0].endswith(".py") and (i == 0 or argv[i - 1] != "--"):
        command = [sys.executable] + command
    return checked(settings), command


def checked(settings):
    if "--min" in settings and "--max" in settings \
            and int(settings["--min"]) > int(settings["--max"]):
        raise UsageError(f"--min {settings['--min']} is above --max {settings['--max']}")
    return settings


def check_value(name, value):
    if name == "--mode" and value not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not '{value}'")
    if name in ("--affinity", "--gate", "--priority") and value not in AFFINITIES:
        raise UsageError(f"{name} must be one of {', '.join(AFFINITIES)}, not '{value}'")
    if name in NUMERIC:
        if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
            raise UsageError(f"{name} needs a whole number of at least 1, not '{value}'")
        return str(int(value))
    if value == "":
        raise UsageError(f"{name} needs a value, not an empty one")
    return value


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
    for opt, var, _metavar, _meaning in OPTIONS:
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

