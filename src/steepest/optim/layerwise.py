"""Rules that need the tensor shapes inside theta: Adafactor, Muon and Shampoo.

Each takes ``layout=`` (a :class:`steepest.params.Layout`, e.g. ``model.layout``, or its
``to_dict()`` list as found in a config) and treats every tensor of theta as what it is (a
matrix, a vector) while still keeping one flat state: the per-tensor arrays are concatenated
into 1-D vectors in theta's dtype. Built without a layout they raise an ``InputError``.
"""

from __future__ import annotations

import math
from math import prod

import numpy as np

from .. import _validate as checks
from ..errors import InputError
from .rules import (
    AdamW,
    Optimizer,
    _flag,
    _fraction,
    _number_or_schedule,
    _parse_layout,
    _positive,
    _rate,
)

__all__ = ["Adafactor", "Muon", "Shampoo"]


def _nonpositive(value: float, name: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise InputError(f"{name} must be a number <= 0, got {value!r}") from None
    if not math.isfinite(v) or v > 0:
        raise InputError(f"{name} must be a finite number <= 0, got {value!r}")
    return v


def _at_least_one(value: float, name: str) -> float:
    v = checks.nonneg_float(value, name)
    if v < 1.0:
        raise InputError(f"{name} must be >= 1, got {value!r}")
    return v


def _rms(a: np.ndarray) -> float:
    return math.sqrt(float(np.dot(a, a)) / a.size)


class _LayoutRule(Optimizer):
    """A rule with a layout: checks theta's size against it and saves it in the config."""

    needs_layout = True

    def _set_layout(self, layout) -> None:
        self.layout = _parse_layout(layout, self.name)

    def _check_theta(self, theta) -> None:
        if theta.size != self.layout.size:
            raise InputError(f"{self.name}'s layout describes {self.layout.size} parameters but "
                             f"theta has {theta.size}")


class Adafactor(_LayoutRule):
    """Adafactor (Shazeer & Stern 2018) in ``torch.optim.Adafactor``'s form.

    With ``t`` the step count after the increment, ``beta2_t = 1 - t ** beta2_decay``,
    ``rho_t = min(lr, 1 / sqrt(t))`` and, per tensor, ``alpha = max(eps2, RMS(theta)) rho_t``:

    - a tensor with two or more axes keeps row and column means of ``g^2`` over its last two
      axes (the leading axes are a batch), ``R = beta2_t R + (1 - beta2_t) mean_cols(g^2)``,
      ``C`` likewise, and estimates ``V = R C^T / max(mean(R), eps1)``;
    - any other tensor keeps the full ``V = beta2_t V + (1 - beta2_t) g^2``;

    then ``u = g / sqrt(max(V, eps1^2))`` and
    ``theta -= alpha u / max(1, RMS(u) / clip_threshold) + lr weight_decay theta``.
    ``eps1=None`` is the machine epsilon of theta's dtype. No first moment, as in torch.
    Torch's ``eps=(eps1, eps2)`` and ``d`` are ``eps1``, ``eps2`` and ``clip_threshold`` here.
    State: ``row``, ``col`` (the factors, concatenated) and ``v`` (the unfactored tensors).
    """

    name = "adafactor"

    def __init__(self, lr=1e-2, beta2_decay=-0.8, eps1=None, eps2=1e-3, clip_threshold=1.0,
                 weight_decay=0.0, *, layout=None, clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            beta2_decay=_number_or_schedule(beta2_decay, "beta2_decay", _nonpositive),
            eps1=None if eps1 is None else _number_or_schedule(eps1, "eps1", _rate),
            eps2=_number_or_schedule(eps2, "eps2", _rate),
            clip_threshold=_number_or_schedule(clip_threshold, "clip_threshold", _at_least_one),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self._set_layout(layout)
        # (slice, (lead, rows, cols) or None, offset into row, col or v)
        self._plan: list[tuple[slice, tuple | None, int, int]] = []
        n_row = n_col = n_v = 0
        for spec in self.layout:
            if len(spec.shape) >= 2:
                lead, r, c = prod(spec.shape[:-2]), spec.shape[-2], spec.shape[-1]
                self._plan.append((spec.slice, (lead, r, c), n_row, n_col))
                n_row, n_col = n_row + lead * r, n_col + lead * c
            else:
                self._plan.append((spec.slice, None, n_v, 0))
                n_v += spec.size
        self._sizes = (n_row, n_col, n_v)

    def _options(self) -> dict:
        return {"layout": self.layout}

    def _state_spec(self) -> dict:
        n_row, n_col, n_v = self._sizes
        return {"row": (n_row,), "col": (n_col,), "v": (n_v,)}

    def _apply(self, g, s, theta, t, work):
        lr, b2d, eps1, eps2, thr, wd = (self._value(k, t) for k in (
            "lr", "beta2_decay", "eps1", "eps2", "clip_threshold", "weight_decay"))
        if eps1 is None:
            eps1 = float(np.finfo(theta.dtype).eps)
        n = t + 1
        w = n**b2d  # 1 - beta2_t
        rho = min(lr, 1.0 / n**0.5)
        (d,) = work
        for sl, shape, a, b in self._plan:
            th, gt, dt = theta[sl], g[sl], d[sl]
            alpha = max(eps2, _rms(th)) * rho
            np.multiply(gt, gt, out=dt)
            if shape is None:
                v = s["v"][a : a + dt.size]
                v += w * (dt - v)
                np.maximum(v, eps1 * eps1, out=dt)
            else:
                self._factored(s, dt, shape, a, b, w, eps1)
            np.sqrt(dt, out=dt)
            np.divide(gt, dt, out=dt)  # u = g / sqrt(V)
            dt *= -alpha / max(1.0, _rms(dt) / thr)
            if wd != 0.0:
                dt -= (lr * wd) * th
        return d

    @staticmethod
    def _factored(s, dt, shape, a, b, w, eps1) -> None:
        """Update the factors from ``dt = g^2`` and write ``max(V, eps1^2)`` into ``dt``."""
        lead, r, c = shape
        sq = dt.reshape(lead, r, c)
        row = s["row"][a : a + lead * r].reshape(lead, r)
        col = s["col"][b : b + lead * c].reshape(lead, c)
        row += w * (sq.mean(axis=2) - row)
        col += w * (sq.mean(axis=1) - col)
        denom = np.maximum(row.mean(axis=1), eps1)  # one per leading index
        np.multiply(row[:, :, None], col[:, None, :], out=sq)
        sq /= denom[:, None, None]
        np.maximum(sq, eps1 * eps1, out=sq)


# Keller Jordan's quintic Newton-Schulz coefficients (torch.optim.Muon's defaults)
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)
_ADJUST = ("original", "match_rms_adamw")


def newton_schulz(G: np.ndarray, coefficients=NS_COEFFICIENTS, steps: int = 5,
                  eps: float = 1e-7) -> np.ndarray:
    """An approximately orthogonal matrix ``~ U V^T`` for ``G = U S V^T`` (a new array).

    ``X = G / max(||G||_F, eps)`` (transposed if it has more rows than columns, so ``X X^T`` is
    the small Gram matrix), then ``steps`` times ``A = X X^T; X = a X + (b A + c A^2) X``. The
    coefficients push small singular values up fast at the price of not converging: the result
    has singular values scattered around 1 (roughly 0.5 to 1.5 by Jordan et al.'s account)
    rather than exactly 1, which training does not mind.
    """
    a, b, c = coefficients
    tall = G.shape[0] > G.shape[1]
    X = G.T if tall else G
    X = X / max(float(np.linalg.norm(X)), eps)  # a new array: updated in place below
    for _ in range(steps):
        A = X @ X.T
        B = A @ A
        B *= c
        B += b * A
        Y = B @ X
        X *= a
        X += Y  # X = a X + (b A + c A^2) X
    return X.T if tall else X


class Muon(_LayoutRule):
    """Muon (Jordan et al. 2024, "Muon: An optimizer for hidden layers in neural networks"),
    following ``torch.optim.Muon``, with AdamW for the tensors that are not matrices.

    Every 2-D tensor of the layout (except the names in ``exclude``) keeps a momentum buffer
    ``B = momentum B + (1 - momentum) g`` (torch's EMA form) and is updated with
    ``U = g + momentum (B - g)`` (Nesterov, the default) or ``U = B``::

        theta -= lr weight_decay theta + lr s(shape) NS(U)

    ``NS`` is :func:`newton_schulz` with ``ns_coefficients`` (3.4445, -4.7750, 2.0315),
    ``ns_steps`` = 5 and ``eps`` = 1e-7. The scale ``s`` keeps the update's RMS comparable across
    shapes: ``adjust_lr="original"`` (Jordan's) is ``sqrt(max(1, fan_out / fan_in))``,
    ``"match_rms_adamw"`` (Liu et al. 2025, Moonshot) is ``0.2 sqrt(max(fan_out, fan_in))``.
    ``fan_out`` is the size of the tensor's ``unit_axis`` (1 for steepest's ``(in, out)``
    weights, 0 for PyTorch's ``(out, in)``): for a PyTorch-ordered layout this is exactly
    torch's ``sqrt(max(1, A / B))`` for a weight of shape ``(A, B)``, and a steepest weight
    gets the same update as its transposed PyTorch twin.

    Conventions that differ from torch: NS runs in theta's dtype (torch casts to bfloat16), so
    a float64 run agrees with torch only once torch's cast is removed (the parity test does
    that) and a float32 run is more precise than torch's. Everything else -- biases, norm
    parameters, excluded matrices (Jordan advises the input embedding and the classifier head)
    -- is updated by AdamW with ``adam_lr``, ``adam_beta1``, ``adam_beta2``, ``adam_eps`` and
    ``adam_weight_decay``, as PyTorch's recipe pairs ``torch.optim.Muon`` with
    ``torch.optim.AdamW(lr=3e-4, weight_decay=0.01)``.

    State: ``momentum_buffer`` (the matrices' entries, concatenated) and AdamW's ``m`` and ``v``
    (the other entries).
    """

    name = "muon"

    def __init__(self, lr=1e-3, momentum=0.95, weight_decay=0.1, nesterov=True,
                 ns_coefficients=NS_COEFFICIENTS, ns_steps=5, eps=1e-7, adjust_lr="original",
                 adam_lr=3e-4, adam_beta1=0.9, adam_beta2=0.999, adam_eps=1e-8,
                 adam_weight_decay=0.01, exclude=(), *, layout=None, clip_norm=None,
                 clip_value=None):
        hyper = dict(
            lr=_number_or_schedule(lr, "lr", _rate),
            momentum=_number_or_schedule(momentum, "momentum", _fraction),
            weight_decay=_number_or_schedule(weight_decay, "weight_decay", _rate),
            eps=_number_or_schedule(eps, "eps", _rate),
            adam_lr=_number_or_schedule(adam_lr, "adam_lr", _rate),
            adam_beta1=_number_or_schedule(adam_beta1, "adam_beta1", _fraction),
            adam_beta2=_number_or_schedule(adam_beta2, "adam_beta2", _fraction),
            adam_eps=_number_or_schedule(adam_eps, "adam_eps", _rate),
            adam_weight_decay=_number_or_schedule(adam_weight_decay, "adam_weight_decay", _rate),
        )
        super().__init__(**hyper, clip_norm=clip_norm, clip_value=clip_value)
        # the same values (and schedule objects) drive an AdamW for the other tensors
        self._adam = AdamW(*(hyper[f"adam_{k}"] for k in ("lr", "beta1", "beta2", "eps")),
                           weight_decay=hyper["adam_weight_decay"])
        self.nesterov = _flag(nesterov, "nesterov")
        self.ns_coefficients = self._coefficients(ns_coefficients)
        self.ns_steps = checks.positive_int(ns_steps, "ns_steps")
        self.adjust_lr = checks.choice(adjust_lr, _ADJUST, "adjust_lr")
        self._set_layout(layout)
        if isinstance(exclude, str) or not all(isinstance(x, str) for x in exclude):
            raise InputError(f"exclude must be a list of tensor names, got {exclude!r}")
        self.exclude = tuple(exclude)
        for nm in self.exclude:
            self.layout[nm]  # raises, naming the layout's tensors, if unknown
        self._plan()

    @staticmethod
    def _coefficients(value) -> tuple[float, float, float]:
        try:
            a, b, c = (float(x) for x in value)
        except (TypeError, ValueError):
            raise InputError(f"ns_coefficients must be three numbers, got {value!r}") from None
        if not all(math.isfinite(x) for x in (a, b, c)):
            raise InputError(f"ns_coefficients must be finite, got {value!r}")
        return a, b, c

    def _plan(self) -> None:
        self._matrices: list[tuple[slice, tuple[int, int], int, float]] = []
        rest: list[np.ndarray] = []
        offset = 0
        for spec in self.layout:
            if len(spec.shape) == 2 and spec.name not in self.exclude:
                fan_out = spec.shape[spec.filter_axis]
                fan_in = spec.shape[1 - spec.filter_axis]
                if self.adjust_lr == "original":
                    scale = math.sqrt(max(1.0, fan_out / fan_in))
                else:
                    scale = 0.2 * math.sqrt(max(fan_out, fan_in))
                self._matrices.append((spec.slice, spec.shape, offset, scale))
                offset += spec.size
            else:
                rest.append(np.arange(spec.start, spec.stop))
        self._n_buf = offset
        self._rest = np.concatenate(rest) if rest else np.zeros(0, dtype=np.int64)

    def _options(self) -> dict:
        return {"nesterov": self.nesterov, "ns_coefficients": self.ns_coefficients,
                "ns_steps": self.ns_steps, "adjust_lr": self.adjust_lr,
                "exclude": self.exclude, "layout": self.layout}

    def _state_spec(self) -> dict:
        n = self._rest.size
        return {"momentum_buffer": (self._n_buf,), "m": (n,), "v": (n,)}

    def _apply(self, g, s, theta, t, work):
        lr, mu, wd, eps = (self._value(k, t) for k in ("lr", "momentum", "weight_decay", "eps"))
        (d,) = work
        buf = s["momentum_buffer"]
        for sl, shape, off, scale in self._matrices:
            gt, dt = g[sl], d[sl]
            b = buf[off : off + gt.size]
            np.subtract(gt, b, out=dt)
            dt *= 1.0 - mu
            b += dt  # B = mu B + (1 - mu) g, as torch's lerp
            if self.nesterov:
                np.subtract(b, gt, out=dt)
                dt *= mu
                dt += gt  # U = g + mu (B - g)
            else:
                np.copyto(dt, b)
            O = newton_schulz(dt.reshape(shape), self.ns_coefficients, self.ns_steps, eps)
            np.multiply(O.reshape(-1), -lr * scale, out=dt)
            if wd != 0.0:
                dt -= (lr * wd) * theta[sl]
        if self._rest.size:
            self._adam_part(g, s, theta, t, d)
        return d

    def _adam_part(self, g, s, theta, t, d) -> None:
        """AdamW on the entries that are not Muon's matrices (gathered, then scattered)."""
        ix = self._rest
        g_rest, th_rest = g[ix], theta[ix]
        adam = self._adam
        delta = adam._apply(g_rest, {"m": s["m"], "v": s["v"]}, th_rest, t, adam._work(th_rest))
        d[ix] = delta


def _inverse_root(A: np.ndarray, eps: float, exponent: float) -> np.ndarray:
    """``(A + eps I) ** -exponent`` of a symmetric PSD matrix, by eigendecomposition in float64."""
    A = np.asarray(A, dtype=np.float64)
    w, Q = np.linalg.eigh(A + eps * np.eye(A.shape[0]))
    w = np.maximum(w, eps)  # round-off can leave an eigenvalue a hair below eps
    return (Q * w**-exponent) @ Q.T


class Shampoo(_LayoutRule):
    """Shampoo (Gupta, Koren & Singer 2018, "Shampoo: Preconditioned Stochastic Tensor
    Optimization"), Algorithm 1 for matrices, with the roots refreshed every ``update_every``
    steps (Anil et al. 2020, "Scalable Second Order Optimization for Deep Learning").

    For each matrix ``G`` (m x n) of the layout: ``L += G G^T``, ``R += G^T G`` (or
    ``L = beta2 L + (1 - beta2) G G^T`` with ``beta2 < 1``); at steps ``0, k, 2k, ...`` the
    inverse roots ``P_L = (L + eps I)^(-1/4)``, ``P_R = (R + eps I)^(-1/4)`` are recomputed
    (eigendecomposition in float64), and every step ``theta -= lr P_L G P_R``. ``eps I`` is the
    paper's initial ``L_0 = eps I``. A side longer than ``max_dim`` is not preconditioned and
    the other side's root becomes ``-1/2`` (the order-1 case of the paper); a tensor with no
    preconditioned side, and every tensor that is not a matrix, uses the diagonal form
    ``D += g^2; theta -= lr g / sqrt(D + eps)`` (Adagrad).

    What the large-scale variants add and this does not: grafting of another rule's step size,
    momentum, and blocking of long sides instead of leaving them unpreconditioned.

    State: ``stats`` (the factors ``L``, ``R``, flattened and concatenated), ``roots`` (their
    inverse roots, same layout) and ``diag`` (the diagonal statistics).
    """

    name = "shampoo"

    def __init__(self, lr=0.1, eps=1e-6, beta2=1.0, update_every=10, max_dim=1024, *,
                 layout=None, clip_norm=None, clip_value=None):
        super().__init__(
            lr=_number_or_schedule(lr, "lr", _rate),
            eps=_number_or_schedule(eps, "eps", _positive),
            beta2=_number_or_schedule(beta2, "beta2", _decay_rate),
            clip_norm=clip_norm,
            clip_value=clip_value,
        )
        self.update_every = checks.positive_int(update_every, "update_every")
        self.max_dim = checks.positive_int(max_dim, "max_dim")
        self._set_layout(layout)
        # matrices: (slice, shape, [(side, dim, offset)], exponent); others: (slice, offset)
        self._matrices: list[tuple[slice, tuple, list, float]] = []
        self._diagonal: list[tuple[slice, int]] = []
        n_stats = n_diag = 0
        for spec in self.layout:
            sides = []
            if len(spec.shape) == 2:
                for side, dim in enumerate(spec.shape):
                    if dim <= self.max_dim:
                        sides.append((side, dim, n_stats))
                        n_stats += dim * dim
            if sides:
                self._matrices.append((spec.slice, spec.shape, sides, 1.0 / (2 * len(sides))))
            else:
                self._diagonal.append((spec.slice, n_diag))
                n_diag += spec.size
        self._sizes = (n_stats, n_diag)

    def _options(self) -> dict:
        return {"update_every": self.update_every, "max_dim": self.max_dim,
                "layout": self.layout}

    def _state_spec(self) -> dict:
        n_stats, n_diag = self._sizes
        return {"stats": (n_stats,), "roots": (n_stats,), "diag": (n_diag,)}

    def _apply(self, g, s, theta, t, work):
        lr, eps, beta2 = (self._value(k, t) for k in ("lr", "eps", "beta2"))
        refresh = t % self.update_every == 0
        (d,) = work
        for sl, shape, sides, exponent in self._matrices:
            G = g[sl].reshape(shape)
            P = G
            for side, dim, off in sides:
                stat = s["stats"][off : off + dim * dim].reshape(dim, dim)
                outer = G @ G.T if side == 0 else G.T @ G
                if beta2 == 1.0:
                    stat += outer
                else:
                    stat *= beta2
                    stat += (1.0 - beta2) * outer
                root = s["roots"][off : off + dim * dim].reshape(dim, dim)
                if refresh:
                    root[...] = _inverse_root(stat, eps, exponent)
                P = root @ P if side == 0 else P @ root
            np.multiply(P.reshape(-1), -lr, out=d[sl])
        for sl, off in self._diagonal:
            gt, dt = g[sl], d[sl]
            diag = s["diag"][off : off + gt.size]
            if beta2 == 1.0:
                diag += np.multiply(gt, gt, out=dt)
            else:
                diag *= beta2
                diag += (1.0 - beta2) * np.multiply(gt, gt, out=dt)
            np.add(diag, eps, out=dt)
            np.sqrt(dt, out=dt)
            np.divide(gt, dt, out=dt)
            dt *= -lr
        return d


def _decay_rate(value: float, name: str) -> float:
    v = checks.nonneg_float(value, name)
    if not 0 < v <= 1:
        raise InputError(f"{name} must be in (0, 1], got {value!r}")
    return v
