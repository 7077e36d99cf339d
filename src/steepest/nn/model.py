"""Models over a flat parameter vector: a Sequential stack of layers, a loss and a regularizer.

The one contract of the project::

    loss, grad = model.loss_and_grad(theta, X, y, train=True, rng=rng)

with ``L(theta) = (1/N) sum_i L_i(f(x_i; theta), y_i) + lambda R(W)``. ``theta`` is one 1-D array
laid out by ``model.layout``; BatchNorm running statistics live in ``model.buffers``, a separate
flat vector laid out by ``model.buffer_layout``. Computation runs in ``theta``'s dtype, so the
same model trains in float32 and is checked in float64.

Exact curvature: ``model.hvp(theta, v, X, y)`` is ``H v`` by Pearlmutter's R-operator (the
forward R-pass ``R{x}`` and the backward R-pass ``R{dL/dx}`` of every layer, see
:mod:`steepest.nn.layers`), and ``model.ggn_vp(theta, v, X, y)`` the generalized Gauss-Newton
product ``J^T H_loss J v`` (plus the penalty's Hessian). Many products at one point share one
forward pass through :meth:`Model.curvature_at`. None of it runs when training.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import _validate as checks
from ..errors import InputError
from ..losses import Loss
from ..params import Layout
from ..regularizers import Regularizer
from .init import INITS, init_weight
from .layers import ACTIVATIONS, BatchNorm, Context, Dropout, Layer, LeakyReLU, Linear, Maxout

_PREFIX = {"linear": "fc", "batchnorm": "bn", "dropout": "drop"}


class Sequential:
    """An ordered stack of layers with unique names (``fc1``, ``relu1``, ``bn1``, ...)."""

    def __init__(self, layers: list[Layer], n_features: int):
        if not layers:
            raise InputError("a Sequential needs at least one layer")
        self.n_features = checks.positive_int(n_features, "n_features")
        counts: dict[str, int] = {}
        names: set[str] = set()
        width = self.n_features
        for layer in layers:
            if not isinstance(layer, Layer):
                raise InputError(f"{layer!r} is not a steepest layer")
            if layer.name is None:
                prefix = _PREFIX.get(layer.kind, layer.kind)
                counts[prefix] = counts.get(prefix, 0) + 1
                layer.name = f"{prefix}{counts[prefix]}"
            if layer.name in names or "." in layer.name:
                raise InputError(f"layer name {layer.name!r} is repeated or contains a dot")
            names.add(layer.name)
            width = layer.output_features(width)
        self.layers = list(layers)
        self.n_outputs = width


@dataclass
class Record:
    """One full pass at theta, kept so that perturbed passes can resume mid-network."""

    inputs: list  # the input of every layer
    outputs: list  # the output of every layer
    caches: list
    kinks: list  # per layer: its kink state or None
    loss: float
    grad: np.ndarray
    reg: float  # lambda R(theta)


class Model:
    """A classifier (or regressor) ``f(x; theta)`` with a loss and a weight penalty.

    It meets the objective contract of :mod:`steepest.contract` and offers every optional
    capability listed there, exact Hessian-vector and Gauss-Newton products included.
    """

    fast_options = frozenset({"out", "validate"})

    def __init__(
        self,
        net: Sequential,
        loss: Loss | str = "softmax",
        regularizer: Regularizer | None = None,
        init: str = "he",
        config: dict | None = None,
    ):
        self.net = net
        self.loss_fn = loss if isinstance(loss, Loss) else Loss(loss)
        self.regularizer = regularizer or Regularizer("none")
        self.init = checks.choice(init, INITS, "initializer")
        self.config = config
        p_entries, b_entries, self._buffer_init = [], [], []
        # per layer: (local name, start, stop, shape) of each of its tensors in theta
        self._tensor_slices: list[list[tuple[str, int, int, tuple[int, ...]]]] = []
        offset = 0
        for layer in net.layers:
            slices = []
            for local, shape, role in layer.param_shapes():
                n = int(np.prod(shape))
                p_entries.append((f"{layer.name}.{local}", shape, role))
                slices.append((local, offset, offset + n, tuple(shape)))
                offset += n
            self._tensor_slices.append(slices)
            for local, shape, value in layer.buffer_shapes():
                b_entries.append((f"{layer.name}.{local}", shape, "norm"))
                self._buffer_init.append(value)
        self.layout = Layout(p_entries)
        # which layer (index) and local name each flat tensor belongs to
        self._owner = {f"{layer.name}.{local}": (i, local)
                       for i, (layer, slices) in enumerate(zip(net.layers, self._tensor_slices))
                       for local, *_ in slices}
        self.buffer_layout = Layout(b_entries)
        self.buffers = np.zeros(self.buffer_layout.size)
        self.reset_buffers()

    # ----------------------------------------------------------------- description
    @property
    def n_features(self) -> int:
        return self.net.n_features

    @property
    def n_outputs(self) -> int:
        return self.net.n_outputs

    @property
    def n_classes(self) -> int:
        return self.net.n_outputs

    @property
    def n_params(self) -> int:
        return self.layout.size

    @property
    def layers(self) -> list[Layer]:
        return self.net.layers

    def summary(self) -> list[dict]:
        """One row per layer: name, kind, description, parameter count."""
        return [{"name": layer.name, "kind": layer.kind, "detail": layer.describe(),
                 "params": sum(b - a for _, a, b, _ in slices)}
                for layer, slices in zip(self.layers, self._tensor_slices)]

    # ----------------------------------------------------------------- parameters
    def init_params(self, seed: int = 0, dtype=np.float64) -> np.ndarray:
        """A fresh theta (weights by ``self.init``, zero biases, gamma 1 / beta 0).

        Also resets the BatchNorm running statistics, so a seed fully determines the start.
        """
        dtype = checks.float_dtype(dtype)
        rng = np.random.default_rng(checks.seed(seed))
        theta = np.zeros(self.layout.size)
        for spec in self.layout:
            view = theta[spec.slice].reshape(spec.shape)
            if spec.role == "weight":
                view[...] = init_weight(self.init, spec.shape, rng)
            elif spec.name.endswith(".gamma"):
                view[...] = 1.0
        self.reset_buffers()
        return theta.astype(dtype, copy=False)

    def reset_buffers(self) -> None:
        for spec, value in zip(self.buffer_layout, self._buffer_init):
            self.buffers[spec.slice] = value

    def params(self, theta: np.ndarray) -> dict[str, np.ndarray]:
        """Named views of ``theta`` (``{"fc1.W": ..., "fc1.b": ...}``)."""
        return self.layout.views(theta)

    def layer_views(self, vec, i: int) -> dict[str, np.ndarray]:
        """Layer ``i``'s tensors by local name (``"W"``, ``"b"``) as views into a flat vector
        laid out like theta (theta itself, a gradient, a direction)."""
        return {name: vec[a:b].reshape(shape) for name, a, b, shape in self._tensor_slices[i]}

    # ----------------------------------------------------------------- boundary checks
    def check_data(self, X, y=None):
        """``(X, y)`` validated for this model: finite numeric features of the right width,
        labels in ``[0, n_classes)`` (or, for the regression losses, targets shaped like the
        outputs). ``y`` may be None."""
        X = checks.features(X, n_features=self.n_features)
        if y is None:
            return X, None
        y = np.asarray(y)
        if self.loss_fn.name in ("l2", "l1") and y.ndim == 2:
            if y.shape != (X.shape[0], self.n_outputs):
                raise InputError(
                    f"targets have shape {y.shape}, expected {(X.shape[0], self.n_outputs)}"
                )
            return X, checks.features(y, "y")
        return X, checks.labels(y, X.shape[0], self.n_outputs)

    def _inputs(self, theta, X, y=None, validate: bool = True):
        theta = self.layout.check(theta)
        if validate:
            X, y = self.check_data(X, y)
        X = X.astype(theta.dtype, copy=False)
        if y is not None and y.ndim == 2:
            y = y.astype(theta.dtype, copy=False)
        return theta, X, y

    def _context(self, train, rng, update_stats):
        checks.generator(rng)
        buffers = self.buffer_layout.views(self.buffers)
        return Context(train=bool(train), rng=rng, buffers=buffers, update_stats=update_stats)

    # ----------------------------------------------------------------- core passes
    def _forward(self, theta, X, ctx):
        caches = []
        h = X
        for i, layer in enumerate(self.net.layers):
            h, cache = layer.forward(h, self.layer_views(theta, i), ctx)
            caches.append(cache)
        return h, caches

    def _backward(self, theta, grad, dscores, caches):
        d = dscores
        last = len(self.net.layers) - 1
        for i in range(last, -1, -1):
            layer = self.net.layers[i]
            # The input gradient of the first layer is never needed: skip that product.
            d = layer.backward(d, caches[i], self.layer_views(theta, i),
                               self.layer_views(grad, i), need_dx=i > 0)

    def _penalty(self, theta) -> float:
        return self.regularizer.value(self.layout, theta)

    # ----------------------------------------------------------------- the contract
    def loss_and_grad(self, theta, X, y, *, train: bool = True, rng=None,
                      update_stats: bool = True, out=None, validate: bool = True):
        """``(L(theta), dL/dtheta)`` on the batch ``(X, y)``.

        ``train=True`` uses batch statistics in BatchNorm (and updates the running statistics
        unless ``update_stats=False``) and draws dropout masks from ``rng``. ``out`` is an array
        to write the gradient into (it may hold garbage: every entry is written);
        ``validate=False`` skips the O(N D) data checks for callers that validated the whole
        dataset once.
        """
        theta, X, y = self._inputs(theta, X, y, validate)
        ctx = self._context(train, rng, update_stats)
        scores, caches = self._forward(theta, X, ctx)
        loss, dscores = self.loss_fn(scores, y)
        grad = np.empty_like(theta) if out is None else out
        self._backward(theta, grad, dscores, caches)
        self.regularizer.add_gradient(self.layout, theta, grad)
        return loss + self._penalty(theta), grad

    def loss(self, theta, X, y, *, train: bool = False, rng=None) -> float:
        """``L(theta)`` without the gradient (evaluation mode by default; statistics untouched)."""
        theta, X, y = self._inputs(theta, X, y)
        scores, _ = self._forward(theta, X, self._context(train, rng, False))
        return self.loss_fn.value(scores, y) + self._penalty(theta)

    def scores(self, theta, X, batch_size: int = 8192) -> np.ndarray:
        """Class scores ``f(X; theta)`` in evaluation mode, computed in chunks of rows."""
        theta, X, _ = self._inputs(theta, X)
        return self._scores(theta, X, batch_size)

    def _scores(self, theta, X, batch_size):
        batch_size = checks.positive_int(batch_size, "batch_size")
        ctx = self._context(False, None, False)
        parts = [self._forward(theta, X[i : i + batch_size], ctx)[0]
                 for i in range(0, X.shape[0], batch_size)]
        return parts[0] if len(parts) == 1 else np.concatenate(parts)

    def evaluate(self, theta, X, y, batch_size: int = 8192) -> tuple[float, float]:
        """``(loss, accuracy)`` in evaluation mode from one pass (the loss includes the
        penalty)."""
        theta, X, y = self._inputs(theta, X, y)
        scores = self._scores(theta, X, batch_size)
        loss = self.loss_fn.value(scores, y) + self._penalty(theta)
        labels = y if y.ndim == 1 else np.argmax(y, axis=1)
        return float(loss), float(np.mean(np.argmax(scores, axis=1) == labels))

    def predict(self, theta, X, batch_size: int = 8192) -> np.ndarray:
        """Predicted class of each row (arg-max of the scores)."""
        return np.argmax(self.scores(theta, X, batch_size), axis=1)

    def accuracy(self, theta, X, y, batch_size: int = 8192) -> float:
        """Fraction of rows whose predicted class equals the label."""
        y = checks.labels(y, np.asarray(X).shape[0], self.n_classes)
        return float(np.mean(self.predict(theta, X, batch_size) == y))

    def activations(self, theta, X, train: bool = False,
                    rng=None) -> list[tuple[str, str, np.ndarray]]:
        """``(layer name, kind, output)`` of every layer on ``X``, for monitors and reports.

        Running statistics are not updated, even in training mode.
        """
        theta, X, _ = self._inputs(theta, X)
        ctx = self._context(train, rng, False)
        out, h = [], X
        for i, layer in enumerate(self.net.layers):
            h, _ = layer.forward(h, self.layer_views(theta, i), ctx)
            out.append((layer.name, layer.kind, h))
        return out

    def bind(self, X, y, train: bool = False, seed: int = 0):
        """This model with its data, mode and dropout seed fixed: a function of theta alone
        (:class:`steepest.contract.Bound`)."""
        from ..contract import Bound

        return Bound(self, X, y, train=train, seed=seed)

    # ----------------------------------------------------------------- fast paths
    def record(self, theta, X, y, *, train: bool = False, rng=None) -> Record:
        """The base pass at theta for :meth:`directional`: loss, gradient, every activation.
        Running statistics are not updated."""
        theta, X, y = self._inputs(theta, X, y)
        ctx = self._context(train, rng, False)
        inputs, outputs, caches, kinks = [], [], [], []
        h = X
        for i, layer in enumerate(self.net.layers):
            inputs.append(h)
            h, cache = layer.forward(h, self.layer_views(theta, i), ctx)
            outputs.append(h)
            caches.append(cache)
            kinks.append(layer.kinks(cache))
        loss, dscores = self.loss_fn(h, y)
        grad = np.empty_like(theta)
        self._backward(theta, grad, dscores, caches)
        self.regularizer.add_gradient(self.layout, theta, grad)
        reg = self._penalty(theta)
        return Record(inputs, outputs, caches, kinks, loss + reg, grad, reg)

    def directional(self, record: Record, theta, name, delta, step, y, *, train: bool = False,
                    rng=None, factors=None):
        """``(L(theta + step delta), L(theta - step delta), crossed_a_kink)`` where ``delta``
        moves only tensor ``name``: the pass resumes at that tensor's layer, with the dropout
        masks of ``record``. ``factors=(a, b)`` declares ``delta`` to be the rank-1 matrix
        ``outer(a, b)``, which an affine layer turns into a matrix-vector product."""
        spec = self.layout[name]
        i, local = self._owner[name]
        layers = self.net.layers
        ctx = self._context(train, rng, False)
        delta = np.asarray(delta, dtype=theta.dtype).reshape(spec.shape)
        ctx.masks = {layer.name: c for layer, c in zip(layers, record.caches)
                     if layer.kind == "dropout" and c is not None}
        outs = layers[i].perturbed_forward(record.inputs[i], self.layer_views(theta, i), local,
                                           delta, step, ctx, record.outputs[i], factors)
        w = theta[spec.slice].reshape(spec.shape)
        reg = self.regularizer
        base_penalty = reg.penalty(spec.role, w)
        l1_kinks = reg.active and spec.role in reg.roles and reg.coefficients[0] > 0
        base_loss_kinks = self.loss_fn.kinks(record.outputs[-1], y)
        values, crossed = [], False
        for sign, h in zip((1.0, -1.0), outs):
            h, moved_kinks = self._resume(theta, h, i + 1, ctx, record)
            state = self.loss_fn.kinks(h, y)
            crossed |= moved_kinks or (state is not None
                                       and not np.array_equal(state, base_loss_kinks))
            moved = w + (sign * step) * delta
            if l1_kinks:
                crossed |= not np.array_equal(np.sign(moved), np.sign(w))
            values.append(self.loss_fn.value(h, y) + record.reg - base_penalty
                          + reg.penalty(spec.role, moved))
        return values[0], values[1], crossed

    def _resume(self, theta, h, start, ctx, record):
        """Run layers ``start...`` on ``h``; also say whether any kink state left the record's."""
        crossed = False
        for j in range(start, len(self.net.layers)):
            h, cache = self.net.layers[j].forward(h, self.layer_views(theta, j), ctx)
            state = self.net.layers[j].kinks(cache)
            if state is not None and not np.array_equal(state, record.kinks[j]):
                crossed = True
        return h, crossed

    def coordinate_losses(self, record: Record, theta, name, coords, step, y, *,
                          train: bool = False, rng=None):
        """``(f(theta + step e_i), f(theta - step e_i), crossed)`` for many coordinates ``i``
        of tensor ``name`` at once (see :mod:`steepest.nn.probes`), with the dropout masks of
        ``record``; None when a layer of the model is not one the batched probes know."""
        from .probes import coordinate_losses, supports

        if not supports(self):
            return None
        ctx = self._context(train, rng, False)
        ctx.masks = {layer.name: c for layer, c in zip(self.net.layers, record.caches)
                     if layer.kind == "dropout" and c is not None}
        return coordinate_losses(self, record, theta, name, coords, step, y, ctx)

    def loss_and_kinks(self, theta, X, y, *, train: bool = False,
                       rng=None) -> tuple[float, list[np.ndarray]]:
        """The loss and the discrete state of every kink (see ``steepest.gradcheck``)."""
        theta, X, y = self._inputs(theta, X, y)
        scores, caches = self._forward(theta, X, self._context(train, rng, False))
        states = [layer.kinks(c) for layer, c in zip(self.net.layers, caches)]
        states.append(self.loss_fn.kinks(scores, y))
        states.append(self.regularizer.kinks(self.layout, theta))
        loss = self.loss_fn.value(scores, y) + self._penalty(theta)
        return loss, [s for s in states if s is not None]

    # ----------------------------------------------------------------- curvature
    def curvature_at(self, theta, X, y, *, train: bool = False, rng=None,
                     validate: bool = True) -> PointCurvature:
        """The passes at ``theta`` on ``(X, y)``, kept for exact curvature products there
        (:class:`PointCurvature`: ``hvp(v)``, ``ggn_vp(v)``).

        Same mode, dropout masks (drawn from ``rng`` as :meth:`loss_and_grad` draws them) and
        batch statistics as :meth:`loss_and_grad`; the running statistics are never updated.
        """
        theta, X, y = self._inputs(theta, X, y, validate)
        return PointCurvature(self, theta, X, y, self._context(train, rng, False))

    def hvp(self, theta, v, X, y, *, train: bool = False, rng=None) -> np.ndarray:
        """``H v``, the exact Hessian of the loss (penalty included) at ``theta`` times ``v``,
        in ``theta``'s dtype; see :meth:`curvature_at` for the mode and :class:`PointCurvature`
        for the method."""
        return self.curvature_at(theta, X, y, train=train, rng=rng).hvp(v)

    def ggn_vp(self, theta, v, X, y, *, train: bool = False, rng=None) -> np.ndarray:
        """``G v = J^T H_loss J v + d^2(lambda R) v``: the generalized Gauss-Newton matrix at
        ``theta`` times ``v`` (see :class:`PointCurvature`)."""
        return self.curvature_at(theta, X, y, train=train, rng=rng).ggn_vp(v)

    def points_evaluator(self, basis, X, y, *, dtype=np.float32, memory_mb: float = 256.0,
                         chunk_points: int | None = None):
        """Loss and accuracy at many points ``C @ basis`` at once (see
        :class:`steepest.nn.batched.PointsEvaluator`); None for the regression losses, which
        the batched path does not cover."""
        from .batched import PointsEvaluator

        if self.loss_fn.name not in ("softmax", "svm"):
            return None

        return PointsEvaluator(self, basis, X, y, dtype=dtype, memory_mb=memory_mb,
                               chunk_points=chunk_points)


class PointCurvature:
    """A model's forward pass at one point, kept so that curvature products there cost only the
    R-passes (made by :meth:`Model.curvature_at`).

    With ``L(theta) = (1/N) sum_i l(f(x_i; theta), y_i) + lambda R(theta)``, ``J = df/dtheta``
    the Jacobian of the scores and ``H_loss`` the Hessian of the mean loss in the scores:

    - :meth:`hvp`: ``H v`` by Pearlmutter's R-operator. The forward R-pass carries
      ``R{x} = d/dr x(theta + r v)`` up the layers to ``R{scores} = J v``; the loss gives
      ``R{dL/dscores} = H_loss J v``; the backward R-pass carries ``R{dL/dx}`` down and every
      layer writes ``R{dL/dp}``, its slice of ``H v``. It needs ``dL/dx`` at every layer, which
      is computed here once.
    - :meth:`ggn_vp`: ``G v = J^T H_loss J v`` (the plain backward pass of ``H_loss J v``),
      positive semidefinite for the convex losses. Since
      ``H = J^T H_loss J + sum_k (dL/ds_k) d^2 s_k / dtheta^2``, it drops the second
      derivatives of the scores ``s`` weighted by the loss gradient.

    Both add the penalty's Hessian (``2 lambda v`` on penalized tensors for L2, 0 for L1) and
    compute in theta's dtype. ``loss`` is the loss at the point.
    """

    def __init__(self, model: Model, theta, X, y, ctx):
        self.model = model
        self.theta = np.array(theta, copy=True)  # the caches belong to this point
        self.y = y
        layers = model.net.layers
        self.scores, self.caches = model._forward(self.theta, X, ctx)
        loss, dscores = model.loss_fn(self.scores, y)
        self.loss = loss + model._penalty(self.theta)
        # dL/d(out) of every layer; a layer's backward may overwrite its input, hence copies.
        # The first layer's own backward (a product with the data) is never needed.
        self.douts = [None] * len(layers)
        scratch = np.empty_like(self.theta)
        d = dscores
        for i in range(len(layers) - 1, 0, -1):
            self.douts[i] = d
            d = layers[i].backward(d.copy(), self.caches[i], model.layer_views(self.theta, i),
                                   model.layer_views(scratch, i), need_dx=True)
        self.douts[0] = d

    def _direction(self, v) -> np.ndarray:
        v = self.model.layout.check(v, what="v")
        return np.asarray(v, dtype=self.theta.dtype)

    def _rforward(self, v):
        """``(R{scores}, rcaches)``: the forward R-pass along ``v``; ``R{scores} = J v``."""
        model, rx, rcaches = self.model, None, []
        for i, layer in enumerate(model.net.layers):
            rx, rcache = layer.rforward(rx, self.caches[i], model.layer_views(self.theta, i),
                                        model.layer_views(v, i))
            rcaches.append(rcache)
        return (np.zeros_like(self.scores) if rx is None else rx), rcaches

    def hvp(self, v) -> np.ndarray:
        """``H v`` (exact; see the class docstring)."""
        model, theta = self.model, self.theta
        v = self._direction(v)
        rscores, rcaches = self._rforward(v)
        rd = model.loss_fn.hvp(self.scores, self.y, rscores)
        out = np.empty_like(theta)
        for i in range(len(model.net.layers) - 1, -1, -1):
            rd = model.net.layers[i].rbackward(
                self.douts[i], rd, self.caches[i], rcaches[i], model.layer_views(theta, i),
                model.layer_views(v, i), model.layer_views(out, i), need_dx=i > 0)
        model.regularizer.add_hvp(model.layout, v, out)
        return out

    def ggn_vp(self, v) -> np.ndarray:
        """``G v = J^T H_loss J v`` plus the penalty's Hessian (see the class docstring)."""
        model = self.model
        v = self._direction(v)
        rscores = self._rforward(v)[0]
        out = np.empty_like(self.theta)
        model._backward(self.theta, out, model.loss_fn.hvp(self.scores, self.y, rscores),
                        self.caches)
        model.regularizer.add_hvp(model.layout, v, out)
        return out


def mlp(
    sizes,
    activation: str = "relu",
    batchnorm: bool = False,
    dropout: float | None = None,
    loss: str = "softmax",
    reg: float = 0.0,
    regularizer: str = "l2",
    init: str | None = None,
    leaky_alpha: float = 0.01,
    maxout_k: int = 2,
    margin: float = 1.0,
    hinge: str = "weston-watkins",
    l1_ratio: float = 0.5,
) -> Model:
    """A multi-layer perceptron ``sizes = [D, H1, ..., C]``; ``[D, C]`` is a linear classifier.

    Each hidden block is ``Linear -> [BatchNorm] -> activation -> [Dropout(keep p)]``; the last
    layer is a plain Linear producing the scores. With ``activation="maxout"`` the Linear of a
    hidden block has ``k * H`` outputs and Maxout reduces them to ``H``. ``init`` defaults to He
    for ReLU-like units and Xavier for sigmoid/tanh.
    """
    config = dict(
        sizes=list(sizes) if not isinstance(sizes, str) else sizes, activation=activation,
        batchnorm=bool(batchnorm), dropout=dropout, loss=loss, reg=reg, regularizer=regularizer,
        init=init, leaky_alpha=leaky_alpha, maxout_k=maxout_k, margin=margin, hinge=hinge,
        l1_ratio=l1_ratio,
    )
    if isinstance(sizes, str) or len(sizes) < 2:
        raise InputError(f"sizes must list at least [n_features, n_classes], got {sizes!r}")
    sizes = [checks.positive_int(s, f"sizes[{i}]") for i, s in enumerate(sizes)]
    checks.choice(activation, ACTIVATIONS, "activation")
    if dropout is not None:
        dropout = checks.probability(dropout, "dropout keep-probability")
    if init is None:
        init = "xavier" if activation in ("sigmoid", "tanh") else "he"
    layers: list[Layer] = []
    for i in range(len(sizes) - 2):
        h = sizes[i + 1]
        width = h * maxout_k if activation == "maxout" else h
        layers.append(Linear(sizes[i], width, name=f"fc{i + 1}"))
        if batchnorm:
            layers.append(BatchNorm(width, name=f"bn{i + 1}"))
        if activation == "maxout":
            layers.append(Maxout(maxout_k, name=f"maxout{i + 1}"))
        elif activation == "leaky_relu":
            layers.append(LeakyReLU(leaky_alpha, name=f"leaky_relu{i + 1}"))
        else:
            layers.append(ACTIVATIONS[activation](name=f"{activation}{i + 1}"))
        if dropout is not None and dropout < 1.0:
            layers.append(Dropout(dropout, name=f"drop{i + 1}"))
    layers.append(Linear(sizes[-2], sizes[-1], name=f"fc{len(sizes) - 1}"))
    net = Sequential(layers, sizes[0])
    return Model(
        net,
        Loss(loss, margin=margin, hinge=hinge),
        Regularizer(regularizer, reg, l1_ratio=l1_ratio),
        init=init,
        config=config,
    )


def linear(n_features: int, n_classes: int, **kwargs) -> Model:
    """The linear classifier ``f = x W + b``: an MLP with no hidden layer."""
    return mlp([n_features, n_classes], **kwargs)
