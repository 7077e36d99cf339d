"""Models: the flat layout, initializers, modes, regularization and boundary validation."""

import numpy as np
import pytest

import steepest
from steepest import InputError
from steepest.nn import BatchNorm, Linear, Model, ReLU, Sequential
from steepest.params import Layout


def test_layout_views_write_through_and_roles():
    model = steepest.mlp([5, 4, 3], batchnorm=True)
    assert model.layout.names == ["fc1.W", "fc1.b", "bn1.gamma", "bn1.beta", "fc2.W", "fc2.b"]
    assert [s.role for s in model.layout] == ["weight", "bias", "norm", "norm", "weight", "bias"]
    assert model.n_params == 5 * 4 + 4 + 4 + 4 + 4 * 3 + 3
    assert model.buffer_layout.names == ["bn1.running_mean", "bn1.running_var"]
    theta = model.init_params(0)
    views = model.params(theta)
    views["fc2.b"][:] = 7.0
    assert np.all(theta[model.layout["fc2.b"].slice] == 7.0)
    assert Layout.from_dict(model.layout.to_dict()) == model.layout


def test_layout_rejects_bad_entries():
    with pytest.raises(InputError, match="duplicate tensor name 'a'"):
        Layout([("a", (2,), "weight"), ("a", (3,), "bias")])
    with pytest.raises(InputError, match="unknown role 'gain'"):
        Layout([("a", (2,), "gain")])
    with pytest.raises(InputError, match="no tensor named 'fc9.W'"):
        steepest.mlp([3, 2]).layout["fc9.W"]


@pytest.mark.parametrize(
    "init, std",
    [("small", 0.01), ("xavier", 1 / np.sqrt(400)), ("he", np.sqrt(2 / 400)), ("zeros", 0.0)],
)
def test_initializer_scales(init, std):
    model = steepest.mlp([400, 300, 10], init=init)
    theta = model.init_params(3)
    W = model.params(theta)["fc1.W"]
    assert W.std() == pytest.approx(std, rel=0.02, abs=1e-12)
    assert np.all(model.params(theta)["fc1.b"] == 0)


def test_zero_init_shows_the_symmetry_problem(rng):
    model = steepest.mlp([6, 5, 3], activation="tanh", init="zeros")
    theta = model.init_params(0)
    X, y = rng.standard_normal((8, 6)), rng.integers(0, 3, 8)
    _, grad = model.loss_and_grad(theta, X, y)
    # every hidden unit receives the same (here: zero) gradient, so they can never differ
    dW1 = model.params(grad)["fc1.W"]
    assert np.allclose(dW1, dW1[:, :1])


def test_same_seed_same_start_and_defaults():
    model = steepest.mlp([8, 6, 3])
    np.testing.assert_array_equal(model.init_params(5), model.init_params(5))
    assert not np.array_equal(model.init_params(5), model.init_params(6))
    assert model.init == "he" and steepest.mlp([8, 6, 3], activation="tanh").init == "xavier"


def test_initial_softmax_loss_is_about_log_c(rng):
    model = steepest.mlp([64, 32, 10], init="small")
    X, y = rng.random((200, 64)), rng.integers(0, 10, 200)
    assert model.loss(model.init_params(0), X, y) == pytest.approx(np.log(10), abs=0.01)


def test_regularization_only_on_weights(rng):
    model = steepest.mlp([4, 3, 2], reg=0.5, batchnorm=True)
    theta = model.init_params(0)
    X, y = rng.standard_normal((6, 4)), rng.integers(0, 2, 6)
    plain = steepest.mlp([4, 3, 2], batchnorm=True)
    l_reg, g_reg = model.loss_and_grad(theta, X, y, update_stats=False)
    l_plain, g_plain = plain.loss_and_grad(theta, X, y, update_stats=False)
    W = [model.params(theta)[n] for n in ("fc1.W", "fc2.W")]
    assert l_reg - l_plain == pytest.approx(0.5 * sum(np.sum(w * w) for w in W))
    diff = model.params(g_reg - g_plain)
    for name, d in diff.items():
        if name.endswith(".W"):
            np.testing.assert_allclose(d, 2 * 0.5 * model.params(theta)[name])
        else:
            assert np.all(d == 0), name


def test_float32_training_dtype(rng):
    model = steepest.mlp([10, 8, 3])
    theta = model.init_params(0, dtype=np.float32)
    loss, grad = model.loss_and_grad(theta, rng.standard_normal((4, 10)), [0, 1, 2, 0])
    assert grad.dtype == np.float32 and isinstance(loss, float)


def test_batchnorm_modes_and_running_stats(rng):
    model = steepest.mlp([5, 4, 2], batchnorm=True)
    theta = model.init_params(0)
    X, y = rng.standard_normal((32, 5)) + 3, rng.integers(0, 2, 32)
    before = model.buffers.copy()
    model.loss(theta, X, y)  # evaluation: statistics untouched
    np.testing.assert_array_equal(model.buffers, before)
    model.loss_and_grad(theta, X, y, train=True)
    assert not np.array_equal(model.buffers, before)
    model.init_params(0)
    np.testing.assert_array_equal(model.buffers, before)


def test_dropout_needs_an_explicit_generator(rng):
    model = steepest.mlp([5, 4, 2], dropout=0.5)
    theta = model.init_params(0)
    X, y = rng.standard_normal((3, 5)), [0, 1, 0]
    with pytest.raises(InputError, match="dropout in training mode needs a random generator"):
        model.loss_and_grad(theta, X, y)
    a = model.loss_and_grad(theta, X, y, rng=np.random.default_rng(1))[0]
    b = model.loss_and_grad(theta, X, y, rng=np.random.default_rng(1))[0]
    assert a == b
    assert model.loss(theta, X, y) == model.loss(theta, X, y)  # eval: no randomness


def test_scores_predict_accuracy_in_chunks(rng):
    model = steepest.mlp([6, 5, 4])
    theta = model.init_params(0)
    X = rng.standard_normal((50, 6))
    np.testing.assert_allclose(model.scores(theta, X, batch_size=7), model.scores(theta, X))
    y = model.predict(theta, X)
    assert model.accuracy(theta, X, y) == 1.0


def test_custom_sequential_model():
    net = Sequential([Linear(3, 4), BatchNorm(4), ReLU(), Linear(4, 2)], n_features=3)
    assert [layer.name for layer in net.layers] == ["fc1", "bn1", "relu1", "fc2"]
    model = Model(net, loss="svm")
    assert model.n_params == 3 * 4 + 4 + 8 + 4 * 2 + 2


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda m, t: m.loss_and_grad(t, np.zeros((3, 5)), [0, 1, 2]), "has 5 features per row but"
         " the model expects 4"),
        (lambda m, t: m.loss_and_grad(t, np.zeros((3, 4)), [0, 1]), "2 labels but X has 3 rows"),
        (lambda m, t: m.loss_and_grad(t, np.zeros((3, 4)), [0, 1, 3]),
         r"label 3; labels must be in \[0, 3\)"),
        (lambda m, t: m.loss_and_grad(t, np.full((2, 4), np.nan), [0, 1]),
         "X contains 8 NaN or infinite"),
        (lambda m, t: m.loss_and_grad(t, np.zeros(4), [0]), "X must be 2-D"),
        (lambda m, t: m.loss_and_grad(t[:-1], np.zeros((1, 4)), [0]), "vector of 27 parameters"),
        (lambda m, t: m.loss(t, np.zeros((1, 4)), [[0.5]]), "y must be 1-D class labels"),
    ],
)
def test_bad_input_is_named(call, match):
    model = steepest.mlp([4, 3, 3])
    theta = model.init_params(0)
    with pytest.raises(InputError, match=match):
        call(model, theta)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"activation": "swish"}, "unknown activation 'swish'; allowed: relu, leaky_relu"),
        ({"loss": "hinge"}, "unknown loss 'hinge'; allowed: softmax, svm, l2, l1"),
        ({"init": "lecun"}, "unknown initializer 'lecun'; allowed: zeros, small, xavier, he"),
        ({"regularizer": "l3"}, "unknown regularizer 'l3'"),
        ({"dropout": 0.0}, r"dropout keep-probability must be in \(0, 1\]"),
        ({"reg": -1.0}, "regularization strength must be a finite non-negative number"),
    ],
)
def test_bad_builder_options(kwargs, match):
    with pytest.raises(InputError, match=match):
        steepest.mlp([4, 3, 2], **kwargs)


@pytest.mark.parametrize("sizes", [[4], [4, 0, 2], [4, -1], "784,10"])
def test_bad_sizes(sizes):
    with pytest.raises(InputError):
        steepest.mlp(sizes)


def test_maxout_width_and_regression_targets(rng):
    model = steepest.mlp([4, 3, 2], activation="maxout", maxout_k=3)
    assert model.params(model.init_params(0))["fc1.W"].shape == (4, 9)
    reg = steepest.mlp([4, 2], loss="l2")
    theta = reg.init_params(0)
    X, T = rng.standard_normal((5, 4)), rng.standard_normal((5, 2))
    loss, _ = reg.loss_and_grad(theta, X, T)
    assert loss == pytest.approx(np.sum((reg.scores(theta, X) - T) ** 2) / 5)
    with pytest.raises(InputError, match=r"targets have shape \(5, 3\)"):
        reg.loss(theta, X, np.zeros((5, 3)))
