"""A/B of two versions of steepest: the bare step loop and the Trainer, alternated per round.

    git worktree add /tmp/old <commit>
    .venv/bin/python bench/ab_versions.py /tmp/old/src src --rounds 8

Each round runs one fresh process per version (MLP 784-256-10, float32, momentum, batches 64
and 256, one epoch of the training set for the bare loop, 54,000 rows for the Trainer) and
prints the best throughput of each over the rounds: on this noisy VM the best of several
alternated rounds is steadier than a median. Both versions must be importable from a src
folder; versions before the contract refactor used the private call, newer ones the public one.
"""
import argparse
import json
import subprocess
import sys

import numpy as np

CODE = r"""
import json, sys, time
import numpy as np, steepest
from steepest.data import load_dataset
from steepest.optim import Momentum

ds = load_dataset("mnist", data_dir=sys.argv[1])
X = (ds.X_train - ds.X_train.mean(axis=0)).astype(np.float32)
y = ds.y_train
perm = np.random.default_rng(0).permutation(X.shape[0])
new = hasattr(steepest, "bind")


def bare(b):
    model = steepest.mlp([784, 256, 10])
    theta = model.init_params(0, dtype=np.float32)
    opt = Momentum(lr=0.01, mu=0.9)
    state, grad, rng = opt.init(theta), np.empty_like(theta), np.random.default_rng(0)
    if not new:
        ctx = model._context(True, rng, True)
    n = (X.shape[0] // b) * b
    t0 = time.perf_counter()
    for i in range(0, n, b):
        idx = perm[i : i + b]
        if new:
            model.loss_and_grad(theta, X[idx], y[idx], train=True, rng=rng, out=grad,
                                validate=False)
        else:
            model._loss_and_grad(theta, X[idx], y[idx], ctx, out=grad)
        state = opt.step(theta, grad, state)
    return n / (time.perf_counter() - t0)


def trainer(b):
    from steepest.train import Trainer

    if new:
        from steepest.train import TrainSettings as Settings
    else:
        from steepest.config import TrainConfig as Settings
    model = steepest.mlp([784, 256, 10])
    res = Trainer(model, Momentum(lr=0.01, mu=0.9), X[:54000], y[:54000], X[54000:],
                  y[54000:], Settings(epochs=1, batch_size=b, dtype="float32")).run()
    return 54000 / res.seconds


print(json.dumps({b: [bare(b), trainer(b)] for b in (64, 256)}))
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("old")
    parser.add_argument("new")
    parser.add_argument("--rounds", type=int, default=8)
    parser.add_argument("--data-dir", default="../shared/data/mnist")
    args = parser.parse_args()
    res = {"old": [], "new": []}
    for _ in range(args.rounds):
        for which, path in (("old", args.old), ("new", args.new)):
            out = subprocess.run([sys.executable, "-c", CODE, args.data_dir],
                                 env={"PYTHONPATH": path, "PATH": "/usr/bin"},
                                 capture_output=True, text=True, check=True).stdout
            res[which].append(json.loads(out))
    for which, path in (("old", args.old), ("new", args.new)):
        for b in ("64", "256"):
            bare = np.max([r[b][0] for r in res[which]])
            tr = np.max([r[b][1] for r in res[which]])
            print(f"{which} ({path}) batch {b}: bare {bare:,.0f}/s  Trainer {tr:,.0f}/s  "
                  f"Trainer/bare {tr / bare:.2f}")


if __name__ == "__main__":
    main()
