"""``overparameterization``: the final training loss of many seeds, network by network, as the
hidden layer widens.

The claim checked (Neuromatch W1D5 section 5, "Non-convexity: the solution is
overparameterization"; CS231n "Neural Networks 1": "if you train a small network the final loss
can display a good amount of variance ... if you train a large network ... the variance in the
final achieved loss will be much smaller"): a wider network is easier to optimize. Over many
random initializations its final training loss is lower (median) and less spread out (the
narrow ones sometimes get lucky, often get stuck).
"""

from __future__ import annotations

import numpy as np

from ... import _validate as checks
from ...errors import InputError
from ..base import Verdict, experiment, findings

WIDTH_COLOR = "#0072B2"
SEED_COLOR = "#D55E00"


def _problem(noise: float, n_per_class: int, seed: int):
    """The fixed problem every network trains on: CS231n's three-arm spiral in 2-D."""
    from ...data import make_spiral

    return make_spiral(n_per_class, 3, noise, seed=seed)


def _final_loss(width: int, seed: int, X, y, steps: int, lr: float) -> float:
    """Train the ``2-width-3`` ReLU network from initialization ``seed`` with full-batch Adam
    for ``steps`` steps; its final training loss (a diverged run counts as infinite)."""
    from ... import mlp
    from ...optim import Adam

    model = mlp([X.shape[1], width, 3], activation="relu")
    theta = model.init_params(seed)
    opt = Adam(lr=lr)
    state = opt.init(theta)
    grad = np.empty_like(theta)
    for _ in range(steps):
        loss, _ = model.loss_and_grad(theta, X, y, out=grad, validate=False)
        if not np.isfinite(loss):
            return float("inf")
        state = opt.step(theta, grad, state)
    return float(model.loss(theta, X, y))


def _spearman(x, y) -> float:
    """Spearman's rank correlation (ties are not expected here)."""
    rx = np.argsort(np.argsort(x)).astype(float)
    ry = np.argsort(np.argsort(y)).astype(float)
    return float(np.corrcoef(rx, ry)[0, 1])


def _figure(widths, losses):
    from ...viz import new_figure

    fig = new_figure((12, 4.8))
    ax1, ax2 = fig.subplots(1, 2)
    pos = np.arange(len(widths))
    ax1.boxplot(losses.T, positions=pos, widths=0.55, showfliers=False,
                medianprops={"color": WIDTH_COLOR, "lw": 2})
    jitter = np.random.default_rng(0).uniform(-0.18, 0.18, losses.shape)
    ax1.scatter((pos[:, None] + jitter).ravel(), losses.ravel(), s=12, color=SEED_COLOR,
                alpha=0.7, zorder=3, label="one seed (one initialization)")
    ax1.set(xticks=pos, xticklabels=[str(w) for w in widths], yscale="log",
            xlabel="hidden units (one hidden layer)", ylabel="final training loss",
            title=f"final loss of {losses.shape[1]} initializations per width")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3, which="both", axis="y")
    q1, med, q3 = np.percentile(losses, [25, 50, 75], axis=1)
    ax2.plot(widths, med, "o-", color=WIDTH_COLOR, label="median")
    ax2.plot(widths, q3 - q1, "s--", color=SEED_COLOR, label="spread (interquartile range)")
    ax2.set(xscale="log", yscale="log", xlabel="hidden units",
            ylabel="final training loss: median, spread",
            title="median and spread across seeds")
    ax2.set_xticks(widths, [str(w) for w in widths])
    ax2.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
    ax2.legend(fontsize=8)
    ax2.grid(alpha=0.3, which="both")
    return fig


@experiment("overparameterization", topic="optimization: non-convexity and overparameterization",
            shows="the final training loss of many initializations for each hidden width: wider "
                  "networks reach lower and more consistent losses",
            quick_seconds=10, full_seconds=165, widths=(4, 8, 16, 32, 64, 128, 256), seeds=None,
            steps=None, lr=0.02, noise=0.2, n_per_class=100)
def overparameterization(ctx, widths, seeds, steps, lr, noise, n_per_class):
    """Train a one-hidden-layer ReLU network of every width from ``seeds`` initializations on
    the same spiral, the same number of full-batch Adam steps each."""
    widths = sorted({checks.positive_int(w, "a width") for w in widths})
    if len(widths) < 2:
        raise InputError(f"widths must hold at least two different hidden sizes, got {widths}")
    seeds = checks.positive_int(seeds or ctx.pick(10, 20), "seeds")
    if seeds < 4:
        raise InputError(f"seeds must be at least 4 to measure a spread, got {seeds}")
    steps = checks.positive_int(steps or ctx.pick(300, 1500), "steps")
    lr = checks.nonneg_float(lr, "lr")
    X, y = _problem(noise, n_per_class, ctx.seed)
    losses = np.array([[_final_loss(w, ctx.seed * 1000 + s, X, y, steps, lr)
                        for s in range(seeds)] for w in widths])
    q1, med, q3 = np.percentile(losses, [25, 50, 75], axis=1)
    iqr = q3 - q1
    rho = _spearman(np.array(widths), med)
    table = [{"width": w, "median": float(m), "q1": float(a), "q3": float(b),
              "iqr": float(b - a), "min": float(row.min()), "max": float(row.max())}
             for w, m, a, b, row in zip(widths, med, q1, q3, losses)]
    narrow, wide = widths[0], widths[-1]
    verdicts = [
        Verdict("the typical (median) final training loss falls as the network widens",
                f"median over {seeds} seeds: " + ", ".join(
                    f"{w}: {m:.3g}" for w, m in zip(widths, med))
                + f"; rank correlation of median with width {rho:.2f}",
                bool(med[-1] < med[0] and rho <= -0.8)),
        Verdict("the spread of the final loss across initializations shrinks as the network "
                "widens (much smaller for the widest network than for the narrowest: at least 5 "
                "times)",
                f"interquartile range: width {narrow} {iqr[0]:.3g}, width {wide} {iqr[-1]:.3g} "
                f"(ratio {iqr[0] / max(iqr[-1], 1e-300):.3g}); range: width {narrow} "
                f"{np.ptp(losses[0]):.3g}, width {wide} {np.ptp(losses[-1]):.3g}",
                bool(iqr[-1] * 5 <= iqr[0])),
    ]
    text = (f"Every dot is one initialization of a 2-H-3 ReLU network trained with full-batch "
            f"Adam (lr {lr:g}, {steps} steps) on the same {3 * n_per_class}-point spiral. Left: "
            f"the narrow networks' dots scatter over a wide range: some initializations find a "
            f"good solution, many stop in a poor one. As the width grows the dots fall and "
            f"bunch together: every initialization reaches about the same low loss, so luck "
            f"matters less. Right: the median and the interquartile range of each box.")
    text += findings(verdicts)
    return ctx.result(verdicts, table, {"overparameterization": _figure(widths, losses)}, text,
                      {"widths": widths, "losses": losses.tolist()})
