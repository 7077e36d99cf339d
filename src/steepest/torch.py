"""PyTorch modules as steepest objectives: one ``nn.Module``, one flat parameter vector.

::

    import steepest.torch as st
    obj = st.objective(st.load_factory("examples/lenet.py:make"), input_shape=(1, 28, 28))
    theta = obj.init_params(seed=0)                   # float32, laid out by obj.layout
    loss, grad = obj.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))

**The objective.** For a module ``f(x; w)`` with named parameter tensors ``w_1 ... w_m`` the
flat vector is ``theta = [vec(w_1); ...; vec(w_m)]`` in ``named_parameters()`` order, and

    L(theta) = (1/N) sum_i  l(f(x_i; theta), y_i)

with ``l`` the cross-entropy ``l(z, y) = -z_y + log sum_j exp(z_j)``, the mean squared error
``(1/C) ||z - t||^2`` against the one-hot ``t = e_y`` (or a given target row; this is PyTorch's
``nn.MSELoss()``, steepest's ``l2`` loss divided by the number of outputs ``C``), or any
``loss(outputs, y) -> scalar tensor``. There is no penalty term (weight decay belongs to the
optimizer). ``grad = dL/dtheta`` comes from reverse mode: ``theta`` becomes one leaf tensor,
every parameter is a view of it, the module is evaluated with
``torch.func.functional_call`` (the module you pass is deep-copied once and never mutated) and
``torch.autograd.grad`` returns the flat gradient directly. Everything runs in ``theta``'s dtype
(float32 or float64; the inputs are converted), so a model trained in float32 is checked in
float64.

**Layout.** Each tensor gets a role: ``norm`` for the parameters of normalization layers
(BatchNorm*, InstanceNorm*, LayerNorm, GroupNorm, RMSNorm, any class named ``...Norm[123]d``),
``weight`` for the other tensors of two or more dimensions, ``bias`` for the rest; and
``unit_axis=0``: PyTorch stores ``(out, in, ...)``, so filter normalization
(:func:`steepest.landscape.normalize_direction`) rescales per output channel of a Conv and per
row of a Linear weight.

**Buffers** (BatchNorm running statistics) live outside theta in ``buffers``, a flat float64
array laid out by ``buffer_layout`` (integer buffers such as ``num_batches_tracked`` are stored
as floats and converted back). ``loss_and_grad`` with ``train=True`` updates them exactly as
PyTorch does: in theta's dtype, ``r <- (1 - m) r + m s`` with the batch statistic ``s``;
``loss``, ``hvp``, ``ggn_vp``, ``activations`` and evaluation never do. Tools save and restore
them in place (``obj.buffers[...] = saved``).

**Randomness.** With ``train=True`` a seed is drawn from the ``rng`` passed in
(``rng.integers(2**63)``; a fixed 0 when ``rng`` is None) and the pass runs under
``torch.random.fork_rng`` with PyTorch's CPU generator seeded by it: dropout masks depend only
on ``rng``, so a step is reproducible, a resumed run continues bit-identically and torch's
global generator is left exactly as it was. Evaluation mode draws nothing.

**Threads.** PyTorch's intra-op pool does the work: ``torch.get_num_threads()`` threads (one
per core by default). Change it with ``torch.set_num_threads(n)`` (process-wide, the caller's
choice) or ``OMP_NUM_THREADS`` before Python starts. Computation is on the CPU.

**Curvature.** ``hvp`` is the exact Hessian-vector product by double backward,
``H v = d/dtheta <dL/dtheta, v>``, measured faster than forward-over-reverse ``jvp(grad)`` and
reverse-over-reverse ``vjp(grad)`` (the LeNet on 1,000 images in float64, two shared cores:
0.97 s against 1.09 s and 1.04 s per product). The graph of the first derivative is kept
between calls at the same point, data, mode, seed and buffers (one entry, compared by value),
so repeated products cost one backward pass each (0.62 s there), as in PyHessian;
:meth:`release` drops it (it holds about as much memory as one product needs). ``ggn_vp``
is the generalized Gauss-Newton product ``J^T H_l J v`` with ``J`` the Jacobian of the
outputs and ``H_l`` the Hessian of the loss in the outputs (positive semi-definite for the
convex losses).
"""

from __future__ import annotations

import copy
import hashlib
import importlib.util
import json
import math
import re
import sys
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import _validate as checks
from .errors import InputError
from .params import Layout, check_theta


class TorchUnavailable(InputError, ImportError):
    """PyTorch is not installed (also an ImportError, so ``pytest.importorskip`` skips)."""


try:
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.func import functional_call
except ImportError as e:  # pragma: no cover - exercised in a subprocess by the tests
    raise TorchUnavailable(
        f"steepest.torch needs PyTorch, which cannot be imported ({e}); install it with "
        f"pip install 'steepest[torch]' (or see https://pytorch.org for other builds)"
    ) from e

__all__ = ["LOSSES", "PointsEvaluator", "TorchObjective", "TorchUnavailable",
           "describe_factory", "load_described", "load_factory", "objective"]

LOSSES = ("cross_entropy", "mse")
_DTYPES = {np.dtype(np.float32): torch.float32, np.dtype(np.float64): torch.float64}
_NORM_TYPES = tuple(t for t in (nn.modules.batchnorm._NormBase, nn.LayerNorm, nn.GroupNorm,
                                getattr(nn, "RMSNorm", None)) if t is not None)
_NORM_NAME = re.compile(r"Norm([123]d)?$")
_ACTIVATIONS = {nn.ReLU: "relu", nn.LeakyReLU: "leaky_relu", nn.Tanh: "tanh",
                nn.Sigmoid: "sigmoid", nn.ReLU6: "relu6", nn.ELU: "elu", nn.GELU: "gelu",
                nn.SiLU: "silu", nn.Softplus: "softplus", nn.PReLU: "prelu"}
_POOLS = {nn.MaxPool1d: F.max_pool1d, nn.MaxPool2d: F.max_pool2d, nn.MaxPool3d: F.max_pool3d}
_BLOCK_BYTES = 16 * 2**20  # activations per row block: cache-sized blocks measured fastest


def _role(module: nn.Module, tensor: torch.Tensor) -> str:
    if isinstance(module, _NORM_TYPES) or _NORM_NAME.search(type(module).__name__):
        return "norm"
    return "weight" if tensor.dim() >= 2 else "bias"


def _numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def _tensor(a: np.ndarray) -> torch.Tensor:
    """A tensor sharing ``a``'s memory when it can (contiguous, writeable), else a copy."""
    if not (a.flags.c_contiguous and a.flags.writeable and a.dtype.isnative):
        a = np.array(a, order="C", copy=True)
    return torch.from_numpy(a)


@contextmanager
def _seeded(seed: int):
    """Run with PyTorch's CPU generator seeded by ``seed``, restoring its state on exit."""
    with torch.random.fork_rng(devices=[]):
        torch.random.default_generator.manual_seed(int(seed))
        yield


class _GraphCache:
    """The first-derivative graph of one point, for repeated Hessian-vector products."""

    def __init__(self, key, t, g):
        self.key, self.t, self.g = key, t, g

    def matches(self, key) -> bool:
        return all(_same(a, b) for a, b in zip(self.key, key))


def _same(a, b) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        return (isinstance(a, np.ndarray) and isinstance(b, np.ndarray) and a.shape == b.shape
                and a.dtype == b.dtype and np.array_equal(a, b))
    return a == b


class TorchObjective:
    """A PyTorch module as a steepest objective (see the module docstring for the math).

    ``module``: an ``nn.Module`` whose ``forward(x)`` returns the outputs ``(N, C)``; it is
    deep-copied (moved to the CPU) and never mutated. ``loss``: ``"cross_entropy"``, ``"mse"``
    or a callable ``loss(outputs, y) -> scalar tensor`` (the mean over the rows; ``y`` arrives
    as a tensor: int64 labels, or floats in theta's dtype). ``input_shape``: the shape of one
    example, e.g. ``(1, 28, 28)``, to which flat feature rows are reshaped (default: the
    module's own ``input_shape`` attribute when it has one, else rows are passed as they are).
    ``dtype``: the dtype of :meth:`init_params` (default: the module's parameter dtype).
    """

    fast_options = frozenset({"out", "validate"})

    def __init__(self, module, loss="cross_entropy", *, input_shape=None, dtype=None):
        if not isinstance(module, nn.Module):
            raise InputError(f"module must be a torch.nn.Module, got {type(module).__name__}")
        if isinstance(loss, str):
            checks.choice(loss, LOSSES, "loss")
        elif not callable(loss):
            raise InputError(f"loss must be one of {', '.join(LOSSES)} or a callable "
                             f"(outputs, y) -> scalar tensor, got {type(loss).__name__}")
        self.loss_name = loss if isinstance(loss, str) else getattr(loss, "__name__", "custom")
        self._loss = loss
        self._template = copy.deepcopy(module).cpu()
        self._module = copy.deepcopy(self._template)
        self._names, self._sizes, self._shapes, entries = self._describe_parameters()
        self.layout = Layout(entries)
        self.input_shape = self._input_shape(
            getattr(module, "input_shape", None) if input_shape is None else input_shape)
        self.dtype = self._init_dtype(dtype)
        self._buffer_specs = [(n, tuple(b.shape), b.dtype)
                              for n, b in self._template.named_buffers()]
        self.buffer_layout = Layout([(n, s, "norm") for n, s, _ in self._buffer_specs])
        self.buffers = np.zeros(self.buffer_layout.size)
        self.buffers[...] = self._flat_buffers(self._template)
        self._outputs: dict[tuple, tuple] = {}  # output shape of one row, by input row shape
        self._row_numel: dict[tuple, int] = {}  # activation numbers per row, by row shape
        self._graph: _GraphCache | None = None
        self._training: bool | None = None

    # ------------------------------------------------------------ description
    def _describe_parameters(self):
        owners = {id(p): mod for mod in self._template.modules()
                  for p in mod.parameters(recurse=False)}
        names, sizes, shapes, entries = [], [], [], []
        for name, p in self._template.named_parameters():
            if isinstance(p, nn.parameter.UninitializedParameter):
                raise InputError(f"parameter {name!r} is not initialized yet (a lazy module): "
                                 f"run one forward pass before wrapping the module")
            if not p.is_floating_point() or p.is_complex():
                raise InputError(f"parameter {name!r} has dtype {p.dtype}; only real floating "
                                 f"parameters can be laid out in theta")
            if p.numel() == 0:
                raise InputError(f"parameter {name!r} has shape {tuple(p.shape)} (no entries)")
            mod = owners.get(id(p), self._template)
            names.append(name)
            sizes.append(p.numel())
            shapes.append(tuple(p.shape))
            entries.append((name, tuple(p.shape), _role(mod, p), 0))
        if not names:
            raise InputError(f"the module {type(self._template).__name__} has no parameters: "
                             f"there is nothing to train or to slice")
        return names, sizes, shapes, entries

    @staticmethod
    def _input_shape(shape):
        if shape is None:
            return None
        if isinstance(shape, int | np.integer):
            shape = (shape,)
        try:
            shape = tuple(shape)
        except TypeError:
            raise InputError(f"input_shape must be a tuple of positive integers such as "
                             f"(1, 28, 28), got {shape!r}") from None
        return tuple(checks.positive_int(s, f"input_shape[{i}]") for i, s in enumerate(shape))

    def _init_dtype(self, dtype) -> np.dtype:
        if dtype is None:
            return self._dtype_of(next(self._template.parameters()).detach().numpy().dtype)
        return self._dtype_of(dtype)

    @property
    def n_params(self) -> int:
        return self.layout.size

    @property
    def n_features(self) -> int | None:
        """Features per row when ``input_shape`` fixes them (None otherwise)."""
        return None if self.input_shape is None else math.prod(self.input_shape)

    def __repr__(self) -> str:
        return (f"TorchObjective({type(self._template).__name__}, loss={self.loss_name!r}, "
                f"params={self.layout.size}, input_shape={self.input_shape})")

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_graph"] = None  # autograd graphs do not pickle (worker processes, Dask)
        return state

    def release(self) -> None:
        """Drop the kept first-derivative graph of :meth:`hvp` (frees its memory)."""
        self._graph = None

    # ------------------------------------------------------------ parameters
    def _flat_buffers(self, module) -> np.ndarray:
        out = np.empty(self.buffer_layout.size)
        bufs = dict(module.named_buffers())
        for spec in self.buffer_layout:
            out[spec.slice] = _numpy(bufs[spec.name]).reshape(-1).astype(np.float64)
        return out

    def theta_of(self, module=None, dtype=None) -> np.ndarray:
        """The flat theta of ``module``'s current parameters (default: the module as it was
        given), in ``dtype`` (default :attr:`dtype`); names and shapes must match the layout."""
        module = self._template if module is None else module
        if not isinstance(module, nn.Module):
            raise InputError(f"expected a torch.nn.Module, got {type(module).__name__}")
        tensors = {n: _numpy(p) for n, p in module.named_parameters()}
        return self.layout.flatten(tensors, dtype=self._dtype_of(dtype or self.dtype))

    def buffers_of(self, module=None) -> np.ndarray:
        """The flat buffers of ``module`` (default: the module as it was given), float64."""
        return self._flat_buffers(self._template if module is None else module)

    def init_params(self, seed: int = 0, dtype=None) -> np.ndarray:
        """A fresh theta: a copy of the module re-initialized by every submodule's
        ``reset_parameters()`` under PyTorch's CPU generator seeded with ``seed`` (so the
        PyTorch default initializations, reproducibly); also resets :attr:`buffers`.
        Parameters of modules without ``reset_parameters`` keep the values they were given.
        """
        if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
            raise InputError(f"seed must be a non-negative integer, got {seed!r}")
        fresh = copy.deepcopy(self._template)
        with _seeded(seed), torch.no_grad():
            for mod in fresh.modules():
                reset = getattr(mod, "reset_parameters", None)
                if callable(reset):
                    reset()
        self.buffers[...] = self._flat_buffers(fresh)
        self.release()
        return self.theta_of(fresh, dtype)

    def state_dict(self, theta) -> dict:
        """``{name: tensor}`` of the parameters in ``theta`` and the current :attr:`buffers`
        (floats in theta's dtype, integers as they were): ``module.load_state_dict(
        obj.state_dict(theta))`` puts a steepest result back into a PyTorch module."""
        theta = self._theta(theta)
        out = {n: torch.tensor(v) for n, v in self.layout.views(theta).items()}
        out.update(self._buffer_tensors(torch.float64 if theta.dtype == np.float64
                                         else torch.float32))
        return out

    # ------------------------------------------------------------ boundary checks
    @staticmethod
    def _dtype_of(dtype) -> np.dtype:
        try:
            dt = np.dtype(dtype)
        except TypeError:
            dt = None
        if dt not in _DTYPES:
            raise InputError(f"dtype must be float32 or float64, got {dtype!r}")
        return dt

    def _theta(self, theta, what: str = "theta") -> np.ndarray:
        theta = check_theta(theta, size=self.layout.size, what=what)
        if theta.dtype not in _DTYPES:
            raise InputError(f"{what} must be float32 or float64, got dtype {theta.dtype}")
        return theta

    def _rows(self, X) -> np.ndarray:
        """``X`` checked: one row per example, flat or already shaped like ``input_shape``."""
        X = np.asarray(X)
        if X.ndim == 2:
            return checks.features(X, n_features=self.n_features)
        if X.ndim < 2 or X.shape[0] == 0:
            raise InputError(f"X must hold one example per row (2-D, or (N, *input_shape)), "
                             f"got shape {X.shape}")
        if self.input_shape is not None and X.shape[1:] != self.input_shape:
            raise InputError(f"X has examples of shape {X.shape[1:]}, the model expects "
                             f"{self.input_shape} (or flat rows of {self.n_features})")
        checks.features(X.reshape(X.shape[0], -1))
        return X

    def check_data(self, X, y=None):
        """``(X, y)`` validated for this module: finite numeric rows of the right width (or
        shape), outputs that fit the loss, and labels in ``[0, C)`` for ``C`` outputs (for
        ``mse`` also float targets shaped like the outputs). ``y`` may be None. The module
        runs once on two rows to learn its output shape (then remembered)."""
        X = self._rows(X)
        out_shape = self._output_shape(X)
        if y is None:
            return X, None
        y = np.asarray(y)
        n = X.shape[0]
        if y.ndim == 0 or y.shape[0] != n:
            raise InputError(f"y has shape {y.shape}: one label (or target row) per example "
                             f"is needed, and X has {n} rows")
        if callable(self._loss):
            if y.dtype.kind not in "biuf" or (y.dtype.kind == "f" and not np.isfinite(y).all()):
                raise InputError(f"y must hold finite numbers, got dtype {y.dtype}")
            return X, y
        if len(out_shape) != 1:
            shape = ", ".join(map(str, ("N", *out_shape)))
            raise InputError(f"the module gives outputs of shape ({shape}); the {self._loss} "
                             f"loss needs (N, classes)")
        c = out_shape[0]
        if self._loss == "mse" and y.ndim == 2:
            if y.shape != (n, c):
                raise InputError(f"targets have shape {y.shape}, the module's outputs {(n, c)}")
            return X, checks.features(y, "y")
        if y.ndim != 1:
            raise InputError(f"y must be 1-D class labels, got shape {y.shape} (the module "
                             f"gives {c} outputs per row)")
        try:
            return X, checks.labels(y, n, c)
        except InputError as e:
            raise InputError(f"{e} (the module gives {c} outputs per row)") from None

    def _output_shape(self, X) -> tuple:
        key = X.shape[1:]
        if key not in self._outputs:
            dtype = next(self._module.parameters()).detach().numpy().dtype
            x = self._batch(X[:2], dtype)
            try:
                with torch.no_grad(), _seeded(0):
                    out = self._run_own(x)
            except Exception as e:  # the module's own error, named with the input shape
                raise InputError(f"the module cannot take inputs of shape {tuple(x.shape)} "
                                 f"(from X of shape {X.shape}): {type(e).__name__}: {e}"
                                 ) from None
            if not isinstance(out, torch.Tensor) or out.dim() == 0 \
                    or out.shape[0] != x.shape[0]:
                what = type(out).__name__ if not isinstance(out, torch.Tensor) else \
                    f"a tensor of shape {tuple(out.shape)}"
                raise InputError(f"the module's forward returned {what} for {x.shape[0]} "
                                 f"examples; it must return one output row per example")
            self._outputs[key] = tuple(out.shape[1:])
        return self._outputs[key]

    def _run_own(self, x):
        """The private copy with its own parameters, in evaluation mode."""
        self._set_mode(False)
        return self._module(x)

    # ------------------------------------------------------------ tensors
    def _batch(self, X, dtype) -> torch.Tensor:
        t = _tensor(np.asarray(X).astype(dtype, copy=False))
        if self.input_shape is not None and t.dim() == 2:
            t = t.reshape(t.shape[0], *self.input_shape)
        return t

    @staticmethod
    def _target(y, dtype) -> torch.Tensor | None:
        if y is None:
            return None
        y = np.asarray(y)
        return _tensor(y.astype(np.int64 if y.dtype.kind in "biu" else dtype, copy=False))

    def _prepare(self, theta, X, y, validate=True):
        theta = self._theta(theta)
        if validate:
            X, y = self.check_data(X, y)
        return theta, self._batch(X, theta.dtype), self._target(y, theta.dtype)

    def _views(self, t: torch.Tensor) -> dict:
        """Every parameter as a view of the flat tensor ``t`` (or of its rows when 2-D)."""
        lead = t.shape[:-1]
        return {n: c.view(*lead, *s) for n, c, s in
                zip(self._names, torch.split(t, self._sizes, dim=-1), self._shapes)}

    def _buffer_tensors(self, dtype) -> dict:
        """Fresh tensors of :attr:`buffers` (floats in ``dtype``, the rest in their own)."""
        out = {}
        for (name, shape, bdtype), spec in zip(self._buffer_specs, self.buffer_layout):
            values = torch.from_numpy(self.buffers[spec.slice].copy())
            out[name] = values.to(dtype if bdtype.is_floating_point else bdtype).reshape(shape)
        return out

    def _store_buffers(self, bufs: dict) -> None:
        for spec in self.buffer_layout:
            self.buffers[spec.slice] = _numpy(bufs[spec.name]).reshape(-1)

    def _set_mode(self, train: bool) -> None:
        if self._training is not train:
            self._module.train(train)
            self._training = train

    @staticmethod
    def _seed(train: bool, rng) -> int:
        if rng is not None and not isinstance(rng, np.random.Generator):
            raise InputError(f"rng must be a numpy Generator or None, got {type(rng).__name__}")
        return int(rng.integers(0, 2**63 - 1)) if train and rng is not None else 0

    def _forward(self, params: dict, bufs: dict, x, train: bool):
        self._set_mode(bool(train))
        return functional_call(self._module, (params, bufs), (x,))

    def _loss_of(self, out, target, reduction: str = "mean"):
        """The loss of outputs ``out``: the mean over rows, or their sum (``"sum"``)."""
        if not isinstance(out, torch.Tensor):
            raise InputError(f"the module's forward returned {type(out).__name__}; it must "
                             f"return the outputs as one tensor")
        if self._loss == "cross_entropy":
            return F.cross_entropy(out, target, reduction=reduction)
        if self._loss == "mse":
            if target.dim() == 1:
                target = F.one_hot(target, out.shape[1]).to(out.dtype)
            if reduction == "sum":
                return F.mse_loss(out, target, reduction="sum") / out.shape[1]
            return F.mse_loss(out, target)
        value = self._loss(out, target)
        if not isinstance(value, torch.Tensor) or value.numel() != 1:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise InputError(f"the loss function must return a scalar tensor, got {shape}")
        value = value.reshape(())
        return value * out.shape[0] if reduction == "sum" else value

    # ------------------------------------------------------------ the contract
    def loss_and_grad(self, theta, X, y, *, train: bool = True, rng=None, out=None,
                      validate: bool = True):
        """``(L(theta), dL/dtheta)`` on the batch ``(X, y)``.

        ``train=True``: training behaviour (batch statistics, dropout from ``rng``) and the
        running statistics in :attr:`buffers` are updated. ``out``: an array to write the
        gradient into; ``validate=False`` skips :meth:`check_data` (the caller did it once).
        """
        theta, x, target = self._prepare(theta, X, y, validate)
        t = _tensor(theta).detach().requires_grad_()
        bufs = self._buffer_tensors(t.dtype)
        with _seeded(self._seed(train, rng)):
            loss = self._loss_of(self._forward(self._views(t), bufs, x, train), target)
        (g,) = torch.autograd.grad(loss, t)
        if train:
            self._store_buffers(bufs)
        grad = g.numpy()
        if out is not None:
            out[...] = grad
            grad = out
        return float(loss.detach()), grad

    def loss(self, theta, X, y, *, train: bool = False, rng=None) -> float:
        """``L(theta)`` without the gradient; :attr:`buffers` are never updated."""
        if not train:
            return self._evaluate(theta, X, y, accuracy=False)[0]
        theta, x, target = self._prepare(theta, X, y)
        with torch.no_grad(), _seeded(self._seed(train, rng)):
            bufs = self._buffer_tensors(_DTYPES[theta.dtype])
            out = self._forward(self._views(_tensor(theta)), bufs, x, True)
            return float(self._loss_of(out, target))

    # ------------------------------------------------------------ evaluation
    def _row_bytes(self, X, dtype) -> int:
        """Bytes of activations one example produces (every submodule's output), measured
        once per example shape by a pass on one row."""
        key = X.shape[1:]
        if key not in self._row_numel:
            sizes = []
            hooks = [m.register_forward_hook(
                lambda _m, _i, out: sizes.append(out.numel() if isinstance(out, torch.Tensor)
                                                 else 0)) for m in self._module.modules()]
            try:
                with torch.no_grad(), _seeded(0):
                    own = next(self._module.parameters()).detach().numpy().dtype
                    self._run_own(self._batch(X[:1], own))
            finally:
                for h in hooks:
                    h.remove()
            self._row_numel[key] = max(1, sum(sizes) + math.prod(key))
        return self._row_numel[key] * np.dtype(dtype).itemsize

    def _block_rows(self, X, dtype, memory_mb: float = 256.0) -> int:
        """Rows per evaluation block: about 16 MB of activations (measured fastest on the
        LeNet: larger blocks fall out of the caches), never above half of ``memory_mb``."""
        per_row = self._row_bytes(X, dtype)
        budget = int(float(memory_mb) * 2**20) // 2
        return int(max(1, min(X.shape[0], max(16, _BLOCK_BYTES // per_row), budget // per_row)))

    @staticmethod
    def _correct(out, target) -> float:
        """How many rows the outputs classify right (NaN when the targets are no labels)."""
        if target is None or out.dim() != 2:
            return float("nan")
        if target.dim() == 2 and target.shape == out.shape:
            target = target.argmax(dim=1)
        if target.dim() != 1 or target.is_floating_point():
            return float("nan")
        return float((out.argmax(dim=1) == target).sum())

    def _sums(self, params, bufs, x, target, rows: int, accuracy: bool = True):
        """Summed loss and correct count over ``x`` in blocks of ``rows``, evaluation mode."""
        total, correct = 0.0, 0.0
        for i in range(0, x.shape[0], rows):
            out = self._forward(params, bufs, x[i:i + rows], False)
            total += float(self._loss_of(out, target[i:i + rows], "sum"))
            if accuracy:
                correct += self._correct(out, target[i:i + rows])
        return total, correct

    def _evaluate(self, theta, X, y, *, accuracy=True, batch_size=None):
        theta = self._theta(theta)
        X, y = self.check_data(X, y)
        if y is None:
            raise InputError("evaluation needs labels (or targets) y")
        rows = batch_size or self._block_rows(X, theta.dtype)
        rows = checks.positive_int(rows, "batch_size")
        x, target = self._batch(X, theta.dtype), self._target(y, theta.dtype)
        with torch.inference_mode(), _seeded(0):
            params = self._views(_tensor(theta))
            total, correct = self._sums(params, self._buffer_tensors(_DTYPES[theta.dtype]), x,
                                        target, rows, accuracy)
        n = X.shape[0]
        return total / n, correct / n

    def evaluate(self, theta, X, y, batch_size: int | None = None) -> tuple[float, float]:
        """``(loss, accuracy)`` in evaluation mode, in blocks of ``batch_size`` rows (default:
        about 16 MB of activations per block). The loss sums per-row losses (for a custom loss
        the block means weighted by block size, exact for mean-reduced losses); the accuracy is
        NaN when ``y`` holds no class labels."""
        return self._evaluate(theta, X, y, batch_size=batch_size)

    def scores(self, theta, X, batch_size: int | None = None) -> np.ndarray:
        """The module's outputs in evaluation mode, shape (N, C), in theta's dtype."""
        theta = self._theta(theta)
        X, _ = self.check_data(X)
        rows = checks.positive_int(batch_size or self._block_rows(X, theta.dtype),
                                   "batch_size")
        x = self._batch(X, theta.dtype)
        with torch.inference_mode(), _seeded(0):
            params = self._views(_tensor(theta))
            bufs = self._buffer_tensors(_DTYPES[theta.dtype])
            parts = [self._forward(params, bufs, x[i:i + rows], False)
                     for i in range(0, x.shape[0], rows)]
        return torch.cat(parts).numpy()

    def predict(self, theta, X) -> np.ndarray:
        """The arg-max class of every row."""
        return np.argmax(self.scores(theta, X), axis=1)

    def activations(self, theta, X, train: bool = False,
                    rng=None) -> list[tuple[str, str, np.ndarray]]:
        """``(name, kind, output)`` of every activation module (ReLU, LeakyReLU, Tanh,
        Sigmoid, ...) in the order they ran, outputs flattened to (N, features). Found with
        forward hooks during the functional call, so activations applied as functions
        (``F.relu``) are not seen; a module used twice is reported twice (``name#2``).
        :attr:`buffers` are not updated."""
        theta = self._theta(theta)
        X, _ = self.check_data(X)
        x = self._batch(X, theta.dtype)
        found = []

        def hook(name, kind):
            def record(_mod, _inp, out):
                found.append((name, kind, _numpy(out).reshape(out.shape[0], -1).copy()))
            return record

        handles = [m.register_forward_hook(hook(n, k)) for n, m in self._module.named_modules()
                   if (k := _activation_kind(m)) is not None]
        try:
            with torch.no_grad(), _seeded(self._seed(train, rng)):
                self._forward(self._views(_tensor(theta)),
                              self._buffer_tensors(_DTYPES[theta.dtype]), x, train)
        finally:
            for h in handles:
                h.remove()
        seen: dict[str, int] = {}
        out = []
        for name, kind, values in found:
            seen[name] = seen.get(name, 0) + 1
            out.append((name if seen[name] == 1 else f"{name}#{seen[name]}", kind, values))
        return out

    def loss_and_kinks(self, theta, X, y, *, train: bool = False,
                       rng=None) -> tuple[float, list[np.ndarray]]:
        """The loss and the discrete state of every kink the hooks can see: the sign pattern
        of each ReLU-like module's output (``z > 0``; ReLU6 also ``z < 6``) and the arg-max
        indices of each max-pooling window. A finite difference whose state differs from the
        base point's crossed a kink (see :mod:`steepest.gradcheck`). Kinks of functions
        called directly (``F.relu``, ``abs``) are not seen."""
        theta, x, target = self._prepare(theta, X, y)
        states: list[np.ndarray] = []

        def record(mod, inp, out):
            if isinstance(mod, nn.ReLU6):
                states.append(_numpy((out > 0) & (out < 6)))
            elif isinstance(mod, tuple(_POOLS)):
                kw = {k: getattr(mod, k) for k in ("kernel_size", "stride", "padding",
                                                   "dilation", "ceil_mode")}
                pool = next(f for cls, f in _POOLS.items() if isinstance(mod, cls))
                states.append(_numpy(pool(inp[0], return_indices=True, **kw)[1]))
            else:
                states.append(_numpy(out > 0))

        kinds = (nn.ReLU, nn.LeakyReLU, nn.PReLU, nn.ReLU6, *_POOLS)
        handles = [m.register_forward_hook(record) for m in self._module.modules()
                   if isinstance(m, kinds)]
        try:
            with torch.no_grad(), _seeded(self._seed(train, rng)):
                out = self._forward(self._views(_tensor(theta)),
                                    self._buffer_tensors(_DTYPES[theta.dtype]), x, train)
                loss = float(self._loss_of(out, target))
        finally:
            for h in handles:
                h.remove()
        return loss, states

    def bind(self, X, y, train: bool = False, seed: int = 0):
        """This objective with its data, mode and dropout seed fixed (see
        :func:`steepest.bind`)."""
        from .contract import Bound

        return Bound(self, X, y, train=train, seed=seed)

    # ------------------------------------------------------------ curvature
    def _vector(self, v, theta) -> np.ndarray:
        v = np.asarray(v)
        if v.shape != theta.shape or v.dtype.kind not in "iuf":
            raise InputError(f"v must be a real vector of shape {theta.shape}, got "
                             f"{v.dtype} of shape {v.shape}")
        return v.astype(theta.dtype, copy=False)

    def _first_derivative(self, theta, X, y, train: bool, seed: int) -> _GraphCache:
        """The graph of ``g = dL/dtheta`` at this point (kept: see :meth:`hvp`)."""
        X, y = np.asarray(X), None if y is None else np.asarray(y)
        key = (theta, X, y, bool(train), seed, self.buffers)
        if self._graph is not None and self._graph.matches(key):
            return self._graph
        self._graph = None  # free the old graph before building the next one
        Xc, yc = self.check_data(X, y)
        if yc is None:
            raise InputError("a Hessian-vector product needs labels (or targets) y")
        t = torch.from_numpy(np.array(theta, copy=True)).requires_grad_()
        x, target = self._batch(np.array(Xc, copy=True), theta.dtype), self._target(
            np.array(yc, copy=True), theta.dtype)
        with _seeded(seed):
            loss = self._loss_of(self._forward(self._views(t), self._buffer_tensors(t.dtype),
                                               x, train), target)
        (g,) = torch.autograd.grad(loss, t, create_graph=True)
        key = tuple(np.array(k, copy=True) if isinstance(k, np.ndarray) else k for k in key)
        self._graph = _GraphCache(key, t, g)
        return self._graph

    def hvp(self, theta, v, X, y, *, train: bool = False, rng=None) -> np.ndarray:
        """The exact Hessian-vector product ``H v = d/dtheta <dL/dtheta, v>`` (double
        backward, in theta's dtype). The graph of ``dL/dtheta`` is kept for the next call at
        the same theta, data, mode, dropout seed and buffers (compared by value), so a run of
        products at one point costs one backward pass each; :meth:`release` frees it."""
        theta = self._theta(theta)
        v = self._vector(v, theta)
        graph = self._first_derivative(theta, X, y, train, self._seed(train, rng))
        if not graph.g.requires_grad:  # the gradient does not depend on theta: H = 0
            return np.zeros_like(theta)
        (hv,) = torch.autograd.grad(graph.g, graph.t, grad_outputs=_tensor(v),
                                    retain_graph=True, allow_unused=True)
        return np.zeros_like(theta) if hv is None else hv.numpy()

    def ggn_vp(self, theta, v, X, y, *, train: bool = False, rng=None) -> np.ndarray:
        """The generalized Gauss-Newton product ``G v = J^T H_l J v``: ``J = dz/dtheta`` the
        Jacobian of the outputs ``z`` (all rows), ``H_l = d^2 L/dz^2`` the Hessian of the loss
        in the outputs. ``J v`` comes from the double-vjp identity ``J v = d/du <J^T u, v>``,
        ``H_l (J v)`` from double backward through the loss alone, and ``J^T`` from one more
        backward pass."""
        theta, x, target = self._prepare(theta, X, y)
        v = _tensor(self._vector(v, theta))
        t = torch.from_numpy(np.array(theta, copy=True)).requires_grad_()
        with _seeded(self._seed(train, rng)):
            z = self._forward(self._views(t), self._buffer_tensors(t.dtype), x, train)
        if not isinstance(z, torch.Tensor):
            raise InputError(f"the module's forward returned {type(z).__name__}")
        u = torch.zeros_like(z, requires_grad=True)
        (jtu,) = torch.autograd.grad(z, t, grad_outputs=u, create_graph=True)
        (jv,) = torch.autograd.grad(jtu, u, grad_outputs=v, allow_unused=True)
        if jv is None:
            return np.zeros_like(theta)
        zd = z.detach().requires_grad_()
        (gz,) = torch.autograd.grad(self._loss_of(zd, target), zd, create_graph=True)
        if not gz.requires_grad:
            return np.zeros_like(theta)
        (hjv,) = torch.autograd.grad(gz, zd, grad_outputs=jv, allow_unused=True)
        if hjv is None:
            return np.zeros_like(theta)
        (out,) = torch.autograd.grad(z, t, grad_outputs=hjv)
        return out.numpy()

    # ------------------------------------------------------------ landscapes
    def points_evaluator(self, basis, X, y, *, dtype=np.float32, memory_mb: float = 256.0,
                         chunk_points: int | None = None):
        """Loss and accuracy at many points ``C @ basis`` (see :class:`PointsEvaluator`)."""
        return PointsEvaluator(self, basis, X, y, dtype=dtype, memory_mb=memory_mb,
                               chunk_points=chunk_points)


def _activation_kind(module) -> str | None:
    for cls, kind in _ACTIVATIONS.items():
        if isinstance(module, cls):
            return kind
    return None


class PointsEvaluator:
    """``evaluate(C) -> (loss, acc)`` at the points ``C[p] @ basis`` of a :class:`TorchObjective`.

    The data are validated, converted and shaped once; the parameters of ``chunk_points``
    points at a time come from one product ``C_chunk @ basis`` (float64, then cast to
    ``dtype``); each point then runs the module in evaluation mode over row blocks of about
    16 MB of activations. Memory: the block's activations (at most half of ``memory_mb``) plus
    the chunk's parameters (at most a quarter). Running the points one after another measured
    faster on the CPU than ``torch.func.vmap`` over stacked parameter sets (which turns every
    later layer into a grouped convolution or a batched product with the same arithmetic and
    more memory traffic; see ``bench/torch_landscape.py``), so that is what this does.
    """

    def __init__(self, obj: TorchObjective, basis, X, y, *, dtype=np.float32,
                 memory_mb: float = 256.0, chunk_points: int | None = None):
        self.obj = obj
        self.dtype = obj._dtype_of(dtype)
        basis = np.asarray(basis, dtype=np.float64)
        if basis.ndim != 2 or basis.shape[1] != obj.layout.size:
            raise InputError(f"basis must have shape (k, {obj.layout.size}), got "
                             f"{basis.shape}")
        self.basis = basis
        X, y = obj.check_data(X, y)
        if y is None:
            raise InputError("a landscape needs labels (or targets) y")
        self.n = X.shape[0]
        self.x = obj._batch(np.array(X, dtype=self.dtype), self.dtype)
        self.target = obj._target(y, self.dtype)
        memory = checks.nonneg_float(memory_mb, "memory_mb")
        self.rows = obj._block_rows(X, self.dtype, memory)
        per_point = obj.layout.size * self.dtype.itemsize
        self.chunk = (checks.positive_int(chunk_points, "chunk_points") if chunk_points
                      else int(max(1, min(64, memory * 2**20 / 4 // per_point))))
        self.bufs = obj._buffer_tensors(_DTYPES[self.dtype])

    def evaluate(self, C) -> tuple[np.ndarray, np.ndarray]:
        C = np.asarray(C, dtype=np.float64)
        k = self.basis.shape[0]
        if C.ndim != 2 or C.shape[1] != k:
            raise InputError(f"coefficients must have shape (points, {k}), got {C.shape}")
        loss, acc = np.empty(C.shape[0]), np.empty(C.shape[0])
        obj = self.obj
        with torch.inference_mode(), _seeded(0):
            for i in range(0, C.shape[0], self.chunk):
                points = torch.from_numpy((C[i:i + self.chunk] @ self.basis).astype(self.dtype))
                for j, row in enumerate(points):
                    total, correct = obj._sums(obj._views(row), self.bufs, self.x, self.target,
                                               self.rows)
                    loss[i + j], acc[i + j] = total / self.n, correct / self.n
        return loss, acc


def objective(module, loss="cross_entropy", *, input_shape=None, dtype=None) -> TorchObjective:
    """``TorchObjective(module, loss, input_shape=..., dtype=...)``: a PyTorch module as a
    steepest objective."""
    return TorchObjective(module, loss, input_shape=input_shape, dtype=dtype)


# ---------------------------------------------------------------- model files
_FACTORY_NAME = re.compile(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*")
_DESCRIPTION_FORMAT = "steepest.torch-factory/1"


def _split_spec(spec) -> tuple[Path, str]:
    if not isinstance(spec, str) or ":" not in spec:
        raise InputError(f"a model factory is FILE.py:FACTORY (e.g. examples/lenet.py:make), "
                         f"got {spec!r}")
    path, _, name = spec.rpartition(":")
    if not path or not _FACTORY_NAME.fullmatch(name):
        raise InputError(f"a model factory is FILE.py:FACTORY with FACTORY a Python name, got "
                         f"{spec!r}")
    return Path(path).expanduser(), name


def _resolve(path: Path) -> Path:
    resolved = path.resolve()
    if not resolved.is_file():
        raise InputError(f"model file {str(path)!r} does not exist"
                         + ("" if resolved.parent.is_dir() else
                            f" (no folder {str(resolved.parent)!r})"))
    if resolved.suffix != ".py":
        raise InputError(f"model file {str(path)!r} is not a Python file (.py)")
    return resolved


def _import_file(path: Path):
    """Execute the file as a module named after its path (registered in ``sys.modules`` so
    that its classes pickle and dataclasses work); its folder is on ``sys.path`` only while it
    runs, so that it can import files beside it."""
    resolved = _resolve(path)
    name = "_steepest_model_" + hashlib.sha1(str(resolved).encode()).hexdigest()[:16]
    spec = importlib.util.spec_from_file_location(name, resolved)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    folder = str(resolved.parent)
    sys.path.insert(0, folder)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:
        sys.modules.pop(name, None)
        raise InputError(f"importing model file {str(path)!r} failed: {type(e).__name__}: "
                         f"{e}") from None
    finally:
        if folder in sys.path:
            sys.path.remove(folder)
    return module


def _factory(module, name: str, path: Path) -> Callable:
    target = module
    for part in name.split("."):
        if not hasattr(target, part):
            offered = sorted(k for k, v in vars(module).items()
                             if callable(v) and not k.startswith("_")
                             and getattr(v, "__module__", None) == module.__name__)
            raise InputError(f"model file {str(path)!r} has no {name!r}; it defines "
                             f"{', '.join(offered) if offered else 'no public callables'}")
        target = getattr(target, part)
    if not callable(target):
        raise InputError(f"{name!r} in {str(path)!r} is a {type(target).__name__}, not a "
                         f"callable returning a torch.nn.Module")
    return target


def load_factory(spec: str, kwargs: dict | None = None):
    """The ``nn.Module`` that ``FACTORY(**kwargs)`` of ``FILE.py`` returns (``spec`` is
    ``"FILE.py:FACTORY"``; FACTORY may be dotted, a class works too).

    Errors (:class:`~steepest.errors.InputError`) name the culprit: a missing file, no such
    factory (listing what the file defines), a factory that raises (its message), a result that
    is not an ``nn.Module``, a module without parameters.
    """
    path, name = _split_spec(spec)
    factory = _factory(_import_file(path), name, path)
    try:
        module = factory(**(kwargs or {}))
    except Exception as e:
        raise InputError(f"the model factory {spec!r} raised {type(e).__name__}: {e}") from None
    if not isinstance(module, nn.Module):
        raise InputError(f"the model factory {spec!r} returned {type(module).__name__}, not a "
                         f"torch.nn.Module")
    if next(module.parameters(), None) is None:
        raise InputError(f"the model factory {spec!r} returned a {type(module).__name__} with "
                         f"no parameters: there is nothing to train")
    return module


def describe_factory(spec: str, kwargs: dict | None = None) -> str:
    """A JSON text naming the factory, to store in a run folder (data, never a pickled
    module): the spec as given, the resolved path, the factory name, the keyword arguments,
    the SHA-256 of the file and the PyTorch version. :func:`load_described` reads it back."""
    path, name = _split_spec(spec)
    resolved = _resolve(path)
    try:
        kwargs_text = json.loads(json.dumps(dict(kwargs or {})))
    except (TypeError, ValueError):
        raise InputError(f"factory keyword arguments must be JSON values, got {kwargs!r}"
                         ) from None
    return json.dumps({"format": _DESCRIPTION_FORMAT, "spec": spec, "path": str(resolved),
                       "factory": name, "kwargs": kwargs_text,
                       "sha256": hashlib.sha256(resolved.read_bytes()).hexdigest(),
                       "torch": torch.__version__}, indent=2)


def load_described(text: str, *, strict: bool = True):
    """The module a :func:`describe_factory` text names. With ``strict`` a file whose
    SHA-256 differs from the recorded one is refused (the architecture may have changed)."""
    try:
        d = json.loads(text)
        ok = isinstance(d, dict) and d.get("format") == _DESCRIPTION_FORMAT
    except (TypeError, ValueError):
        ok = False
    if not ok or not all(isinstance(d.get(k), str) for k in ("path", "factory", "sha256")):
        raise InputError(f"not a steepest model-factory description ({_DESCRIPTION_FORMAT})")
    path = Path(d["path"])
    digest = hashlib.sha256(_resolve(path).read_bytes()).hexdigest()
    if strict and digest != d["sha256"]:
        raise InputError(f"model file {d['path']!r} changed since it was recorded (sha256 "
                         f"{d['sha256'][:12]}..., now {digest[:12]}...); load it with "
                         f"strict=False to use the file as it is now")
    return load_factory(f"{path}:{d['factory']}", d.get("kwargs") or {})
