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
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

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

    def kinks(self, cache):
        return cache

    def describe(self):
        return f"alpha={self.alpha:g}"


class Sigmoid(Layer):
    """Logistic ``1 / (1 + exp(-x))`` (computed without overflow); derivative ``s (1 - s)``."""

    kind = "sigmoid"

    def forward(self, x, p, ctx):
        out = expit(x, out=x if ctx.inplace else None)
        return out, out

    def backward(self, dout, cache, p, g, need_dx=True):
        s = cache
        dout *= s * (1 - s)
        return dout


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

    def describe(self):
        return f"keep p={self.p:g}"


ACTIVATIONS = {
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "maxout": Maxout,
}
