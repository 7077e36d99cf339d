"""L-BFGS, zeroth-order searches, the one-step sweep and the LR range test."""

import numpy as np
import pytest

import steepest
from steepest.errors import InputError
from steepest.optim import (
    Adam,
    lbfgs,
    lr_range_test,
    random_local_search,
    random_search,
    step_size_sweep,
)


def quadratic(eigenvalues, seed=0):
    """``f(x) = 0.5 x'Ax - b'x`` with a random rotation; returns (fun, A, b)."""
    rng = np.random.default_rng(seed)
    n = len(eigenvalues)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    A = (Q * np.asarray(eigenvalues, dtype=float)) @ Q.T
    b = rng.standard_normal(n)

    def fun(x):
        Ax = A @ x
        return 0.5 * x @ Ax - b @ x, Ax - b

    return fun, A, b


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(7)
    y = np.repeat(np.arange(3), 40)
    X = rng.standard_normal((120, 4)) + 3.0 * np.eye(3, 4)[y]
    return X, y


# ------------------------------------------------------------------ L-BFGS
def test_lbfgs_solves_a_quadratic():
    fun, A, b = quadratic(np.linspace(1.0, 50.0, 12))
    seen = []
    res = lbfgs(
        fun, np.zeros(12), max_iter=200, tol=1e-10, callback=lambda th, loss: seen.append(loss)
    )
    assert res.success, res.message
    np.testing.assert_allclose(res.theta, np.linalg.solve(A, b), rtol=1e-7, atol=1e-8)
    assert res.grad_norm < 1e-6  # about sqrt(eps * L): the floor of a loss-based line search
    assert res.history.shape == (res.n_iter + 1,)
    assert res.history[0] == 0.0 and res.loss == pytest.approx(res.history[-1])
    assert np.all(np.diff(res.history) <= 1e-12)
    assert seen == list(res.history[1:])
    assert res.n_evals >= res.n_iter


def test_lbfgs_fits_a_softmax_linear_classifier(blobs):
    X, y = blobs
    model = steepest.linear(4, 3, loss="softmax", reg=1e-2)
    obj = model.bind(X, y, train=False)
    theta0 = model.init_params(seed=0, dtype=np.float32)  # computed in float64 anyway
    res = lbfgs(obj.loss_and_grad, theta0, max_iter=500, tol=1e-9)
    assert res.success, res.message
    assert res.theta.dtype == np.float64
    assert res.grad_norm < 1e-6
    _, grad = obj.loss_and_grad(res.theta)
    assert np.linalg.norm(grad) == pytest.approx(res.grad_norm, rel=1e-6, abs=1e-12)
    assert res.loss < obj.loss(theta0.astype(np.float64))
    assert model.accuracy(res.theta, X, y) > 0.8


def test_lbfgs_callback_can_stop_and_inputs_are_checked():
    fun, _, _ = quadratic(np.linspace(1.0, 100.0, 8))
    res = lbfgs(fun, np.zeros(8), callback=lambda th, loss: True)
    assert res.n_iter == 1 and not res.success
    with pytest.raises(InputError, match="max_iter"):
        lbfgs(fun, np.zeros(8), max_iter=0)
    with pytest.raises(InputError, match="1-D"):
        lbfgs(fun, np.zeros((2, 4)))
    with pytest.raises(InputError, match="gradient of shape"):
        lbfgs(lambda x: (0.0, np.zeros(3)), np.zeros(8))


# ------------------------------------------------------------------ zeroth order
def sq_distance(target):
    return lambda th: float(np.sum((th - target) ** 2))


def test_random_search_keeps_the_best_draw():
    loss = sq_distance(np.full(5, 0.3))
    res = random_search(loss, 5, n_tries=200, scale=0.3, rng=0)
    assert res.loss == res.losses.min() == res.history[-1] == loss(res.theta)
    assert np.all(np.diff(res.history) <= 0)
    assert res.loss < loss(np.zeros(5)) and res.loss < np.median(res.losses)
    assert res.n_evals == 200 and 1 <= res.n_accepted <= 200
    again = random_search(loss, 5, n_tries=200, scale=0.3, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(again.theta, res.theta)  # same seed, same draws


def test_random_local_search_descends():
    loss = sq_distance(np.ones(5))
    theta0 = np.zeros(5, dtype=np.float32)
    res = random_local_search(loss, theta0, n_iters=400, step=0.1, rng=1)
    assert res.loss < 0.2 * loss(theta0)
    assert res.theta.dtype == np.float32 and np.all(theta0 == 0)
    assert np.all(np.diff(res.history) <= 0) and res.history[-1] == res.loss
    assert 0 < res.n_accepted < 400 and res.n_evals == 401


def test_zeroth_order_validation():
    loss = sq_distance(np.zeros(3))
    with pytest.raises(InputError, match="rng"):
        random_search(loss, 3, 10, rng=None)
    with pytest.raises(InputError, match="n_tries"):
        random_search(loss, 3, 0, rng=0)
    with pytest.raises(InputError, match="scale"):
        random_search(loss, 3, 5, scale=-1.0, rng=0)
    with pytest.raises(InputError, match="dtype"):
        random_search(loss, 3, 5, rng=0, dtype=np.int32)
    with pytest.raises(InputError, match="theta0"):
        random_local_search(loss, np.zeros((3, 1)), 5, rng=0)
    with pytest.raises(InputError, match="step"):
        random_local_search(loss, np.zeros(3), 5, step=float("nan"), rng=0)


def test_nan_losses_never_win():
    calls = iter([np.nan, 3.0, np.nan, 2.0])
    res = random_search(lambda th: next(calls), 2, n_tries=4, rng=0)
    assert res.loss == 2.0


# ------------------------------------------------------------------ step-size sweep
def test_sweep_isotropic_quadratic_picks_one_over_L():
    L = 100.0
    fun = lambda th: (0.5 * L * th @ th, L * th)  # noqa: E731
    theta = np.ones(6)
    sw = step_size_sweep(fun, theta)
    np.testing.assert_array_equal(sw.step_sizes, 10.0 ** np.arange(-10, 0))
    assert sw.best_step == pytest.approx(1.0 / L)
    assert sw.best_loss < 1e-20 and sw.improved and sw.loss0 == 300.0
    assert sw.grad_norm == pytest.approx(L * np.sqrt(6))
    np.testing.assert_array_equal(theta, 1.0)


def test_sweep_ill_conditioned_quadratic_best_step_near_one_over_L():
    L = 10.0
    fun, A, b = quadratic(np.linspace(L / 2, L, 10), seed=3)
    theta = np.random.default_rng(0).standard_normal(10)
    sw = step_size_sweep(fun, theta, np.logspace(-3, 0, 61))
    assert 0.5 / L <= sw.best_step <= 2.0 / L
    assert sw.losses[-1] > sw.loss0  # a step of 1 overshoots (1 > 2 / L)


def test_sweep_accepts_an_objective(blobs):
    X, y = blobs
    model = steepest.linear(4, 3)
    obj = model.bind(X, y, train=False)
    theta = model.init_params(seed=1)
    sw = step_size_sweep(obj, theta, [1e-3, 1e-2, 1e-1, 1.0, 1e3])
    assert sw.improved and sw.best_loss < sw.loss0
    assert sw.losses[0] < sw.loss0  # a tiny step along -grad lowers the loss
    with pytest.raises(InputError, match="step_sizes"):
        step_size_sweep(obj, theta, [1e-2, -1.0])
    with pytest.raises(InputError, match="expected an objective"):
        step_size_sweep(42, theta)


# ------------------------------------------------------------------ LR range test
def test_lr_range_test_on_a_quadratic():
    # mini-batch i is 1 + (L/2)||theta - c_i||^2 with noisy centres c_i; SGD is stable
    # only for lr < 2 / L = 0.2, and the noise keeps theta away from 0, so it blows up promptly.
    L = 10.0
    centres = np.random.default_rng(0).normal(0.0, 0.3, (80, 4))

    def batch(th, i):
        d = th - centres[i]
        return 1.0 + 0.5 * L * d @ d, L * d

    theta = np.ones(4)
    res = lr_range_test(batch, theta, lr_min=1e-5, lr_max=10.0, n_steps=80)
    assert res.stopped_early and res.lrs.size < 80
    assert res.lrs.size == res.losses.size == res.smoothed.size
    np.testing.assert_allclose(res.lrs[1:] / res.lrs[:-1], (1e6) ** (1 / 79), rtol=1e-12)
    assert res.lrs[0] == pytest.approx(1e-5)
    assert res.lrs[-1] < 1.0  # stopped soon after the stability limit
    assert 0.02 < res.min_loss_lr < 0.2
    assert np.isfinite(res.suggestion) and 1e-3 < res.suggestion < 0.2
    np.testing.assert_array_equal(theta, 1.0)  # run on a copy
    m10 = lr_range_test(batch, theta, lr_min=1e-5, lr_max=10.0, n_steps=80, method="min10")
    assert m10.suggestion == pytest.approx(m10.min_loss_lr / 10)


def test_lr_range_test_on_a_small_model_with_other_rules(blobs):
    X, y = blobs
    model = steepest.linear(4, 3)
    theta = model.init_params(seed=0)
    rng = np.random.default_rng(0)
    order = rng.permutation(120)

    def batch(th, i):
        rows = order[(i * 20) % 120 :][:20]
        return model.loss_and_grad(th, X[rows], y[rows])

    for opt in (None, "momentum", Adam(beta1=0.8)):
        res = lr_range_test(batch, theta, lr_min=1e-4, lr_max=1e2, n_steps=40, optimizer=opt)
        assert np.isfinite(res.suggestion) and 1e-4 <= res.suggestion <= 1e2
        assert np.nanmin(res.smoothed) < res.smoothed[0]


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"lr_min": 1.0, "lr_max": 0.1}, "lr_min < lr_max"),
        ({"lr_min": 0.0}, "lr_min < lr_max"),
        ({"n_steps": 1}, "n_steps"),
        ({"smoothing": 1.0}, "smoothing"),
        ({"diverge": 1.0}, "diverge"),
        ({"method": "valley"}, "suggestion method"),
        ({"skip_start": -1}, "skip_start"),
        ({"optimizer": "adamx"}, "unknown optimizer"),
        ({"optimizer": 3}, "optimizer"),
    ],
)
def test_lr_range_test_validation(kwargs, match):
    batch = lambda th, i: (float(th @ th), 2 * th)  # noqa: E731
    with pytest.raises(InputError, match=match):
        lr_range_test(batch, np.ones(2), **kwargs)


def test_lr_range_test_stops_on_a_non_finite_loss():
    batch = lambda th, i: (np.inf if i == 3 else 1.0, np.zeros_like(th))  # noqa: E731
    res = lr_range_test(batch, np.ones(2), n_steps=10)
    assert res.stopped_early and res.losses.size == 4 and np.isfinite(res.suggestion)
