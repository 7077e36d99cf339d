"""Benchmark: hyperparameter search strategies on an MNIST subset, in the same run.

A 40-trial search of the learning rate and the L2 strength (both log-uniform) for an MLP
784-128-10 trained 8 epochs on 10,000 MNIST training images (5,000 held out for validation):

1. random sampling without pruning against TPE with Hyperband pruning, same budget: wall time,
   best validation accuracy, and the time each needed to reach a best accuracy within 0.5
   points of the better of the two final bests (the trials' own start and end times);
2. two local worker processes against one (random sampling, 16 trials): trials per minute.

Run: ``STEEPEST_MNIST_DIR=../shared/data/mnist .venv/bin/python bench/tune.py``
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from pathlib import Path

import optuna

from steepest.tune import parse_space, run_search

SPACE = {"optim.lr": {"low": 1e-4, "high": 1.0, "log": True},
         "model.reg": {"low": 1e-7, "high": 1e-1, "log": True}}


optuna.logging.set_verbosity(optuna.logging.ERROR)


def base(data_dir):
    return {"data": {"name": "mnist", "data_dir": data_dir, "train_subset": 10000,
                     "val_fraction": 1 / 12, "preprocess": "center"},
            "model": {"hidden": [128]},
            "optim": {"name": "momentum"},
            "train": {"epochs": 8, "batch_size": 128, "eval_train_size": 500}}


def timeline(res):
    """(seconds since the first trial started, best value so far) after each finished trial."""
    trials = optuna.load_study(study_name=res.study_name,
                               storage=res.storage).get_trials(deepcopy=False)
    t0 = min(t.datetime_start for t in trials)
    done = sorted((t for t in trials if t.datetime_complete is not None),
                  key=lambda t: t.datetime_complete)
    best, out = float("-inf"), []
    for t in done:
        if t.state.name == "COMPLETE":
            best = max(best, t.value)
        out.append(((t.datetime_complete - t0).total_seconds(), best))
    return out


def time_to(line, target):
    return next((s for s, b in line if b >= target), float("inf"))


def report(runs):
    """Wall time, best accuracy, and the time to a best within 0.5 points of random search's."""
    (r_res, r_wall, r_line), (t_res, t_wall, t_line) = runs.values()
    target = r_res.best_value - 0.005
    print(f"   {'method':22s} {'wall s':>8s} {'best val acc':>13s} {'pruned':>7s} "
          f"{'s to best >= ' + format(target, '.4f'):>22s}")
    for label, (res, wall, line) in runs.items():
        print(f"   {label:22s} {wall:8.1f} {res.best_value:13.4f} {res.pruned:7d} "
              f"{time_to(line, target):22.1f}")
    t_r, t_t = time_to(r_line, target), time_to(t_line, target)
    print(f"   random search's whole run / TPE+Hyperband's time to within 0.5 points of it: "
          f"{r_wall / t_t:.1f}x (random's own first time there: {t_r:.1f} s, {t_r / t_t:.1f}x)"
          f"; wall-time ratio {r_wall / t_wall:.2f}x")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("STEEPEST_MNIST_DIR"))
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--out", default="runs/bench-tune")
    args = parser.parse_args()
    out = Path(args.out)
    shutil.rmtree(out, ignore_errors=True)
    cfg = base(args.data_dir)
    space = parse_space(SPACE, base=cfg)

    print(f"1. {args.trials} trials of lr x L2 for MLP 784-128-10, 8 epochs on 10,000 MNIST "
          f"images (validation 5,000)")
    runs = {}
    for label, kw in (("random, no pruning", dict(sampler="random", pruner="none")),
                      ("TPE + Hyperband", dict(sampler="tpe", pruner="hyperband"))):
        t0 = time.perf_counter()
        res = run_search(space, cfg, out / label.split()[0].lower().strip(","),
                         trials=args.trials, seed=0, plots=False, **kw)
        runs[label] = (res, time.perf_counter() - t0, timeline(res))
    report(runs)

    print("\n2. local workers, random sampling, 16 trials")
    rates = {}
    for workers in (1, 2):
        t0 = time.perf_counter()
        res = run_search(space, cfg, out / f"workers{workers}", trials=16, workers=workers,
                         seed=1, plots=False)
        wall = time.perf_counter() - t0
        rates[workers] = res.trials / wall * 60
        print(f"   {workers} worker(s): {res.trials} trials in {wall:.1f} s = "
              f"{rates[workers]:.1f} trials/min")
    print(f"   two workers / one: {rates[2] / rates[1]:.2f}x on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
