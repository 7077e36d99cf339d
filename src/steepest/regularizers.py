"""Weight penalties ``R(W)``, added to the data loss as ``L = (1/N) sum_i L_i + lambda R(W)``.

One convention everywhere (no 1/2):

- ``l2``: ``R = sum W^2``, ``dR/dW = 2 W``
- ``l1``: ``R = sum |W|``, ``dR/dW = sign(W)`` (sub-gradient 0 at 0)
- ``elastic``: ``R = rho * sum |W| + (1 - rho) * sum W^2`` with ``rho = l1_ratio``

The Hessian of the penalty is ``2 lambda`` times the identity on the penalized tensors for ``l2``
(``2 lambda_2`` for ``elastic``) and zero for ``l1`` away from ``w = 0``
(:meth:`Regularizer.add_hvp`).

By default only tensors with role ``weight`` are penalized (not biases, not BatchNorm's gamma and
beta); ``roles=("weight", "bias")`` widens that.
"""

from __future__ import annotations

import numpy as np

from . import _validate as checks
from .params import ROLES, Layout

KINDS = ("none", "l2", "l1", "elastic")


def l2_penalty(W):
    """``(sum W^2, 2 W)``."""
    W = np.asarray(W)
    flat = W.reshape(-1)
    return float(np.dot(flat, flat)), 2.0 * W


def l1_penalty(W):
    """``(sum |W|, sign(W))``."""
    W = np.asarray(W)
    return float(np.abs(W).sum()), np.sign(W)


def elastic_net_penalty(W, l1_ratio: float = 0.5):
    """``(rho sum|W| + (1-rho) sum W^2, rho sign(W) + 2 (1-rho) W)`` with ``rho = l1_ratio``."""
    rho = checks.probability(l1_ratio, "l1_ratio", open_low=False)
    W = np.asarray(W)
    r1, g1 = l1_penalty(W)
    r2, g2 = l2_penalty(W)
    return rho * r1 + (1 - rho) * r2, rho * g1 + (1 - rho) * g2


class Regularizer:
    """``lambda * R`` over the tensors of a layout whose role is in ``roles``.

    With ``(lambda_1, lambda_2) = coefficients``, every penalized tensor ``w`` contributes
    ``lambda_1 sum |w| + lambda_2 sum w^2`` (:meth:`tensor_penalty`), whose gradient
    ``lambda_1 sign(w) + 2 lambda_2 w`` :meth:`add_gradient` adds to a gradient vector.
    """

    def __init__(
        self,
        kind: str = "l2",
        strength: float = 0.0,
        l1_ratio: float = 0.5,
        roles: tuple[str, ...] = ("weight",),
    ):
        self.kind = checks.choice(kind, KINDS, "regularizer")
        self.strength = checks.nonneg_float(strength, "regularization strength")
        self.l1_ratio = checks.probability(l1_ratio, "l1_ratio", open_low=False)
        for r in roles:
            checks.choice(r, ROLES, "regularized role")
        self.roles = tuple(roles)

    @property
    def active(self) -> bool:
        return self.kind != "none" and self.strength > 0

    @property
    def coefficients(self) -> tuple[float, float]:
        """``(lambda_1, lambda_2)``: the L1 and L2 coefficients (both 0 when inactive)."""
        lam = self.strength if self.active else 0.0
        if self.kind == "l2":
            return 0.0, lam
        if self.kind == "l1":
            return lam, 0.0
        return lam * self.l1_ratio, lam * (1 - self.l1_ratio)

    def tensor_penalty(self, w: np.ndarray) -> float:
        """``lambda_1 sum |w| + lambda_2 sum w^2`` of one penalized tensor."""
        l1, l2 = self.coefficients
        total = 0.0
        if l2:
            total += l2 * l2_penalty(w)[0]
        if l1:
            total += l1 * l1_penalty(w)[0]
        return total

    def value(self, layout: Layout, theta: np.ndarray) -> float:
        """``lambda R(theta)``."""
        if not self.active:
            return 0.0
        return sum(self.tensor_penalty(theta[s.slice]) for s in layout.select(self.roles))

    def add_gradient(self, layout: Layout, theta: np.ndarray, grad: np.ndarray) -> None:
        """Add ``d(lambda R)/dtheta`` to ``grad`` in place."""
        if not self.active:
            return
        l1, l2 = self.coefficients
        for s in layout.select(self.roles):
            w = theta[s.slice]
            if l2:
                grad[s.slice] += (2.0 * l2) * w
            if l1:
                grad[s.slice] += l1 * np.sign(w)

    def add_hvp(self, layout: Layout, v: np.ndarray, out: np.ndarray) -> None:
        """Add ``d^2(lambda R) v`` to ``out`` in place: ``2 lambda_2 v`` on the penalized tensors
        (the L1 part is piecewise linear: no curvature)."""
        l2 = self.coefficients[1]
        if not l2:
            return
        for s in layout.select(self.roles):
            out[s.slice] += (2.0 * l2) * v[s.slice]

    def penalty(self, role: str, w: np.ndarray) -> float:
        """``lambda R(w)`` of one tensor with ``role`` (0 if that role is not regularized)."""
        if not self.active or role not in self.roles:
            return 0.0
        return self.tensor_penalty(w)

    def kinks(self, layout: Layout, theta: np.ndarray):
        if self.coefficients[0] == 0:
            return None
        return np.concatenate([np.sign(theta[s.slice]) for s in layout.select(self.roles)])

    def describe(self) -> str:
        if not self.active:
            return "none"
        extra = f", l1_ratio={self.l1_ratio:g}" if self.kind == "elastic" else ""
        return f"{self.kind} (lambda={self.strength:g}{extra})"
