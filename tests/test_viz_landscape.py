import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.figure import Figure

from steepest.errors import InputError
from steepest.viz import save_figure, save_figures
from steepest.viz.landscape import (
    plot_contour,
    plot_heatmap,
    plot_landscape_set,
    plot_line,
    plot_surface3d,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
X = np.linspace(-1.0, 1.0, 21)
Y = np.linspace(-1.0, 1.0, 21)
XX, YY = np.meshgrid(X, Y)


def bowl():
    """Minimum 0.01 at (0.3, -0.2); wider in x than in y."""
    return 0.01 + (XX - 0.3) ** 2 + 3.0 * (YY + 0.2) ** 2


def saddle():
    return XX**2 - YY**2


def with_nans():
    z = bowl()
    z[0, :4] = np.nan
    z[-1, -1] = np.inf
    z[10, 18] = 1e9  # a near-diverged point
    return z


def steep():
    """Spans six decades: auto levels go logarithmic."""
    return np.exp(8.0 * (XX**2 + YY**2)) * 1e-3


SURFACES = {"bowl": bowl, "saddle": saddle, "nans": with_nans, "constant":
            lambda: np.full_like(XX, 2.3), "steep": steep}


def main_axes(fig):
    """The plotting axes (the first one; colour bars come after it)."""
    assert isinstance(fig, Figure)
    return fig.axes[0]


def check_png(path, tmp_path=None):
    assert path.exists()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 100 and img.shape[1] > 100
    if tmp_path is not None:  # atomic writes leave no temporary file behind
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]
    return img


def rendered(fig, tmp_path, name="fig.png"):
    """The figure written through save_figure, checked and read back as an image."""
    return check_png(save_figure(fig, tmp_path / name), tmp_path)


def test_plot_line_with_everything(tmp_path):
    t = np.linspace(-0.5, 1.5, 41)
    loss = 0.1 + (t * (1 - t)) ** 2 + 0.05 * t
    loss[-1] = np.nan
    acc = 1.0 - loss / 2
    fig = plot_line(t, loss, acc=acc, extra={"test loss": loss * 1.2},
                    extra_acc={"test accuracy": acc - 0.05}, xlabel="t (A -> B)",
                    title="interpolation", mark_endpoints=True, log=True)
    ax = main_axes(fig)
    assert len(fig.axes) == 2  # the accuracy axis is a twin
    assert ax.get_title().startswith("interpolation")
    assert "4 non-finite values" in ax.get_title()  # loss[-1], carried into all 4 series
    assert ax.get_yscale() == "log" and ax.get_xlabel() == "t (A -> B)"
    assert fig.axes[1].get_ylabel() == "accuracy"
    assert [t.get_text() for t in ax.texts] == ["A", "B"]
    assert list(tmp_path.iterdir()) == []  # nothing written by the plot itself
    rendered(fig, tmp_path)


def test_plot_line_minimal(tmp_path):
    fig = plot_line([0.0, 1.0], [1.0, 2.0])
    assert len(fig.axes) == 1 and main_axes(fig).get_title() == "loss along a line"
    rendered(fig, tmp_path)


def test_plot_line_into_given_axes():
    fig = Figure()
    ax = fig.subplots()
    assert plot_line([0.0, 1.0], [1.0, 2.0], ax=ax, title="mine") is fig
    assert ax.get_title() == "mine" and len(ax.get_lines()) == 1


@pytest.mark.parametrize("kind", sorted(SURFACES))
@pytest.mark.parametrize("filled", [False, True])
def test_plot_contour_surfaces(tmp_path, kind, filled):
    fig = plot_contour(X, Y, SURFACES[kind](), filled=filled)
    ax = main_axes(fig)
    assert ax.get_title().startswith("loss contours")
    if kind == "nans":
        assert "5 of 441 points non-finite" in ax.get_title()
    if kind == "constant":
        assert "constant surface" in ax.get_title()
    rendered(fig, tmp_path)


@pytest.mark.parametrize("levels", ["log", "linear", [0.1, 0.5, 1.0, 2.0]])
def test_plot_contour_level_options(tmp_path, levels):
    fig = plot_contour(X, Y, bowl(), levels=levels, n_levels=12)
    assert len(fig.axes) == 2  # axes and colour bar
    rendered(fig, tmp_path)


def test_log_levels_with_nonpositive_values_fall_back(tmp_path):
    fig = plot_contour(X, Y, saddle(), levels="log")
    assert "log scale needs positive values; linear used" in main_axes(fig).get_title()
    rendered(fig, tmp_path)


def test_auto_levels_go_logarithmic_over_decades():
    fig = plot_contour(X, Y, steep())
    assert fig.axes[1].get_ylabel() == "loss (log-spaced levels)"


def test_plot_contour_with_path(tmp_path):
    s = np.linspace(0, 1, 30)[:, None]
    path_xy = np.hstack([-0.9 + 1.2 * s, 1.1 - 1.3 * s])  # starts just outside the grid
    labels = [f"ep {i}" for i in range(30)]
    fig = plot_contour(X, Y, bowl(), filled=True, path_xy=path_xy, path_labels=labels)
    ax = main_axes(fig)
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert {"optimization path", "start", "end"} <= set(legend)
    assert any(t.startswith("grid min") for t in legend)
    assert len(ax.texts) == 12  # at most 12 path labels
    assert ax.get_ylim()[1] > 1.0  # widened to show where the path starts
    rendered(fig, tmp_path, "p.png")
    rendered(plot_contour(X, Y, bowl(), path_xy=[[0.0, 0.0]]), tmp_path, "one.png")


@pytest.mark.parametrize("kind", sorted(SURFACES))
def test_plot_heatmap_surfaces(tmp_path, kind):
    fig = plot_heatmap(X, Y, SURFACES[kind]())
    assert len(fig.axes) == 2
    if kind == "nans":
        assert "5 of 441 points non-finite (diverged), masked (gray)" in \
            main_axes(fig).get_title()
    if kind == "steep":
        assert fig.axes[1].get_ylabel() == "loss (log scale)"
    rendered(fig, tmp_path)


def test_plot_heatmap_accuracy_and_nonuniform_grid(tmp_path):
    acc = 1.0 / (1.0 + bowl())
    fig = plot_heatmap(X, Y, acc, name="accuracy", mark="max", vmin=0.0, vmax=1.0)
    assert main_axes(fig).get_title() == "accuracy"
    assert any(t.get_text().startswith("grid max: accuracy")
               for t in main_axes(fig).get_legend().get_texts())
    rendered(fig, tmp_path, "a.png")
    xs = np.sign(X) * X**2  # dense near 0
    rendered(plot_heatmap(xs, Y, bowl()), tmp_path, "n.png")


def test_heatmap_orientation(tmp_path):
    """The cell of the smallest value is drawn where its coordinates say, not mirrored."""
    x = np.linspace(-1.0, 1.0, 5)
    y = np.linspace(-1.0, 1.0, 3)
    z = np.ones((3, 5))
    z[2, 4] = 0.0  # top right: x = 1, y = 1
    fig = plot_heatmap(x, y, z, cmap="gray", mark=None, scale="linear")
    img = rendered(fig, tmp_path, "o.png")[..., :3].mean(axis=2)
    dark = img < 0.05
    rows, cols = np.nonzero(dark)
    # the dark cell sits in the upper-right part of the picture (row 0 is the top)
    assert rows.mean() < img.shape[0] / 2 and cols.mean() > img.shape[1] / 2


@pytest.mark.parametrize("kind", sorted(SURFACES))
def test_plot_surface3d_surfaces(tmp_path, kind):
    fig = plot_surface3d(X, Y, SURFACES[kind]())
    assert main_axes(fig).name == "3d"
    if kind == "nans":
        assert "5 of 441 points non-finite" in main_axes(fig).get_title()
    rendered(fig, tmp_path)


@pytest.mark.parametrize("clip", [None, 0.9, "auto"])
def test_plot_surface3d_options(tmp_path, clip):
    fig = plot_surface3d(X, Y, steep(), clip_quantile=clip, log=True)
    ax = main_axes(fig)
    assert ax.get_zlabel() == "log10 loss"
    assert ("clipped" in ax.get_title()) == (clip == 0.9)  # log10 tames "auto"
    rendered(fig, tmp_path)


def test_plot_surface3d_clips_a_spike():
    z = bowl()
    z[3, 3] = 1e6
    assert "95th percentile" in main_axes(plot_surface3d(X, Y, z)).get_title()


def test_plot_surface3d_into_given_axes():
    fig = Figure()
    ax = fig.add_subplot(projection="3d")
    assert plot_surface3d(X, Y, bowl(), ax=ax) is fig
    with pytest.raises(InputError, match="3-D axes"):
        plot_surface3d(X, Y, bowl(), ax=Figure().subplots())


def test_all_nonfinite_surface_does_not_crash(tmp_path):
    z = np.full_like(XX, np.nan)
    for fn in (plot_contour, plot_heatmap, plot_surface3d):
        fig = fn(X, Y, z)
        assert "441 of 441 points non-finite" in main_axes(fig).get_title()
        rendered(fig, tmp_path, f"{fn.__name__}.png")


def test_plot_landscape_set_files(tmp_path):
    acc = 1.0 / (1.0 + bowl())
    path_xy = np.column_stack([np.linspace(-0.8, 0.3, 10), np.linspace(0.8, -0.2, 10)])
    figures = plot_landscape_set(X, Y, with_nans(), acc, path_xy=path_xy,
                                 path_labels=range(10), xlabel="PC1", ylabel="PC2")
    assert list(figures) == ["contour", "contourf", "heatmap_loss", "heatmap_acc",
                             "surface3d", "path"]
    assert all(isinstance(f, Figure) for f in figures.values())
    assert main_axes(figures["heatmap_acc"]).get_title() == "loss landscape: accuracy"
    assert main_axes(figures["path"]).get_xlabel() == "PC1"
    assert not (tmp_path / "set").exists()
    out = save_figures(figures, tmp_path / "set")
    names = [p.name for p in out]
    assert names == ["contour.png", "contourf.png", "heatmap_loss.png", "heatmap_acc.png",
                     "surface3d.png", "path.png"]
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == sorted(names)
    for p in out:
        check_png(p)


def test_plot_landscape_set_without_acc_or_path():
    figures = plot_landscape_set(X, Y, bowl(), None)
    assert list(figures) == ["contour", "contourf", "heatmap_loss", "surface3d"]


@pytest.mark.parametrize("fn", [plot_contour, plot_heatmap, plot_surface3d])
def test_bad_surface_shapes(fn):
    x = np.linspace(0, 1, 4)
    y = np.linspace(0, 1, 3)
    with pytest.raises(InputError, match=r"\(3, 4\)"):
        fn(x, y, np.zeros((4, 3)))  # transposed
    with pytest.raises(InputError, match="shape"):
        fn(x, y, np.zeros(12))
    with pytest.raises(InputError, match="x must"):
        fn(np.zeros((2, 2)), y, np.zeros((3, 4)))
    with pytest.raises(InputError, match="increasing"):
        fn(x[::-1], y, np.zeros((3, 4)))


def test_bad_line_and_path_inputs():
    t = np.linspace(0, 1, 5)
    with pytest.raises(InputError, match=r"\(5,\)"):
        plot_line(t, np.zeros(4))
    with pytest.raises(InputError, match="acc"):
        plot_line(t, np.zeros(5), acc=np.zeros(6))
    with pytest.raises(InputError, match="test loss"):
        plot_line(t, np.zeros(5), extra={"test loss": np.zeros(3)})
    with pytest.raises(InputError, match=r"\(T, 2\)"):
        plot_contour(X, Y, bowl(), path_xy=np.zeros((5, 3)))
    with pytest.raises(InputError, match="path_labels"):
        plot_contour(X, Y, bowl(), path_xy=np.zeros((5, 2)), path_labels=[1, 2])
    with pytest.raises(InputError, match="acc"):
        plot_landscape_set(X, Y, bowl(), np.zeros((3, 3)))
    with pytest.raises(InputError, match="levels"):
        plot_contour(X, Y, bowl(), levels="cubic")
    with pytest.raises(InputError, match="clip_quantile"):
        plot_surface3d(X, Y, bowl(), clip_quantile=1.5)
