"""Curvature of the loss at a point: Hessian-vector products, extreme eigenvalues, trace.

Everything here is built on one primitive, the Hessian-vector product ``H v``. When the
objective offers an exact product (a bound objective whose ``has_hvp`` is True: steepest's own
models, ``steepest.bind(model, X, y)``, by Pearlmutter's R-operator, see
:class:`steepest.nn.model.PointCurvature`; or ``steepest.bind(steepest.objective(f, theta0,
hvp=...))``) that product is used. Otherwise it comes from central differences of the
analytic gradient::

    H v  ~=  (g(theta + e v) - g(theta - e v)) / (2 e)

which costs two gradient evaluations and never forms ``H``. Every function takes
``products="exact" | "finite-differences"`` (default: exact when offered) to choose, and
``matrix="hessian" | "ggn"`` to work on the generalized Gauss-Newton matrix
``G = J^T H_loss J`` instead (``J`` the Jacobian of the model's outputs, ``H_loss`` the Hessian
of the loss in them; positive semidefinite for convex losses; exact products only, from the
objective's ``ggn_vp``). From the product:

- :class:`HessianOperator` wraps the product as a ``scipy.sparse.linalg.LinearOperator`` that
  counts how many products were taken;
- :func:`top_eigenvalues` / :func:`extreme_eigenvalues` run Lanczos (``eigsh``, ARPACK) on it;
- :func:`hutchinson_trace` estimates ``tr H`` from Rademacher probes ``z^T H z``;
- :func:`condition_number` turns the two extremes into a condition number and step-size advice;
- :func:`curvature_report` / :func:`curvature_along_path` bundle all of that into results
  whose ``to_dict()`` is strict JSON, at one point or at a sequence of checkpoints;
- :func:`dense_hessian` forms the whole matrix column by column, for small models and tests;
- :mod:`steepest.landscape.density` adds the eigenvalue density (stochastic Lanczos
  quadrature) and the curvature of each block of the layout.

``fun`` is anything :func:`steepest.contract.bind` accepts: a callable ``theta -> (loss,
grad)``, an object with ``.loss_and_grad(theta)``, or a bound objective
(``steepest.bind(model, X, y)``, ``model.bind(X, y, train=False)``). A steepest ``Model``
passed without its data is refused. Where the Hessian-vector product is known exactly but the
objective does not offer it, every function also accepts ``hvp_fn`` -- a callable ``v -> H v``
-- in place of ``fun``; nothing is then differenced. An exact product always wins over
differences: ``eps`` is then ignored (``step`` is None and ``exact`` True).

The results are frozen dataclasses (see :mod:`steepest.results`): :class:`Spectrum`,
:class:`Extremes`, :class:`TraceEstimate`, :class:`Conditioning`, :class:`CurvatureReport` and
:class:`CurvaturePath`; :func:`hvp` and :func:`dense_hessian` return arrays.

**The finite-difference step.** ``eps`` is the *length* of the step taken in parameter space,
``||e v||``, so that ``e = eps / ||v||`` and the product is linear in the scale of ``v``. The
default is ``eps = cbrt(eps_mach) * (1 + ||theta||)`` (about ``6e-6 (1 + ||theta||)`` in
float64). The central difference has a truncation error ``(eps^2 / 6) ||D^3 g[u, u]||`` along
the unit direction ``u = v / ||v||`` (second order in the step) and a round-off error of
about ``eps_mach ||g|| / eps``; the cube root of the machine epsilon balances the two, leaving
a relative error near ``eps_mach^(2/3) ~ 1e-11`` for smooth losses (the square root is the
optimum of a *one-sided* difference, whose truncation error is first order). Scaling with
``1 + ||theta||`` keeps the step relative to the size of the weights. For a quadratic the
gradient is affine and the difference is exact up to round-off whatever the step. Losses with
kinks (ReLU, hinge, L1) are only piecewise smooth: where a step crosses a kink the product is
not a Hessian product at all, so keep such checks away from kinks or pass a smaller ``eps``.

All computation runs in float64: ``theta`` (a floating 1-D vector, checked by
:func:`steepest.contract.check_theta`) is copied to float64 before any gradient call, so a
steepest model (which computes in ``theta``'s dtype) runs in double precision. The one
exception is asked for explicitly: ``HessianOperator(..., precision="float32")`` runs the
objective's exact products in single precision (pass the operator to any function here).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from .. import _validate as checks
from ..contract import Bound, bind, check_theta
from ..errors import InputError
from ..results import Result, finite_or_none

__all__ = [
    "Conditioning",
    "CurvaturePath",
    "CurvatureReport",
    "Extremes",
    "HessianOperator",
    "Spectrum",
    "TraceEstimate",
    "condition_from_extremes",
    "condition_number",
    "curvature_along_path",
    "curvature_report",
    "default_step",
    "dense_hessian",
    "extreme_eigenvalues",
    "hutchinson_trace",
    "hvp",
    "top_eigenvalues",
]

_EPS_MACH = float(np.finfo(np.float64).eps)
_STEP_SCALE = float(np.cbrt(_EPS_MACH))  # ~6.06e-6
WHICH = ("LA", "SA", "LM")
PRODUCTS = ("exact", "finite-differences")
MATRICES = ("hessian", "ggn")
MATRIX_NAMES = {"hessian": "Hessian", "ggn": "Gauss-Newton"}
PRECISIONS = ("float64", "float32")
DEFAULT_TOL = 1e-6
DEFAULT_ZERO_TOL = 1e-7


# --------------------------------------------------------------------------- results
@dataclass(frozen=True)
class Spectrum(Result):
    """Eigenvalues found by :func:`top_eigenvalues`, ordered as ``which`` asks.

    ``eigenvectors`` is ``(n, k)`` (column ``j`` goes with ``eigenvalues[j]``) or None when not
    requested, and is left out of ``to_dict()``. ``n_hvp`` counts the Hessian-vector products
    used; ``converged`` is False when ARPACK stopped at ``maxiter`` (then only the pairs that
    converged are held); ``exact`` says whether the products were exact.
    """

    eigenvalues: np.ndarray
    eigenvectors: np.ndarray | None
    which: str
    k: int
    n_hvp: int
    converged: bool
    exact: bool
    matrix: str = "hessian"

    _omit = ("eigenvectors",)


@dataclass(frozen=True)
class Extremes(Result):
    """The ``k`` largest eigenvalues (``top``, descending) and the smallest one (``bottom``).

    ``bottom`` is NaN when Lanczos did not find it. ``top_vectors`` ``(n, k)`` and
    ``bottom_vector`` ``(n,)`` are set only when eigenvectors were requested and are left out
    of ``to_dict()``.
    """

    top: np.ndarray
    bottom: float
    n_hvp: int
    converged: bool
    exact: bool
    top_vectors: np.ndarray | None = None
    bottom_vector: np.ndarray | None = None
    matrix: str = "hessian"

    _omit = ("top_vectors", "bottom_vector")


@dataclass(frozen=True)
class TraceEstimate(Result):
    """Hutchinson's estimate of ``tr H``: ``trace`` is the mean of the ``samples`` ``z^T H z``
    and ``stderr`` their standard error ``std(samples, ddof=1) / sqrt(n_samples)``.
    ``samples`` is left out of ``to_dict()``."""

    trace: float
    stderr: float
    samples: np.ndarray
    n_samples: int
    n_hvp: int
    exact: bool
    matrix: str = "hessian"

    _omit = ("samples",)

    def plot(self, ax=None):
        """The running mean of the samples against the number of probes, with a band of
        plus or minus the running standard error; returns the Figure."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        samples = np.asarray(self.samples, dtype=np.float64)
        count = np.arange(1, samples.size + 1, dtype=np.float64)
        centred = samples - self.trace  # cumulative sums of centred values stay accurate
        first, second = np.cumsum(centred), np.cumsum(centred**2)
        mean = self.trace + first / count
        var = np.full(samples.size, np.nan)
        var[1:] = np.maximum(second[1:] - first[1:] ** 2 / count[1:], 0.0) / (count[1:] - 1.0)
        err = np.sqrt(var / count)
        ax.plot(count, mean, color="#0072B2", label="running mean")
        ax.fill_between(count, mean - err, mean + err, color="#0072B2", alpha=0.2,
                        label="± standard error")
        ax.axhline(self.trace, color="gray", ls="--", lw=1,
                   label=f"estimate {self.trace:.4g} ± {self.stderr:.2g}")
        ax.set_xlabel("probes")
        ax.set_ylabel("estimate of tr G" if self.matrix == "ggn" else "estimate of tr H")
        ax.set_title("Hutchinson trace estimate")
        ax.legend()
        ax.grid(alpha=0.3)
        return fig


@dataclass(frozen=True)
class Conditioning(Result):
    """Condition number and step-size advice (see :func:`condition_from_extremes`).

    ``definiteness`` is one of ``"positive definite"``, ``"positive semidefinite"``,
    ``"indefinite"``, ``"negative definite"``, ``"negative semidefinite"``, ``"zero"`` or
    ``"unknown"`` (Lanczos did not converge: what could not be found is None).
    ``condition_number`` is ``inf`` unless the Hessian is positive definite (None when
    unknown). The advice fields are None where they do not apply. ``n_hvp`` and ``converged``
    are set by :func:`condition_number` (None from :func:`condition_from_extremes`).
    """

    lambda_max: float | None
    lambda_min: float | None
    condition_number: float | None
    definiteness: str
    positive_definite: bool
    indefinite: bool
    max_stable_step: float | None = None
    optimal_gd_step: float | None = None
    gd_contraction: float | None = None
    heavy_ball_step: float | None = None
    heavy_ball_momentum: float | None = None
    heavy_ball_contraction: float | None = None
    n_hvp: int | None = None
    converged: bool | None = None


@dataclass(frozen=True)
class CurvatureReport(Result):
    """A summary of the curvature at one point (see :func:`curvature_report`).

    ``n_params``; ``exact`` (exact products, no differences); ``step`` (the difference step
    length, None when exact); ``loss`` and ``grad_norm`` at theta (None without a function);
    ``eigenvalues`` (the ``top`` largest, descending; fewer when Lanczos did not converge);
    ``bottom_eigenvalue`` (None if not found); ``condition`` (a :class:`Conditioning`);
    ``trace`` (a :class:`TraceEstimate`, or None when not asked for); ``converged``;
    ``n_hvp``; ``n_grad_evals`` and ``seconds``. ``to_dict()`` is strict JSON: no NaN or
    infinity (an infinite condition number, meaning "not positive definite", becomes None
    there; ``condition.definiteness`` says why).
    """

    n_params: int
    exact: bool
    step: float | None
    loss: float | None
    grad_norm: float | None
    eigenvalues: tuple[float, ...]
    bottom_eigenvalue: float | None
    condition: Conditioning
    trace: TraceEstimate | None
    converged: bool
    n_hvp: int
    n_grad_evals: int
    seconds: float
    matrix: str = "hessian"

    def to_dict(self) -> dict:
        return finite_or_none(super().to_dict())

    def plot(self, ax=None):
        """The top eigenvalues and the bottom one as a bar chart; returns the Figure."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        top = list(self.eigenvalues)
        labels = [f"λ{i + 1}" for i in range(len(top))]
        ax.bar(range(len(top)), top, color="#0072B2", label="largest")
        if self.bottom_eigenvalue is not None:
            ax.bar([len(top)], [self.bottom_eigenvalue], color="#D55E00", label="smallest")
            labels.append("λmin")
        ax.set_xticks(range(len(labels)), labels)
        ax.axhline(0.0, color="black", lw=0.8)
        what = MATRIX_NAMES[self.matrix]
        ax.set_ylabel(f"{what} eigenvalue")
        kappa = self.condition.condition_number
        detail = f"condition number {kappa:.4g}" if kappa is not None else "condition unknown"
        ax.set_title(f"{what} spectrum ({self.condition.definiteness}, {detail})")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
        return fig


@dataclass(frozen=True)
class CurvaturePath(Result):
    """:class:`CurvatureReport` s at a sequence of points; ``steps[i]`` labels ``reports[i]``
    (training steps when given, else the index)."""

    reports: tuple[CurvatureReport, ...]
    steps: tuple[int, ...]

    def plot(self, ax=None):
        """The largest eigenvalue (and the smallest, dashed) against the step; returns the
        Figure. Points where Lanczos found nothing are left as gaps."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        top = [r.eigenvalues[0] if r.eigenvalues else np.nan for r in self.reports]
        bottom = [np.nan if r.bottom_eigenvalue is None else r.bottom_eigenvalue
                  for r in self.reports]
        ax.plot(self.steps, top, "o-", color="#0072B2", label="largest eigenvalue")
        ax.plot(self.steps, bottom, "s--", color="#D55E00", label="smallest eigenvalue")
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_xlabel("step")
        ax.set_ylabel("Hessian eigenvalue")
        ax.set_title("curvature along the path")
        ax.legend()
        ax.grid(alpha=0.3)
        return fig


# --------------------------------------------------------------------------- boundary checks
def _point(theta, what: str = "theta") -> np.ndarray:
    """A finite, non-empty, floating 1-D vector (:func:`check_theta`), copied to float64."""
    if theta is None:
        raise InputError(f"{what} is required: pass the parameter vector (a 1-D array)")
    arr = check_theta(theta, what=what, finite=True)
    return np.array(arr, dtype=np.float64, copy=True)


def _step(eps) -> float | None:
    if eps is None:
        return None
    e = checks.nonneg_float(eps, "eps")
    if e == 0:
        raise InputError(f"eps must be a positive step length, got {eps!r}")
    return e


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _maxiter(maxiter) -> int | None:
    return None if maxiter is None else checks.positive_int(maxiter, "maxiter")


def default_step(theta) -> float:
    """The default finite-difference step length ``cbrt(eps_mach) * (1 + ||theta||)``."""
    return _STEP_SCALE * (1.0 + float(np.linalg.norm(np.asarray(theta, dtype=np.float64))))


# --------------------------------------------------------------------------- the operator
def _choices(products, matrix) -> tuple[str | None, str]:
    if products is not None:
        products = checks.choice(products, PRODUCTS, "products")
    return products, checks.choice("hessian" if matrix is None else matrix, MATRICES, "matrix")


class HessianOperator(LinearOperator):
    """The Hessian (or the Gauss-Newton matrix) of ``fun`` at ``theta`` as an (n, n) float64
    ``LinearOperator``.

    ``fun`` is anything :func:`steepest.contract.bind` accepts. Products are exact when
    ``hvp_fn`` (``v -> H v``) is given -- then ``fun`` may be None and ``theta`` only fixes
    ``n`` -- or when the bound objective offers an exact product (``has_hvp``); otherwise they
    are central differences of ``fun``'s gradient (see the module docstring for the step
    ``eps``, which an exact product ignores). ``products="finite-differences"`` forces the
    differences, ``products="exact"`` refuses them. ``matrix="ggn"`` multiplies by the
    generalized Gauss-Newton matrix ``J^T H_loss J`` instead (the objective's ``ggn_vp``, or
    ``hvp_fn`` taken as that product); it has no finite-difference form.

    ``precision="float32"`` runs the objective's exact products in single precision (about
    twice as fast, relative error near 1e-7; the operator itself stays float64).

    ``exact`` and ``matrix`` say which; ``n_products`` counts the vectors multiplied so far
    and ``n_grad_evals`` the gradient evaluations they cost. The operator is its own adjoint
    (the differenced Hessian is symmetric up to the difference error). A steepest model bound
    with :func:`steepest.bind` keeps its forward pass at ``theta`` for all the products
    (:meth:`steepest.nn.Model.curvature_at`), so each costs only the R-passes.
    """

    def __init__(self, fun=None, theta=None, eps=None, *, hvp_fn=None, products=None,
                 matrix=None, precision: str = "float64"):
        theta = _point(theta)
        n = theta.shape[0]
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))
        self.theta = theta
        self.n_products = 0
        self.n_grad_evals = 0
        products, self.matrix = _choices(products, matrix)
        if hvp_fn is not None and not callable(hvp_fn):
            raise InputError(f"hvp_fn must be a callable v -> H v, got {type(hvp_fn).__name__}")
        if fun is None and hvp_fn is None:
            raise InputError("pass fun (a callable theta -> (loss, grad), an object with "
                             ".loss_and_grad, or a bound objective) or hvp_fn (a callable "
                             "v -> H v)")
        step = _step(eps)
        self.objective = None if fun is None else bind(fun)
        self._point_curvature = None
        self._hvp_name = "hvp_fn"
        own = False  # the objective's own exact product
        if products == "finite-differences":
            self._check_differences(hvp_fn)
        elif hvp_fn is None:
            hvp_fn = self._objective_exact(products)
            own = hvp_fn is not None
        self.exact = hvp_fn is not None
        self._hvp_fn = hvp_fn
        if self.exact:
            self.step = None
        else:
            self.step = default_step(theta) if step is None else step
        self.precision = np.dtype(checks.choice(precision, PRECISIONS, "precision"))
        if self.precision != np.float64 and not own:
            raise InputError("precision='float32' applies to the objective's exact products "
                             "only (not to hvp_fn or finite differences)")

    def _check_differences(self, hvp_fn) -> None:
        if self.matrix == "ggn":
            raise InputError("the Gauss-Newton matrix has no finite-difference form: use "
                             "products='exact' (or leave products unset) with matrix='ggn'")
        if hvp_fn is not None or self.objective is None:
            raise InputError("products='finite-differences' differences fun's gradient: pass "
                             "fun and no hvp_fn")

    def _objective_exact(self, products):
        """The objective's exact product for ``self.matrix``, or None (then differences)."""
        bound, ggn = self.objective, self.matrix == "ggn"
        if bound is not None and (bound.has_ggn if ggn else bound.has_hvp):
            self._hvp_name = "the objective's " + ("ggn_vp" if ggn else "hvp")
            return self._objective_product
        if products == "exact" or ggn:
            what = "Gauss-Newton" if ggn else "exact Hessian-vector"
            name = "no function" if bound is None else type(bound.objective).__name__
            raise InputError(f"{name} offers no {what} product; pass hvp_fn"
                             + ("" if ggn else " or products='finite-differences'"))
        return None

    def _objective_product(self, v: np.ndarray):
        v = v.astype(self.precision, copy=False)
        point = self._kept_point()
        if point is not None:
            return point.ggn_vp(v) if self.matrix == "ggn" else point.hvp(v)
        theta = self.theta.astype(self.precision)
        if self.matrix == "ggn":
            return self.objective.ggn(theta, v)
        return self.objective.hvp(theta, v)

    def _kept_point(self):
        """The objective's passes at theta kept for every product (the bound objective's
        ``curvature_at``), when it offers them; None otherwise."""
        bound = self.objective
        if self._point_curvature is None:
            self._point_curvature = False
            if isinstance(bound, Bound) and bound.has_point_curvature:
                self._point_curvature = bound.curvature_at(self.theta.astype(self.precision))
        return self._point_curvature or None

    def _call(self, point: np.ndarray) -> tuple[float, np.ndarray]:
        loss, g = self.objective.loss_and_grad(point)
        g = np.array(g, dtype=np.float64, copy=True)
        if g.shape != self.theta.shape:
            raise InputError(f"fun returned a gradient of shape {g.shape}, expected "
                             f"{self.theta.shape} (the shape of theta)")
        self.n_grad_evals += 1
        return float(loss), g

    def loss_and_grad(self) -> tuple[float, np.ndarray] | None:
        """``(loss, grad)`` at ``theta`` when a function is known, else None."""
        if self.objective is None:
            return None
        return self._call(self.theta.copy())

    def product(self, v: np.ndarray) -> np.ndarray:
        """``H v`` for one float64 vector ``v`` of length n (counted)."""
        n = self.shape[0]
        if self.exact:
            out = self._hvp_fn(v.copy())
            hv = np.asarray(out, dtype=np.float64).reshape(-1)
            if hv.shape != (n,):
                raise InputError(f"{self._hvp_name} returned shape {np.shape(out)}, expected "
                                 f"({n},)")
        else:
            norm = float(np.linalg.norm(v))
            if norm == 0.0:
                hv = np.zeros(n)
            else:
                e = self.step / norm
                g_plus = self._call(self.theta + e * v)[1]
                g_minus = self._call(self.theta - e * v)[1]
                hv = (g_plus - g_minus) / (2.0 * e)
        self.n_products += 1
        return hv

    def _matvec(self, x):
        return self.product(np.asarray(x, dtype=np.float64).reshape(-1))

    def _rmatvec(self, x):
        return self._matvec(x)

    def _matmat(self, X):
        X = np.asarray(X, dtype=np.float64)
        out = np.empty((self.shape[0], X.shape[1]))
        for j in range(X.shape[1]):
            out[:, j] = self.product(np.ascontiguousarray(X[:, j]))
        return out

    def _adjoint(self):
        return self


def _operator(fun_or_op, theta, eps, hvp_fn, products=None, matrix=None) -> HessianOperator:
    """Resolve the (fun | operator | hvp_fn) argument triple of the public functions, with the
    ``products`` and ``matrix`` options (which an existing operator must agree with)."""
    if isinstance(fun_or_op, HessianOperator):
        op = fun_or_op
        products, _ = _choices(products, matrix)
        if (matrix is not None and matrix != op.matrix) or (
                products is not None and (products == "exact") != op.exact):
            raise InputError(f"the operator multiplies by the {op.matrix} with "
                             f"{'exact' if op.exact else 'finite-difference'} products; "
                             f"products={products!r}, matrix={matrix!r} ask otherwise")
    elif isinstance(fun_or_op, LinearOperator):
        shape = fun_or_op.shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InputError(f"the operator must be square, got shape {shape}")
        op = HessianOperator(None, np.zeros(shape[0]), hvp_fn=fun_or_op.matvec,
                             products=products, matrix=matrix)
        op.theta = None
    else:
        if fun_or_op is None and hvp_fn is None:
            raise InputError("pass fun (a callable theta -> (loss, grad), an object with "
                             ".loss_and_grad, or a bound objective), a HessianOperator, or "
                             "hvp_fn (v -> H v)")
        return HessianOperator(fun_or_op, theta, eps, hvp_fn=hvp_fn, products=products,
                               matrix=matrix)
    if theta is not None:
        n = op.shape[0]
        if np.shape(theta) != (n,):
            raise InputError(f"theta has shape {np.shape(theta)} but the operator is {n}x{n}")
    return op


# --------------------------------------------------------------------------- products
def hvp(fun=None, theta=None, v=None, eps=None, *, hvp_fn=None, products=None,
        matrix=None) -> np.ndarray:
    """The Hessian-vector product ``H(theta) v`` in float64.

    ``fun`` is a callable ``theta -> (loss, grad)``, an object with ``.loss_and_grad`` or a
    bound objective. When the bound objective offers an exact product, or ``hvp_fn``
    (``v -> H v``) is given, that exact product is returned; otherwise the central difference
    ``(g(theta + e v) - g(theta - e v)) / (2 e)`` with ``e = eps / ||v||``, i.e. a step of
    length ``eps`` (default ``cbrt(eps_mach) (1 + ||theta||)``; error O(eps^2), see the module
    docstring). ``v`` must be a finite floating vector as long as ``theta``. ``products`` and
    ``matrix`` are those of :class:`HessianOperator`.
    """
    if v is None:
        raise InputError("v is required: the vector to multiply by the Hessian")
    if hvp_fn is not None and theta is None and fun is None:
        theta = np.zeros(np.size(v))  # only the length matters on the exact path
    op = _operator(fun, theta, eps, hvp_fn, products, matrix)
    vec = check_theta(v, size=op.shape[0], what="v", finite=True)
    return op.product(np.asarray(vec, dtype=np.float64))


def dense_hessian(fun=None, theta=None, eps=None, *, hvp_fn=None, symmetrize: bool = True,
                  max_params: int = 4096, products=None, matrix=None) -> np.ndarray:
    """The full (n, n) Hessian, column ``i`` being ``H e_i`` (2n gradient evaluations, or n
    exact products).

    The finite-difference matrix is symmetric only up to the difference error; with
    ``symmetrize`` (default) ``(H + H^T) / 2`` is returned. Meant for small models and tests:
    models with more than ``max_params`` parameters are refused.
    """
    op = _operator(fun, theta, eps, hvp_fn, products, matrix)
    n = op.shape[0]
    max_params = checks.positive_int(max_params, "max_params")
    if n > max_params:
        raise InputError(f"dense_hessian of {n} parameters needs {2 * n} gradient evaluations "
                         f"and an {n}x{n} matrix; the limit is max_params={max_params} (raise "
                         f"it, or use top_eigenvalues / hutchinson_trace)")
    H = np.empty((n, n))
    e = np.zeros(n)
    for i in range(n):
        e[i] = 1.0
        H[:, i] = op.product(e)
        e[i] = 0.0
    if symmetrize:
        H = 0.5 * (H + H.T)
    return H


# --------------------------------------------------------------------------- spectrum
def _sorted(vals: np.ndarray, which: str) -> np.ndarray:
    if which == "LA":
        return np.argsort(-vals, kind="stable")
    if which == "SA":
        return np.argsort(vals, kind="stable")
    return np.argsort(-np.abs(vals), kind="stable")


def _check_k(k: int, n: int, name: str = "k") -> None:
    if k > n - 1:
        raise InputError(
            f"{name}={k} is too large for a {n}x{n} Hessian: Lanczos (ARPACK) finds at most "
            f"n - 1 = {n - 1} eigenvalues; ask for {name} <= {n - 1} or use dense_hessian "
            f"with numpy.linalg.eigvalsh"
        )


def _eigsh(op: HessianOperator, k: int, which: str, tol: float, maxiter, seed: int, ncv):
    n = op.shape[0]
    _check_k(k, n)
    if ncv is not None:
        ncv = checks.positive_int(ncv, "ncv")
        if not (k < ncv <= n):
            raise InputError(f"ncv={ncv} must satisfy k < ncv <= n, here {k} < ncv <= {n}")
    v0 = np.random.default_rng(seed).standard_normal(n)
    try:
        vals, vecs = eigsh(op, k=k, which=which, tol=tol, maxiter=maxiter, v0=v0, ncv=ncv)
        converged = True
    except ArpackNoConvergence as exc:  # keep what did converge, and say so
        vals, vecs = exc.eigenvalues, exc.eigenvectors
        converged = False
    vals = np.asarray(vals, dtype=np.float64)
    vecs = np.asarray(vecs, dtype=np.float64).reshape(n, -1)
    order = _sorted(vals, which)
    return vals[order], vecs[:, order], converged


def _spectrum_args(k, which, tol, maxiter, seed):
    k = checks.positive_int(k, "k")
    which = checks.choice(which, WHICH, "which")
    tol = checks.nonneg_float(tol, "tol")
    return k, which, tol, _maxiter(maxiter), _seed(seed)


def top_eigenvalues(fun_or_op=None, theta=None, k: int = 5, which: str = "LA",
                    tol: float = DEFAULT_TOL, maxiter: int | None = None, seed: int = 0, *,
                    return_eigenvectors: bool = False, eps=None, hvp_fn=None,
                    ncv: int | None = None, products=None, matrix=None) -> Spectrum:
    """``k`` extreme eigenvalues of the Hessian by Lanczos (``scipy.sparse.linalg.eigsh``).

    ``which``: ``"LA"`` the largest (algebraic), sorted descending; ``"SA"`` the smallest,
    sorted ascending; ``"LM"`` the largest in magnitude, sorted by descending ``|lambda|``.
    ``fun_or_op`` is a function or bound objective (see :func:`hvp`), a
    :class:`HessianOperator` or any square ``LinearOperator`` (then ``theta`` may be omitted);
    or pass ``hvp_fn`` with ``theta``. ``tol`` is ARPACK's relative tolerance on the Ritz pairs
    (0 = machine precision, which a finite-difference operator may never reach); the start
    vector is drawn from ``seed``.

    Returns a :class:`Spectrum`: ``eigenvalues`` ndarray (k,), ``eigenvectors`` (n, k) ndarray
    or None, ``which``, ``k``, ``n_hvp`` (products used), ``converged`` and ``exact``. When
    ARPACK stops at ``maxiter`` the converged pairs found so far are returned with
    ``converged=False``.
    """
    k, which, tol, maxiter, seed = _spectrum_args(k, which, tol, maxiter, seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn, products, matrix)
    start = op.n_products
    vals, vecs, converged = _eigsh(op, k, which, tol, maxiter, seed, ncv)
    return Spectrum(
        eigenvalues=vals,
        eigenvectors=vecs if return_eigenvectors else None,
        which=which,
        k=k,
        n_hvp=op.n_products - start,
        converged=bool(converged),
        exact=bool(op.exact),
        matrix=op.matrix,
    )


def extreme_eigenvalues(fun_or_op=None, theta=None, k: int = 5, tol: float = DEFAULT_TOL,
                        maxiter: int | None = None, seed: int = 0, *,
                        return_eigenvectors: bool = False, eps=None, hvp_fn=None,
                        products=None, matrix=None) -> Extremes:
    """The ``k`` largest eigenvalues (descending) and the smallest (algebraic) one.

    Two Lanczos runs on the same operator (``"LA"`` with ``k``, then ``"SA"`` with 1). Returns
    an :class:`Extremes`: ``top`` ndarray (k,), ``bottom`` float, ``n_hvp``, ``converged``,
    ``exact``, plus ``top_vectors`` (n, k) and ``bottom_vector`` (n,) when
    ``return_eigenvectors`` (None otherwise). When ARPACK stops at ``maxiter``, ``converged``
    is False, ``top`` holds the pairs that did converge (possibly none) and ``bottom`` is NaN
    if the smallest was not found.
    """
    k, _, tol, maxiter, seed = _spectrum_args(k, "LA", tol, maxiter, seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn, products, matrix)
    _check_k(k, op.shape[0])
    start = op.n_products
    top, top_vecs, ok_top = _eigsh(op, k, "LA", tol, maxiter, seed, None)
    bottom, bottom_vecs, ok_bottom = _eigsh(op, 1, "SA", tol, maxiter, seed, None)
    return Extremes(
        top=top,
        bottom=float(bottom[0]) if bottom.size else float("nan"),
        n_hvp=op.n_products - start,
        converged=bool(ok_top and ok_bottom and bottom.size),
        exact=bool(op.exact),
        matrix=op.matrix,
        top_vectors=top_vecs if return_eigenvectors else None,
        bottom_vector=bottom_vecs[:, 0] if return_eigenvectors and bottom.size else None,
    )


# --------------------------------------------------------------------------- trace
def hutchinson_trace(fun_or_op=None, theta=None, n_samples: int = 100, seed: int = 0, *,
                     eps=None, hvp_fn=None, products=None, matrix=None) -> TraceEstimate:
    """Hutchinson's estimate of ``tr H``: the mean of ``z^T H z`` over Rademacher probes ``z``.

    Since ``E[z z^T] = I`` each sample is unbiased; the variance of one sample is
    ``2 (||H||_F^2 - sum_i H_ii^2)`` (zero for a diagonal ``H``). Returns a
    :class:`TraceEstimate`: ``trace`` (the mean), ``stderr`` (``std(samples, ddof=1) /
    sqrt(m)``), ``samples`` ndarray (m,), ``n_samples`` = m, ``n_hvp`` and ``exact``; the
    probes come from ``numpy.random.default_rng(seed)``.
    """
    m = checks.positive_int(n_samples, "n_samples")
    if m < 2:
        raise InputError(f"n_samples must be at least 2 to estimate the standard error, got {m}")
    seed = _seed(seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn, products, matrix)
    n = op.shape[0]
    rng = np.random.default_rng(seed)
    start = op.n_products
    samples = np.empty(m)
    for i in range(m):
        z = rademacher(rng, n)
        samples[i] = float(z @ op.product(z))
    return TraceEstimate(
        trace=float(samples.mean()),
        stderr=float(samples.std(ddof=1) / np.sqrt(m)),
        samples=samples,
        n_samples=m,
        n_hvp=op.n_products - start,
        exact=bool(op.exact),
        matrix=op.matrix,
    )


def rademacher(rng: np.random.Generator, n: int) -> np.ndarray:
    """A Rademacher probe: ``n`` independent signs +-1 (float64), as every trace estimate
    here draws them (so equal seeds give equal probes)."""
    return rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0


# --------------------------------------------------------------------------- conditioning
def _definiteness(lmax: float, lmin: float, zero: float) -> str:
    """The sign pattern of the spectrum ``[lmin, lmax]``, ``|lambda| <= zero`` counting as 0."""
    pos_max, neg_min = lmax > zero, lmin < -zero
    if lmin > zero:
        return "positive definite"
    if pos_max and not neg_min:
        return "positive semidefinite"
    if pos_max and neg_min:
        return "indefinite"
    if neg_min and lmax < -zero:
        return "negative definite"
    if neg_min:
        return "negative semidefinite"
    return "zero"


def condition_from_extremes(lambda_max: float, lambda_min: float,
                            zero_tol: float = DEFAULT_ZERO_TOL) -> Conditioning:
    """Condition number and step-size advice from the two extreme Hessian eigenvalues.

    An eigenvalue with ``|lambda| <= zero_tol * max(|lambda_max|, |lambda_min|)`` counts as
    zero (finite-difference products resolve eigenvalues only to about 1e-9 of the largest).

    On a quadratic with spectrum in ``[mu, L]`` (``mu = lambda_min > 0``, ``L = lambda_max``,
    ``kappa = L / mu``):

    - gradient descent with step ``a`` is stable iff ``0 < a < 2 / L`` (``max_stable_step``),
      whatever ``mu``; the best fixed step ``2 / (L + mu)`` (``optimal_gd_step``) contracts
      the error by ``(kappa - 1) / (kappa + 1)`` per step (``gd_contraction``), so a large
      ``kappa`` means slow progress along the flat directions;
    - heavy-ball momentum with ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2``
      (``heavy_ball_momentum``) and step ``4 / (sqrt(L) + sqrt(mu))^2`` (``heavy_ball_step``)
      contracts by ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)`` (``heavy_ball_contraction``);
      momentum ``beta`` raises the stable step bound to ``2 (1 + beta) / L``.

    When ``lambda_min <= 0`` the condition number is reported as ``inf``; with
    ``lambda_min < 0 < lambda_max`` the Hessian is indefinite (a saddle region): descent
    moves away from the point along the negative directions, growing like
    ``(1 + a |lambda_min|)^t``, and only ``2 / L`` still bounds the step. Returns a
    :class:`Conditioning` (``n_hvp`` and ``converged`` None).
    """
    lmax, lmin = float(lambda_max), float(lambda_min)
    if not (np.isfinite(lmax) and np.isfinite(lmin)):
        raise InputError(f"eigenvalues must be finite, got lambda_max={lambda_max!r}, "
                         f"lambda_min={lambda_min!r}")
    if lmin > lmax:
        raise InputError(f"lambda_min={lmin} exceeds lambda_max={lmax}")
    zero_tol = checks.nonneg_float(zero_tol, "zero_tol")
    zero = zero_tol * max(abs(lmax), abs(lmin))
    definiteness = _definiteness(lmax, lmin, zero)
    pd = definiteness == "positive definite"
    base = Conditioning(
        lambda_max=lmax,
        lambda_min=lmin,
        condition_number=lmax / lmin if pd else float("inf"),
        definiteness=definiteness,
        positive_definite=pd,
        indefinite=definiteness == "indefinite",
        max_stable_step=2.0 / lmax if lmax > zero else None,
    )
    if not pd:
        return base
    kappa = lmax / lmin
    rk = float(np.sqrt(kappa))
    return dataclasses.replace(
        base,
        optimal_gd_step=2.0 / (lmax + lmin),
        gd_contraction=(kappa - 1.0) / (kappa + 1.0),
        heavy_ball_step=float(4.0 / (np.sqrt(lmax) + np.sqrt(lmin)) ** 2),
        heavy_ball_momentum=((rk - 1.0) / (rk + 1.0)) ** 2,
        heavy_ball_contraction=(rk - 1.0) / (rk + 1.0),
    )


def _unknown_condition(lambda_max, lambda_min) -> Conditioning:
    """The :class:`Conditioning` when Lanczos did not converge (None = not known; a partial
    extreme is kept when finite)."""
    known = [None if x is None or not np.isfinite(x) else float(x)
             for x in (lambda_max, lambda_min)]
    return Conditioning(lambda_max=known[0], lambda_min=known[1], condition_number=None,
                        definiteness="unknown", positive_definite=False, indefinite=False)


def _conditioning(ext: Extremes, zero_tol: float) -> Conditioning:
    """:func:`condition_from_extremes` of a converged Lanczos result, else the unknown one."""
    lmax = float(ext.top[0]) if ext.top.size else float("nan")
    if not ext.converged or not np.isfinite(lmax) or not np.isfinite(ext.bottom):
        return _unknown_condition(lmax, ext.bottom)
    return condition_from_extremes(lmax, min(ext.bottom, lmax), zero_tol)


def condition_number(fun_or_op=None, theta=None, *, tol: float = DEFAULT_TOL,
                     maxiter: int | None = None, seed: int = 0, eps=None, hvp_fn=None,
                     zero_tol: float = DEFAULT_ZERO_TOL, products=None,
                     matrix=None) -> Conditioning:
    """``lambda_max / lambda_min`` of the Hessian, or ``inf`` when it is not positive definite.

    Finds the largest and the smallest algebraic eigenvalue (two Lanczos runs) and returns
    :func:`condition_from_extremes` of them (signed extremes, ``definiteness``,
    ``indefinite``, ``max_stable_step = 2 / lambda_max`` and the momentum advice documented
    there) with ``n_hvp`` and ``converged`` set. If Lanczos does not converge within
    ``maxiter``, ``converged`` is False, ``definiteness`` is ``"unknown"`` and the numbers that
    could not be found are None.
    """
    zero_tol = checks.nonneg_float(zero_tol, "zero_tol")
    ext = extreme_eigenvalues(fun_or_op, theta, k=1, tol=tol, maxiter=maxiter, seed=seed,
                              eps=eps, hvp_fn=hvp_fn, products=products, matrix=matrix)
    return dataclasses.replace(_conditioning(ext, zero_tol), n_hvp=int(ext.n_hvp),
                               converged=bool(ext.converged))


# --------------------------------------------------------------------------- reports
def _report(op: HessianOperator, top, trace, n_samples, seed, tol, maxiter,
            zero_tol) -> CurvatureReport:
    t0 = time.perf_counter()
    start = op.n_products
    evals_start = op.n_grad_evals
    at = op.loss_and_grad()
    ext = extreme_eigenvalues(op, None, k=top, tol=tol, maxiter=maxiter, seed=seed)
    estimate = hutchinson_trace(op, None, n_samples=n_samples, seed=seed) if trace else None
    return CurvatureReport(
        n_params=int(op.shape[0]),
        exact=bool(op.exact),
        step=None if op.step is None else float(op.step),
        loss=None if at is None else at[0],
        grad_norm=None if at is None else float(np.linalg.norm(at[1])),
        eigenvalues=tuple(float(x) for x in ext.top),
        bottom_eigenvalue=float(ext.bottom) if np.isfinite(ext.bottom) else None,
        condition=_conditioning(ext, zero_tol),
        trace=estimate,
        converged=bool(ext.converged),
        n_hvp=int(op.n_products - start),
        n_grad_evals=int(op.n_grad_evals - evals_start),
        seconds=float(time.perf_counter() - t0),
        matrix=op.matrix,
    )


def _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol):
    top = checks.positive_int(top, "top")
    n_samples = checks.positive_int(n_samples, "n_samples")
    if trace and n_samples < 2:
        raise InputError(f"n_samples must be at least 2 to estimate the standard error, "
                         f"got {n_samples}")
    return (top, bool(trace), n_samples, _seed(seed), checks.nonneg_float(tol, "tol"),
            _maxiter(maxiter), checks.nonneg_float(zero_tol, "zero_tol"))


def curvature_report(fun=None, theta=None, top: int = 5, trace: bool = False,
                     n_samples: int = 50, seed: int = 0, *, eps=None, hvp_fn=None,
                     tol: float = DEFAULT_TOL, maxiter: int | None = None,
                     zero_tol: float = DEFAULT_ZERO_TOL, products=None,
                     matrix=None) -> CurvatureReport:
    """A summary of the curvature at ``theta`` (a :class:`CurvatureReport`).

    Fields: ``n_params``, ``exact`` (True with ``hvp_fn`` or an objective offering an exact
    product), ``step`` (the difference step length, None when exact), ``loss`` and
    ``grad_norm`` at ``theta`` (None without a function), ``eigenvalues`` (a tuple of the
    ``top`` largest, descending), ``bottom_eigenvalue``, ``condition`` (a
    :class:`Conditioning`, see :func:`condition_from_extremes`; ``condition_number`` is ``inf``
    unless positive definite), ``trace`` (a :class:`TraceEstimate` from ``n_samples`` probes
    when ``trace``, else None), ``converged``, ``n_hvp``, ``n_grad_evals`` and ``seconds``. If
    Lanczos stops at ``maxiter`` before converging, ``converged`` is False and what was not
    found is None (or missing from ``eigenvalues``); ``to_dict()`` never holds NaN or
    infinity. ``products`` and ``matrix`` are those of :class:`HessianOperator`
    (``matrix="ggn"``: the report is on the Gauss-Newton matrix).
    """
    args = _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol)
    op = _operator(fun, theta, eps, hvp_fn, products, matrix)
    _check_k(args[0], op.shape[0], "top")
    return _report(op, *args)


def _points(thetas) -> list[np.ndarray]:
    """The parameter vectors of ``thetas`` (a sequence of 1-D vectors or a 2-D array),
    checked to be finite, floating and of one length, copied to float64."""
    if thetas is None:
        raise InputError("thetas is required: a sequence of parameter vectors or a 2-D array")
    if isinstance(thetas, np.ndarray):
        if thetas.ndim != 2:
            raise InputError(f"thetas as an array must be 2-D (one vector per row), got shape "
                             f"{thetas.shape}")
        points = list(thetas)
    elif isinstance(thetas, Sequence) and not isinstance(thetas, str):
        points = list(thetas)
    elif hasattr(thetas, "__iter__") and not isinstance(thetas, str):
        points = list(thetas)
    else:
        raise InputError(f"thetas must be a sequence of parameter vectors, got "
                         f"{type(thetas).__name__}")
    if not points:
        raise InputError("thetas is empty; pass at least one parameter vector")
    first = _point(points[0], "thetas[0]")
    n = first.shape[0]
    rest = [check_theta(p, size=n, what=f"thetas[{i}]", finite=True)
            for i, p in enumerate(points[1:], start=1)]
    return [first] + [np.array(p, dtype=np.float64, copy=True) for p in rest]


def _steps(steps, count: int) -> tuple[int, ...]:
    """``steps`` as a tuple of ``count`` integers (``0 .. count - 1`` when None)."""
    if steps is None:
        return tuple(range(count))
    if isinstance(steps, str) or not hasattr(steps, "__iter__"):
        raise InputError(f"steps must be a sequence of integers (one per point), got "
                         f"{type(steps).__name__}")
    steps = list(steps.tolist() if isinstance(steps, np.ndarray) else steps)
    if len(steps) != count:
        raise InputError(f"steps has {len(steps)} entries but thetas has {count} points; pass "
                         f"one step per point")
    for i, step in enumerate(steps):
        if isinstance(step, bool) or not isinstance(step, (int, np.integer)):
            raise InputError(f"steps[{i}] must be an integer (a training step), got {step!r}")
    return tuple(int(step) for step in steps)


def curvature_along_path(fun=None, thetas=None, top: int = 1, trace: bool = False,
                         n_samples: int = 50, seed: int = 0, *, eps=None, hvp_fn=None,
                         tol: float = DEFAULT_TOL, maxiter: int | None = None,
                         zero_tol: float = DEFAULT_ZERO_TOL, steps=None, products=None,
                         matrix=None) -> CurvaturePath:
    """:func:`curvature_report` at each of a sequence of parameter vectors (e.g. checkpoints).

    ``thetas`` is a sequence of 1-D vectors of equal length or a 2-D array with one vector per
    row. The same ``seed`` is used at every point (common random numbers, so differences
    between points are not probe noise). Here ``hvp_fn``, if given, takes two arguments:
    ``hvp_fn(theta, v) -> H(theta) v``. ``steps`` labels the points (e.g. the training steps
    of the checkpoints; one integer per point, default the index). Returns a
    :class:`CurvaturePath` of the reports and their steps.
    """
    args = _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol)
    _choices(products, matrix)  # checked before any work
    points = _points(thetas)
    labels = _steps(steps, len(points))
    if hvp_fn is not None and not callable(hvp_fn):
        raise InputError(f"hvp_fn must be a callable (theta, v) -> H(theta) v, got "
                         f"{type(hvp_fn).__name__}")
    if fun is None and hvp_fn is None:
        raise InputError("pass fun (a callable theta -> (loss, grad), an object with "
                         ".loss_and_grad, or a bound objective) or hvp_fn "
                         "((theta, v) -> H(theta) v)")
    _check_k(args[0], points[0].shape[0], "top")
    bound = None if fun is None else bind(fun)
    reports = []
    for point in points:
        if hvp_fn is not None:
            op = HessianOperator(bound, point, hvp_fn=lambda v, p=point: hvp_fn(p, v),
                                 products=products, matrix=matrix)
        else:
            op = HessianOperator(bound, point, eps, products=products, matrix=matrix)
        reports.append(_report(op, *args))
    return CurvaturePath(reports=tuple(reports), steps=labels)


@dataclass(frozen=True)
class TopEigenpair(Result):
    """The largest eigenvalue found by :func:`top_eigenpair`, its vector and the cost."""

    value: float
    vector: np.ndarray
    n_hvp: int
    converged: bool
    residual: float

    _omit = ("vector",)


def top_eigenpair(fun_or_op=None, theta=None, start=None, tol: float = 1e-3,
                  max_steps: int = 40, seed: int = 0, *, products=None,
                  matrix=None) -> TopEigenpair:
    """The largest (algebraic) eigenvalue by Lanczos from ``start``, stopping as soon as the
    Ritz pair's residual ``||H v - lambda v||`` falls below ``tol * |lambda|``.

    Warm-started from the previous eigenvector (``start``), as the sharpness tracker does
    every few training steps, it converges in a few products where ARPACK would always build
    its whole basis first. Full reorthogonalization; ``start`` defaults to a random vector.
    """
    from scipy.linalg import eigh_tridiagonal

    op = _operator(fun_or_op, theta, None, None, products, matrix)
    n = op.shape[0]
    tol = checks.nonneg_float(tol, "tol")
    steps = min(checks.positive_int(max_steps, "max_steps"), n)
    q = (np.random.default_rng(_seed(seed)).standard_normal(n) if start is None
         else check_theta(start, size=n, what="start", finite=True).astype(np.float64))
    q = q / np.linalg.norm(q)
    basis, alpha, beta = [], [], []
    value, vector, residual = float("nan"), q, float("inf")
    for j in range(steps):
        basis.append(q)
        w = op.product(q)
        alpha.append(float(q @ w))
        Q = np.array(basis)
        for _ in range(2):
            w -= Q.T @ (Q @ w)
        b = float(np.linalg.norm(w))
        vals, vecs = (np.array(alpha), np.ones((1, 1))) if j == 0 else eigh_tridiagonal(
            np.array(alpha), np.array(beta))
        value, s = float(vals[-1]), vecs[:, -1]
        residual = abs(b * s[-1])
        vector = Q.T @ s
        if residual <= tol * abs(value) or b <= 1e-12 * max(abs(value), 1.0):
            return TopEigenpair(value, vector, op.n_products, True, residual)
        beta.append(b)
        q = w / b
    return TopEigenpair(value, vector, op.n_products, False, residual)
