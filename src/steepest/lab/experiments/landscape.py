"""``landscape``: the loss landscape pictures of Li et al. (2018) and the observations behind
them, on a trained MLP.

- Filter normalization removes the scale invariance of ReLU networks: multiplying a hidden
  layer's weights by c and the next layer's by 1/c changes nothing the network computes, yet an
  unnormalized random slice of the rescaled weights looks very different; filter-normalized
  slices of the two coincide.
- Wider networks have flatter (smoother) landscapes along filter-normalized directions.
- The straight line from the initial weights to the solution goes downhill without a barrier
  (Goodfellow, Vinyals and Saxe 2015).
- The optimization path lies close to a plane: its two principal directions explain most of
  its variance.
"""

from __future__ import annotations

import numpy as np

from ...config import parse_config
from ..base import Verdict, experiment


def _train(ctx, dataset, hidden, epochs, keep_every=None):
    from ...runs import load_run, train_run

    cfg = parse_config({"data": {"name": dataset, "preprocess": "center",
                                 "train_subset": ctx.pick(1000, 10000)},
                        "model": {"hidden": [hidden]},
                        "optim": {"name": "momentum", "lr": 0.05},
                        "train": {"epochs": epochs, "batch_size": 64, "seed": ctx.seed,
                                  "keep_path_every": keep_every, "restore_best": False}})
    import tempfile

    folder = tempfile.mkdtemp(prefix="steepest-lab-landscape-")
    result = train_run(cfg, folder, plots=False)
    run = load_run(folder)
    return run, result


def _rescaled(model, theta, c):
    """The same function with fc1 multiplied by ``c`` and fc2 by ``1/c`` (ReLU is positively
    homogeneous, so the scores do not change)."""
    out = np.array(theta, dtype=np.float64, copy=True)
    views = model.params(out)
    views["fc1.W"][...] *= c
    views["fc1.b"][...] *= c
    views["fc2.W"][...] /= c
    return out


def _scale_invariance(run, X, y, grid, span, c=5.0):
    from ...landscape import line

    theta = run.theta.astype(np.float64)
    moved = _rescaled(run.model, theta, c)
    d = np.random.default_rng(0).standard_normal(theta.size)
    curves = {}
    for norm in ("none", "filter"):
        for label, point in (("trained", theta), (f"rescaled x{c:g}", moved)):
            curves[(norm, label)] = line(run.model, point, X, y, grid, span, norm=norm,
                                         direction=d, dtype=np.float64).loss
    gaps = {norm: float(np.max(np.abs(curves[(norm, "trained")]
                                      - curves[(norm, f"rescaled x{c:g}")])))
            for norm in ("none", "filter")}
    return curves, gaps


def _sharpness(run, X, y, grid, span, seeds=3):
    """Mean loss rise at the ends of filter-normalized random lines (a flatness measure)."""
    from ...landscape import line

    rises = []
    for seed in range(seeds):
        surf = line(run.model, run.theta, X, y, grid, span, seed=seed, dtype=np.float64)
        center = surf.loss[len(surf.loss) // 2]
        rises.append(float(np.mean([surf.loss[0], surf.loss[-1]]) - center))
    return float(np.mean(rises)), surf


def _figure(curves, xs, narrow_wide, interp, path):
    from ...viz import new_figure

    fig = new_figure((13, 9))
    axes = fig.subplots(2, 2)
    styles = {"trained": "-", "rescaled x5": "--"}
    for (norm, label), loss in curves.items():
        axes[0, 0].plot(xs, loss, styles.get(label, ":"),
                        color="#0072B2" if norm == "filter" else "#D55E00",
                        label=f"{'unnormalized' if norm == 'none' else 'filter-normalized'}, "
                              f"{label}")
    axes[0, 0].set(xlabel="alpha", ylabel="loss", yscale="log",
                   title="same function, rescaled weights: only filter normalization agrees")
    axes[0, 0].legend(fontsize=8)
    for (width, surf), color in zip(narrow_wide, ("#D55E00", "#0072B2")):
        axes[0, 1].plot(surf.x, surf.loss, color=color, label=f"{width} hidden units")
    axes[0, 1].set(xlabel="alpha (filter-normalized direction)", ylabel="loss",
                   title="narrow against wide: the wide net is flatter")
    axes[0, 1].legend()
    axes[1, 0].plot(interp.x, interp.loss, color="#009E73")
    axes[1, 0].axvline(0, color="gray", lw=0.8)
    axes[1, 0].axvline(1, color="gray", lw=0.8)
    axes[1, 0].set(xlabel="t (0: initial weights, 1: trained)", ylabel="loss", yscale="log",
                   title="from initialization to solution: downhill, no barrier")
    path.plot(ax=axes[1, 1])
    for ax in axes.ravel():
        ax.grid(alpha=0.3)
    return fig


@experiment("landscape", topic="loss landscapes",
            shows="filter-normalized against unnormalized slices, a narrow against a wide "
                  "network, the line from initialization to solution, and the path on its PCA "
                  "plane (Li et al. 2018)",
            quick_seconds=12, full_seconds=120, dataset=None, narrow=8, wide=256)
def landscape(ctx, dataset, narrow, wide):
    from ...landscape import interpolation, path_plane

    dataset = dataset or ctx.pick("digits", "mnist")
    epochs, grid = ctx.pick(10, 15), ctx.pick(21, 41)
    runs = {w: _train(ctx, dataset, w, epochs, keep_every=10 if w == wide else None)
            for w in (narrow, wide)}
    run, res = runs[wide]
    n = ctx.pick(500, 2000)
    X, y = run.data.X_train[:n], run.data.y_train[:n]
    curves, gaps = _scale_invariance(run, X, y, grid, (-1.0, 1.0))
    rises = {w: _sharpness(runs[w][0], X, y, grid, (-1.0, 1.0)) for w in (narrow, wide)}
    start = run.model.init_params(run.config.train.seed)
    interp = interpolation(run.model, start, run.theta, X, y, grid, (-0.25, 1.25),
                           dtype=np.float64)
    inside = (interp.x >= 0) & (interp.x <= 1)
    bump = float(np.max(np.maximum.accumulate(interp.loss[inside][::-1])[::-1]
                        - interp.loss[inside]))
    path = path_plane(run.model, res.path, run.theta, X, y, ctx.pick(15, 31),
                      dtype=np.float64)
    explained = float(np.sum(path.explained))
    verdicts = [
        Verdict("rescaling a ReLU layer (x5, the next one /5) changes nothing the network "
                "computes, yet changes an unnormalized slice; filter-normalized slices agree",
                f"largest loss difference along the line: unnormalized {gaps['none']:.3g}, "
                f"filter-normalized {gaps['filter']:.2g}",
                gaps["filter"] < 1e-6 * max(1.0, gaps["none"]) and gaps["none"] > 1e-3),
        Verdict("the wider network is flatter along filter-normalized directions",
                f"mean loss rise at alpha = +-1: {rises[narrow][0]:.3g} with {narrow} units, "
                f"{rises[wide][0]:.3g} with {wide}", rises[wide][0] < rises[narrow][0]),
        Verdict("the line from the initial weights to the solution goes downhill without a "
                "barrier", f"largest rise on the way (0 <= t <= 1): {bump:.3g} (loss "
                f"{interp.loss[inside][0]:.3g} at t=0, {interp.loss[inside][-1]:.3g} at t=1)",
                bump <= 0.01 * interp.loss[inside][0]),
        Verdict("the optimization path lies close to a plane: two principal directions explain "
                "most of its variance", f"PC1 + PC2 explain {explained:.1%} of the path's "
                f"variance ({len(res.path)} kept points)", explained > 0.5),
    ]
    table = [{"network": f"{w} hidden units", "test accuracy": runs[w][1].test_acc,
              "loss rise at alpha=+-1": rises[w][0]} for w in (narrow, wide)]
    text = ("Top left: one random direction through the trained weights and through the same "
            "function with rescaled layers; unnormalized (orange) the two disagree, filter-"
            "normalized (blue) they are one curve. Top right: the narrow network's loss rises "
            "faster away from its minimum. Bottom left: the straight line from initialization "
            "to the solution. Bottom right: the training path on its own PCA plane, ending at "
            "the trained weights (0, 0).")
    figure = _figure(curves, np.linspace(-1, 1, grid),
                     [(w, rises[w][1]) for w in (narrow, wide)], interp, path)
    return ctx.result(verdicts, table, {"landscape": figure}, text,
                      {"explained": path.explained.tolist(), "gaps": gaps})
