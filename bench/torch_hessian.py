"""Benchmark: the top-5 Hessian eigenvalues of the LeNet (examples/lenet.py) on 1,000 MNIST images.

- steepest: ``top_eigenvalues(steepest.bind(obj, X, y), theta, k=5)``, Lanczos (ARPACK's
  ``eigsh``) on the exact Hessian-vector products of ``TorchObjective.hvp`` (double backward,
  the gradient graph kept between products), float64 as the curvature module computes;
- PyHessian's algorithm (``hessian.eigenvalues(maxIter=100, tol=1e-3, top_n=5)``) written out
  here: the gradient with ``create_graph=True`` once, then power iteration with deflation, each
  iterate orthonormalized against the eigenvectors already found, stopped when two successive
  Rayleigh quotients differ by less than ``tol`` relative; in float32 (PyHessian's default) and
  float64.

Identical weights: the LeNet trained for one epoch on the 60,000 MNIST training images (Adam,
lr 1e-3, batches of 128, seed 0; ``--weights random`` takes ``init_params(0)`` instead), in
evaluation mode (as PyHessian sets it), on the first 1,000 training images. Printed: products,
seconds, the ratios, and the relative difference of each eigenvalue to steepest's.

Run: ``STEEPEST_MNIST_DIR=/work/shared/data/mnist .venv/bin/python bench/torch_hessian.py``
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

import steepest
import steepest.torch as st
from steepest.data import load_dataset
from steepest.landscape.curvature import top_eigenvalues
from steepest.optim import Adam
from steepest.train import Trainer, TrainSettings

ROOT = Path(__file__).resolve().parents[1]


def weights(obj, ds, how: str) -> np.ndarray:
    if how == "random":
        return obj.init_params(0)
    X = ds.X_train  # already scaled to [0, 1]
    settings = TrainSettings(epochs=1, batch_size=128, seed=0, eval_train_size=500)
    trainer = Trainer(obj, Adam(lr=1e-3), X[:59_000], ds.y_train[:59_000], X[59_000:],
                      ds.y_train[59_000:], settings)
    result = trainer.run()
    print(f"trained 1 epoch in {result.seconds:.0f} s: validation accuracy {result.val_acc:.3f}")
    return result.theta


# ------------------------------------------------ PyHessian's algorithm (pyhessian/hessian.py)
def group_product(xs, ys):
    return sum(torch.sum(x * y) for x, y in zip(xs, ys))


def normalization(v):
    s = torch.sqrt(group_product(v, v)).item()
    return [x / (s + 1e-6) for x in v]


def orthnormal(w, vs):
    for v in vs:
        w = [wi - group_product(w, v) * vi for wi, vi in zip(w, v)]
    return normalization(w)


def pyhessian_top(module, x, y, top_n=5, max_iter=100, tol=1e-3, seed=0):
    """``hessian(model, criterion, data=(x, y)).eigenvalues(max_iter, tol, top_n)``."""
    model = module.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    loss = F.cross_entropy(model(x), y)
    grads = torch.autograd.grad(loss, params, create_graph=True)
    gen = torch.Generator().manual_seed(seed)
    eigenvalues, eigenvectors, products = [], [], 0
    while len(eigenvalues) < top_n:
        eigenvalue = None
        v = normalization([torch.randn(p.size(), generator=gen, dtype=p.dtype) for p in params])
        for _ in range(max_iter):
            v = orthnormal(v, eigenvectors)
            Hv = torch.autograd.grad(grads, params, grad_outputs=v, retain_graph=True)
            products += 1
            tmp = group_product(Hv, v).item()
            v = normalization(Hv)
            if eigenvalue is None:
                eigenvalue = tmp
            elif abs(eigenvalue - tmp) / (abs(eigenvalue) + 1e-6) < tol:
                break
            else:
                eigenvalue = tmp
        eigenvalues.append(eigenvalue)
        eigenvectors.append(v)
    order = np.argsort(eigenvalues)[::-1]
    vectors = np.stack([torch.cat([t.reshape(-1) for t in eigenvectors[i]]).double().numpy()
                        for i in order], axis=1)
    return np.asarray(eigenvalues)[order], vectors, products


def residual(bound, theta, values, vectors) -> float:
    """The largest ``||H u - lambda u|| / |lambda|`` over the returned pairs (``u`` unit), with
    exact float64 products (not counted): how good the eigenpairs are, whoever found them."""
    out = 0.0
    for lam, u in zip(values, vectors.T):
        u = u / np.linalg.norm(u)
        out = max(out, np.linalg.norm(bound.hvp(theta, u) - lam * u) / abs(lam))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--weights", choices=("trained", "random"), default="trained")
    p.add_argument("--examples", type=int, default=1000)
    p.add_argument("--top", type=int, default=5)
    p.add_argument("--threads", type=int, default=0,
                   help="torch threads (default: torch's choice, one per core)")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ds = load_dataset("mnist", data_dir=os.environ.get("STEEPEST_MNIST_DIR"), download=False)
    module = st.load_factory(f"{ROOT / 'examples' / 'lenet.py'}:make")
    obj = st.objective(module, input_shape=(1, 28, 28))
    theta = weights(obj, ds, args.weights).astype(np.float64)
    X = ds.X_train[: args.examples]
    y = ds.y_train[: args.examples]
    bound = steepest.bind(obj, X, y)  # evaluation mode, as PyHessian
    bound.hvp(theta, np.ones_like(theta))  # warm-up of the double backward, both precisions
    obj.release()
    rows = []
    for tol in (1e-6, 1e-3):
        t0 = time.perf_counter()
        spec = top_eigenvalues(bound, theta, k=args.top, tol=tol, return_eigenvectors=True)
        rows.append((f"steepest Lanczos tol={tol:g}", spec.eigenvalues, spec.n_hvp,
                     time.perf_counter() - t0, spec.eigenvectors))
        obj.release()  # free the kept graph before the next run
    reference = rows[0][1]
    for dtype in (torch.float32, torch.float64):
        net = copy.deepcopy(module).to(dtype)
        net.load_state_dict(obj.state_dict(theta.astype(
            np.float32 if dtype == torch.float32 else np.float64)))
        x = torch.from_numpy(X).reshape(-1, 1, 28, 28).to(dtype)
        pyhessian_top(copy.deepcopy(net), x[:50], torch.from_numpy(y[:50]), top_n=1,
                      max_iter=2)  # warm-up
        t0 = time.perf_counter()
        vals, vectors, products = pyhessian_top(net, x, torch.from_numpy(y), top_n=args.top)
        rows.append((f"PyHessian power {str(dtype)[6:]}", vals, products,
                     time.perf_counter() - t0, vectors))
    print(f"LeNet ({args.weights} weights), top-{args.top} Hessian eigenvalues on "
          f"{args.examples} MNIST images, torch threads {torch.get_num_threads()}")
    base = rows[0]
    print(f"{'method':<30}{'products':>9}{'seconds':>9}{'products/ours':>14}{'time/ours':>10}"
          f"{'rel. diff':>10}{'residual':>10}   eigenvalues")
    for name, vals, products, seconds, vectors in rows:
        diff = np.max(np.abs(np.asarray(vals) - reference) / np.abs(reference))
        res = residual(bound, theta, vals, vectors)
        print(f"{name:<30}{products:>9}{seconds:>9.1f}{products / base[2]:>13.1f}x"
              f"{seconds / base[3]:>9.1f}x{diff:>10.1e}{res:>10.1e}   "
              + " ".join(f"{v:.5g}" for v in vals))
    print("rel. diff: largest relative difference to steepest's tol=1e-6 eigenvalues; residual: "
          "largest ||H u - lambda u|| / |lambda| of the returned pairs")


if __name__ == "__main__":
    main()
