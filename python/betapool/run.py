#!/usr/bin/env python3
"""betapool: run a program with libbetapool.so preloaded.

usage: betapool [options] [--] PROGRAM [ARGS...]   (betapool --help for more)

The options become BETAPOOL_* variables in the program's environment only; the
library is appended to any LD_PRELOAD already set, once; then the program
replaces this script (exec), so its exit status is the program's.
"""
import os
import re
import sys
import sysconfig

# The library's defaults, as --help shows them. Keep them equal to the option
# table in shim/ and README's table of BETAPOOL_* variables.
DEFAULTS = {
    "mode": "observe",
    "log": "none",
    "interval": 100,
    "min": 1,
    "max": 8,
    "affinity": "auto",
}
MODES = ("observe", "off", "enforce")
AFFINITIES = ("auto", "off")
LIB_NAME = "libbetapool.so"

# option, variable it sets, metavar (None for a flag), what it means
OPTIONS = (
    ("--mode", "BETAPOOL_MODE", "M", "what betapool does: " + ", ".join(MODES)),
    ("--log", "BETAPOOL_LOG", "FILE", "write the log (JSON Lines) to FILE; %p becomes the pid"),
    ("--interval", "BETAPOOL_INTERVAL_MS", "MS", "how often betapool samples and decides, in ms"),
    ("--min", "BETAPOOL_MIN_WORKERS", "N", "fewest worker threads admitted (enforce)"),
    ("--max", "BETAPOOL_MAX_WORKERS", "N", "most worker threads admitted (enforce)"),
    ("--affinity", "BETAPOOL_AFFINITY", "A",
     "keep GIL-bound Python threads on one CPU (enforce): " + ", ".join(AFFINITIES)),
    ("--stats", "BETAPOOL_STATS", None, "print statistics when the program ends"),
    ("--verbose", "BETAPOOL_VERBOSE", None, "more messages from betapool on stderr"),
    ("--lib", None, "PATH", "the library to preload"),
)
NUMERIC = ("--interval", "--min", "--max")


class UsageError(Exception):
    pass


def help_text():
    lines = [
        "usage: betapool [options] [--] PROGRAM [ARGS...]",
        "",
        "Run PROGRAM with " + LIB_NAME + " preloaded: it measures how PROGRAM's Python",
        "threads share the GIL and, in mode enforce, limits how many compete for it.",
        "Each option sets its variable for PROGRAM only; an option not given leaves",
        "a BETAPOOL_* variable already in the environment as it is.",
        "",
        "options:",
    ]
    for opt, var, metavar, meaning in OPTIONS:
        left = f"{opt} {metavar}" if metavar else opt
        key = opt[2:]
        if key in DEFAULTS:
            default = DEFAULTS[key]
        elif key == "lib":
            default = "$BETAPOOL_LIB, else the build tree, else the installed one"
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
        "when PROGRAM cannot be run. Read a log with: betapool-log summary FILE",
    ]
    return "\n".join(lines) + "\n"


def parse(argv):
    """(settings {option: value}, command) from the arguments after the
    program name. Options end at `--` or at the first word that is not one."""
    table = {o[0]: o for o in OPTIONS}
    settings = {}
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            i += 1
            break
        if arg in ("-h", "--help"):
            sys.stdout.write(help_text())
            sys.exit(0)
        if not arg.startswith("-") or arg == "-":
            break
        name, eq, value = arg.partition("=")
        if name not in table:
            raise UsageError(f"unknown option '{name}' (betapool --help lists them)")
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
        raise UsageError("no program to run (usage: betapool [options] -- PROGRAM [ARGS...])")
    if "--min" in settings and "--max" in settings \
            and int(settings["--min"]) > int(settings["--max"]):
        raise UsageError(f"--min {settings['--min']} is above --max {settings['--max']}")
    return settings, command


def check_value(name, value):
    if name == "--mode" and value not in MODES:
        raise UsageError(f"--mode must be one of {', '.join(MODES)}, not '{value}'")
    if name == "--affinity" and value not in AFFINITIES:
        raise UsageError(f"--affinity must be one of {', '.join(AFFINITIES)}, not '{value}'")
    if name in NUMERIC:
        if not re.fullmatch(r"[0-9]+", value) or int(value) < 1:
            raise UsageError(f"{name} needs a whole number of at least 1, not '{value}'")
        return str(int(value))
    if value == "":
        raise UsageError(f"{name} needs a value, not an empty one")
    return value


def library_candidates():
    """Where a library that was not named is looked for, in order: the build
    tree beside this script, then where `meson install` puts it."""
    here = os.path.dirname(os.path.realpath(__file__))
    triplets = [sysconfig.get_config_var("MULTIARCH") or "", "x86_64-linux-gnu"]
    places = [os.path.join(here, "..", "build", "shim")]
    places += [os.path.join(here, "..", "lib", t) for t in triplets if t]
    places += [os.path.join(here, "..", "lib64"), os.path.join(here, "..", "lib")]
    out = []
    for p in places:
        p = os.path.normpath(os.path.join(p, LIB_NAME))
        if p not in out:
            out.append(p)
    return out


def usable(path):
    return os.path.isfile(path) and os.access(path, os.R_OK)


def find_library(given):
    if given is not None or os.environ.get("BETAPOOL_LIB"):
        where, path = ("--lib", given) if given is not None else \
                      ("BETAPOOL_LIB", os.environ["BETAPOOL_LIB"])
        if not usable(path):
            raise UsageError(f"the library given by {where} is not a readable file: {path}")
        return os.path.abspath(path)
    candidates = library_candidates()
    for path in candidates:
        if usable(path):
            return path
    raise UsageError(f"cannot find {LIB_NAME}; looked for " + ", ".join(candidates)
                     + ". Build it (meson setup build && meson compile -C build) "
                     "or name it with --lib PATH or BETAPOOL_LIB")


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


def main(argv):
    try:
        settings, command = parse(argv)
        lib = find_library(settings.get("--lib"))
        env = dict(os.environ)
        env["LD_PRELOAD"] = with_library(env.get("LD_PRELOAD", ""), lib)
    except UsageError as e:
        print(f"betapool: error: {e}", file=sys.stderr)
        return 2
    for opt, var, _metavar, _meaning in OPTIONS:
        if var and opt in settings:
            env[var] = settings[opt]
    sys.stdout.flush()
    sys.stderr.flush()
    try:
        os.execvpe(command[0], command, env)
    except OSError as e:
        print(f"betapool: error: cannot run '{command[0]}': {e.strerror or e}", file=sys.stderr)
        return 127 if isinstance(e, FileNotFoundError) else 126


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
