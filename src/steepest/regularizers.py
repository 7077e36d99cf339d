"""Weight penalties ``R(W)``, added to the data loss as ``L = (1/N) sum_i L_i + lambda R(W)``.

One convention everywhere (no 1/2):

- ``l2``: ``R = sum W^2``, ``dR/dW = 2 W``
- ``l1``: ``R = sum |W|``, ``dR/dW = sign(W)`` (sub-gradient 0 at 0)
- ``elastic``: ``R = rho * sum |W| + (1 - rho) * sum W^2`` with ``rho = l1_ratio``

By default only tensors with role ``weight`` are penalized (not biases, not BatchNorm's gamma and
beta); ``roles=("weight", "bias")`` widens that.
"""

from __future__ import annotations

import numpy as np

from . import _validate as V
from .params import ROLES, Layout

KINDS = ("none", "l2", "l1", "elastic")


def l2_penalty(W):
    """``(sum W^2, 2 W)``."""
    W = np.asarray(W)
    return float(np.sum(W * W)), 2.0 * W


def l1_penalty(W):
    """``(sum |W|, sign(W))``."""
    W = np.asarray(W)
    return float(np.abs(W).sum()), np.sign(W)


def elastic_net_penalty(W, l1_ratio: float = 0.5):
    """``(rho sum|W| + (1-rho) sum W^2, rho sign(W) + 2 (1-rho) W)`` with ``rho = l1_ratio``."""
    rho = V.probability(l1_ratio, "l1_ratio", open_low=False)
    W = np.asarray(W)
    r1, g1 = l1_penalty(W)
    r2, g2 = l2_penalty(W)
    return rho * r1 + (1 - rho) * r2, rho * g1 + (1 - rho) * g2


class Regularizer:
    """``lambda * R`` over the tensors of a layout whose role is in ``roles``."""

    def __init__(
        self,
        kind: str = "l2",
        strength: float = 0.0,
        l1_ratio: float = 0.5,
        roles: tuple[str, ...] = ("weight",),
    ):
        self.kind = V.choice(kind, KINDS, "regularizer")
        self.strength = V.nonneg_float(strength, "regularization strength")
        self.l1_ratio = V.probability(l1_ratio, "l1_ratio", open_low=False)
        for r in roles:
            V.choice(r, ROLES, "regularized role")
        self.roles = tuple(roles)

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.strength > 0

    def _coefs(self) -> tuple[float, float]:
        """(lambda_1, lambda_2): the L1 and L2 coefficients."""
        lam = self.strength
        if self.kind == "l2":
            return 0.0, lam
        if self.kind == "l1":
            return lam, 0.0
        return lam * self.l1_ratio, lam * (1 - self.l1_ratio)

    def add(self, layout: Layout, theta: np.ndarray, grad: np.ndarray | None) -> float:
        """Return ``lambda R(theta)`` and, when ``grad`` is given, add its gradient in place."""
        if not self.active:
            return 0.0
        l1, l2 = self._coefs()
        total = 0.0
        for s in layout.select(self.roles):
            w = theta[s.start : s.stop]
            if l2:
                total += l2 * float(np.dot(w, w))
                if grad is not None:
                    grad[s.start : s.stop] += (2.0 * l2) * w
            if l1:
                total += l1 * float(np.abs(w).sum())
                if grad is not None:
                    grad[s.start : s.stop] += l1 * np.sign(w)
        return total

    def penalty(self, role: str, w: np.ndarray) -> float:
        """``lambda R(w)`` of one tensor with ``role`` (0 if that role is not regularized)."""
        if not self.active or role not in self.roles:
            return 0.0
        l1, l2 = self._coefs()
        return l2 * float(np.dot(w.ravel(), w.ravel())) + l1 * float(np.abs(w).sum())

    def kinks(self, layout: Layout, theta: np.ndarray):
        if not self.active or self._coefs()[0] == 0:
            return None
        return np.concatenate([np.sign(theta[s.start : s.stop]) for s in layout.select(self.roles)])

    def describe(self) -> str:
        if not self.active:
            return "none"
        extra = f", l1_ratio={self.l1_ratio:g}" if self.kind == "elastic" else ""
        return f"{self.kind} (lambda={self.strength:g}{extra})"
