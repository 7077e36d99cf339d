"""``hyperparameter-search``: random search beats grid search when only one of two parameters
matters (Bergstra and Bengio 2012, their Figure 1), then coarse-to-fine stages on a real
training run (CS231n: "search in stages, from coarse ranges to fine ones").

With a budget of n^2 trials a grid tries only n distinct values of each parameter; random
search tries n^2 distinct values of each, so when one parameter does not matter, random search
has explored the one that does n times more finely.
"""

from __future__ import annotations

import numpy as np

from ..base import Verdict, experiment


def _important(x):
    """A validation score that depends on x only (peaked near x = 0.67, with a side bump)."""
    return 0.9 * np.exp(-((x - 0.67) / 0.06) ** 2) + 0.4 * np.exp(-((x - 0.25) / 0.15) ** 2)


def _grid_vs_random(n: int, repeats: int, rng) -> dict:
    """Best score of an n x n grid (randomly shifted each repeat) and of n^2 random points."""
    budget = n * n
    grid_best, random_best = [], []
    for _ in range(repeats):
        offset = rng.uniform(0, 1.0 / n)
        xs = offset + np.arange(n) / n  # the grid's n distinct values of x
        grid_best.append(float(_important(xs).max()))
        random_best.append(float(_important(rng.uniform(0, 1, budget)).max()))
    return {"grid": np.array(grid_best), "random": np.array(random_best), "budget": budget}


def _real_search(ctx, dataset):
    """Grid and random search of (lr, an irrelevant parameter) on real training, then two
    coarse-to-fine stages of random search on the learning rate."""
    import tempfile

    from ...tune import parse_space, run_search

    base = {"data": {"name": dataset, "preprocess": "standardize",
                     "train_subset": ctx.pick(400, 5000)},
            "model": {"hidden": [32], "regularizer": "l2", "reg": 1e-4},
            "optim": {"name": "momentum"},
            "train": {"epochs": ctx.pick(10, 10), "seed": ctx.seed}}
    # l1_ratio only matters for the elastic net: with an L2 penalty it is irrelevant
    space = parse_space({"optim.lr": {"low": 1e-4, "high": 3.0, "log": True, "grid": 3},
                         "model.l1_ratio": {"low": 0.0, "high": 1.0, "grid": 3}}, base)
    out = {}
    for sampler in ("grid", "random"):
        res = run_search(space, base, tempfile.mkdtemp(prefix="steepest-lab-hp-"), trials=9,
                         sampler=sampler, seed=ctx.seed, plots=False)
        out[sampler] = res
    lr_only = parse_space({"optim.lr": {"low": 1e-4, "high": 3.0, "log": True}}, base)
    events = []
    staged = run_search(lr_only, base, tempfile.mkdtemp(prefix="steepest-lab-hp-"),
                        trials=ctx.pick(12, 24), stages=2, seed=ctx.seed,
                        on_event=events.append, plots=False)
    return out, staged, [e for e in events if e["type"] == "narrow"]


def _figure(synthetic, n, real, staged_study):
    from ...viz import new_figure

    fig = new_figure((13, 4.5))
    ax1, ax2, ax3 = fig.subplots(1, 3)
    rng = np.random.default_rng(1)
    xs = np.arange(n) / n + 0.5 / n
    gx, gy = np.meshgrid(xs, xs)
    line = np.linspace(0, 1, 400)
    for ax, (px, py), title in ((ax1, (gx.ravel(), gy.ravel()), "grid layout"),
                                (ax2, rng.uniform(0, 1, (2, n * n)), "random layout")):
        ax.scatter(px, py, color="#0072B2", zorder=3)
        ax.plot(line, 0.3 * _important(line) - 0.32, color="#009E73")
        ax.set(xlim=(0, 1), ylim=(-0.35, 1), xlabel="important parameter",
               ylabel="unimportant parameter",
               title=f"{title}: {len(set(np.round(px, 6)))} distinct values tried")
        for x in np.unique(np.round(px, 6)):
            ax.plot([x, x], [-0.32, -0.05], color="#D55E00", lw=0.8)
    trials = [t for t in staged_study.load_study().trials if t.value is not None]
    stages = np.array([t.user_attrs.get("stage", 1) for t in trials])
    lrs = np.array([t.params["optim.lr"] for t in trials])
    vals = np.array([t.value for t in trials])
    for stage, color in ((1, "#0072B2"), (2, "#D55E00")):
        pick = stages == stage
        ax3.scatter(lrs[pick], vals[pick], color=color, label=f"stage {stage}")
    ax3.set(xscale="log", xlabel="learning rate", ylabel="validation accuracy",
            title="coarse-to-fine: stage 2 searches near stage 1's best")
    ax3.legend()
    ax3.grid(alpha=0.3)
    return fig


@experiment("hyperparameter-search", topic="hyperparameter search",
            shows="random against grid search when one of two parameters matters (Bergstra "
                  "and Bengio 2012), then coarse-to-fine stages on a real run",
            quick_seconds=25, full_seconds=180, dataset="digits", grid_side=3, repeats=500)
def hyperparameter_search(ctx, dataset, grid_side, repeats):
    rng = np.random.default_rng(ctx.seed)
    synthetic = _grid_vs_random(int(grid_side), int(repeats), rng)
    real, staged, narrow = _real_search(ctx, dataset)
    wins = float(np.mean(synthetic["random"] > synthetic["grid"]))
    medians = {k: float(np.median(synthetic[k])) for k in ("grid", "random")}
    grid_lrs = {round(v, 12) for v in (t.params["optim.lr"]
                                       for t in real["grid"].load_study().trials)}
    rand_lrs = {round(v, 12) for v in (t.params["optim.lr"]
                                       for t in real["random"].load_study().trials)}
    narrowed = bool(narrow and narrow[0]["narrowed"])
    verdicts = [
        Verdict("with the same budget, random search finds a better value than a grid when one "
                "of two parameters matters",
                f"{synthetic['budget']} trials, {repeats} repeats: random beats the grid in "
                f"{wins:.0%} of them; median best {medians['random']:.3f} against "
                f"{medians['grid']:.3f}", wins > 0.5 and medians["random"] > medians["grid"]),
        Verdict("a grid tries only sqrt(budget) values of the important parameter; random search "
                "tries one per trial",
                f"real search of 9 trials: the grid tried {len(grid_lrs)} learning rates, random "
                f"search {len(rand_lrs)}; best validation accuracy grid "
                f"{real['grid'].best_value:.3f}, random {real['random'].best_value:.3f}",
                len(rand_lrs) == 9 and len(grid_lrs) == 3),
        Verdict("coarse-to-fine: the second stage searches a narrower range around the first "
                "stage's best", _narrow_text(narrow), narrowed),
    ]
    table = [{"search": k, "trials": 9, "distinct learning rates": n_lr,
              "best validation accuracy": real[k].best_value}
             for k, n_lr in (("grid", len(grid_lrs)), ("random", len(rand_lrs)))]
    text = ("Left and middle: nine trials laid out as a grid and at random over an important "
            "(horizontal) and an unimportant (vertical) parameter; the green curve is the score, "
            "which depends on the important one only, and the orange ticks are the distinct "
            "values each layout tried. Right: two coarse-to-fine stages of a real search of the "
            "learning rate.")
    return ctx.result(verdicts, table, {"search": _figure(synthetic, int(grid_side), real,
                                                          staged)}, text,
                      {"random_wins": wins, "medians": medians})


def _narrow_text(narrow) -> str:
    if not narrow:
        return "no second stage ran"
    ev = narrow[0]
    if not ev["narrowed"]:
        return (f"stage 1 completed {ev['from_trials']} trials, fewer than the {ev['minimum']} "
                f"needed to narrow")
    lr = ev["space"]["optim.lr"]
    return (f"stage 2 searched optim.lr in [{lr['low']:.3g}, {lr['high']:.3g}] instead of "
            f"[0.0001, 3], around the best of {ev['from_trials']} completed stage-1 trials")
