"""``edge-of-stability``: full-batch gradient descent on a tanh MLP with the squared loss,
after Cohen, Kaur, Li, Kolter and Talwalkar (2021), "Gradient Descent on Neural Networks
Typically Occurs at the Edge of Stability".

Gradient descent with step ``lr`` is stable on a quadratic only while the largest Hessian
eigenvalue (the sharpness) stays below ``2 / lr``. On neural networks the sharpness first rises
during training ("progressive sharpening") until it reaches ``2 / lr``, and then hovers there
while the loss keeps falling, non-monotonically: training runs at the edge of stability.
"""

from __future__ import annotations

import numpy as np

from ..base import Verdict, experiment


def _data(ctx, dataset: str, n: int):
    from ...data import load_dataset

    ds = load_dataset(dataset, seed=ctx.seed)
    X = ds.X_train[:n].astype(np.float64)
    return X - X.mean(axis=0), ds.y_train[:n]


def _gradient_descent(model, X, y, lr, steps, every, seed):
    """Full-batch GD in float32; every ``every`` steps the sharpness (float64, exact products,
    Lanczos warm-started from the last eigenvector). Returns step, loss and sharpness rows."""
    from ...contract import bind
    from ...landscape.curvature import top_eigenpair

    theta = model.init_params(seed, dtype=np.float32)
    X32, fn = X.astype(np.float32), bind(model, X, y)
    losses, sharp, vector = [], [], None
    for step in range(1, steps + 1):
        loss, grad = model.loss_and_grad(theta, X32, y, train=False, validate=step == 1)
        losses.append(loss)
        if not np.isfinite(loss):
            break
        theta -= np.float32(lr) * grad
        if step % every == 0:
            pair = top_eigenpair(fn, theta.astype(np.float64), start=vector, tol=1e-3)
            vector = pair.vector
            sharp.append((step, pair.value))
    return np.array(losses), np.array(sharp)


def _figure(runs):
    from ...viz import new_figure

    fig = new_figure((13, 4.8))
    ax1, ax2 = fig.subplots(1, 2)
    colors = ("#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00")
    for (lr, (losses, sharp)), color in zip(runs.items(), colors):
        ax1.plot(sharp[:, 0], sharp[:, 1], color=color, label=f"lr {lr:g}")
        ax1.axhline(2 / lr, color=color, ls="--", lw=1)
        ax2.plot(np.arange(1, losses.size + 1), losses, color=color, lw=1, label=f"lr {lr:g}")
    ax1.set(xlabel="step", ylabel="sharpness (largest Hessian eigenvalue)",
            title="sharpness rises to 2 / lr (dashed) and hovers there")
    ax2.set(xlabel="step", ylabel="training loss (squared error)", yscale="log",
            title="the loss keeps falling, not monotonically")
    for ax in (ax1, ax2):
        ax.legend()
        ax.grid(alpha=0.3)
    return fig


@experiment("edge-of-stability", topic="sharpness and step size",
            shows="full-batch gradient descent on a tanh MLP with the squared loss: the "
                  "sharpness rises to 2 / lr and hovers there (Cohen et al. 2021)",
            quick_seconds=45, full_seconds=600, dataset="mnist", rates=None, hidden=None)
def edge_of_stability(ctx, dataset, rates, hidden):
    from ... import mlp

    n, width = ctx.pick(400, 5000), hidden or ctx.pick(48, 100)
    steps, every = ctx.pick(800, 3000), ctx.pick(40, 50)
    rates = tuple(rates or ctx.pick((0.12, 0.14), (0.1, 0.12, 0.14)))
    X, y = _data(ctx, dataset, n)
    model = mlp([X.shape[1], width, 10], activation="tanh", loss="l2")
    runs = {lr: _gradient_descent(model, X, y, lr, steps, every, ctx.seed) for lr in rates}
    table, verdicts = [], []
    for lr, (losses, sharp) in runs.items():
        values = sharp[:, 1] if len(sharp) else np.array([np.nan])
        late, bound = values[len(values) * 2 // 3:], 2 / lr
        gap = float(np.max(np.abs(late - bound)) / bound)
        table.append({"lr": lr, "2 / lr": bound, "initial sharpness": float(values[0]),
                      "late sharpness (mean)": float(np.mean(late)),
                      "largest late gap": gap, "final loss": float(losses[-1])})
        verdicts.append(Verdict(
            f"at lr {lr:g} the sharpness rises to 2 / lr = {bound:.3g} and stays within 10% "
            f"of it late in training",
            f"sharpness {values[0]:.3g} after {int(sharp[0, 0])} steps, {np.mean(late):.3g} on "
            f"average over the last third of the run (largest gap {gap:.1%})",
            bool(gap <= 0.10 and values[0] < 0.95 * bound)))
    text = ("Left: the largest Hessian eigenvalue along full-batch gradient descent at each "
            "rate, with 2 / lr dashed in the same colour. It grows while training goes on "
            "(progressive sharpening) until it meets 2 / lr, where a quadratic model would "
            "diverge; instead it stays there. Right: the loss keeps decreasing, with spikes.")
    return ctx.result(verdicts, table, {"edge_of_stability": _figure(runs)}, text,
                      {f"lr={lr:g}": sharp.tolist() for lr, (_, sharp) in runs.items()})
