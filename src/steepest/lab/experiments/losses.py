"""``svm-vs-softmax``: the lecture's worked scores, the "jiggle" question, and both losses
trained on the same data (CS682 lecture 3, "Loss function, Regularization, Optimization")."""

from __future__ import annotations

import numpy as np

from ...config import parse_config
from ...losses import softmax_loss, svm_loss
from ..base import Verdict, experiment

# lecture 3: three examples (columns: a cat, a car and a frog image), three classes
WORKED_SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
WORKED_LABELS = np.array([0, 1, 2])
SVM_PER_EXAMPLE = (2.9, 0.0, 12.9)  # the lecture's hinge losses, mean 5.27
JIGGLE = np.array([[10.0, -2.0, 3.0], [10.0, 9.0, 9.0], [10.0, -100.0, -100.0]])


def _per_example(loss, scores, labels):
    return [loss(scores[i : i + 1], labels[i : i + 1])[0] for i in range(len(labels))]


def _jiggle_rows(eps: float):
    """Each jiggle row's losses before and after a jiggle: the correct score (class 0) down
    by ``eps`` and the others up by ``eps``."""
    rows = []
    for scores in JIGGLE:
        moved = scores + np.array([-eps, eps, eps])
        y = np.array([0])
        before = (svm_loss(scores[None], y)[0], softmax_loss(scores[None], y)[0])
        after = (svm_loss(moved[None], y)[0], softmax_loss(moved[None], y)[0])
        rows.append({"scores": str(scores.tolist()), "svm": before[0],
                     "svm_jiggled": after[0], "softmax": before[1],
                     "softmax_jiggled": after[1]})
    return rows


def _train_both(ctx, dataset: str):
    from ...runs import train_run

    results = {}
    for loss in ("svm", "softmax"):
        cfg = parse_config({"data": {"name": dataset, "preprocess": "standardize",
                                     "train_subset": ctx.pick(2000, None)},
                            "model": {"hidden": [], "loss": loss, "reg": 1e-4},
                            "optim": {"name": "momentum", "lr": 0.01},
                            "train": {"epochs": ctx.pick(30, 40), "batch_size": 128,
                                      "seed": ctx.seed}})
        results[loss] = train_run(cfg)
    return results


def _jiggle_curves(ax):
    """Each jiggle example's two losses as its scores move by delta (correct down, others
    up): the SVM is flat at 0 until the margin is crossed, the softmax never is."""
    deltas = np.linspace(-2, 2, 201)
    y = np.array([0])
    colors = ("#0072B2", "#D55E00", "#009E73")
    for scores, color in zip(JIGGLE, colors):
        moved = [scores + d * np.array([-1.0, 1.0, 1.0]) for d in deltas]
        ax.plot(deltas, [svm_loss(m[None], y)[0] for m in moved], "-", color=color,
                label=f"SVM, scores {scores.astype(int).tolist()}")
        ax.plot(deltas, [softmax_loss(m[None], y)[0] for m in moved], "--", color=color,
                label=f"softmax, scores {scores.astype(int).tolist()}")
    ax.axvline(0, color="gray", lw=0.8)
    ax.set(xlabel="jiggle delta (correct score - delta, others + delta)",
           ylabel="loss of the example (true class 0)", ylim=(-0.1, 4),
           title="the jiggle question: SVM flat past the margin, softmax never")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def _figure(trained):
    from ...viz import new_figure

    fig = new_figure((12, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    _jiggle_curves(ax1)
    for loss, res in trained.items():
        ax2.plot([h["epoch"] for h in res.history], [h["val_acc"] for h in res.history], "o-",
                 ms=3, label=f"{loss} (test {res.test_acc:.3f})")
    ax2.set(xlabel="epoch", ylabel="validation accuracy",
            title="a linear classifier trained with each loss")
    ax2.legend()
    ax2.grid(alpha=0.3)
    return fig


@experiment("svm-vs-softmax", topic="loss functions",
            shows="the lecture's worked SVM and softmax losses, the jiggle question, and both "
                  "losses training the same linear classifier",
            quick_seconds=4, full_seconds=60, dataset=None, jiggle=0.1)
def svm_vs_softmax(ctx, dataset, jiggle):
    dataset = dataset or ctx.pick("digits", "mnist")
    svm_each = _per_example(svm_loss, WORKED_SCORES, WORKED_LABELS)
    softmax_each = _per_example(softmax_loss, WORKED_SCORES, WORKED_LABELS)
    rows = _jiggle_rows(float(jiggle))
    trained = _train_both(ctx, dataset)
    gap = abs(trained["svm"].test_acc - trained["softmax"].test_acc)
    verdicts = [
        Verdict("the multiclass SVM losses of the lecture's three examples are 2.9, 0 and 12.9 "
                "(mean 5.27)",
                f"{', '.join(f'{v:.2f}' for v in svm_each)} (mean {np.mean(svm_each):.2f})",
                bool(np.allclose(svm_each, SVM_PER_EXAMPLE, atol=1e-9))),
        Verdict("jiggling the scores of an example already past the margin leaves the SVM loss "
                "at 0, while the softmax loss changes",
                "SVM loss before/after: " + ", ".join(
                    f"{r['svm']:.3g}/{r['svm_jiggled']:.3g}" for r in rows)
                + " (the middle example sits exactly on the margin); softmax: " + ", ".join(
                    f"{r['softmax']:.3g}/{r['softmax_jiggled']:.3g}" for r in rows),
                all(r["svm"] == 0 == r["svm_jiggled"] for r in rows[::2])
                and all(r["softmax"] != r["softmax_jiggled"] for r in rows
                        if r["softmax"] > 1e-12)),
        Verdict("trained on the same data, the two losses give linear classifiers of similar "
                "accuracy (within 3 points)",
                f"test accuracy: SVM {trained['svm'].test_acc:.3f}, softmax "
                f"{trained['softmax'].test_acc:.3f} on {dataset}", gap <= 0.03),
    ]
    table = [{"example": i, "true class": int(WORKED_LABELS[i]), "svm loss": svm_each[i],
              "softmax loss": softmax_each[i]} for i in range(3)]
    text = ("Left: the three jiggle examples of the lecture (true class 0), each loss as the "
            "scores move by delta. The SVM only asks for a margin of 1: once the correct score "
            "is ahead by more than that, small changes cost nothing (flat at 0), and [10, 9, 9] "
            "sits exactly on the margin's kink. The softmax loss is never flat: it keeps pushing "
            "the correct score up and the others down. Right: both losses train a linear "
            "classifier to similar accuracy.")
    return ctx.result(verdicts, table, {"svm_vs_softmax": _figure(trained)}, text,
                      {"jiggle": rows, "softmax_worked": softmax_each})
