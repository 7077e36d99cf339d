"""Benchmark: training quality on real MNIST, and training speed against every peer a user
would pick for a fast CPU step, side by side in one run.

1. Accuracy on the MNIST test set: a softmax linear classifier and an MLP 784-256-10 trained by
   ``steepest.runs.train_run`` (the same code as ``steepest train``), 20 epochs or fewer.
2. Speed of one training epoch (float32, softmax cross-entropy, momentum 0.9 at lr 0.01 in the
   lecture's ``v = mu v - lr g`` form, no weight decay) of the MLP 784-256-10 at batches 32, 64,
   256 and 1024, and of 784-1024-1024-10 at batch 256. Every contender starts from steepest's
   initial weights and sees the same batches in the same order (contiguous slices of one
   permuted copy of the data, made outside the timing), so they end at the same weights up to
   float32 rounding; the table shows each one's training loss after the epoch to prove it.

   - ``steepest``: the bare loop (``loss_and_grad(out=..., validate=False)`` + ``step``);
   - ``Trainer``: steepest's full training loop with its default babysitting (update ratios,
     gradient norms, activation statistics, validation each epoch, best-epoch tracking), per
     epoch (its history's seconds, validation included), alternated with the others like every
     contender, with its own random-row batches;
   - ``torch eager``: ``nn.Sequential`` + ``cross_entropy`` + ``optim.SGD(momentum=0.9)``;
   - ``torch.compile``: the same model compiled (compilation excluded);
   - ``jax jit step``: the whole update step under ``jax.jit``, called once per batch;
   - ``jax scan``: the whole epoch in ``jax.lax.scan`` under ``jax.jit`` (data on device);
   - ``sklearn``: ``MLPClassifier(solver="sgd", momentum=0.9, nesterovs_momentum=False)``,
     ``partial_fit`` over the permuted data (its momentum is the same ``v = mu v - lr g``).

   Rounds alternate the contenders (one epoch each per round) so that drifts of a shared
   machine hit all alike, with a pause of a second before each: the worker threads of PyTorch,
   XLA and OpenBLAS keep spinning for a while after their last call, and without the pause
   whoever runs next loses cores to them. The figures are medians over rounds. A ratio is the
   peer's time divided by steepest's bare loop (above 1: steepest is faster). Peers that are
   not installed are skipped and named. The achieved GFLOP/s of the bare loop counts the real
   work of a step (forward products, weight gradients, input gradients except the first
   layer's) against this machine's float32 4096x4096 matrix-product rate, measured in the same
   run.

Run: ``STEEPEST_MNIST_DIR=../shared/data/mnist .venv/bin/python bench/train.py``
(``--quick`` skips the accuracy runs; ``--rounds N``; ``--batches 32 64``; ``--no-wide``).
Peers: ``pip install jax scikit-learn torch`` (torch.compile needs a C compiler).
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

LR, MU = 0.01, 0.9
PAUSE = 1.0  # seconds between contenders (see measure)


# ---------------------------------------------------------------------- accuracy
def accuracy_runs(data_dir: str, out: Path):
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
        cfg = parse_config({k: {**base.get(k, {}), **case.get(k, {})}
                            for k in ("data", "model", "optim", "train")})
        res = train_run(cfg, out / name.split()[0].lower(), plots=False)
        print(f"  {name:30s} test accuracy {res.test_acc:.4f}  (val {res.val_acc:.4f}, "
              f"{res.epochs} epochs, best epoch {res.best_epoch}, {res.seconds:.1f} s)")


# ---------------------------------------------------------------------- the problem
class Problem:
    """One architecture and batch size: the data in batch order, the initial weights."""

    def __init__(self, X, y, sizes, batch):
        self.sizes, self.batch = list(sizes), batch
        self.model = steepest.mlp(self.sizes)
        self.theta0 = self.model.init_params(0, dtype=np.float32)
        perm = np.random.default_rng(0).permutation(X.shape[0])
        self.steps = X.shape[0] // batch
        n = self.steps * batch
        self.X, self.y = np.ascontiguousarray(X[perm[:n]]), y[perm[:n]]
        self.tensors = [(W, b) for W, b in zip(*[iter(self.model.params(self.theta0)
                                                      .values())] * 2)]

    def step_flops(self) -> float:
        """Multiply-adds x 2 of a step: forward, weight gradients, input gradients (not the
        first layer's, which no one needs)."""
        pairs = list(zip(self.sizes[:-1], self.sizes[1:]))
        macs = sum(a * b for a, b in pairs)
        return 2.0 * self.batch * (2 * macs + sum(a * b for a, b in pairs[1:]))

    def loss_of(self, weights) -> float:
        """Mean cross-entropy on the epoch's data of weights [(W (in, out), b), ...], float64."""
        h = self.X.astype(np.float64)
        for i, (W, b) in enumerate(weights):
            h = h @ np.asarray(W, np.float64) + np.asarray(b, np.float64)
            if i < len(weights) - 1:
                h = np.maximum(h, 0)
        h -= h.max(axis=1, keepdims=True)
        logp = h - np.log(np.exp(h).sum(axis=1, keepdims=True))
        return float(-logp[np.arange(len(self.y)), self.y].mean())


# ---------------------------------------------------------------------- contenders
# Each contender is made once per problem (compilation happens there, outside the timing) and
# returns a function that restarts from the initial weights, trains one timed epoch and
# returns (seconds, [(W (in, out), b), ...]).
def steepest_bare(p: Problem):
    model, b, X, y = p.model, p.batch, p.X, p.y

    def run():
        theta = p.theta0.copy()
        opt = Momentum(lr=LR, mu=MU)
        state = opt.init(theta)
        grad = np.empty_like(theta)
        rng = np.random.default_rng(0)
        t0 = time.perf_counter()
        for i in range(0, p.steps * b, b):
            model.loss_and_grad(theta, X[i:i + b], y[i:i + b], train=True, rng=rng, out=grad,
                                validate=False)
            state = opt.step(theta, grad, state)
        seconds = time.perf_counter() - t0
        views = list(model.params(theta).values())
        return seconds, list(zip(views[::2], views[1::2]))

    return run


def steepest_trainer(X_val, y_val):
    """A maker for the full Trainer (monitors, validation of ``X_val`` every epoch): one epoch
    per round, timed like the other contenders and alternated with them."""
    from steepest.train import Trainer, TrainSettings

    def make(p: Problem):
        spec = TrainSettings(epochs=1, batch_size=p.batch, dtype="float32")

        def run():
            res = Trainer(p.model, Momentum(lr=LR, mu=MU), p.X, p.y, X_val, y_val, spec).run(
                p.theta0.copy())
            return res.history[-1]["seconds"], None  # its own batches: no loss to compare

        return run

    return make


def torch_contender(p: Problem, compiled: bool):
    import torch

    layers = []
    for i, (W, _) in enumerate(p.tensors):
        layers += [torch.nn.Linear(*W.shape)] + ([torch.nn.ReLU()] if i < len(p.tensors) - 1
                                                 else [])
    net = torch.nn.Sequential(*layers)
    linears = list(net[::2])
    loss_fn = torch.nn.functional.cross_entropy
    # the usual way: the model compiled, the optimizer's fused step as it is
    forward = torch.compile(net) if compiled else net
    X, y, b = torch.from_numpy(p.X), torch.from_numpy(p.y), p.batch

    def restart():
        with torch.no_grad():
            for lin, (W, bias) in zip(linears, p.tensors):
                lin.weight.copy_(torch.from_numpy(W.T.copy()))
                lin.bias.copy_(torch.from_numpy(bias.copy()))
        # torch's b = mu b + g; theta -= lr b: the same iterates as v = mu v - lr g at a
        # fixed lr
        return torch.optim.SGD(net.parameters(), lr=LR, momentum=MU)

    if compiled:
        loss_fn(forward(X[:b]), y[:b]).backward()  # compile outside the timing

    def run():
        opt = restart()
        t0 = time.perf_counter()
        for i in range(0, p.steps * b, b):
            opt.zero_grad(set_to_none=True)
            loss_fn(forward(X[i:i + b]), y[i:i + b]).backward()
            opt.step()
        seconds = time.perf_counter() - t0
        return seconds, [(lin.weight.detach().numpy().T, lin.bias.detach().numpy())
                         for lin in linears]

    return run


def _jax_step():
    import jax
    import jax.numpy as jnp

    def loss(params, x, y):
        h = x
        for i, (W, b) in enumerate(params):
            h = h @ W + b
            if i < len(params) - 1:
                h = jax.nn.relu(h)
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(h), y[:, None], axis=1))

    def step(params, vel, x, y):
        g = jax.grad(loss)(params, x, y)
        vel = jax.tree_util.tree_map(lambda v, gi: MU * v - LR * gi, vel, g)
        return jax.tree_util.tree_map(lambda a, v: a + v, params, vel), vel

    return step


def jax_contender(p: Problem, scan: bool):
    import jax
    import jax.numpy as jnp

    b, step = p.batch, _jax_step()

    def start():
        params = [(jnp.asarray(W), jnp.asarray(bias)) for W, bias in p.tensors]
        return params, jax.tree_util.tree_map(jnp.zeros_like, params)

    if scan:
        def epoch(params, vel, xs, ys):
            def body(carry, xy):
                return step(*carry, *xy), None
            return jax.lax.scan(body, (params, vel), (xs, ys))[0]
        fn = jax.jit(epoch)
        xs = jnp.asarray(p.X.reshape(p.steps, b, -1))
        ys = jnp.asarray(p.y.reshape(p.steps, b).astype(np.int32))
        jax.block_until_ready(fn(*start(), xs, ys))  # compile outside the timing
    else:
        fn = jax.jit(step)
        X, y = p.X, p.y.astype(np.int32)
        jax.block_until_ready(fn(*start(), X[:b], y[:b]))

    def run():
        params, vel = start()
        jax.block_until_ready(params)
        t0 = time.perf_counter()
        if scan:
            params, vel = fn(params, vel, xs, ys)
        else:
            for i in range(0, p.steps * b, b):
                params, vel = fn(params, vel, X[i:i + b], y[i:i + b])
        jax.block_until_ready(params)
        seconds = time.perf_counter() - t0
        return seconds, [(np.asarray(W), np.asarray(bias)) for W, bias in params]

    return run


def sklearn_contender(p: Problem):
    from sklearn.neural_network import MLPClassifier

    def run():
        clf = MLPClassifier(hidden_layer_sizes=tuple(p.sizes[1:-1]), solver="sgd",
                            learning_rate_init=LR, momentum=MU, nesterovs_momentum=False,
                            alpha=0.0, batch_size=p.batch, shuffle=False)
        clf.partial_fit(p.X[:p.batch], p.y[:p.batch], classes=np.arange(p.sizes[-1]))
        for (W, b), cW, cb in zip(p.tensors, clf.coefs_, clf.intercepts_):
            np.copyto(cW, W)  # steepest's initial weights, in place (its optimizer holds them)
            np.copyto(cb, b)
        for v in clf._optimizer.velocities:
            v[...] = 0.0
        t0 = time.perf_counter()
        clf.partial_fit(p.X, p.y)
        seconds = time.perf_counter() - t0
        return seconds, list(zip(clf.coefs_, clf.intercepts_))

    return run


def contenders(found) -> dict:
    """name -> maker(problem) for steepest and the peers that are installed."""
    out = {"steepest": steepest_bare}
    if "torch" in found:
        out["torch eager"] = lambda p: torch_contender(p, compiled=False)
        if found.get("torch.compile"):
            out["torch.compile"] = lambda p: torch_contender(p, compiled=True)
    if "jax" in found:
        out["jax jit step"] = lambda p: jax_contender(p, scan=False)
        out["jax scan"] = lambda p: jax_contender(p, scan=True)
    if "sklearn" in found:
        out["sklearn"] = sklearn_contender
    return out


def peers():
    """Which peers are importable, with their versions (and thread counts)."""
    found = {}
    try:
        import torch

        found["torch"] = f"torch {torch.__version__} ({torch.get_num_threads()} threads)"
        import shutil

        found["torch.compile"] = bool(shutil.which("cc") or shutil.which("gcc"))
    except ImportError:
        pass
    try:
        import jax

        found["jax"] = f"jax {jax.__version__} ({jax.devices()[0].platform})"
    except ImportError:
        pass
    try:
        import sklearn

        found["sklearn"] = f"scikit-learn {sklearn.__version__}"
    except ImportError:
        pass
    return found


# ---------------------------------------------------------------------- measurement
def peak_flops(n: int = 4096, repeat: int = 5) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    b = a.copy()
    a @ b
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def measure(p: Problem, makers: dict, rounds: int, X_val, y_val) -> dict:
    """Median seconds per epoch and the final loss of every contender, alternated by round."""
    makers = {**makers, "Trainer": steepest_trainer(X_val, y_val)}
    runs = {name: make(p) for name, make in makers.items()}
    times = {name: [] for name in runs}
    losses = {}
    for _ in range(rounds):
        for name, run in runs.items():
            time.sleep(PAUSE)  # let the previous library's worker threads stop spinning
            seconds, weights = run()
            times[name].append(seconds)
            losses.setdefault(name, None if weights is None else p.loss_of(weights))
    return {name: {"seconds": float(np.median(t)), "loss": losses[name]}
            for name, t in times.items()}


def report(p: Problem, res: dict, peak: float) -> None:
    ours = res["steepest"]["seconds"]
    label = "-".join(map(str, p.sizes))
    print(f"\n   MLP {label}, batch {p.batch} ({p.steps} steps of one epoch)")
    print(f"   {'contender':15s} {'s/epoch':>8s} {'samples/s':>10s} {'peer/steepest':>14s} "
          f"{'loss after':>11s}")
    for name, r in res.items():
        ratio = "" if name == "steepest" else f"{r['seconds'] / ours:13.2f}x"
        loss = "" if r["loss"] is None else f"{r['loss']:.6f}"
        print(f"   {name:15s} {r['seconds']:8.3f} {p.steps * p.batch / r['seconds']:10,.0f} "
              f"{ratio:>14s} {loss:>11s}")
    rate = p.step_flops() * p.steps / ours
    fastest = min((r["seconds"], n) for n, r in res.items() if n not in ("steepest", "Trainer"))
    print(f"   steepest: {rate / 1e9:.1f} GFLOP/s = {rate / peak:.0%} of the 4096^2 product's "
          f"{peak / 1e9:.1f}; fastest peer {fastest[1]} ({fastest[0] / ours:.2f}x); Trainer "
          f"{res['Trainer']['seconds'] / ours - 1:+.1%} over the bare loop")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", default=os.environ.get("STEEPEST_MNIST_DIR"))
    parser.add_argument("--quick", action="store_true", help="skip the accuracy runs")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--batches", type=int, nargs="+", default=[32, 64, 256, 1024])
    parser.add_argument("--no-wide", action="store_true", help="skip 784-1024-1024-10")
    parser.add_argument("--out", default=None,
                        help="where the accuracy runs go (default: a fresh temporary folder)")
    args = parser.parse_args()
    found = peers()
    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}; "
          f"peers: {', '.join(v for k, v in found.items() if isinstance(v, str)) or 'none'}"
          + ("" if found.get("torch.compile", True) else "; torch.compile skipped (no C "
             "compiler)"))
    ds = load_dataset("mnist", data_dir=args.data_dir, download=args.data_dir is None)
    if not args.quick:
        print("\n1. accuracy on the MNIST test set (10,000 images)")
        import tempfile

        out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="bench-train-"))
        accuracy_runs(ds.source["dir"], out)

    print("\n2. one training epoch, float32, momentum 0.9, lr 0.01, same start, same batches")
    peak = peak_flops()
    X = (ds.X_train - ds.X_train.mean(axis=0)).astype(np.float32)
    X_tr, y_tr, X_val, y_val = X[:54000], ds.y_train[:54000], X[54000:], ds.y_train[54000:]
    makers = contenders(found)
    cases = [([784, 256, 10], b) for b in args.batches]
    if not args.no_wide:
        cases.append(([784, 1024, 1024, 10], 256))
    for sizes, b in cases:
        p = Problem(X_tr, y_tr, sizes, b)
        report(p, measure(p, makers, args.rounds, X_val, y_val), peak)


if __name__ == "__main__":
    main()
