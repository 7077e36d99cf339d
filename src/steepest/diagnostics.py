"""Training-free sanity checks of a model at its initial weights (the lectures' "before you
train" list): does the initial loss match what chance predicts, does regularization raise it,
are activations well scaled or already saturated / dead, how large are weights and gradients.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .nn.model import Model
from .results import Result

SATURATING = {"tanh": 0.99, "sigmoid": 0.99}  # |a| (tanh) or max(a, 1-a) (sigmoid) above this
COLLAPSED_STD = 1e-3  # activations with a smaller standard deviation carry almost no signal


def expected_initial_loss(model: Model, n_classes: int | None = None) -> float | None:
    """The data loss when every score is (nearly) equal: ``ln C`` for softmax (and a PyTorch
    model's cross-entropy), ``margin (C - 1)`` for the Weston-Watkins hinge, ``margin`` for
    Crammer-Singer; None for regression losses. ``n_classes``: C for a model that does not
    know it (a PyTorch model learns it from its outputs)."""
    c = n_classes or model.n_classes
    loss = getattr(model, "loss_fn", None)
    if loss is None:  # another objective: a PyTorch model names its loss
        return float(np.log(c)) if getattr(model, "loss_name", None) == "cross_entropy" else None
    if loss.name == "softmax":
        return float(np.log(c))
    if loss.name == "svm":
        return loss.margin * (c - 1) if loss.hinge == "weston-watkins" else loss.margin
    return None


@dataclass(frozen=True)
class InitialReport(Result):
    """A model at ``theta`` on a sample, before training (see :func:`initial_report`).

    ``layers``: one dict per layer (name, kind, mean, std, and dead / zero / saturated
    fractions where they apply); ``tensors``: one dict per parameter tensor (name, shape, role,
    std, norm, grad_norm); ``warnings``: plain-language findings (collapsed or saturated
    activations, dead units, an initial loss far from chance).
    """

    n_params: int
    n_examples: int
    n_classes: int
    loss: str
    regularizer: str
    init: str
    data_loss: float
    expected_data_loss: float | None
    total_loss: float
    reg_loss: float
    accuracy: float
    chance_accuracy: float
    grad_norm: float
    layers: tuple[dict, ...]
    tensors: tuple[dict, ...]
    warnings: tuple[str, ...] = ()

    def plot(self, ax=None):
        """The standard deviation of every layer's output (log scale): a collapse to zero
        through a deep network is the lecture's picture of a too-small initialization."""
        from .viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        names = [row["name"] for row in self.layers]
        ax.plot(names, [max(row["std"], 1e-30) for row in self.layers], "o-", color="#0072B2")
        ax.set_yscale("log")
        ax.set_ylabel("std of the layer's output")
        ax.set_title(f"activations at initialization ({self.init})")
        ax.tick_params(axis="x", rotation=45)
        ax.grid(alpha=0.3, which="both")
        return fig


def _layer_rows(model: Model, theta, X) -> list[dict]:
    rows = []
    for name, kind, out in model.activations(theta, X):
        row = {"name": name, "kind": kind, "mean": float(out.mean()), "std": float(out.std())}
        if kind in ("relu", "maxout"):
            row["dead_fraction"] = float(np.mean(np.all(out <= 0, axis=0)))
            row["zero_fraction"] = float(np.mean(out <= 0))
        if kind in SATURATING:
            a = np.abs(out) if kind == "tanh" else np.maximum(out, 1 - out)
            row["saturated_fraction"] = float(np.mean(a > SATURATING[kind]))
        rows.append(row)
    return rows


def _warnings(layers: list[dict], data_loss: float, expected: float | None,
              last_is_output: bool = True) -> list[str]:
    out = []
    for row in layers:
        if row["kind"] in ("linear", "batchnorm") or (last_is_output and row is layers[-1]):
            continue
        if row["std"] < COLLAPSED_STD:
            out.append(f"{row['name']}: activations collapsed (std {row['std']:.2e}); the "
                       f"signal fades through the network: use a larger initialization (xavier "
                       f"or he) or BatchNorm")
        if row.get("saturated_fraction", 0) > 0.5:
            out.append(f"{row['name']}: {row['saturated_fraction']:.0%} of the units are "
                       f"saturated; their gradients vanish: use a smaller initialization")
        if row.get("dead_fraction", 0) > 0.5:
            out.append(f"{row['name']}: {row['dead_fraction']:.0%} of the units are dead (zero "
                       f"for every example)")
    if expected is not None and abs(data_loss - expected) > 0.5 * expected:
        out.append(f"the initial loss {data_loss:.3f} is far from chance ({expected:.3f}): the "
                   f"initial scores are not small, or the loss is set up wrong")
    return out


def _describe(model: Model, theta, X, y) -> dict:
    """The parts of the report that depend on the kind of model: steepest's own (its loss,
    regularizer and initialization by name) or any other objective of the contract, such as
    a PyTorch model (its loss by name, no penalty term, its own initialization)."""
    scores = model.scores(theta, X)
    if hasattr(model, "loss_fn"):
        return {"data_loss": float(model.loss_fn.value(scores, np.asarray(y))),
                "loss": model.loss_fn.describe(), "regularizer": model.regularizer.describe(),
                "init": model.init, "n_classes": model.n_classes,
                "accuracy": model.accuracy(theta, X, y), "last_is_output": True}
    n_classes = int(np.shape(scores)[1])
    accuracy = float(np.mean(np.argmax(scores, axis=1) == np.asarray(y)))
    return {"data_loss": float(model.loss(theta, X, y)),
            "loss": getattr(model, "loss_name", type(model).__name__),
            "regularizer": "none (weight decay belongs to the optimizer)",
            "init": "the module's own (reset_parameters)", "n_classes": n_classes,
            "accuracy": accuracy, "last_is_output": False}


def initial_report(model: Model, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> InitialReport:
    """``model`` at ``theta`` on the sample ``(X, y)`` in evaluation mode: steepest's MLP, or
    any objective with ``scores`` and ``activations`` (a :class:`steepest.torch.TorchObjective`:
    its activation modules are the layers, and it has no regularization term)."""
    loss = model.loss(theta, X, y)  # validates theta, X and y
    about = _describe(model, theta, X, y)
    data_loss = about["data_loss"]
    _, grad = model.loss_and_grad(theta, X, y, train=False)
    layers = _layer_rows(model, theta, X)
    tensors = [{"name": spec.name, "shape": list(spec.shape), "role": spec.role,
                "std": float(theta[spec.slice].std()),
                "norm": float(np.linalg.norm(theta[spec.slice])),
                "grad_norm": float(np.linalg.norm(grad[spec.slice]))} for spec in model.layout]
    expected = expected_initial_loss(model, about["n_classes"])
    return InitialReport(
        n_params=model.layout.size, n_examples=int(np.shape(X)[0]),
        n_classes=about["n_classes"], loss=about["loss"], regularizer=about["regularizer"],
        init=about["init"], data_loss=data_loss, expected_data_loss=expected,
        total_loss=float(loss), reg_loss=float(loss - data_loss), accuracy=about["accuracy"],
        chance_accuracy=1.0 / about["n_classes"], grad_norm=float(np.linalg.norm(grad)),
        layers=tuple(layers), tensors=tuple(tensors),
        warnings=tuple(_warnings(layers, data_loss, expected, about["last_is_output"])),
    )
