"""``initialization`` and ``batchnorm``: how the scale of the initial weights decides whether a
signal survives a deep network, and how BatchNorm removes that sensitivity.

Claims checked (CS231n "Neural Networks 2", weight initialization and batch normalization, and
its digest in the course notes):

- all-zero weights make every unit of a layer compute the same output and get the same update,
  so the units stay identical however long the network trains ("symmetry");
- small random numbers (``0.01 * randn``) make the activations of a deep tanh network collapse
  toward zero layer after layer;
- ``randn / sqrt(n)`` ("1/sqrt(n)", Xavier) keeps tanh activations alive through the depth;
- ``randn * sqrt(2 / n)`` (He) does the same for ReLU, where 1/sqrt(n) halves the variance at
  every layer;
- BatchNorm "takes care of a lot of the initialization headaches": it trains a network that a
  poor initialization and a high rate leave stalled or diverging.
"""

from __future__ import annotations

import numpy as np

from ... import _validate as checks
from ..base import Verdict, experiment, findings

INITS = ("zeros", "small", "xavier", "he")
INIT_LABEL = {"zeros": "zeros", "small": "0.01 randn", "xavier": "randn / sqrt(n)",
              "he": "randn * sqrt(2/n) (He)"}
INIT_COLOR = {"zeros": "#000000", "small": "#D55E00", "xavier": "#0072B2", "he": "#009E73"}
ALIVE_STD = 0.05  # a last-layer standard deviation above this still carries the signal
COLLAPSED_STD = 1e-3  # below this the signal has all but vanished (diagnostics' threshold)
FLOOR = 1e-9  # where a zero standard deviation is drawn on a log axis


# ---------------------------------------------------------------------------- statistics
def _inputs(kind: str, rows: int, width: int, seed: int):
    """CS231n's random unit-Gaussian inputs, or standardized MNIST / digits images."""
    if kind == "random":
        return np.random.default_rng([seed, 7]).standard_normal((rows, width)).astype(np.float32)
    from ...build import build_data
    from ...config import parse_config

    data = build_data(parse_config({"data": {"name": kind, "preprocess": "standardize"},
                                    "train": {"seed": seed}}))
    return data.X_train[:rows].astype(np.float32)


def _layer_outputs(activation: str, init: str, X, depth: int, width: int, seed: int):
    """The outputs of the ``depth`` activation layers of a fresh network, on ``X``."""
    from ... import mlp

    model = mlp([X.shape[1], *[width] * depth, 10], activation=activation, init=init)
    theta = model.init_params(seed, dtype=np.float32)
    return [out for _, kind, out in model.activations(theta, X) if kind == activation]


def _stats_rows(outputs: dict) -> list[dict]:
    rows = []
    for (activation, init), outs in outputs.items():
        for i, a in enumerate(outs, 1):
            row = {"activation": activation, "init": init, "layer": i,
                   "mean": float(a.mean()), "std": float(a.std())}
            if activation == "tanh":
                row["saturated"] = float(np.mean(np.abs(a) > 0.99))
            else:
                row["zero_fraction"] = float(np.mean(a <= 0))
            rows.append(row)
    return rows


def _histograms(activation: str, outputs: dict, depth: int):
    """CS231n's figure: one histogram per layer (columns) and initialization (rows). ReLU
    outputs are about half exact zeros; their histogram shows the positive values and the
    title the share of zeros."""
    from ...viz import new_figure

    fig = new_figure((1.55 * depth + 1.5, 7.5))
    fig.set_layout_engine("none")  # 40 small axes: a fixed grid draws much faster
    axes = fig.subplots(len(INITS), depth, sharex=True, sharey="row", squeeze=False,
                        gridspec_kw={"left": 0.07, "right": 0.99, "bottom": 0.04,
                                     "top": 0.88, "wspace": 0.25, "hspace": 0.8})
    relu = activation != "tanh"
    hi = float(np.percentile(outputs[(activation, "he")][0], 99.5)) if relu else 1.0
    lo = 0.0 if relu else -1.0
    for r, init in enumerate(INITS):
        for c, a in enumerate(outputs[(activation, init)]):
            ax = axes[r, c]
            shown = a[a > 0] if relu else a
            counts, edges = np.histogram(np.clip(shown, lo, hi), bins=40, range=(lo, hi))
            ax.stairs(counts / a.size, edges, fill=True, color=INIT_COLOR[init])
            zeros = f", {np.mean(a <= 0):.0%} zero" if relu else ""
            ax.set_title(f"layer {c + 1}\nstd {a.std():.2g}{zeros}", fontsize=7)
            ax.set_xlim(lo, hi)
            ax.tick_params(labelsize=6, labelbottom=r == len(INITS) - 1)
            if c == 0:
                ax.set_ylabel(INIT_LABEL[init], fontsize=8)
    what = "positive outputs" if relu else "outputs"
    fig.suptitle(f"{activation} {what} layer by layer at initialization: fraction of all "
                 f"values per bin (x from {lo:g} to {hi:.2g}; values beyond are clipped)")
    return fig


def _std_figure(outputs: dict, depth: int):
    from ...viz import new_figure

    fig = new_figure((12, 4.5))
    axes = fig.subplots(1, 2)
    layers = np.arange(1, depth + 1)
    for ax, activation in zip(axes, ("tanh", "relu")):
        for init in INITS:
            stds = [max(float(a.std()), FLOOR) for a in outputs[(activation, init)]]
            style = ":" if init == "zeros" else "-"
            ax.plot(layers, stds, "o", ls=style, color=INIT_COLOR[init], label=INIT_LABEL[init])
        ax.axhspan(FLOOR / 2, COLLAPSED_STD, color="#999999", alpha=0.2,
                   label=f"collapsed (std < {COLLAPSED_STD:g})")
        ax.set(yscale="log", xlabel="hidden layer", ylabel="std of the layer's activations",
               title=f"{activation}: does the signal survive the depth?", ylim=(FLOOR / 2, 10))
        ax.set_xticks(layers)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower left")
    fig.text(0.5, -0.02, "zeros: every activation is exactly 0 (std 0, drawn at the bottom)",
             ha="center", fontsize=8)
    return fig


# ---------------------------------------------------------------------------- symmetry
def _train(model, data, optimizer, epochs: int, batch_size: int, seed: int, dtype="float32"):
    from ...train import Trainer, TrainSettings

    settings = TrainSettings(epochs=epochs, batch_size=batch_size, seed=seed, dtype=dtype,
                             restore_best=False, eval_train_size=500, monitor_every=10_000)
    return Trainer(model, optimizer, data.X_train, data.y_train, data.X_val, data.y_val,
                   settings).run()


def _unit_spread(model, theta, X) -> list[float]:
    """Per hidden layer: how far its units are from being identical, the largest difference
    between any unit's activations and the first unit's, over the rows of ``X``."""
    outs = [a for _, kind, a in model.activations(theta, X) if kind not in ("linear",)]
    return [float(np.max(np.abs(a - a[:, :1]))) for a in outs]


def _symmetry(ctx, data, epochs: int):
    """Train the same sigmoid network from all-zero and from 1/sqrt(n) weights; also tanh and
    ReLU from zeros (whose hidden weights never move: tanh(0) = relu(0) = 0 passes no signal)."""
    from ... import mlp
    from ...optim import Momentum

    rows, weights = [], {}
    for activation, init in (("sigmoid", "zeros"), ("sigmoid", "xavier"), ("tanh", "zeros"),
                             ("relu", "zeros")):
        model = mlp([data.n_features, 32, 32, data.dataset.n_classes], activation=activation,
                    init=init)
        res = _train(model, data, Momentum(lr=0.1), epochs, 32, ctx.seed, dtype="float64")
        spread = _unit_spread(model, res.theta, data.X_val)
        w1 = model.params(res.theta)["fc1.W"]
        weights[(activation, init)] = w1
        rows.append({"activation": activation, "init": init, "train_acc": res.train_acc,
                     "val_acc": res.val_acc, "unit_spread_layer1": spread[0],
                     "unit_spread_layer2": spread[1], "max_abs_W1": float(np.abs(w1).max())})
    return rows, weights


def _symmetry_figure(weights: dict, rows: list[dict]):
    from ...viz import new_figure

    fig = new_figure((12, 4.2))
    axes = fig.subplots(1, 2)
    for ax, key in zip(axes, (("sigmoid", "zeros"), ("sigmoid", "xavier"))):
        w = weights[key]
        row = next(r for r in rows if (r["activation"], r["init"]) == key)
        lim = float(np.abs(w).max()) or 1.0
        im = ax.imshow(w, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, shrink=0.85, label="weight")
        ax.set(xlabel="hidden unit of layer 1", ylabel="input feature (pixel)",
               title=f"after training from {INIT_LABEL[key[1]]}: layer 1 weights\n(val "
                     f"accuracy {row['val_acc']:.2f})")
    fig.suptitle("a 64-32-32-10 sigmoid network trained on digits: from zero weights every column "
                 "(unit) is the same, so the layer acts as one unit")
    return fig


def _ratio_text(outputs, activation, init) -> str:
    outs = outputs[(activation, init)]
    return f"{outs[0].std():.3g} -> {outs[-1].std():.3g}"


def _init_verdicts(outputs: dict, sym: list[dict], depth: int) -> list[Verdict]:
    def std(activation, init, layer):
        return float(outputs[(activation, init)][layer].std())

    he = std("relu", "he", -1) / max(std("relu", "he", 0), 1e-300)
    by = {(r["activation"], r["init"]): r for r in sym}
    zero, rand = by[("sigmoid", "zeros")], by[("sigmoid", "xavier")]
    stuck = [by[(a, "zeros")]["max_abs_W1"] for a in ("tanh", "relu")]
    return [
        Verdict("small random weights (0.01 randn) make the activations of a deep tanh network "
                f"collapse toward 0 (std of the last layer below {COLLAPSED_STD:g})",
                f"std of tanh layer 1 -> layer {depth}: {_ratio_text(outputs, 'tanh', 'small')}",
                std("tanh", "small", -1) < COLLAPSED_STD),
        Verdict("randn / sqrt(n) keeps the tanh activations alive through the depth (std of the "
                f"last layer above {ALIVE_STD:g})",
                f"std of tanh layer 1 -> layer {depth}: {_ratio_text(outputs, 'tanh', 'xavier')}",
                std("tanh", "xavier", -1) > ALIVE_STD),
        Verdict("He initialization keeps ReLU activations alive: the last layer's std stays "
                "within a factor of 2 of the first's (randn / sqrt(n) halves the variance at "
                "every ReLU layer)",
                f"std of ReLU layer 1 -> layer {depth}: He {_ratio_text(outputs, 'relu', 'he')} "
                f"(ratio {he:.2f}); randn / sqrt(n) {_ratio_text(outputs, 'relu', 'xavier')}",
                0.5 <= he <= 2.0 and std("relu", "xavier", -1) < std("relu", "he", -1)),
        Verdict("zero initialization leaves every hidden unit of a layer identical, however long "
                "the network trains",
                f"after training, largest difference between a unit's activations and the first "
                f"unit's: zeros {zero['unit_spread_layer1']:.3g} (layer 1), "
                f"{zero['unit_spread_layer2']:.3g} (layer 2); randn / sqrt(n) "
                f"{rand['unit_spread_layer1']:.3g}, {rand['unit_spread_layer2']:.3g}. With tanh "
                f"and ReLU the zero weights never move at all (largest |W1| "
                f"{stuck[0]:.3g}, {stuck[1]:.3g})",
                zero["unit_spread_layer1"] == 0 and zero["unit_spread_layer2"] == 0
                and rand["unit_spread_layer1"] > 0.01 and max(stuck) == 0),
    ]


@experiment("initialization", topic="training: weight initialization",
            shows="per-layer activation histograms of a deep tanh and ReLU network for zero, "
                  "small random, 1/sqrt(n) and He initial weights, and the symmetry that zero "
                  "weights never break",
            quick_seconds=10, full_seconds=20, depth=10, width=500, rows=None, inputs="random",
            epochs=None)
def initialization(ctx, depth, width, rows, inputs, epochs):
    """Forward ``rows`` inputs through a fresh ``depth`` x ``width`` network for every
    initialization and activation; train small networks from zeros to show the symmetry."""
    from ...build import build_data
    from ...config import parse_config

    depth = checks.positive_int(depth, "depth")
    width = checks.positive_int(width, "width")
    rows = checks.positive_int(rows or ctx.pick(500, 1000), "rows")
    checks.choice(inputs, ("random", "digits", "mnist"), "inputs")
    X = _inputs(inputs, rows, width, ctx.seed)
    outputs = {(a, i): _layer_outputs(a, i, X, depth, width, ctx.seed)
               for a in ("tanh", "relu") for i in INITS}
    digits = build_data(parse_config({"data": {"name": "digits"}, "train": {"seed": ctx.seed}}))
    sym, weights = _symmetry(ctx, digits, epochs or ctx.pick(15, 40))
    summary = [{"activation": a, "init": i, "std_layer_1": float(o[0].std()),
                f"std_layer_{depth}": float(o[-1].std()),
                "ratio_last_first": float(o[-1].std() / o[0].std()) if o[0].std() else None}
               for (a, i), o in outputs.items()]
    text = (f"{rows} {'unit-Gaussian random' if inputs == 'random' else inputs} inputs pass "
            f"through a fresh network of {depth} hidden layers of {width} units. "
            f"initialization_tanh / initialization_relu: one histogram per layer (columns) and "
            f"initialization (rows), as in CS231n's figures. With 0.01 randn the tanh "
            f"histograms shrink to a spike at 0 within a few layers: later layers see no "
            f"signal, and their gradients vanish too. randn / sqrt(n) keeps them spread out. "
            f"With ReLU, randn / sqrt(n) halves the variance at every layer and He's sqrt(2/n) "
            f"compensates. initialization_std: the same story as one number per layer. "
            f"initialization_symmetry: a 2-hidden-layer sigmoid network trained on digits from "
            f"all-zero weights ends with every column of its first weight matrix identical: "
            f"each unit computed the same output, got the same gradient and the same update, so "
            f"the layer behaves as one unit. With tanh or ReLU, zero weights are worse still: "
            f"tanh(0) = relu(0) = 0, so no gradient ever reaches the hidden weights.")
    figures = {"initialization_tanh": _histograms("tanh", outputs, depth),
               "initialization_relu": _histograms("relu", outputs, depth),
               "initialization_std": _std_figure(outputs, depth),
               "initialization_symmetry": _symmetry_figure(weights, sym)}
    verdicts = _init_verdicts(outputs, sym, depth)
    return ctx.result(verdicts, summary + sym, figures, text + findings(verdicts),
                      {"layers": _stats_rows(outputs)})


# ---------------------------------------------------------------------------- batchnorm
BN_RUNS = (("plain", False, "poor"), ("BatchNorm", True, "poor"), ("plain", False, "good"))
BN_COLORS = ("#D55E00", "#0072B2", "#009E73")  # the three runs of BN_RUNS, in order


def _steps_to(losses, level: float) -> int | None:
    """The first step whose smoothed loss is below ``level`` (None if never)."""
    from ...viz import smooth

    below = np.flatnonzero(smooth(losses, 0.9) < level)
    return int(below[0]) + 1 if below.size else None


def _bn_runs(ctx, data, depth, width, init, lr, epochs):
    from ... import mlp
    from ...optim import Momentum

    good = "xavier" if init == "xavier" else "he"
    runs = {}
    for label, batchnorm, quality in BN_RUNS:
        model = mlp([data.n_features, *[width] * depth, data.dataset.n_classes],
                    activation="relu", batchnorm=batchnorm,
                    init=init if quality == "poor" else good)
        res = _train(model, data, Momentum(lr=lr), epochs, 64, ctx.seed)
        loss, acc = model.evaluate(res.theta, data.X_train, data.y_train)
        rng = np.random.default_rng(ctx.seed)
        X0 = data.X_train[:256]
        theta0 = model.init_params(ctx.seed, dtype=np.float32)
        stds = [float(a.std()) for _, kind, a in model.activations(theta0, X0, train=True,
                                                                     rng=rng) if kind == "relu"]
        runs[f"{label}, {init if quality == 'poor' else good}"] = {
            "batchnorm": batchnorm, "init": init if quality == "poor" else good,
            "status": res.status, "losses": res.losses, "history": res.history,
            "train_loss": loss, "train_acc": acc, "val_acc": res.val_acc, "init_stds": stds}
    return runs


def _bn_figure(runs, lr, init):
    from ...viz import new_figure, smooth

    fig = new_figure((12, 4.5))
    ax1, ax2 = fig.subplots(1, 2)
    for color, run in zip(BN_COLORS, runs.values()):
        losses = run["losses"]
        steps = np.arange(1, losses.size + 1)
        shown = np.where(np.isfinite(losses), losses, np.nan)
        name = f"{'BatchNorm' if run['batchnorm'] else 'plain'}, {INIT_LABEL[run['init']]}"
        ax1.plot(steps, smooth(np.nan_to_num(shown, nan=1e6), 0.9), color=color, lw=1.6,
                 label=f"{name} ({run['status']})")
        if run["status"] == "diverged":
            ax1.plot(steps[-1], 8.0, "x", color=color, ms=10, mew=2)
        layers = np.arange(1, len(run["init_stds"]) + 1)
        ax2.plot(layers, np.maximum(run["init_stds"], FLOOR), "o-", color=color, label=name)
    ax1.set(xlabel="step", ylabel="training loss (mini-batch, smoothed)", yscale="log",
            ylim=(None, 10), title=f"momentum at lr {lr:g}: who trains? (x: diverged)")
    ax1.grid(alpha=0.3, which="both")
    ax1.legend(fontsize=8)
    ax2.set(xlabel="hidden layer", ylabel="std of the ReLU outputs (one batch)", yscale="log",
            title="activations at initialization")
    ax2.grid(alpha=0.3, which="both")
    ax2.legend(fontsize=8)
    return fig


def _bn_verdict(runs, level: float, n_classes: int) -> Verdict:
    plain, bn = list(runs.values())[:2]
    s_bn, s_plain = _steps_to(bn["losses"], level), _steps_to(plain["losses"], level)

    def said(run, steps):
        if run["status"] == "diverged":
            return f"diverged at step {run['losses'].size}"
        if steps is None:
            return f"never got there (stalled; final training loss {run['train_loss']:.3g})"
        return f"got there at step {steps} (final training loss {run['train_loss']:.3g})"

    held = s_bn is not None and (plain["status"] == "diverged" or s_plain is None
                                 or s_plain >= 3 * s_bn)
    return Verdict(
        "BatchNorm trains a network that a poor initialization and a high rate leave stalled "
        "or diverging (or it trains much faster: reaches the target loss in a third of the "
        "steps or fewer)",
        f"target: smoothed training loss below ln({n_classes})/2 = {level:.3g}. With BatchNorm: "
        f"{said(bn, s_bn)}; without: {said(plain, s_plain)}", held)


@experiment("batchnorm", topic="training: batch normalization",
            shows="the same deep ReLU network with and without BatchNorm, from a poor "
                  "initialization at a high learning rate",
            quick_seconds=4, full_seconds=20, dataset=None, depth=6, width=100, init="small",
            lr=0.3, epochs=None)
def batchnorm(ctx, dataset, depth, width, init, lr, epochs):
    """Train a ``depth`` x ``width`` ReLU network with momentum at ``lr`` from ``init``
    weights, with and without BatchNorm, and the plain network from a good initialization."""
    from ...build import build_data
    from ...config import parse_config

    dataset = dataset or ctx.pick("digits", "mnist")
    checks.choice(init, ("small", "zeros", "xavier", "he"), "initialization")
    depth = checks.positive_int(depth, "depth")
    data = build_data(parse_config({"data": {"name": dataset, "preprocess": "center",
                                             "train_subset": ctx.pick(None, 10000)},
                                    "train": {"seed": ctx.seed}}))
    runs = _bn_runs(ctx, data, depth, width, init, lr, epochs or ctx.pick(10, 5))
    n_classes = data.dataset.n_classes
    level = float(np.log(n_classes)) / 2
    table = [{"run": label, **{k: v for k, v in run.items()
                               if k not in ("losses", "history", "init_stds")},
              "steps_to_target": _steps_to(run["losses"], level),
              "std_last_layer_at_init": run["init_stds"][-1]} for label, run in runs.items()]
    good = list(runs)[2]
    text = (f"A {depth} x {width} ReLU network on {dataset}, trained with momentum (0.9) at lr "
            f"{lr:g}. Left: from {INIT_LABEL.get(init, init)} weights the plain network's "
            f"signal dies on the way up (right panel: the std of its activations falls by "
            f"orders of magnitude layer after layer), so its loss sits at ln({n_classes}) = "
            f"{2 * level:.3g}, the loss of uniform guessing. The same network with BatchNorm "
            f"after every linear layer starts with unit-scale activations in every layer and "
            f"trains. For reference, the plain network from a good initialization ({good}): "
            f"at this high rate it may diverge, which BatchNorm also tolerates.")
    verdicts = [_bn_verdict(runs, level, n_classes)]
    text += findings(verdicts)
    return ctx.result(verdicts, table,
                      {"batchnorm": _bn_figure(runs, lr, init)}, text,
                      {label: run["losses"].tolist() for label, run in runs.items()})
