"""Benchmark: the top-5 Hessian eigenvalues of the MNIST MLP 784-256-10 on 10,000 examples.

The weights are those after one epoch of training (``steepest.train.Trainer``, momentum SGD,
the same 10,000 training examples). Methods, each at float64 and float32:

- steepest: ``top_eigenvalues`` (ARPACK ``eigsh``) on the model's exact products (the
  R-operator, one forward pass kept for all of them); float32 through
  ``HessianOperator(..., precision="float32")``;
- steepest with the finite-difference products of before (float64 only, ``--no-fd`` skips);
- PyTorch Lanczos: ``scipy.sparse.linalg.eigsh`` on exact double-backward products of the same
  weights in an ``nn.Sequential`` (Linear/ReLU/Linear, W transposed), the gradient graph built
  once with ``create_graph`` and reused by every product;
- PyHessian's power iteration with deflation (``PyHessian.hessian.eigenvalues``, written out
  here on the same PyTorch products, its defaults ``maxIter=100``, ``tol=1e-3``).

The reference eigenvalues are PyTorch float64 products under ``eigsh`` with ``tol=1e-10``;
``max rel err`` is the largest relative error of the five against them (goal: 1e-6). Each
timed method runs ``--repeats`` times, interleaved; the minimum and the median are shown.

Run: ``STEEPEST_MNIST_DIR=../shared/data/mnist .venv/bin/python bench/hessian.py``
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

import steepest
from steepest.data import load_dataset
from steepest.landscape.curvature import HessianOperator, top_eigenvalues

K = 5


def trained_weights(ds, n_train: int):
    """The MLP and its weights after one epoch of momentum SGD on the first n_train rows."""
    from steepest.optim import Momentum
    from steepest.train import Trainer, TrainSettings

    model = steepest.mlp([784, 256, 10])
    res = Trainer(model, Momentum(lr=0.05, mu=0.9), ds.X_train[:n_train], ds.y_train[:n_train],
                  ds.X_train[55000:], ds.y_train[55000:],
                  TrainSettings(epochs=1, batch_size=128)).run()
    return model, res.theta.astype(np.float64), res.val_acc


# --------------------------------------------------------------------------- PyTorch
class TorchHessian:
    """Exact double-backward Hessian-vector products of the same network in PyTorch."""

    def __init__(self, model, theta, X, y, dtype, torch):
        self.torch, self.np_dtype = torch, np.dtype(str(dtype).split(".")[-1])
        views = model.params(theta)
        net = torch.nn.Sequential(torch.nn.Linear(784, 256), torch.nn.ReLU(),
                                  torch.nn.Linear(256, 10)).to(dtype)
        with torch.no_grad():
            for layer, name in ((net[0], "fc1"), (net[2], "fc2")):
                layer.weight.copy_(torch.tensor(views[f"{name}.W"].T))  # (out, in) in torch
                layer.bias.copy_(torch.tensor(views[f"{name}.b"]))
        self.params = list(net.parameters())
        loss = torch.nn.functional.cross_entropy(net(torch.tensor(X, dtype=dtype)),
                                                 torch.tensor(y))
        self.grads = torch.autograd.grad(loss, self.params, create_graph=True)
        self.sizes = [p.numel() for p in self.params]
        self.n = sum(self.sizes)
        self.count = 0

    def tensors(self, v):
        parts = np.split(np.asarray(v, dtype=self.np_dtype), np.cumsum(self.sizes)[:-1])
        return [self.torch.from_numpy(np.ascontiguousarray(c)).reshape(p.shape)
                for c, p in zip(parts, self.params)]

    def product(self, v) -> np.ndarray:
        self.count += 1
        hv = self.torch.autograd.grad(self.grads, self.params, grad_outputs=self.tensors(v),
                                      retain_graph=True)
        return self.torch.cat([h.reshape(-1) for h in hv]).numpy().astype(np.float64)


def torch_lanczos(model, theta, X, y, dtype, torch, tol=1e-6):
    h = TorchHessian(model, theta, X, y, dtype, torch)
    op = LinearOperator((h.n, h.n), matvec=h.product, dtype=np.float64)
    v0 = np.random.default_rng(0).standard_normal(h.n)
    vals = eigsh(op, k=K, which="LA", tol=tol, v0=v0, return_eigenvectors=False)
    return np.sort(vals)[::-1], h.count


def pyhessian_power(model, theta, X, y, dtype, torch, max_iter=100, tol=1e-3):
    """PyHessian's ``hessian.eigenvalues``: power iteration, deflating the eigenvectors found
    by Gram-Schmidt, stopping when the estimate changes by less than ``tol`` (relative)."""
    h = TorchHessian(model, theta, X, y, dtype, torch)
    rng = np.random.default_rng(0)
    values, vectors = [], []
    for _ in range(K):
        value = None
        v = rng.standard_normal(h.n)
        v /= np.linalg.norm(v)
        for _ in range(max_iter):
            for u in vectors:  # orthnormal(v, eigenvectors)
                v -= (v @ u) * u
            v /= np.linalg.norm(v)
            hv = h.product(v)
            estimate = float(hv @ v)
            v = hv / np.linalg.norm(hv)
            if value is not None and abs(value - estimate) / (abs(value) + 1e-6) < tol:
                value = estimate
                break
            value = estimate
        values.append(value)
        vectors.append(v)
    return np.array(values), h.count


# --------------------------------------------------------------------------- steepest
def steepest_lanczos(model, theta, X, y, precision, products=None):
    bound = steepest.bind(model, X, y)
    if precision == "float32":
        op = HessianOperator(bound, theta, precision="float32")
        res = top_eigenvalues(op, k=K)
    else:
        res = top_eigenvalues(bound, theta, k=K, products=products)
    return res.eigenvalues, res.n_hvp


def timed(fn, *args, **kwargs):
    t0 = time.perf_counter()
    vals, count = fn(*args, **kwargs)
    return vals, count, time.perf_counter() - t0


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    default_dir = os.environ.get("STEEPEST_MNIST_DIR") or str(
        Path(__file__).resolve().parents[2] / "shared" / "data" / "mnist")
    parser.add_argument("--data-dir", default=default_dir)
    parser.add_argument("--examples", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-fd", action="store_true", help="skip finite differences")
    parser.add_argument("--no-pyhessian", action="store_true", help="skip power iteration")
    args = parser.parse_args()
    import torch

    ds = load_dataset("mnist", data_dir=args.data_dir, download=False)
    model, theta, val_acc = trained_weights(ds, args.examples)
    X, y = ds.X_train[: args.examples].astype(np.float64), ds.y_train[: args.examples]
    X32 = X.astype(np.float32)
    print(f"MLP 784-256-10 after one epoch (val acc {val_acc:.3f}), {X.shape[0]} examples, "
          f"{theta.size} parameters, {os.cpu_count()} cores, torch {torch.__version__} "
          f"({torch.get_num_threads()} threads)")
    reference, ref_count = torch_lanczos(model, theta, X, y, torch.float64, torch, tol=1e-10)
    print(f"reference (torch float64, eigsh tol 1e-10, {ref_count} products): "
          + ", ".join(f"{v:.10g}" for v in reference))
    methods = {
        ("steepest exact", "float64"): lambda: timed(steepest_lanczos, model, theta, X, y,
                                                     "float64"),
        ("torch Lanczos", "float64"): lambda: timed(torch_lanczos, model, theta, X, y,
                                                    torch.float64, torch),
        ("steepest exact", "float32"): lambda: timed(steepest_lanczos, model, theta, X32, y,
                                                     "float32"),
        ("torch Lanczos", "float32"): lambda: timed(torch_lanczos, model, theta, X32, y,
                                                    torch.float32, torch),
    }
    once = {}
    if not args.no_fd:
        once[("steepest finite differences", "float64")] = lambda: timed(
            steepest_lanczos, model, theta, X, y, "float64", products="finite-differences")
    if not args.no_pyhessian:
        for width, dt, data in (("float64", torch.float64, X), ("float32", torch.float32, X32)):
            once[("PyHessian power iteration", width)] = (
                lambda dt=dt, data=data: timed(pyhessian_power, model, theta, data, y, dt, torch))
    report(run_all(methods, once, args.repeats), reference)


def run_all(methods, once, repeats):
    runs = {key: [] for key in list(methods) + list(once)}
    for _ in range(repeats):  # interleaved, so a noisy spell hits every method alike
        for key, fn in methods.items():
            runs[key].append(fn())
    for key, fn in once.items():
        runs[key].append(fn())
    return runs


def report(runs, reference):
    print(f"\n{'method':30s} {'width':8s} {'products':>8s} {'min s':>7s} {'median s':>8s} "
          f"{'max rel err':>11s} {'torch Lanczos / this':>20s}")
    best = {key: min(r[2] for r in rs) for key, rs in runs.items()}
    for (name, width), rs in runs.items():
        vals, count, _ = rs[-1]
        err = np.max(np.abs(np.sort(vals)[::-1] - reference) / np.abs(reference))
        times = [r[2] for r in rs]
        base = best.get(("torch Lanczos", width))
        speed = f"{base / best[(name, width)]:.2f}x" if base else "-"
        print(f"{name:30s} {width:8s} {count:8d} {min(times):7.2f} "
              f"{statistics.median(times):8.2f} {err:11.1e} {speed:>20s}")


if __name__ == "__main__":
    main()
