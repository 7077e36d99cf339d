"""Benchmark: a 51x51 loss surface of the LeNet (examples/lenet.py) on 10,000 MNIST test images.

Four ways to evaluate ``L(theta + a d1 + b d2)`` on the same grid, weights, filter-normalized
directions and images, each in its own process (so that its peak memory is its own):

- ``loss-landscape``: the per-point loop of Li et al.'s code (``net_plotter.set_weights`` then
  ``evaluation.eval_loss``): write ``w + a dx + b dy`` into the module's parameters, evaluate
  in batches of 128 under ``torch.no_grad()``, repeat. The images are given to it as one
  tensor (its DataLoader, which re-reads and re-transforms the images at every point, is left
  out: that favours the baseline);
- ``point-by-point``: steepest's generic evaluator, ``SurfaceEvaluator.evaluate_naive``
  (``TorchObjective.evaluate`` at each point);
- ``steepest``: ``SurfaceEvaluator.evaluate``, i.e. ``TorchObjective.points_evaluator``
  (data converted once, parameters of a chunk of points from one product, 16 MB row blocks);
- ``vmap``: ``torch.func.vmap`` of ``functional_call`` over stacked parameter sets of 8 points
  at a time, the alternative ``points_evaluator`` was measured against.

Weights: ``init_params(seed=0)`` (PyTorch's default initialization; the speed does not depend
on the weights), float32, the machine's torch threads. Printed: seconds, milliseconds per
point, the ratio to the baseline, the peak resident memory above the start of the evaluation
(``--memory-mb`` bounds steepest's blocks) and the largest loss difference to the baseline.

Run: ``STEEPEST_MNIST_DIR=/work/shared/data/mnist .venv/bin/python bench/torch_landscape.py``
(``--quick``: 11x11 on 2,000 images; ``--sample N``: time N grid points spread over the grid
and extrapolate to the whole grid).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
METHODS = ("loss-landscape", "point-by-point", "steepest", "vmap")


def li_direction(theta, obj, rng):
    """Li et al.'s filter-normalized random direction (``net_plotter``): per output channel of
    every weight tensor, a Gaussian rescaled to that channel's norm; biases and BatchNorm
    parameters zero (``--xignore biasbn``)."""
    d = rng.standard_normal(theta.size)
    for spec in obj.layout:
        dv = d[spec.slice].reshape(spec.shape)
        if spec.role != "weight":
            dv[...] = 0.0
            continue
        w = theta[spec.slice].reshape(spec.shape)
        for k in range(spec.shape[0]):
            dv[k] *= np.linalg.norm(w[k]) / (np.linalg.norm(dv[k]) + 1e-10)
    return d


def lenet():
    import steepest.torch as st

    return st.load_factory(f"{ROOT / 'examples' / 'lenet.py'}:make")


def setup(args):
    import steepest.torch as st
    from steepest.data import load_dataset

    ds = load_dataset("mnist", data_dir=os.environ.get("STEEPEST_MNIST_DIR"), download=False)
    X = ds.X_test[: args.examples]  # float32 in [0, 1]
    y = ds.y_test[: args.examples]
    obj = st.objective(lenet(), input_shape=(1, 28, 28))
    theta = obj.init_params(0).astype(np.float64)
    rng = np.random.default_rng(0)
    d1, d2 = li_direction(theta, obj, rng), li_direction(theta, obj, rng)
    axis = np.linspace(-1, 1, args.grid)
    coords = np.stack(np.meshgrid(axis, axis), axis=-1).reshape(-1, 2)
    if args.sample:
        coords = coords[np.linspace(0, len(coords) - 1, args.sample).round().astype(int)]
    return obj, theta, d1, d2, X, y, coords


def loss_landscape(obj, theta, d1, d2, X, y, coords, torch):
    """The baseline: set the weights of the module, evaluate in batches of 128, repeat."""
    import torch.nn.functional as F

    net = lenet()
    net.load_state_dict(obj.state_dict(theta.astype(np.float32)))
    net.eval()
    params = list(net.parameters())
    weights = [p.data.clone() for p in params]
    dx = [torch.tensor(d1[s.slice].reshape(s.shape), dtype=torch.float32) for s in obj.layout]
    dy = [torch.tensor(d2[s.slice].reshape(s.shape), dtype=torch.float32) for s in obj.layout]
    xt, yt = torch.from_numpy(X).reshape(-1, 1, 28, 28), torch.from_numpy(y)
    loss, acc = np.empty(len(coords)), np.empty(len(coords))
    for i, (a, b) in enumerate(coords):
        for p, w, u, v in zip(params, weights, dx, dy):  # net_plotter.set_weights
            p.data = w + (u * float(a) + v * float(b))
        total, correct = 0.0, 0
        with torch.no_grad():  # evaluation.eval_loss
            for j in range(0, len(xt), 128):
                out = net(xt[j:j + 128])
                total += F.cross_entropy(out, yt[j:j + 128]).item() * out.shape[0]
                correct += out.max(1)[1].eq(yt[j:j + 128]).sum().item()
        loss[i], acc[i] = total / len(xt), correct / len(xt)
    return loss, acc


def vmap_points(obj, theta, d1, d2, X, y, coords, torch, chunk=8, rows=512):
    """Stacked parameter sets of ``chunk`` points through ``vmap(functional_call)``."""
    import torch.nn.functional as F
    from torch.func import functional_call, vmap

    net = lenet().eval()
    basis = np.stack([theta, d1, d2])
    xt, yt = torch.from_numpy(X).reshape(-1, 1, 28, 28), torch.from_numpy(y)
    run = vmap(lambda p, xb: functional_call(net, p, (xb,)), in_dims=(0, None))
    C = np.concatenate([np.ones((len(coords), 1)), coords], axis=1)
    loss, acc = np.zeros(len(coords)), np.zeros(len(coords))
    with torch.inference_mode():
        for i in range(0, len(C), chunk):
            T = torch.from_numpy((C[i:i + chunk] @ basis).astype(np.float32))
            params = {s.name: T[:, s.slice].reshape(-1, *s.shape) for s in obj.layout}
            for j in range(0, len(xt), rows):
                out = run(params, xt[j:j + rows])  # (points, rows, classes)
                yb = yt[j:j + rows].expand(out.shape[0], -1)
                ce = F.cross_entropy(out.transpose(1, 2), yb, reduction="none").sum(1)
                loss[i:i + chunk] += ce.numpy()
                acc[i:i + chunk] += (out.argmax(2) == yb).sum(1).numpy()
    return loss / len(xt), acc / len(xt)


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def worker(args) -> dict:
    import torch

    from steepest.landscape import SurfaceEvaluator

    if args.threads:
        torch.set_num_threads(args.threads)
    obj, theta, d1, d2, X, y, coords = setup(args)
    ev = SurfaceEvaluator(obj, theta, X, y, d1, d2, memory_mb=args.memory_mb)
    ev.evaluate(coords[:1])  # warm-up (first-call initializations), for every method alike
    run = {"loss-landscape": lambda: loss_landscape(obj, theta, d1, d2, X, y, coords, torch),
           "point-by-point": lambda: ev.evaluate_naive(coords),
           "steepest": lambda: ev.evaluate(coords),
           "vmap": lambda: vmap_points(obj, theta, d1, d2, X, y, coords, torch)}[args.worker]
    try:  # reset the peak resident set size (Linux), so that the peak is this run's
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        start = rss_mb()
    except OSError:
        start = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    t0 = time.perf_counter()
    loss, acc = run()
    seconds = time.perf_counter() - t0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"method": args.worker, "seconds": seconds, "points": len(coords),
            "peak_mb": max(0.0, peak - start), "loss": loss.tolist(), "acc": acc.tolist(),
            "threads": torch.get_num_threads()}


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--grid", type=int, default=51)
    p.add_argument("--examples", type=int, default=10_000)
    p.add_argument("--quick", action="store_true", help="11x11 on 2,000 images")
    p.add_argument("--sample", type=int, default=0,
                   help="time this many grid points and extrapolate to the whole grid")
    p.add_argument("--memory-mb", type=float, default=256.0)
    p.add_argument("--methods", default=",".join(METHODS))
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (default: torch's choice, one per core)")
    p.add_argument("--worker", choices=METHODS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.quick:
        args.grid, args.examples = 11, 2000
    if args.worker:
        print(json.dumps(worker(args)))
        return
    total = args.grid**2
    print(f"LeNet, {args.grid}x{args.grid} surface on {args.examples} MNIST test images, "
          f"memory_mb={args.memory_mb:g}" + (f", {args.sample} points timed" if args.sample
                                             else ""))
    results = []
    for method in args.methods.split(","):
        cmd = [sys.executable, __file__, "--worker", method, "--grid", str(args.grid),
               "--examples", str(args.examples), "--memory-mb", str(args.memory_mb),
               "--sample", str(args.sample), "--threads", str(args.threads)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=True)
        results.append(json.loads(done.stdout.strip().splitlines()[-1]))
    base = results[0]
    print(f"{'method':<16}{'grid s':>10}{'ms/point':>10}{'speed-up':>10}{'peak MB':>9}"
          f"{'max |dL|':>11}{'max |dacc|':>11}")
    for r in results:
        per_point = r["seconds"] / r["points"]
        dl = np.abs(np.subtract(r["loss"], base["loss"])).max()
        da = np.abs(np.subtract(r["acc"], base["acc"])).max()
        print(f"{r['method']:<16}{per_point * total:>10.1f}{per_point * 1e3:>10.1f}"
              f"{base['seconds'] / r['seconds']:>9.2f}x{r['peak_mb']:>9.0f}{dl:>11.1e}"
              f"{da:>11.1e}")
    print(f"torch threads: {base['threads']}; grid seconds are extrapolated from "
          f"{base['points']} points" if args.sample else f"torch threads: {base['threads']}")


if __name__ == "__main__":
    main()
