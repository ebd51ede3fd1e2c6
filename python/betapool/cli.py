"""The `betapool` command: one command, a sub-command for what you want.

    betapool run [options] -- PROGRAM [ARGS...]   run PROGRAM under betapool
    betapool run [options] app.py [ARGS...]       the same for a Python script
    betapool summary LOG                          per thread, over time, decisions
    betapool decisions LOG                        the controller's timeline
    betapool plot LOG -o run.svg|run.html         the run drawn
    betapool trace LOG -o trace.json              Chrome trace-event JSON (Perfetto)
    betapool top LOG                              a live view of a running program

`python -m betapool app.py ARGS` is `betapool run app.py ARGS`.

This module is the command line of the reports: their arguments, reading
the log, writing the output, messages and exit statuses (0 done, 2 the log
cannot be used or bad usage). What each report says is in report, plot,
trace and top; `run` has its own parser (run.py).
"""
import argparse
import functools
import json
import os
import sys

from . import __version__, plot, report, run, top, trace
from .reader import LogError, pick_runs, read_log, stderr_warning

COMMANDS = ("run", "summary", "decisions", "plot", "trace", "top")


# -- the commands ------------------------------------------------------------

def cmd_summary(args):
    runs = read_log(args.log, args.warn)
    data = [report.summary_data(n, len(runs), r) for n, r in pick_runs(runs, args.run)]
    if args.json:
        print(json.dumps({"format": report.JSON_FORMAT, "log": args.log, "runs": data},
                         indent=1))
    else:
        limit = None if args.all else 20
        print("\n\n".join(report.summary_text(d, limit) for d in data))
    return 0


def cmd_decisions(args):
    runs = read_log(args.log, args.warn)
    chosen = pick_runs(runs, args.run)
    if args.json:
        data = [report.decisions_data(n, len(runs), r) for n, r in chosen]
        print(json.dumps({"format": report.JSON_FORMAT, "log": args.log, "runs": data},
                         indent=1))
    else:
        print(report.decisions_text(chosen, len(runs)))
    return 0


def cmd_plot(args):
    low = args.output.lower()
    if not low.endswith(plot.FORMATS):
        raise LogError(f"cannot tell the format of {args.output}: name it .svg or .html")
    runs = read_log(args.log, args.warn)
    if args.run is None and len(runs) > 1:
        print(f"{args.prog}: {args.log} holds {len(runs)} runs; plotting run 1 "
              "(choose another with --run N)", file=sys.stderr)
    number, one = pick_runs(runs, args.run or 1)[0]
    text = plot.document(one, number, len(runs), log_name(args.log),
                         html=not low.endswith(".svg"))
    write(args.output, text)
    return 0


def cmd_trace(args):
    runs = read_log(args.log, args.warn)
    doc = trace.document(runs, pick_runs(runs, args.run), log_name(args.log))
    text = json.dumps(doc, separators=(",", ":"), ensure_ascii=True)
    if args.output == "-":
        print(text)
    else:
        write(args.output, text + "\n")
    return 0


def cmd_top(args):
    return top.follow(args.log, once=args.once, sort=args.sort, rows=args.rows,
                      wait=args.wait, no_clear=args.no_clear, prog=args.prog)


def log_name(path):
    return "standard input" if path == "-" else os.path.basename(path)


def write(path, text):
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
    except OSError as e:
        raise LogError(f"cannot write {path}: {e.strerror or e}") from None


# -- their arguments ---------------------------------------------------------

def run_number(text):
    try:
        n = int(text)
    except ValueError:
        n = 0
    if n < 1:
        raise argparse.ArgumentTypeError(f"not a run number: {text!r}")
    return n


def add_report_commands(sub):
    """The commands over a log, as sub-commands of `betapool` (argparse)."""
    def log_arg(p, text="the log file ('-' for standard input)"):
        p.add_argument("log", metavar="LOG", help=text)

    p = sub.add_parser("summary", help="per-thread table, the process over time, decisions",
                       description="Summarise a betapool log: per-thread totals, the process "
                       "over time, the controller's decisions, notes.")
    log_arg(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object, for scripts (default: text)")
    p.add_argument("--all", action="store_true",
                   help="list every thread (default: the 20 longest-lived)")
    p.add_argument("--run", type=run_number, metavar="N", help="only run N, from 1 (default: all)")
    p.set_defaults(func=cmd_summary)

    p = sub.add_parser("decisions", help="the controller's decisions, one a line",
                       description="List the controller's decisions with their reasons.")
    log_arg(p)
    p.add_argument("--json", action="store_true",
                   help="one JSON object holding every decision record, for scripts "
                        "(default: text)")
    p.add_argument("--run", type=run_number, metavar="N", help="only run N, from 1 (default: all)")
    p.set_defaults(func=cmd_decisions)

    p = sub.add_parser("plot", help="draw a run over time as SVG (or HTML holding it)",
                       description="Draw one run over time: threads, K, parked, GIL wait "
                       "share, beta_io against the danger line, vetoes, time on one CPU.")
    log_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="FILE.svg, or FILE.html for a page holding the SVG (required)")
    p.add_argument("--run", type=run_number, metavar="N",
                   help="which run to draw, from 1 (default: 1)")
    p.set_defaults(func=cmd_plot)

    p = sub.add_parser("trace", help="Chrome trace-event JSON for Perfetto or chrome://tracing",
                       description="Write a log as Chrome trace-event JSON: per thread how its "
                       "time split in each interval, K, parked and beta_io as counters, "
                       "decisions as instant events. Open it in ui.perfetto.dev or "
                       "chrome://tracing.")
    log_arg(p)
    p.add_argument("-o", "--output", required=True, metavar="FILE",
                   help="the JSON file to write, '-' for standard output (required)")
    p.add_argument("--run", type=run_number, metavar="N",
                   help="only run N, from 1 (default: every run, one process each)")
    p.set_defaults(func=cmd_trace)

    p = sub.add_parser("top", help="a live view of a running program, from its log",
                       description="Follow the log of a program running under betapool and "
                       "redraw at every interval: the process line and the busiest threads. "
                       "Ends with the run's exit record; on a finished log, prints it once.")
    log_arg(p, "the log the program writes (BETAPOOL_LOG, betapool run -o); waited for if "
               "it does not exist yet")
    p.add_argument("--once", action="store_true",
                   help="print the latest interval once and exit (default: follow)")
    p.add_argument("--sort", choices=sorted(top.SORTS), default="held",
                   help="rank the threads by this share of the interval (default: held)")
    p.add_argument("--rows", type=run_number, metavar="N",
                   help="show at most N threads (default: what fits the terminal; 20 "
                        "when not a terminal)")
    p.add_argument("--wait", type=float, metavar="S",
                   help="give up if no log has appeared after S seconds (default: wait)")
    p.add_argument("--no-clear", action="store_true",
                   help="print frames one after another even on a terminal (default: redraw)")
    p.set_defaults(func=cmd_top)


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
    # `run` is parsed by run.py (its program's arguments are not ours); it is
    # here so that --help lists it.
    sub.add_parser("run", add_help=False,
                   help="run a program (or app.py) with the library preloaded; "
                        f"`{prog} run --help` lists its options")
    add_report_commands(sub)
    return ap


def run_report(args, prog):
    """Runs one report; LogError and a closed pipe become exit statuses."""
    args.prog = prog
    args.warn = functools.partial(stderr_warning, prog=prog)
    try:
        sys.stdout.reconfigure(errors="backslashreplace")
    except (AttributeError, ValueError):
        pass
    try:
        return args.func(args)
    except LogError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except BrokenPipeError:
        # The reader went away (`| head`): not an error of ours.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0


def main(argv=None, prog="betapool", implicit_run=False):
    """Runs the command line `prog argv...`. With implicit_run (python -m
    betapool, scripts/betapool), arguments that do not start with a
    sub-command are `run`'s: `python -m betapool app.py`."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] == "run":
        return run.main(argv[1:], prog=f"{prog} run")
    if implicit_run and argv and argv[0] not in COMMANDS \
            and argv[0] not in ("-h", "--help", "--version"):
        status = run.main(argv, prog=prog)
        if status == 127 and not argv[0].startswith("-") and os.sep not in argv[0]:
            print(f"{prog}: '{argv[0]}' is neither a command ({', '.join(COMMANDS)}) nor a "
                  "program", file=sys.stderr)
        return status
    return run_report(parser(prog).parse_args(argv), prog)
