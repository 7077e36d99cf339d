"""Plotting leaves matplotlib's global state alone and returns figures; save_figure writes them."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import matplotlib.image as mpimg
import matplotlib.pyplot as plt  # the test, not the library, registers figures with pyplot
import numpy as np
import pytest
from matplotlib.figure import Figure

from steepest.errors import InputError
from steepest.trajectories import Trajectory, function2d, plot_trajectories
from steepest.viz import (
    landscape,
    plot_accuracy,
    plot_loss,
    plot_run,
    plot_update_ratios,
    plot_weight_tiles,
    save_figure,
    save_figures,
)

X = np.linspace(-1.0, 1.0, 11)
BOWL = np.add.outer(3.0 * X**2, X**2) + 0.01  # (len(y), len(x))
HISTORY = [{"epoch": e, "train_acc": 0.5 + 0.1 * e, "val_acc": 0.45 + 0.08 * e,
            "update_ratio.fc1.W": 1e-3 / e, "update_ratio.fc2.W": 2e-3 / e}
           for e in range(1, 4)]
LOSSES = np.exp(-np.linspace(0, 5, 120)) + 0.01
MAGIC = {"png": (b"\x89PNG",), "svg": (b"<?xml", b"<svg"), "pdf": (b"%PDF",)}


def _study():
    optuna = pytest.importorskip("optuna")
    optuna.logging.set_verbosity(optuna.logging.ERROR)

    def objective(trial):
        lr = trial.suggest_float("optim.lr", 1e-4, 1.0, log=True)
        reg = trial.suggest_float("model.reg", 1e-6, 1e-1, log=True)
        value = 0.9 - 0.05 * (np.log10(lr) + 2) ** 2 - 0.01 * (np.log10(reg) + 4) ** 2
        for epoch in (1, 2):
            trial.report(value * epoch / 2, epoch)
        return float(value)

    study = optuna.create_study(direction="maximize",
                                sampler=optuna.samplers.RandomSampler(seed=0))
    study.optimize(objective, n_trials=6)
    return study


def _trajectory_figure(**kw):
    fn = function2d("booth")
    points = np.array([fn.start, (-2.0, 0.0), (1.0, 3.0)])
    traj = Trajectory("sgd", points, np.array([fn(p)[0] for p in points]))
    return plot_trajectories(fn, [traj], **kw)


def _every_plot():
    """(name, result) of each public plotting function on small inputs."""
    yield "plot_loss", plot_loss(LOSSES)
    yield "plot_accuracy", plot_accuracy(HISTORY)
    yield "plot_update_ratios", plot_update_ratios(HISTORY)
    yield "plot_weight_tiles", plot_weight_tiles(np.random.default_rng(0).normal(size=(16, 3)),
                                                 (4, 4))
    yield "plot_run", plot_run(LOSSES, HISTORY, first_layer_weights=np.ones((16, 3)),
                               image_shape=(4, 4))
    yield "plot_line", landscape.plot_line(X, X**2, acc=1 - X**2, mark_endpoints=True)
    yield "plot_contour", landscape.plot_contour(X, X, BOWL, filled=True)
    yield "plot_heatmap", landscape.plot_heatmap(X, X, BOWL)
    yield "plot_surface3d", landscape.plot_surface3d(X, X, BOWL)
    yield "plot_landscape_set", landscape.plot_landscape_set(X, X, BOWL, 1 - BOWL / 5,
                                                             path_xy=[[0.5, 0.5], [0, 0]])
    yield "plot_trajectories", _trajectory_figure()
    from steepest.tune import plots as tune_plots

    study = _study()
    for name in ("plot_history", "plot_params", "plot_lr_reg", "plot_importances",
                 "plot_intermediate", "plot_search"):
        yield name, getattr(tune_plots, name)(study)


def test_library_never_changes_the_backend(tmp_path):
    code = textwrap.dedent(f"""
        import sys
        import matplotlib
        import numpy as np
        import steepest, steepest.viz, steepest.viz.landscape, steepest.trajectories
        import steepest.tune.plots
        from steepest.viz import plot_loss, plot_run, save_figure
        from steepest.viz.landscape import plot_contour, plot_surface3d

        x = np.linspace(-1, 1, 9)
        z = np.add.outer(x**2, x**2)
        save_figure(plot_loss([3.0, 2.0, 1.0]), {str(tmp_path / "loss.png")!r})
        save_figure(plot_contour(x, x, z), {str(tmp_path / "contour.pdf")!r})
        plot_surface3d(x, x, z)
        plot_run([1.0, 0.5], [])
        print("pyplot imported:", "matplotlib.pyplot" in sys.modules)
        print(matplotlib.get_backend())
    """)
    env = {**os.environ, "MPLBACKEND": "svg"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.strip().splitlines()
    assert lines[-1] == "svg"
    assert lines[-2] == "pyplot imported: False"
    assert (tmp_path / "loss.png").exists() and (tmp_path / "contour.pdf").exists()


def test_no_figure_is_registered_with_pyplot():
    before = plt.get_fignums()
    seen = []
    for name, result in _every_plot():
        figures = result.values() if isinstance(result, dict) else [result]
        assert figures, name
        for fig in figures:
            assert isinstance(fig, Figure), name
            assert fig.canvas.manager is None, name  # pyplot gives its figures a manager
        assert plt.get_fignums() == before, name
        seen.append(name)
    assert len(seen) == 17


def test_plot_run_keys_and_weights():
    figures = plot_run(LOSSES, HISTORY, first_layer_weights=np.ones((16, 3)),
                       image_shape=(4, 4), classes=["a", "b", "c"], linear=True,
                       steps_per_epoch=40)
    assert list(figures) == ["loss", "accuracy", "update_ratios", "weights"]
    assert figures["loss"].axes[0].get_xlabel() == "step (40 per epoch)"
    assert figures["loss"].axes[0].get_yscale() == "log"  # the loss spans two decades
    weights = figures["weights"]
    assert weights.get_suptitle() == "class templates (linear classifier) (all 3 units)"
    assert [ax.get_title() for ax in weights.axes if ax.images] == ["a", "b", "c"]
    # no history, or weights that are not images: those pictures are left out
    assert list(plot_run(LOSSES, [], first_layer_weights=np.ones((10, 3)),
                         image_shape=(4, 4))) == ["loss"]
    hidden = plot_run(LOSSES, HISTORY, first_layer_weights=np.ones((16, 5)),
                      image_shape=(4, 4), classes=["a", "b"])
    assert hidden["weights"].get_suptitle() == "first-layer weights (all 5 units)"


def test_plots_draw_into_a_given_axes():
    for plot in (lambda ax: plot_loss(LOSSES, ax=ax), lambda ax: plot_accuracy(HISTORY, ax=ax),
                 lambda ax: plot_update_ratios(HISTORY, ax=ax),
                 lambda ax: _trajectory_figure(title="booth", ax=ax)):
        fig = Figure()
        left, right = fig.subplots(1, 2)
        assert plot(right) is fig
        assert right.has_data() and not left.has_data()
        assert len(fig.axes) == 2


@pytest.mark.parametrize("fmt", ["png", "svg", "pdf"])
def test_save_figure_formats(tmp_path, fmt):
    fig = plot_loss(LOSSES)
    by_suffix = save_figure(fig, tmp_path / f"loss.{fmt}")
    assert by_suffix == tmp_path / f"loss.{fmt}"
    assert by_suffix.read_bytes().startswith(MAGIC[fmt])
    explicit = save_figure(fig, tmp_path / "loss.bin", format=fmt.upper())
    assert explicit.read_bytes().startswith(MAGIC[fmt])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"loss.{fmt}", "loss.bin"])


def test_save_figure_rejects_unknown_formats(tmp_path):
    fig = plot_loss(LOSSES)
    with pytest.raises(InputError, match=r"'jpg'.*png, svg, pdf"):
        save_figure(fig, tmp_path / "loss.jpg")
    with pytest.raises(InputError, match=r"'eps'.*png, svg, pdf"):
        save_figure(fig, tmp_path / "loss.png", format="eps")
    with pytest.raises(InputError, match="png, svg, pdf"):
        save_figure(fig, tmp_path / "loss")  # no suffix to go by
    with pytest.raises(InputError, match="'gif'"):
        save_figures({"loss": fig}, tmp_path / "out", format="gif")
    assert not list(tmp_path.iterdir())


def test_save_figure_dpi_sets_the_pixel_size(tmp_path):
    fig = plot_loss(LOSSES)
    small = mpimg.imread(save_figure(fig, tmp_path / "small.png", dpi=50))
    large = mpimg.imread(save_figure(fig, tmp_path / "large.png", dpi=100))
    assert large.shape[1] == pytest.approx(2 * small.shape[1], rel=0.05)
    assert large.shape[0] == pytest.approx(2 * small.shape[0], rel=0.05)


def test_save_figures(tmp_path):
    figures = {"loss": plot_loss(LOSSES), "accuracy": plot_accuracy(HISTORY)}
    paths = save_figures(figures, tmp_path / "plots", format="svg")
    assert paths == [tmp_path / "plots" / "loss.svg", tmp_path / "plots" / "accuracy.svg"]
    assert all(p.read_bytes().startswith(MAGIC["svg"]) for p in paths)
    assert save_figures({}, tmp_path / "none") == []
