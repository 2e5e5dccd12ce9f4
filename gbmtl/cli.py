"""The ``gbmtl`` command: ``demo`` and ``tune``.

Errors print one line and exit with status 1; ``--traceback`` shows the full stack."""

from __future__ import annotations

import argparse
import sys

from gbmtl._version import __version__


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="gbmtl", description="Multi-task gradient boosting: a demo and joint tuning.")
    parser.add_argument("--version", action="version", version=f"gbmtl {__version__}")
    parser.add_argument("--traceback", action="store_true",
                        help="on an error, show the full stack instead of one line")
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit with and without sharing on a synthetic table")
    demo.add_argument("--n-samples", type=int, default=8_000,
                      help="rows of the synthetic finance table, a quarter of them held out "
                           "for testing (default 8000)")
    demo.add_argument("--random-state", type=int, default=0,
                      help="seed of the table and the models (default 0)")
    demo.add_argument("--n-jobs", type=int, default=None,
                      help="threads per model (default: the cores other processes leave idle;"
                           " -1: all cores)")
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("tune", help="joint hyperparameter sweep (see `gbmtl tune --help`)",
                   add_help=False)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    show_stack = "--traceback" in argv
    if show_stack:
        argv.remove("--traceback")
    try:
        return _run(argv, show_stack)
    except KeyboardInterrupt:
        print("gbmtl: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - the command's one-line error, by design
        if show_stack:
            raise
        message = " ".join(str(exc).split())  # one line, whatever the library put in it
        print(f"gbmtl: error: {message} ({type(exc).__name__}; --traceback shows where)",
              file=sys.stderr)
        return 1


def _run(argv: list[str], show_stack: bool = False) -> int:
    if argv and argv[0] == "tune":
        from gbmtl.tuning._cli import tune_main

        return tune_main(argv[1:], show_stack=show_stack)
    args = _parser().parse_args(argv)
    if args.command == "demo":
        from gbmtl.demo import run_demo

        run_demo(n_samples=args.n_samples, random_state=args.random_state,
                 verbose=0 if args.quiet else 1, n_jobs=args.n_jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
