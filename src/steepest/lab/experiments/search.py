"""``search-strategies``: the three strategies of the optimization lecture, given the same budget
of loss evaluations on the linear softmax classifier.

The lecture (CS231n "Optimization" notes, strategies #1 to #3; CS682 lecture 3, "Random search"
and "Follow the slope"; Neuromatch W1D5 section 3) tries, in order: random search (draw weight
matrices ``1e-4 * randn`` and keep the best; 15.5% test accuracy on CIFAR-10 after 1000 draws),
random local search (perturb the current weights by ``1e-4 * randn`` and keep the move only when
the loss drops) and following the gradient. Its claim: following the gradient wins by a wide
margin. Here all three get the same number of loss evaluations (one gradient evaluation counts
as one evaluation, although it costs about twice a loss alone: the table gives the seconds).

The pixels are used raw (0 to 255) and the weights start at the lecture's scale ``1e-4``, as in
the lecture's CIFAR-10 code; the step-size experiment (``step-size``) uses the same problem.
"""

from __future__ import annotations

import time

import numpy as np

from ...errors import InputError
from ..base import Verdict, experiment

COLORS = {"random search": "#E69F00", "random local search": "#009E73",
          "gradient descent": "#0072B2"}
LECTURE_RANDOM_SEARCH_CIFAR10 = 0.155  # CS682 lecture 3 / CS231n notes: best of 1000 draws


def raw_pixels(dataset: str, n_train: int, seed: int, dtype=np.float32):
    """``(X, y, X_test, y_test, classes)`` with the pixels scaled back to 0..255 (the lecture's
    raw CIFAR-10 pixels); the first ``n_train`` training rows."""
    from ...data import load_dataset

    ds = load_dataset(dataset, seed=seed)
    if n_train < 1 or n_train > ds.n_train:
        raise InputError(f"n_train must be between 1 and {ds.n_train} for {dataset}, "
                         f"got {n_train}")
    X = (ds.X_train[:n_train] * 255.0).astype(dtype)
    X_test = (ds.X_test * 255.0).astype(dtype)
    return X, ds.y_train[:n_train], X_test, ds.y_test, ds.classes


def _gradient_descent(f, theta0, budget: int, lr: float):
    """``budget`` evaluations of loss and gradient; every evaluation but the last is followed
    by a step, so the last loss is the loss of the returned point."""
    from ...optim import SGD

    theta = theta0.copy()
    opt = SGD(lr)
    state = opt.init(theta)
    losses = np.empty(budget)
    for i in range(budget):
        losses[i], grad = f.loss_and_grad(theta)
        if not np.isfinite(losses[i]):
            raise InputError(f"gradient descent diverged at evaluation {i + 1} with lr {lr:g}; "
                             f"choose a smaller lr")
        if i < budget - 1:
            opt.step(theta, grad, state)
    return theta, losses


def _run_all(model, f, budget, scale, step, lr, seed):
    """The three strategies, drawing in turn from one generator seeded with ``seed``; random
    local search and gradient descent start from the same weights. One dict per strategy."""
    from ...optim import random_local_search, random_search

    rng = np.random.default_rng(seed)
    theta0 = (scale * rng.standard_normal(model.n_params)).astype(np.float32)
    out = {}
    t = time.perf_counter()
    rs = random_search(f, model.n_params, budget, scale=scale, rng=rng, dtype=np.float32)
    out["random search"] = dict(theta=rs.theta, curve=rs.history, accepted=rs.n_accepted,
                                seconds=time.perf_counter() - t)
    t = time.perf_counter()
    rls = random_local_search(f, theta0, budget - 1, step=step, rng=rng)
    seconds = time.perf_counter() - t
    # its first evaluation is the start (the search returns only what followed it)
    curve = np.concatenate([[f.loss(theta0)], rls.history])
    out["random local search"] = dict(theta=rls.theta, curve=curve, accepted=rls.n_accepted,
                                      seconds=seconds)
    t = time.perf_counter()
    theta, losses = _gradient_descent(f, theta0, budget, lr)
    out["gradient descent"] = dict(theta=theta, curve=losses, accepted=None,
                                   seconds=time.perf_counter() - t)
    return out


def _figure(runs, accs, budget, dataset, n_classes):
    from ...viz import new_figure

    fig = new_figure((12, 4.6))
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.5, 1])
    evals = np.arange(1, budget + 1)
    for name, r in runs.items():
        label = name + (" (loss at each step)" if name == "gradient descent"
                        else " (best loss so far)")
        ax1.plot(evals, r["curve"], color=COLORS[name], lw=2, label=label)
    ax1.axhline(np.log(n_classes), color="gray", ls=":", lw=1,
                label=f"uniform guessing, ln {n_classes}")
    ax1.set(xlabel="loss evaluations (same budget for each strategy)",
            ylabel="training loss (softmax, raw pixels)", ylim=(0, None),
            title=f"{dataset}: the same {budget} evaluations, three strategies")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    names = list(runs)
    bars = ax2.bar(range(3), [accs[n] for n in names], color=[COLORS[n] for n in names])
    for bar, n in zip(bars, names):
        ax2.text(bar.get_x() + bar.get_width() / 2, accs[n] + 0.01, f"{accs[n]:.1%}",
                 ha="center", va="bottom", fontsize=9)
    ax2.axhline(1 / n_classes, color="gray", ls=":", lw=1, label="chance")
    ax2.axhline(LECTURE_RANDOM_SEARCH_CIFAR10, color="#CC79A7", ls="--", lw=1,
                label="lecture: random search on CIFAR-10 (15.5%)")
    ax2.set_xticks(range(3), [n.replace(" ", "\n") for n in names])
    ax2.set(ylabel="test accuracy", ylim=(0, 1.05), title="test accuracy reached")
    ax2.legend(fontsize=8, loc="upper left")
    ax2.grid(alpha=0.3, axis="y")
    return fig


def _verdicts(final, accs, budget, n_classes):
    gd, rls, rs = (final[k] for k in ("gradient descent", "random local search",
                                      "random search"))
    a_gd, a_rls, a_rs = (accs[k] for k in ("gradient descent", "random local search",
                                           "random search"))
    chance = 1 / n_classes
    return [
        Verdict("following the gradient wins by a wide margin at equal evaluations: after the "
                "same number of loss evaluations, gradient descent's training loss is less "
                "than half that of random search and of random local search",
                f"training loss after {budget} evaluations: gradient descent {gd:.3f}, random "
                f"local search {rls:.3f}, random search {rs:.3f}", bool(gd < 0.5 * min(rs, rls))),
        Verdict("... and its test accuracy is far higher (by at least 20 points)",
                f"test accuracy: gradient descent {a_gd:.1%}, random local search {a_rls:.1%}, "
                f"random search {a_rs:.1%}", bool(a_gd - max(a_rs, a_rls) >= 0.20)),
        Verdict("random search stays close to chance: the lecture's best of 1000 random weight "
                "matrices reached 15.5% on CIFAR-10, where guessing gets 10% (within 20 points "
                "of chance here)",
                f"best of {budget} random draws: {a_rs:.1%} test accuracy (chance "
                f"{chance:.0%})", bool(a_rs <= chance + 0.20)),
        Verdict("iterative refinement helps: random local search (a random move kept only when "
                "the loss drops) ends below random search at the same budget",
                f"training loss: random local search {rls:.3f}, random search {rs:.3f}",
                bool(rls < rs)),
    ]


@experiment("search-strategies", topic="optimization: random search vs the gradient",
            shows="random search, random local search and gradient descent on the linear "
                  "softmax classifier with the same budget of loss evaluations: loss curves "
                  "and the test accuracy each reaches",
            quick_seconds=12, full_seconds=120, dataset="mnist", n_train=None, budget=None,
            scale=1e-4, step=1e-4, lr=1e-5)
def search_strategies(ctx, dataset, n_train, budget, scale, step, lr):
    """CS231n / CS682 lecture 3: following the gradient beats random search and random local
    search by a wide margin at the same number of loss evaluations."""
    import steepest

    n_train = int(n_train or ctx.pick(2000, 10000))
    budget = int(budget or ctx.pick(200, 1000))
    if budget < 2:
        raise InputError(f"budget must be at least 2 loss evaluations, got {budget}")
    X, y, X_test, y_test, classes = raw_pixels(dataset, n_train, ctx.seed)
    model = steepest.linear(X.shape[1], len(classes))
    f = model.bind(X, y)
    runs = _run_all(model, f, budget, float(scale), float(step), float(lr), ctx.seed)
    final = {k: float(r["curve"][-1]) for k, r in runs.items()}
    accs = {k: model.accuracy(r["theta"], X_test, y_test) for k, r in runs.items()}
    table = [{"strategy": k, "loss evaluations": budget, "final training loss": final[k],
              "test accuracy": accs[k], "accepted moves": r["accepted"],
              "seconds": r["seconds"]} for k, r in runs.items()]
    text = (f"Left: the training loss of the linear classifier on {n_train} {dataset} images "
            f"(raw pixels, 0-255) against the number of loss evaluations spent. Random search "
            f"(independent draws of {scale:g} * randn, the best kept) barely moves below the "
            f"loss of guessing; random local search (moves of {step:g} * randn, kept when the "
            f"loss drops) creeps down; gradient descent (lr {lr:g}, each evaluation followed by "
            f"a step against the gradient) falls fastest. Right: the test accuracy of the point "
            f"each strategy returns, beside the lecture's 15.5% for random search on CIFAR-10. "
            f"A gradient evaluation costs about twice a loss alone (the table's seconds), which "
            f"does not change the picture.")
    data = {k: {"curve": r["curve"]} for k, r in runs.items()}
    return ctx.result(_verdicts(final, accs, budget, len(classes)), table,
                      {"search_strategies": _figure(runs, accs, budget, dataset, len(classes))},
                      text, data)
