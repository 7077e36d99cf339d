"""``step-size`` and ``learning-rates``: how far to step along the negative gradient.

``step-size`` reproduces the CS231n notes' loop ``for step_size_log in [-10, ..., -1]``: the loss
after ONE step ``W - step_size * dW`` of each size, all from the same weights, on the linear
classifier with raw pixels (the notes' CIFAR-10 setting; CS682 lecture 3). The notes' claims:
tiny steps barely change the loss, a middle step lowers it most, a step too large "oversteps"
and raises it. Beside it, Leslie Smith's learning-rate range test (one short run whose rate grows
exponentially), whose suggested rate should lie where the loss falls.

``learning-rates`` is the CS231n babysitting figure ("Neural Networks 3", reproduced in
Neuromatch W1D5 section 7): SGD loss curves for a very high, a high, a low and a good rate. Its
claims: the very high rate diverges, the high one decays fast and then plateaus at a higher
loss, the low one decreases slowly and almost linearly, the good one reaches the lowest loss.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ..base import Verdict, experiment
from .search import raw_pixels

NOTES_STEPS = 10.0 ** np.arange(-10, 0)  # the notes' loop: 1e-10 ... 1e-1
FALL_FRACTION = 0.1  # "where the loss falls": at least this share of the largest one-step fall


# ----------------------------------------------------------------------------- step-size
def _falling_region(sweep) -> tuple[float, float]:
    """The smallest and largest step of ``sweep`` whose one-step loss falls by at least
    FALL_FRACTION of the largest fall."""
    fall = sweep.loss0 - np.where(np.isfinite(sweep.losses), sweep.losses, np.inf)
    if not fall.max() > 0:  # no step lowers the loss
        return float("nan"), float("nan")
    ok = np.nonzero(fall >= FALL_FRACTION * fall.max())[0]
    return float(sweep.step_sizes[ok[0]]), float(sweep.step_sizes[ok[-1]])


def _range_test(model, X, y, theta0, n_steps, batch_size, seed):
    """The learning-rate range test from ``theta0`` (plain SGD, mini-batches drawn without
    replacement within each batch), rates 1e-10 to 1e-1 like the notes' loop."""
    from ...optim import lr_range_test

    rng = np.random.default_rng(seed)

    def batch(theta, i):
        idx = rng.choice(X.shape[0], batch_size, replace=False)
        return model.loss_and_grad(theta, X[idx], y[idx], train=True, rng=rng)

    return lr_range_test(batch, theta0.astype(X.dtype), lr_min=1e-10, lr_max=1e-1,
                         n_steps=n_steps)


def _sweep_axes(ax, fine, notes, region, suggestion):
    ax.loglog(fine.step_sizes, fine.losses, "-", color="#0072B2", lw=1.5,
              label="loss after one step (fine grid)")
    ax.loglog(notes.step_sizes, notes.losses, "o", color="#0072B2", ms=7,
              label="the notes' loop: 1e-10 ... 1e-1")
    ax.axhline(notes.loss0, color="gray", ls="--", lw=1, label=f"before the step: "
               f"{notes.loss0:.3f}")
    if np.all(np.isfinite(region)):
        ax.axvspan(*region, color="#009E73", alpha=0.15,
                   label=f"loss falls by >= {FALL_FRACTION:.0%} of the best fall")
    ax.axvline(suggestion, color="#D55E00", ls="--", lw=1.5,
               label=f"range test suggests {suggestion:.2g}")
    ax.set(xlabel="step size", ylabel="training loss after one gradient step",
           title="one step of each size from the same weights")
    ax.legend(fontsize=8, loc="upper left")
    ax.grid(alpha=0.3, which="both")


def _step_figure(fine, notes, region, rt):
    from ...viz import new_figure

    fig = new_figure((12.5, 4.8))
    ax1, ax2 = fig.subplots(1, 2)
    _sweep_axes(ax1, fine, notes, region, rt.suggestion)
    ax2.semilogx(rt.lrs[: rt.smoothed.size], rt.smoothed, "-", color="#0072B2", lw=1.5,
                 label="smoothed mini-batch loss")
    if np.all(np.isfinite(region)):
        ax2.axvspan(*region, color="#009E73", alpha=0.15,
                    label="where one step lowers the loss (left)")
    ax2.axvline(rt.suggestion, color="#D55E00", ls="--", lw=1.5,
                label=f"suggested rate {rt.suggestion:.2g}")
    top = min(float(np.nanmax(rt.smoothed)), 4 * float(rt.smoothed[0]))
    ax2.set(xlabel="learning rate (grows every step)", ylabel="smoothed mini-batch loss",
            ylim=(0, top * 1.05),
            title=(f"range test: rate rising from 1e-10, stopped at {rt.lrs[-1]:.1g} where "
                   f"the loss blew up" if rt.stopped_early else
                   "learning-rate range test: one run, rate rising 1e-10 to 1e-1"))
    ax2.legend(fontsize=8, loc="lower left")
    ax2.grid(alpha=0.3, which="both")
    return fig


def _step_verdicts(notes, region, rt):
    loss0, steps, losses = notes.loss0, notes.step_sizes, notes.losses
    rel = np.abs(losses[:2] - loss0) / loss0
    predicted = steps[:2] * notes.grad_norm ** 2  # first order: the loss falls by s |g|^2
    first_order = np.abs((loss0 - losses[:2]) / predicted - 1)
    best = int(np.argmin(np.where(np.isfinite(losses), losses, np.inf)))
    over = [s for s, v in zip(steps, losses) if not v <= loss0]
    return [
        Verdict("tiny steps barely change the loss: steps of 1e-10 and 1e-9 change it by less "
                "than 0.1%, by the first-order amount step * |grad|^2 (within 5%)",
                f"loss {loss0:.5f} before; relative change {rel[0]:.1e} (1e-10) and "
                f"{rel[1]:.1e} (1e-9); off the first-order prediction by "
                f"{first_order.max():.1%}", bool(rel.max() < 1e-3 and first_order.max() < 0.05)),
        Verdict("a middle step lowers the loss most: the best step of the loop is neither the "
                "smallest nor the largest",
                f"best step {steps[best]:.0e}: loss {losses[best]:.4f} (from {loss0:.4f})",
                bool(0 < best < len(steps) - 1 and losses[best] < loss0)),
        Verdict("too large a step oversteps: the loss after the largest steps is higher than "
                "before the step",
                f"loss after a step of 1e-1: {losses[-1]:.4g} (before {loss0:.4g}); the loss "
                f"first rises at step {min(over):.0e}" if over else
                f"no step of the loop raised the loss (1e-1: {losses[-1]:.4g})",
                bool(losses[-1] > loss0)),
        Verdict("the range test suggests a rate where the loss falls: inside the steps whose one "
                "step lowers the loss by at least 10% of the best fall",
                f"suggested {rt.suggestion:.2g} (steepest fall of the smoothed loss); the loss "
                f"falls for steps {region[0]:.2g} to {region[1]:.2g}",
                bool(region[0] <= rt.suggestion <= region[1])),
    ]


@experiment("step-size", topic="optimization: the step size",
            shows="the loss after one gradient step of each size from 1e-10 to 1e-1 (the "
                  "notes' loop) on the linear classifier, and the learning-rate range test",
            quick_seconds=5, full_seconds=12, dataset="mnist", n_train=None, scale=1e-4,
            batch_size=64)
def step_size(ctx, dataset, n_train, scale, batch_size):
    """CS231n notes' step-size loop: tiny steps do nothing, a middle one is best, large ones
    overstep; the range test's suggestion lies where the loss falls."""
    import steepest

    from ...optim import step_size_sweep

    n_train = int(n_train or ctx.pick(2000, 10000))
    X, y, _, _, classes = raw_pixels(dataset, n_train, ctx.seed)
    model = steepest.linear(X.shape[1], len(classes))
    theta0 = float(scale) * np.random.default_rng(ctx.seed).standard_normal(model.n_params)
    f = model.bind(X.astype(np.float64), y)
    notes = step_size_sweep(f, theta0, NOTES_STEPS)
    fine = step_size_sweep(f, theta0, 10.0 ** np.arange(-10, 0.01, 0.125))
    region = _falling_region(fine)
    rt = _range_test(model, X, y, theta0, ctx.pick(100, 200), int(batch_size), ctx.seed)
    table = [{"step size": float(s), "loss after the step": float(v),
              "change": float(v - notes.loss0)} for s, v in zip(notes.step_sizes, notes.losses)]
    text = (f"Left: the notes' experiment on {n_train} {dataset} images (raw pixels 0-255, "
            f"weights {scale:g} * randn): from the same weights, one step W - s dW for each s. "
            f"Up to about 1e-8 the loss hardly moves (the change is s |dW|^2, first order); "
            f"around {notes.step_sizes[np.argmin(notes.losses)]:.0e} it falls most; beyond "
            f"that the step jumps over the valley and the loss climbs by orders of magnitude "
            f"(log axes). Right: the range test trains for {rt.lrs.size} mini-batches with a "
            f"rate growing from 1e-10; its suggestion (steepest fall of the smoothed loss) "
            f"lands inside the green band where one step lowers the loss. Raw pixels make the "
            f"good steps tiny: with pixels in [0, 1] every step here would be 255^2 times "
            f"larger.")
    data = {"fine": fine.to_dict(), "range_test": rt.to_dict(), "falling_region": region}
    return ctx.result(_step_verdicts(notes, region, rt), table,
                      {"step_size": _step_figure(fine, notes, region, rt)}, text, data)


# ----------------------------------------------------------------------- learning-rates
LR_LABELS = ("very high", "high", "good", "low")
LR_COLORS = {"very high": "#E69F00", "high": "#009E73", "good": "#D55E00", "low": "#0072B2"}


def _train_each(cfg, rates):
    """One SGD run per rate on the pieces built once: same start, same batches."""
    from ...build import build
    from ...optim import SGD
    from ...train import Trainer

    pieces = build(cfg)
    data = pieces.data
    runs = {}
    for label, lr in zip(LR_LABELS, rates):
        trainer = Trainer(pieces.model, SGD(lr), data.X_train, data.y_train, data.X_val,
                          data.y_val, pieces.settings)
        runs[label] = trainer.run()
    return runs, pieces.plan.steps_per_epoch


def _shape(losses) -> dict:
    """Summary of a loss curve: the mean over its last 20% of steps (``tail``) and how much it
    fell in its second half against its first half (``second_half``: about 1 for a straight
    line, near 0 once it has flattened), from 10% windows at the start, middle and end."""
    n = losses.size
    w = max(1, n // 10)
    start, mid, end = (float(np.mean(losses[a : a + w])) for a in (0, n // 2 - w // 2, n - w))
    return {"tail": float(np.mean(losses[int(0.8 * n):])),
            "second_half": (mid - end) / (start - mid) if start != mid else float("nan")}


def _lr_verdicts(runs, rates, shapes):
    vh = runs["very high"]
    nan = float("nan")
    tail = {k: shapes[k]["tail"] if k in shapes else nan for k in LR_LABELS}
    half = {k: shapes[k]["second_half"] if k in shapes else nan for k in LR_LABELS}
    lr = dict(zip(LR_LABELS, rates))
    others = [k for k in shapes if k != "good"]

    def state(k):
        return "diverged" if k not in shapes else f"last-20% loss {tail[k]:.3f}"

    return [
        Verdict("a very high learning rate diverges: the loss blows up within a few steps",
                f"lr {rates[0]:g}: {vh.status}; the loss went from {vh.losses[0]:.3g} to "
                f"{vh.losses[-1]:.3g} at step {vh.losses.size}", vh.status == "diverged"),
        Verdict("a high learning rate plateaus at a higher loss than the good one (its second "
                "half gains less than a quarter of its first half's drop)",
                f"lr {lr['high']:g}: {state('high')} (good: {state('good')}); second half / "
                f"first half drop {half['high']:.2f}",
                bool(tail["high"] > tail["good"] and half["high"] < 0.25)),
        Verdict("a low learning rate decreases slowly and almost linearly: its second half still "
                "gains at least half of its first half's drop, and it ends far above the good "
                "rate (more than twice its loss)",
                f"lr {lr['low']:g}: second half / first half drop {half['low']:.2f}; "
                f"{state('low')} (good: {state('good')})",
                bool(half["low"] >= 0.5 and tail["low"] > 2 * tail["good"])),
        Verdict("the good learning rate reaches the lowest loss",
                f"lr {lr['good']:g}: {state('good')}; others: "
                + ", ".join(f"{k} {state(k)}" for k in LR_LABELS if k != "good"),
                bool("good" in shapes and all(tail["good"] < tail[k] for k in others))),
    ]


def _lr_figure(runs, rates, steps_per_epoch, first_steps=30):
    from ...viz import new_figure, smooth

    fig = new_figure((12.5, 4.8))
    ax1, ax2 = fig.subplots(1, 2, width_ratios=[1.6, 1])
    start = max(float(r.losses[0]) for r in runs.values())
    for (label, res), lr in zip(runs.items(), rates):
        loss = res.losses
        name = f"{label} (lr {lr:g})" + (" - diverged" if res.status == "diverged" else "")
        epochs = np.arange(1, loss.size + 1) / steps_per_epoch
        if res.status == "diverged":
            ax1.plot(epochs, loss, "o-", color=LR_COLORS[label], lw=2, ms=4, label=name)
            ax1.annotate(f"{label}: loss {loss[-1]:.3g} at step {loss.size}, off the axes",
                         xy=(epochs[-1], 1.12 * start), xytext=(0.3, 0.95),
                         textcoords="axes fraction", color=LR_COLORS[label], fontsize=8,
                         arrowprops={"arrowstyle": "->", "color": LR_COLORS[label]})
        else:
            ax1.plot(epochs, smooth(loss, 0.95), color=LR_COLORS[label], lw=2, label=name)
        k = min(first_steps, loss.size)
        ax2.semilogy(np.arange(1, k + 1), loss[:k], "o-", color=LR_COLORS[label], ms=3,
                     lw=1.2, label=name)
    ax1.set(xlabel="epoch", ylabel="training loss (mini-batch, smoothed)",
            ylim=(0, 1.15 * start),
            title="the babysitting figure: one curve per rate, same start and batches")
    ax1.legend(fontsize=8)
    ax1.grid(alpha=0.3)
    ax2.set(xlabel="step", ylabel="mini-batch loss (log scale)",
            title=f"the first {first_steps} steps: the blow-up in full")
    ax2.legend(fontsize=7)
    ax2.grid(alpha=0.3, which="both")
    return fig


@experiment("learning-rates", topic="optimization: babysitting the learning rate",
            shows="SGD loss curves of a very high, a high, a low and a good learning rate on "
                  "the linear classifier, overlaid (the CS231n babysitting figure)",
            quick_seconds=6, full_seconds=12, dataset="mnist", n_train=None, epochs=None,
            batch_size=64, rates=(10.0, 2.0, 0.5, 5e-4))
def learning_rates(ctx, dataset, n_train, epochs, batch_size, rates):
    """CS231n babysitting figure: a very high rate diverges, a high one plateaus higher, a low
    one creeps down almost linearly, a good one ends lowest."""
    from ...config import parse_config

    rates = tuple(float(r) for r in rates)
    if len(rates) != 4 or not all(r > 0 for r in rates):
        raise InputError(f"rates must be four positive learning rates (very high, high, good, "
                         f"low), got {rates!r}")
    cfg = parse_config({"data": {"name": dataset,
                                 "train_subset": int(n_train or ctx.pick(6000, 10000))},
                        "model": {"hidden": [], "loss": "softmax"},
                        "optim": {"name": "sgd", "lr": rates[2]},
                        "train": {"epochs": int(epochs or ctx.pick(6, 10)),
                                  "batch_size": int(batch_size), "seed": ctx.seed}})
    runs, steps_per_epoch = _train_each(cfg, rates)
    shapes = {k: _shape(r.losses) for k, r in runs.items() if r.status != "diverged"}
    table = [{"rate": k, "lr": lr, "status": r.status, "steps": int(r.losses.size),
              "first loss": float(r.losses[0]), "last loss": float(r.losses[-1]),
              "last-20% mean loss": shapes.get(k, {}).get("tail"),
              "second/first half drop": shapes.get(k, {}).get("second_half"),
              "val accuracy": r.val_acc if r.status != "diverged" else None}
             for (k, r), lr in zip(runs.items(), rates)]
    text = (f"Left: the mini-batch loss of the linear classifier on {cfg.data.train_subset} "
            f"{dataset} images, SGD with batches of {batch_size}, one curve per rate, all from "
            f"the same weights with the same batches (smoothed; the diverged run is drawn raw, "
            f"up to and including the step that blew up, and leaves the axes). Right: the "
            f"first steps on a log scale, where the blow-up shows in full. Compare the shapes "
            f"with the lecture's sketch: the high rate ends bouncing at a higher level than the "
            f"good one, the low one is still on a nearly straight descent, the good one ends "
            f"lowest. One difference from the sketch: there the high rate falls fastest at "
            f"first, while here its first steps overshoot (the spikes on the right) and it "
            f"catches up with the good rate only later.")
    data = {k: {"lr": lr, "losses": r.losses} for (k, r), lr in zip(runs.items(), rates)}
    return ctx.result(_lr_verdicts(runs, rates, shapes), table,
                      {"learning_rates": _lr_figure(runs, rates, steps_per_epoch)}, text, data)
