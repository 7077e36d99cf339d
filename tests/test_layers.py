"""Every layer's backward against centered differences in float64, on random shapes.

Each layer is checked in isolation through the scalar ``f = sum(R * layer(x))`` with a fixed
random ``R``: its gradient with respect to the input is ``backward(R)`` and with respect to the
parameters is what ``backward`` writes into ``g``.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steepest.gradcheck import numerical_gradient, rel_error
from steepest.nn import BatchNorm, Context, Dropout, LeakyReLU, Linear, Maxout, ReLU, Sigmoid, Tanh
from steepest.params import Layout

TOL = 1e-6


def _bind(layer):
    layout = Layout([(n, s, r) for n, s, r in layer.param_shapes()])
    return layout


def check_layer(layer, x, rng, train=True, seed=0, avoid_kinks=None):
    """Return the max relative errors of d/dx and of every parameter tensor."""
    layout = _bind(layer)
    theta = rng.standard_normal(layout.size)
    for s in layout:
        if s.name == "gamma":
            theta[s.slice] = 1 + 0.3 * rng.standard_normal(s.size)
    buffers = {
        f"{layer.name}.{n}": np.full(shape, v) + 0.1 * rng.random(shape)
        for n, shape, v in layer.buffer_shapes()
    }

    def ctx():
        return Context(train=train, rng=np.random.default_rng(seed), buffers=buffers,
                       update_stats=False)

    out, _ = layer.forward(x, layout.views(theta), ctx())
    R = rng.standard_normal(out.shape)

    def f(th, xx):
        o, _ = layer.forward(xx, layout.views(th), ctx())
        return float(np.sum(R * o))

    out, cache = layer.forward(x.copy(), layout.views(theta), ctx())
    grad = np.empty_like(theta)
    dx = layer.backward(R.copy(), cache, layout.views(theta), layout.views(grad))
    # Derivatives below the rounding resolution of a difference quotient (eps |f| / h) are
    # compared in absolute terms, as steepest.gradcheck does.
    floor = 4 * np.finfo(float).eps * max(abs(f(theta, x)), 1.0) / 1e-5 / TOL
    num_dx = numerical_gradient(lambda v: f(theta, v.reshape(x.shape)), x.ravel())
    errors = {"x": rel_error(dx.ravel(), num_dx.ravel(), floor).max()}
    if layout.size:
        num = numerical_gradient(lambda th: f(th, x), theta)
        for s in layout:
            errors[s.name] = rel_error(grad[s.slice], num[s.slice], floor).max()
    return errors


def away_from_zero(x, gap=1e-3):
    """Push entries away from 0 so a perturbation of 1e-5 cannot cross the kink."""
    return np.where(np.abs(x) < gap, np.sign(x + 1e-12) * gap * 10, x)


dims = st.integers(min_value=1, max_value=7)


@settings(max_examples=25, deadline=None)
@given(n=dims, d_in=dims, d_out=dims, seed=st.integers(0, 2**16))
def test_linear(n, d_in, d_out, seed):
    rng = np.random.default_rng(seed)
    errs = check_layer(Linear(d_in, d_out, name="fc"), rng.standard_normal((n, d_in)), rng)
    assert max(errs.values()) < TOL, errs


@settings(max_examples=25, deadline=None)
@given(n=dims, d=dims, seed=st.integers(0, 2**16),
       kind=st.sampled_from(["relu", "leaky", "sigmoid", "tanh"]))
def test_activations(n, d, seed, kind):
    rng = np.random.default_rng(seed)
    layer = {"relu": ReLU, "leaky": lambda name: LeakyReLU(0.1, name=name),
             "sigmoid": Sigmoid, "tanh": Tanh}[kind](name="act")
    x = away_from_zero(3 * rng.standard_normal((n, d)))
    errs = check_layer(layer, x, rng)
    assert max(errs.values()) < TOL, errs


@settings(max_examples=25, deadline=None)
@given(n=dims, m=st.integers(1, 5), k=st.integers(2, 4), seed=st.integers(0, 2**16))
def test_maxout(n, m, k, seed):
    rng = np.random.default_rng(seed)
    # distinct values within each group, so no perturbation can swap the arg-max
    x = rng.permutation(n * m * k).reshape(n, m * k) * 0.01 + rng.random((n, m * k)) * 1e-3
    errs = check_layer(Maxout(k, name="mo"), x, rng)
    assert max(errs.values()) < TOL, errs


@settings(max_examples=25, deadline=None)
@given(n=st.integers(3, 8), d=dims, seed=st.integers(0, 2**16), train=st.booleans())
def test_batchnorm_both_modes(n, d, seed, train):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d)) * 2 + 1
    errs = check_layer(BatchNorm(d, name="bn"), x, rng, train=train)
    assert max(errs.values()) < TOL, errs


@settings(max_examples=15, deadline=None)
@given(n=dims, d=dims, seed=st.integers(0, 2**16), p=st.floats(0.2, 1.0))
def test_dropout_with_fixed_generator(n, d, seed, p):
    rng = np.random.default_rng(seed)
    errs = check_layer(Dropout(p, name="drop"), rng.standard_normal((n, d)), rng, seed=seed)
    assert max(errs.values()) < TOL, errs


def test_inverted_dropout_keeps_the_expectation_and_is_identity_at_test_time():
    layer = Dropout(0.3, name="drop")
    x = np.ones((2000, 50))
    out, mask = layer.forward(x, {}, Context(train=True, rng=np.random.default_rng(0)))
    kept = out != 0
    assert abs(kept.mean() - 0.3) < 0.01
    np.testing.assert_allclose(out[kept], 1 / 0.3)
    assert abs(out.mean() - 1.0) < 0.02
    out_eval, _ = layer.forward(x, {}, Context(train=False))
    assert out_eval is x


def test_batchnorm_running_statistics_follow_pytorch_convention():
    layer = BatchNorm(3, momentum=0.1, name="bn")
    buffers = {"bn.running_mean": np.zeros(3), "bn.running_var": np.ones(3)}
    x = np.random.default_rng(0).standard_normal((10, 3)) * 2 + 5
    p = {"gamma": np.ones(3), "beta": np.zeros(3)}
    out, _ = layer.forward(x, p, Context(train=True, buffers=buffers))
    np.testing.assert_allclose(out.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(axis=0), x.var(axis=0) / (x.var(axis=0) + 1e-5))
    np.testing.assert_allclose(buffers["bn.running_mean"], 0.1 * x.mean(axis=0))
    np.testing.assert_allclose(buffers["bn.running_var"], 0.9 + 0.1 * x.var(axis=0, ddof=1))


def test_relu_kink_state_and_zero_subgradient():
    layer = ReLU(name="r")
    out, cache = layer.forward(np.array([[-1.0, 0.0, 2.0]]), {}, Context())
    np.testing.assert_array_equal(layer.kinks(cache), [[False, False, True]])
    dx = layer.backward(np.ones((1, 3)), cache, {}, {})
    np.testing.assert_array_equal(dx, [[0.0, 0.0, 1.0]])


@pytest.mark.parametrize("bad", [0, -3, 2.5, True])
def test_non_positive_sizes_are_rejected(bad):
    with pytest.raises(ValueError, match="positive integer"):
        Linear(bad, 3)
