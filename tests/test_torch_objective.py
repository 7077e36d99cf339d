"""steepest.torch: a PyTorch module as a steepest objective, checked against PyTorch itself.

Every reference below is computed by PyTorch directly (autograd, ``torch.autograd.functional``
on a flat vector unflattened here, modules loaded with ``load_state_dict``), never through the
code under test. Skips cleanly where torch is absent.
"""

import copy
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import steepest
from steepest.gradcheck import gradcheck
from steepest.landscape import (
    SurfaceEvaluator,
    interpolation,
    line,
    normalize_direction,
    path_plane,
    plane,
)
from steepest.landscape.curvature import dense_hessian, extreme_eigenvalues, top_eigenvalues
from steepest.optim import (
    Adam,
    Momentum,
    lbfgs,
    random_local_search,
    random_search,
    step_size_sweep,
)
from steepest.train import Trainer, TrainSettings
from steepest.train.events import EpochEnded
from steepest.train.monitors import activation_stats

torch = pytest.importorskip("torch")
st = pytest.importorskip("steepest.torch")
nn, F = torch.nn, torch.nn.functional
pytestmark = pytest.mark.torch

ROOT = Path(__file__).resolve().parents[1]


def test_filter_normalization_follows_the_unit_axis():
    """Each filter of a direction gets its weight filter's norm along the layout's unit axis,
    whether that is the last axis (steepest's (in, out)) or the first (PyTorch's (out, in))."""
    w = np.arange(1.0, 7.0)
    for axis, keep in ((0, 1), (1, 0)):
        layout = steepest.Layout([("w", (2, 3), "weight", axis)])
        d = normalize_direction(np.ones(6), w, layout).reshape(2, 3)
        want = np.linalg.norm(w.reshape(2, 3), axis=keep, keepdims=True)
        got = np.linalg.norm(d, axis=keep, keepdims=True)
        np.testing.assert_allclose(got, want)


# ---------------------------------------------------------------------- fixtures
def mlp(d=6, h=5, c=3, act=nn.Tanh):
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(d, h), act(), nn.Linear(h, c))


class SmallCNN(nn.Module):
    """conv -> BatchNorm -> ReLU -> max-pool -> Linear -> BatchNorm -> ReLU -> dropout -> Linear"""

    def __init__(self, dropout=0.3, batchnorm=True, act=nn.ReLU, pool=nn.MaxPool2d):
        super().__init__()
        self.conv = nn.Conv2d(1, 3, 3, padding=1)
        self.bn = nn.BatchNorm2d(3) if batchnorm else nn.Identity()
        self.act1 = act()
        self.pool = pool(2)
        self.fc1 = nn.Linear(3 * 3 * 3, 8)
        self.bn1 = nn.BatchNorm1d(8) if batchnorm else nn.Identity()
        self.act2 = act()
        self.drop = nn.Dropout(dropout) if dropout else nn.Identity()
        self.fc2 = nn.Linear(8, 4)

    def forward(self, x):
        h = self.pool(self.act1(self.bn(self.conv(x)))).flatten(1)
        return self.fc2(self.drop(self.act2(self.bn1(self.fc1(h)))))


def cnn(**kw):
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(1)
        return SmallCNN(**kw)


def data(n=24, d=36, c=4, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, d)), rng.integers(0, c, n)


def unflatten(obj, t):
    """Named tensors of a flat torch vector, laid out by name and shape (test-side)."""
    out, offset = {}, 0
    for spec in obj.layout:
        out[spec.name] = t[offset:offset + spec.size].reshape(spec.shape)
        offset += spec.size
    return out


def reference(module, obj, theta, X, y, *, train, seed):
    """Loss, flat gradient and buffers after one step, by PyTorch on a module loaded with
    the same weights and buffers, dropout from the generator seeded the documented way."""
    ref = copy.deepcopy(module)
    ref.load_state_dict(obj.state_dict(theta))
    ref.double().train(train)
    x = torch.tensor(X).reshape(len(X), *(obj.input_shape or (X.shape[1],)))
    draw = int(np.random.default_rng(seed).integers(0, 2**63 - 1)) if train else 0
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(draw)
        loss = F.cross_entropy(ref(x), torch.tensor(y))
    loss.backward()
    grad = torch.cat([p.grad.reshape(-1) for p in ref.parameters()]).numpy()
    bufs = {n: b.numpy().copy() for n, b in ref.named_buffers()}
    return float(loss.detach()), grad, bufs


# ---------------------------------------------------------------------- layout and basics
def test_layout_roles_unit_axis_and_buffers():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    roles = {s.name: s.role for s in obj.layout}
    assert roles == {"conv.weight": "weight", "conv.bias": "bias", "bn.weight": "norm",
                     "bn.bias": "norm", "fc1.weight": "weight", "fc1.bias": "bias",
                     "bn1.weight": "norm", "bn1.bias": "norm", "fc2.weight": "weight",
                     "fc2.bias": "bias"}
    assert all(s.unit_axis == 0 for s in obj.layout)
    assert obj.layout.size == sum(p.numel() for p in cnn().parameters())
    assert obj.buffer_layout.names == ["bn.running_mean", "bn.running_var",
                                       "bn.num_batches_tracked", "bn1.running_mean",
                                       "bn1.running_var", "bn1.num_batches_tracked"]
    assert obj.buffers.dtype == np.float64
    np.testing.assert_array_equal(obj.buffers[obj.buffer_layout["bn.running_var"].slice], 1.0)


def test_input_shape_from_the_module_and_shaped_rows():
    module = cnn(dropout=0)
    module.input_shape = (1, 6, 6)
    obj = st.objective(module)
    assert obj.input_shape == (1, 6, 6) and obj.n_features == 36
    theta = obj.init_params(0, dtype=np.float64)
    X, y = data()
    flat = obj.evaluate(theta, X, y)
    assert obj.evaluate(theta, X.reshape(-1, 1, 6, 6), y) == flat


def test_float32_and_float64_follow_theta():
    obj = st.objective(mlp())
    X, y = data(d=6, c=3)
    theta = obj.init_params(0)
    assert theta.dtype == np.float32
    _, g32 = obj.loss_and_grad(theta, X, y)
    _, g64 = obj.loss_and_grad(theta.astype(np.float64), X, y)
    assert g32.dtype == np.float32 and g64.dtype == np.float64
    np.testing.assert_allclose(g32, g64, rtol=1e-4, atol=1e-6)
    assert st.objective(mlp(), dtype="float64").init_params(0).dtype == np.float64


def test_init_params_reproducible_resets_buffers_and_leaves_torch_rng_alone():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    before = torch.random.get_rng_state()
    a, b, c = obj.init_params(3), obj.init_params(3), obj.init_params(4)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)
    X, y = data()
    obj.loss_and_grad(a, X, y, train=True, rng=np.random.default_rng(0))
    assert obj.buffers[obj.buffer_layout["bn.num_batches_tracked"].slice][0] == 1
    obj.init_params(3)
    np.testing.assert_array_equal(obj.buffers, obj.buffers_of(cnn()))
    assert torch.equal(torch.random.get_rng_state(), before)


def test_state_dict_loads_into_the_module_and_gives_the_same_outputs():
    module = cnn()
    obj = st.objective(module, input_shape=(1, 6, 6))
    theta = obj.init_params(7, dtype=np.float64)
    module.load_state_dict(obj.state_dict(theta))
    np.testing.assert_array_equal(obj.theta_of(module, dtype=np.float64), theta)
    X, _ = data()
    with torch.no_grad():
        expected = module.double().eval()(torch.tensor(X).reshape(-1, 1, 6, 6)).numpy()
    np.testing.assert_allclose(obj.scores(theta, X), expected, rtol=1e-12, atol=1e-14)


# ---------------------------------------------------------------------- against autograd
def test_mlp_loss_and_gradient_equal_autograd():
    module = mlp()
    obj = st.objective(module)
    X, y = data(d=6, c=3)
    theta = obj.init_params(5, dtype=np.float64)
    loss, grad = obj.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))
    ref_loss, ref_grad, _ = reference(module, obj, theta, X, y, train=True, seed=0)
    assert loss == pytest.approx(ref_loss, rel=1e-14)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("train", [True, False])
def test_cnn_with_batchnorm_and_dropout_equals_autograd(train):
    module = cnn()
    obj = st.objective(module, input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(2, dtype=np.float64)
    obj.buffers[obj.buffer_layout["bn1.running_mean"].slice] = 0.25  # used in evaluation mode
    start = obj.buffers.copy()
    module.load_state_dict(obj.state_dict(theta))
    ref_loss, ref_grad, ref_bufs = reference(module, obj, theta, X, y, train=train, seed=11)
    loss, grad = obj.loss_and_grad(theta, X, y, train=train, rng=np.random.default_rng(11))
    assert loss == pytest.approx(ref_loss, rel=1e-13)
    np.testing.assert_allclose(grad, ref_grad, rtol=1e-11, atol=1e-14)
    # running statistics: updated in training mode exactly as torch does, untouched otherwise
    views = obj.buffer_layout.views(obj.buffers)
    for name, value in ref_bufs.items():
        np.testing.assert_allclose(views[name], value.reshape(views[name].shape), rtol=1e-14)
    if not train:
        np.testing.assert_array_equal(obj.buffers, start)
    # the same rng gives the same dropout mask: the step is reproducible
    obj.buffers[...] = start
    again = obj.loss_and_grad(theta, X, y, train=train, rng=np.random.default_rng(11))
    assert again[0] == loss and np.array_equal(again[1], grad)


def test_evaluation_never_moves_buffers_nor_torch_rng():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    start, state = obj.buffers.copy(), torch.random.get_rng_state()
    obj.loss(theta, X, y, train=True, rng=np.random.default_rng(0))
    obj.evaluate(theta, X, y)
    obj.scores(theta, X)
    obj.activations(theta, X)
    obj.hvp(theta, np.ones_like(theta), X, y, train=True, rng=np.random.default_rng(0))
    obj.ggn_vp(theta, np.ones_like(theta), X, y)
    np.testing.assert_array_equal(obj.buffers, start)
    assert torch.equal(torch.random.get_rng_state(), state)
    obj.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))
    assert torch.equal(torch.random.get_rng_state(), state)


def test_loss_and_evaluate_agree_with_the_training_pass():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    rng = np.random.default_rng(3)
    value = obj.loss(theta, X, y, train=True, rng=np.random.default_rng(3))
    assert value == obj.loss_and_grad(theta, X, y, train=True, rng=rng)[0]
    loss, acc = obj.evaluate(theta, X, y, batch_size=5)  # blocks of 5 rows
    assert loss == pytest.approx(obj.loss(theta, X, y), rel=1e-13)
    assert acc == np.mean(obj.predict(theta, X) == y)


def test_mse_and_a_custom_loss():
    X, y = data(d=6, c=3)
    theta = st.objective(mlp()).init_params(0, dtype=np.float64)
    mse = st.objective(mlp(), "mse")
    scores = torch.tensor(mse.scores(theta, X))
    expected = F.mse_loss(scores, F.one_hot(torch.tensor(y), 3).double())
    assert mse.evaluate(theta, X, y)[0] == pytest.approx(float(expected), rel=1e-13)
    targets = np.random.default_rng(1).standard_normal((len(X), 3))
    assert mse.loss(theta, X, targets) == pytest.approx(
        float(F.mse_loss(scores, torch.tensor(targets))), rel=1e-13)

    def hinge(out, labels):
        return F.multi_margin_loss(out, labels)

    custom = st.objective(mlp(), hinge)
    assert custom.loss(theta, X, y) == pytest.approx(
        float(F.multi_margin_loss(scores, torch.tensor(y))), rel=1e-13)
    assert custom.loss_and_grad(theta, X, y)[1].shape == theta.shape


# ---------------------------------------------------------------------- second order
def dense_reference(obj, theta, X, y):
    x = torch.tensor(X).reshape(len(X), *obj.input_shape)
    module = obj._template.double().eval()

    def f(t):
        return F.cross_entropy(torch.func.functional_call(module, unflatten(obj, t), (x,)),
                               torch.tensor(y))

    return torch.autograd.functional.hessian(f, torch.tensor(theta), vectorize=True).numpy()


def test_hvp_equals_the_dense_hessian_times_v():
    obj = st.objective(cnn(dropout=0, batchnorm=False, act=nn.Tanh), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    H = dense_reference(obj, theta, X, y)
    rng = np.random.default_rng(0)
    for _ in range(2):  # the second product reuses the kept graph
        v = rng.standard_normal(theta.size)
        np.testing.assert_allclose(obj.hvp(theta, v, X, y), H @ v, rtol=1e-10, atol=1e-12)
    moved = theta + 0.01
    v = rng.standard_normal(theta.size)
    np.testing.assert_allclose(obj.hvp(moved, v, X, y), dense_reference(obj, moved, X, y) @ v,
                               rtol=1e-10, atol=1e-12)
    obj.release()


def test_ggn_product_equals_jacobian_form():
    obj = st.objective(mlp(act=nn.Tanh))
    X, y = data(n=10, d=6, c=3)
    theta = obj.init_params(0, dtype=np.float64)
    module = obj._template.double()

    def outputs(t):
        return torch.func.functional_call(module, unflatten(obj, t), (torch.tensor(X),))

    J = torch.autograd.functional.jacobian(outputs, torch.tensor(theta)).reshape(-1, theta.size)
    z = outputs(torch.tensor(theta)).detach()
    Hz = torch.autograd.functional.hessian(
        lambda s: F.cross_entropy(s.reshape(z.shape), torch.tensor(y)), z.reshape(-1))
    G = (J.T @ Hz @ J).numpy()
    v = np.random.default_rng(0).standard_normal(theta.size)
    np.testing.assert_allclose(obj.ggn_vp(theta, v, X, y), G @ v, rtol=1e-10, atol=1e-13)
    assert np.linalg.eigvalsh(G).min() > -1e-12  # positive semi-definite
    assert steepest.bind(obj, X, y).has_ggn


def test_exact_curvature_equals_eigvalsh_of_the_dense_hessian():
    obj = st.objective(cnn(dropout=0, batchnorm=False, act=nn.Tanh), input_shape=(1, 6, 6))
    assert obj.layout.size <= 2000
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    H = dense_reference(obj, theta, X, y)
    exact = np.linalg.eigvalsh(H)
    bound = steepest.bind(obj, X, y)
    top = top_eigenvalues(bound, theta, k=4)
    assert top.exact and top.converged
    np.testing.assert_allclose(top.eigenvalues, exact[::-1][:4], rtol=1e-8)
    ext = extreme_eigenvalues(bound, theta, k=3)
    np.testing.assert_allclose(ext.top, exact[::-1][:3], rtol=1e-8)
    assert ext.bottom == pytest.approx(exact[0], rel=1e-7, abs=1e-10)
    np.testing.assert_allclose(dense_hessian(bound, theta), H, atol=1e-12)


# ---------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("mode", ["fast", "sampled"])
def test_gradcheck_passes_on_the_cnn(mode):
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    result = gradcheck(steepest.bind(obj, X, y, train=True), theta, mode=mode, k=5)
    assert result.ok, result.failed
    assert [t.name for t in result.tensors] == obj.layout.names


def test_gradcheck_full_on_a_tiny_model():
    obj = st.objective(mlp(d=3, h=3, c=2))
    X, y = data(n=8, d=3, c=2)
    result = gradcheck(steepest.bind(obj, X, y, train=True), obj.init_params(0, np.float64),
                       mode="full")
    assert result.ok and sum(t.n_checked for t in result.tensors) == obj.layout.size


class Scale(torch.autograd.Function):
    """Identity forward, a backward 1% too large: the planted bug."""

    @staticmethod
    def forward(ctx, w):
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        return 1.01 * g


class BuggyNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.a = nn.Linear(6, 5)
        self.b = nn.Linear(5, 3)

    def forward(self, x):
        return F.linear(torch.tanh(self.a(x)), Scale.apply(self.b.weight), self.b.bias)


@pytest.mark.parametrize("mode", ["fast", "sampled"])
def test_gradcheck_names_the_tensor_with_a_wrong_backward(mode):
    obj = st.objective(BuggyNet())
    X, y = data(d=6, c=3)
    result = gradcheck(steepest.bind(obj, X, y), obj.init_params(0, np.float64), mode=mode)
    assert not result.ok
    assert result.failed == ["b.weight"]


# ---------------------------------------------------------------------- training
def lenet_like():
    return cnn(dropout=0.3)


def train_setup(tmp_path, name, epochs=4, on_event=None):
    obj = st.objective(lenet_like(), input_shape=(1, 6, 6))
    X, y = data(n=60, seed=1)
    Xv, yv = data(n=20, seed=2)
    settings = TrainSettings(epochs=epochs, batch_size=16, seed=3, dtype="float64")
    return Trainer(obj, Adam(lr=1e-2), X, y, Xv, yv, settings,
                   run_dir=None if name is None else tmp_path / name, on_event=on_event)


def test_trainer_trains_it():
    trainer = train_setup(None, None, epochs=8)
    result = trainer.run()
    assert result.status == "completed" and result.theta.dtype == np.float64
    assert np.mean(result.losses[-4:]) < np.mean(result.losses[:4])
    assert any(k.startswith("dead.act1") for k in result.history[-1])  # the monitors ran


def test_interrupted_run_resumes_bit_identically(tmp_path):
    full = train_setup(tmp_path, "full").run()

    class Stop(Exception):
        pass

    def stop_after_2(event):
        if isinstance(event, EpochEnded) and event.epoch == 2:
            raise Stop

    with pytest.raises(Stop):
        train_setup(tmp_path, "cut", on_event=stop_after_2).run()
    resumed = train_setup(tmp_path, "cut").run(resume=True)  # a fresh objective and trainer
    np.testing.assert_array_equal(resumed.theta, full.theta)
    np.testing.assert_array_equal(resumed.losses, full.losses)
    saved = np.load(tmp_path / "full" / "final.npz")
    assert saved["buffers"].size == len(train_setup(None, None).objective.buffers)
    assert json.loads(str(saved["layout"]))[0]["name"] == "conv.weight"


# ---------------------------------------------------------------------- optimizers
def test_optimizers_run_on_the_bound_objective():
    obj = st.objective(mlp())
    X, y = data(d=6, c=3)
    bound = steepest.bind(obj, X, y)
    theta = obj.init_params(0, dtype=np.float64)
    start = bound.loss(theta)
    res = lbfgs(bound, theta, max_iter=30)
    assert res.loss < start and res.theta.dtype == np.float64
    rng = np.random.default_rng(0)
    found = random_search(bound.loss, theta.size, n_tries=5, scale=0.1, rng=rng)
    assert np.isfinite(found.loss)
    local = random_local_search(bound.loss, theta, n_iters=10, step=1e-2, rng=rng)
    assert local.loss <= start
    sweep = step_size_sweep(bound, theta)
    assert sweep.best_loss < sweep.loss0
    momentum = Momentum(lr=0.1)
    state = momentum.init(theta)
    momentum.step(theta, bound.loss_and_grad(theta)[1], state)


# ---------------------------------------------------------------------- landscapes
def test_slices_and_batched_surface_equal_point_by_point():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    rng = np.random.default_rng(0)
    d1, d2 = (normalize_direction(rng.standard_normal(theta.size), theta, obj.layout)
              for _ in range(2))
    ev = SurfaceEvaluator(obj, theta, X, y, d1, d2, dtype=np.float64)
    coords = rng.uniform(-1, 1, (9, 2))
    fast, naive = ev.evaluate(coords), ev.evaluate_naive(coords)
    np.testing.assert_allclose(fast[0], naive[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(fast[1], naive[1])
    assert plane(obj, theta, X, y, grid=3).loss.shape == (3, 3)
    assert line(obj, theta, X, y, grid=4).loss.shape == (4,)
    other = obj.init_params(1, dtype=np.float64)
    assert interpolation(obj, theta, other, X, y, grid=3).loss.shape == (3,)
    path = theta + np.outer(np.linspace(1, 0, 5), rng.standard_normal(theta.size)) * 0.1
    path[:, 0] += np.linspace(0, 0.1, 5) ** 2
    surface = path_plane(obj, path, theta, X, y, grid=3)
    assert np.isfinite(surface.loss).all()


def test_filter_normalization_is_per_output_channel():
    module = cnn()
    obj = st.objective(module, input_shape=(1, 6, 6))
    theta = obj.init_params(0, dtype=np.float64)
    d = np.random.default_rng(0).standard_normal(theta.size)
    normed = normalize_direction(d, theta, obj.layout, "filter")
    # Li et al.'s rule, on the module's own tensors: every output channel (row of a Linear
    # weight, filter of a Conv2d) of the direction gets the norm of the same channel of W
    checked = 0
    for name, p in module.named_parameters():
        spec = obj.layout[name]
        dv = d[spec.slice].reshape(p.shape)
        w = theta[spec.slice].reshape(p.shape)
        got = normed[spec.slice].reshape(p.shape)
        if p.dim() < 2 or spec.role == "norm":
            np.testing.assert_array_equal(got, 0.0)
            continue
        for k in range(p.shape[0]):
            expected = dv[k] * np.linalg.norm(w[k]) / np.linalg.norm(dv[k])
            np.testing.assert_allclose(got[k], expected, rtol=1e-12)
            checked += 1
    assert checked == 3 + 8 + 4


def test_steepest_mlp_and_pytorch_mlp_give_the_same_surface_and_spectrum():
    D, H, C = 6, 5, 3
    ours = steepest.mlp([D, H, C], activation="tanh")
    torch_obj = st.objective(mlp(D, H, C))
    theta = ours.init_params(0)
    # steepest stores W as (in, out), nn.Linear as (out, in): map by transposing
    perm = np.concatenate([
        np.arange(s.size).reshape(s.shape).T.reshape(-1) + s.start if s.role == "weight"
        else np.arange(s.start, s.stop) for s in ours.layout])
    to_torch = lambda v: np.asarray(v)[perm]  # noqa: E731
    X, y = data(d=D, c=C)
    assert ours.loss(theta, X, y) == pytest.approx(torch_obj.loss(to_torch(theta), X, y),
                                                   rel=1e-13)
    rng = np.random.default_rng(0)
    dirs = [rng.standard_normal(theta.size) for _ in range(2)]
    a = plane(ours, theta, X, y, grid=5, directions=dirs, dtype=np.float64)
    b = plane(torch_obj, to_torch(theta), X, y, grid=5,
              directions=[to_torch(d) for d in dirs], dtype=np.float64)
    np.testing.assert_allclose(a.loss, b.loss, rtol=1e-10)
    np.testing.assert_allclose(to_torch(a.d1), b.d1, rtol=1e-12)  # filter norm per unit
    ev_ours = top_eigenvalues(steepest.bind(ours, X, y), theta, k=3)
    ev_torch = top_eigenvalues(steepest.bind(torch_obj, X, y), to_torch(theta), k=3)
    assert ev_torch.exact  # exact products (steepest's MLP: its own products)
    np.testing.assert_allclose(ev_ours.eigenvalues, ev_torch.eigenvalues, rtol=1e-6)


# ---------------------------------------------------------------------- monitors
def test_activations_feed_the_monitors():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, _ = data()
    theta = obj.init_params(0, dtype=np.float64)
    acts = obj.activations(theta, X)
    assert [(n, k, a.shape) for n, k, a in acts] == [("act1", "relu", (24, 108)),
                                                     ("act2", "relu", (24, 8))]
    stats = activation_stats(obj, theta, X)
    assert set(stats) >= {"dead.act1", "act_mean.act2"}

    class Reused(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc1, self.fc2, self.relu = nn.Linear(6, 4), nn.Linear(4, 3), nn.ReLU()

        def forward(self, x):
            return self.relu(self.fc2(self.relu(self.fc1(x))))

    reused = st.objective(Reused())
    names = [n for n, _, _ in reused.activations(reused.init_params(0), data(d=6)[0])]
    assert names == ["relu", "relu#2"]


# ---------------------------------------------------------------------- bad input
def test_bad_data_is_named():
    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    theta = obj.init_params(0, dtype=np.float64)
    X, y = data()
    with pytest.raises(steepest.InputError, match="35 features per row but the model expects 36"):
        obj.check_data(X[:, :35], y)
    with pytest.raises(steepest.InputError, match="label 4.*4 outputs per row"):
        obj.check_data(X, np.full(len(X), 4))
    with pytest.raises(steepest.InputError, match="integer class labels"):
        obj.check_data(X, y + 0.5)
    bad = X.copy()
    bad[3, 3] = np.nan
    with pytest.raises(steepest.InputError, match="NaN"):
        obj.check_data(bad, y)
    with pytest.raises(steepest.InputError, match="float32 or float64, got dtype float16"):
        obj.loss_and_grad(theta.astype(np.float16), X, y)
    with pytest.raises(steepest.InputError, match=f"{theta.size} parameters"):
        obj.loss_and_grad(theta[:-1], X, y)
    with pytest.raises(steepest.InputError, match="dtype must be float32 or float64"):
        st.objective(mlp(), dtype="float16")
    with pytest.raises(steepest.InputError, match="unknown loss"):
        st.objective(mlp(), loss="hinge")
    plain = st.objective(mlp())  # no input_shape: the module itself refuses
    with pytest.raises(steepest.InputError, match="cannot take inputs of shape"):
        plain.check_data(X, y)
    with pytest.raises(steepest.InputError, match="targets have shape"):
        st.objective(mlp(), "mse").check_data(data(d=6)[0], np.zeros((24, 4)))


def test_outputs_that_do_not_fit_the_labels():
    class Flat(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

        def forward(self, x):
            return x[:, :3] * self.w  # outputs (N, 3) ...

    class Image(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(1, 2, 3)

        def forward(self, x):
            return self.conv(x)  # outputs (N, 2, 4, 4): not class scores

    X, _ = data()
    with pytest.raises(steepest.InputError, match="label 5.*3 outputs"):
        st.objective(Flat()).check_data(X, np.full(24, 5))
    with pytest.raises(steepest.InputError, match=r"outputs of shape \(N, 2, 4, 4\)"):
        st.objective(Image(), input_shape=(1, 6, 6)).check_data(X, np.zeros(24, int))
    with pytest.raises(steepest.InputError, match="no parameters"):
        st.objective(nn.Sequential(nn.ReLU()))
    with pytest.raises(steepest.InputError, match="must be a torch.nn.Module"):
        st.objective(lambda x: x)


FACTORY = """
import torch
from torch import nn

def make():
    return nn.Sequential(nn.Linear(6, 4), nn.ReLU(), nn.Linear(4, 3))

def broken():
    raise RuntimeError("out of coffee")

def not_a_module():
    return 42

def empty():
    return nn.ReLU()

helper = 7
"""


def test_load_factory_and_its_errors(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(FACTORY)
    module = st.load_factory(f"{path}:make")
    assert isinstance(module, nn.Module)
    assert st.objective(module).layout.size == 6 * 4 + 4 + 4 * 3 + 3
    cases = [
        (f"{tmp_path / 'nope.py'}:make", "does not exist"),
        (f"{path}:missing", "has no 'missing'; it defines broken, empty, make, not_a_module"),
        (f"{path}:broken", "raised RuntimeError: out of coffee"),
        (f"{path}:not_a_module", "returned int, not a torch.nn.Module"),
        (f"{path}:empty", "no parameters"),
        (f"{path}:helper", "is a int, not a callable"),
        (str(path), "FILE.py:FACTORY"),
    ]
    for spec, message in cases:
        with pytest.raises(steepest.InputError, match=message):
            st.load_factory(spec)
    syntax = tmp_path / "bad.py"
    syntax.write_text("def make(:\n")
    with pytest.raises(steepest.InputError, match="importing model file .*SyntaxError"):
        st.load_factory(f"{syntax}:make")
    assert str(tmp_path) not in sys.path


def test_describe_factory_is_data_and_loads_back(tmp_path):
    path = tmp_path / "models.py"
    path.write_text(FACTORY)
    text = st.describe_factory(f"{path}:make")
    desc = json.loads(text)
    assert desc["factory"] == "make" and desc["path"] == str(path.resolve())
    assert len(desc["sha256"]) == 64 and desc["torch"] == torch.__version__
    module = st.load_described(text)
    assert sum(p.numel() for p in module.parameters()) == 43
    path.write_text(FACTORY + "\n# edited\n")
    with pytest.raises(steepest.InputError, match="changed since it was recorded"):
        st.load_described(text)
    assert isinstance(st.load_described(text, strict=False), nn.Module)
    with pytest.raises(steepest.InputError, match="not a steepest model-factory"):
        st.load_described("{}")


def test_the_lenet_example():
    module = st.load_factory(f"{ROOT / 'examples' / 'lenet.py'}:make")
    obj = st.objective(module, input_shape=(1, 28, 28))
    assert obj.layout.size == 61706
    assert obj.layout["features.0.weight"].shape == (6, 1, 5, 5)
    X = np.random.default_rng(0).standard_normal((4, 784)).astype(np.float32)
    assert obj.scores(obj.init_params(0), X).shape == (4, 10)
    with_bn = st.load_factory(f"{ROOT / 'examples' / 'lenet.py'}:make", {"batchnorm": True})
    assert st.objective(with_bn).buffer_layout.size > 0


def test_pickles_for_worker_processes():
    import pickle

    obj = st.objective(cnn(), input_shape=(1, 6, 6))
    X, y = data()
    theta = obj.init_params(0, dtype=np.float64)
    obj.hvp(theta, np.ones_like(theta), X, y)  # keeps a graph, which must not travel
    copy = pickle.loads(pickle.dumps(obj))
    assert copy.evaluate(theta, X, y) == obj.evaluate(theta, X, y)


def test_steepest_works_without_torch_and_the_error_says_how_to_install():
    code = textwrap.dedent("""
        import sys
        sys.modules["torch"] = None  # as if PyTorch were not installed
        import numpy as np
        import steepest
        m = steepest.mlp([4, 3])
        m.loss_and_grad(m.init_params(0), np.ones((2, 4)), np.array([0, 1]))
        try:
            import steepest.torch
        except steepest.InputError as e:
            assert isinstance(e, ImportError)
            print(e)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    assert "pip install 'steepest[torch]'" in done.stdout
