"""Gradients of our MLPs against PyTorch autograd on identical weights (float64).

The PyTorch side is written independently from the formulas (autograd does the backward);
our analytic backward must agree to float64 round-off. Skips cleanly without torch.
"""

import numpy as np
import pytest

import steepest

torch = pytest.importorskip("torch")
F = torch.nn.functional
pytestmark = pytest.mark.torch


def torch_loss(model, theta, X, y, train=True, seed=0):
    """The same network as ``model``, evaluated by PyTorch with autograd."""
    params = {n: torch.tensor(v.copy(), requires_grad=True)
              for n, v in model.params(theta).items()}
    buffers = {n: torch.tensor(v.copy())
               for n, v in model.buffer_layout.views(model.buffers).items()}
    rng = np.random.default_rng(seed)
    h = torch.tensor(X)
    for layer in model.layers:
        name, kind = layer.name, layer.kind
        if kind == "linear":
            h = h @ params[f"{name}.W"] + params[f"{name}.b"]
        elif kind == "relu":
            h = torch.relu(h)
        elif kind == "leaky_relu":
            h = F.leaky_relu(h, layer.alpha)
        elif kind == "sigmoid":
            h = torch.sigmoid(h)
        elif kind == "tanh":
            h = torch.tanh(h)
        elif kind == "maxout":
            h = h.reshape(h.shape[0], -1, layer.k).amax(dim=2)
        elif kind == "batchnorm":
            h = F.batch_norm(h, buffers[f"{name}.running_mean"], buffers[f"{name}.running_var"],
                             params[f"{name}.gamma"], params[f"{name}.beta"], training=train,
                             momentum=layer.momentum, eps=layer.eps)
        elif kind == "dropout" and train:
            # our inverted-dropout mask, drawn the documented way from the same generator
            mask = (rng.random(tuple(h.shape)) < layer.p) / layer.p
            h = h * torch.tensor(mask)
    yt = torch.tensor(y)
    n, c = h.shape
    loss_name = model.loss_fn.name
    if loss_name == "softmax":
        loss = F.cross_entropy(h, yt)
    elif loss_name == "svm":
        # torch's multi_margin_loss averages the Weston-Watkins sum over the C classes too
        loss = F.multi_margin_loss(h, yt, margin=model.loss_fn.margin) * c
    elif loss_name == "l2":
        loss = F.mse_loss(h, F.one_hot(yt, c).double(), reduction="sum") / n
    else:
        loss = F.l1_loss(h, F.one_hot(yt, c).double(), reduction="sum") / n
    reg = model.regularizer
    if reg.active:
        l1, l2 = reg.coefficients
        for s in model.layout.select(reg.roles):
            w = params[s.name]
            loss = loss + l2 * (w * w).sum() + l1 * w.abs().sum()
    loss.backward()
    grad = np.concatenate([params[s.name].grad.numpy().ravel() for s in model.layout])
    return float(loss.detach()), grad


CONFIGS = [
    dict(),
    dict(activation="leaky_relu", leaky_alpha=0.1, loss="svm"),
    dict(activation="tanh", reg=0.01),
    dict(activation="sigmoid", loss="l2", reg=0.02, regularizer="elastic"),
    dict(activation="maxout", maxout_k=3, loss="l1"),
    dict(batchnorm=True),
    dict(batchnorm=True, dropout=0.7, reg=0.001, regularizer="l1"),
]


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kwargs", CONFIGS, ids=lambda k: ",".join(f"{a}={b}" for a, b in k.items())
                         or "relu")
def test_mlp_gradients_match_torch_autograd(kwargs, train, rng):
    model = steepest.mlp([12, 16, 9, 5], **kwargs)
    theta = model.init_params(4)
    model.buffers[:] = rng.random(model.buffers.size) + 0.5  # non-trivial running statistics
    X, y = rng.standard_normal((20, 12)), rng.integers(0, 5, 20)
    ours_loss, ours_grad = model.loss_and_grad(theta, X, y, train=train,
                                               rng=np.random.default_rng(9), update_stats=False)
    ref_loss, ref_grad = torch_loss(model, theta, X, y, train=train, seed=9)
    assert ours_loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(ours_grad, ref_grad, rtol=1e-9, atol=1e-12)


def test_batchnorm_running_statistics_match_torch(rng):
    model = steepest.mlp([6, 4, 2], batchnorm=True)
    theta = model.init_params(0)
    bn = torch.nn.BatchNorm1d(4, momentum=0.1, eps=1e-5).double()
    for _ in range(3):
        X, y = rng.standard_normal((10, 6)) * 3 + 1, rng.integers(0, 2, 10)
        model.loss_and_grad(theta, X, y, train=True)
        h = torch.tensor(X @ model.params(theta)["fc1.W"] + model.params(theta)["fc1.b"])
        bn.train()(h)
    buffers = model.buffer_layout.views(model.buffers)
    np.testing.assert_allclose(buffers["bn1.running_mean"], bn.running_mean.numpy(), rtol=1e-12)
    np.testing.assert_allclose(buffers["bn1.running_var"], bn.running_var.numpy(), rtol=1e-12)


def test_float32_gradients_match_torch_float32(rng):
    model = steepest.mlp([30, 20, 10])
    theta = model.init_params(1, dtype=np.float32)
    X = rng.standard_normal((64, 30)).astype(np.float32)
    y = rng.integers(0, 10, 64)
    _, g32 = model.loss_and_grad(theta, X, y)
    _, g64 = torch_loss(model, theta.astype(np.float64), X.astype(np.float64), y)
    np.testing.assert_allclose(g32, g64, rtol=1e-3, atol=1e-6)
