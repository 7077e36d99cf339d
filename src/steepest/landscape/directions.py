"""Directions in parameter space for slicing the loss: ``L(theta + a d1 + b d2)``.

Random directions are drawn i.i.d. Gaussian for the whole flat vector, then normalized per
tensor so that their scale matches the weights they perturb (Li et al. 2018, "Visualizing the
Loss Landscape of Neural Nets"):

- ``filter``: each filter (an output unit: column ``j`` of a steepest Linear ``W`` of shape
  (in, out), row ``j`` of a PyTorch weight; the layout's ``unit_axis`` says which) of the
  direction is rescaled to the norm of the same filter of the weights,
  ``d[:, j] <- d[:, j] / ||d[:, j]|| * ||W[:, j]||``; this removes the scale invariance of ReLU
  networks from the picture;
- ``layer``: each tensor of the direction gets the norm of its weight tensor;
- ``model``: the whole direction gets the norm of the whole (included) weight vector;
- ``none``: the raw Gaussian draw.

Biases and normalization parameters (roles ``bias`` and ``norm``) are set to zero by default,
so the slice moves weights only; with ``include_bias=True`` their direction is the parameter
itself (as in Li et al.'s code), since a single number has no meaningful filter to match.
"""

from __future__ import annotations

import numpy as np

from .. import _validate as checks
from ..errors import InputError
from ..params import Layout

NORMS = ("filter", "layer", "model", "none")


def _safe_scale(target, current):
    """target / current where current > 0, else 0 (a zero filter stays zero)."""
    out = np.zeros_like(np.asarray(current, dtype=np.float64))
    np.divide(target, current, out=out, where=np.asarray(current) > 0)
    return out


def normalize_direction(d, theta, layout: Layout, norm: str = "filter",
                        include_bias: bool = False) -> np.ndarray:
    """A copy of direction ``d`` normalized against ``theta`` (see the module docstring)."""
    checks.choice(norm, NORMS, "direction normalization")
    theta = layout.check(np.asarray(theta, dtype=np.float64))
    d = layout.check(np.array(d, dtype=np.float64), "direction")
    for spec in layout:
        dv = d[spec.slice].reshape(spec.shape)
        w = theta[spec.slice].reshape(spec.shape)
        if spec.role != "weight":
            dv[...] = w if include_bias else 0.0
            continue
        if norm == "filter":
            if dv.ndim >= 2:  # one filter per index of the unit axis
                axes = tuple(a for a in range(dv.ndim) if a != spec.filter_axis)
                dv *= _safe_scale(np.sqrt((w * w).sum(axis=axes, keepdims=True)),
                                  np.sqrt((dv * dv).sum(axis=axes, keepdims=True)))
            else:
                dv *= _safe_scale(np.linalg.norm(w), np.linalg.norm(dv))
        elif norm == "layer":
            dv *= _safe_scale(np.linalg.norm(w), np.linalg.norm(dv))
    if norm == "model":
        mask = layout.mask(("weight",))
        d[mask] *= _safe_scale(np.linalg.norm(theta[mask]), np.linalg.norm(d[mask]))
    return d


def random_direction(theta, layout: Layout, rng: np.random.Generator, norm: str = "filter",
                     include_bias: bool = False) -> np.ndarray:
    """A Gaussian direction normalized by ``norm`` (float64, same size as theta)."""
    if not isinstance(rng, np.random.Generator):
        raise InputError(f"rng must be a numpy Generator, got {type(rng).__name__}")
    d = rng.standard_normal(layout.size)
    return normalize_direction(d, theta, layout, norm, include_bias)


def target_direction(theta_a, theta_b, layout: Layout | None = None) -> np.ndarray:
    """``theta_b - theta_a``: the direction from one solution to another (no normalization)."""
    a = np.asarray(theta_a, dtype=np.float64)
    b = np.asarray(theta_b, dtype=np.float64)
    if layout is not None:
        layout.check(a, "theta_a")
        layout.check(b, "theta_b")
    if a.shape != b.shape:
        raise InputError(f"the two parameter vectors differ in shape: {a.shape} and {b.shape}")
    return b - a


def orthogonalize(d2, d1) -> np.ndarray:
    """``d2`` minus its projection on ``d1`` (Gram-Schmidt; the norm of d2 is not restored)."""
    d1 = np.asarray(d1, dtype=np.float64)
    d2 = np.asarray(d2, dtype=np.float64)
    nn = float(d1 @ d1)
    if nn == 0:
        raise InputError("cannot orthogonalize against a zero direction")
    return d2 - (float(d2 @ d1) / nn) * d1


def pca_directions(path, theta_final) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The two principal directions of ``theta_t - theta_final`` over an optimization path.

    As in Li et al. (who use scikit-learn's PCA) the differences are centered before the
    principal directions are taken; the path is then projected uncentered, so the final point
    sits at (0, 0). Returns ``(d1, d2, coords, explained)``: unit directions, the projected
    path (shape (T, 2)) and the fraction of the variance each direction explains. Computed
    through the T x T Gram matrix, so a path of T points costs O(T^2 n).
    """
    path = np.asarray(path, dtype=np.float64)
    final = np.asarray(theta_final, dtype=np.float64)
    if path.ndim != 2 or path.shape[1] != final.size:
        raise InputError(f"path must be (T, {final.size}), got shape {path.shape}")
    if path.shape[0] < 3:
        raise InputError(f"a path needs at least 3 points for two directions, got {path.shape[0]}")
    M = path - final
    Mc = M - M.mean(axis=0)
    gram = Mc @ Mc.T
    evals, evecs = np.linalg.eigh(gram)
    order = np.argsort(evals)[::-1]
    evals, evecs = np.clip(evals[order], 0, None), evecs[:, order]
    total = evals.sum()
    if evals[1] <= 0:
        raise InputError("the path does not span two directions (it is a line or a point)")
    dirs = []
    for i in range(2):
        v = Mc.T @ evecs[:, i]
        dirs.append(v / np.linalg.norm(v))
    coords = M @ np.stack(dirs, axis=1)
    explained = evals[:2] / total if total > 0 else np.zeros(2)
    return dirs[0], dirs[1], coords, explained
