"""Curvature of the loss at a point: Hessian-vector products, extreme eigenvalues, trace.

Everything here is built on one primitive, the Hessian-vector product ``H v``. By default it
comes from central differences of the analytic gradient::

    H v  ~=  (g(theta + e v) - g(theta - e v)) / (2 e)

which costs two gradient evaluations and never forms ``H``. From it:

- :class:`HessianOperator` wraps the product as a ``scipy.sparse.linalg.LinearOperator`` that
  counts how many products were taken;
- :func:`top_eigenvalues` / :func:`extreme_eigenvalues` run Lanczos (``eigsh``, ARPACK) on it;
- :func:`hutchinson_trace` estimates ``tr H`` from Rademacher probes ``z^T H z``;
- :func:`condition_number` turns the two extremes into a condition number and step-size advice;
- :func:`curvature_report` / :func:`curvature_along_path` bundle all of that into JSON-able
  dictionaries, at one point or at a sequence of checkpoints;
- :func:`dense_hessian` forms the whole matrix column by column, for small models and tests.

Where the Hessian-vector product is known exactly (a quadratic, or any model for which the
user has an exact product), every function accepts ``hvp_fn`` -- a callable ``v -> H v`` --
in place of ``fun``; nothing is then differenced.

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

All computation runs in float64: ``theta`` is copied to float64 before any gradient call, so a
steepest ``Objective`` (which computes in ``theta``'s dtype) runs in double precision.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import numpy as np
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from .. import _validate as V
from ..errors import InputError
from ..nn.model import Model

__all__ = [
    "HessianOperator",
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
DEFAULT_TOL = 1e-6
DEFAULT_ZERO_TOL = 1e-7


# --------------------------------------------------------------------------- boundary checks
def _theta(theta, name: str = "theta") -> np.ndarray:
    """A finite, non-empty 1-D vector, copied to float64."""
    if theta is None:
        raise InputError(f"{name} is required: pass the parameter vector (a 1-D array)")
    arr = np.asarray(theta)
    if arr.ndim != 1 or arr.shape[0] == 0:
        raise InputError(f"{name} must be a non-empty 1-D parameter vector, got shape {arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name} must be numeric (real), got dtype {arr.dtype}")
    out = np.array(arr, dtype=np.float64, copy=True)
    if not np.isfinite(out).all():
        bad = int(out.size - np.count_nonzero(np.isfinite(out)))
        raise InputError(f"{name} contains {bad} NaN or infinite value(s); it must be finite")
    return out


def _vector(v, n: int, name: str = "v") -> np.ndarray:
    arr = np.asarray(v)
    if arr.ndim == 2 and 1 in arr.shape:
        arr = arr.reshape(-1)
    if arr.shape != (n,):
        raise InputError(f"{name} must be a vector of {n} entries (like theta), got shape "
                         f"{arr.shape}")
    if not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)):
        raise InputError(f"{name} must be numeric (real), got dtype {arr.dtype}")
    out = np.asarray(arr, dtype=np.float64)
    if not np.isfinite(out).all():
        raise InputError(f"{name} contains NaN or infinite values; it must be finite")
    return out


def _step(eps) -> float | None:
    if eps is None:
        return None
    e = V.nonneg_float(eps, "eps")
    if e == 0:
        raise InputError(f"eps must be a positive step length, got {eps!r}")
    return e


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return int(seed)


def _maxiter(maxiter) -> int | None:
    return None if maxiter is None else V.positive_int(maxiter, "maxiter")


def _gradient(fun) -> Callable[[np.ndarray], tuple[float, np.ndarray]]:
    """``theta -> (loss, grad)`` from a callable or an object with ``.loss_and_grad``."""
    if isinstance(fun, Model):
        raise InputError(
            "fun is a Model, whose loss_and_grad needs data; pass model.objective(X, y, "
            "train=False) (or any callable theta -> (loss, grad)) instead"
        )
    method = getattr(fun, "loss_and_grad", None)
    if callable(method):
        return method
    if callable(fun):
        return fun
    raise InputError(
        f"fun must be a callable theta -> (loss, grad) or an object with .loss_and_grad, "
        f"got {type(fun).__name__}"
    )


def default_step(theta) -> float:
    """The default finite-difference step length ``cbrt(eps_mach) * (1 + ||theta||)``."""
    return _STEP_SCALE * (1.0 + float(np.linalg.norm(np.asarray(theta, dtype=np.float64))))


# --------------------------------------------------------------------------- the operator
class HessianOperator(LinearOperator):
    """The Hessian of ``fun`` at ``theta`` as an (n, n) float64 ``LinearOperator``.

    Products come from central differences of ``fun``'s gradient (see the module docstring for
    the step ``eps``) or, when ``hvp_fn`` is given, from that exact product ``v -> H v`` (then
    ``fun`` may be None and ``theta`` only fixes ``n``). ``n_products`` counts the vectors
    multiplied so far and ``n_grad_evals`` the gradient evaluations they cost. The operator is
    its own adjoint (the differenced Hessian is symmetric up to the difference error).
    """

    def __init__(self, fun=None, theta=None, eps=None, *, hvp_fn=None):
        theta = _theta(theta)
        n = theta.shape[0]
        super().__init__(dtype=np.dtype(np.float64), shape=(n, n))
        self.theta = theta
        self.n_products = 0
        self.n_grad_evals = 0
        if hvp_fn is not None:
            if not callable(hvp_fn):
                raise InputError(f"hvp_fn must be a callable v -> H v, got "
                                 f"{type(hvp_fn).__name__}")
            self.exact = True
            self._hvp_fn = hvp_fn
            self._fun = None if fun is None else _gradient(fun)
            self.step = None
        else:
            if fun is None:
                raise InputError("pass fun (a callable theta -> (loss, grad), or an object with "
                                 ".loss_and_grad) or hvp_fn (a callable v -> H v)")
            self.exact = False
            self._hvp_fn = None
            self._fun = _gradient(fun)
            step = _step(eps)
            self.step = default_step(theta) if step is None else step

    def _call(self, point: np.ndarray):
        out = self._fun(point)
        try:
            loss, g = out
        except (TypeError, ValueError):
            raise InputError(
                f"fun must return a pair (loss, grad), got {type(out).__name__}"
            ) from None
        g = np.array(g, dtype=np.float64, copy=True)
        if g.shape != self.theta.shape:
            raise InputError(f"fun returned a gradient of shape {g.shape}, expected "
                             f"{self.theta.shape} (the shape of theta)")
        self.n_grad_evals += 1
        return loss, g

    def _grad(self, point: np.ndarray) -> np.ndarray:
        """The gradient of ``fun`` at ``point``, checked and copied to float64."""
        return self._call(point)[1]

    def loss_and_grad(self) -> tuple[float, np.ndarray] | None:
        """``(loss, grad)`` at ``theta`` when a function is known, else None."""
        if self._fun is None:
            return None
        loss, g = self._call(self.theta.copy())
        return float(loss), g

    def product(self, v: np.ndarray) -> np.ndarray:
        """``H v`` for one float64 vector ``v`` of length n (counted)."""
        n = self.shape[0]
        if self.exact:
            out = self._hvp_fn(v.copy())
            hv = np.asarray(out, dtype=np.float64).reshape(-1)
            if hv.shape != (n,):
                raise InputError(f"hvp_fn returned shape {np.shape(out)}, expected ({n},)")
        else:
            norm = float(np.linalg.norm(v))
            if norm == 0.0:
                hv = np.zeros(n)
            else:
                e = self.step / norm
                g_plus = self._grad(self.theta + e * v)
                g_minus = self._grad(self.theta - e * v)
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


def _operator(fun_or_op, theta, eps, hvp_fn) -> HessianOperator:
    """Resolve the (fun | operator | hvp_fn) argument triple of the public functions."""
    if isinstance(fun_or_op, HessianOperator):
        op = fun_or_op
    elif isinstance(fun_or_op, LinearOperator):
        shape = fun_or_op.shape
        if len(shape) != 2 or shape[0] != shape[1]:
            raise InputError(f"the operator must be square, got shape {shape}")
        op = HessianOperator(None, np.zeros(shape[0]), hvp_fn=fun_or_op.matvec)
        op.theta = None
    else:
        if fun_or_op is None and hvp_fn is None:
            raise InputError("pass fun (a callable theta -> (loss, grad), or an object with "
                             ".loss_and_grad), a HessianOperator, or hvp_fn (v -> H v)")
        return HessianOperator(fun_or_op, theta, eps, hvp_fn=hvp_fn)
    if theta is not None:
        n = op.shape[0]
        if np.shape(theta) != (n,):
            raise InputError(f"theta has shape {np.shape(theta)} but the operator is {n}x{n}")
    return op


# --------------------------------------------------------------------------- products
def hvp(fun=None, theta=None, v=None, eps=None, *, hvp_fn=None) -> np.ndarray:
    """The Hessian-vector product ``H(theta) v`` in float64.

    ``fun`` is a callable ``theta -> (loss, grad)`` or an object with ``.loss_and_grad`` (a
    steepest ``Objective``); the product is the central difference
    ``(g(theta + e v) - g(theta - e v)) / (2 e)`` with ``e = eps / ||v||``, i.e. a step of
    length ``eps`` (default ``cbrt(eps_mach) (1 + ||theta||)``; error O(eps^2), see the module
    docstring). With ``hvp_fn`` (``v -> H v``) that exact product is returned instead.
    """
    if v is None:
        raise InputError("v is required: the vector to multiply by the Hessian")
    if hvp_fn is not None and theta is None and fun is None:
        theta = np.zeros(np.size(v))  # only the length matters on the exact path
    op = _operator(fun, theta, eps, hvp_fn)
    return op.product(_vector(v, op.shape[0]))


def dense_hessian(fun=None, theta=None, eps=None, *, hvp_fn=None, symmetrize: bool = True,
                  max_params: int = 4096) -> np.ndarray:
    """The full (n, n) Hessian, column ``i`` being ``H e_i`` (2n gradient evaluations).

    The finite-difference matrix is symmetric only up to the difference error; with
    ``symmetrize`` (default) ``(H + H^T) / 2`` is returned. Meant for small models and tests:
    models with more than ``max_params`` parameters are refused.
    """
    op = _operator(fun, theta, eps, hvp_fn)
    n = op.shape[0]
    max_params = V.positive_int(max_params, "max_params")
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
        ncv = V.positive_int(ncv, "ncv")
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
    k = V.positive_int(k, "k")
    which = V.choice(which, WHICH, "which")
    tol = V.nonneg_float(tol, "tol")
    return k, which, tol, _maxiter(maxiter), _seed(seed)


def top_eigenvalues(fun_or_op=None, theta=None, k: int = 5, which: str = "LA",
                    tol: float = DEFAULT_TOL, maxiter: int | None = None, seed: int = 0, *,
                    return_eigenvectors: bool = False, eps=None, hvp_fn=None,
                    ncv: int | None = None) -> dict:
    """``k`` extreme eigenvalues of the Hessian by Lanczos (``scipy.sparse.linalg.eigsh``).

    ``which``: ``"LA"`` the largest (algebraic), sorted descending; ``"SA"`` the smallest,
    sorted ascending; ``"LM"`` the largest in magnitude, sorted by descending ``|lambda|``.
    ``fun_or_op`` is a function (see :func:`hvp`), a :class:`HessianOperator` or any square
    ``LinearOperator`` (then ``theta`` may be omitted); or pass ``hvp_fn`` with ``theta``.
    ``tol`` is ARPACK's relative tolerance on the Ritz pairs (0 = machine precision, which a
    finite-difference operator may never reach); the start vector is drawn from ``seed``.

    Returns ``{"eigenvalues": ndarray (k,), "eigenvectors": (n, k) ndarray or None, "which",
    "k", "n_hvp": products used, "converged": bool, "exact": bool}``. When ARPACK stops at
    ``maxiter`` the converged pairs found so far are returned with ``converged=False``.
    """
    k, which, tol, maxiter, seed = _spectrum_args(k, which, tol, maxiter, seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn)
    start = op.n_products
    vals, vecs, converged = _eigsh(op, k, which, tol, maxiter, seed, ncv)
    return {
        "eigenvalues": vals,
        "eigenvectors": vecs if return_eigenvectors else None,
        "which": which,
        "k": k,
        "n_hvp": op.n_products - start,
        "converged": converged,
        "exact": op.exact,
    }


def extreme_eigenvalues(fun_or_op=None, theta=None, k: int = 5, tol: float = DEFAULT_TOL,
                        maxiter: int | None = None, seed: int = 0, *,
                        return_eigenvectors: bool = False, eps=None, hvp_fn=None) -> dict:
    """The ``k`` largest eigenvalues (descending) and the smallest (algebraic) one.

    Two Lanczos runs on the same operator (``"LA"`` with ``k``, then ``"SA"`` with 1). Returns
    ``{"top": ndarray (k,), "bottom": float, "n_hvp", "converged", "exact"}`` plus
    ``"top_vectors"`` (n, k) and ``"bottom_vector"`` (n,) when ``return_eigenvectors``. When
    ARPACK stops at ``maxiter``, ``converged`` is False, ``top`` holds the pairs that did
    converge (possibly none) and ``bottom`` is NaN if the smallest was not found.
    """
    k, _, tol, maxiter, seed = _spectrum_args(k, "LA", tol, maxiter, seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn)
    _check_k(k, op.shape[0])
    start = op.n_products
    top, top_vecs, ok_top = _eigsh(op, k, "LA", tol, maxiter, seed, None)
    bottom, bottom_vecs, ok_bottom = _eigsh(op, 1, "SA", tol, maxiter, seed, None)
    out = {
        "top": top,
        "bottom": float(bottom[0]) if bottom.size else float("nan"),
        "n_hvp": op.n_products - start,
        "converged": bool(ok_top and ok_bottom and bottom.size),
        "exact": op.exact,
    }
    if return_eigenvectors:
        out["top_vectors"] = top_vecs
        out["bottom_vector"] = bottom_vecs[:, 0] if bottom.size else None
    return out


# --------------------------------------------------------------------------- trace
def hutchinson_trace(fun_or_op=None, theta=None, n_samples: int = 100, seed: int = 0, *,
                     eps=None, hvp_fn=None) -> dict:
    """Hutchinson's estimate of ``tr H``: the mean of ``z^T H z`` over Rademacher probes ``z``.

    Since ``E[z z^T] = I`` each sample is unbiased; the variance of one sample is
    ``2 (||H||_F^2 - sum_i H_ii^2)`` (zero for a diagonal ``H``). Returns ``{"trace": mean,
    "stderr": std(samples, ddof=1) / sqrt(m), "samples": ndarray (m,), "n_samples": m,
    "n_hvp", "exact"}``; the probes come from ``numpy.random.default_rng(seed)``.
    """
    m = V.positive_int(n_samples, "n_samples")
    if m < 2:
        raise InputError(f"n_samples must be at least 2 to estimate the standard error, got {m}")
    seed = _seed(seed)
    op = _operator(fun_or_op, theta, eps, hvp_fn)
    n = op.shape[0]
    rng = np.random.default_rng(seed)
    start = op.n_products
    samples = np.empty(m)
    for i in range(m):
        z = rng.integers(0, 2, size=n).astype(np.float64) * 2.0 - 1.0
        samples[i] = float(z @ op.product(z))
    return {
        "trace": float(samples.mean()),
        "stderr": float(samples.std(ddof=1) / np.sqrt(m)),
        "samples": samples,
        "n_samples": m,
        "n_hvp": op.n_products - start,
        "exact": op.exact,
    }


# --------------------------------------------------------------------------- conditioning
def condition_from_extremes(lambda_max: float, lambda_min: float,
                            zero_tol: float = DEFAULT_ZERO_TOL) -> dict:
    """Condition number and step-size advice from the two extreme Hessian eigenvalues.

    An eigenvalue with ``|lambda| <= zero_tol * max(|lambda_max|, |lambda_min|)`` counts as
    zero (finite-difference products resolve eigenvalues only to about 1e-9 of the largest).

    On a quadratic with spectrum in ``[mu, L]`` (``mu = lambda_min > 0``, ``L = lambda_max``,
    ``kappa = L / mu``):

    - gradient descent with step ``a`` is stable iff ``0 < a < 2 / L`` (``max_stable_step``),
      whatever ``mu``; the best fixed step ``2 / (L + mu)`` contracts the error by
      ``(kappa - 1) / (kappa + 1)`` per step (``gd_contraction``), so a large ``kappa`` means
      slow progress along the flat directions;
    - heavy-ball momentum with ``beta = ((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2`` and step
      ``4 / (sqrt(L) + sqrt(mu))^2`` contracts by ``(sqrt(kappa) - 1) / (sqrt(kappa) + 1)``
      (``heavy_ball_contraction``); momentum ``beta`` raises the stable step bound to
      ``2 (1 + beta) / L``.

    When ``lambda_min <= 0`` the condition number is reported as ``inf``; with
    ``lambda_min < 0 < lambda_max`` the Hessian is indefinite (a saddle region): descent
    moves away from the point along the negative directions, growing like
    ``(1 + a |lambda_min|)^t``, and only ``2 / L`` still bounds the step.
    """
    lmax, lmin = float(lambda_max), float(lambda_min)
    if not (np.isfinite(lmax) and np.isfinite(lmin)):
        raise InputError(f"eigenvalues must be finite, got lambda_max={lambda_max!r}, "
                         f"lambda_min={lambda_min!r}")
    if lmin > lmax:
        raise InputError(f"lambda_min={lmin} exceeds lambda_max={lmax}")
    zero_tol = V.nonneg_float(zero_tol, "zero_tol")
    z = zero_tol * max(abs(lmax), abs(lmin))
    pos_max, neg_min = lmax > z, lmin < -z
    if lmin > z:
        definiteness = "positive definite"
    elif pos_max and not neg_min:
        definiteness = "positive semidefinite"
    elif pos_max and neg_min:
        definiteness = "indefinite"
    elif neg_min and lmax < -z:
        definiteness = "negative definite"
    elif neg_min:
        definiteness = "negative semidefinite"
    else:
        definiteness = "zero"
    pd = definiteness == "positive definite"
    out = {
        "lambda_max": lmax,
        "lambda_min": lmin,
        "condition_number": lmax / lmin if pd else float("inf"),
        "definiteness": definiteness,
        "positive_definite": pd,
        "indefinite": definiteness == "indefinite",
        "max_stable_step": 2.0 / lmax if pos_max else None,
        "optimal_gd_step": None,
        "gd_contraction": None,
        "heavy_ball_step": None,
        "heavy_ball_momentum": None,
        "heavy_ball_contraction": None,
    }
    if pd:
        kappa = lmax / lmin
        rk = np.sqrt(kappa)
        out["optimal_gd_step"] = 2.0 / (lmax + lmin)
        out["gd_contraction"] = (kappa - 1.0) / (kappa + 1.0)
        out["heavy_ball_step"] = 4.0 / (np.sqrt(lmax) + np.sqrt(lmin)) ** 2
        out["heavy_ball_momentum"] = float(((rk - 1.0) / (rk + 1.0)) ** 2)
        out["heavy_ball_contraction"] = float((rk - 1.0) / (rk + 1.0))
    return out


def _unknown_condition(lambda_max, lambda_min) -> dict:
    """The keys of :func:`condition_from_extremes` when Lanczos did not converge (None = not
    known; a partial extreme is kept when finite)."""
    known = [None if x is None or not np.isfinite(x) else float(x)
             for x in (lambda_max, lambda_min)]
    out = dict.fromkeys(_CONDITION_KEYS)
    out.update(lambda_max=known[0], lambda_min=known[1], definiteness="unknown",
               positive_definite=False, indefinite=False)
    return out


_CONDITION_KEYS = (
    "lambda_max", "lambda_min", "condition_number", "definiteness", "positive_definite",
    "indefinite", "max_stable_step", "optimal_gd_step", "gd_contraction", "heavy_ball_step",
    "heavy_ball_momentum", "heavy_ball_contraction",
)


def condition_number(fun_or_op=None, theta=None, *, tol: float = DEFAULT_TOL,
                     maxiter: int | None = None, seed: int = 0, eps=None, hvp_fn=None,
                     zero_tol: float = DEFAULT_ZERO_TOL) -> dict:
    """``lambda_max / lambda_min`` of the Hessian, or ``inf`` when it is not positive definite.

    Finds the largest and the smallest algebraic eigenvalue (two Lanczos runs) and returns
    :func:`condition_from_extremes` of them (signed extremes, ``definiteness``,
    ``indefinite``, ``max_stable_step = 2 / lambda_max`` and the momentum advice documented
    there) plus ``"n_hvp"`` and ``"converged"``. If Lanczos does not converge within
    ``maxiter``, ``converged`` is False, ``definiteness`` is ``"unknown"`` and the numbers that
    could not be found are None.
    """
    zero_tol = V.nonneg_float(zero_tol, "zero_tol")
    ext = extreme_eigenvalues(fun_or_op, theta, k=1, tol=tol, maxiter=maxiter, seed=seed,
                              eps=eps, hvp_fn=hvp_fn)
    lmax = float(ext["top"][0]) if ext["top"].size else float("nan")
    if not ext["converged"] or not np.isfinite(lmax) or not np.isfinite(ext["bottom"]):
        out = _unknown_condition(lmax, ext["bottom"])
    else:
        out = condition_from_extremes(lmax, min(ext["bottom"], lmax), zero_tol)
    out["n_hvp"] = ext["n_hvp"]
    out["converged"] = ext["converged"]
    return out


# --------------------------------------------------------------------------- reports
def _report(op: HessianOperator, top, trace, n_samples, seed, tol, maxiter, zero_tol) -> dict:
    t0 = time.perf_counter()
    n = op.shape[0]
    start = op.n_products
    evals_start = op.n_grad_evals
    at = op.loss_and_grad()
    ext = extreme_eigenvalues(op, None, k=top, tol=tol, maxiter=maxiter, seed=seed)
    top_vals = [float(x) for x in ext["top"]]
    bottom = float(ext["bottom"]) if np.isfinite(ext["bottom"]) else None
    if ext["converged"] and top_vals and bottom is not None:
        cond = condition_from_extremes(top_vals[0], min(bottom, top_vals[0]), zero_tol)
    else:
        cond = _unknown_condition(top_vals[0] if top_vals else None, bottom)
    cond = {key: (float(val) if isinstance(val, (float, np.floating)) else val)
            for key, val in cond.items()}
    tr = None
    if trace:
        h = hutchinson_trace(op, None, n_samples=n_samples, seed=seed)
        tr = {"estimate": h["trace"], "stderr": h["stderr"], "n_samples": h["n_samples"]}
    return {
        "n_params": int(n),
        "exact": bool(op.exact),
        "step": None if op.step is None else float(op.step),
        "loss": None if at is None else at[0],
        "grad_norm": None if at is None else float(np.linalg.norm(at[1])),
        "eigenvalues": top_vals,
        "bottom_eigenvalue": bottom,
        "condition": cond,
        "trace": tr,
        "converged": bool(ext["converged"]),
        "n_hvp": int(op.n_products - start),
        "n_grad_evals": int(op.n_grad_evals - evals_start),
        "seconds": float(time.perf_counter() - t0),
    }


def _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol):
    top = V.positive_int(top, "top")
    n_samples = V.positive_int(n_samples, "n_samples")
    if trace and n_samples < 2:
        raise InputError(f"n_samples must be at least 2 to estimate the standard error, "
                         f"got {n_samples}")
    return (top, bool(trace), n_samples, _seed(seed), V.nonneg_float(tol, "tol"),
            _maxiter(maxiter), V.nonneg_float(zero_tol, "zero_tol"))


def curvature_report(fun=None, theta=None, top: int = 5, trace: bool = False,
                     n_samples: int = 50, seed: int = 0, *, eps=None, hvp_fn=None,
                     tol: float = DEFAULT_TOL, maxiter: int | None = None,
                     zero_tol: float = DEFAULT_ZERO_TOL) -> dict:
    """A JSON-able summary of the curvature at ``theta`` (plain floats, ints, lists, None).

    Keys: ``n_params``, ``exact`` (True with ``hvp_fn``), ``step`` (the difference step
    length, None when exact), ``loss`` and ``grad_norm`` at ``theta`` (None without a
    function), ``eigenvalues`` (the ``top`` largest, descending), ``bottom_eigenvalue``,
    ``condition`` (see :func:`condition_from_extremes`; ``condition_number`` is ``inf`` unless
    positive definite), ``trace`` (``{"estimate", "stderr", "n_samples"}`` when ``trace``,
    else None), ``converged``, ``n_hvp``, ``n_grad_evals`` and ``seconds``. If Lanczos stops
    at ``maxiter`` before converging, ``converged`` is False and what was not found is None
    (or missing from ``eigenvalues``): the dictionary never holds NaN.
    """
    args = _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol)
    op = _operator(fun, theta, eps, hvp_fn)
    _check_k(args[0], op.shape[0], "top")
    return _report(op, *args)


def curvature_along_path(fun=None, thetas=None, top: int = 1, trace: bool = False,
                         n_samples: int = 50, seed: int = 0, *, eps=None, hvp_fn=None,
                         tol: float = DEFAULT_TOL, maxiter: int | None = None,
                         zero_tol: float = DEFAULT_ZERO_TOL) -> list[dict]:
    """:func:`curvature_report` at each of a sequence of parameter vectors (e.g. checkpoints).

    ``thetas`` is a sequence of 1-D vectors of equal length or a 2-D array with one vector per
    row. The same ``seed`` is used at every point (common random numbers, so differences
    between points are not probe noise). Here ``hvp_fn``, if given, takes two arguments:
    ``hvp_fn(theta, v) -> H(theta) v``. Each report gains an ``"index"`` key.
    """
    args = _report_args(top, trace, n_samples, seed, tol, maxiter, zero_tol)
    if thetas is None:
        raise InputError("thetas is required: a sequence of parameter vectors or a 2-D array")
    if isinstance(thetas, np.ndarray):
        if thetas.ndim != 2:
            raise InputError(f"thetas as an array must be 2-D (one vector per row), got shape "
                             f"{thetas.shape}")
        points = list(thetas)
    elif isinstance(thetas, Sequence) and not isinstance(thetas, str):
        points = list(thetas)
    else:
        points = list(thetas) if hasattr(thetas, "__iter__") else None
        if points is None:
            raise InputError(f"thetas must be a sequence of parameter vectors, got "
                             f"{type(thetas).__name__}")
    if not points:
        raise InputError("thetas is empty; pass at least one parameter vector")
    if hvp_fn is not None and not callable(hvp_fn):
        raise InputError(f"hvp_fn must be a callable (theta, v) -> H(theta) v, got "
                         f"{type(hvp_fn).__name__}")
    checked = [_theta(p, f"thetas[{i}]") for i, p in enumerate(points)]
    n = checked[0].shape[0]
    for i, p in enumerate(checked):
        if p.shape[0] != n:
            raise InputError(f"thetas[{i}] has {p.shape[0]} entries but thetas[0] has {n}")
    _check_k(args[0], n, "top")
    reports = []
    for i, point in enumerate(checked):
        if hvp_fn is not None:
            op = HessianOperator(fun, point, hvp_fn=lambda v, p=point: hvp_fn(p, v))
        else:
            op = _operator(fun, point, eps, None)
        rep = _report(op, *args)
        reports.append({"index": i, **rep})
    return reports
