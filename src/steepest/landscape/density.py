"""The whole spectrum at a glance: eigenvalue density by stochastic Lanczos quadrature, and the
curvature of each block of the parameter layout.

**Stochastic Lanczos quadrature** (Ghorbani, Krishnan and Xiao 2019; the method of PyHessian).
The spectral density of a symmetric ``H`` (n x n, eigenpairs ``(lambda_i, u_i)``) is
``phi(t) = (1/n) sum_i delta(t - lambda_i)``. For a probe ``q`` of unit length,
``q^T f(H) q = sum_i (u_i^T q)^2 f(lambda_i)`` is an integral of ``f`` against a measure whose
expectation over random ``q`` (Rademacher signs scaled by ``1/sqrt(n)``) is ``phi``. Lanczos
from ``q`` for ``m`` steps gives a tridiagonal ``T_m = Q^T H Q`` with eigenpairs
``(theta_j, s_j)``; the Gauss quadrature ``sum_j w_j f(theta_j)`` with nodes ``theta_j`` (the
Ritz values) and weights ``w_j = (e_1^T s_j)^2`` (summing to 1) is exact for polynomials ``f``
of degree up to ``2m - 1``. Averaging over probes and replacing each node by a Gaussian of
width ``sigma`` gives the smooth density

    phi(t) ~= (1/P) sum_probes sum_j w_j N(t; theta_j, sigma^2).

Its zeroth moment is 1 per probe; ``n`` times its first moment is ``z^T H z`` for the
Rademacher probe ``z = sqrt(n) q``, Hutchinson's unbiased estimate of ``tr H``. The extreme
nodes converge first to the extreme eigenvalues (they always lie inside ``[lambda_min,
lambda_max]``). Lanczos here keeps every vector and reorthogonalizes each new one against all
of them (twice), so no spurious copies of converged eigenvalues appear; it stops early if the
Krylov space is exhausted (then the nodes are eigenvalues).

**Per-block curvature.** For a block ``B`` of theta (one named tensor, or one layer: the
tensors whose names share the prefix before the dot) the diagonal block ``H_BB`` is the
curvature of the loss when only ``B`` moves. :func:`per_block_curvature` gives its largest
eigenvalue (Lanczos on ``u -> (H [u on B, 0 elsewhere])_B``) and its trace (Hutchinson, one set
of full-length probes ``z`` for all blocks: ``E[z_B^T (H z)_B] = tr H_BB`` because the signs
outside ``B`` are independent of those inside); blocks of at most ``dense_below`` parameters
are formed column by column and are exact.

Both take what the other curvature functions take (:mod:`steepest.landscape.curvature`):
``fun`` (anything :func:`steepest.contract.bind` accepts, or a ``HessianOperator``), ``theta``,
``hvp_fn``, ``eps``, ``products`` and ``matrix`` (``"ggn"``: the Gauss-Newton matrix).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
from scipy.linalg import eigh_tridiagonal
from scipy.sparse.linalg import LinearOperator

from .. import _validate as checks
from ..errors import InputError
from ..results import Result
from .curvature import (
    DEFAULT_TOL,
    MATRIX_NAMES,
    HessianOperator,
    _eigsh,
    _maxiter,
    _operator,
    _seed,
    rademacher,
)

__all__ = ["BlockCurvature", "SpectralDensity", "hessian_density", "lanczos",
           "per_block_curvature"]

_BREAKDOWN = 1e-10  # a Lanczos residual this small relative to |T| ends the Krylov space


# --------------------------------------------------------------------------- Lanczos
def lanczos(product, start: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """``(alpha, beta)``: the diagonal and off-diagonal of ``T = Q^T A Q`` after ``steps``
    Lanczos steps from ``start`` (normalized) with full reorthogonalization.

    ``product(q) -> A q`` for a symmetric ``A``. Each new vector is orthogonalized against all
    previous ones twice (classical Gram-Schmidt twice is enough in floating point). Fewer
    than ``steps`` come back when the Krylov space is exhausted (a residual below ``1e-10``
    of the largest entry of ``T``): then the Ritz values are eigenvalues of ``A``. Memory:
    ``steps`` vectors.
    """
    n = start.shape[0]
    m = min(int(steps), n)
    Q = np.empty((m, n))
    alpha, beta = np.empty(m), np.empty(max(m - 1, 0))
    q = start / np.linalg.norm(start)
    scale = 0.0
    for j in range(m):
        Q[j] = q
        w = np.asarray(product(q), dtype=np.float64)
        alpha[j] = q @ w
        if j + 1 == m:
            break
        basis = Q[: j + 1]
        for _ in range(2):
            w -= basis.T @ (basis @ w)
        b = float(np.linalg.norm(w))
        scale = max(scale, abs(alpha[j]), b)
        if b <= _BREAKDOWN * scale:
            return alpha[: j + 1], beta[:j]
        beta[j] = b
        q = w / b
    return alpha, beta


def _gauss_quadrature(alpha, beta) -> tuple[np.ndarray, np.ndarray]:
    """Nodes (Ritz values, ascending) and weights (squared first components) of ``T``."""
    if alpha.size == 1:
        return alpha.copy(), np.ones(1)
    nodes, vecs = eigh_tridiagonal(alpha, beta)
    return nodes, vecs[0] ** 2


# --------------------------------------------------------------------------- density
@dataclass(frozen=True)
class SpectralDensity(Result):
    """The eigenvalue density of the Hessian (or Gauss-Newton matrix) by stochastic Lanczos
    quadrature (see the module docstring).

    ``nodes`` and ``weights`` are the Gauss quadrature of every probe, concatenated; ``probe``
    says which probe each node belongs to (each probe's weights sum to 1). ``density`` is the
    Gaussian-broadened density on ``grid`` (width ``sigma``). ``trace`` is ``n`` times the
    first moment (the mean of Hutchinson's ``z^T H z`` over the probes) and ``trace_stderr``
    its standard error (NaN with one probe). ``lanczos_steps`` is the number of steps asked
    for (capped at ``n``); a probe may stop earlier when its Krylov space is exhausted.
    """

    nodes: np.ndarray
    weights: np.ndarray
    probe: np.ndarray
    grid: np.ndarray
    density: np.ndarray
    sigma: float
    trace: float
    trace_stderr: float
    n_probes: int
    lanczos_steps: int
    n_params: int
    n_hvp: int
    exact: bool
    matrix: str
    seconds: float

    def moment(self, k: int) -> float:
        """The ``k``-th moment of the quadrature measure averaged over the probes,
        ``(1/P) sum w_j theta_j^k`` (an estimate of ``tr(H^k) / n``; 1 for ``k = 0``)."""
        return float(np.sum(self.weights * self.nodes ** int(k)) / self.n_probes)

    def plot(self, ax=None):
        """The density on a log axis (as PyHessian draws it) with the nodes as a rug; returns
        the Figure."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        floor = max(float(np.max(self.density)), 1e-300) * 1e-9
        ax.semilogy(self.grid, np.maximum(self.density, floor), color="#0072B2")
        ax.plot(self.nodes, np.full(self.nodes.shape, floor), "|", color="#D55E00", ms=8,
                label="Ritz values (nodes)")
        ax.set_xlabel("eigenvalue")
        ax.set_ylabel("density (log scale)")
        ax.set_title(f"{MATRIX_NAMES[self.matrix]} eigenvalue density (SLQ: {self.n_probes} "
                     f"probes x {self.lanczos_steps} Lanczos steps, sigma {self.sigma:.3g})")
        ax.legend()
        ax.grid(alpha=0.3)
        return fig


def _sigma(sigma, nodes: np.ndarray) -> float:
    if sigma is not None:
        s = checks.nonneg_float(sigma, "sigma")
        if s == 0:
            raise InputError(f"sigma must be a positive width, got {sigma!r}")
        return s
    span = float(nodes.max() - nodes.min())
    return 0.01 * (span or float(np.abs(nodes).max()) or 1.0)


def _grid(grid, nodes: np.ndarray, sigma: float) -> np.ndarray:
    if isinstance(grid, int | np.integer) and not isinstance(grid, bool):
        count = checks.positive_int(grid, "grid")
        if count < 2:
            raise InputError(f"grid must have at least 2 points, got {grid}")
        pad = 5.0 * sigma  # the Gaussians' mass beyond 5 sigma is below 1e-6
        return np.linspace(nodes.min() - pad, nodes.max() + pad, count)
    points = np.asarray(grid, dtype=np.float64) if not isinstance(grid, str) else None
    if points is None or points.ndim != 1 or points.size < 2 or not np.all(np.isfinite(points)) \
            or np.any(np.diff(points) <= 0):
        raise InputError("grid must be a number of points (>= 2) or an increasing 1-D array of "
                         "finite eigenvalues")
    return points


def _broadened(grid, nodes, weights, sigma, n_probes) -> np.ndarray:
    """``(1/P) sum_j w_j N(t; theta_j, sigma^2)`` at every ``t`` of ``grid`` (in chunks)."""
    out = np.empty(grid.size)
    coef = weights / (n_probes * sigma * np.sqrt(2.0 * np.pi))
    for i in range(0, grid.size, 4096):
        z = (grid[i : i + 4096, None] - nodes[None, :]) / sigma
        out[i : i + 4096] = np.exp(-0.5 * z * z) @ coef
    return out


def hessian_density(fun=None, theta=None, n_probes: int = 4, lanczos_steps: int = 80,
                    seed: int = 0, sigma: float | None = None, grid=1000, *, eps=None,
                    hvp_fn=None, products=None, matrix=None) -> SpectralDensity:
    """The eigenvalue density of the Hessian at ``theta`` by stochastic Lanczos quadrature.

    ``n_probes`` Rademacher probes (from ``numpy.random.default_rng(seed)``, the probes of
    :func:`~steepest.landscape.curvature.hutchinson_trace` with the same seed), each running
    ``lanczos_steps`` Lanczos steps with full reorthogonalization: ``n_probes *
    lanczos_steps`` Hessian-vector products and as many stored vectors per probe. ``sigma``
    is the width of the Gaussian put on each node (default 1% of the span of the nodes);
    ``grid`` the number of evaluation points (spanning the nodes plus 5 sigma each side) or
    the points themselves. Returns a :class:`SpectralDensity`.
    """
    t0 = time.perf_counter()
    p = checks.positive_int(n_probes, "n_probes")
    steps = checks.positive_int(lanczos_steps, "lanczos_steps")
    rng = np.random.default_rng(_seed(seed))
    op = _operator(fun, theta, eps, hvp_fn, products, matrix)
    n, start = op.shape[0], op.n_products
    nodes, weights, probe, samples = [], [], [], np.empty(p)
    for i in range(p):
        z = rademacher(rng, n)
        theta_i, w_i = _gauss_quadrature(*lanczos(op.product, z, steps))
        nodes.append(theta_i)
        weights.append(w_i)
        probe.append(np.full(theta_i.size, i))
        samples[i] = n * float(w_i @ theta_i)
    nodes, weights = np.concatenate(nodes), np.concatenate(weights)
    width = _sigma(sigma, nodes)
    points = _grid(grid, nodes, width)
    return SpectralDensity(
        nodes=nodes, weights=weights, probe=np.concatenate(probe), grid=points,
        density=_broadened(points, nodes, weights, width, p), sigma=width,
        trace=float(samples.mean()),
        trace_stderr=float(samples.std(ddof=1) / np.sqrt(p)) if p > 1 else float("nan"),
        n_probes=p, lanczos_steps=min(steps, n), n_params=int(n),
        n_hvp=int(op.n_products - start), exact=bool(op.exact), matrix=op.matrix,
        seconds=float(time.perf_counter() - t0),
    )


# --------------------------------------------------------------------------- per block
@dataclass(frozen=True)
class BlockCurvature(Result):
    """The largest eigenvalue and the trace of each diagonal block ``H_BB`` of the Hessian (or
    Gauss-Newton matrix), one entry per block in layout order (see the module docstring).

    ``by`` is ``"tensor"`` or ``"layer"``; ``names`` and ``sizes`` the blocks. ``dense[i]``
    says that block ``i`` was formed column by column (exact eigenvalue and trace,
    ``trace_stderr`` 0); otherwise ``top_eigenvalue`` comes from Lanczos (NaN where it did not
    converge, and ``converged`` is False) and ``trace`` from ``n_samples`` shared Rademacher
    probes with standard error ``trace_stderr``.
    """

    by: str
    names: tuple[str, ...]
    sizes: tuple[int, ...]
    top_eigenvalue: np.ndarray
    trace: np.ndarray
    trace_stderr: np.ndarray
    dense: tuple[bool, ...]
    n_samples: int
    n_hvp: int
    converged: bool
    exact: bool
    matrix: str
    seconds: float

    def plot(self, ax=None):
        """Grouped bars of the largest eigenvalue and the trace per block (symmetric log
        axis, since both may be negative and span decades); returns the Figure."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        x = np.arange(len(self.names))
        ax.bar(x - 0.2, self.top_eigenvalue, width=0.4, color="#0072B2",
               label="largest eigenvalue")
        ax.bar(x + 0.2, self.trace, width=0.4, color="#E69F00", label="trace",
               yerr=self.trace_stderr, capsize=3)
        ax.set_xticks(x, self.names, rotation=30 if len(x) > 6 else 0)
        values = np.abs(np.concatenate([self.top_eigenvalue, self.trace]))
        values = values[np.isfinite(values) & (values > 0)]
        ax.set_yscale("symlog", linthresh=float(values.min()) if values.size else 1.0)
        ax.axhline(0.0, color="black", lw=0.8)
        ax.set_ylabel(f"{MATRIX_NAMES[self.matrix]} block curvature")
        ax.set_title(f"curvature per {self.by} (diagonal blocks)")
        ax.legend()
        ax.grid(alpha=0.3, axis="y")
        return fig


def _blocks(layout, n: int, by: str) -> list[tuple[str, np.ndarray]]:
    """``(name, indices)`` of every block, in layout order."""
    if layout is None:
        return [("theta", np.arange(n))]
    if layout.size != n:
        raise InputError(f"the layout describes {layout.size} parameters but theta has {n}")
    groups: dict[str, list[np.ndarray]] = {}
    for spec in layout:
        name = spec.name if by == "tensor" else spec.name.split(".", 1)[0]
        groups.setdefault(name, []).append(np.arange(spec.start, spec.stop))
    return [(name, np.concatenate(parts)) for name, parts in groups.items()]


def _dense_block(op: HessianOperator, idx: np.ndarray) -> np.ndarray:
    """``H_BB`` column by column (``|B|`` products), symmetrized."""
    n = op.shape[0]
    block = np.empty((idx.size, idx.size))
    e = np.zeros(n)
    for j, i in enumerate(idx):
        e[i] = 1.0
        block[:, j] = op.product(e)[idx]
        e[i] = 0.0
    return 0.5 * (block + block.T)


def _block_top(op: HessianOperator, idx, tol, maxiter, seed) -> float:
    """The largest eigenvalue of ``H_BB`` by Lanczos (NaN when it did not converge)."""
    n = op.shape[0]

    def matvec(u):
        full = np.zeros(n)
        full[idx] = np.ravel(u)
        return op.product(full)[idx]

    block = LinearOperator((idx.size, idx.size), matvec=matvec, dtype=np.float64)
    vals, _, converged = _eigsh(block, 1, "LA", tol, maxiter, seed, None)
    return float(vals[0]) if converged and vals.size else float("nan")


def _block_traces(op: HessianOperator, blocks, m: int, seed: int):
    """Hutchinson per block from ``m`` shared full-length probes: (means, standard errors)."""
    rng = np.random.default_rng(seed)
    samples = np.empty((len(blocks), m))
    for s in range(m):
        z = rademacher(rng, op.shape[0])
        zh = z * op.product(z)
        for b, (_, idx) in enumerate(blocks):
            samples[b, s] = zh[idx].sum()
    return samples.mean(axis=1), samples.std(axis=1, ddof=1) / np.sqrt(m)


def per_block_curvature(fun=None, theta=None, *, by: str = "tensor", n_samples: int = 50,
                        seed: int = 0, tol: float = DEFAULT_TOL, maxiter: int | None = None,
                        dense_below: int = 16, layout=None, eps=None, hvp_fn=None,
                        products=None, matrix=None) -> BlockCurvature:
    """The largest eigenvalue and the trace of every diagonal block of the Hessian at
    ``theta``: one block per named tensor (``by="tensor"``) or per layer (``by="layer"``,
    the tensors sharing the prefix of their names before the dot).

    The blocks come from ``layout`` or the bound objective's layout (one block ``"theta"``
    without either). A block of at most ``dense_below`` parameters is formed densely
    (``|B|`` products, exact); a larger one gets Lanczos (``tol``, ``maxiter``, start from
    ``seed``) for its top eigenvalue and, shared by all of them, ``n_samples`` Rademacher
    probes for the traces. Returns a :class:`BlockCurvature`.
    """
    t0 = time.perf_counter()
    by = checks.choice(by, ("tensor", "layer"), "by")
    dense_below = checks.positive_int(dense_below, "dense_below")
    seed, maxiter = _seed(seed), _maxiter(maxiter)
    tol = checks.nonneg_float(tol, "tol")
    m = checks.positive_int(n_samples, "n_samples")
    op = _operator(fun, theta, eps, hvp_fn, products, matrix)
    if layout is None and op.objective is not None:
        layout = op.objective.layout
    n, start = op.shape[0], op.n_products
    blocks = _blocks(layout, n, by)
    dense = [idx.size <= max(dense_below, 2) for _, idx in blocks]
    if not all(dense) and m < 2:
        raise InputError(f"n_samples must be at least 2 to estimate the standard error, got {m}")
    top, trace, stderr = (np.full(len(blocks), np.nan) for _ in range(3))
    if not all(dense):
        trace, stderr = _block_traces(op, blocks, m, seed)
    for b, (_, idx) in enumerate(blocks):
        if dense[b]:
            H = _dense_block(op, idx)
            top[b], trace[b], stderr[b] = np.linalg.eigvalsh(H)[-1], np.trace(H), 0.0
        else:
            top[b] = _block_top(op, idx, tol, maxiter, seed)
    return BlockCurvature(
        by=by, names=tuple(name for name, _ in blocks),
        sizes=tuple(int(idx.size) for _, idx in blocks), top_eigenvalue=top, trace=trace,
        trace_stderr=stderr, dense=tuple(bool(d) for d in dense), n_samples=m,
        n_hvp=int(op.n_products - start), converged=bool(np.all(np.isfinite(top))),
        exact=bool(op.exact), matrix=op.matrix, seconds=float(time.perf_counter() - t0),
    )
