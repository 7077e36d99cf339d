"""Benchmark: a 51x51 loss surface of the MNIST MLP 784-256-10 on 10,000 test examples.

steepest's batched evaluation (``steepest.landscape.compute``: shared first-layer products,
stacked points, row blocks), in this process and with local worker processes, against the
naive method in PyTorch CPU eager: for each of the 2,601 points set the weights
``theta + a d1 + b d2`` and run the whole forward pass. Same weights, same filter-normalized
directions, same examples; the two loss surfaces are compared. Peak memory is the peak
resident set size of the process (and of the worker processes).

Run: ``STEEPEST_MNIST_DIR=../shared/data/mnist .venv/bin/python bench/landscape.py``
(``--naive-points N`` times the naive method on N points and extrapolates to the grid).
"""

from __future__ import annotations

import argparse
import os
import resource
import time

import numpy as np

import steepest
from steepest.data import load_dataset
from steepest.landscape import compute, grid_coords, random_direction


def peak_mb(who=resource.RUSAGE_SELF) -> float:
    return resource.getrusage(who).ru_maxrss / 1024


def naive_torch(model, theta, d1, d2, X, y, coords, torch):
    """The naive method: per point, copy the weights into nn.Linear layers and run forward."""
    torch.set_grad_enabled(False)
    net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                              torch.nn.Linear(256, 10))
    base = [torch.tensor(np.stack([theta, d1, d2])[:, s.slice].astype(np.float32))
            for s in model.layout]
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)
    params = [net[0].weight, net[0].bias, net[2].weight, net[2].bias]
    loss = np.empty(len(coords))
    acc = np.empty(len(coords))
    for i, (a, b) in enumerate(coords):
        for p, basis, spec in zip(params, base, model.layout):
            w = (basis[0] + a * basis[1] + b * basis[2]).reshape(spec.shape)
            p.copy_(w.T if w.ndim == 2 else w)  # nn.Linear stores W as (out, in)
        scores = net(Xt)
        loss[i] = float(torch.nn.functional.cross_entropy(scores, yt))
        acc[i] = float((scores.argmax(1) == yt).float().mean())
    return loss, acc


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("STEEPEST_MNIST_DIR"))
    parser.add_argument("--grid", type=int, default=51)
    parser.add_argument("--naive-points", type=int, default=None,
                        help="time the naive method on this many points only")
    args = parser.parse_args()
    import torch

    ds = load_dataset("mnist", data_dir=args.data_dir, download=args.data_dir is None)
    X, y = ds.X_test[:10000].astype(np.float32), ds.y_test[:10000]
    model = steepest.mlp([784, 256, 10])
    # weights after one epoch of training, so the surface is that of a real (if young) model
    from steepest.optim import Momentum
    from steepest.train import Trainer, TrainSettings

    res = Trainer(model, Momentum(lr=0.05, mu=0.9), ds.X_train[:55000], ds.y_train[:55000],
                  ds.X_train[55000:], ds.y_train[55000:],
                  TrainSettings(epochs=1, batch_size=128)).run()
    theta = res.theta.astype(np.float64)
    rng = np.random.default_rng(0)
    d1 = random_direction(theta, model.layout, rng, "filter")
    d2 = random_direction(theta, model.layout, rng, "filter")
    xs = np.linspace(-1, 1, args.grid)
    coords = grid_coords(xs, xs)
    n = coords.shape[0]
    print(f"{args.grid}x{args.grid} = {n} points, MLP 784-256-10 (test acc "
          f"{res.val_acc:.3f} after one epoch), {X.shape[0]} examples, {os.cpu_count()} cores, "
          f"torch {torch.__version__} ({torch.get_num_threads()} threads)")
    rss0 = peak_mb()

    t0 = time.perf_counter()
    ours1, acc1, _ = compute(model, theta, X, y, d1, d2, coords, workers=1)
    t_one = time.perf_counter() - t0
    rss_one = peak_mb()
    t0 = time.perf_counter()
    ours, acc, info = compute(model, theta, X, y, d1, d2, coords, workers=None)
    t_par = time.perf_counter() - t0
    rss_workers = peak_mb(resource.RUSAGE_CHILDREN)

    k = n if args.naive_points is None else min(args.naive_points, n)
    idx = np.linspace(0, n - 1, k).astype(int)
    t0 = time.perf_counter()
    naive, naive_acc = naive_torch(model, theta, d1, d2, X, y, coords[idx], torch)
    t_naive = (time.perf_counter() - t0) * n / k
    rel = np.max(np.abs(ours[idx] - naive) / np.abs(naive))

    est = "" if k == n else f" (timed on {k} points, extrapolated)"
    print(f"\n{'method':44s} {'seconds':>9s} {'speed-up':>9s}")
    print(f"{'naive PyTorch eager, point by point' + est:44s} {t_naive:9.1f} {'1.0x':>9s}")
    print(f"{'steepest, in-process':44s} {t_one:9.1f} {t_naive / t_one:8.1f}x")
    print(f"{'steepest, ' + str(os.cpu_count()) + ' worker processes':44s} {t_par:9.1f} "
          f"{t_naive / t_par:8.1f}x")
    same_acc = np.mean(np.abs(acc[idx] - naive_acc) <= 1.5 / X.shape[0])
    print(f"\nmax relative difference of the loss, steepest vs PyTorch: {rel:.2e}; accuracy "
          f"within one example on {same_acc:.1%} of the points; in-process vs workers: "
          f"{np.max(np.abs(ours - ours1) / np.abs(ours1)):.1e} (BLAS summation order)")
    print(f"peak memory (resident set): {rss0:.0f} MB before the surfaces (data, model, torch),"
          f" {rss_one:.0f} MB after the in-process one (+{rss_one - rss0:.0f} MB); a forked "
          f"worker peaked at {rss_workers:.0f} MB, most of it pages shared with the parent")
    print(f"min loss on the grid {np.nanmin(ours):.4f} at the center {ours[n // 2]:.4f}")


if __name__ == "__main__":
    main()
