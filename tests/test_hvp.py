"""Exact Hessian-vector and Gauss-Newton products of steepest's models (the R-operator) against
PyTorch's double backward, dense Jacobians and the model's own gradient."""

import numpy as np
import pytest

import steepest
from steepest.errors import InputError
from steepest.losses import Loss
from steepest.nn.layers import (
    BatchNorm,
    Dropout,
    LeakyReLU,
    Linear,
    Maxout,
    ReLU,
    Sigmoid,
    Tanh,
)
from steepest.nn.model import Model, Sequential
from steepest.regularizers import Regularizer

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.torch


def rel(a, b):
    return np.linalg.norm(np.asarray(a) - np.asarray(b)) / max(np.linalg.norm(b), 1e-300)


# --------------------------------------------------------------------------- the reference
def _dropout_masks(model, theta, X, y, seed):
    """The masks steepest draws from ``default_rng(seed)`` in training mode."""
    rec = model.record(theta, X, y, train=True, rng=np.random.default_rng(seed))
    return {layer.name: c for layer, c in zip(model.layers, rec.caches)
            if layer.kind == "dropout" and c is not None}


def _torch_layer(layer, h, t, buffers, train, masks):
    kind = layer.kind
    if kind == "linear":
        return h @ t["W"] + t["b"]
    if kind == "batchnorm":
        if train:
            mean, var = h.mean(0), ((h - h.mean(0)) ** 2).mean(0)
        else:
            mean = torch.tensor(buffers[f"{layer.name}.running_mean"])
            var = torch.tensor(buffers[f"{layer.name}.running_var"])
        return (h - mean) / torch.sqrt(var + layer.eps) * t["gamma"] + t["beta"]
    if kind == "dropout":
        return h * torch.tensor(masks[layer.name]) if train and layer.name in masks else h
    if kind == "maxout":
        return h.reshape(h.shape[0], -1, layer.k).max(dim=-1).values
    if kind == "leaky_relu":
        return F.leaky_relu(h, layer.alpha)
    return {"relu": torch.relu, "sigmoid": torch.sigmoid, "tanh": torch.tanh}[kind](h)


def _torch_data_loss(loss: Loss, s, yt):
    n = s.shape[0]
    if loss.name == "softmax":
        return F.cross_entropy(s, yt)
    if loss.name == "svm":
        correct = s.gather(1, yt[:, None])
        onehot = F.one_hot(yt, s.shape[1]).bool()
        if loss.hinge == "weston-watkins":
            return (s - correct + loss.margin).masked_fill(onehot, 0.0).clamp(min=0).sum() / n
        others = s.masked_fill(onehot, -torch.inf).max(1).values
        return (loss.margin + others - correct[:, 0]).clamp(min=0).sum() / n
    r = s - F.one_hot(yt, s.shape[1]).to(s.dtype)
    return ((r * r).sum() if loss.name == "l2" else r.abs().sum()) / n


def torch_loss(model, X, y, *, train=False, masks=None, scores_only=False):
    """The model's loss (penalty included) as a function of a flat torch theta."""
    Xt, yt = torch.tensor(X), torch.tensor(y)
    buffers = model.buffer_layout.views(model.buffers)

    def f(flat):
        h = Xt
        for layer in model.layers:
            t = {spec.name.split(".")[1]: flat[spec.start : spec.stop].reshape(spec.shape)
                 for spec in model.layout if spec.name.split(".")[0] == layer.name}
            h = _torch_layer(layer, h, t, buffers, train, masks or {})
        if scores_only:
            return h
        total = _torch_data_loss(model.loss_fn, h, yt)
        l1, l2 = model.regularizer.coefficients
        for spec in model.layout.select(model.regularizer.roles):
            w = flat[spec.start : spec.stop]
            total = total + l2 * (w * w).sum() + l1 * w.abs().sum()
        return total

    return f


def torch_hvp(model, theta, v, X, y, **kw):
    _, out = torch.autograd.functional.hvp(torch_loss(model, X, y, **kw), torch.tensor(theta),
                                           torch.tensor(v))
    return out.numpy()


# --------------------------------------------------------------------------- every layer
CASES = {
    "relu": dict(activation="relu"),
    "leaky_relu": dict(activation="leaky_relu", leaky_alpha=0.1),
    "sigmoid": dict(activation="sigmoid"),
    "tanh": dict(activation="tanh"),
    "maxout": dict(activation="maxout", maxout_k=3),
    "batchnorm": dict(activation="tanh", batchnorm=True),
    "batchnorm_relu": dict(activation="relu", batchnorm=True),
    "dropout": dict(activation="relu", dropout=0.6),
    "svm_weston_watkins": dict(activation="tanh", loss="svm", margin=0.5),
    "svm_crammer_singer": dict(activation="sigmoid", loss="svm", hinge="crammer-singer"),
    "l2_loss": dict(activation="tanh", loss="l2"),
    "l1_loss": dict(activation="tanh", loss="l1"),
    "l2_penalty": dict(activation="tanh", reg=0.05),
    "l1_penalty": dict(activation="relu", reg=0.05, regularizer="l1"),
    "elastic_penalty": dict(activation="tanh", reg=0.05, regularizer="elastic", l1_ratio=0.3),
}


def _problem(kwargs, seed=0, n=24):
    rng = np.random.default_rng(seed)
    model = steepest.mlp([6, 5, 4, 3], **kwargs)
    theta = model.init_params(seed) + 0.1 * rng.standard_normal(model.n_params)
    model.buffers[:] = rng.uniform(0.5, 1.5, model.buffers.size)  # running statistics
    X = rng.standard_normal((n, 6))
    y = rng.integers(0, 3, n)
    v = rng.standard_normal(model.n_params)
    return model, theta, X, y, v


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("train", [False, True], ids=["eval", "train"])
def test_hvp_equals_torch_double_backward(name, train):
    model, theta, X, y, v = _problem(CASES[name])
    masks = _dropout_masks(model, theta, X, y, seed=3) if train else None
    if train and name == "dropout":
        assert masks and all(np.any(m == 0) for m in masks.values())
    buffers = model.buffers.copy()
    ours = model.hvp(theta, v, X, y, train=train, rng=np.random.default_rng(3))
    assert ours.dtype == np.float64 and ours.shape == theta.shape
    assert rel(ours, torch_hvp(model, theta, v, X, y, train=train, masks=masks)) < 1e-10
    assert np.array_equal(model.buffers, buffers)  # running statistics never move


def test_a_stack_beyond_mlp_covers_every_r_pass():
    """A parameter-free first layer, BatchNorm on the raw input (no R{x}), sigmoid into
    dropout into maxout into leaky ReLU."""
    rng = np.random.default_rng(11)
    net = Sequential([Tanh(), BatchNorm(6), Linear(6, 8), Sigmoid(), Dropout(0.7), Maxout(2),
                      Linear(4, 6), LeakyReLU(0.2), ReLU(), Linear(6, 3)], n_features=6)
    model = Model(net, "softmax", Regularizer("l2", 0.01, roles=("weight", "norm")))
    theta = model.init_params(1) + 0.1 * rng.standard_normal(model.n_params)
    X, y = rng.standard_normal((20, 6)), rng.integers(0, 3, 20)
    for train in (False, True):
        masks = _dropout_masks(model, theta, X, y, seed=5)
        for _ in range(3):
            v = rng.standard_normal(model.n_params)
            ours = model.hvp(theta, v, X, y, train=train, rng=np.random.default_rng(5))
            ref = torch_hvp(model, theta, v, X, y, train=train, masks=masks)
            assert rel(ours, ref) < 1e-10


def test_regression_targets_given_as_a_matrix():
    rng = np.random.default_rng(2)
    model = steepest.mlp([4, 5, 2], activation="tanh", loss="l2")
    theta = model.init_params(0)
    X, T = rng.standard_normal((15, 4)), rng.standard_normal((15, 2))
    v = rng.standard_normal(model.n_params)
    f = torch_loss(model, X, np.zeros(15, dtype=np.int64), scores_only=True)
    Tt = torch.tensor(T)
    _, ref = torch.autograd.functional.hvp(lambda t: ((f(t) - Tt) ** 2).sum() / 15,
                                           torch.tensor(theta), torch.tensor(v))
    assert rel(model.hvp(theta, v, X, T), ref.numpy()) < 1e-10


def test_mnist_mlp_equals_torch_double_backward(mnist_path):
    from steepest.data import load_dataset

    ds = load_dataset("mnist", data_dir=mnist_path, download=False)
    X, y = ds.X_train[:300].astype(np.float64), ds.y_train[:300]
    model = steepest.mlp([784, 256, 10])
    theta = model.init_params(0)
    rng = np.random.default_rng(0)
    theta -= 0.5 * model.loss_and_grad(theta, X, y)[1]  # off the initial point
    point = model.curvature_at(theta, X, y)
    f = torch_loss(model, X, y)
    for _ in range(2):
        v = rng.standard_normal(model.n_params)
        _, ref = torch.autograd.functional.hvp(f, torch.tensor(theta), torch.tensor(v))
        assert rel(point.hvp(v), ref.numpy()) < 1e-10


# --------------------------------------------------------------------------- Gauss-Newton
def _dense_ggn(model, theta, X, y, train=False, masks=None):
    """``J^T H_loss J + d^2(lambda R)`` built densely: the Jacobian of the scores and the
    Hessian of the loss in the scores from torch, the penalty's from its definition."""
    scores = torch_loss(model, X, y, train=train, masks=masks, scores_only=True)
    t = torch.tensor(theta)
    J = torch.autograd.functional.jacobian(scores, t).reshape(-1, theta.size).numpy()
    s0 = scores(t).detach()
    yt = torch.tensor(y)
    Hs = torch.autograd.functional.hessian(
        lambda s: _torch_data_loss(model.loss_fn, s.reshape(s0.shape), yt), s0.reshape(-1))
    G = J.T @ Hs.numpy() @ J
    l2 = model.regularizer.coefficients[1]
    for spec in model.layout.select(model.regularizer.roles):
        G[spec.slice, spec.slice] += 2 * l2 * np.eye(spec.size)
    return G


@pytest.mark.parametrize("kwargs", [
    dict(activation="tanh", reg=0.05),
    dict(activation="relu", batchnorm=True, loss="l2"),
    dict(activation="sigmoid", dropout=0.7, regularizer="elastic", reg=0.1),
    dict(activation="tanh", loss="svm"),
], ids=["tanh_l2pen", "bn_l2loss", "dropout_elastic", "svm"])
def test_ggn_equals_dense_jacobian_product(kwargs):
    model, theta, X, y, v = _problem(kwargs, seed=4, n=12)
    train = bool(kwargs.get("batchnorm") or kwargs.get("dropout"))
    masks = _dropout_masks(model, theta, X, y, seed=2)
    G = _dense_ggn(model, theta, X, y, train=train, masks=masks)
    ours = model.ggn_vp(theta, v, X, y, train=train, rng=np.random.default_rng(2))
    assert rel(ours, G @ v) < 1e-10
    if model.loss_fn.name == "svm":  # piecewise linear: only the penalty is left (none here)
        assert np.all(ours == 0)


def test_ggn_is_symmetric_positive_semidefinite_and_hessian_is_not():
    model, theta, X, y, _ = _problem(dict(activation="tanh"), seed=6)
    point = model.curvature_at(theta, X, y)
    eye = np.eye(model.n_params)
    G = np.stack([point.ggn_vp(e) for e in eye], axis=1)
    H = np.stack([point.hvp(e) for e in eye], axis=1)
    assert np.abs(G - G.T).max() < 1e-14 and np.abs(H - H.T).max() < 1e-14
    assert np.linalg.eigvalsh(G).min() > -1e-14
    assert np.linalg.eigvalsh(H).min() < -1e-6


def test_for_a_linear_model_with_softmax_ggn_equals_the_hessian():
    rng = np.random.default_rng(3)
    model = steepest.linear(5, 4, reg=0.01)
    theta = model.init_params(0)
    X, y = rng.standard_normal((30, 5)), rng.integers(0, 4, 30)
    v = rng.standard_normal(model.n_params)
    assert rel(model.ggn_vp(theta, v, X, y), model.hvp(theta, v, X, y)) < 1e-14


# --------------------------------------------------------------------------- the contract
def test_bind_offers_the_exact_products_and_curvature_uses_them():
    from steepest.landscape.curvature import HessianOperator

    model, theta, X, y, v = _problem(dict(activation="tanh"))
    bound = steepest.bind(model, X, y)
    assert bound.has_hvp and bound.has_ggn
    op = HessianOperator(bound, theta)
    assert op.exact and op.step is None and op.matrix == "hessian"
    assert rel(op.matvec(v), torch_hvp(model, theta, v, X, y)) < 1e-10
    assert np.array_equal(bound.hvp(theta, v), model.hvp(theta, v, X, y))
    assert np.array_equal(bound.ggn(theta, v), model.ggn_vp(theta, v, X, y))


def test_products_at_one_point_share_one_forward_pass():
    model, theta, X, y, v = _problem(dict(activation="relu", batchnorm=True, dropout=0.8))
    rng = np.random.default_rng(8)
    point = model.curvature_at(theta, X, y, train=True, rng=np.random.default_rng(1))
    theta_seen = theta.copy()
    theta += 1.0  # the point keeps its own copy
    for _ in range(3):
        u = rng.standard_normal(model.n_params)
        fresh = model.hvp(theta_seen, u, X, y, train=True, rng=np.random.default_rng(1))
        assert np.array_equal(point.hvp(u), fresh)
        fresh = model.ggn_vp(theta_seen, u, X, y, train=True, rng=np.random.default_rng(1))
        assert np.array_equal(point.ggn_vp(u), fresh)
    assert point.loss == pytest.approx(model.loss_and_grad(
        theta_seen, X, y, train=True, rng=np.random.default_rng(1), update_stats=False)[0])


def test_float32_products_compute_in_float32():
    model, theta, X, y, v = _problem(dict(activation="tanh", batchnorm=True))
    exact = model.hvp(theta, v, X, y, train=True)
    single = model.hvp(theta.astype(np.float32), v, X, y, train=True)
    assert single.dtype == np.float32
    assert rel(single, exact) < 1e-5


def test_the_direction_is_checked():
    model, theta, X, y, v = _problem(dict(activation="tanh"))
    with pytest.raises(InputError, match=r"v must be a 1-D vector of \d+ parameters"):
        model.hvp(theta, v[:-1], X, y)
    with pytest.raises(InputError, match="v must be floating point"):
        model.ggn_vp(theta, np.ones(model.n_params, dtype=int), X, y)


def test_a_layer_without_an_r_operator_is_named():
    from steepest.nn.layers import Layer

    class Square(Layer):
        kind = "square"

        def forward(self, x, p, ctx):
            return x * x, x

        def backward(self, dout, cache, p, g, need_dx=True):
            return 2 * cache * dout

    model = Model(Sequential([Linear(3, 4), Square(), Linear(4, 2)], n_features=3))
    theta = model.init_params(0)
    X, y = np.ones((5, 3)), np.zeros(5, dtype=int)
    with pytest.raises(InputError, match="'square1' \\(Square\\) has no R-operator"):
        model.hvp(theta, np.ones(model.n_params), X, y)
