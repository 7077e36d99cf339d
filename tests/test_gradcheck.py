"""The gradient checker: it must pass correct gradients, catch planted bugs in any single layer
(naming the tensor), and report kink crossings instead of failing a correct gradient."""

import numpy as np
import pytest

import steepest
from steepest import InputError
from steepest.gradcheck import check_model, gradcheck, numerical_gradient, rel_error
from steepest.params import Layout


@pytest.fixture
def data(rng):
    X = rng.standard_normal((16, 10))
    y = np.arange(16) % 4
    return X, y


def plant(layer, bug):
    """Wrap ``layer.backward`` so that ``bug(g, dx)`` corrupts its result."""
    original = layer.backward

    def backward(dout, cache, p, g, need_dx=True):
        dx = original(dout, cache, p, g, need_dx)
        return bug(g, dx)

    layer.backward = backward


def layer_named(model, name):
    return next(layer for layer in model.layers if layer.name == name)


def scale_param(key, factor=1.01):
    def bug(g, dx):
        g[key] *= factor
        return dx
    return bug


def transpose_param(key):
    def bug(g, dx):
        g[key][...] = g[key].T.copy()
        return dx
    return bug


def scale_dx(factor=1.01):
    return lambda g, dx: dx * factor


UPSTREAM_OF_RELU2 = ["fc1.W", "fc1.b", "fc2.W", "fc2.b"]


@pytest.mark.parametrize(
    "kwargs, layer, bug, expected",
    [
        ({}, "fc2", scale_param("W"), ["fc2.W"]),
        ({}, "fc2", transpose_param("W"), ["fc2.W"]),
        ({}, "fc1", scale_param("b"), ["fc1.b"]),
        ({}, "fc3", scale_param("W", 0.99), ["fc3.W"]),
        ({}, "relu2", scale_dx(), UPSTREAM_OF_RELU2),
        ({}, "fc3", scale_dx(), UPSTREAM_OF_RELU2),
        ({"batchnorm": True}, "bn1", scale_param("gamma"), ["bn1.gamma"]),
        ({"batchnorm": True}, "bn2", scale_param("beta"), ["bn2.beta"]),
        ({"batchnorm": True}, "bn2", scale_dx(), ["fc1.W", "bn1.gamma", "bn1.beta", "fc2.W"]),
        ({"activation": "tanh"}, "tanh2", scale_dx(), UPSTREAM_OF_RELU2),
        ({"activation": "sigmoid"}, "sigmoid1", scale_dx(), ["fc1.W", "fc1.b"]),
        ({"activation": "maxout"}, "maxout2", scale_dx(), UPSTREAM_OF_RELU2),
        ({"activation": "leaky_relu"}, "leaky_relu1", scale_dx(), ["fc1.W", "fc1.b"]),
        ({"dropout": 0.7}, "drop2", scale_dx(), UPSTREAM_OF_RELU2),
    ],
)
def test_fast_mode_catches_a_planted_bug_and_names_the_tensor(data, kwargs, layer, bug, expected):
    X, y = data
    model = steepest.mlp([10, 12, 12, 4], **kwargs)  # square fc2.W so a transpose type-checks
    assert check_model(model, X, y, mode="fast").ok  # the correct model passes first
    plant(layer_named(model, layer), bug)
    result = check_model(model, X, y, mode="fast")
    assert not result.ok
    assert result.failed == expected  # fc biases before BatchNorm have zero true gradient
    for t in result.tensors:
        assert (t.max_rel_error > result.tol) == (t.name in expected)


def test_batchnorm_backward_missing_the_mean_term_is_caught(data):
    X, y = data
    model = steepest.mlp([10, 12, 12, 4], batchnorm=True)
    bn = layer_named(model, "bn1")

    def naive_backward(dout, cache, p, g, need_dx=True):
        xhat, inv_std, _ = cache
        g["gamma"][...] = (dout * xhat).sum(0)
        g["beta"][...] = dout.sum(0)
        return dout * p["gamma"] * inv_std  # treats the batch statistics as constants

    bn.backward = naive_backward
    result = check_model(model, X, y, mode="fast")
    # fc1.b's true gradient is exactly 0 (BatchNorm removes the mean); the naive one is not
    assert result.failed == ["fc1.W", "fc1.b"]


@pytest.mark.parametrize("mode", ["fast", "sampled", "full"])
@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"batchnorm": True, "dropout": 0.6},
        {"activation": "tanh", "loss": "svm", "reg": 0.05},
        {"activation": "maxout", "loss": "svm", "hinge": "crammer-singer"},
        {"activation": "sigmoid", "loss": "l2", "reg": 0.1, "regularizer": "elastic"},
        {"activation": "leaky_relu", "loss": "l1", "reg": 0.1, "regularizer": "l1"},
    ],
)
def test_correct_models_pass_in_every_mode(data, kwargs, mode):
    X, y = data
    model = steepest.mlp([10, 8, 6, 4], **kwargs)
    result = check_model(model, X, y, mode=mode, k=5)
    assert result.ok, result.to_dict()
    assert result.max_rel_error < (1e-5 if mode == "fast" else 1e-6)
    if mode == "full":
        assert sum(t.n_checked for t in result.tensors) == model.n_params


def test_float32_model_is_checked_in_float64(data):
    X, y = data
    model = steepest.mlp([10, 8, 4])
    theta32 = model.init_params(0, dtype=np.float32)
    result = check_model(model, X.astype(np.float32), y, theta=theta32, mode="full")
    assert result.ok and result.max_rel_error < 1e-6


def test_relu_kink_is_reported_not_failed():
    # A zero input row with zero biases puts every first-layer pre-activation exactly at 0.
    model = steepest.mlp([3, 5, 2])
    X = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5], [0.3, 0.2, -1.0]])
    y = np.array([0, 1, 1])
    theta = model.init_params(1)
    result = check_model(model, X, y, theta=theta, mode="fast")
    fc1b = next(t for t in result.tensors if t.name == "fc1.b")
    assert fc1b.kink_crossings == 1 and fc1b.status == "kink"
    assert result.ok
    # Without the detection the same correct gradient looks wrong.
    blind = check_model(model, X, y, theta=theta, mode="fast", detect_kinks=False)
    assert "fc1.b" in blind.failed


def test_hinge_kink_at_the_margin_is_reported():
    # W = 0 and b = [1, 0, 0] with every label 0 puts every margin s_j - s_y + 1 exactly at 0.
    model = steepest.linear(2, 3, loss="svm")
    theta = model.layout.flatten({"fc1.W": np.zeros((2, 3)), "fc1.b": np.array([1.0, 0, 0])})
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    result = check_model(model, X, np.array([0, 0]), theta=theta, mode="sampled", k=6)
    assert result.ok
    assert any(t.kink_crossings > 0 for t in result.tensors)
    blind = check_model(model, X, np.array([0, 0]), theta=theta, mode="sampled", k=6,
                        detect_kinks=False)
    assert not blind.ok


def test_numerical_gradient_of_known_function():
    f = lambda t: np.sum(np.sin(t)) + t[0] * t[1] ** 2  # noqa: E731
    t = np.array([0.3, -1.2, 2.0])
    exact = np.cos(t) + np.array([t[1] ** 2, 2 * t[0] * t[1], 0.0])
    np.testing.assert_allclose(numerical_gradient(f, t), exact, rtol=1e-9)
    fwd = numerical_gradient(f, t, method="forward")
    assert rel_error(fwd, exact).max() < 1e-4  # O(h) error
    assert rel_error(fwd, exact).max() > 1e-8  # and visibly worse than centered


def test_plain_callable_and_result_dict():
    A = np.diag([1.0, 2.0, 3.0])

    def f(t):
        return 0.5 * t @ A @ t, A @ t

    result = gradcheck(f, np.ones(3), mode="full")
    assert result.ok
    d = result.to_dict()
    assert d["ok"] is True and d["tensors"][0]["name"] == "theta"
    assert {"max_rel_error", "worst_index", "status"} <= set(d["tensors"][0])
    wrong = gradcheck(lambda t: (f(t)[0], 1.01 * f(t)[1]), np.ones(3), mode="fast")
    assert not wrong.ok and wrong.failed == ["theta"]


def test_worst_index_is_a_tensor_index():
    layout = Layout([("a", (2, 3), "weight"), ("b", (4,), "bias")])

    def f(t):
        g = 2 * t
        g[4] *= 1.5  # a[1, 1] is wrong
        return float(t @ t), g

    result = gradcheck(f, np.arange(1.0, 11.0), layout=layout, mode="full")
    a = result.tensors[0]
    assert a.status == "fail" and a.worst_index == (1, 1)
    assert result.tensors[1].status == "pass"


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"mode": "quick"}, "unknown gradcheck mode 'quick'; allowed: fast, sampled, full"),
        ({"method": "backward"}, "unknown difference method 'backward'"),
        ({"h": 0.0}, "step h must be a positive finite number"),
        ({"k": 0}, "k must be a positive integer"),
    ],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(InputError, match=match):
        gradcheck(lambda t: (float(t @ t), 2 * t), np.ones(3), **kwargs)


@pytest.mark.parametrize("kwargs", [
    dict(activation="relu", reg=1e-2),
    dict(activation="tanh", batchnorm=True, loss="svm", reg=1e-3, regularizer="elastic"),
    dict(activation="maxout", dropout=0.7, loss="svm", hinge="crammer-singer"),
    dict(activation="leaky_relu", batchnorm=True, loss="l1", regularizer="l1", reg=1e-3),
    dict(activation="sigmoid", loss="l2"),
])
@pytest.mark.parametrize("train", [True, False])
def test_batched_coordinate_probes_equal_one_at_a_time(kwargs, train):
    """The many-coordinates path gives the losses of the one-coordinate resumed passes."""
    rng = np.random.default_rng(3)
    model = steepest.mlp([5, 6, 4, 3], **kwargs)
    theta = model.init_params(2)
    theta += 0.1 * rng.standard_normal(theta.size)
    X, y = rng.standard_normal((7, 5)), rng.integers(0, 3, 7)
    fn = steepest.bind(model, X, y, train=train, seed=4)
    record = fn.record(theta)
    for spec in model.layout:
        coords = np.arange(spec.size)
        fp, fm, crossed = fn.coordinate_losses(record, theta, spec.name, coords, 1e-3)
        for c in coords:
            delta = np.zeros(spec.size)
            delta[c] = 1.0
            p, m, x = fn.directional(record, theta, spec.name, delta, 1e-3)
            assert fp[c] == pytest.approx(p, rel=1e-12, abs=1e-14), (spec.name, c)
            assert fm[c] == pytest.approx(m, rel=1e-12, abs=1e-14), (spec.name, c)
            assert crossed[c] == x, (spec.name, c)


def test_a_full_check_of_a_whole_model_names_a_planted_bug(monkeypatch):
    from steepest.nn import layers

    model = steepest.mlp([20, 16, 5])
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((8, 20)), rng.integers(0, 5, 8)
    assert check_model(model, X, y, mode="full").ok
    original = layers.Linear.backward

    def buggy(self, dout, cache, p, g, need_dx=True):
        dx = original(self, dout, cache, p, g, need_dx)
        if self.name == "fc1":
            g["W"][3, 7] *= 1.01
        return dx

    monkeypatch.setattr(layers.Linear, "backward", buggy)
    result = check_model(model, X, y, mode="full")
    bad = next(t for t in result.tensors if t.name == "fc1.W")
    assert result.failed == ["fc1.W"] and bad.worst_index == (3, 7)
