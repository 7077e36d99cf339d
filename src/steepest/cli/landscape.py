"""``steepest landscape`` and ``steepest hessian``: slices and curvature at a run's weights."""

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from .common import (
    DpiOpt,
    FormatOpt,
    JsonOpt,
    boundary,
    check_format,
    console,
    emit_json,
    flag,
    save_figures,
)

RunDir = Annotated[Path, typer.Argument(help="a run folder made by steepest train")]
WeightsOpt = Annotated[str, typer.Option(
    "--weights", help="which weights of the run: final (what the run returned), best or last")]
SplitOpt = Annotated[str, typer.Option("--split", help="train, val or test")]


def parse_span(span: str | None, default: tuple[float, float]) -> tuple[float, float]:
    if span is None:
        return default
    try:
        lo, hi = (float(v) for v in span.split(":"))
    except ValueError:
        raise typer.BadParameter(f"--span must look like -1:1, got {span!r}") from None
    return lo, hi


def split_rows(data, split: str, subset: int | None, seed: int):
    """``(X, y)`` of a split, or a fixed random ``subset`` of its rows."""
    import numpy as np

    X, y = data.split(split)
    if subset is not None:
        if subset < 1:
            raise typer.BadParameter(f"--subset must be a positive number of rows, got {subset}")
        if subset < X.shape[0]:
            rows = np.sort(np.random.default_rng(seed).choice(X.shape[0], subset, replace=False))
            X, y = X[rows], y[rows]
    return X, y


def _points_bar(progress):
    holder = {}

    def on_progress(done, total):
        if "task" not in holder:
            holder["task"] = progress.add_task("points", total=total, info="")
        progress.update(holder["task"], completed=done)

    return on_progress


def _start_of(run, interpolate: str):
    """The other end of an interpolation: the run's initial weights ('init'), rebuilt from its
    seed, or the weights of another run with the same model."""
    from ..contract import preserved_buffers
    from ..runs import load_run

    if interpolate == "init":
        with preserved_buffers(run.model):  # init_params resets BatchNorm statistics
            return run.model.init_params(run.config.train.seed), "init"
    other = load_run(Path(interpolate), run.weights)
    if other.model.layout != run.model.layout:
        raise typer.BadParameter(f"the two runs have different models: {run.run_dir} and "
                                 f"{interpolate}")
    return other.theta, interpolate


def _kept_path(run):
    """``(points, steps)``: the run's kept path up to the analysed weights, ending at them (so
    the projected path ends at the origin of the plane)."""
    import numpy as np

    from .._io import load_npz

    path_file = run.run_dir / "path.npz"
    if not path_file.exists():
        raise typer.BadParameter(f"{run.run_dir} kept no path; train with --keep-path-every N "
                                 f"first")
    kept = load_npz(path_file)
    points, steps = kept["path"], np.asarray(kept["steps"])
    if run.step is not None:
        points, steps = points[steps <= run.step], steps[steps <= run.step]
    if not len(points) or not np.array_equal(points[-1], run.theta):
        points = np.concatenate([points, run.theta[None].astype(points.dtype)])
        steps = np.append(steps, -1 if run.step is None else run.step)
    return points, steps.astype(int).tolist()


def _surface(run, kind, X, y, grid, span, norm, include_bias, orthogonal, seed, kw):
    from .. import landscape as slices

    model, theta = run.model, run.theta
    if kind == "plane":
        return slices.plane(model, theta, X, y, grid, parse_span(span, (-1.0, 1.0)), norm,
                            include_bias, orthogonal, seed, **kw)
    if kind == "line":
        return slices.line(model, theta, X, y, grid, parse_span(span, (-1.0, 1.0)), norm,
                           include_bias, seed, **kw)
    if kind == "path":
        return slices.path_plane(model, _kept_path(run)[0], theta, X, y, grid,
                                 None if span is None else parse_span(span, (-1, 1)), **kw)
    start, origin = kw.pop("start")
    surf = slices.interpolation(model, start, theta, X, y, grid,
                                parse_span(span, (-0.5, 1.5)), **kw)
    return surf.with_meta(**{"from": origin})


def output_name(kind, split, grid, weights, norm, seed, subset, include_bias, orthogonal,
                interpolate) -> str:
    """A surface folder's name says what it holds."""
    parts = [kind, split, str(grid)]
    if kind in ("plane", "line"):
        parts += [norm, f"seed{seed}"] + (["bias"] if include_bias else [])
        parts += ["orthogonal"] if orthogonal and kind == "plane" else []
    if kind == "interpolation":
        parts.append("from-init" if interpolate == "init" else f"from-{Path(interpolate).name}")
    if subset is not None:
        parts.append(f"n{subset}")
    if weights != "final":
        parts.append(weights)
    return "-".join(parts)


def claim_output(out: Path, settings: dict, force: bool) -> None:
    """Refuse to write over a surface made with other settings (unless ``force``)."""
    from .._io import atomic_write_json, read_record

    file = out / "settings.json"
    if file.exists() and not force:
        old = read_record(file)
        if old != settings:
            changed = sorted(k for k in settings if old is None or old.get(k) != settings[k])
            raise typer.BadParameter(f"{out} holds a surface made with other settings "
                                     f"({', '.join(changed) or 'unreadable settings.json'}); "
                                     f"choose another --out or pass --force to replace it")
    atomic_write_json(out / "settings.json", settings)


def _check_landscape_options(grid, seed, workers, memory_mb):
    from .._validate import fits_in_memory

    if seed < 0:
        raise typer.BadParameter(f"--seed must be a non-negative integer, got {seed}")
    if workers is not None and workers < 1:
        raise typer.BadParameter(f"--workers must be at least 1 (or left out for one per "
                                 f"core), got {workers}")
    if not memory_mb > 0 or memory_mb == float("inf"):
        raise typer.BadParameter(f"--memory-mb must be a positive number, got {memory_mb:g}")
    if grid >= 2:
        fits_in_memory(64.0 * grid * grid, f"a {grid}x{grid} grid ({grid * grid:,} points)")


def _default_workers(run, workers: int | None, scheduler: str | None) -> int | None:
    """``--workers`` as given; left out for a PyTorch model, one process: PyTorch already runs
    every evaluation on all cores (its intra-op thread pool), and forked workers would each
    start such a pool and compete for the same cores."""
    if workers is None and scheduler is None and run.config.torch_model is not None:
        return 1
    return workers


def _landscape_summary(surf, kind: str, weights: str, out: Path, written) -> dict:
    import numpy as np

    return {"kind": kind, "weights": weights, "points": surf.points,
            "seconds": surf.meta["seconds"], "min_loss": surf.min_loss,
            "max_acc": float(np.nanmax(surf.acc)), "surface_file": str(out / "surface.npz"),
            "mode": surf.meta["mode"], "resumed_points": surf.meta["resumed_points"],
            "plots": [str(p) for p in written]}


def _summary_table(summary: dict, title: str) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    for key, value in summary.items():
        if key != "plots":
            table.add_row(key, f"{value:.4g}" if isinstance(value, float) else str(value))
    return table


@boundary
def landscape(
    run_dir: RunDir,
    line_: Annotated[bool, flag("--line", help="a 1-D slice instead of a plane")] = False,
    interpolate: Annotated[str | None, typer.Option(
        "--interpolate", help="another run: the line from its weights to this run's; 'init': "
        "from this run's initial weights (rebuilt from its seed)")] = None,
    path: Annotated[bool, flag(
        "--path", help="the PCA plane of the run's kept path (train --keep-path-every)")] = False,
    weights: WeightsOpt = "final",
    grid: Annotated[int, typer.Option("--grid", help="points per axis")] = 51,
    span: Annotated[str | None, typer.Option(
        "--span", help="low:high (default -1:1; -0.5:1.5 for --interpolate)")] = None,
    split: SplitOpt = "train",
    subset: Annotated[int | None, typer.Option("--subset", help="rows (fixed seed)")] = None,
    norm: Annotated[str, typer.Option("--norm", help="filter, layer, model or none")] = "filter",
    include_bias: Annotated[bool, flag(
        "--include-bias/--weights-only", help="move biases and BatchNorm parameters too")]
    = False,
    orthogonal: Annotated[bool, flag("--orthogonal", help="orthogonalize d2")] = False,
    seed: Annotated[int, typer.Option("--seed", help="seed of the directions")] = 0,
    workers: Annotated[int | None, typer.Option(
        "--workers", help="local worker processes (default: one per core; one for a PyTorch "
                          "model, whose own threads use every core)")] = None,
    memory_mb: Annotated[float, typer.Option(
        "--memory-mb", help="memory budget of one evaluation chunk")] = 256.0,
    scheduler: Annotated[str | None, typer.Option(
        "--scheduler", help="a Dask scheduler address, tcp://host:port")] = None,
    out: Annotated[Path | None, typer.Option(
        "--out", help="output folder (default: under the run, named after the settings)")]
    = None,
    force: Annotated[bool, flag("--force", help="replace a surface made with other settings")]
    = False,
    plots: Annotated[bool, flag("--plots/--no-plots", help="draw the figures")] = True,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Slice the loss landscape around a run's weights (a 2-D plane by default)."""
    from .._lock import FolderLock
    from ..runs import load_run
    from .train import progress_bar

    check_format(format, dpi)
    if sum([line_, interpolate is not None, path]) > 1:
        raise typer.BadParameter("choose one of --line, --interpolate and --path")
    _check_landscape_options(grid, seed, workers, memory_mb)
    run = load_run(run_dir, weights)
    workers = _default_workers(run, workers, scheduler)
    X, y = split_rows(run.data, split, subset, seed)
    kind = "line" if line_ else "interpolation" if interpolate else "path" if path else "plane"
    settings = dict(kind=kind, split=split, grid=grid, span=span, weights=weights, norm=norm,
                    seed=seed, subset=subset, include_bias=include_bias, orthogonal=orthogonal,
                    interpolate=interpolate)
    out = out or run_dir / "landscape" / output_name(kind, split, grid, weights, norm, seed,
                                                     subset, include_bias, orthogonal,
                                                     interpolate)
    progress = progress_bar(disable=as_json)
    kw = dict(workers=workers, scheduler=scheduler, on_progress=_points_bar(progress),
              partial=out / "surface.partial.npz", memory_mb=memory_mb)
    if kind == "interpolation":
        kw["start"] = _start_of(run, interpolate)
    with FolderLock(out, "surface folder"):
        claim_output(out, settings, force)
        with progress:
            surf = _surface(run, kind, X, y, grid, span, norm, include_bias, orthogonal, seed,
                            kw)
        surf = surf.with_meta(run_dir=str(run_dir), split=split, subset=subset,
                              weights=weights)
        surf.save(out / "surface.npz")
        (out / "surface.partial.npz").unlink(missing_ok=True)
        written = save_figures(surf.figures(), out, format, dpi) if plots else []
    summary = _landscape_summary(surf, kind, weights, out, written)
    if as_json:
        emit_json(summary)
        return
    console.print(_summary_table(summary, f"{kind} of {run_dir} ({weights} weights, {split}, "
                                          f"{X.shape[0]} examples)"))
    console.print(f"plots in {out}")


def _hessian_table(report, title: str, top: int) -> Table:
    table = Table(title=title, show_header=False)
    table.add_column("what")
    table.add_column("value")
    table.add_row("loss / gradient norm", f"{report.loss:.4f} / {report.grad_norm:.3e}")
    table.add_row(f"top {top} eigenvalues", ", ".join(f"{v:.4g}" for v in report.eigenvalues))
    table.add_row("bottom eigenvalue", f"{report.bottom_eigenvalue:.4g}"
                  if report.bottom_eigenvalue is not None else "-")
    cond = report.condition
    table.add_row("condition", f"{cond.condition_number} ({cond.definiteness})")
    if report.trace is not None:
        t = report.trace
        table.add_row("trace (Hutchinson)", f"{t['estimate']:.4g} +- {t['stderr']:.2g}"
                      if isinstance(t, dict) else f"{t.trace:.4g} +- {t.stderr:.2g}")
    table.add_row("Hessian-vector products", f"{report.n_hvp} "
                  f"({'exact' if report.exact else 'finite differences'})")
    largest = report.eigenvalues[0] if report.eigenvalues else None
    table.add_row("largest stable GD step (2 / lambda_max)",
                  f"{2 / largest:.4g}" if largest is not None and largest > 0 else "-")
    return table


class _Counting:
    """An objective passing everything to ``objective``, with every gradient and every
    curvature product ticking a progress bar. It offers exactly the methods ``objective``
    offers (a PyTorch model has ``hvp`` and ``ggn_vp`` but no ``curvature_at``), so that
    :func:`~steepest.contract.bind` chooses the same paths as for the objective itself."""

    def __init__(self, objective, tick):
        self._objective, self._tick = objective, tick
        for name in ("hvp", "ggn_vp"):
            if getattr(objective, name, None) is not None:
                setattr(self, name, self._ticking(getattr(objective, name)))
        if hasattr(objective, "curvature_at"):
            self.curvature_at = self._curvature_at

    def __getattr__(self, name):
        return getattr(self._objective, name)

    def _ticking(self, method):
        def call(*args, **kwargs):
            self._tick()
            return method(*args, **kwargs)

        return call

    def loss_and_grad(self, *args, **kwargs):
        self._tick()
        return self._objective.loss_and_grad(*args, **kwargs)

    def _curvature_at(self, *args, **kwargs):
        return _CountingPoint(self._objective.curvature_at(*args, **kwargs), self._tick)


class _CountingPoint:
    def __init__(self, point, tick):
        self._point, self._tick = point, tick
        self.loss = getattr(point, "loss", None)

    def hvp(self, v):
        self._tick()
        return self._point.hvp(v)

    def ggn_vp(self, v):
        self._tick()
        return self._point.ggn_vp(v)


def _hessian_path(run, fn, seed):
    import numpy as np

    from ..landscape.curvature import curvature_along_path

    points, steps = _kept_path(run)
    return curvature_along_path(fn, points.astype(np.float64), top=1, seed=seed, steps=steps)


@boundary
def hessian(
    run_dir: RunDir,
    top: Annotated[int, typer.Option("--top", help="how many of the largest eigenvalues")] = 5,
    trace: Annotated[bool, flag("--trace", help="Hutchinson trace estimate")] = False,
    samples: Annotated[int, typer.Option("--samples", help="trace probes")] = 50,
    weights: WeightsOpt = "final",
    split: SplitOpt = "train",
    subset: Annotated[int | None, typer.Option("--subset", help="rows (fixed seed)")] = 2000,
    along_path: Annotated[bool, flag(
        "--path", help="also along the run's kept path (up to the analysed weights)")] = False,
    density: Annotated[bool, flag(
        "--density", help="the eigenvalue density (stochastic Lanczos quadrature)")] = False,
    probes: Annotated[int, typer.Option("--probes", help="density: random probes")] = 4,
    lanczos_steps: Annotated[int, typer.Option(
        "--lanczos-steps", help="density: Lanczos steps per probe")] = 80,
    seed: Annotated[int, typer.Option("--seed", help="seed of the probes and the rows")] = 0,
    out: Annotated[Path | None, typer.Option(
        "--out", help="output folder (default: under the run, named after the settings)")]
    = None,
    format: FormatOpt = "png",
    dpi: DpiOpt = 110,
    as_json: JsonOpt = False,
):
    """Hessian eigenvalues (top and bottom), condition number and trace at a run's weights,
    and with --density its eigenvalue density; writes hessian.json and the spectrum (the
    density, the values along the path) as figures."""
    import numpy as np

    from .._io import atomic_write_json
    from .._lock import FolderLock
    from ..contract import bind
    from ..landscape.curvature import curvature_report
    from ..landscape.density import hessian_density
    from ..results import finite_or_none
    from ..runs import load_run
    from .train import progress_bar

    check_format(format, dpi)
    if seed < 0:
        raise typer.BadParameter(f"--seed must be a non-negative integer, got {seed}")
    run = load_run(run_dir, weights)
    X, y = split_rows(run.data, split, subset, seed)
    if density and (probes < 1 or lanczos_steps < 1):
        raise typer.BadParameter(f"--probes and --lanczos-steps must be positive, got "
                                 f"{probes} and {lanczos_steps}")
    out = out or run_dir / "hessian" / "-".join(
        [weights, split] + ([f"n{subset}"] if subset else []) + (["path"] if along_path else []))
    progress = progress_bar(disable=as_json)
    with FolderLock(out, "output folder"), progress:
        task = progress.add_task("gradients and Hessian products", total=None, info="")
        fn = bind(_Counting(run.model, lambda: progress.advance(task)), X, y, train=False)
        report = curvature_report(fn, run.theta.astype(np.float64), top=top, trace=trace,
                                  n_samples=samples, seed=seed)
        path_report = _hessian_path(run, fn, seed) if along_path else None
        spectrum = (hessian_density(fn, run.theta.astype(np.float64), probes, lanczos_steps,
                                    seed) if density else None)
        about = {"run_dir": str(run_dir), "weights": weights, "split": split,
                 "n_examples": int(X.shape[0])}
        result = {**report.to_dict(), **about,
                  "path": None if path_report is None else path_report.to_dict(),
                  "density": _density_summary(spectrum)}
        atomic_write_json(out / "hessian.json", finite_or_none(result))
        figures = {"spectrum": report.plot()}
        if path_report is not None:
            figures["path"] = path_report.plot()
        if spectrum is not None:
            figures["density"] = spectrum.plot()
        written = save_figures(figures, out, format, dpi)
    if as_json:
        emit_json({**result, "plots": [str(p) for p in written]})
        return
    _print_hessian(report, path_report, run_dir, weights, split, X.shape[0], top, out)


def _density_summary(spectrum) -> dict | None:
    """The density's quadrature (nodes, weights, probe of each node: the density follows from
    them and sigma) and its numbers, for hessian.json; None without --density."""
    if spectrum is None:
        return None
    keep = ("nodes", "weights", "probe", "sigma", "trace", "trace_stderr", "n_probes",
            "lanczos_steps", "n_hvp", "exact", "matrix", "seconds")
    full = spectrum.to_dict()
    return {k: full[k] for k in keep}


def _print_hessian(report, path_report, run_dir, weights, split, n, top, out) -> None:
    console.print(_hessian_table(report, f"Hessian at {run_dir} ({weights} weights, {split}, "
                                         f"{n} examples)", top))
    if path_report is not None:
        table = Table(title="top eigenvalue along the kept path")
        for col in ("step", "loss", "lambda_max"):
            table.add_column(col)
        for step, rep in zip(path_report.steps, path_report.reports):
            table.add_row(str(step), f"{rep.loss:.4f}", f"{rep.eigenvalues[0]:.4g}")
        console.print(table)
    console.print(f"hessian.json and figures in {out}")
