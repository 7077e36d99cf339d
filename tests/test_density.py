"""Eigenvalue density by stochastic Lanczos quadrature and curvature per block, against dense
Hessians of small models."""

import io
import json

import numpy as np
import pytest

import steepest
from steepest.errors import InputError
from steepest.landscape.curvature import dense_hessian, hutchinson_trace
from steepest.landscape.density import (
    BlockCurvature,
    SpectralDensity,
    hessian_density,
    lanczos,
    per_block_curvature,
)


@pytest.fixture(scope="module")
def small():
    """A tanh MLP 5-4-3 (39 parameters) with its dense Hessian and Gauss-Newton matrix."""
    rng = np.random.default_rng(7)
    model = steepest.mlp([5, 4, 3], activation="tanh", reg=0.01)
    theta = model.init_params(3) + 0.3 * rng.standard_normal(model.n_params)
    X, y = rng.standard_normal((24, 5)), rng.integers(0, 3, 24)
    obj = model.bind(X, y)
    H = dense_hessian(obj, theta)
    G = dense_hessian(obj, theta, matrix="ggn")
    return model, theta, obj, H, G


def _hutchinson_sd(H, probes):
    """The standard deviation of the mean of ``probes`` samples ``z^T H z``."""
    return np.sqrt(2 * (np.sum(H * H) - np.sum(np.diag(H) ** 2)) / probes)


# --------------------------------------------------------------------------- Lanczos
def test_lanczos_reproduces_a_known_spectrum_and_stops_when_the_space_ends():
    rng = np.random.default_rng(0)
    Q, _ = np.linalg.qr(rng.standard_normal((12, 12)))
    lams = np.array([-2.0, -0.5, 0.1, 0.3, 1.0, 1.5, 2.0, 3.0, 4.0, 5.0, 7.0, 9.0])
    A = (Q * lams) @ Q.T
    alpha, beta = lanczos(lambda q: A @ q, rng.standard_normal(12), 40)
    assert alpha.size == 12 and beta.size == 11  # capped at n
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    assert np.allclose(np.linalg.eigvalsh(T), lams, atol=1e-12)
    # three distinct eigenvalues: the Krylov space has dimension 3
    D = np.diag(np.repeat([1.0, 2.0, 5.0], 4))
    alpha, beta = lanczos(lambda q: D @ q, np.ones(12) + rng.random(12), 10)
    assert alpha.size == 3
    T = np.diag(alpha) + np.diag(beta, 1) + np.diag(beta, -1)
    assert np.allclose(np.linalg.eigvalsh(T), [1.0, 2.0, 5.0], atol=1e-12)


# --------------------------------------------------------------------------- density
def test_density_moments_match_the_trace(small):
    model, theta, obj, H, _ = small
    n, p = theta.size, 6
    d = hessian_density(obj, theta, n_probes=p, lanczos_steps=20, seed=2)
    assert isinstance(d, SpectralDensity) and d.exact and d.matrix == "hessian"
    assert d.n_hvp == p * 20 and d.lanczos_steps == 20 and d.n_params == n
    assert np.allclose(np.bincount(d.probe, d.weights), 1.0, atol=1e-13)  # 1 per probe
    assert d.moment(0) == pytest.approx(1.0, abs=1e-13)
    assert d.moment(1) * n == pytest.approx(d.trace, rel=1e-12)
    # n times the first moment is Hutchinson's estimate with the same probes ...
    same = hutchinson_trace(obj, theta, n_samples=p, seed=2)
    assert d.trace == pytest.approx(same.trace, rel=1e-10)
    assert d.trace_stderr == pytest.approx(same.stderr, rel=1e-8)
    # ... within the SLQ error of the exact trace
    assert abs(d.trace - np.trace(H)) < 4 * _hutchinson_sd(H, p)
    # the broadened density keeps the moments (the grid covers 5 sigma beyond the nodes)
    assert np.trapezoid(d.density, d.grid) == pytest.approx(1.0, abs=1e-5)
    assert np.trapezoid(d.grid * d.density, d.grid) * n == pytest.approx(d.trace, rel=1e-4)


def test_extreme_nodes_bracket_the_extreme_eigenvalues(small):
    model, theta, obj, H, _ = small
    ev = np.linalg.eigvalsh(H)
    scale = np.abs(ev).max()
    d = hessian_density(obj, theta, n_probes=3, lanczos_steps=25, seed=0)
    assert d.nodes.min() >= ev[0] - 1e-12 * scale and d.nodes.max() <= ev[-1] + 1e-12 * scale
    for i in range(3):
        nodes = d.nodes[d.probe == i]
        assert nodes.max() == pytest.approx(ev[-1], abs=1e-9 * scale)
        assert nodes.min() == pytest.approx(ev[0], abs=1e-9 * scale)
    assert d.grid[0] < ev[0] and d.grid[-1] > ev[-1]
    # as many steps as parameters: the nodes are the distinct eigenvalues (the softmax's
    # shift invariances leave multiple ones, so the Krylov space ends a little early)
    full = hessian_density(obj, theta, n_probes=1, lanczos_steps=500, seed=1)
    assert full.lanczos_steps == theta.size and full.nodes.size < theta.size
    gaps = np.abs(full.nodes[:, None] - ev[None, :])
    assert gaps.min(axis=1).max() < 1e-9 * scale and gaps.min(axis=0).max() < 1e-9 * scale


def test_gauss_newton_density_is_nonnegative_and_traces_G(small):
    model, theta, obj, H, G = small
    d = hessian_density(obj, theta, n_probes=8, lanczos_steps=15, seed=3, matrix="ggn")
    assert d.matrix == "ggn" and d.exact
    assert d.nodes.min() > -1e-12 * np.abs(G).max()
    assert abs(d.trace - np.trace(G)) < 4 * _hutchinson_sd(G, 8)


def test_sigma_and_grid_options(small):
    model, theta, obj, *_ = small
    d = hessian_density(obj, theta, n_probes=2, lanczos_steps=10, sigma=0.05, grid=64)
    assert d.sigma == 0.05 and d.grid.shape == d.density.shape == (64,)
    points = np.linspace(-1.0, 2.0, 301)
    e = hessian_density(obj, theta, n_probes=2, lanczos_steps=10, sigma=0.05, grid=points)
    assert np.array_equal(e.grid, points) and np.all(e.density >= 0)
    auto = hessian_density(obj, theta, n_probes=2, lanczos_steps=10)
    assert auto.sigma == pytest.approx(0.01 * np.ptp(auto.nodes))


def test_density_of_a_known_spectrum_through_hvp_fn():
    lams = np.array([0.5, 1.0, 1.0, 2.0, 8.0])
    d = hessian_density(None, np.zeros(5), n_probes=1, lanczos_steps=5, sigma=0.01,
                        hvp_fn=lambda v: lams * v)
    assert np.allclose(np.sort(d.nodes), [0.5, 1.0, 2.0, 8.0])  # the double one counts twice
    assert d.weights[np.argmin(np.abs(d.nodes - 1.0))] == pytest.approx(0.4)
    assert d.trace == pytest.approx(lams.sum())  # Rademacher probes: exact for diagonal H


def test_finite_difference_products_give_the_same_density(small):
    model, theta, obj, *_ = small
    exact = hessian_density(obj, theta, n_probes=2, lanczos_steps=8, seed=5, sigma=0.02)
    fd = hessian_density(obj, theta, n_probes=2, lanczos_steps=8, seed=5, sigma=0.02,
                         products="finite-differences")
    assert not fd.exact and exact.exact
    assert np.allclose(fd.nodes, exact.nodes, atol=1e-6)


# --------------------------------------------------------------------------- per block
def _dense_blocks(model, H, by):
    groups = {}
    for spec in model.layout:
        key = spec.name if by == "tensor" else spec.name.split(".")[0]
        groups.setdefault(key, []).extend(range(spec.start, spec.stop))
    return {k: H[np.ix_(idx, idx)] for k, idx in groups.items()}


@pytest.mark.parametrize("by", ["tensor", "layer"])
def test_per_block_values_equal_the_dense_diagonal_blocks(small, by):
    model, theta, obj, H, _ = small
    res = per_block_curvature(obj, theta, by=by, dense_below=100)
    blocks = _dense_blocks(model, H, by)
    assert isinstance(res, BlockCurvature) and res.names == tuple(blocks)
    assert res.sizes == tuple(b.shape[0] for b in blocks.values()) and all(res.dense)
    for i, B in enumerate(blocks.values()):
        scale = np.abs(B).max()
        assert res.top_eigenvalue[i] == pytest.approx(np.linalg.eigvalsh(B)[-1], abs=1e-10 * scale)
        assert res.trace[i] == pytest.approx(np.trace(B), abs=1e-10 * scale)
    assert np.all(res.trace_stderr == 0) and res.n_hvp == theta.size and res.converged
    assert res.to_dict()["names"] == list(blocks)


def test_per_block_lanczos_and_shared_probes(small):
    model, theta, obj, H, _ = small
    m = 400
    res = per_block_curvature(obj, theta, n_samples=m, dense_below=8, tol=1e-12, seed=4)
    blocks = _dense_blocks(model, H, "tensor")
    assert res.dense == (False, True, False, True)  # fc1.W 20, fc1.b 4, fc2.W 12, fc2.b 3
    for i, B in enumerate(blocks.values()):
        assert res.top_eigenvalue[i] == pytest.approx(np.linalg.eigvalsh(B)[-1], rel=1e-8)
        if not res.dense[i]:  # within 4 standard errors of the exact trace
            assert abs(res.trace[i] - np.trace(B)) < 4 * res.trace_stderr[i]
            assert res.trace_stderr[i] > 0


def test_per_block_gauss_newton(small):
    model, theta, obj, _, G = small
    res = per_block_curvature(obj, theta, by="layer", dense_below=100, matrix="ggn")
    assert res.matrix == "ggn"
    for i, B in enumerate(_dense_blocks(model, G, "layer").values()):
        assert res.top_eigenvalue[i] == pytest.approx(np.linalg.eigvalsh(B)[-1], rel=1e-10)
        assert res.trace[i] == pytest.approx(np.trace(B), rel=1e-10)


def test_per_block_without_a_layout_is_one_block():
    lams = np.arange(1.0, 7.0)
    res = per_block_curvature(None, np.zeros(6), hvp_fn=lambda v: lams * v, dense_below=10)
    assert res.names == ("theta",) and res.top_eigenvalue[0] == pytest.approx(6.0)
    assert res.trace[0] == pytest.approx(21.0)
    own = steepest.objective(lambda t: (0.5 * t @ (lams * t), lams * t), np.zeros(6),
                             layout=steepest.Layout([("a.w", (2,), "weight"),
                                                     ("a.b", (1,), "bias"),
                                                     ("b.w", (3,), "weight")]))
    res = per_block_curvature(steepest.bind(own), np.ones(6), by="layer")
    assert res.names == ("a", "b") and res.sizes == (3, 3)
    assert np.allclose(res.top_eigenvalue, [3.0, 6.0], atol=1e-6) and not res.exact


# --------------------------------------------------------------------------- plots, input
def test_plots_return_figures_without_pyplot(small):
    matplotlib = pytest.importorskip("matplotlib")
    pyplot = pytest.importorskip("matplotlib.pyplot")
    model, theta, obj, *_ = small
    before = pyplot.get_fignums()
    d = hessian_density(obj, theta, n_probes=2, lanczos_steps=10)
    b = per_block_curvature(obj, theta, n_samples=4)
    for result in (d, b):
        fig = result.plot()
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
        fig.savefig(io.BytesIO(), format="png")
        json.dumps(result.to_dict())
    assert d.plot().axes[0].get_yscale() == "log"
    fig = matplotlib.figure.Figure()
    ax = fig.subplots()
    assert b.plot(ax=ax) is fig
    assert pyplot.get_fignums() == before


def test_bad_input_names_the_value(small):
    model, theta, obj, *_ = small
    with pytest.raises(InputError, match="n_probes"):
        hessian_density(obj, theta, n_probes=0)
    with pytest.raises(InputError, match="lanczos_steps"):
        hessian_density(obj, theta, lanczos_steps=0)
    with pytest.raises(InputError, match="sigma must be a positive width"):
        hessian_density(obj, theta, lanczos_steps=3, sigma=0.0)
    with pytest.raises(InputError, match="at least 2 points"):
        hessian_density(obj, theta, lanczos_steps=3, grid=1)
    with pytest.raises(InputError, match="increasing 1-D array"):
        hessian_density(obj, theta, lanczos_steps=3, grid=[0.0, 2.0, 1.0])
    with pytest.raises(InputError, match="matrix"):
        hessian_density(obj, theta, matrix="fisher")
    with pytest.raises(InputError, match="'block'"):
        per_block_curvature(obj, theta, by="block")
    with pytest.raises(InputError, match="n_samples must be at least 2"):
        per_block_curvature(obj, theta, n_samples=1)
    with pytest.raises(InputError, match="describes 3 parameters but theta has 39"):
        per_block_curvature(obj, theta, layout=steepest.Layout([("w", (3,), "weight")]))
    with pytest.raises(InputError, match="no Gauss-Newton product"):
        hessian_density(lambda t: (0.0, t), np.ones(3), matrix="ggn")
