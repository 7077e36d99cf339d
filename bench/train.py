"""Benchmark: training quality on real MNIST and training speed against PyTorch CPU eager.

1. Accuracy on the MNIST test set: a softmax linear classifier and an MLP 784-256-10 trained by
   ``steepest.runs.train_run`` (the same code as ``steepest train``), 20 epochs or fewer.
2. Throughput of one training epoch of the MLP 784-256-10 (float32, softmax, momentum 0.9,
   lr 0.01) at batch 64 and 256: steepest's step (gather the batch, loss_and_grad, update)
   against the same loop in PyTorch 2.13 eager (``nn.Sequential``, ``cross_entropy``,
   ``backward``, ``optim.SGD(momentum=0.9)``), interleaved, same data, same batch order.
   Also the full steepest Trainer (with its per-epoch evaluation and monitors), and the
   achieved FLOP/s as a fraction of this machine's float32 large-matrix-product FLOP/s,
   measured in the same run.

Run: ``STEEPEST_MNIST_DIR=../shared/data/mnist .venv/bin/python bench/train.py``
(``--quick`` skips the accuracy runs; ``--repeat N`` sets the throughput repetitions).
"""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import numpy as np

import steepest
from steepest.config import parse_config
from steepest.data import load_dataset
from steepest.optim import Momentum
from steepest.runs import train_run

D, H, C = 784, 256, 10


def step_flops(b: int) -> float:
    """FLOPs of one training step of the 784-256-10 MLP on a batch of b (multiply-adds x 2):
    forward x W1 and h W2; backward dW2 = h^T d, dh = d W2^T, dW1 = x^T dh (no dx)."""
    return 2.0 * b * (D * H + H * C) + 2.0 * b * (H * C + C * H + D * H)


def peak_flops(n: int = 2048, repeat: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeat))
    return 2.0 * n**3 / best


def _timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def accuracy_runs(data_dir: str, out: Path):
    rows = []
    base = {"data": {"name": "mnist", "data_dir": data_dir, "val_fraction": 1 / 12,
                     "preprocess": "center"},
            "train": {"batch_size": 128, "seed": 0}}
    cases = {
        # chosen among five recipes by validation accuracy (see docs/benchmarks.md)
        "softmax linear classifier": {
            "data": {"preprocess": "standardize"},
            "model": {"hidden": [], "reg": 1e-4},
            "optim": {"name": "momentum", "lr": 0.005, "momentum": 0.9,
                      "schedule": {"kind": "cosine"}},
            "train": {"epochs": 20},
        },
        "MLP 784-256-10 (ReLU, He)": {
            "model": {"hidden": [256], "reg": 5e-5},
            "optim": {"name": "momentum", "lr": 0.05, "momentum": 0.9,
                      "schedule": {"kind": "cosine"}},
            "train": {"epochs": 20},
        },
    }
    for name, case in cases.items():
        cfg_dict = {k: {**base.get(k, {}), **case.get(k, {})} for k in
                    ("data", "model", "optim", "train")}
        cfg = parse_config(cfg_dict)
        res = train_run(cfg, out / name.split()[0].lower(), plots=False)
        rows.append((name, res))
        print(f"  {name:30s} test accuracy {res.test_acc:.4f}  (val {res.val_acc:.4f}, "
              f"{res.epochs} epochs, best epoch {res.best_epoch}, {res.seconds:.1f} s)")
    return rows


def ours_epoch(X, y, perm, b, lr=0.01):
    model = steepest.mlp([D, H, C])
    theta = model.init_params(0, dtype=np.float32)
    opt = Momentum(lr=lr, mu=0.9)
    state = opt.init(theta)
    grad = np.empty_like(theta)
    rng = np.random.default_rng(0)
    n = (X.shape[0] // b) * b
    t0 = time.perf_counter()
    for i in range(0, n, b):
        idx = perm[i : i + b]
        # the contract's call, with the MLP's documented fast options (the Trainer's call)
        model.loss_and_grad(theta, X[idx], y[idx], train=True, rng=rng, out=grad,
                            validate=False)
        state = opt.step(theta, grad, state)
    return n / (time.perf_counter() - t0)


def torch_epoch(Xt, yt, perm_t, b, torch, lr=0.01):
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Linear(D, H), torch.nn.ReLU(), torch.nn.Linear(H, C))
    opt = torch.optim.SGD(net.parameters(), lr=lr, momentum=0.9)
    F = torch.nn.functional
    n = (Xt.shape[0] // b) * b
    t0 = time.perf_counter()
    for i in range(0, n, b):
        idx = perm_t[i : i + b]
        opt.zero_grad()
        loss = F.cross_entropy(net(Xt[idx]), yt[idx])
        loss.backward()
        opt.step()
    return n / (time.perf_counter() - t0)


def trainer_epoch(X, y, Xv, yv, b):
    from steepest.train import Trainer, TrainSettings

    model = steepest.mlp([D, H, C])
    spec = TrainSettings(epochs=1, batch_size=b, dtype="float32")
    res = Trainer(model, Momentum(lr=0.01, mu=0.9), X, y, Xv, yv, spec).run()
    return X.shape[0] / res.seconds


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("STEEPEST_MNIST_DIR"))
    parser.add_argument("--quick", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--out", default=None,
                        help="where the accuracy runs go (default: a fresh temporary folder)")
    args = parser.parse_args()
    try:
        import torch
    except ImportError:
        torch = None
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}, "
          f"torch {torch.__version__ if torch else 'absent'} "
          f"({torch.get_num_threads() if torch else '-'} threads)")
    ds = load_dataset("mnist", data_dir=args.data_dir, download=args.data_dir is None)
    if not args.quick:
        print("\n1. accuracy on the MNIST test set (10,000 images)")
        import tempfile

        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-train-"))
        accuracy_runs(ds.source["dir"], out)

    print("\n2. training throughput, MLP 784-256-10, float32, momentum, one epoch of 60,000")
    peak = peak_flops()
    print(f"   this machine's float32 2048x2048 matrix product: {peak / 1e9:.1f} GFLOP/s")
    X = (ds.X_train - ds.X_train.mean(axis=0)).astype(np.float32)
    y = ds.y_train
    perm = np.random.default_rng(0).permutation(X.shape[0])
    print(f"   {'batch':>5s} {'steepest':>12s} {'torch eager':>12s} {'ratio':>7s} "
          f"{'steepest GFLOP/s':>17s} {'of peak':>8s} {'Trainer':>12s}")
    for b in (64, 256):
        ours, theirs = [], []
        for _ in range(args.repeat):
            ours.append(ours_epoch(X, y, perm, b))
            if torch is not None:
                theirs.append(torch_epoch(torch.from_numpy(X), torch.from_numpy(y),
                                          torch.from_numpy(perm), b, torch))
        o = float(np.median(ours))
        t = float(np.median(theirs)) if theirs else float("nan")
        gflops = o * step_flops(b) / b / 1e9
        tr = trainer_epoch(X[:54000], y[:54000], X[54000:], y[54000:], b)
        print(f"   {b:5d} {o:10,.0f}/s {t:10,.0f}/s {o / t:6.2f}x {gflops:17.1f} "
              f"{gflops * 1e9 / peak:7.0%} {tr:10,.0f}/s")
    print("   (samples per second, medians of --repeat interleaved epochs; 'Trainer' is the full "
          "steepest loop with per-epoch evaluation and monitors)")


if __name__ == "__main__":
    main()
