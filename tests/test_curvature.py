"""Curvature tools against quadratics with known spectra, dense Hessians and PyTorch."""

import io
import json

import numpy as np
import pytest
from scipy.sparse.linalg import aslinearoperator, eigsh

import steepest
from steepest.errors import InputError
from steepest.landscape.curvature import (
    Conditioning,
    CurvaturePath,
    CurvatureReport,
    Extremes,
    HessianOperator,
    Spectrum,
    TraceEstimate,
    condition_from_extremes,
    condition_number,
    curvature_along_path,
    curvature_report,
    default_step,
    dense_hessian,
    extreme_eigenvalues,
    hutchinson_trace,
    hvp,
    top_eigenvalues,
)


# --------------------------------------------------------------------------- fixtures
class Quadratic:
    """``f = 0.5 (theta - c)^T A (theta - c)`` with ``A = Q diag(lams) Q^T``."""

    def __init__(self, lams, seed=0):
        rng = np.random.default_rng(seed)
        self.lams = np.asarray(lams, dtype=np.float64)
        n = self.lams.size
        Q, R = np.linalg.qr(rng.standard_normal((n, n)))
        Q *= np.sign(np.diag(R))
        self.A = (Q * self.lams) @ Q.T
        self.A = 0.5 * (self.A + self.A.T)
        self.c = rng.standard_normal(n)
        self.theta = rng.standard_normal(n)
        self.n = n

    def __call__(self, theta):
        d = theta - self.c
        g = self.A @ d
        return 0.5 * float(d @ g), g

    def hvp_fn(self, v):
        return self.A @ v


PD_LAMS = [0.5, 0.8, 1.0, 1.5, 2.0, 3.0, 4.5, 6.0, 8.0, 10.0]
INDEF_LAMS = [-3.0, -0.4, 0.1, 0.7, 1.2, 2.0, 2.5, 5.0, 7.5, 9.0, 12.0]


@pytest.fixture
def pd_quad():
    return Quadratic(PD_LAMS, seed=1)


@pytest.fixture
def indef_quad():
    return Quadratic(INDEF_LAMS, seed=2)


@pytest.fixture(scope="module")
def tanh_problem():
    rng = np.random.default_rng(7)
    model = steepest.mlp([5, 4, 3], activation="tanh")
    theta = model.init_params(3)
    X = rng.standard_normal((24, 5))
    y = rng.integers(0, 3, 24)
    obj = model.bind(X, y, train=False)
    H = dense_hessian(obj, theta, symmetrize=False)
    return model, theta, X, y, obj, H


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------- quadratics
def test_hvp_matches_Av_by_differences_and_exactly(pd_quad):
    q = pd_quad
    v = np.random.default_rng(0).standard_normal(q.n)
    assert rel(hvp(q, q.theta, v), q.A @ v) < 1e-6
    assert np.array_equal(hvp(None, q.theta, v, hvp_fn=q.hvp_fn), q.A @ v)
    assert np.array_equal(hvp(v=v, hvp_fn=q.hvp_fn), q.A @ v)  # theta only fixes n there


def test_hvp_scales_linearly_and_zero_vector_costs_nothing(pd_quad):
    q = pd_quad
    v = np.random.default_rng(1).standard_normal(q.n)
    assert rel(hvp(q, q.theta, 1e3 * v), 1e3 * (q.A @ v)) < 1e-6
    assert rel(hvp(q, q.theta, 1e-3 * v, eps=1e-4), 1e-3 * (q.A @ v)) < 1e-6
    op = HessianOperator(q, q.theta)
    assert np.array_equal(op.matvec(np.zeros(q.n)), np.zeros(q.n))
    assert op.n_products == 1 and op.n_grad_evals == 0
    assert op.step == pytest.approx(default_step(q.theta))


def test_operator_counts_products_and_feeds_eigsh(pd_quad):
    q = pd_quad
    op = HessianOperator(q, q.theta)
    assert op.shape == (q.n, q.n) and op.dtype == np.float64 and not op.exact
    M = op.matmat(np.eye(q.n)[:, :3])
    assert np.allclose(M, q.A[:, :3], rtol=1e-7, atol=1e-9)
    assert op.n_products == 3 and op.n_grad_evals == 6
    vals = eigsh(op, k=2, which="LA", return_eigenvectors=False)
    assert np.allclose(np.sort(vals), [8.0, 10.0], rtol=1e-6)
    assert op.n_products > 3


def test_top_eigenvalues_of_a_quadratic(pd_quad):
    q = pd_quad
    largest = np.sort(q.lams)[::-1]
    for kwargs in ({"fun_or_op": q}, {"hvp_fn": q.hvp_fn}):
        res = top_eigenvalues(theta=q.theta, k=3, return_eigenvectors=True, **kwargs)
        assert res.converged and res.n_hvp > 0 and res.k == 3
        assert np.allclose(res.eigenvalues, largest[:3], rtol=1e-6, atol=0)
        assert np.all(np.diff(res.eigenvalues) < 0)  # descending
        U = res.eigenvectors
        assert U.shape == (q.n, 3)
        assert np.allclose(q.A @ U, U * res.eigenvalues, atol=1e-5)
    assert res.exact and res.eigenvectors is not None
    assert isinstance(res, Spectrum) and res.which == "LA"
    as_dict = res.to_dict()
    assert "eigenvectors" not in as_dict and as_dict["eigenvalues"] == res.eigenvalues.tolist()
    json.dumps(as_dict, allow_nan=False)
    assert top_eigenvalues(q, q.theta, k=2).eigenvectors is None


def test_which_orders_and_linear_operator_input(indef_quad):
    q = indef_quad
    op = aslinearoperator(q.A)
    sa = top_eigenvalues(op, k=2, which="SA").eigenvalues
    assert np.allclose(sa, [-3.0, -0.4], rtol=1e-6)
    lm = top_eigenvalues(op, k=3, which="LM").eigenvalues
    assert np.allclose(lm, [12.0, 9.0, 7.5], rtol=1e-6)
    lm4 = top_eigenvalues(q, q.theta, k=5, which="LM").eigenvalues
    assert np.allclose(lm4, [12.0, 9.0, 7.5, 5.0, -3.0], rtol=1e-6)


def test_extreme_eigenvalues_include_the_negative_bottom(indef_quad):
    q = indef_quad
    res = extreme_eigenvalues(q, q.theta, k=3, return_eigenvectors=True)
    assert np.allclose(res.top, [12.0, 9.0, 7.5], rtol=1e-6)
    assert res.bottom == pytest.approx(-3.0, rel=1e-6)
    u = res.bottom_vector
    assert np.allclose(q.A @ u, -3.0 * u, atol=1e-5)
    assert res.top_vectors.shape == (q.n, 3) and res.converged
    assert isinstance(res, Extremes) and not res.exact
    assert set(res.to_dict()) == {"top", "bottom", "n_hvp", "converged", "exact", "matrix"}
    plain = extreme_eigenvalues(q, q.theta, k=3)
    assert plain.top_vectors is None and plain.bottom_vector is None


def test_condition_number_positive_definite(pd_quad):
    q = pd_quad
    for kwargs in ({"fun_or_op": q}, {"hvp_fn": q.hvp_fn}):
        info = condition_number(theta=q.theta, **kwargs)
        assert info.positive_definite and not info.indefinite
        assert info.definiteness == "positive definite"
        assert info.condition_number == pytest.approx(10.0 / 0.5, rel=1e-6)
        assert info.max_stable_step == pytest.approx(2.0 / 10.0, rel=1e-6)
        assert info.optimal_gd_step == pytest.approx(2.0 / 10.5, rel=1e-6)
        assert info.n_hvp > 0 and info.converged


def test_max_stable_step_separates_convergence_from_divergence(pd_quad):
    q = pd_quad
    info = condition_number(None, q.theta, hvp_fn=q.hvp_fn)
    for factor, stable in ((0.98, True), (1.02, False)):
        lr = factor * info.max_stable_step
        theta = q.theta.copy()
        for _ in range(400):
            theta -= lr * q(theta)[1]
        assert (np.linalg.norm(theta - q.c) < 1e-2) == stable


def test_condition_number_indefinite_is_inf_with_signed_extremes(indef_quad):
    q = indef_quad
    info = condition_number(q, q.theta)
    assert info.condition_number == float("inf")
    assert info.indefinite and info.definiteness == "indefinite"
    assert not info.positive_definite
    assert info.lambda_max == pytest.approx(12.0, rel=1e-6)
    assert info.lambda_min == pytest.approx(-3.0, rel=1e-6)
    assert info.max_stable_step == pytest.approx(2.0 / 12.0, rel=1e-6)
    assert info.heavy_ball_momentum is None


def test_condition_from_extremes_classifies():
    four = condition_from_extremes(4.0, 1.0)
    assert isinstance(four, Conditioning) and four.condition_number == 4.0
    assert four.n_hvp is None and four.converged is None
    assert four.to_dict()["optimal_gd_step"] == pytest.approx(2.0 / 5.0)
    hb = condition_from_extremes(100.0, 1.0)
    assert hb.heavy_ball_momentum == pytest.approx((9 / 11) ** 2)
    assert hb.heavy_ball_contraction == pytest.approx(9 / 11)
    assert hb.gd_contraction == pytest.approx(99 / 101)
    semi = condition_from_extremes(5.0, -1e-12)
    assert semi.definiteness == "positive semidefinite" and not semi.indefinite
    assert semi.condition_number == float("inf")
    assert condition_from_extremes(5.0, -1e-12, zero_tol=0).indefinite
    neg = condition_from_extremes(-1.0, -2.0)
    assert neg.definiteness == "negative definite" and neg.max_stable_step is None
    with pytest.raises(InputError, match="lambda_min"):
        condition_from_extremes(1.0, 2.0)


def test_hutchinson_trace_within_three_standard_errors(indef_quad):
    q = indef_quad
    res = hutchinson_trace(q, q.theta, n_samples=200, seed=3)
    assert res.n_samples == 200 and res.samples.shape == (200,)
    assert res.n_hvp == 200 and res.trace == pytest.approx(res.samples.mean())
    assert abs(res.trace - q.lams.sum()) < 3 * res.stderr
    assert res.stderr > 0


def test_hutchinson_is_unbiased_with_the_predicted_variance(indef_quad):
    q = indef_quad
    m = 4000
    res = hutchinson_trace(None, q.theta, n_samples=m, seed=11, hvp_fn=q.hvp_fn)
    assert res.exact
    # Rademacher: Var(z^T A z) = 2 (||A||_F^2 - sum A_ii^2)
    var = 2.0 * (np.sum(q.A**2) - np.sum(np.diag(q.A) ** 2))
    se = np.sqrt(var / m)
    assert abs(res.trace - q.lams.sum()) < 3.5 * se
    assert res.stderr == pytest.approx(se, rel=0.1)


def test_hutchinson_is_exact_for_a_diagonal_hessian():
    lams = np.array([-1.0, 0.5, 2.0, 3.25, 7.0])
    fun = lambda t: (0.5 * float(t @ (lams * t)), lams * t)  # noqa: E731
    res = hutchinson_trace(fun, np.ones(5), n_samples=8)
    assert np.allclose(res.samples, lams.sum(), rtol=1e-9)
    exact = hutchinson_trace(None, np.ones(5), n_samples=8, hvp_fn=lambda v: lams * v)
    assert np.all(exact.samples == lams.sum()) and exact.stderr == 0.0


def test_report_on_a_quadratic_is_json_able(indef_quad):
    q = indef_quad
    rep = curvature_report(q, q.theta, top=3, trace=True, n_samples=40)
    assert isinstance(rep, CurvatureReport) and isinstance(rep.condition, Conditioning)
    text = json.dumps(rep.to_dict(), allow_nan=False)  # plain floats / lists / None
    back = json.loads(text)
    assert back["n_params"] == q.n
    assert back["condition"]["condition_number"] is None  # inf: not positive definite
    assert back["condition"]["definiteness"] == "indefinite"
    assert back["trace"]["trace"] == rep.trace.trace and "samples" not in back["trace"]
    assert isinstance(rep.eigenvalues, tuple)
    assert np.allclose(rep.eigenvalues, [12.0, 9.0, 7.5], rtol=1e-6)
    assert rep.bottom_eigenvalue == pytest.approx(-3.0, rel=1e-6)
    assert rep.condition.indefinite and rep.condition.condition_number == np.inf
    assert isinstance(rep.trace, TraceEstimate) and rep.trace.n_samples == 40
    assert abs(rep.trace.trace - q.lams.sum()) < 3 * rep.trace.stderr
    assert rep.loss == pytest.approx(q(q.theta)[0])
    assert rep.grad_norm == pytest.approx(np.linalg.norm(q(q.theta)[1]))
    assert rep.n_hvp > 40 and rep.n_grad_evals == 2 * rep.n_hvp + 1
    assert rep.seconds >= 0 and rep.step > 0 and not rep.exact
    exact = curvature_report(None, q.theta, top=2, hvp_fn=q.hvp_fn)
    assert exact.exact and exact.loss is None and exact.trace is None
    assert exact.step is None and exact.grad_norm is None
    json.dumps(exact.to_dict(), allow_nan=False)


def test_along_path_reports_each_point(pd_quad):
    q = pd_quad
    path = [q.theta, q.c, 0.5 * (q.theta + q.c)]
    res = curvature_along_path(q, path, top=2)
    assert isinstance(res, CurvaturePath) and res.steps == (0, 1, 2)
    reps = res.reports
    assert len(reps) == 3 and all(isinstance(r, CurvatureReport) for r in reps)
    for r in reps:
        assert np.allclose(r.eigenvalues, [10.0, 8.0], rtol=1e-6)
    assert reps[1].grad_norm < 1e-12  # c is the minimizer
    labelled = curvature_along_path(q, np.array(path), steps=np.array([0, 100, 250]))
    assert labelled.steps == (0, 100, 250)
    assert labelled.reports[2].eigenvalues[0] == pytest.approx(10.0, rel=1e-6)
    # a two-argument exact product along a path of a non-quadratic: H(theta) = diag(6 theta)
    cubic = lambda t: (float(np.sum(t**3)), 3 * t**2)  # noqa: E731
    pts = np.array([[1.0, 2.0, 3.0], [2.0, 3.0, 4.0]])
    res = curvature_along_path(cubic, pts, hvp_fn=lambda t, v: 6 * t * v)
    reps = res.reports
    assert [r.eigenvalues[0] for r in reps] == pytest.approx([18.0, 24.0])
    assert [r.bottom_eigenvalue for r in reps] == pytest.approx([6.0, 12.0])
    assert all(r.exact for r in reps)
    back = json.loads(json.dumps(res.to_dict(), allow_nan=False))
    assert back["steps"] == [0, 1] and back["reports"][1]["eigenvalues"] == pytest.approx([24.0])


def test_unconverged_lanczos_is_reported_not_hidden(tanh_problem):
    model, theta, X, y, obj, H = tanh_problem
    rep = curvature_report(obj, theta, top=4, maxiter=1, tol=0)
    assert not rep.converged and rep.condition.definiteness == "unknown"
    assert rep.condition.condition_number is None
    json.dumps(rep.to_dict(), allow_nan=False)
    info = condition_number(obj, theta, maxiter=1, tol=0)
    assert not info.converged and info.condition_number is None


# --------------------------------------------------------------------------- a small MLP
def test_mlp_dense_hessian_is_symmetric(tanh_problem):
    *_, H = tanh_problem
    assert H.shape == (39, 39)
    assert np.abs(H - H.T).max() < 1e-7 * np.abs(H).max()


def test_mlp_eigenvalues_match_the_dense_hessian(tanh_problem):
    model, theta, X, y, obj, H = tanh_problem
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))
    res = extreme_eigenvalues(obj, theta, k=3, tol=1e-10)
    scale = np.abs(ev).max()
    assert np.allclose(res.top, ev[::-1][:3], rtol=1e-5, atol=1e-7 * scale)
    assert res.bottom == pytest.approx(ev[0], rel=1e-5, abs=1e-7 * scale)
    top = top_eigenvalues(obj, theta, k=3)
    assert np.allclose(top.eigenvalues, ev[::-1][:3], rtol=1e-5)


def test_mlp_hvp_matches_dense_product_and_dense_symmetrizes(tanh_problem):
    model, theta, X, y, obj, H = tanh_problem
    v = np.random.default_rng(5).standard_normal(theta.size)
    assert rel(hvp(obj, theta, v), H @ v) < 1e-6
    Hs = dense_hessian(obj, theta)
    assert np.array_equal(Hs, Hs.T)
    assert np.allclose(Hs, 0.5 * (H + H.T))


@pytest.mark.parametrize("products", ["exact", "finite-differences"])
def test_float32_theta_is_multiplied_in_float64(tanh_problem, products):
    model, theta, X, y, obj, H = tanh_problem
    t32 = theta.astype(np.float32)
    v = np.random.default_rng(6).standard_normal(theta.size)
    out = hvp(obj, t32, v, products=products)
    assert out.dtype == np.float64
    assert np.array_equal(out, hvp(obj, t32.astype(np.float64), v, products=products))
    reference = dense_hessian(obj, t32.astype(np.float64), products=products) @ v
    assert rel(out, reference) < (1e-13 if products == "exact" else 1e-6)


def _torch_hvp(model, theta, X, y, v):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    views = model.params(theta)
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss(flat):
        h = Xt
        for layer in model.layers:
            if layer.kind == "linear":
                tensors = {}
                for local in ("W", "b"):
                    spec = model.layout[f"{layer.name}.{local}"]
                    assert np.shares_memory(views[spec.name], theta)
                    tensors[local] = flat[spec.start : spec.stop].reshape(spec.shape)
                h = h @ tensors["W"] + tensors["b"]
            elif layer.kind == "tanh":
                h = torch.tanh(h)
            elif layer.kind == "relu":
                h = torch.relu(h)
            else:  # pragma: no cover
                raise AssertionError(layer.kind)
        return F.cross_entropy(h, yt)

    _, out = torch.autograd.functional.hvp(loss, torch.tensor(theta), torch.tensor(v))
    return out.numpy()


@pytest.mark.torch
def test_hvp_matches_torch_double_backward_tanh(tanh_problem):
    model, theta, X, y, obj, _ = tanh_problem
    v = np.random.default_rng(8).standard_normal(theta.size)
    reference = _torch_hvp(model, theta, X, y, v)
    assert rel(hvp(obj, theta, v), reference) < 1e-12  # exact: the model's R-operator
    assert rel(hvp(obj, theta, v, products="finite-differences"), reference) < 1e-7


@pytest.mark.torch
def test_hvp_matches_torch_relu_away_from_kinks():
    rng = np.random.default_rng(9)
    model = steepest.mlp([5, 6, 3], activation="relu")
    theta = model.init_params(4)
    X = rng.standard_normal((16, 5))
    y = rng.integers(0, 3, 16)
    obj = model.bind(X, y, train=False)
    # every pre-activation must stay on its side of 0 under a step of length eps
    pre = model.activations(theta, X)[0][2]
    bound = default_step(theta) * np.sqrt(np.sum(X**2, axis=1).max() + 1.0)
    assert np.abs(pre).min() > 10 * bound
    v = rng.standard_normal(theta.size)
    reference = _torch_hvp(model, theta, X, y, v)
    assert rel(hvp(obj, theta, v, products="finite-differences"), reference) < 1e-6
    assert rel(hvp(obj, theta, v), reference) < 1e-12


# --------------------------------------------------------------------------- bad input
def test_bad_input_names_the_value(pd_quad):
    q = pd_quad
    with pytest.raises(InputError, match=r"k=10 .*at most n - 1 = 9"):
        top_eigenvalues(q, q.theta, k=10)
    with pytest.raises(InputError, match="k=12"):
        extreme_eigenvalues(q, q.theta, k=12)
    with pytest.raises(InputError, match="top=10"):
        curvature_report(q, q.theta, top=10)
    with pytest.raises(InputError, match="k must be a positive integer"):
        top_eigenvalues(q, q.theta, k=0)
    with pytest.raises(InputError, match="'XX'"):
        top_eigenvalues(q, q.theta, which="XX")
    with pytest.raises(InputError, match="n_samples"):
        hutchinson_trace(q, q.theta, n_samples=1)
    with pytest.raises(InputError, match=r"shape \(2, 5\)"):
        hvp(q, np.zeros((2, 5)), np.zeros(10))
    with pytest.raises(InputError, match=r"v must be a 1-D vector of 10 parameters.*\(7,\)"):
        hvp(q, q.theta, np.zeros(7))
    with pytest.raises(InputError, match="eps"):
        hvp(q, q.theta, np.ones(10), eps=0.0)
    with pytest.raises(InputError, match="eps"):
        hvp(q, q.theta, np.ones(10), eps=-1.0)
    with pytest.raises(InputError, match="NaN"):
        hvp(q, np.full(10, np.nan), np.ones(10))
    with pytest.raises(InputError, match="seed"):
        top_eigenvalues(q, q.theta, seed=-1)
    with pytest.raises(InputError, match="max_params=5"):
        dense_hessian(q, q.theta, max_params=5)
    with pytest.raises(InputError, match="gradient of shape"):
        hvp(lambda t: (0.0, np.zeros(3)), q.theta, np.ones(10))
    with pytest.raises(InputError, match="pair"):
        hvp(lambda t: 1.0, q.theta, np.ones(10))
    with pytest.raises(InputError, match="hvp_fn returned shape"):
        hvp(None, q.theta, np.ones(10), hvp_fn=lambda v: v[:3])
    with pytest.raises(InputError, match=r"callable theta -> \(loss, grad\), got int"):
        hvp(42, q.theta, np.ones(10))
    with pytest.raises(InputError, match=r"thetas\[1\] must be a 1-D vector of 10 .*\(3,\)"):
        curvature_along_path(q, [q.theta, np.zeros(3)])
    with pytest.raises(InputError, match="steps has 1 entries but thetas has 2"):
        curvature_along_path(q, [q.theta, q.c], steps=[5])
    with pytest.raises(InputError, match=r"steps\[1\] must be an integer.*2\.5"):
        curvature_along_path(q, [q.theta, q.c], steps=[1, 2.5])
    with pytest.raises(InputError, match="theta must be floating point.*int64"):
        hvp(q, np.arange(10), np.ones(10))
    with pytest.raises(InputError, match="theta has shape"):
        top_eigenvalues(aslinearoperator(q.A), np.zeros(4), k=2)


def test_a_model_without_data_is_refused():
    model = steepest.mlp([3, 2])
    with pytest.raises(InputError, match="needs data: pass X and y to bind it"):
        hvp(model, model.init_params(0), np.ones(model.n_params))


# --------------------------------------------------------------------------- the contract
def _exact_quadratic(n=8, seed=4):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((n, n))
    A = 0.5 * (M + M.T)  # indefinite, symmetric
    calls = {"grad": 0}

    def f(x):
        calls["grad"] += 1
        g = A @ x
        return 0.5 * float(x @ g), g

    obj = steepest.objective(f, rng.standard_normal(n), hvp=lambda theta, v: A @ v)
    return A, steepest.bind(obj), obj.init_params(), calls


def test_a_bound_objective_with_an_exact_hvp_is_used_exactly():
    A, bound, theta, calls = _exact_quadratic()
    assert bound.has_hvp
    op = HessianOperator(bound, theta)
    assert op.exact and op.step is None
    n = A.shape[0]
    ext = extreme_eigenvalues(op, k=n - 1, tol=0)
    found = np.sort(np.append(ext.top, ext.bottom))
    assert ext.exact and ext.converged
    assert np.allclose(found, np.linalg.eigvalsh(A), rtol=0, atol=1e-10)
    assert np.allclose(dense_hessian(op), A, rtol=0, atol=1e-12)
    assert op.n_grad_evals == 0 and calls["grad"] == 0 and op.n_products > 0
    # exact wins over an explicit difference step
    assert HessianOperator(bound, theta, eps=1e-3).exact
    rep = curvature_report(bound, theta, top=2)
    assert rep.exact and rep.step is None and rep.n_grad_evals == 1  # the loss at theta
    assert rep.loss == pytest.approx(0.5 * theta @ A @ theta)


def test_report_to_dict_is_strict_json(indef_quad, pd_quad):
    for q, kappa in ((indef_quad, None), (pd_quad, pytest.approx(20.0, rel=1e-6))):
        rep = curvature_report(q, q.theta, top=2, trace=True, n_samples=10)
        back = json.loads(json.dumps(rep.to_dict(), allow_nan=False))
        assert back["eigenvalues"] == pytest.approx(list(rep.eigenvalues))
        assert back["condition"]["condition_number"] == kappa
        assert back["trace"]["stderr"] == pytest.approx(rep.trace.stderr)


def test_plots_return_figures_without_pyplot(pd_quad, tanh_problem):
    matplotlib = pytest.importorskip("matplotlib")
    pyplot = pytest.importorskip("matplotlib.pyplot")
    q = pd_quad
    _, theta, _, _, obj, _ = tanh_problem
    before = pyplot.get_fignums()
    trace = hutchinson_trace(q, q.theta, n_samples=12)
    rep = curvature_report(q, q.theta, top=3, trace=True, n_samples=12)
    path = curvature_along_path(q, [q.theta, q.c], steps=[10, 20])
    unconverged = curvature_report(obj, theta, top=2, maxiter=1, tol=0)
    assert not unconverged.converged
    for result in (trace, rep, path, unconverged):
        fig = result.plot()
        assert isinstance(fig, matplotlib.figure.Figure) and fig.axes
        fig.savefig(io.BytesIO(), format="png")  # draws every artist
    fig = matplotlib.figure.Figure()
    ax = fig.subplots()
    assert path.plot(ax=ax) is fig
    assert pyplot.get_fignums() == before


# --------------------------------------------------------------------------- options
def test_products_option_forces_or_refuses_differences(tanh_problem, pd_quad):
    model, theta, X, y, obj, H = tanh_problem
    fd = HessianOperator(obj, theta, products="finite-differences")
    assert not fd.exact and fd.step == pytest.approx(default_step(theta))
    assert HessianOperator(obj, theta).exact  # exact by default when offered
    assert HessianOperator(obj, theta, products="exact").exact
    res = top_eigenvalues(obj, theta, k=2, products="finite-differences")
    assert not res.exact and res.matrix == "hessian"
    assert np.allclose(res.eigenvalues, top_eigenvalues(obj, theta, k=2).eigenvalues, rtol=1e-6)
    with pytest.raises(InputError, match="offers no exact Hessian-vector product"):
        hvp(pd_quad, pd_quad.theta, np.ones(10), products="exact")
    with pytest.raises(InputError, match="'central'"):
        hvp(obj, theta, np.ones(theta.size), products="central")
    with pytest.raises(InputError, match="pass fun and no hvp_fn"):
        hvp(None, pd_quad.theta, np.ones(10), hvp_fn=pd_quad.hvp_fn,
            products="finite-differences")


def test_gauss_newton_option(tanh_problem, pd_quad):
    model, theta, X, y, obj, H = tanh_problem
    G = dense_hessian(obj, theta, matrix="ggn")
    point = model.curvature_at(theta, X, y)
    assert np.allclose(G, np.stack([point.ggn_vp(e) for e in np.eye(theta.size)], axis=1),
                       rtol=0, atol=1e-14)
    ev = np.linalg.eigvalsh(G)
    rep = curvature_report(obj, theta, top=2, trace=True, n_samples=10, matrix="ggn")
    assert rep.matrix == "ggn" and rep.trace.matrix == "ggn" and rep.exact
    assert np.allclose(rep.eigenvalues, ev[::-1][:2], rtol=1e-6)
    assert rep.to_dict()["matrix"] == "ggn"
    assert "Gauss-Newton" in rep.plot().axes[0].get_title()
    op = HessianOperator(obj, theta, matrix="ggn")
    assert top_eigenvalues(op, k=1).matrix == "ggn"
    with pytest.raises(InputError, match="the operator multiplies by the ggn"):
        top_eigenvalues(op, k=1, matrix="hessian")
    with pytest.raises(InputError, match="no finite-difference form"):
        hvp(obj, theta, np.ones(theta.size), matrix="ggn", products="finite-differences")
    with pytest.raises(InputError, match="offers no Gauss-Newton product"):
        hvp(pd_quad, pd_quad.theta, np.ones(10), matrix="ggn")
    path = curvature_along_path(obj, [theta, 0.5 * theta], matrix="ggn")
    assert all(r.matrix == "ggn" for r in path.reports)


def test_float32_precision_of_exact_products(tanh_problem, pd_quad):
    model, theta, X, y, obj, H = tanh_problem
    op = HessianOperator(obj, theta, precision="float32")
    assert op.exact and op.precision == np.float32
    v = np.random.default_rng(2).standard_normal(theta.size)
    out = op.matvec(v)
    assert out.dtype == np.float64 and 0 < rel(out, H @ v) < 1e-5
    ev = np.linalg.eigvalsh(H)
    assert np.allclose(top_eigenvalues(op, k=2).eigenvalues, ev[::-1][:2], rtol=1e-5)
    with pytest.raises(InputError, match="precision='float32' applies to the objective's"):
        HessianOperator(pd_quad, pd_quad.theta, precision="float32")
    with pytest.raises(InputError, match="'float16'"):
        HessianOperator(obj, theta, precision="float16")


def test_the_operator_keeps_one_forward_pass(tanh_problem, monkeypatch):
    model, theta, X, y, obj, H = tanh_problem
    calls = []
    original = type(model).curvature_at

    def counted(self, *args, **kwargs):
        calls.append(1)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(model), "curvature_at", counted)
    res = extreme_eigenvalues(obj, theta, k=2)
    assert res.n_hvp > 10 and len(calls) == 1
    assert np.allclose(res.top, np.linalg.eigvalsh(H)[::-1][:2], rtol=1e-8)


def test_dropout_and_batchnorm_in_training_mode_use_the_bound_seed():
    rng = np.random.default_rng(0)
    model = steepest.mlp([4, 6, 3], batchnorm=True, dropout=0.7, activation="tanh")
    theta = model.init_params(1)
    X, y = rng.standard_normal((20, 4)), rng.integers(0, 3, 20)
    bound = steepest.bind(model, X, y, train=True, seed=9)
    buffers = model.buffers.copy()
    v = rng.standard_normal(theta.size)
    expected = model.hvp(theta, v, X, y, train=True, rng=np.random.default_rng(9))
    assert np.array_equal(hvp(bound, theta, v), expected)
    fd = hvp(bound, theta, v, products="finite-differences")
    assert rel(fd, expected) < 1e-6  # same masks at theta +- e v: the differences agree
    assert np.array_equal(model.buffers, buffers)
