"""``minibatch``: batch sizes from one example to the full batch on one fixed problem.

The lecture (CS231n "Optimization" notes, "Mini-batch gradient descent"; Neuromatch W1D5
section 6, "Full gradients are expensive to compute"; the CS231n digest: "it is faster to
evaluate the gradient for 100 examples than to find the gradient for one example 100 times")
claims: the mini-batch gradient is a good approximation of the full one, its noise shrinking as
the batch grows (the variance of a mean of B examples falls like 1/B); more frequent updates
make more progress per pass over the data; and vectorization makes a batch far cheaper per
example than single examples.

Batches are drawn WITHOUT replacement (as the trainer does within an epoch), so the variance of
the mini-batch gradient around the full gradient is ``sigma^2 / B * (N - B) / (N - 1)``, with
``sigma^2`` the variance of one example's gradient: the finite-population correction
``(N - B) / (N - 1)`` takes it to 0 at the full batch.

The timed training runs use ``blas_threads`` BLAS threads (default 1, set with threadpoolctl for
those runs only and restored afterwards; None leaves NumPy's setting alone): on a machine whose
cores are busy, a multi-threaded BLAS can stall every product of more than about a hundred rows
for a scheduler time slice, which would make mid-sized batches look slower than single examples.
"""

from __future__ import annotations

import contextlib
import time

import numpy as np
from matplotlib.ticker import FuncFormatter

from ...errors import InputError
from ..base import Verdict, experiment

PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#F0E442")
FULL_COLOR = "#000000"


def _data(dataset: str, n_train: int | None, seed: int):
    from ...data import load_dataset

    ds = load_dataset(dataset, seed=seed)
    n = ds.n_train if n_train is None else int(n_train)
    if not 2 <= n <= ds.n_train:
        raise InputError(f"n_train must be between 2 and {ds.n_train} for {dataset}, got {n}")
    return ds.X_train[:n].astype(np.float64), ds.y_train[:n], ds.n_classes


def _train(model, X, y, batch, epochs, lr, seed):
    """SGD with batches of ``batch`` rows (a fresh permutation per epoch); returns the full
    training loss at the start and after each epoch, and the seconds spent in the updates
    only (the loss evaluations are not timed)."""
    from ...optim import SGD

    theta = model.init_params(seed)
    opt = SGD(lr)
    state = opt.init(theta)
    rng = np.random.default_rng(seed)
    grad = np.empty_like(theta)
    n = X.shape[0]
    losses, seconds, clock = [model.loss(theta, X, y)], [0.0], 0.0
    for _ in range(epochs):
        start = time.perf_counter()
        order = rng.permutation(n)
        for i in range(0, n, batch):
            idx = order[i : i + batch]
            model.loss_and_grad(theta, X[idx], y[idx], train=True, rng=rng, out=grad,
                                validate=False)
            opt.step(theta, grad, state)
        clock += time.perf_counter() - start
        losses.append(model.loss(theta, X, y))
        seconds.append(clock)
    return np.array(losses), np.array(seconds)


def _blas_threads(n):
    """A context limiting NumPy's BLAS to ``n`` threads (None: no change)."""
    if n is None:
        return contextlib.nullcontext()
    from threadpoolctl import threadpool_limits

    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise InputError(f"blas_threads must be a positive integer or None, got {n!r}")
    return threadpool_limits(limits=n, user_api="blas")


def _variance(model, X, y, sizes, draws, seed):
    """The mean squared distance between the mini-batch gradient (``draws`` batches drawn
    without replacement per size) and the full gradient, at the initial weights; and the
    variance ``sigma^2`` of one example's gradient, from all N of them."""
    theta = model.init_params(seed)
    n = X.shape[0]
    _, full = model.loss_and_grad(theta, X, y, train=False)
    full = full.copy()
    g = np.empty_like(theta)
    second = 0.0
    for i in range(n):
        model.loss_and_grad(theta, X[i : i + 1], y[i : i + 1], train=False, out=g,
                            validate=False)
        second += g @ g
    sigma2 = second / n - full @ full
    rng = np.random.default_rng(seed)
    measured = []
    for b in sizes:
        total = 0.0
        for _ in range(draws):
            idx = rng.choice(n, b, replace=False)
            model.loss_and_grad(theta, X[idx], y[idx], train=False, out=g, validate=False)
            g -= full
            total += g @ g
        measured.append(total / draws)
    return np.array(measured), float(sigma2)


def _figure(runs, n, var_sizes, measured, sigma2, slope, dataset):
    from ...viz import new_figure

    fig = new_figure((15, 4.6))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    for i, (b, (loss, secs)) in enumerate(runs.items()):
        color = FULL_COLOR if b == n else PALETTE[i % len(PALETTE)]
        label = "full batch" if b == n else f"B = {b}"
        ax1.semilogy(np.arange(loss.size), loss, "o-", color=color, ms=3, label=label)
        ax2.loglog(secs[1:], loss[1:], "o-", color=color, ms=3, label=label)
    plain = FuncFormatter(lambda v, _: f"{v:g}")
    for ax in (ax1, ax2):
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
    ax1.set(xlabel="epoch (passes over the data)", ylabel="full training loss",
            title=f"{dataset}, N = {n}: loss against epochs")
    ax2.set(xlabel="seconds spent in updates (epoch ends)", ylabel="full training loss",
            title="the same runs against wall-clock time")
    b = np.asarray(var_sizes, dtype=float)
    ax3.loglog(b, measured, "o", color="#0072B2", ms=6, label="measured (without replacement)")
    ax3.loglog(b, sigma2 / b * (n - b) / (n - 1), "-", color="#D55E00",
               label="sigma^2 / B * (N - B) / (N - 1)")
    ax3.loglog(b, sigma2 / b, ":", color="gray", label="sigma^2 / B (with replacement)")
    ax3.set(xlabel="batch size B", ylabel="E |g_B - g|^2 at the initial weights",
            title=f"mini-batch gradient noise (corrected slope {slope:.2f})")
    for ax in (ax1, ax2, ax3):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    return fig


def _verdicts(runs, n, var_sizes, measured, sigma2, slope, epochs):
    b = np.asarray(var_sizes, dtype=float)
    theory = sigma2 / b * (n - b) / (n - 1)
    off = float(np.max(np.abs(measured / theory - 1)))
    big = [k for k in runs if k >= 16]
    finals = [float(runs[k][0][-1]) for k in big]
    small = min(runs)
    near100 = min((k for k in runs if k != small and k != n),
                  key=lambda k: abs(np.log(k / 100)), default=n)
    per_example = {k: runs[k][1][-1] / (epochs * n) for k in (small, near100)}
    speedup = per_example[small] / per_example[near100]
    return [
        Verdict("the variance of the mini-batch gradient falls like 1/B: corrected for sampling "
                "without replacement, its log-log slope against B is -1 (+- 0.1), and it "
                "matches sigma^2/B (N-B)/(N-1) within 20% at every B",
                f"fitted slope {slope:.3f} (uncorrected, over B <= N/8: "
                f"{_raw_slope(b, measured, n):.3f}); largest deviation from theory {off:.1%} "
                f"(B = {int(b[0])} to {int(b[-1])}, N = {n})",
                bool(abs(slope + 1) <= 0.1 and off <= 0.2)),
        Verdict("more frequent updates make more progress per pass: after the same epochs the "
                "loss falls as the batch shrinks from the full batch down to B = 16",
                f"loss after {epochs} epochs: " + ", ".join(
                    f"{'full' if k == n else k}: {v:.3f}" for k, v in zip(big, finals)),
                bool(all(a <= c for a, c in zip(finals, finals[1:])))),
        Verdict("vectorization: a batch of about 100 examples costs far less per example than "
                "single examples one at a time (at least 3x)",
                f"seconds per example: B = {small}: {per_example[small] * 1e6:.1f} us, B = "
                f"{near100}: {per_example[near100] * 1e6:.1f} us ({speedup:.1f}x)",
                bool(speedup >= 3)),
    ]


def _time_to(runs, target) -> dict:
    """Per batch size, the seconds at the first epoch end whose loss is at most ``target``
    (None when no epoch end gets there)."""
    out = {}
    for b, (loss, secs) in runs.items():
        hit = np.nonzero(loss[1:] <= target)[0]
        out[b] = float(secs[1 + hit[0]]) if hit.size else None
    return out


def _raw_slope(b, measured, n) -> float:
    sel = b <= n / 8
    return float(np.polyfit(np.log10(b[sel]), np.log10(measured[sel]), 1)[0])


@experiment("minibatch", topic="optimization: mini-batches",
            shows="SGD with batch sizes from 1 to the full batch on one problem: loss against "
                  "epochs and against wall-clock time, and the variance of the mini-batch "
                  "gradient against B",
            quick_seconds=6, full_seconds=40, dataset=None, n_train=None, batch_sizes=None,
            epochs=10, lr=0.1, draws=None, blas_threads=1)
def minibatch(ctx, dataset, n_train, batch_sizes, epochs, lr, draws, blas_threads):
    """CS231n mini-batch gradient descent / Neuromatch W1D5 section 6: gradient noise falls like
    1/B, small batches progress more per epoch, batches are cheaper per example."""
    import steepest

    dataset = dataset or ctx.pick("digits", "mnist")
    X, y, n_classes = _data(dataset, n_train if n_train else ctx.pick(None, 5000), ctx.seed)
    n = X.shape[0]
    sizes = sorted({int(b) for b in (batch_sizes or (1, 4, 16, 64, 256)) if 0 < int(b) < n}
                   | {n})
    if len(sizes) < 3:
        raise InputError(f"batch_sizes must hold at least two sizes below N = {n}")
    epochs = int(epochs)
    model = steepest.linear(X.shape[1], n_classes)
    with _blas_threads(blas_threads):
        runs = {b: _train(model, X, y, b, epochs, float(lr), ctx.seed) for b in sizes}
    var_sizes = [2 ** k for k in range(int(np.log2(n - 1)) + 1)]
    measured, sigma2 = _variance(model, X, y, var_sizes, int(draws or ctx.pick(100, 200)),
                                 ctx.seed)
    b = np.asarray(var_sizes, dtype=float)
    slope = float(np.polyfit(np.log10(b), np.log10(measured * (n - 1) / (n - b)), 1)[0])
    mid = min(runs, key=lambda k: abs(np.log(k / 64)))
    target = float(runs[mid][0][-1])  # what the batch nearest 64 reaches at the end
    reach = _time_to(runs, target)
    fastest = min((k for k in reach if reach[k] is not None), key=lambda k: reach[k])
    table = [{"part": "training", "batch size": k, "updates per epoch": -(-n // k),
              f"loss after {epochs} epochs": float(loss[-1]), "update seconds": float(s[-1]),
              "microseconds per example": float(s[-1] / (epochs * n) * 1e6),
              f"seconds to loss {target:.3f}": reach[k]} for k, (loss, s) in runs.items()]
    table += [{"part": "gradient variance", "batch size": int(k), "measured": float(m),
               "theory (without replacement)": sigma2 / k * (n - k) / (n - 1)}
              for k, m in zip(var_sizes, measured)]
    text = (f"The linear softmax classifier on {n} {dataset} images, plain SGD at lr {lr:g} "
            f"for {epochs} epochs with each batch size, all from the same weights. Left: per "
            f"pass over the data, small batches win: they make N/B updates where the full "
            f"batch makes one (at a fixed rate the smallest batches are also the noisiest). "
            f"Middle: per second the picture changes: one example at a time pays Python and "
            f"NumPy overhead on every update, and the full batch is cheap per epoch but "
            f"gains little per epoch. In this run the first to reach loss {target:.3f} (where "
            f"B = {mid} ends) is B = {fastest}, after {reach[fastest]:.3g} s (the table has "
            f"every batch size's time; timings vary from machine to machine; the runs used "
            f"{blas_threads or 'the default number of'} BLAS thread(s)). "
            f"Right: the mean squared distance of the mini-batch gradient from the full one, "
            f"with batches drawn without replacement: it falls like 1/B, and the "
            f"finite-population factor (N-B)/(N-1) bends it down to 0 at the full batch.")
    data = {"runs": {str(k): {"loss": loss, "seconds": s} for k, (loss, s) in runs.items()},
            "variance": {"batch": var_sizes, "measured": measured, "sigma2": sigma2}}
    verdicts = _verdicts(runs, n, var_sizes, measured, sigma2, slope, epochs)
    figure = _figure(runs, n, var_sizes, measured, sigma2, slope, dataset)
    return ctx.result(verdicts, table, {"minibatch": figure}, text, data)
