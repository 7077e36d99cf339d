"""Layers with analytic forward and backward passes.

Each layer is a small object in the CS231n style: ``forward(x, p, ctx) -> (out, cache)`` and
``backward(dout, cache, p, g, need_dx) -> dx``. ``p`` maps the layer's local tensor names
(``"W"``, ``"b"``) to views into the flat parameter vector and ``g`` to views into the flat
gradient; ``backward`` WRITES (never accumulates) every entry of ``g``. Mode and randomness come
in through ``ctx`` (:class:`Context`), never from global state.

Conventions: inputs are row-major batches ``x`` of shape (N, D); a Linear layer computes
``x @ W + b`` with ``W`` of shape (D_in, D_out), so column ``j`` of ``W`` is the incoming weight
vector ("filter") of output unit ``j``. ``backward`` may overwrite ``dout`` in place (it is always
a fresh array produced by the layer above or by the loss).

**Exact curvature (Pearlmutter's R-operator).** For a direction ``v`` in parameter space write
``R{z} = d/dr z(theta + r v) |_{r=0}`` for any quantity ``z`` of the passes. Beside its
forward and backward pass every layer has

- ``rforward(rx, cache, p, rp) -> (R{out}, rcache)``: the forward R-pass, from ``R{x}`` (None
  when the input does not move, as the data does not; never overwritten, since a layer may
  keep it in its ``rcache``) and the direction's tensors ``rp``;
- ``rbackward(dout, rdout, cache, rcache, p, rp, rg, need_dx) -> R{dx}``: the backward R-pass,
  from ``dout = dL/d(out)`` (read only) and ``rdout = R{dL/d(out)}`` (may be overwritten); it
  WRITES ``R{dL/dp}``, the layer's slice of ``H v``, into ``rg``.

Run from the loss's ``R{dL/dscores} = H_loss R{scores}`` down to the first layer, the
backward R-pass gives ``H v`` exactly, for about the cost of one gradient once the forward
pass at the point is kept (:class:`steepest.nn.model.PointCurvature`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .._validate import nonneg_float, positive_int, probability
from ..errors import InputError


@dataclass
class Context:
    """Per-call state: mode, random generator and the layers' non-trainable buffers."""

    train: bool = False
    rng: np.random.Generator | None = None
    buffers: dict[str, np.ndarray] = field(default_factory=dict)
    update_stats: bool = True
    # Dropout masks to reuse by layer name (a resumed forward must see the base pass's masks).
    masks: dict[str, np.ndarray] | None = None
    # Activations may overwrite their input (only for pure evaluation, where no cache or
    # trace keeps the input alive).
    inplace: bool = False


class Layer:
    """Base class. Parameter-free layers only override forward/backward (and kinks)."""

    kind = "layer"

    def __init__(self, name: str | None = None):
        self.name = name

    def param_shapes(self) -> list[tuple[str, tuple[int, ...], str]]:
        """(local name, shape, role) of each trainable tensor."""
        return []

    def buffer_shapes(self) -> list[tuple[str, tuple[int, ...], float]]:
        """(local name, shape, initial value) of each non-trainable buffer."""
        return []

    def output_features(self, in_features: int) -> int:
        """Width of the output for an input of width ``in_features`` (raises if incompatible)."""
        return in_features

    def forward(self, x, p, ctx):  # pragma: no cover - interface
        raise NotImplementedError

    def backward(self, dout, cache, p, g, need_dx=True):  # pragma: no cover - interface
        raise NotImplementedError

    def perturbed_forward(self, x, p, local, delta, eps, ctx, base_out, factors=None):
        """Outputs for the parameter ``local`` moved to ``p[local] +- eps * delta``.

        Returns ``(out_plus, out_minus)``; ``base_out`` is the unperturbed output. Layers whose
        output is affine in a parameter override this to share work between the two signs;
        ``factors = (a, b)`` says that ``delta`` is the rank-1 matrix ``outer(a, b)``.
        """
        outs = []
        for sign in (1.0, -1.0):
            q = dict(p)
            q[local] = p[local] + (sign * eps) * delta
            outs.append(self.forward(x, q, ctx)[0])
        return outs[0], outs[1]

    def rforward(self, rx, cache, p, rp):
        """``(R{out}, rcache)``: the forward R-pass (see the module docstring)."""
        raise InputError(f"layer {self.name!r} ({type(self).__name__}) has no R-operator, so "
                         f"no exact curvature product: use products='finite-differences'")

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dL/dx}``, with ``R{dL/dp}`` written into ``rg`` (see the module docstring)."""
        raise NotImplementedError  # pragma: no cover - rforward refuses first

    def kinks(self, cache) -> np.ndarray | None:
        """The discrete state of a piecewise layer (which side of each kink every unit is on).

        Two evaluations with different kink states straddle a non-differentiable point, so a
        finite difference between them is not a derivative; the gradient checker uses this.
        """
        return None

    def describe(self) -> str:
        return self.kind

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.describe()}, name={self.name!r})"


class Linear(Layer):
    """Affine map ``out = x @ W + b``; ``W`` is (in_features, out_features)."""

    kind = "linear"

    def __init__(self, in_features: int, out_features: int, name: str | None = None):
        super().__init__(name)
        self.in_features = positive_int(in_features, "in_features")
        self.out_features = positive_int(out_features, "out_features")

    def param_shapes(self):
        return [
            ("W", (self.in_features, self.out_features), "weight"),
            ("b", (self.out_features,), "bias"),
        ]

    def output_features(self, in_features):
        if in_features != self.in_features:
            raise InputError(
                f"layer {self.name!r} expects {self.in_features} input features, got {in_features}"
            )
        return self.out_features

    def forward(self, x, p, ctx):
        out = x @ p["W"]
        out += p["b"]
        return out, x

    def perturbed_forward(self, x, p, local, delta, eps, ctx, base_out, factors=None):
        # x (W +- eps D) + b = (x W + b) +- eps (x D): one product serves both signs, and for
        # D = a b^T it is the outer product (x a) b^T.
        if local == "W":
            d = np.outer(x @ factors[0], factors[1]) if factors is not None else x @ delta
        else:
            d = delta
        d = d * eps
        return base_out + d, base_out - d

    def backward(self, dout, cache, p, g, need_dx=True):
        x = cache
        np.matmul(x.T, dout, out=g["W"])  # dL/dW = x^T dout
        np.sum(dout, axis=0, out=g["b"])
        return dout @ p["W"].T if need_dx else None

    def rforward(self, rx, cache, p, rp):
        """``R{out} = R{x} W + x R{W} + R{b}``."""
        rout = cache @ rp["W"]
        rout += rp["b"]
        if rx is not None:
            rout += rx @ p["W"]
        return rout, rx

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dW} = R{x}^T dout + x^T R{dout}``, ``R{db} = sum R{dout}``,
        ``R{dx} = R{dout} W^T + dout R{W}^T``."""
        x, rx = cache, rcache
        np.matmul(x.T, rdout, out=rg["W"])
        if rx is not None:
            rg["W"] += rx.T @ dout
        np.sum(rdout, axis=0, out=rg["b"])
        if not need_dx:
            return None
        rdx = rdout @ p["W"].T
        rdx += dout @ rp["W"].T
        return rdx

    def describe(self):
        return f"{self.in_features}->{self.out_features}"


class ReLU(Layer):
    """``max(0, x)``; the derivative at exactly 0 is taken as 0."""

    kind = "relu"

    def forward(self, x, p, ctx):
        if ctx.inplace:  # x * (x > 0): twice as fast as np.maximum in place on this NumPy
            x *= x > 0
            return x, x
        out = np.maximum(x, 0)
        return out, out

    def backward(self, dout, cache, p, g, need_dx=True):
        dout *= cache > 0
        return dout

    def rforward(self, rx, cache, p, rp):
        """``R{out} = 1[x > 0] R{x}``."""
        return (None if rx is None else rx * (cache > 0)), None

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx} = 1[x > 0] R{dout}``: the second derivative is zero away from the kink."""
        rdout *= cache > 0
        return rdout

    def kinks(self, cache):
        return cache > 0


class LeakyReLU(Layer):
    """``x`` for x > 0, ``alpha * x`` otherwise."""

    kind = "leaky_relu"

    def __init__(self, alpha: float = 0.01, name: str | None = None):
        super().__init__(name)
        self.alpha = nonneg_float(alpha, "alpha")

    def forward(self, x, p, ctx):
        pos = x > 0
        out = np.where(pos, x, x * self.alpha)
        return out, pos

    def backward(self, dout, cache, p, g, need_dx=True):
        return np.where(cache, dout, dout * self.alpha)

    def rforward(self, rx, cache, p, rp):
        """``R{out} = R{x}`` where x > 0, ``alpha R{x}`` elsewhere."""
        return (None if rx is None else self.backward(rx, cache, p, None)), None

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx}`` is ``R{dout}`` scaled like ``dout`` (the slope is piecewise constant)."""
        return self.backward(rdout, cache, p, None)

    def kinks(self, cache):
        return cache

    def describe(self):
        return f"alpha={self.alpha:g}"


class Sigmoid(Layer):
    """Logistic ``1 / (1 + exp(-x))``, computed as ``(1 + tanh(x / 2)) / 2`` (the same function,
    with no overflow for any x); derivative ``s (1 - s)``."""

    kind = "sigmoid"

    def forward(self, x, p, ctx):
        out = np.multiply(x, 0.5, out=x if ctx.inplace else None)
        np.tanh(out, out=out)
        out += 1.0
        out *= 0.5
        return out, out

    def backward(self, dout, cache, p, g, need_dx=True):
        s = cache
        dout *= s * (1 - s)
        return dout

    def rforward(self, rx, cache, p, rp):
        """``R{s} = s (1 - s) R{x}``."""
        if rx is None:
            return None, None
        rs = self.backward(rx.copy(), cache, p, None)
        return rs, rs

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx} = s (1 - s) R{dout} + (1 - 2 s) R{s} dout``."""
        s, rs = cache, rcache
        rdx = self.backward(rdout, s, p, None)
        if rs is not None:
            rdx += (1 - 2 * s) * rs * dout
        return rdx


class Tanh(Layer):
    """``tanh(x)``; derivative ``1 - tanh(x)^2``."""

    kind = "tanh"

    def forward(self, x, p, ctx):
        out = np.tanh(x, out=x if ctx.inplace else None)
        return out, out

    def backward(self, dout, cache, p, g, need_dx=True):
        t = cache
        dout *= 1 - t * t
        return dout

    def rforward(self, rx, cache, p, rp):
        """``R{t} = (1 - t^2) R{x}``."""
        if rx is None:
            return None, None
        rt = self.backward(rx.copy(), cache, p, None)
        return rt, rt

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx} = (1 - t^2) R{dout} - 2 t R{t} dout``."""
        t, rt = cache, rcache
        rdx = self.backward(rdout, t, p, None)
        if rt is not None:
            rdx -= 2 * t * rt * dout
        return rdx


class Maxout(Layer):
    """Max over groups of ``k`` consecutive units: (N, m*k) -> (N, m).

    Output unit ``j`` is ``max(x[:, j*k], ..., x[:, j*k + k - 1])``; the gradient flows to the
    arg-max of each group (the first one on ties).
    """

    kind = "maxout"

    def __init__(self, k: int = 2, name: str | None = None):
        super().__init__(name)
        self.k = positive_int(k, "maxout pieces k")
        if self.k < 2:
            raise InputError(f"maxout needs k >= 2 pieces, got {k}")

    def output_features(self, in_features):
        if in_features % self.k:
            raise InputError(
                f"maxout with k={self.k} needs an input width divisible by {self.k}, "
                f"got {in_features}"
            )
        return in_features // self.k

    def forward(self, x, p, ctx):
        # leading axes (batch, or points x batch in landscape evaluation) pass through
        d = x.shape[-1]
        xg = x.reshape(*x.shape[:-1], d // self.k, self.k)
        idx = np.argmax(xg, axis=-1)
        out = np.take_along_axis(xg, idx[..., None], axis=-1)[..., 0]
        return out, (idx, x.shape)

    def backward(self, dout, cache, p, g, need_dx=True):
        idx, shape = cache
        n, d = shape
        dx = np.zeros((n, d // self.k, self.k), dtype=dout.dtype)
        np.put_along_axis(dx, idx[:, :, None], dout[:, :, None], axis=2)
        return dx.reshape(shape)

    def rforward(self, rx, cache, p, rp):
        """``R{out}`` is ``R{x}`` at each group's arg-max (the max is linear near the point)."""
        if rx is None:
            return None, None
        idx = cache[0]
        rg = rx.reshape(*rx.shape[:-1], rx.shape[-1] // self.k, self.k)
        return np.take_along_axis(rg, idx[..., None], axis=-1)[..., 0], None

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx}``: ``R{dout}`` routed to the arg-max, as ``dout`` is."""
        return self.backward(rdout, cache, p, None)

    def kinks(self, cache):
        return cache[0]

    def describe(self):
        return f"k={self.k}"


class BatchNorm(Layer):
    """Batch normalization over the batch axis (Ioffe & Szegedy 2015).

    Training: ``xhat = (x - mean_B) / sqrt(var_B + eps)`` with the batch mean and the biased batch
    variance, ``out = gamma * xhat + beta``; the running statistics move as
    ``r <- (1 - momentum) r + momentum * batch_stat`` (running variance uses the unbiased batch
    variance, as PyTorch does). Evaluation: the running statistics replace the batch ones.
    """

    kind = "batchnorm"

    def __init__(
        self, num_features: int, eps: float = 1e-5, momentum: float = 0.1, name: str | None = None
    ):
        super().__init__(name)
        self.num_features = positive_int(num_features, "num_features")
        self.eps = nonneg_float(eps, "eps")
        self.momentum = probability(momentum, "batchnorm momentum", open_low=False)

    def param_shapes(self):
        d = (self.num_features,)
        return [("gamma", d, "norm"), ("beta", d, "norm")]

    def buffer_shapes(self):
        d = (self.num_features,)
        return [("running_mean", d, 0.0), ("running_var", d, 1.0)]

    def output_features(self, in_features):
        if in_features != self.num_features:
            raise InputError(
                f"layer {self.name!r} normalizes {self.num_features} features, got {in_features}"
            )
        return in_features

    def forward(self, x, p, ctx):
        rmean = ctx.buffers[f"{self.name}.running_mean"]
        rvar = ctx.buffers[f"{self.name}.running_var"]
        if ctx.train:
            n = x.shape[0]
            if n < 2:
                raise InputError("batchnorm in training mode needs a batch of at least 2 rows")
            mean = x.mean(axis=0)
            xc = x - mean
            var = np.mean(xc * xc, axis=0)
            if ctx.update_stats:
                m = self.momentum
                rmean *= 1 - m
                rmean += m * mean
                rvar *= 1 - m
                rvar += (m * n / (n - 1)) * var
        else:
            xc = x - rmean.astype(x.dtype, copy=False)
            var = rvar.astype(x.dtype, copy=False)
        inv_std = 1.0 / np.sqrt(var + self.eps)
        xhat = xc * inv_std
        out = xhat * p["gamma"]
        out += p["beta"]
        return out, (xhat, inv_std, ctx.train)

    def backward(self, dout, cache, p, g, need_dx=True):
        xhat, inv_std, train = cache
        np.sum(dout * xhat, axis=0, out=g["gamma"])
        np.sum(dout, axis=0, out=g["beta"])
        if not need_dx:
            return None
        dxhat = dout * p["gamma"]
        if not train:
            return dxhat * inv_std
        # dx = inv_std * (dxhat - mean(dxhat) - xhat * mean(dxhat * xhat))
        dx = dxhat - dxhat.mean(axis=0)
        dx -= xhat * np.mean(dxhat * xhat, axis=0)
        dx *= inv_std
        return dx

    def rforward(self, rx, cache, p, rp):
        """``R{out} = gamma R{xhat} + R{gamma} xhat + R{beta}``.

        Evaluation: ``R{xhat} = s R{x}`` with ``s = 1 / sqrt(var + eps)`` fixed. Training: the
        batch statistics move with ``x``: ``R{var} = 2 mean(xc R{x})`` gives
        ``R{s} = -s^2 mean(xhat R{x})`` and
        ``R{xhat} = s (R{x} - mean(R{x}) - xhat mean(xhat R{x}))``; ``rcache`` keeps
        ``(R{xhat}, R{s})`` (None when the input does not move).
        """
        xhat, inv_std, train = cache
        rout = xhat * rp["gamma"]
        rout += rp["beta"]
        if rx is None:
            return rout, None
        if train:
            m = np.mean(xhat * rx, axis=0)
            rs = -(inv_std * inv_std) * m
            rxhat = rx - rx.mean(axis=0)
            rxhat -= xhat * m
            rxhat *= inv_std
        else:
            rs, rxhat = None, rx * inv_std
        rout += rxhat * p["gamma"]
        return rout, (rxhat, rs)

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dgamma} = sum(R{dout} xhat + dout R{xhat})``, ``R{dbeta} = sum R{dout}`` and
        ``R{dx}``: with ``dxhat = gamma dout`` and, in training,
        ``P(a) = a - mean(a) - xhat mean(a xhat)`` (so ``dx = s P(dxhat)``),
        ``R{dx} = R{s} P(dxhat) + s (P(R{dxhat}) - R{xhat} mean(dxhat xhat)
        - xhat mean(dxhat R{xhat}))`` where ``R{dxhat} = gamma R{dout} + R{gamma} dout``.
        """
        xhat, inv_std, train = cache
        rxhat, rs = (None, None) if rcache is None else rcache
        np.sum(rdout * xhat, axis=0, out=rg["gamma"])
        if rxhat is not None:
            rg["gamma"] += np.sum(dout * rxhat, axis=0)
        np.sum(rdout, axis=0, out=rg["beta"])
        if not need_dx:
            return None
        rdxhat = rdout * p["gamma"]
        rdxhat += dout * rp["gamma"]
        if not train:
            rdxhat *= inv_std
            return rdxhat
        dxhat = dout * p["gamma"]
        rdx = rdxhat - rdxhat.mean(axis=0)
        rdx -= xhat * np.mean(rdxhat * xhat, axis=0)
        if rxhat is not None:
            rdx -= rxhat * np.mean(dxhat * xhat, axis=0)
            rdx -= xhat * np.mean(dxhat * rxhat, axis=0)
        rdx *= inv_std
        if rs is not None:
            pd = dxhat - dxhat.mean(axis=0)
            pd -= xhat * np.mean(dxhat * xhat, axis=0)
            rdx += rs * pd
        return rdx

    def describe(self):
        return f"{self.num_features}, eps={self.eps:g}, momentum={self.momentum:g}"


class Dropout(Layer):
    """Inverted dropout with keep-probability ``p``.

    Training: each unit is kept with probability ``p`` and scaled by ``1/p`` so the expected
    activation is unchanged; evaluation: identity. The mask comes from ``ctx.rng``.
    """

    kind = "dropout"

    def __init__(self, p: float = 0.5, name: str | None = None):
        super().__init__(name)
        self.p = probability(p, "dropout keep-probability p")

    def forward(self, x, p, ctx):
        if not ctx.train or self.p == 1.0:
            return x, None
        if ctx.masks is not None and self.name in ctx.masks:
            mask = ctx.masks[self.name]
            return x * mask, mask
        if ctx.rng is None:
            raise InputError(
                "dropout in training mode needs a random generator: "
                "pass rng=np.random.default_rng(seed)"
            )
        mask = ctx.rng.random(x.shape, dtype=x.dtype if x.dtype == np.float32 else np.float64)
        mask = (mask < self.p).astype(x.dtype)
        mask *= 1.0 / self.p
        return x * mask, mask

    def backward(self, dout, cache, p, g, need_dx=True):
        if cache is None:
            return dout
        dout *= cache
        return dout

    def rforward(self, rx, cache, p, rp):
        """``R{out} = mask R{x}``: the mask is fixed, so dropout is linear."""
        if rx is None or cache is None:
            return rx, None
        return rx * cache, None

    def rbackward(self, dout, rdout, cache, rcache, p, rp, rg, need_dx=True):
        """``R{dx} = mask R{dout}``."""
        return self.backward(rdout, cache, p, None)

    def describe(self):
        return f"keep p={self.p:g}"


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "maxout": Maxout,
}
