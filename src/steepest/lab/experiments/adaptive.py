"""``adaptive``: SGD, momentum, Nesterov, Adagrad, RMSProp, Adam and AdamW on the same MLP,
each at the rate a short search on the validation split picked.

The lectures' claims checked here: momentum fixes the slow progress of plain gradient descent
on poorly conditioned objectives (Neuromatch W1D5 section 4; CS231n "momentum almost always
enjoys better convergence rates"); the adaptive per-parameter rules (Adagrad, RMSProp, Adam)
train an MLP faster than plain SGD (Neuromatch W1D5 section 7, with Kingma and Ba's MLP
figure); and Adam works well at its default rate 1e-3 (CS231n: "Adam is currently recommended
as the default algorithm").
"""

from __future__ import annotations

import math

import numpy as np

from ... import _validate as checks
from ...build import build_data, build_model, build_optimizer, run_plan, train_settings
from ...config import parse_config, with_values
from ..base import Verdict, experiment

RULES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")
MOMENTUM_RULES = ("momentum", "nesterov")
ADAPTIVE_RULES = ("adagrad", "rmsprop", "adam", "adamw")
ADAM_DEFAULT_LR = 1e-3
# Okabe-Ito colours, one per rule, with a line style each so that grey print still tells them
STYLE = {"sgd": ("#000000", "-"), "momentum": ("#0072B2", "-"), "nesterov": ("#56B4E9", "--"),
         "adagrad": ("#009E73", "-"), "rmsprop": ("#E69F00", "-"), "adam": ("#D55E00", "-"),
         "adamw": ("#CC79A7", "--")}


def _base(ctx, dataset: str, hidden, preprocess: str) -> dict:
    """The run every rule shares: data, model, batch size, seed (nested config dict)."""
    return {"data": {"name": dataset, "preprocess": preprocess,
                     "train_subset": ctx.pick(None, 20000)},
            "model": {"hidden": list(hidden), "activation": "relu", "reg": 0.0},
            "train": {"batch_size": ctx.pick(32, 128), "seed": ctx.seed,
                      "restore_best": False, "eval_train_size": 500}}


def _train(cfg, data):
    """Train ``cfg`` on the already loaded ``data``; returns ``(TrainResult, model)``."""
    from ...train import Trainer

    model = build_model(cfg, data.n_features, data.dataset.n_classes)
    plan = run_plan(cfg, data.X_train.shape[0])
    trainer = Trainer(model, build_optimizer(cfg, model, plan), data.X_train, data.y_train,
                      data.X_val, data.y_val, train_settings(cfg), X_test=data.X_test,
                      y_test=data.y_test)
    return trainer.run(), model


def _search(base: dict, data, rule: str, grid, steps: int) -> list[dict]:
    """The validation loss after ``steps`` steps at every rate of ``grid`` (a diverged run
    scores infinity)."""
    rows = []
    for lr in grid:
        cfg = with_values(base, {"optim.name": rule, "optim.lr": float(lr),
                                 "train.iterations": steps})
        res, _ = _train(cfg, data)
        val = res.history[-1]["val_loss"] if res.history else math.inf
        ok = res.status == "completed" and math.isfinite(val)
        rows.append({"rule": rule, "lr": float(lr), "val_loss": val if ok else math.inf,
                     "status": res.status})
    return rows


def _final(base: dict, data, rule: str, lr: float, epochs: int) -> dict:
    """Train ``rule`` at ``lr`` for ``epochs``; the loss on the whole training set at the end."""
    cfg = with_values(base, {"optim.name": rule, "optim.lr": lr, "train.epochs": epochs})
    res, model = _train(cfg, data)
    train_loss, train_acc = model.evaluate(res.theta, data.X_train, data.y_train)
    return {"rule": rule, "lr": lr, "train_loss": train_loss, "train_acc": train_acc,
            "mean_loss": float(np.mean(res.losses)), "val_acc": res.val_acc,
            "test_acc": res.test_acc, "status": res.status,
            "losses": res.losses, "history": res.history}


def _curves(ax1, ax2, finals: dict, steps_per_epoch: int):
    from ...viz import smooth

    for rule, row in finals.items():
        color, ls = STYLE.get(rule, ("#999999", ":"))
        label = f"{rule} (lr {row['lr']:.2g})"
        steps = np.arange(1, row["losses"].size + 1)
        ax1.plot(steps, smooth(row["losses"], 0.98), color=color, ls=ls, lw=1.5, label=label)
        hist = row["history"]
        ax2.plot([h["epoch"] for h in hist], [h["val_acc"] for h in hist], "o", color=color,
                 ls=ls, ms=3, lw=1.5, label=label)
    ax1.set(xlabel=f"step ({steps_per_epoch} steps per epoch)",
            ylabel="training loss (mini-batch, smoothed)", yscale="log",
            title="training loss at equal steps, each rule at its searched rate")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    ax2.set(xlabel="epoch", ylabel="validation accuracy", title="validation accuracy")
    ax2.grid(alpha=0.3)


def _search_panel(ax, searches: dict, picked: dict):
    for rule, rows in searches.items():
        color, ls = STYLE.get(rule, ("#999999", ":"))
        lrs = [r["lr"] for r in rows]
        vals = [r["val_loss"] if math.isfinite(r["val_loss"]) else np.nan for r in rows]
        ax.plot(lrs, vals, "o", color=color, ls=ls, ms=4, label=rule)
        best = next(r for r in rows if r["lr"] == picked[rule])
        ax.plot([best["lr"]], [best["val_loss"]], "*", color=color, ms=13, mec="black",
                mew=0.6)
    ax.set(xscale="log", yscale="log", xlabel="learning rate",
           ylabel="validation loss after the short search run",
           title="the search (star: the rate picked; gaps: diverged)")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)


def _figure(finals, searches, picked, steps_per_epoch):
    from ...viz import new_figure

    fig = new_figure((17, 5))
    ax0, ax1, ax2 = fig.subplots(1, 3)
    _search_panel(ax0, searches, picked)
    _curves(ax1, ax2, finals, steps_per_epoch)
    return fig


def _verdicts(finals: dict, adam_default: dict) -> list[Verdict]:
    """The claims, measured by the mean training loss over the run (the area under each curve
    of the middle panel: lower means the rule made faster progress at equal steps); the final
    loss on the training set is reported beside it."""
    sgd = finals["sgd"]

    def shown(rules):
        return "; ".join(f"{r} {finals[r]['mean_loss']:.3g} (final {finals[r]['train_loss']:.3g})"
                         for r in rules)

    head = f"mean training loss over the run: sgd {sgd['mean_loss']:.3g} (final " \
           f"{sgd['train_loss']:.3g}); "
    mom = [r for r in MOMENTUM_RULES if r in finals]
    ada = [r for r in ADAPTIVE_RULES if r in finals]
    best_rule = max(finals, key=lambda r: finals[r]["test_acc"])
    best = finals[best_rule]["test_acc"]
    out = []
    if mom:
        out.append(Verdict(
            "momentum (classical and Nesterov) makes faster progress than plain SGD: a lower "
            "training loss at equal steps, each rule at its own searched rate",
            head + shown(mom), all(finals[r]["mean_loss"] < sgd["mean_loss"] for r in mom)))
    if ada:
        out.append(Verdict(
            "the adaptive rules (Adagrad, RMSProp, Adam, AdamW) make faster progress than plain "
            "SGD: a lower training loss at equal steps, each rule at its own searched rate",
            head + shown(ada), all(finals[r]["mean_loss"] < sgd["mean_loss"] for r in ada)))
    out.append(Verdict(
        f"Adam at its default rate {ADAM_DEFAULT_LR:g} is a good starting point with no search: "
        f"its test accuracy is within 2 points of the best searched rule's",
        f"Adam at {ADAM_DEFAULT_LR:g}: test accuracy {adam_default['test_acc']:.4f}; best "
        f"searched rule {best_rule} (lr {finals[best_rule]['lr']:.2g}): {best:.4f}",
        adam_default["test_acc"] >= best - 0.02))
    return out


@experiment("adaptive", topic="optimization: adaptive methods",
            shows="plain SGD, momentum, Nesterov, Adagrad, RMSProp, Adam and AdamW training the "
                  "same MLP, each at a rate picked by a short search on the validation split",
            quick_seconds=15, full_seconds=90, dataset=None, rules=RULES, hidden=(100, 100),
            epochs=None, preprocess="none")
def adaptive(ctx, dataset, rules, hidden, epochs, preprocess):
    """Search a log grid of rates per rule (short runs, scored by validation loss), train each
    rule at its pick for the same number of steps, and compare."""
    dataset = dataset or ctx.pick("digits", "mnist")
    rules = [checks.choice(r, RULES, "update rule") for r in dict.fromkeys(rules)]
    if "sgd" not in rules:
        rules.insert(0, "sgd")  # the baseline every claim compares with
    epochs = checks.positive_int(epochs or 10, "epochs")
    hidden = [hidden] if isinstance(hidden, int) else list(hidden)
    base = _base(ctx, dataset, hidden, preprocess)
    data = build_data(parse_config(base))
    grid = np.logspace(-4, 0.5, 10)  # 1e-4 to 3.16 in half decades
    search_steps = ctx.pick(100, 300)
    searches = {r: _search(base, data, r, grid, search_steps) for r in rules}
    picked = {r: min(rows, key=lambda row: row["val_loss"])["lr"] for r, rows in searches.items()}
    finals = {r: _final(base, data, r, picked[r], epochs) for r in rules}
    adam_default = (finals["adam"] if picked.get("adam") == ADAM_DEFAULT_LR
                    else _final(base, data, "adam", ADAM_DEFAULT_LR, epochs))
    steps_per_epoch = run_plan(parse_config(base), data.X_train.shape[0]).steps_per_epoch
    table = [{k: v for k, v in row.items() if k not in ("losses", "history")}
             for row in [*finals.values(), {**adam_default, "rule": "adam (default rate)"}]]
    sizes = "-".join(map(str, [data.n_features, *hidden, data.dataset.n_classes]))
    text = (f"{len(rules)} update rules train the same {sizes} ReLU network on {dataset} "
            f"({preprocess} preprocessing) from the same initial weights and the same batches. "
            f"Left: the search, the validation loss after {search_steps} steps at each rate of "
            f"a log grid; the star is the rate each rule then trains with. Middle: the "
            f"training loss over {epochs} epochs (log scale): the lower a curve at a given "
            f"step, the faster that rule optimizes; the claims compare the mean of each curve "
            f"(the final value of a single noisy run says less). Right: validation accuracy. "
            f"The table adds Adam at its default rate {ADAM_DEFAULT_LR:g}, with no search. "
            f"The picked rates differ by orders of magnitude between rules: comparing rules at "
            f"one shared rate would compare rates, not rules.")
    verdicts = _verdicts(finals, adam_default)
    failed = [v.claim.split(":")[0] for v in verdicts if not v.held]
    if failed:
        text += (" Finding: on this run the claim(s) '" + "'; '".join(failed) + "' did not "
                 "hold; see the verdicts for the numbers.")
    data_out = {"search": [r for rows in searches.values() for r in rows],
                "curves": {r: row["losses"].tolist() for r, row in finals.items()}}
    return ctx.result(verdicts, table,
                      {"adaptive": _figure(finals, searches, picked, steps_per_epoch)}, text,
                      data_out)
