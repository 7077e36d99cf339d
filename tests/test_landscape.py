"""Loss landscapes: the fast evaluation equals the naive one, directions have the stated
norms, convex problems look convex, computations resume and run in parallel (processes and a
real Dask cluster on loopback), and the CLI rejects bad requests clearly."""

import json

import numpy as np
import pytest
from typer.testing import CliRunner

import steepest
from steepest import InputError
from steepest.cli import app
from steepest.landscape import (
    Surface,
    SurfaceEvaluator,
    compute,
    grid_coords,
    interpolation,
    line,
    normalize_direction,
    orthogonalize,
    pca_directions,
    plane,
    random_direction,
)

runner = CliRunner()

MODELS = [
    dict(),
    dict(batchnorm=True, dropout=0.5),
    dict(activation="maxout", loss="svm", reg=1e-3),
    dict(activation="tanh", reg=1e-2, regularizer="elastic"),
    dict(activation="leaky_relu", loss="svm", hinge="crammer-singer", reg=1e-3,
         regularizer="l1"),
]


def _setup(rng, kwargs, sizes=(12, 10, 8, 4), n=200):
    model = steepest.mlp(list(sizes), **kwargs)
    theta = model.init_params(3)
    model.buffers[:] = rng.random(model.buffers.size) + 0.5  # non-trivial running statistics
    X = rng.standard_normal((n, sizes[0]))
    y = rng.integers(0, sizes[-1], n)
    d1 = random_direction(theta, model.layout, rng)
    d2 = random_direction(theta, model.layout, rng)
    return model, theta, X, y, d1, d2


@pytest.mark.parametrize("kwargs", MODELS)
def test_fast_path_equals_naive_evaluation(rng, kwargs):
    model, theta, X, y, d1, d2 = _setup(rng, kwargs)
    coords = rng.uniform(-1.5, 1.5, (25, 2))
    ev64 = SurfaceEvaluator(model, theta, X, y, d1, d2, dtype=np.float64, chunk_points=6)
    fast, acc = ev64.evaluate(coords)
    naive, acc_n = ev64.evaluate_naive(coords)
    np.testing.assert_allclose(fast, naive, rtol=1e-10)
    np.testing.assert_array_equal(acc, acc_n)
    # the float32 default against the float64 reference: 1e-5 relative
    fast32, _ = SurfaceEvaluator(model, theta, X, y, d1, d2).evaluate(coords)
    np.testing.assert_allclose(fast32, naive, rtol=1e-5)


def test_line_evaluation_matches_model_loss(rng):
    model, theta, X, y, d1, _ = _setup(rng, {})
    ts = np.linspace(-1, 1, 7)
    loss, _ = SurfaceEvaluator(model, theta, X, y, d1, dtype=np.float64).evaluate(ts)
    for t, value in zip(ts, loss):
        assert value == pytest.approx(model.loss(theta + t * d1, X, y), rel=1e-10)


def test_filter_normalization_has_the_stated_norms(rng):
    model = steepest.mlp([9, 7, 5], batchnorm=True)
    theta = model.init_params(0) + 0.1
    d = random_direction(theta, model.layout, rng, norm="filter")
    for spec in model.layout:
        dv, w = d[spec.slice].reshape(spec.shape), theta[spec.slice].reshape(spec.shape)
        if spec.role == "weight":  # every output unit (column) matches its weights' norm
            np.testing.assert_allclose(np.linalg.norm(dv, axis=0), np.linalg.norm(w, axis=0))
        else:
            assert np.all(dv == 0), spec.name
    d = random_direction(theta, model.layout, rng, norm="layer")
    for spec in model.layout.select(("weight",)):
        assert np.linalg.norm(d[spec.slice]) == pytest.approx(np.linalg.norm(theta[spec.slice]))
    d = random_direction(theta, model.layout, rng, norm="model", include_bias=True)
    w = model.layout.mask(("weight",))
    assert np.linalg.norm(d[w]) == pytest.approx(np.linalg.norm(theta[w]))
    bias = model.layout["fc1.b"].slice
    np.testing.assert_array_equal(d[bias], theta[bias])  # included biases follow the weights
    d2 = orthogonalize(random_direction(theta, model.layout, rng), d)
    assert abs(d2 @ d) < 1e-9 * np.linalg.norm(d) * np.linalg.norm(d2)
    with pytest.raises(InputError, match="unknown direction normalization 'batch'"):
        normalize_direction(d, theta, model.layout, norm="batch")


def test_linear_softmax_surface_is_convex_along_every_line(rng):
    model = steepest.linear(10, 4, reg=1e-3)
    X, y = rng.standard_normal((300, 10)), rng.integers(0, 4, 300)
    theta = model.init_params(0)
    for seed in range(6):
        surf = line(model, theta, X, y, grid=41, span=(-3, 3), seed=seed, norm="none")
        second = np.diff(surf.loss, 2)
        assert np.all(second >= -1e-9), second.min()


def test_plane_layout_and_surface_file_round_trip(tmp_path, rng):
    model, theta, X, y, _, _ = _setup(rng, {})
    surf = plane(model, theta, X, y, grid=5, span=(-0.5, 1.0), seed=2)
    assert surf.loss.shape == (5, 5) and surf.points == 25
    # loss[j, i] is the loss at (x[i], y[j])
    i, j = 3, 1
    expected = model.loss(theta + surf.x[i] * surf.d1 + surf.y[j] * surf.d2, X, y)
    assert surf.loss[j, i] == pytest.approx(expected, rel=1e-5)
    path = surf.save(tmp_path / "s.npz")
    back = Surface.load(path)
    np.testing.assert_array_equal(back.loss, surf.loss)
    assert back.meta["norm"] == "filter" and back.kind == "plane"


def test_interpolation_endpoints_are_the_two_solutions(rng):
    model, theta_a, X, y, _, _ = _setup(rng, {})
    theta_b = model.init_params(9)
    surf = interpolation(model, theta_a, theta_b, X, y, grid=9, span=(-0.5, 1.5))
    ts = list(surf.x)
    assert surf.loss[ts.index(0.0)] == pytest.approx(model.loss(theta_a, X, y), rel=1e-5)
    assert surf.loss[ts.index(1.0)] == pytest.approx(model.loss(theta_b, X, y), rel=1e-5)


def test_pca_directions_recover_a_planar_path(rng):
    n = 50
    e1, e2 = np.zeros(n), np.zeros(n)
    e1[3], e2[7] = 1.0, 1.0
    final = rng.standard_normal(n)
    t = np.linspace(-1, 1, 21)  # an odd and an even coordinate: uncorrelated on this grid
    path = final + np.outer(5 * t, e1) + np.outer(t**2, e2)
    d1, d2, coords, explained = pca_directions(path, final)
    assert explained.sum() == pytest.approx(1.0) and explained[0] > explained[1]
    assert abs(d1 @ e1) == pytest.approx(1.0) and abs(d2 @ e2) == pytest.approx(1.0)
    np.testing.assert_allclose(np.abs(coords[:, 0]), 5 * np.abs(t), atol=1e-9)
    np.testing.assert_allclose(np.abs(coords[:, 1]), t**2, atol=1e-9)
    with pytest.raises(InputError, match="at least 3 points"):
        pca_directions(path[:2], final)


def test_interrupted_computation_resumes(tmp_path, rng):
    model, theta, X, y, d1, d2 = _setup(rng, {})
    coords = grid_coords(np.linspace(-1, 1, 6), np.linspace(-1, 1, 6))
    whole, whole_acc, _ = compute(model, theta, X, y, d1, d2, coords)
    partial = tmp_path / "s.partial.npz"

    class Stop(Exception):
        pass

    def stop_half(done, total):
        if done >= total // 2:
            raise Stop

    with pytest.raises(Stop):
        compute(model, theta, X, y, d1, d2, coords, partial=partial, task_points=4,
                on_progress=stop_half)
    loss, acc, info = compute(model, theta, X, y, d1, d2, coords, partial=partial,
                              task_points=4)
    assert info["resumed_points"] >= 16
    np.testing.assert_array_equal(loss, whole)
    np.testing.assert_array_equal(acc, whole_acc)
    # a different job does not reuse the partial file
    _, _, other = compute(model, theta, X, y, d1, -d2, coords, partial=partial)
    assert other["resumed_points"] == 0


@pytest.mark.slow
def test_local_worker_processes_agree(rng):
    model, theta, X, y, d1, d2 = _setup(rng, {"batchnorm": True})
    coords = grid_coords(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5))
    ref, _, _ = compute(model, theta, X, y, d1, d2, coords)
    par, _, info = compute(model, theta, X, y, d1, d2, coords, workers=2, task_points=5)
    assert info["mode"] == "processes"
    np.testing.assert_array_equal(par, ref)


@pytest.mark.slow
def test_dask_cluster_on_loopback(rng):
    distributed = pytest.importorskip("distributed")
    model, theta, X, y, d1, d2 = _setup(rng, {})
    coords = grid_coords(np.linspace(-1, 1, 4), np.linspace(-1, 1, 4))
    ref, _, _ = compute(model, theta, X, y, d1, d2, coords)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster:
        assert cluster.scheduler_address.startswith("tcp://127.0.0.1:")
        out, _, info = compute(model, theta, X, y, d1, d2, coords,
                               scheduler=cluster.scheduler_address, task_points=3)
    assert info["mode"] == "dask"
    np.testing.assert_array_equal(out, ref)


def test_unreachable_scheduler_fails_fast(rng):
    pytest.importorskip("distributed")
    model, theta, X, y, d1, d2 = _setup(rng, {})
    with pytest.raises(InputError, match="cannot reach the Dask scheduler at tcp://127.0.0.1:9"):
        compute(model, theta, X, y, d1, d2, grid_coords(np.zeros(2), np.zeros(2)),
                scheduler="tcp://127.0.0.1:9")


# ----------------------------------------------------------------------------- CLI
@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")
    for name, extra in (("a", ["--keep-path-every", "10"]), ("b", ["--seed", "1"]),
                        ("wide", ["--hidden", "24"])):
        result = runner.invoke(app, ["train", "--epochs", "3", "--hidden", "16", *extra,
                                     "--out", str(root / name), "--no-plots", "--json"])
        assert result.exit_code == 0, result.output
    return root


def _landscape(*args):
    return runner.invoke(app, ["landscape", *args, "--workers", "1", "--json"])


def test_cli_plane_line_interpolation_path(runs):
    res = _landscape(str(runs / "a"), "--grid", "5", "--subset", "200")
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert out["points"] == 25 and out["seconds"] > 0 and np.isfinite(out["min_loss"])
    assert Surface.load(out["surface_file"]).loss.shape == (5, 5)
    assert any(p.endswith("contourf.png") for p in out["plots"])
    res = _landscape(str(runs / "a"), "--line", "--grid", "7", "--split", "test")
    assert res.exit_code == 0 and json.loads(res.stdout)["points"] == 7
    res = _landscape(str(runs / "a"), "--interpolate", str(runs / "b"), "--grid", "5")
    assert res.exit_code == 0, res.output
    res = _landscape(str(runs / "a"), "--interpolate", "init", "--grid", "5")
    assert res.exit_code == 0, res.output
    surf = Surface.load(json.loads(res.stdout)["surface_file"])
    ts = list(surf.x)  # t = 1 is the final weights: the lowest loss of the init-to-final line
    assert surf.loss[ts.index(1.0)] < surf.loss[ts.index(0.0)]
    res = _landscape(str(runs / "a"), "--path", "--grid", "5", "--subset", "100")
    assert res.exit_code == 0, res.output
    assert Surface.load(json.loads(res.stdout)["surface_file"]).path_xy is not None


@pytest.mark.parametrize(
    "args, message",
    [
        (["--grid", "1"], "at least 2 points per axis, got 1"),
        (["--span", "1:-1"], "increasing pair low:high, got 1:-1"),
        (["--norm", "batch"], "unknown direction normalization 'batch'"),
        (["--split", "holdout"], "unknown split 'holdout'"),
        (["--path"], "kept no path"),
    ],
)
def test_cli_bad_requests(runs, args, message):
    target = runs / ("b" if "--path" in args else "a")
    res = runner.invoke(app, ["landscape", str(target), *args])
    assert res.exit_code == 2, res.output
    assert message in res.output


def test_cli_runs_that_cannot_be_sliced(runs, tmp_path):
    res = runner.invoke(app, ["landscape", str(tmp_path)])
    assert res.exit_code == 2 and "is not a run directory" in res.output
    (tmp_path / "config.yaml").write_text((runs / "a" / "config.yaml").read_text())
    res = runner.invoke(app, ["landscape", str(tmp_path)])
    assert res.exit_code == 2 and "has no final weights" in res.output
    res = runner.invoke(app, ["landscape", str(runs / "a"), "--interpolate", str(runs / "wide")])
    assert res.exit_code == 2 and "the two runs have different models" in res.output


def test_cli_hessian_json(runs):
    res = runner.invoke(app, ["hessian", str(runs / "a"), "--top", "2", "--trace", "--samples",
                              "5", "--subset", "100", "--path", "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    assert len(out["eigenvalues"]) == 2 and out["eigenvalues"][0] >= out["eigenvalues"][1]
    assert out["trace"]["n_samples"] == 5 and len(out["path"]["reports"]) >= 3
