"""``regularization``: train and validation accuracy against the strength of L2, L1, elastic
net and dropout; the weights L1 and L2 leave; the lecture's preference example.

Claims checked (CS682 lecture 3, "Regularization"; CS231n "Neural Networks 2" and the course
digest): regularization "prevents the model from having too much flexibility", so a moderate
strength narrows the gap between training and validation accuracy while too much of it
underfits (both fall); L1 leads to sparse weights (many exactly or nearly zero) while L2
"likes to spread out the weights" (small, diffuse values); and the worked example
``x = [1, 1, 1, 1]``, ``w1 = [1, 0, 0, 0]``, ``w2 = [.25, .25, .25, .25]``: both score
``w.x = 1``, L2 prefers ``w2`` (penalty 0.25 against 1), L1 is indifferent (1 against 1).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ... import _validate as checks
from ...errors import InputError
from ..base import Verdict, experiment, findings

KINDS = ("l2", "l1", "elastic", "dropout")
KIND_LABEL = {"l2": "L2", "l1": "L1", "elastic": "elastic net (half L1, half L2)",
              "dropout": "dropout"}
TRAIN_COLOR, VAL_COLOR = "#D55E00", "#0072B2"
L1_COLOR, L2_COLOR = "#E69F00", "#0072B2"
NEAR_ZERO = 1e-3  # |w| below this counts as (nearly) zero
PREFERENCE = {"x": [1.0, 1.0, 1.0, 1.0], "w1": [1.0, 0.0, 0.0, 0.0],
              "w2": [0.25, 0.25, 0.25, 0.25]}


def _preference() -> dict:
    """The lecture's example, computed with the library's penalties."""
    from ...regularizers import l1_penalty, l2_penalty

    x, w1, w2 = (np.array(PREFERENCE[k]) for k in ("x", "w1", "w2"))
    return {"score_w1": float(w1 @ x), "score_w2": float(w2 @ x),
            "l2_w1": l2_penalty(w1)[0], "l2_w2": l2_penalty(w2)[0],
            "l1_w1": l1_penalty(w1)[0], "l1_w2": l1_penalty(w2)[0]}


def _data(ctx, dataset: str, n_train: int, noise: float):
    from ...build import build_data
    from ...config import parse_config
    from .generalization import with_label_noise

    data = build_data(parse_config({"data": {"name": dataset, "preprocess": "center",
                                             "train_subset": n_train, "val_fraction": 0.2},
                                    "train": {"seed": ctx.seed}}))
    data = with_label_noise(data, noise, ctx.seed)
    # validated every epoch: 2000 rows measure accuracy to about a point, and cost little
    return replace(data, X_val=data.X_val[:2000], y_val=data.y_val[:2000])


def _fit(ctx, data, hidden: int, epochs: int, lr: float, kind: str, strength: float) -> dict:
    """Train one network; ``strength`` is lambda for the penalties, the drop probability
    ``1 - p`` for dropout (0: no regularization)."""
    from ... import mlp
    from ...optim import Momentum
    from ...train import Trainer, TrainSettings

    penalty = kind if kind != "dropout" and strength > 0 else "none"
    keep = 1.0 - strength if kind == "dropout" and strength > 0 else None
    model = mlp([data.n_features, hidden, data.dataset.n_classes], regularizer=penalty,
                reg=strength if penalty != "none" else 0.0, dropout=keep)
    settings = TrainSettings(epochs=epochs, batch_size=32, seed=ctx.seed, restore_best=False,
                             eval_train_size=data.X_train.shape[0], monitor_every=10_000)
    res = Trainer(model, Momentum(lr=lr), data.X_train, data.y_train, data.X_val,
                  data.y_val, settings).run()
    train_acc = model.evaluate(res.theta, data.X_train, data.y_train)[1]
    # weights from inputs that never vary (blank border pixels) get no gradient from the data:
    # any penalty decays them to zero, so they would blur the L1 / L2 comparison
    w = model.params(res.theta)["fc1.W"][data.X_train.std(axis=0) > 0]
    return {"kind": kind, "strength": strength, "train_acc": train_acc, "val_acc": res.val_acc,
            "gap": train_acc - res.val_acc, "near_zero": float(np.mean(np.abs(w) < NEAR_ZERO)),
            "status": res.status, "weights": w.ravel()}


def _strength_figure(sweeps: dict, base: dict):
    from ...viz import new_figure

    fig = new_figure((14, 7.5))
    axes = fig.subplots(2, 2).ravel()
    for ax, (kind, rows) in zip(axes, sweeps.items()):
        x = [r["strength"] for r in rows]
        ax.plot(x, [r["train_acc"] for r in rows], "o-", color=TRAIN_COLOR,
                label="training accuracy (on the noisy labels it trained on)")
        ax.plot(x, [r["val_acc"] for r in rows], "s-", color=VAL_COLOR,
                label="validation accuracy (clean labels)")
        ax.axhline(base["train_acc"], color=TRAIN_COLOR, ls=":", lw=1)
        ax.axhline(base["val_acc"], color=VAL_COLOR, ls=":", lw=1,
                   label="dotted: without regularization")
        best = max(rows, key=lambda r: r["val_acc"])
        ax.axvline(best["strength"], color="#999999", lw=6, alpha=0.3,
                   label="best validation accuracy")
        xlabel = ("drop probability 1 - p" if kind == "dropout"
                  else "regularization strength lambda")
        ax.set(xscale="linear" if kind == "dropout" else "log", xlabel=xlabel,
               ylabel="accuracy", ylim=(0, 1.02), title=KIND_LABEL[kind])
        ax.grid(alpha=0.3, which="both")
    axes[0].legend(fontsize=8, loc="lower left")
    fig.suptitle("a moderate strength closes the gap between the two curves; too much lowers "
                 "both")
    return fig


def _weights_figure(l1: dict, l2: dict, pref: dict):
    from ...viz import new_figure

    fig = new_figure((16, 4.5))
    ax1, ax2, ax3 = fig.subplots(1, 3, gridspec_kw={"width_ratios": [1.3, 1.3, 1]})
    lim = float(max(np.abs(l1["weights"]).max(), np.abs(l2["weights"]).max()))
    for row, color, name in ((l2, L2_COLOR, "L2"), (l1, L1_COLOR, "L1")):
        label = f"{name}, lambda {row['strength']:.2g}"
        ax1.hist(row["weights"], bins=np.linspace(-lim, lim, 81), histtype="step", lw=1.8,
                 color=color, label=label)
        mags = np.log10(np.maximum(np.abs(row["weights"]), 1e-8))
        ax2.hist(mags, bins=np.linspace(-8, np.log10(lim) + 0.1, 61), histtype="step", lw=1.8,
                 color=color, label=f"{label}: {row['near_zero']:.0%} below {NEAR_ZERO:g}")
    ax1.set(yscale="log", xlabel="first-layer weight w (inputs that vary)",
            ylabel="number of weights",
            title="weights after training (each at its best validation strength)")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.axvline(np.log10(NEAR_ZERO), color="#999999", ls="--", lw=1)
    ax2.set(xlabel="log10 |w|  (|w| below 1e-8 drawn at -8)", ylabel="number of weights",
            title="the same weights by magnitude: L1's pile near zero")
    ax2.legend(fontsize=8, loc="upper left")
    ax2.grid(alpha=0.3)
    pos = np.arange(2)
    ax3.bar(pos - 0.2, [pref["l2_w1"], pref["l2_w2"]], 0.4, color=L2_COLOR, label="L2: sum w^2")
    ax3.bar(pos + 0.2, [pref["l1_w1"], pref["l1_w2"]], 0.4, color=L1_COLOR, label="L1: sum |w|")
    ax3.set_xticks(pos, ["w1 = [1, 0, 0, 0]", "w2 = [.25, .25, .25, .25]"])
    ax3.set(ylabel="penalty R(w)", ylim=(0, 1.25),
            title="lecture example: x = [1, 1, 1, 1], w.x = 1 for both")
    ax3.legend(fontsize=8)
    return fig


def _verdicts(sweeps: dict, base: dict, pref: dict) -> list[Verdict]:
    best = {k: max(rows, key=lambda r: r["val_acc"]) for k, rows in sweeps.items()}
    narrowed = {k: b["gap"] < base["gap"] and b["val_acc"] >= base["val_acc"]
                for k, b in best.items()}
    penalties = [k for k in sweeps if k != "dropout"]
    strongest = {k: sweeps[k][-1] for k in penalties}
    l1, l2 = best.get("l1"), best.get("l2")
    out = [Verdict(
        "a moderate regularization strength narrows the gap between training and validation "
        "accuracy (at the strength with the best validation accuracy the gap is smaller than "
        "without regularization, and validation accuracy is no lower)",
        f"without: train {base['train_acc']:.3f}, val {base['val_acc']:.3f} (gap "
        f"{base['gap']:.3f}); " + "; ".join(
            f"{KIND_LABEL[k]} at {b['strength']:.2g}: train {b['train_acc']:.3f}, val "
            f"{b['val_acc']:.3f} (gap {b['gap']:.3f})" for k, b in best.items()),
        all(narrowed.values()))]
    if penalties:
        out.append(Verdict(
            "too much regularization underfits: at the largest penalty strength both training "
            "and validation accuracy fall below the unregularized network's",
            "; ".join(f"{KIND_LABEL[k]} at {r['strength']:.2g}: train {r['train_acc']:.3f}, val "
                      f"{r['val_acc']:.3f}" for k, r in strongest.items()),
            all(r["train_acc"] < base["train_acc"] and r["val_acc"] < base["val_acc"]
                for r in strongest.values())))
    if l1 is not None and l2 is not None:
        out.append(Verdict(
            "L1 makes the weights sparse (many exactly or nearly zero), while L2 leaves small "
            f"weights spread over many entries: the share of |w| < {NEAR_ZERO:g} is at least "
            "5 times larger under L1 than under L2",
            f"|w| < {NEAR_ZERO:g}: L1 (lambda {l1['strength']:.2g}) {l1['near_zero']:.1%}, L2 "
            f"(lambda {l2['strength']:.2g}) {l2['near_zero']:.1%}, none "
            f"{base['near_zero']:.1%}; median |w|: L1 {np.median(np.abs(l1['weights'])):.2g}, "
            f"L2 {np.median(np.abs(l2['weights'])):.2g}, none "
            f"{np.median(np.abs(base['weights'])):.2g}",
            l1["near_zero"] >= 5 * l2["near_zero"]))
    out.append(Verdict(
        "with x = [1, 1, 1, 1], w1 = [1, 0, 0, 0] and w2 = [.25, .25, .25, .25] score the same "
        "(w.x = 1); L2 prefers w2 (penalty 0.25 against 1), L1 is indifferent (1 against 1)",
        f"scores {pref['score_w1']:g} and {pref['score_w2']:g}; L2 penalties {pref['l2_w1']:g} "
        f"and {pref['l2_w2']:g}; L1 penalties {pref['l1_w1']:g} and {pref['l1_w2']:g}",
        pref["score_w1"] == pref["score_w2"] == 1 and pref["l2_w1"] == 1
        and pref["l2_w2"] == 0.25 and pref["l1_w1"] == pref["l1_w2"] == 1))
    return out


@experiment("regularization", topic="regularization",
            shows="training and validation accuracy against the strength of L2, L1, elastic net "
                  "and dropout on a small noisy training set; the weights L1 and L2 leave; the "
                  "lecture's preference example",
            quick_seconds=8, full_seconds=90, dataset=None, n_train=None, noise=0.2,
            hidden=None, epochs=None, lr=None, kinds=KINDS,
            strengths=(1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2, 1e-1),
            drop=(0.1, 0.3, 0.5, 0.7, 0.9))
def regularization(ctx, dataset, n_train, noise, hidden, epochs, lr, kinds, strengths, drop):
    """Sweep each regularizer's strength on a small training set whose labels are partly
    wrong (``noise``), so that the unregularized network overfits visibly."""
    dataset = dataset or ctx.pick("digits", "mnist")
    kinds = [checks.choice(k, KINDS, "regularizer") for k in dict.fromkeys(kinds)]
    if not 0 <= float(noise) < 1:
        raise InputError(f"noise must be a fraction of wrong labels in [0, 1), got {noise!r}")
    if len(strengths) < 2 or min(float(s) for s in strengths) <= 0:
        raise InputError(f"strengths must hold at least two positive values, got {strengths}")
    if len(drop) < 2 or not all(0 < float(d) < 1 for d in drop):
        raise InputError(f"drop must hold at least two drop probabilities in (0, 1), got {drop}")
    hidden = checks.positive_int(hidden or ctx.pick(128, 256), "hidden")
    # 784 MNIST pixels need a smaller step than 64 digits pixels (0.05 diverges with dropout)
    lr = checks.nonneg_float(lr or (0.05 if dataset == "digits" else 0.01), "lr")
    data = _data(ctx, dataset, n_train or ctx.pick(300, 1000), noise)
    epochs = epochs or ctx.pick(30, 50)
    base = _fit(ctx, data, hidden, epochs, lr, "none", 0.0)
    sweeps = {k: [_fit(ctx, data, hidden, epochs, lr, k, float(s))
                  for s in sorted(drop if k == "dropout" else strengths)]
              for k in kinds}
    pref = _preference()
    best = {k: max(rows, key=lambda r: r["val_acc"]) for k, rows in sweeps.items()}
    table = [{k: v for k, v in row.items() if k != "weights"}
             for row in [base, *(r for rows in sweeps.values() for r in rows)]]
    figures = {"regularization": _strength_figure(sweeps, base)}
    if "l1" in best and "l2" in best:
        figures["regularization_weights"] = _weights_figure(best["l1"], best["l2"], pref)
    n = data.X_train.shape[0]
    text = (f"A {data.n_features}-{hidden}-{data.dataset.n_classes} ReLU network trained for "
            f"{epochs} epochs on only {n} {dataset} examples, {noise:.0%} of them with a wrong "
            f"label (validation labels are clean). Without regularization it fits the training "
            f"labels, wrong ones included, and the gap to validation is wide (dotted lines). "
            f"regularization: each panel sweeps one regularizer; the training curve falls as "
            f"the network stops memorizing the wrong labels, the validation curve first rises "
            f"(the gap closes) and then both fall (too much: the network underfits). "
            f"regularization_weights: the first-layer weights of the best L1 and L2 networks "
            f"(log counts): L1 piles most weights at zero and leaves a few large ones, L2 keeps "
            f"them all small but non-zero; right, the lecture's example of the two penalties.")
    verdicts = _verdicts(sweeps, base, pref)
    return ctx.result(verdicts, table, figures, text + findings(verdicts), {"preference": pref})
