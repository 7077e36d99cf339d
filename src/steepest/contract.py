"""The one contract every tool speaks: an objective over a flat parameter vector.

An **objective** is anything that offers::

    layout                                   # a steepest.Layout: named tensors of theta
    init_params(seed=0) -> theta             # a fresh 1-D float parameter vector
    loss_and_grad(theta, X, y, *, train=True, rng=None) -> (loss, grad)

``loss`` is the mean loss over the rows of ``X`` plus any penalty; ``grad`` has theta's shape.
``train`` selects the training behaviour of the model (batch statistics, dropout) and ``rng``
is the :class:`numpy.random.Generator` that draws its randomness. With ``train=True`` an
objective may update its non-trainable ``buffers`` (BatchNorm running statistics).

Optional capabilities, discovered by name and never assumed (a tool that finds none runs its
generic algorithm and gets the same numbers, slower):

============================  =====================================================================
``loss(theta, X, y, *, train, rng)``      the loss alone (no gradient)
``evaluate(theta, X, y)``                 ``(loss, accuracy)`` in evaluation mode, one pass
``scores(theta, X)``                      outputs in evaluation mode, shape (N, classes)
``hvp(theta, v, X, y, *, train, rng)``    an exact Hessian-vector product
``ggn_vp(theta, v, X, y, *, train, rng)`` the generalized Gauss-Newton product J^T H_loss J v
``curvature_at(theta, X, y, ...)``        the passes at theta kept for many products
``buffers``                               non-trainable state (1-D array), saved with checkpoints
``activations(theta, X)``                 ``[(layer name, kind, output)]`` for the monitors
``check_data(X, y)``                      validated ``(X, y)``, raising a clear error otherwise
``fast_options``                          keywords ``loss_and_grad`` also takes: ``out`` (write
                                          the gradient into this array) and ``validate`` (False:
                                          the caller validated X and y once already)
``record`` / ``directional``              resumable passes: perturb one tensor and resume the
                                          forward pass at its layer (gradient checks)
``coordinate_losses(record, ...)``        many coordinates of one tensor probed at once
``loss_and_kinks(theta, X, y, ...)``      the loss and the discrete state of every kink
``points_evaluator(basis, X, y, ...)``    many points ``C @ basis`` evaluated at once (surfaces)
============================  =====================================================================

steepest's MLP (:class:`steepest.nn.Model`) is one implementation; :func:`objective` turns a
plain ``f(theta) -> (loss, grad)`` into another. :func:`bind` fixes an objective's data, mode
and random seed, giving the function of theta alone (:class:`Bound`) that gradient checks,
L-BFGS, sweeps, random search and curvature work on.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from typing import Protocol, runtime_checkable

import numpy as np

from .errors import InputError
from .params import Layout, check_theta  # noqa: F401  (the one theta check, re-exported)

REQUIRED = ("layout", "init_params", "loss_and_grad")


@runtime_checkable
class Objective(Protocol):
    """The contract (see the module docstring): what every steepest tool needs of a model."""

    layout: Layout

    def init_params(self, seed: int = 0) -> np.ndarray: ...

    def loss_and_grad(self, theta: np.ndarray, X, y, *, train: bool = True,
                      rng: np.random.Generator | None = None) -> tuple[float, np.ndarray]: ...


def missing_members(thing) -> list[str]:
    """The members of the contract that ``thing`` lacks (empty for a full objective)."""
    return [name for name in REQUIRED if not hasattr(thing, name)]


def require_objective(thing, tool: str = "this tool"):
    """``thing`` if it meets the contract; otherwise a clear error naming what is missing."""
    missing = missing_members(thing)
    if missing:
        raise InputError(
            f"{tool} needs an objective (see steepest.contract), but {type(thing).__name__} has "
            f"no {', '.join(missing)}; wrap a function theta -> (loss, grad) with "
            f"steepest.objective(f, theta0)"
        )
    return thing


def fast_kwargs(obj, **options) -> dict:
    """The subset of ``options`` (``out``, ``validate``) that ``obj.loss_and_grad`` accepts."""
    offered = getattr(obj, "fast_options", ())
    return {k: v for k, v in options.items() if k in offered}


@contextmanager
def preserved_buffers(obj):
    """Restore ``obj.buffers`` (BatchNorm statistics) on exit, whatever the calls did."""
    buffers = getattr(obj, "buffers", None)
    saved = None if buffers is None or np.size(buffers) == 0 else np.array(buffers, copy=True)
    try:
        yield
    finally:
        if saved is not None:
            obj.buffers[...] = saved


def call_pair(f: Callable, theta) -> tuple[float, np.ndarray]:
    """``f(theta)``, checked to be a pair ``(loss, grad)`` with the gradient shaped like theta."""
    out = f(theta)
    try:
        loss, grad = out
    except (TypeError, ValueError):
        raise InputError(f"the objective must return a pair (loss, grad), got "
                         f"{type(out).__name__}") from None
    grad = np.asarray(grad)
    if grad.shape != np.shape(theta):
        raise InputError(f"the objective returned a gradient of shape {grad.shape}, theta has "
                         f"shape {np.shape(theta)}")
    return float(loss), grad


def checked_data(obj, X, y, what: str = "X and y"):
    """``(X, y)`` validated by the objective's ``check_data`` when it has one (as arrays
    otherwise); errors are prefixed with ``what``."""
    check = getattr(obj, "check_data", None)
    if check is None:
        X, y = np.asarray(X), (None if y is None else np.asarray(y))
        if y is not None and len(y) != len(X):
            raise InputError(f"{what}: {len(y)} labels for {len(X)} rows")
        return X, y
    try:
        return check(X, y)
    except InputError as e:
        raise InputError(f"{what}: {e}") from None


def evaluate(obj, theta, X, y) -> tuple[float, float]:
    """``(loss, accuracy)`` of an objective in evaluation mode; the loss includes the penalty.

    Uses the objective's ``evaluate`` when it has one; otherwise the loss of ``loss`` (or
    ``loss_and_grad``) with ``train=False`` and the accuracy from ``scores`` (NaN without it).
    """
    method = getattr(obj, "evaluate", None)
    if method is not None:
        return method(theta, X, y)
    if hasattr(obj, "loss"):
        loss = obj.loss(theta, X, y, train=False, rng=None)
    else:
        loss = obj.loss_and_grad(theta, X, y, train=False, rng=None)[0]
    acc = float("nan")
    if hasattr(obj, "scores"):
        acc = float(np.mean(np.argmax(obj.scores(theta, X), axis=1) == np.asarray(y)))
    return float(loss), acc


class FunctionObjective:
    """A plain ``f(theta) -> (loss, grad)`` as an objective (see :func:`objective`).

    It needs no data: ``X``, ``y``, ``train`` and ``rng`` are accepted and ignored.
    """

    needs_data = False

    def __init__(self, f: Callable, theta0, hvp: Callable | None = None,
                 layout: Layout | None = None):
        if not callable(f):
            raise InputError(f"f must be a callable theta -> (loss, grad), got {type(f).__name__}")
        theta0 = check_theta(theta0, what="theta0")
        if layout is None:
            layout = Layout([("theta", (theta0.size,), "weight")])
        elif not isinstance(layout, Layout):
            raise InputError(f"layout must be a steepest.Layout, got {type(layout).__name__}")
        check_theta(theta0, size=layout.size, what="theta0")
        if hvp is not None and not callable(hvp):
            raise InputError(f"hvp must be a callable (theta, v) -> H v, got {type(hvp).__name__}")
        self.f = f
        self.theta0 = np.array(theta0, copy=True)
        self.layout = layout
        self._hvp = hvp

    def init_params(self, seed: int = 0, dtype=None) -> np.ndarray:
        """A copy of ``theta0`` (the seed is irrelevant: the start is given)."""
        return self.theta0.astype(dtype or self.theta0.dtype, copy=True)

    def loss_and_grad(self, theta, X=None, y=None, *, train: bool = True, rng=None):
        return call_pair(self.f, theta)

    def loss(self, theta, X=None, y=None, *, train: bool = False, rng=None) -> float:
        return self.loss_and_grad(theta)[0]

    @property
    def hvp(self):
        if self._hvp is None:
            return None
        return lambda theta, v, X=None, y=None, **_: np.asarray(self._hvp(theta, v))


def objective(f: Callable, theta0, hvp: Callable | None = None,
              layout: Layout | None = None) -> FunctionObjective:
    """A plain ``f(theta) -> (loss, grad)`` (NumPy, JAX or anything) as a steepest objective.

    ``theta0`` is the starting point (and fixes the size); ``hvp(theta, v) -> H v`` an optional
    exact Hessian-vector product; ``layout`` optional names for the pieces of theta (one tensor
    ``"theta"`` by default).
    """
    return FunctionObjective(f, theta0, hvp=hvp, layout=layout)


class Bound:
    """An objective with its data, mode and random seed fixed: a deterministic function of theta.

    Every call draws the objective's randomness (dropout masks) from a fresh
    ``default_rng(seed)``, so nearby points see the same masks, as finite differences need;
    the objective's buffers (BatchNorm running statistics) are left as they were.
    """

    def __init__(self, obj, X=None, y=None, *, train: bool = False, seed: int = 0):
        self.objective = obj
        self.train = bool(train)
        self.seed = int(seed)
        if getattr(obj, "needs_data", True):
            if X is None or y is None:
                raise InputError(f"{type(obj).__name__} needs data: pass X and y to bind it")
            X, y = checked_data(obj, X, y)
        self.X, self.y = X, y

    @property
    def layout(self) -> Layout:
        return self.objective.layout

    def _rng(self):
        return np.random.default_rng(self.seed)

    def _data(self, theta):
        X = self.X
        if isinstance(X, np.ndarray) and X.dtype.kind == "f" and X.dtype != theta.dtype:
            X = X.astype(theta.dtype)
        return X, self.y

    def loss_and_grad(self, theta) -> tuple[float, np.ndarray]:
        X, y = self._data(theta)
        with preserved_buffers(self.objective):
            loss, grad = self.objective.loss_and_grad(theta, X, y, train=self.train,
                                                      rng=self._rng())
        return float(loss), grad

    __call__ = loss_and_grad

    def loss(self, theta) -> float:
        X, y = self._data(theta)
        method = getattr(self.objective, "loss", None)
        with preserved_buffers(self.objective):
            if method is None:
                return float(self.objective.loss_and_grad(theta, X, y, train=self.train,
                                                          rng=self._rng())[0])
            return float(method(theta, X, y, train=self.train, rng=self._rng()))

    @property
    def has_hvp(self) -> bool:
        return getattr(self.objective, "hvp", None) is not None

    def hvp(self, theta, v) -> np.ndarray:
        """The objective's exact Hessian-vector product at ``theta`` (see :attr:`has_hvp`)."""
        if not self.has_hvp:
            raise InputError(f"{type(self.objective).__name__} offers no exact Hessian-vector "
                             f"product")
        X, y = self._data(theta)
        with preserved_buffers(self.objective):
            return self.objective.hvp(theta, v, X, y, train=self.train, rng=self._rng())

    @property
    def has_ggn(self) -> bool:
        return getattr(self.objective, "ggn_vp", None) is not None

    def ggn(self, theta, v) -> np.ndarray:
        """The generalized Gauss-Newton product ``J^T H_loss J v`` at ``theta`` (see
        :attr:`has_ggn`)."""
        if not self.has_ggn:
            raise InputError(f"{type(self.objective).__name__} offers no Gauss-Newton product")
        X, y = self._data(theta)
        with preserved_buffers(self.objective):
            return self.objective.ggn_vp(theta, v, X, y, train=self.train, rng=self._rng())

    @property
    def has_point_curvature(self) -> bool:
        return hasattr(self.objective, "curvature_at")

    def curvature_at(self, theta, dtype=None):
        """The objective's passes at ``theta`` kept for many curvature products (its
        ``curvature_at``: an object with ``hvp(v)``, ``ggn_vp(v)`` and ``loss``)."""
        X, y = self._data(np.asarray(theta, dtype=dtype) if dtype is not None else theta)
        with preserved_buffers(self.objective):
            return self.objective.curvature_at(theta, X, y, train=self.train, rng=self._rng())

    # ------------------------------------------------------------ optional fast paths
    @property
    def has_kinks(self) -> bool:
        return hasattr(self.objective, "loss_and_kinks")

    def loss_and_kinks(self, theta):
        X, y = self._data(theta)
        with preserved_buffers(self.objective):
            return self.objective.loss_and_kinks(theta, X, y, train=self.train, rng=self._rng())

    @property
    def resumable(self) -> bool:
        return hasattr(self.objective, "record") and hasattr(self.objective, "directional")

    def record(self, theta):
        """The objective's recorded base pass at theta (for :meth:`directional`)."""
        X, y = self._data(theta)
        with preserved_buffers(self.objective):
            return self.objective.record(theta, X, y, train=self.train, rng=self._rng())

    @property
    def has_coordinate_probes(self) -> bool:
        return self.resumable and hasattr(self.objective, "coordinate_losses")

    def coordinate_losses(self, record, theta, name: str, coords, step: float):
        """The objective's losses at ``theta +- step e_i`` for many coordinates ``i`` of one
        tensor (``(plus, minus, crossed)`` arrays), or None where it cannot batch them."""
        with preserved_buffers(self.objective):
            return self.objective.coordinate_losses(record, theta, name, coords, step, self.y,
                                                    train=self.train, rng=self._rng())

    def directional(self, record, theta, name: str, delta, step: float, factors=None):
        """``(L(theta + step delta), L(theta - step delta), crossed_a_kink)``; ``delta`` moves
        only tensor ``name`` (see the objective's ``directional``)."""
        with preserved_buffers(self.objective):
            return self.objective.directional(record, theta, name, delta, step, self.y,
                                              train=self.train, rng=self._rng(),
                                              factors=factors)


class _Callable:
    """A bare ``f(theta) -> (loss, grad)`` seen as a :class:`Bound` (no layout of its own)."""

    layout = None
    has_hvp = has_ggn = has_kinks = resumable = has_coordinate_probes = False

    def __init__(self, f):
        self.objective = f

    def loss_and_grad(self, theta):
        return call_pair(self.objective, theta)

    __call__ = loss_and_grad

    def loss(self, theta) -> float:
        return self.loss_and_grad(theta)[0]


def bind(thing, X=None, y=None, *, train: bool = False, seed: int = 0):
    """What the tools work on: ``thing`` as a function of theta alone (:class:`Bound`).

    ``thing`` is an objective (with data ``X``, ``y`` unless it needs none), an existing
    :class:`Bound`, or a callable ``theta -> (loss, grad)``.
    """
    if isinstance(thing, Bound | _Callable):
        if X is not None:
            raise InputError("this objective is already bound to its data; pass X and y once")
        return thing
    if not missing_members(thing):
        return Bound(thing, X, y, train=train, seed=seed)
    method = getattr(thing, "loss_and_grad", None)
    if callable(method):  # an object offering only loss_and_grad(theta)
        return _Callable(method)
    if callable(thing):
        return _Callable(thing)
    raise InputError(
        f"expected an objective (layout, init_params, loss_and_grad(theta, X, y, *, train, "
        f"rng)) or a callable theta -> (loss, grad), got {type(thing).__name__} "
        f"(missing: {', '.join(missing_members(thing))})"
    )
