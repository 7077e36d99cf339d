"""``generalization-gap`` and ``double-descent``: what a network fits when labels carry no
signal, and how test error moves as a network grows past the size that fits its data.

Claims checked:

- Zhang et al. 2017, "Understanding deep learning requires rethinking generalization": a
  network large enough fits random labels as readily as true ones (optimization succeeds), yet
  only the true labels generalize, so the capacity to fit says nothing about generalization;
- Nakkiran et al. 2019, "Deep double descent" (the double-descent curve of CS682 lecture 3,
  "But things can be complicated!"): with noisy labels, test error first falls with width,
  rises to a peak at the interpolation threshold (the smallest network that fits the training
  set) and falls again beyond it, below its first minimum.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from ... import _validate as checks
from ...errors import InputError
from ..base import Verdict, experiment, findings


def with_label_noise(data, fraction: float, seed: int):
    """``data`` (a :class:`~steepest.build.RunData`) with each training label, with
    probability ``fraction``, replaced by a different class drawn at random (so about that
    fraction is wrong); validation and test labels are untouched."""
    if fraction <= 0:
        return data
    y = np.array(data.y_train, copy=True)
    rng = np.random.default_rng([seed, 11])
    n_classes = data.dataset.n_classes
    flip = np.flatnonzero(rng.random(y.size) < fraction)
    y[flip] = (y[flip] + rng.integers(1, n_classes, flip.size)) % n_classes
    return replace(data, y_train=y)


# ---------------------------------------------------------------------------- random labels
TRUE_COLOR, SHUFFLED_COLOR = "#0072B2", "#D55E00"


def _stop_when_fitted(target: float):
    """A trainer callback ending the run once the training accuracy reaches ``target``."""
    from ...train import Callback

    class StopWhenFitted(Callback):
        def on_epoch_end(self, trainer, state, row):
            if row["train_acc"] >= target:
                state.stop("stopped", f"training accuracy {row['train_acc']:.4f} reached "
                                      f"{target:g} at epoch {row['epoch']}")

    return StopWhenFitted()


def _fit_labels(ctx, data, y_train, hidden: int, max_epochs: int, lr: float, target):
    from ... import mlp
    from ...optim import Adam
    from ...train import Trainer, TrainSettings

    model = mlp([data.n_features, hidden, data.dataset.n_classes])
    settings = TrainSettings(epochs=max_epochs, batch_size=32, seed=ctx.seed,
                             restore_best=False, eval_train_size=y_train.size,
                             monitor_every=100_000)
    stop = [] if target is None else [_stop_when_fitted(target)]
    return Trainer(model, Adam(lr=lr), data.X_train, y_train, data.X_val, data.y_val, settings,
                   X_test=data.X_test, y_test=data.y_test, callbacks=stop).run()


def _gap_figure(runs: dict, chance: float):
    from ...viz import new_figure

    fig = new_figure((12, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    for (label, res), color in zip(runs.items(), (TRUE_COLOR, SHUFFLED_COLOR)):
        epochs = [h["epoch"] for h in res.history]
        ax1.plot(epochs, [h["train_eval_loss"] for h in res.history], color=color, lw=1.8,
                 label=label)
        ax2.plot(epochs, [h["train_acc"] for h in res.history], color=color, lw=1.8,
                 label=f"{label}: training accuracy")
        ax2.plot(epochs, [h["val_acc"] for h in res.history], color=color, lw=1.8, ls="--",
                 label=f"{label}: validation accuracy (true labels)")
    ax2.axhline(chance, color="#999999", ls=":", label=f"chance ({chance:.2f})")
    ax1.set(xlabel="epoch", ylabel="training loss (on the labels it trains on)", yscale="log",
            title="optimization succeeds on both")
    ax2.set(xlabel="epoch", ylabel="accuracy", ylim=(0, 1.02),
            title="generalization only on the true labels")
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    return fig


@experiment("generalization-gap", topic="generalization",
            shows="the same network fits true labels and randomly shuffled labels alike, but "
                  "only the true labels generalize (Zhang et al. 2017)",
            quick_seconds=6, full_seconds=110, dataset=None, n_train=None, hidden=512,
            lr=3e-3, max_epochs=None, shuffles=3)
def generalization_gap(ctx, dataset, n_train, hidden, lr, max_epochs, shuffles):
    """Train one network on the true labels and ``shuffles`` on the same labels shuffled among
    the training examples, each until it fits its training labels (or ``max_epochs``)."""
    from ...build import build_data
    from ...config import parse_config

    dataset = dataset or ctx.pick("digits", "mnist")
    data = build_data(parse_config({"data": {"name": dataset, "preprocess": "center",
                                             "train_subset": n_train or ctx.pick(500, 2000)},
                                    "train": {"seed": ctx.seed}}))
    data = replace(data, X_val=data.X_val[:2000], y_val=data.y_val[:2000])
    max_epochs = checks.positive_int(max_epochs or ctx.pick(300, 400), "max_epochs")
    shuffles = checks.positive_int(shuffles, "shuffles")
    runs = {}
    for k in range(shuffles):
        shuffled = np.random.default_rng([ctx.seed, 5, k]).permutation(data.y_train)
        label = f"shuffled labels ({k + 1})" if shuffles > 1 else "shuffled labels"
        runs[label] = _fit_labels(ctx, data, shuffled, hidden, max_epochs, lr, 1.0)
    # the true labels train as long as the first shuffle needed, to compare the curves
    first = next(iter(runs.values()))
    runs = {"true labels": _fit_labels(ctx, data, data.y_train, hidden, first.epochs, lr, None),
            **runs}
    chance = 1.0 / data.dataset.n_classes
    table = [{"labels": label, "epochs": res.epochs, "steps": res.steps,
              "train_acc": res.train_acc, "train_loss": res.final_loss,
              "val_acc": res.val_acc, "test_acc": res.test_acc} for label, res in runs.items()]
    n = data.X_train.shape[0]
    text = (f"The same {data.n_features}-{hidden}-{data.dataset.n_classes} ReLU network, trained "
            f"with Adam (lr {lr:g}) on {n} {dataset} examples, once with their true labels and "
            f"{len(runs) - 1} time(s) with the labels shuffled among the examples (same label "
            f"counts, no relation to the images). A shuffled run stops when it classifies "
            f"every training example correctly; the true-label run trains as many epochs as "
            f"the first shuffled one. Left: the training loss falls on both, more slowly on "
            f"the shuffled labels: the network has enough capacity to memorize {n} arbitrary "
            f"labels. Right: training accuracy (solid) reaches 1 for both, but validation "
            f"accuracy (dashed, true labels) rises only for the network trained on true labels; "
            f"the other stays near chance. Fitting the training data says nothing, on its own, "
            f"about generalization. (The figure shows the first shuffle; the table all.)")
    shown = dict(list(runs.items())[:2])
    verdicts = _gap_verdicts(runs, chance)
    text += findings(verdicts, sep=":")
    return ctx.result(verdicts, table, {"generalization_gap": _gap_figure(shown, chance)}, text,
                      {label: res.history for label, res in runs.items()})


def _gap_verdicts(runs: dict, chance: float) -> list[Verdict]:
    true = runs["true labels"]
    rand = [res for label, res in runs.items() if label != "true labels"]
    rand_acc = float(np.mean([r.test_acc for r in rand]))
    fit = min(r.train_acc for r in rand)
    fitted_at = next((h["epoch"] for h in true.history if h["train_acc"] >= 1.0), None)
    slower = np.mean([r.epochs for r in rand]) / fitted_at if fitted_at else float("nan")
    each = ", ".join(f"{r.test_acc:.3f}" for r in rand)
    return [
        Verdict("optimization succeeds on true and on shuffled labels alike: the network fits "
                "both training sets (training accuracy at least 0.99)",
                f"training accuracy: true labels {true.train_acc:.4f} (first reached 1 at epoch "
                f"{fitted_at}); shuffled labels at least {fit:.4f} after "
                f"{', '.join(str(r.epochs) for r in rand)} epochs ({slower:.1f} times as many)",
                true.train_acc >= 0.99 and fit >= 0.99),
        Verdict("generalization happens only with the true labels: the shuffled-label networks' "
                f"test accuracy is at chance (mean within 5 points of {chance:.2f}), the "
                "true-label network's far above it",
                f"test accuracy: true labels {true.test_acc:.4f}; shuffled labels {each} (mean "
                f"{rand_acc:.4f}; chance {chance:.2f})",
                abs(rand_acc - chance) <= 0.05 and true.test_acc >= chance + 0.5),
    ]


# ---------------------------------------------------------------------------- double descent
TEST_COLOR, TRAIN_COLOR, THRESHOLD_COLOR = "#D55E00", "#0072B2", "#999999"
FITTED = 0.005  # a training error at most this counts as fitting the training set


def _train_full_batch(data, width: int, steps: int, lr: float, seed: int):
    """A ``D-width-C`` ReLU network trained with full-batch Adam, without regularization;
    returns ``(train error, test error, test loss, parameter count)``."""
    from ... import mlp
    from ...optim import Adam

    X, y = data.X_train, data.y_train
    model = mlp([data.n_features, width, data.dataset.n_classes])
    theta = model.init_params(seed, dtype=np.float32)
    opt = Adam(lr=lr)
    state = opt.init(theta)
    grad = np.empty_like(theta)
    for _ in range(steps):
        model.loss_and_grad(theta, X, y, out=grad, validate=False)
        state = opt.step(theta, grad, state)
    train_acc = model.evaluate(theta, X, y)[1]
    test_loss, test_acc = model.evaluate(theta, data.X_test, data.y_test)
    return 1.0 - train_acc, 1.0 - test_acc, test_loss, model.n_params


def _threshold(rows) -> int | None:
    """The index of the first (narrowest) network that fits its training set."""
    return next((i for i, r in enumerate(rows) if r["train_error"] <= FITTED), None)


def _dd_verdicts(rows, n_train: int) -> list[Verdict]:
    test = np.array([r["test_error"] for r in rows])
    widths = [r["width"] for r in rows]
    t = _threshold(rows)
    if t is None or t == 0:
        why = ("no network fitted its training set" if t is None
               else "even the narrowest network fitted its training set")
        return [Verdict("test error peaks at the interpolation threshold", why, False),
                Verdict("past the threshold test error falls below its first minimum", why,
                        False)]
    # the peak: the worst test error within a factor 2 of the threshold's width; the first
    # minimum: the best test error of the networks narrower than the peak
    window = [i for i, w in enumerate(widths) if widths[t] / 2 <= w <= 2 * widths[t]]
    peak = max(window, key=lambda i: test[i])
    before = int(np.argmin(test[:peak])) if peak > 0 else None
    first_min = test[before] if before is not None else np.nan
    return [
        Verdict("with noisy labels, test error peaks at the interpolation threshold: near the "
                "narrowest network that fits the training set (within a factor 2 of its width) "
                "test error rises 2 points or more above its first minimum, at a narrower "
                "width, and above the widest network's",
                f"the training error first reaches ~0 at width {widths[t]} "
                f"({rows[t]['params']} parameters for {n_train} examples); test error peaks "
                f"at {test[peak]:.3f} (width {widths[peak]}) against {first_min:.3f} at width "
                f"{widths[before] if before is not None else '-'} and {test[-1]:.3f} at width "
                f"{widths[-1]}",
                bool(before is not None and test[peak] >= first_min + 0.02
                     and test[peak] >= test[-1] + 0.02)),
        Verdict("past the threshold test error descends a second time, below the best "
                "under-parameterized network's",
                f"widest ({widths[-1]}): {test[-1]:.3f}; best narrower than the threshold: "
                f"{test[:t].min():.3f} (width {widths[int(np.argmin(test[:t]))]})",
                bool(test[-1] < test[:t].min())),
    ]


def _dd_figure(rows, n_train: int, n_classes: int, n_features: int, noise: float):
    from ...viz import new_figure

    fig = new_figure((13, 4.8))
    ax1, ax2 = fig.subplots(1, 2)
    widths = [r["width"] for r in rows]
    t = _threshold(rows)
    # the width whose parameter count equals n x C (the threshold of a squared loss)
    nk = (n_train * n_classes - n_classes) / (n_features + 1 + n_classes)
    for ax in (ax1, ax2):
        if t is not None:
            ax.axvline(widths[t], color=THRESHOLD_COLOR, lw=8, alpha=0.35,
                       label=f"interpolation threshold (training error first ~0, width "
                             f"{widths[t]})")
        if widths[0] <= nk <= widths[-1]:
            ax.axvline(nk, color=THRESHOLD_COLOR, ls=":", lw=1.5,
                       label=f"parameters = examples x classes (width {nk:.0f})")
    ax1.plot(widths, [r["test_error"] for r in rows], "o-", color=TEST_COLOR,
             label="test error")
    ax1.plot(widths, [r["train_error"] for r in rows], "s--", color=TRAIN_COLOR,
             label=f"training error (on the noisy labels; {noise:.0%} of them wrong)")
    ax1.set(xscale="log", xlabel="hidden units (one hidden layer)", ylabel="error",
            ylim=(0, None), title="test error against width: down, up at the threshold, down")
    ax2.plot(widths, [r["test_loss"] for r in rows], "o-", color=TEST_COLOR, label="test loss")
    ax2.set(xscale="log", xlabel="hidden units", ylabel="test cross-entropy", ylim=(0, None),
            title="test loss: the peak is sharper")
    labels, last = [], -1.0
    for w in widths:  # label the widths that leave room on a log axis
        room = np.log10(w) - last >= 0.12
        labels.append(str(w) if room else "")
        last = np.log10(w) if room else last
    for ax, corner in ((ax1, "upper right"), (ax2, "upper left")):
        ax.set_xticks(widths, labels)
        ax.tick_params(axis="x", which="minor", bottom=False, labelbottom=False)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc=corner)
    return fig


@experiment("double-descent", topic="generalization",
            shows="test error against the width of a one-hidden-layer network trained to fit "
                  "noisy labels: a peak at the interpolation threshold, then a second descent "
                  "(Nakkiran et al. 2019)",
            quick_seconds=8, full_seconds=40, dataset=None, n_train=None, noise=0.2,
            widths=None, steps=None, lr=0.01, pca=None)
def double_descent(ctx, dataset, n_train, noise, widths, steps, lr, pca):
    """Train networks of every width with full-batch Adam, long and without regularization,
    on a small training set with ``noise`` of its labels wrong; measure the test error."""
    from ...build import build_data
    from ...config import parse_config

    dataset = dataset or ctx.pick("digits", "mnist")
    if not 0 <= float(noise) < 1:
        raise InputError(f"noise must be a fraction of wrong labels in [0, 1), got {noise!r}")
    pca = pca if pca is not None else (50 if dataset == "mnist" else 0)
    cfg = {"name": dataset, "train_subset": n_train or ctx.pick(500, 1000),
           "preprocess": "pca" if pca else "center"}
    if pca:
        cfg["pca_components"] = int(pca)
    data = with_label_noise(build_data(parse_config({"data": cfg, "train": {"seed": ctx.seed}})),
                            noise, ctx.seed)
    widths = sorted({checks.positive_int(w, "a width") for w in (widths or ctx.pick(
        (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 64),
        (1, 2, 4, 6, 8, 10, 12, 14, 16, 20, 24, 32, 48, 64, 128, 256)))})
    if len(widths) < 3:
        raise InputError(f"widths must hold at least three hidden sizes, got {widths}")
    steps = checks.positive_int(steps or ctx.pick(1500, 4000), "steps")
    rows = []
    for w in widths:
        train_err, test_err, test_loss, params = _train_full_batch(data, w, steps, lr, ctx.seed)
        rows.append({"width": w, "params": params, "train_error": train_err,
                     "test_error": test_err, "test_loss": test_loss})
    n, k = data.X_train.shape[0], data.dataset.n_classes
    verdicts = _dd_verdicts(rows, n)
    features = (f"{dataset} images reduced to {data.n_features} PCA components" if pca
                else f"{data.n_features}-pixel {dataset} images")
    text = (f"One-hidden-layer ReLU networks of {len(widths)} widths, each trained with "
            f"full-batch Adam (lr {lr:g}, {steps} steps, no regularization, no early stopping) "
            f"on {n} {features}, {noise:.0%} of whose labels were replaced by a "
            f"wrong class. Left: narrow networks cannot fit the training set (blue); test error "
            f"(orange) first falls as they grow, then rises to a peak as the network comes to "
            f"fit every training label, wrong ones included (grey band: the first width with "
            f"training error ~0; the peak sits at it or just before it, where the last wrong "
            f"labels are being forced in). There the fit has to bend around every mislabeled "
            f"example. "
            f"Wider networks fit them too, but more smoothly, and test error falls again. With "
            f"a cross-entropy loss the peak sits at this interpolation threshold, near as many "
            f"parameters as examples, not at examples x classes parameters (dotted line, the "
            f"threshold of a squared loss). Right: the test loss shows the same peak, sharper.")
    if not all(v.held for v in verdicts):
        text += (" At these sizes and this training length the peak did not show as the "
                 "lecture's curve does: see the verdicts.")
    return ctx.result(verdicts, rows, {"double_descent": _dd_figure(rows, n, k, data.n_features,
                                                                    noise)}, text)
