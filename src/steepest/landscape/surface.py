"""Surfaces: the loss and accuracy over a plane, a line or an interpolation, computed in
chunks of points that can run in worker processes or on a Dask cluster, and resume.

A plane of G_x x G_y points is flattened row-major: point ``j * G_x + i`` is
``theta + x[i] d1 + y[j] d2``, so ``loss.reshape(G_y, G_x)[j, i]`` is the loss at
``(x[i], y[j])``. A line has ``d2 = None``. An interpolation between two solutions is the line
``theta_a + t (theta_b - theta_a)``.

Resuming: while it runs, the computation keeps ``<surface file>.partial.npz`` up to date
(atomically, at most once a second, and on any exit) with the finished chunks and a
fingerprint of the job; started again with the same job it computes only the missing points.
The finished surface file is written atomically and the partial file removed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._io import atomic_savez, die_with_parent, load_npz
from ..errors import InputError
from ..results import Result
from .evaluate import SurfaceEvaluator


@dataclass(frozen=True)
class Surface(Result):
    """A computed slice of the loss landscape."""

    kind: str  # "plane", "line", "interpolation" or "path"
    x: np.ndarray
    y: np.ndarray | None
    loss: np.ndarray  # (G_y, G_x) for planes, (G_x,) for lines
    acc: np.ndarray
    theta: np.ndarray
    d1: np.ndarray
    d2: np.ndarray | None = None
    path_xy: np.ndarray | None = None  # an optimization path projected on (d1, d2)
    explained: np.ndarray | None = None  # variance explained by d1, d2 (PCA planes)
    meta: dict = field(default_factory=dict)

    _omit = ("theta", "d1", "d2")

    @property
    def points(self) -> int:
        return int(self.loss.size)

    def with_meta(self, **more) -> Surface:
        """A copy with ``more`` added to ``meta``."""
        return replace(self, meta={**self.meta, **more})

    def _axis_labels(self) -> tuple[str, str]:
        if self.kind == "path" and self.explained is not None:
            ev = self.explained
            return (f"PC1 ({ev[0]:.1%} of the path's variance)",
                    f"PC2 ({ev[1]:.1%} of the path's variance)")
        norm = self.meta.get("norm", "")
        return f"direction 1 ({norm}-normalized)", f"direction 2 ({norm}-normalized)"

    def _title(self) -> str:
        where = self.meta.get("run_dir")
        split = self.meta.get("split")
        what = {"plane": "loss landscape", "path": "loss landscape on the path's PCA plane",
                "line": "loss along a direction",
                "interpolation": "linear interpolation between two solutions"}[self.kind]
        norm = self.meta.get("norm")
        details = [d for d in (where, f"{split} split" if split else None,
                               f"{norm}-normalized" if norm and self.kind != "path" else None)
                   if d]
        return what + (f" ({', '.join(details)})" if details else "")

    def figures(self) -> dict:
        """Every picture of the surface, by file stem: a line plot for 1-D slices; contour,
        filled contour, heatmaps, 3-D surface (and the path) for planes."""
        return {"line": self.plot()} if self.y is None else self._plane_figures()

    def _plane_figures(self) -> dict:
        from ..viz.landscape import plot_landscape_set

        xlabel, ylabel = self._axis_labels()
        return plot_landscape_set(self.x, self.y, self.loss, self.acc, path_xy=self.path_xy,
                                  xlabel=xlabel, ylabel=ylabel, title=self._title())

    def plot(self, ax=None):
        """The main picture: the loss curve of a 1-D slice, the filled contour of a plane."""
        from ..viz.landscape import plot_contour, plot_line

        if self.y is None:
            interp = self.kind == "interpolation"
            return plot_line(self.x, self.loss, acc=self.acc, ax=ax, title=self._title(),
                             xlabel="t" if interp else "alpha (direction 1)",
                             mark_endpoints=interp)
        xlabel, ylabel = self._axis_labels()
        return plot_contour(self.x, self.y, self.loss, filled=True, path_xy=self.path_xy,
                            xlabel=xlabel, ylabel=ylabel, title=self._title(), ax=ax)

    @property
    def min_loss(self) -> float:
        finite = self.loss[np.isfinite(self.loss)]
        return float(finite.min()) if finite.size else float("nan")

    def save(self, path: str | Path) -> Path:
        arrays = {"kind": self.kind, "x": self.x, "loss": self.loss, "acc": self.acc,
                  "theta": self.theta, "d1": self.d1, "meta": json.dumps(self.meta)}
        for name in ("y", "d2", "path_xy", "explained"):
            value = getattr(self, name)
            if value is not None:
                arrays[name] = value
        return atomic_savez(path, **arrays)

    @classmethod
    def load(cls, path: str | Path) -> Surface:
        z = load_npz(path)
        try:
            return cls(kind=str(z["kind"]), x=z["x"], y=z.get("y"), loss=z["loss"],
                       acc=z["acc"], theta=z["theta"], d1=z["d1"], d2=z.get("d2"),
                       path_xy=z.get("path_xy"), explained=z.get("explained"),
                       meta=json.loads(str(z["meta"])))
        except KeyError as e:
            raise InputError(f"{path} is not a steepest surface file (missing {e})") from None


def grid_coords(x, y=None) -> np.ndarray:
    """Row-major coordinates of a plane (``(G_x*G_y, 2)``) or of a line (``(G_x, 1)``)."""
    x = np.asarray(x, dtype=np.float64)
    if y is None:
        return x[:, None]
    X, Y = np.meshgrid(x, np.asarray(y, dtype=np.float64))
    return np.stack([X.ravel(), Y.ravel()], axis=1)


def axis(grid: int, span: tuple[float, float]) -> np.ndarray:
    """``grid`` evenly spaced coordinates from span[0] to span[1], validated."""
    if isinstance(grid, bool) or not isinstance(grid, (int, np.integer)) or grid < 2:
        raise InputError(f"the grid needs at least 2 points per axis, got {grid!r}")
    lo, hi = float(span[0]), float(span[1])
    if not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi:
        raise InputError(f"the span must be an increasing pair low:high, got {lo:g}:{hi:g}")
    return np.linspace(lo, hi, int(grid))


def _fingerprint(theta, dirs, coords, X, y, model) -> str:
    h = hashlib.sha256()
    for a in (theta, *dirs, coords, X, y):
        a = np.ascontiguousarray(a)
        h.update(str(a.shape).encode())
        h.update(a.tobytes())
    h.update(json.dumps(model.layout.to_dict()).encode())
    return h.hexdigest()[:32]


# ----------------------------------------------------------------------------- workers
_WORKER: dict = {}


def _init_worker(payload, parent_pid=None):
    # One BLAS thread per worker: the processes are the parallelism, and spinning BLAS
    # threads of several processes on the same cores slow everything down badly.
    from threadpoolctl import threadpool_limits

    die_with_parent(parent_pid)

    _WORKER["limits"] = threadpool_limits(limits=1)
    if payload is not None:  # spawned: build it here; forked: inherited from the parent
        _WORKER["evaluator"] = SurfaceEvaluator(**payload)


def _run_chunk(args):
    indices, coords = args
    loss, acc = _WORKER["evaluator"].evaluate(coords)
    return indices, loss, acc


def _dask_chunk(args, payload, token):
    """Runs on a Dask worker; the evaluator is built once per worker and job."""
    ev = _WORKER.get(token)
    if ev is None:
        _WORKER.clear()
        ev = _WORKER[token] = SurfaceEvaluator(**payload)
    indices, coords = args
    loss, acc = ev.evaluate(coords)
    return indices, loss, acc


def compute(objective, theta, X, y, d1, d2=None, coords=None, *, workers: int | None = 1,
            scheduler: str | None = None, partial: str | Path | None = None,
            task_points: int = 32, on_progress=None, dtype=np.float32,
            memory_mb: float = 256.0) -> tuple[np.ndarray, np.ndarray, dict]:
    """Loss and accuracy at every row of ``coords``; returns ``(loss, acc, info)``.

    ``workers``: local worker processes (None: one per core; 1: in this process).
    ``scheduler``: the address of a Dask distributed scheduler (``tcp://host:port``); its
    workers do the work instead. ``partial``: a file for resuming (see module docstring).
    """
    coords = np.asarray(coords, dtype=np.float64)
    n = coords.shape[0]
    dirs = [d1] if d2 is None else [d1, d2]
    payload = dict(objective=objective, theta=np.asarray(theta, dtype=np.float64), X=X, y=y, d1=d1,
                   d2=d2, dtype=dtype, memory_mb=memory_mb)
    loss = np.full(n, np.nan)
    acc = np.full(n, np.nan)
    done = np.zeros(n, dtype=bool)
    key = _fingerprint(payload["theta"], dirs, coords, X, y, objective)
    resumed = 0
    if partial is not None and Path(partial).exists():
        z = load_npz(partial)
        if str(z.get("key", "")) == key:
            loss, acc, done = z["loss"].copy(), z["acc"].copy(), z["done"].copy()
            resumed = int(done.sum())
    todo = np.nonzero(~done)[0]
    tasks = [(idx, coords[idx]) for idx in np.array_split(todo, max(1, -(-todo.size //
                                                                       task_points)))
             if idx.size]
    start = time.perf_counter()
    last_save = [time.perf_counter()]

    def save():
        if partial is not None and done.sum() > resumed:
            atomic_savez(partial, key=key, loss=loss, acc=acc, done=done)
        last_save[0] = time.perf_counter()

    def record(indices, l_, a_):
        loss[indices], acc[indices], done[indices] = l_, a_, True
        if time.perf_counter() - last_save[0] > 1.0:  # at most one write a second
            save()
        if on_progress is not None:
            on_progress(int(done.sum()), n)

    if on_progress is not None:
        on_progress(int(done.sum()), n)
    try:
        if scheduler is not None:
            mode = "dask"
            _compute_dask(scheduler, payload, tasks, record)
        elif workers is None or workers > 1:
            mode = "processes"
            _compute_local(payload, tasks, record, workers or os.cpu_count() or 1)
        else:
            mode = "in-process"
            ev = SurfaceEvaluator(**payload)
            for idx, c in tasks:
                record(idx, *ev.evaluate(c))
    finally:
        save()  # whatever happened, keep what is done (a SIGKILL loses at most a second)
    info = {"mode": mode, "seconds": time.perf_counter() - start, "resumed_points": resumed,
            "points": n}
    return loss, acc, info


def _compute_local(payload, tasks, record, workers):
    """Worker processes: forked on Linux (they start in milliseconds and inherit the data
    without pickling it), spawned elsewhere (a script using them then needs the usual
    ``if __name__ == "__main__":`` guard)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    method = "fork" if "fork" in mp.get_all_start_methods() and os.name == "posix" else "spawn"
    if method == "fork":  # build the shared products once, with all cores, before forking
        _WORKER["evaluator"] = SurfaceEvaluator(**payload)
    try:
        with ProcessPoolExecutor(max_workers=min(workers, max(1, len(tasks))),
                                 mp_context=mp.get_context(method), initializer=_init_worker,
                                 initargs=(None if method == "fork" else payload,
                                           os.getpid())) as pool:
            futures = [pool.submit(_run_chunk, t) for t in tasks]
            for f in as_completed(futures):
                record(*f.result())
    finally:
        _WORKER.pop("evaluator", None)


def _compute_dask(address: str, payload, tasks, record):
    try:
        from distributed import Client, as_completed
    except ImportError:
        raise InputError("--scheduler needs Dask: pip install 'steepest[distributed]'") from None
    try:
        client = Client(address, timeout=10)
    except OSError as e:
        raise InputError(f"cannot reach the Dask scheduler at {address}: {e}") from None
    try:
        token = uuid.uuid4().hex
        [shared] = client.scatter([payload], broadcast=True)
        futures = client.map(_dask_chunk, tasks, payload=shared, token=token, pure=False)
        for f in as_completed(futures):
            record(*f.result())
    finally:
        client.close()
