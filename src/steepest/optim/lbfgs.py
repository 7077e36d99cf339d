"""Full-batch L-BFGS through SciPy (``scipy.optimize.minimize(method="L-BFGS-B")``).

A quasi-Newton baseline for small problems and for checking that first-order runs reach the
optimum: everything is computed in float64 on the whole objective (mini-batches would break its
curvature estimates).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy.optimize import OptimizeResult, minimize

from .. import _validate as checks
from ..contract import bind, check_theta
from ..results import Result

__all__ = ["LBFGSResult", "lbfgs"]


@dataclass(frozen=True)
class LBFGSResult(Result):
    """What :func:`lbfgs` found.

    ``history[0]`` is the loss at ``theta0`` and ``history[k]`` the loss after iteration ``k``
    (so ``len(history) == n_iter + 1``); ``n_evals`` counts calls of ``fun``, line-search
    trials included; ``grad_norm`` is the Euclidean norm of the gradient at ``theta``.
    """

    theta: np.ndarray
    loss: float
    grad_norm: float
    n_iter: int
    n_evals: int
    history: np.ndarray
    success: bool
    message: str

    _omit = ("theta",)

    def plot(self, ax=None):
        """The loss after each iteration (log scale when it spans decades)."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        ax.plot(np.arange(self.history.size), self.history, "o-", ms=3)
        finite = self.history[np.isfinite(self.history) & (self.history > 0)]
        if finite.size and finite.max() / finite.min() > 100:
            ax.set_yscale("log")
        ax.set_xlabel("L-BFGS iteration")
        ax.set_ylabel("loss")
        ax.set_title(f"L-BFGS: {self.n_iter} iterations, {self.n_evals} evaluations")
        ax.grid(alpha=0.3, which="both")
        return fig


def lbfgs(
    fun: Callable[[np.ndarray], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    max_iter: int = 100,
    tol: float = 1e-8,
    callback: Callable[[np.ndarray, float], bool | None] | None = None,
    memory: int = 10,
    ftol: float = 1e-15,
) -> LBFGSResult:
    """Minimize ``fun(theta) -> (loss, grad)`` from ``theta0`` with SciPy's L-BFGS-B.

    ``fun`` is a callable or a bound objective (``steepest.bind(model, X, y)``).

    ``tol`` is the gradient tolerance: SciPy stops when the largest absolute gradient entry is
    at most ``tol``. It also stops when an iteration lowers the loss by less than ``ftol``
    relative to ``max(|loss|, 1)``; the default 1e-15 (SciPy's is 2.2e-9) lets the run go on
    until the loss stops changing at float64 resolution, which for a loss of order 1 and
    curvature ``L`` leaves a gradient norm of roughly ``sqrt(1e-16 * L)``: any line search that
    compares loss values cannot resolve a smaller one. ``memory`` is the number of stored
    correction pairs.
    ``callback(theta, loss)`` runs after every iteration; returning True stops the run. ``fun``
    receives a float64 vector and the result's ``theta`` is float64.
    """
    x0 = np.array(check_theta(theta0, what="theta0", finite=True), dtype=np.float64)
    fun = bind(fun).loss_and_grad
    max_iter = checks.positive_int(max_iter, "max_iter")
    memory = checks.positive_int(memory, "memory")
    tol = checks.nonneg_float(tol, "tol")
    ftol = checks.nonneg_float(ftol, "ftol")
    n_evals = 0
    history: list[float] = []

    def wrapped(x):
        nonlocal n_evals
        loss, grad = fun(x)
        n_evals += 1
        grad = np.asarray(grad, dtype=np.float64)
        if not history:
            history.append(loss)
        return loss, grad

    def on_iteration(intermediate_result: OptimizeResult):
        history.append(float(intermediate_result.fun))
        if callback is not None and callback(
            intermediate_result.x.copy(), float(intermediate_result.fun)
        ):
            raise StopIteration

    res = minimize(
        wrapped,
        x0,
        jac=True,
        method="L-BFGS-B",
        callback=on_iteration,
        options={
            "maxiter": max_iter,
            "maxcor": memory,
            "gtol": tol,
            "ftol": ftol,
            "maxfun": max(15000, 20 * max_iter),
        },
    )
    jac = np.asarray(res.jac, dtype=np.float64)
    return LBFGSResult(
        theta=np.asarray(res.x, dtype=np.float64),
        loss=float(res.fun),
        grad_norm=float(np.linalg.norm(jac)),
        n_iter=int(res.nit),
        n_evals=n_evals,
        history=np.asarray(history),
        success=bool(res.success),
        message=str(res.message),
    )
