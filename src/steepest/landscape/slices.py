"""The four slices a user asks for, each returning a :class:`~.surface.Surface`.

- :func:`plane`: ``L(theta + a d1 + b d2)`` with two random, normalized directions;
- :func:`line`: ``L(theta + a d1)``;
- :func:`interpolation`: ``L((1 - t) theta_a + t theta_b)``, t beyond [0, 1] too;
- :func:`path_plane`: the plane of the two principal directions of an optimization path
  around its final point, with the path projected on it.
"""

from __future__ import annotations

import numpy as np

from ..contract import require_objective
from .directions import (
    normalize_direction,
    orthogonalize,
    pca_directions,
    random_direction,
    target_direction,
)
from .surface import Surface, axis, compute, grid_coords


def _meta(kind, objective, X, extra):
    return {"kind": kind, "n_examples": int(np.asarray(X).shape[0]),
            "layout": objective.layout.to_dict(), **extra}


def plane(objective, theta, X, y, grid: int = 51, span=(-1.0, 1.0), norm: str = "filter",
          include_bias: bool = False, orthogonal: bool = False, seed: int = 0,
          directions=None, **kw) -> Surface:
    """The loss over ``theta + a d1 + b d2`` on a ``grid`` x ``grid`` mesh of ``span``^2."""
    require_objective(objective, "a loss landscape")
    xs = ys = axis(grid, span)
    if directions is None:
        rng = np.random.default_rng(seed)
        d1 = random_direction(theta, objective.layout, rng, norm, include_bias)
        d2 = random_direction(theta, objective.layout, rng, norm, include_bias)
        if orthogonal:
            d2 = orthogonalize(d2, d1)
    else:
        d1, d2 = (normalize_direction(d, theta, objective.layout, norm, include_bias)
                  for d in directions)
    loss, acc, info = compute(objective, theta, X, y, d1, d2, grid_coords(xs, ys), **kw)
    meta = _meta("plane", objective, X, {"norm": norm, "include_bias": include_bias,
                                     "orthogonal": orthogonal, "seed": seed, **info})
    return Surface("plane", xs, ys, loss.reshape(ys.size, xs.size),
                   acc.reshape(ys.size, xs.size), np.asarray(theta, float), d1, d2, meta=meta)


def line(objective, theta, X, y, grid: int = 51, span=(-1.0, 1.0), norm: str = "filter",
         include_bias: bool = False, seed: int = 0, direction=None, **kw) -> Surface:
    """The loss along ``theta + a d`` for a random normalized direction ``d``."""
    require_objective(objective, "a loss landscape")
    xs = axis(grid, span)
    if direction is None:
        d = random_direction(theta, objective.layout, np.random.default_rng(seed), norm,
                             include_bias)
    else:
        d = normalize_direction(direction, theta, objective.layout, norm, include_bias)
    loss, acc, info = compute(objective, theta, X, y, d, None, grid_coords(xs), **kw)
    meta = _meta("line", objective, X, {"norm": norm, "include_bias": include_bias, "seed": seed,
                                    **info})
    return Surface("line", xs, None, loss, acc, np.asarray(theta, float), d, meta=meta)


def interpolation(objective, theta_a, theta_b, X, y, grid: int = 51, span=(-0.5, 1.5),
                  **kw) -> Surface:
    """The loss along ``(1 - t) theta_a + t theta_b`` for t in ``span``."""
    require_objective(objective, "a loss landscape")
    ts = axis(grid, span)
    d = target_direction(theta_a, theta_b, objective.layout)
    loss, acc, info = compute(objective, theta_a, X, y, d, None, grid_coords(ts), **kw)
    meta = _meta("interpolation", objective, X, info)
    return Surface("interpolation", ts, None, loss, acc, np.asarray(theta_a, float), d,
                   meta=meta)


def path_plane(objective, path, theta_final, X, y, grid: int = 51, span=None, margin: float = 0.2,
               **kw) -> Surface:
    """The plane of the path's two principal directions around ``theta_final``.

    Without ``span`` the window covers the projected path with a ``margin`` on each side.
    """
    require_objective(objective, "a loss landscape")
    d1, d2, coords, explained = pca_directions(path, theta_final)
    if span is None:
        lo, hi = coords.min(axis=0), coords.max(axis=0)
        pad = margin * (hi - lo).max()
        xs = axis(grid, (lo[0] - pad, hi[0] + pad))
        ys = axis(grid, (lo[1] - pad, hi[1] + pad))
    else:
        xs = ys = axis(grid, span)
    loss, acc, info = compute(objective, theta_final, X, y, d1, d2, grid_coords(xs, ys), **kw)
    meta = _meta("path", objective, X, {"path_points": int(coords.shape[0]), **info})
    return Surface("path", xs, ys, loss.reshape(ys.size, xs.size),
                   acc.reshape(ys.size, xs.size), np.asarray(theta_final, float), d1, d2,
                   path_xy=coords, explained=explained, meta=meta)
