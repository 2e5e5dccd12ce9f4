"""``gbmtl tune CONFIG.toml``: run (or join, or resume) a tuning study from a TOML config.

Start the same command in several processes (or machines, with a PostgreSQL storage) to share
one study; each stops once the study holds ``--n-trials`` finished trials.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

__all__ = ["tune_main", "build_parser"]

_PRUNERS = ("none", "median", "hyperband", "successive_halving")
_SAMPLERS = ("tpe", "random", "nsga2")


def build_parser(prog: str = "gbmtl tune") -> argparse.ArgumentParser:
    """The argument parser of the ``tune`` command."""
    p = argparse.ArgumentParser(
        prog=prog,
        description="Tune a multi-task booster from a TOML config; workers sharing --storage "
        "and --study cooperate on one study, and re-running resumes it.",
    )
    p.add_argument("config", help="TOML config (data, tasks, estimator, tuner, search_space)")
    p.add_argument("--storage", help="None (in memory), sqlite:///f.db, journal:///f.log, "
                   "postgresql://user@host:port/db; overrides [tuner] storage")
    p.add_argument("--study", help="study name; overrides [tuner] study")
    p.add_argument("--n-trials", type=int, help="finished trials the study should hold in total")
    p.add_argument("--timeout", type=float, help="stop starting trials after this many seconds")
    p.add_argument("--n-jobs", type=int, help="parallel trials (threads) in this process")
    p.add_argument("--seed", type=int, help="seed of the folds and the sampler")
    p.add_argument("--heartbeat-interval", type=int,
                   help="seconds between heartbeats of a running trial (database storages)")
    p.add_argument("--grace-period", type=int,
                   help="seconds without heartbeat before a running trial is failed and retried")
    p.add_argument("--refit", action="store_true",
                   help="refit the best parameters on all rows when done (off: workers only tune)")
    p.add_argument("--output", help="write best parameters and scores to this JSON file")
    p.add_argument("-v", "--verbose", action="count", default=0, help="log progress (-vv: more)")
    return p


def _pruner(name: str):
    import optuna

    if name not in _PRUNERS:
        raise ValueError(f"[tuner] pruner: expected one of {_PRUNERS}, got {name!r}")
    return {
        "none": lambda: None,
        "median": lambda: optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=0),
        "hyperband": optuna.pruners.HyperbandPruner,
        "successive_halving": optuna.pruners.SuccessiveHalvingPruner,
    }[name]()


def _sampler(name: str, seed):
    import optuna

    if name not in _SAMPLERS:
        raise ValueError(f"[tuner] sampler: expected one of {_SAMPLERS}, got {name!r}")
    if name == "tpe":
        return None  # the tuner's default (seeded per worker)
    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    return optuna.samplers.NSGAIISampler(seed=seed)


class _NoStack(logging.Filter):
    """Drops the traceback that Optuna logs with a failed trial: the command then reports the
    error in one line (shown with its stack by ``--traceback`` or ``-v``), not twice."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.exc_info = None
        record.exc_text = None
        return True


def tune_main(argv: list[str] | None = None, *, show_stack: bool = False) -> int:
    """Entry point of ``gbmtl tune`` (and ``python -m gbmtl.tuning``); returns the exit code.

    ``show_stack`` (``gbmtl --traceback``) keeps the traceback of a failed trial in the log."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    import optuna

    optuna.logging.set_verbosity(optuna.logging.INFO if args.verbose > 1 else optuna.logging.WARNING)
    # Optuna logs through its own handler (on the "optuna" logger, records from its modules):
    # a filter there, or on the root handlers where it propagates, sees every trial's record.
    handlers = logging.getLogger("optuna").handlers + logging.getLogger().handlers
    quiet_stack = _NoStack()
    if not (show_stack or args.verbose):
        for handler in handlers:
            handler.addFilter(quiet_stack)
    try:
        return _tune(args)
    finally:
        for handler in handlers:
            handler.removeFilter(quiet_stack)


def _tune(args) -> int:
    from gbmtl.tuning._config import load_config
    from gbmtl.tuning._storage import make_storage
    from gbmtl.tuning._tuner import MultiTaskTuner

    log = logging.getLogger("gbmtl")
    log.info("reading %s and its data", args.config)
    config = load_config(args.config)
    log.info("%d rows, %d features, tasks %s", len(config.X), config.X.shape[1],
             list(config.Y.columns))
    opts = config.tuner
    seed = args.seed if args.seed is not None else opts.get("seed", 0)
    storage_url = args.storage if args.storage is not None else opts.get("storage")
    if storage_url in ("", "none", "memory"):
        storage_url = None
    heartbeat = args.heartbeat_interval or opts.get("heartbeat_interval", 60)
    grace = args.grace_period or opts.get("grace_period")
    storage = make_storage(storage_url, heartbeat_interval=heartbeat, grace_period=grace)
    tuner = MultiTaskTuner(
        config.estimator,
        n_trials=args.n_trials if args.n_trials is not None else opts.get("n_trials", 50),
        timeout=args.timeout if args.timeout is not None else opts.get("timeout"),
        objective=opts.get("objective", "weighted"),
        weights=opts.get("weights"),
        search_space=config.search_space,
        cv=opts.get("cv", 3),
        storage=storage,
        study_name=args.study if args.study is not None else opts.get("study"),
        sampler=_sampler(opts.get("sampler", "tpe"), seed),
        pruner=_pruner(opts.get("pruner", "none")),
        n_jobs=args.n_jobs if args.n_jobs is not None else opts.get("n_jobs", 1),
        random_state=seed,
        refit=args.refit,
    )
    tuner.fit(config.X, config.Y)
    study = tuner.study_
    states: dict[str, int] = {}
    for t in study.get_trials(deepcopy=False):
        states[t.state.name] = states.get(t.state.name, 0) + 1
    summary = {
        "study": study.study_name,
        "trials": states,
        "best_trial": tuner.best_trial_.number,
        "best_score": tuner.best_score_,
        "best_task_scores": {k: float(v) for k, v in tuner.best_task_scores_.items()},
        "best_params": tuner.best_params_,
    }
    text = json.dumps(summary, indent=2, default=str)
    if args.output:
        with open(args.output, "w") as f:
            f.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 0
