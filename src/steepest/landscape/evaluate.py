"""Evaluating the loss at many points ``theta + a d1 + b d2``.

The parameters of a point are ``C @ basis`` with ``basis = [theta; d1; d2]`` and coefficient
rows ``C = [1, a, b]``. An objective that offers ``points_evaluator`` (steepest's MLP: see
:mod:`steepest.nn.batched`) evaluates many points at once; any other objective is evaluated
point by point in evaluation mode through the contract, which is also the reference the fast
path is tested against.
"""

from __future__ import annotations

import numpy as np

from ..contract import check_theta, checked_data, evaluate, preserved_buffers, require_objective
from ..errors import InputError


class PointByPoint:
    """The generic evaluator: set the parameters of one point, evaluate, repeat.

    Loss and accuracy come from :func:`steepest.contract.evaluate` (the objective's
    ``evaluate``, or its loss and scores).
    """

    def __init__(self, obj, basis, X, y, *, dtype=np.float32):
        self.obj = obj
        self.basis = np.asarray(basis, dtype=np.float64)
        self.dtype = np.dtype(dtype)
        self.X, self.y = checked_data(obj, X, y)
        if self.X.dtype.kind == "f":
            self.X = self.X.astype(self.dtype, copy=False)

    def evaluate(self, C) -> tuple[np.ndarray, np.ndarray]:
        C = np.asarray(C, dtype=np.float64)
        loss, acc = np.empty(C.shape[0]), np.empty(C.shape[0])
        with preserved_buffers(self.obj):
            for i, c in enumerate(C):
                loss[i], acc[i] = evaluate(self.obj, (c @ self.basis).astype(self.dtype),
                                             self.X, self.y)
        return loss, acc


class SurfaceEvaluator:
    """``evaluate(coords) -> (loss, acc)`` for coords of shape (P, 2) (or (P,) for a line).

    ``d2`` may be None for 1-D slices. ``X, y`` are the examples the loss averages over. Uses
    the objective's batched evaluator when it offers one (``points_evaluator``), else
    :class:`PointByPoint`; :meth:`evaluate_naive` always uses the latter.
    """

    def __init__(self, objective, theta, X, y, d1, d2=None, dtype=np.float32,
                 memory_mb: float = 256.0, chunk_points: int | None = None):
        obj = require_objective(objective, "a loss landscape")
        size = obj.layout.size
        theta = check_theta(theta, size=size).astype(np.float64)
        dirs = [d1] if d2 is None else [d1, d2]
        dirs = [check_theta(d, size=size, what="direction").astype(np.float64) for d in dirs]
        self.objective = obj
        self.basis = np.stack([theta, *dirs])  # rows: theta, d1[, d2]
        self.k = self.basis.shape[0]
        self._data = (X, y, dtype)
        self._naive = None
        fast = None
        if hasattr(obj, "points_evaluator"):
            fast = obj.points_evaluator(self.basis, X, y, dtype=dtype, memory_mb=memory_mb,
                                        chunk_points=chunk_points)
        self.fast = fast if fast is not None else self.naive

    @property
    def naive(self) -> PointByPoint:
        if self._naive is None:
            X, y, dtype = self._data
            self._naive = PointByPoint(self.objective, self.basis, X, y, dtype=dtype)
        return self._naive

    def coefficients(self, coords) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim == 1:
            coords = coords[:, None]
        if coords.shape[1] != self.k - 1:
            raise InputError(f"coords must have {self.k - 1} column(s) (one per direction), "
                             f"got shape {coords.shape}")
        return np.concatenate([np.ones((coords.shape[0], 1)), coords], axis=1)

    def evaluate(self, coords) -> tuple[np.ndarray, np.ndarray]:
        """Loss and accuracy at each point (the fast path where the objective has one)."""
        return self.fast.evaluate(self.coefficients(coords))

    def evaluate_naive(self, coords) -> tuple[np.ndarray, np.ndarray]:
        """The reference: set the weights and run the whole evaluation, point by point."""
        return self.naive.evaluate(self.coefficients(coords))
