"""Data losses. Each returns ``(loss, dscores)``: the MEAN over the batch and its gradient.

For scores ``s`` of shape (N, C) and integer labels ``y``:

- Multiclass SVM, Weston-Watkins (the lecture's form):
  ``L_i = sum_{j != y_i} max(0, s_j - s_{y_i} + margin)``.
- Multiclass SVM, Crammer-Singer (Optax's ``multiclass_hinge_loss``):
  ``L_i = max(0, margin + max_{j != y_i} s_j - s_{y_i})``.
- Softmax cross-entropy: ``L_i = -log(exp(s_{y_i}) / sum_j exp(s_j))`` (natural log), computed
  after subtracting the row max so no exponential overflows.
- Regression: ``l2_loss`` is ``(1/N) sum_i ||pred_i - target_i||^2`` (no 1/2), ``l1_loss`` is
  ``(1/N) sum_i ||pred_i - target_i||_1``.

At a kink (hinge exactly at the margin, ``|r|`` at 0) the gradient uses the sub-gradient 0.

**Second derivatives.** :meth:`Loss.hvp` multiplies the Hessian of the mean loss with respect to
the scores by a direction ``r`` of the scores (``H_loss r``, for the R-operator and the
Gauss-Newton product of :class:`steepest.nn.Model`):

- softmax: ``(1/N) (diag(p) - p p^T) r`` row by row, ``p = softmax(s)``;
- SVM (both hinges) and L1: zero -- the losses are piecewise linear in the scores;
- L2: ``2 r / N``.
"""

from __future__ import annotations

import numpy as np

from . import _validate as checks
from .errors import InputError

HINGES = ("weston-watkins", "crammer-singer")


def _check_scores(scores, y):
    scores = np.asarray(scores)
    if scores.ndim != 2:
        raise InputError(f"scores must be 2-D (N, C), got shape {scores.shape}")
    if not np.issubdtype(scores.dtype, np.floating):
        scores = scores.astype(np.float64)
    y = checks.labels(y, scores.shape[0], scores.shape[1])
    return scores, y


def svm_loss(scores, y, margin: float = 1.0, variant: str = "weston-watkins"):
    """Multiclass hinge loss; see the module docstring for both variants.

    Returns ``(mean loss, dL/dscores)``.
    """
    scores, y = _check_scores(scores, y)
    checks.choice(variant, HINGES, "hinge variant")
    margin = checks.nonneg_float(margin, "margin")
    return _svm(scores, y, margin, variant)


def _svm(scores, y, margin, variant, want_grad=True):
    n = scores.shape[0]
    rows = np.arange(n)
    correct = scores[rows, y][:, None]
    if variant == "weston-watkins":
        margins = scores - correct + margin
        margins[rows, y] = 0.0
        np.maximum(margins, 0, out=margins)
        loss = margins.sum() / n
        if not want_grad:
            return float(loss), None
        d = (margins > 0).astype(scores.dtype)
        d[rows, y] = -d.sum(axis=1)
    else:
        others = scores.copy()
        others[rows, y] = -np.inf
        j = np.argmax(others, axis=1)
        li = np.maximum(0.0, margin + others[rows, j] - correct[:, 0])
        loss = li.sum() / n
        if not want_grad:
            return float(loss), None
        d = np.zeros_like(scores)
        active = li > 0
        d[rows[active], j[active]] = 1.0
        d[rows[active], y[active]] = -1.0
    d /= n
    return float(loss), d


def _svm_kinks(scores, y, margin, variant):
    n = scores.shape[0]
    rows = np.arange(n)
    if variant == "weston-watkins":
        return (scores - scores[rows, y][:, None] + margin) > 0
    others = scores.copy()
    others[rows, y] = -np.inf
    j = np.argmax(others, axis=1)
    return np.concatenate([j, (margin + others[rows, j] - scores[rows, y]) > 0])


def softmax_loss(scores, y):
    """Softmax cross-entropy (natural log), mean over the batch; returns ``(loss, dscores)``.

    ``dL/ds = (softmax(s) - onehot(y)) / N``.
    """
    scores, y = _check_scores(scores, y)
    return _softmax(scores, y)


def _softmax(scores, y, want_grad=True):
    n = scores.shape[0]
    rows = np.arange(n)
    shifted = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(shifted)
    z = e.sum(axis=1)
    loss = (np.log(z) - shifted[rows, y]).sum() / n
    if not want_grad:
        return float(loss), None
    e /= z[:, None]
    e[rows, y] -= 1.0
    e /= n
    return float(loss), e


def _regression(pred, target, kind, want_grad=True):
    """``l2``: ``(1/N) sum ||r||^2`` with gradient ``2 r / N``; ``l1``: ``(1/N) sum |r|`` with
    gradient ``sign(r) / N``, where ``r = pred - target``."""
    r = pred - target
    n = pred.shape[0]
    if kind == "l2":
        loss = float(np.sum(r * r) / n)
        return loss, (r * (2.0 / n) if want_grad else None)
    loss = float(np.abs(r).sum() / n)
    return loss, (np.sign(r) / n if want_grad else None)


def _softmax_hvp(scores, r):
    """``(1/N) (p * r - p (p . r))`` per row: the softmax cross-entropy Hessian times ``r``."""
    p = np.exp(scores - scores.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    out = r - np.sum(p * r, axis=1, keepdims=True)
    out *= p
    out /= scores.shape[0]
    return out


def _regression_target(pred, target):
    pred = np.asarray(pred)
    target = np.asarray(target)
    if pred.ndim == 1:
        pred = pred[:, None]
    if target.ndim == 1 and pred.shape[1] > 1:
        raise InputError(
            f"target has shape {target.shape} but predictions have {pred.shape[1]} outputs"
        )
    if target.ndim == 1:
        target = target[:, None]
    if pred.shape != target.shape:
        raise InputError(f"pred has shape {pred.shape} but target has shape {target.shape}")
    if not np.isfinite(target).all():
        raise InputError("target contains NaN or infinite values")
    return pred, target.astype(pred.dtype if pred.dtype.kind == "f" else np.float64, copy=False)


def l2_loss(pred, target):
    """``(1/N) sum_i ||pred_i - target_i||^2``; returns ``(loss, dpred)`` with ``2 r / N``."""
    return _regression(*_regression_target(pred, target), "l2")


def l1_loss(pred, target):
    """``(1/N) sum_i ||pred_i - target_i||_1``; returns ``(loss, dpred)`` with ``sign(r) / N``."""
    return _regression(*_regression_target(pred, target), "l1")


class Loss:
    """A loss bound to its options, as a model uses it: ``loss(scores, y) -> (L, dscores)``.

    For classifiers with the regression losses (``l2``, ``l1``), integer labels become one-hot
    targets; a 2-D float ``y`` is used as the target directly.
    """

    NAMES = ("softmax", "svm", "l2", "l1")

    def __init__(self, name: str = "softmax", margin: float = 1.0, hinge: str = "weston-watkins"):
        self.name = checks.choice(name, self.NAMES, "loss")
        self.margin = checks.nonneg_float(margin, "margin")
        self.hinge = checks.choice(hinge, HINGES, "hinge variant")

    def _target(self, scores, y):
        y = np.asarray(y)
        if y.ndim == 2:
            return y
        onehot = np.zeros_like(scores)
        onehot[np.arange(scores.shape[0]), y] = 1.0
        return onehot

    def __call__(self, scores, y, want_grad: bool = True):
        """``(loss, dscores)``; with ``want_grad=False`` the gradient is skipped (None)."""
        if self.name == "softmax":
            return _softmax(scores, y, want_grad)
        if self.name == "svm":
            return _svm(scores, y, self.margin, self.hinge, want_grad)
        return _regression(scores, self._target(scores, y), self.name, want_grad)

    def value(self, scores, y) -> float:
        """The loss alone (no gradient), for evaluation-heavy callers."""
        return self(scores, y, want_grad=False)[0]

    def hvp(self, scores, y, r):
        """``H_loss r``: the Hessian of the mean loss with respect to the scores (N, C) times a
        direction ``r`` of the scores (see the module docstring); a new array."""
        if self.name == "softmax":
            return _softmax_hvp(scores, r)
        if self.name == "l2":
            return r * (2.0 / scores.shape[0])
        return np.zeros_like(r)  # svm and l1: piecewise linear

    def kinks(self, scores, y):
        if self.name == "svm":
            return _svm_kinks(scores, y, self.margin, self.hinge)
        if self.name == "l1":
            return np.sign(scores - self._target(scores, y))
        return None

    def describe(self) -> str:
        if self.name == "svm":
            return f"svm ({self.hinge}, margin={self.margin:g})"
        return self.name


def class_major_loss_sums(loss: Loss, S, y, buf, P):
    """The classification losses above, summed over rows, for many points at once: per-point
    loss sums and correct counts from class-major scores ``S`` of shape (points, classes, rows).

    A fast variant for landscape surfaces, tested against :class:`Loss` (the one definition):
    reductions over the short class axis run as elementwise passes over long rows, and every
    temporary lives in ``buf`` (arrays ``m``, ``s``, ``y_at`` of shape (>= P, rows) and
    ``work`` shaped like ``S``). Accuracy follows ``argmax`` exactly (first maximum wins).
    """
    c, n = S.shape[1], S.shape[2]
    rows = np.arange(n)
    m, s, y_at, work = buf["m"][:P], buf["s"][:P], buf["y_at"][:P], buf["work"][:P]
    np.max(S, axis=1, out=m)
    np.take(S.reshape(P, c * n), y * n + rows, axis=1, out=y_at)  # the true class's score
    if loss.name == "softmax":
        np.subtract(S, m[:, None, :], out=work)
        np.exp(work, out=work)
        np.sum(work, axis=1, out=s)
        np.log(s, out=s)
        s += m
        s -= y_at  # -log softmax of the true class
        sums = s.sum(axis=1, dtype=np.float64)
    elif loss.hinge == "weston-watkins":
        np.subtract(S, y_at[:, None, :], out=work)
        work += loss.margin
        np.maximum(work, 0, out=work)
        # the true class contributes max(0, margin) to the sum above; take it out
        sums = work.sum(axis=(1, 2), dtype=np.float64) - n * max(loss.margin, 0.0)
    else:  # Crammer-Singer: max over the other classes
        np.copyto(work, S)
        work.reshape(P, c * n)[:, y * n + rows] = -np.inf
        np.max(work, axis=1, out=s)
        s += loss.margin
        s -= y_at
        np.maximum(s, 0, out=s)
        sums = s.sum(axis=1, dtype=np.float64)
    ok = y_at >= m
    # a tie for the maximum: argmax takes the first index, which may not be the true class
    ties = (S == m[:, None, :]).sum(axis=1) > 1
    if ties.any():
        p_idx, r_idx = np.nonzero(ties)
        ok[p_idx, r_idx] = np.argmax(S[p_idx, :, r_idx], axis=1) == y[r_idx]
    return sums, ok.sum(axis=1)
