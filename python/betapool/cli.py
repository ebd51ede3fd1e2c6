"""The `betapool` command: one command, a sub-command for what you want.

    betapool run [options] -- PROGRAM [ARGS...]   run PROGRAM under betapool
    betapool run [options] app.py [ARGS...]       the same for a Python script
    betapool summary LOG                          per thread, over time, decisions
    betapool decisions LOG                        the controller's timeline
    betapool plot LOG -o run.svg|run.html         the run drawn
    betapool trace LOG -o trace.json              Chrome trace-event JSON (Perfetto)
    betapool top LOG                              a live view of a running program

`python -m betapool app.py ARGS` is `betapool run app.py ARGS`.
"""
import argparse
import os
import sys

from . import __version__, logtool, run, top, trace

COMMANDS = ("run", "summary", "decisions", "plot", "trace", "top")


def parser(prog):
    ap = argparse.ArgumentParser(
        prog=prog, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Measure how a Python program's threads share the GIL, and act on it "
                    "(libbetapool.so, preloaded).",
        epilog="Each command has its own --help, listing its options with their defaults.\n"
               f"`python -m betapool app.py ARGS` is `{prog} run app.py ARGS`.")
    ap.add_argument("--version", action="version", version=f"betapool {__version__}")
    sub = ap.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    # `run` is parsed by run.parse (its program's arguments are not ours);
    # it is here so that --help lists it.
    sub.add_parser("run", add_help=False,
                   help="run a program (or app.py) with the library preloaded; "
                        f"`{prog} run --help` lists its options")
    logtool.add_commands(sub)
    trace.add_command(sub)
    top.add_command(sub)
    return ap


def main(argv=None, prog="betapool", implicit_run=False):
    """Runs the command line `prog argv...`. With implicit_run (python -m
    betapool, scripts/betapool), arguments that do not start with a
    sub-command are `run`'s: `python -m betapool app.py`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    logtool.PROG = prog
    if argv and argv[0] == "run":
        return run.main(argv[1:], prog=f"{prog} run")
    if implicit_run and argv and argv[0] not in COMMANDS \
            and argv[0] not in ("-h", "--help", "--version"):
        status = run.main(argv, prog=prog)
        if status == 127 and not argv[0].startswith("-") and os.sep not in argv[0]:
            print(f"{prog}: '{argv[0]}' is neither a command ({', '.join(COMMANDS)}) nor a "
                  "program", file=sys.stderr)
        return status
    args = parser(prog).parse_args(argv)
    return logtool.run_command(args.func, args)
