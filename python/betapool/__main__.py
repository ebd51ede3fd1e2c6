"""`python -m betapool app.py ARGS`: run app.py under betapool, as
`python -m cProfile app.py` profiles it; `python -m betapool COMMAND ...` is
`betapool COMMAND ...`."""
import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main(prog="python -m betapool", implicit_run=True))
