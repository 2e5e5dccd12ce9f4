"""The ``gbmtl`` command: ``demo`` and ``tune``."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = argparse.ArgumentParser(prog="gbmtl", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    demo = sub.add_parser("demo", help="fit with and without sharing on a synthetic table")
    demo.add_argument("--n-samples", type=int, default=20_000)
    demo.add_argument("--random-state", type=int, default=0)
    demo.add_argument("--quiet", action="store_true", help="no progress bars")
    sub.add_parser("tune", help="joint hyperparameter sweep (see `gbmtl tune --help`)",
                   add_help=False)
    if argv and argv[0] == "tune":
        from gbmtl.tuning._cli import tune_main

        return tune_main(argv[1:])
    args = parser.parse_args(argv)
    if args.command == "demo":
        from gbmtl.demo import run_demo

        run_demo(n_samples=args.n_samples, random_state=args.random_state,
                 verbose=0 if args.quiet else 1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
