"""Training-free sanity checks of a model at its initial weights (the lectures' "before you
train" list): does the initial loss match what chance predicts, does regularization raise it,
are activations well scaled or already saturated / dead, how large are weights and gradients.
"""

from __future__ import annotations

import numpy as np

from .nn.model import Model

SATURATING = {"tanh": 0.99, "sigmoid": 0.99}  # |a| (tanh) or max(a, 1-a) (sigmoid) above this


def expected_initial_loss(model: Model) -> float | None:
    """The data loss when every score is (nearly) equal: ``ln C`` for softmax, ``margin (C - 1)``
    for the Weston-Watkins hinge, ``margin`` for Crammer-Singer; None for regression losses."""
    c = model.n_classes
    loss = model.loss_fn
    if loss.name == "softmax":
        return float(np.log(c))
    if loss.name == "svm":
        return loss.margin * (c - 1) if loss.hinge == "weston-watkins" else loss.margin
    return None


def initial_report(model: Model, theta: np.ndarray, X: np.ndarray, y: np.ndarray) -> dict:
    """A dictionary describing ``model`` at ``theta`` on the sample ``(X, y)`` (eval mode)."""
    reg = model.regularizer
    loss = model.loss(theta, X, y)  # validates theta, X and y
    data_loss = model.loss_fn.value(model.scores(theta, X), np.asarray(y))
    _, grad = model.loss_and_grad(theta, X, y, train=False)
    layers = []
    for name, kind, out in model.trace(theta, X):
        row = {"name": name, "kind": kind, "mean": float(out.mean()), "std": float(out.std())}
        if kind in ("relu", "maxout"):
            row["dead_fraction"] = float(np.mean(np.all(out <= 0, axis=0)))
            row["zero_fraction"] = float(np.mean(out <= 0))
        if kind in SATURATING:
            a = np.abs(out) if kind == "tanh" else np.maximum(out, 1 - out)
            row["saturated_fraction"] = float(np.mean(a > SATURATING[kind]))
        layers.append(row)
    tensors = []
    for spec in model.layout:
        w, g = theta[spec.slice], grad[spec.slice]
        tensors.append(
            {
                "name": spec.name,
                "shape": list(spec.shape),
                "role": spec.role,
                "std": float(w.std()),
                "norm": float(np.linalg.norm(w)),
                "grad_norm": float(np.linalg.norm(g)),
            }
        )
    return {
        "n_params": model.n_params,
        "n_examples": int(X.shape[0]),
        "n_classes": model.n_classes,
        "loss": model.loss_fn.describe(),
        "regularizer": reg.describe(),
        "init": model.init,
        "data_loss": float(data_loss),
        "expected_data_loss": expected_initial_loss(model),
        "total_loss": float(loss),
        "reg_loss": float(loss - data_loss),
        "accuracy": model.accuracy(theta, X, y),
        "chance_accuracy": 1.0 / model.n_classes,
        "grad_norm": float(np.linalg.norm(grad)),
        "layers": layers,
        "tensors": tensors,
    }
