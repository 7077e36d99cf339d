"""Babysitting measurements, cheap enough to leave on during training.

- update-to-weight ratio ``||delta W|| / ||W||`` per weight tensor (the rule of thumb: ~1e-3;
  much larger means a too-high learning rate, much smaller a too-low one);
- gradient norm;
- per activation layer on a fixed training subset: mean and std of the outputs, the fraction of
  dead units (ReLU-like units whose output is 0 for every example of the subset) and of
  saturated units (tanh/sigmoid outputs within 0.01 of their bounds). These need the
  objective's ``activations`` capability; objectives without it get none.
"""

from __future__ import annotations

import numpy as np

from ..contract import evaluate  # noqa: F401  (the one definition, re-exported)

ACTIVATION_KINDS = ("relu", "leaky_relu", "sigmoid", "tanh", "maxout")


def update_ratios(layout, before: np.ndarray, after: np.ndarray) -> dict[str, float]:
    """``||after_W - before_W|| / ||before_W||`` for every tensor with role ``weight``."""
    out = {}
    for spec in layout.select(("weight",)):
        w = before[spec.slice].astype(np.float64)
        d = after[spec.slice].astype(np.float64) - w
        norm = float(np.sqrt(w @ w))
        out[spec.name] = float(np.sqrt(d @ d)) / norm if norm > 0 else float("inf")
    return out


def activation_stats(objective, theta, X) -> dict[str, float]:
    """Flat ``{"act_mean.relu1": ..., "act_std.relu1": ..., "dead.relu1": ...}`` on ``X``."""
    activations = getattr(objective, "activations", None)
    if activations is None:
        return {}
    stats = {}
    for name, kind, out in activations(theta, X):
        if kind not in ACTIVATION_KINDS:
            continue
        stats[f"act_mean.{name}"] = float(out.mean())
        stats[f"act_std.{name}"] = float(out.std())
        if kind in ("relu", "maxout"):
            stats[f"dead.{name}"] = float(np.mean(np.all(out <= 0, axis=0)))
        elif kind == "tanh":
            stats[f"saturated.{name}"] = float(np.mean(np.abs(out) > 0.99))
        elif kind == "sigmoid":
            stats[f"saturated.{name}"] = float(np.mean((out < 0.01) | (out > 0.99)))
    return stats
