import matplotlib.image as mpimg
import numpy as np
import pytest

from steepest.errors import InputError
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


def check_png(path, tmp_path=None):
    assert path.exists()
    assert path.read_bytes()[:8] == PNG_SIGNATURE
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[2] in (3, 4)
    assert img.shape[0] > 100 and img.shape[1] > 100
    if tmp_path is not None:  # atomic writes leave no temporary file behind
        assert not [p.name for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_plot_line_with_everything(tmp_path):
    t = np.linspace(-0.5, 1.5, 41)
    loss = 0.1 + (t * (1 - t)) ** 2 + 0.05 * t
    loss[-1] = np.nan
    acc = 1.0 - loss / 2
    out = plot_line(t, loss, tmp_path / "line.png", acc=acc, extra={"test loss": loss * 1.2},
                    extra_acc={"test accuracy": acc - 0.05}, xlabel="t (A -> B)",
                    title="interpolation", mark_endpoints=True, log=True)
    assert out == tmp_path / "line.png"
    check_png(out, tmp_path)


def test_plot_line_minimal(tmp_path):
    check_png(plot_line([0.0, 1.0], [1.0, 2.0], tmp_path / "l.png"), tmp_path)


@pytest.mark.parametrize("kind", sorted(SURFACES))
@pytest.mark.parametrize("filled", [False, True])
def test_plot_contour_surfaces(tmp_path, kind, filled):
    out = plot_contour(X, Y, SURFACES[kind](), tmp_path / f"{kind}.png", filled=filled)
    check_png(out, tmp_path)


@pytest.mark.parametrize("levels", ["log", "linear", [0.1, 0.5, 1.0, 2.0]])
def test_plot_contour_level_options(tmp_path, levels):
    check_png(plot_contour(X, Y, bowl(), tmp_path / "c.png", levels=levels, n_levels=12),
              tmp_path)


def test_log_levels_with_nonpositive_values_fall_back(tmp_path):
    check_png(plot_contour(X, Y, saddle(), tmp_path / "c.png", levels="log"), tmp_path)


def test_plot_contour_with_path(tmp_path):
    s = np.linspace(0, 1, 30)[:, None]
    path_xy = np.hstack([-0.9 + 1.2 * s, 1.1 - 1.3 * s])  # starts just outside the grid
    labels = [f"ep {i}" for i in range(30)]
    check_png(plot_contour(X, Y, bowl(), tmp_path / "p.png", filled=True, path_xy=path_xy,
                           path_labels=labels), tmp_path)
    check_png(plot_contour(X, Y, bowl(), tmp_path / "one.png", path_xy=[[0.0, 0.0]]),
              tmp_path)


@pytest.mark.parametrize("kind", sorted(SURFACES))
def test_plot_heatmap_surfaces(tmp_path, kind):
    check_png(plot_heatmap(X, Y, SURFACES[kind](), tmp_path / "h.png"), tmp_path)


def test_plot_heatmap_accuracy_and_nonuniform_grid(tmp_path):
    acc = 1.0 / (1.0 + bowl())
    check_png(plot_heatmap(X, Y, acc, tmp_path / "a.png", name="accuracy", mark="max",
                           vmin=0.0, vmax=1.0), tmp_path)
    xs = np.sign(X) * X**2  # dense near 0
    check_png(plot_heatmap(xs, Y, bowl(), tmp_path / "n.png"), tmp_path)


def test_heatmap_orientation(tmp_path):
    """The cell of the smallest value is drawn where its coordinates say, not mirrored."""
    x = np.linspace(-1.0, 1.0, 5)
    y = np.linspace(-1.0, 1.0, 3)
    z = np.ones((3, 5))
    z[2, 4] = 0.0  # top right: x = 1, y = 1
    out = plot_heatmap(x, y, z, tmp_path / "o.png", cmap="gray", mark=None, scale="linear")
    img = mpimg.imread(out)[..., :3].mean(axis=2)
    dark = img < 0.05
    rows, cols = np.nonzero(dark)
    # the dark cell sits in the upper-right part of the picture (row 0 is the top)
    assert rows.mean() < img.shape[0] / 2 and cols.mean() > img.shape[1] / 2


@pytest.mark.parametrize("kind", sorted(SURFACES))
def test_plot_surface3d_surfaces(tmp_path, kind):
    check_png(plot_surface3d(X, Y, SURFACES[kind](), tmp_path / "s.png"), tmp_path)


@pytest.mark.parametrize("clip", [None, 0.9, "auto"])
def test_plot_surface3d_options(tmp_path, clip):
    check_png(plot_surface3d(X, Y, steep(), tmp_path / "s.png", clip_quantile=clip, log=True),
              tmp_path)


def test_all_nonfinite_surface_does_not_crash(tmp_path):
    z = np.full_like(XX, np.nan)
    for fn in (plot_contour, plot_heatmap, plot_surface3d):
        check_png(fn(X, Y, z, tmp_path / f"{fn.__name__}.png"), tmp_path)


def test_plot_landscape_set_files(tmp_path):
    acc = 1.0 / (1.0 + bowl())
    path_xy = np.column_stack([np.linspace(-0.8, 0.3, 10), np.linspace(0.8, -0.2, 10)])
    out = plot_landscape_set(X, Y, with_nans(), acc, tmp_path / "set", path_xy=path_xy,
                             path_labels=range(10), xlabel="PC1", ylabel="PC2")
    names = [p.name for p in out]
    assert names == ["contour.png", "contourf.png", "heatmap_loss.png", "heatmap_acc.png",
                     "surface3d.png", "path.png"]
    assert sorted(p.name for p in (tmp_path / "set").iterdir()) == sorted(names)
    for p in out:
        check_png(p)


def test_plot_landscape_set_without_acc_or_path(tmp_path):
    out = plot_landscape_set(X, Y, bowl(), None, tmp_path)
    assert [p.name for p in out] == ["contour.png", "contourf.png", "heatmap_loss.png",
                                     "surface3d.png"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in out)


@pytest.mark.parametrize("fn", [plot_contour, plot_heatmap, plot_surface3d])
def test_bad_surface_shapes(tmp_path, fn):
    x = np.linspace(0, 1, 4)
    y = np.linspace(0, 1, 3)
    with pytest.raises(InputError, match=r"\(3, 4\)"):
        fn(x, y, np.zeros((4, 3)), tmp_path / "bad.png")  # transposed
    with pytest.raises(InputError, match="shape"):
        fn(x, y, np.zeros(12), tmp_path / "bad.png")
    with pytest.raises(InputError, match="x must"):
        fn(np.zeros((2, 2)), y, np.zeros((3, 4)), tmp_path / "bad.png")
    with pytest.raises(InputError, match="increasing"):
        fn(x[::-1], y, np.zeros((3, 4)), tmp_path / "bad.png")
    assert not list(tmp_path.iterdir())


def test_bad_line_and_path_inputs(tmp_path):
    t = np.linspace(0, 1, 5)
    with pytest.raises(InputError, match=r"\(5,\)"):
        plot_line(t, np.zeros(4), tmp_path / "x.png")
    with pytest.raises(InputError, match="acc"):
        plot_line(t, np.zeros(5), tmp_path / "x.png", acc=np.zeros(6))
    with pytest.raises(InputError, match="test loss"):
        plot_line(t, np.zeros(5), tmp_path / "x.png", extra={"test loss": np.zeros(3)})
    with pytest.raises(InputError, match=r"\(T, 2\)"):
        plot_contour(X, Y, bowl(), tmp_path / "x.png", path_xy=np.zeros((5, 3)))
    with pytest.raises(InputError, match="path_labels"):
        plot_contour(X, Y, bowl(), tmp_path / "x.png", path_xy=np.zeros((5, 2)),
                     path_labels=[1, 2])
    with pytest.raises(InputError, match="acc"):
        plot_landscape_set(X, Y, bowl(), np.zeros((3, 3)), tmp_path)
    with pytest.raises(InputError, match="levels"):
        plot_contour(X, Y, bowl(), tmp_path / "x.png", levels="cubic")
    with pytest.raises(InputError, match="clip_quantile"):
        plot_surface3d(X, Y, bowl(), tmp_path / "x.png", clip_quantile=1.5)
    assert not list(tmp_path.iterdir())
