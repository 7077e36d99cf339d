"""Optimizers on 2-D test functions, to see what the update rules do.

Functions ``f(p) -> (value, gradient)`` of a point ``p = (x, y)``, each with a start point, a
plotting window and its known minima:

- ``quadratic``: ``f = (x^2 + kappa y^2) / 2``, condition number ``kappa`` (default 50): plain
  gradient descent zig-zags across the narrow valley, momentum runs along it.
- ``rosenbrock``: ``(1 - x)^2 + 100 (y - x^2)^2``, minimum (1, 1) at the end of a curved valley.
- ``beale``: ``(1.5 - x + xy)^2 + (2.25 - x + xy^2)^2 + (2.625 - x + xy^3)^2``, minimum (3, 0.5).
- ``booth``: ``(x + 2y - 7)^2 + (2x + y - 5)^2``, minimum (1, 3).
- ``himmelblau``: ``(x^2 + y - 11)^2 + (x + y^2 - 7)^2``, four minima.
- ``saddle``: ``x^2 - y^2`` started almost on the ridge (y = 1e-3): gradient descent creeps away
  from the saddle point, adaptive methods (Adagrad, RMSProp, Adam), which rescale each
  coordinate, leave it quickly.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from . import _validate as checks
from .errors import InputError
from .results import Result


@dataclass(frozen=True)
class Function2D:
    name: str
    start: tuple[float, float]
    window: tuple[float, float, float, float]  # xmin, xmax, ymin, ymax
    minima: tuple[tuple[float, float], ...]
    kappa: float = 1.0

    def __call__(self, p):
        x, y = float(p[0]), float(p[1])
        return _FUNCS[self.name](x, y, self.kappa)

    def value_grid(self, X, Y):
        """Vectorized values on a mesh (for contour plots)."""
        return _FUNCS[self.name](X, Y, self.kappa, grad=False)


def _quadratic(x, y, kappa, grad=True):
    f = 0.5 * (x * x + kappa * y * y)
    return (f, np.array([x, kappa * y])) if grad else f


def _rosenbrock(x, y, kappa, grad=True):
    f = (1 - x) ** 2 + 100 * (y - x * x) ** 2
    if not grad:
        return f
    return f, np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


def _beale(x, y, kappa, grad=True):
    a = 1.5 - x + x * y
    b = 2.25 - x + x * y**2
    c = 2.625 - x + x * y**3
    f = a * a + b * b + c * c
    if not grad:
        return f
    gx = 2 * a * (y - 1) + 2 * b * (y**2 - 1) + 2 * c * (y**3 - 1)
    gy = 2 * a * x + 2 * b * 2 * x * y + 2 * c * 3 * x * y**2
    return f, np.array([gx, gy])


def _booth(x, y, kappa, grad=True):
    a, b = x + 2 * y - 7, 2 * x + y - 5
    f = a * a + b * b
    return (f, np.array([2 * a + 4 * b, 4 * a + 2 * b])) if grad else f


def _himmelblau(x, y, kappa, grad=True):
    a, b = x * x + y - 11, x + y * y - 7
    f = a * a + b * b
    return (f, np.array([4 * x * a + 2 * b, 2 * a + 4 * y * b])) if grad else f


def _saddle(x, y, kappa, grad=True):
    f = x * x - y * y
    return (f, np.array([2 * x, -2 * y])) if grad else f


_FUNCS = {"quadratic": _quadratic, "rosenbrock": _rosenbrock, "beale": _beale,
          "booth": _booth, "himmelblau": _himmelblau, "saddle": _saddle}

HIMMELBLAU_MINIMA = ((3.0, 2.0), (-2.805118, 3.131312), (-3.779310, -3.283186),
                     (3.584428, -1.848126))


def function2d(name: str, kappa: float = 50.0) -> Function2D:
    """The named 2-D test function (``kappa``: the quadratic's condition number)."""
    checks.choice(name, _FUNCS, "test function")
    if name == "quadratic":
        kappa = float(kappa)
        if not kappa >= 1:
            raise InputError(f"the condition number kappa must be >= 1, got {kappa}")
        return Function2D(name, (-8.0, 2.0), (-10, 10, -4, 4), ((0.0, 0.0),), kappa)
    table = {
        "rosenbrock": ((-1.5, 2.0), (-2, 2, -1, 3), ((1.0, 1.0),)),
        "beale": ((1.0, 1.4), (-1, 4.5, -1.5, 2.0), ((3.0, 0.5),)),
        "booth": ((-6.0, -6.0), (-8, 8, -8, 8), ((1.0, 3.0),)),
        "himmelblau": ((0.0, 0.0), (-5, 5, -5, 5), HIMMELBLAU_MINIMA),
        "saddle": ((-1.5, 1e-3), (-2, 2, -2, 2), ()),
    }
    start, window, minima = table[name]
    return Function2D(name, start, window, minima)


@dataclass(frozen=True)
class Trajectory(Result):
    """The points an update rule visited and the function's value at each."""

    optimizer: str
    points: np.ndarray  # (steps + 1, 2)
    values: np.ndarray
    diverged: bool = False
    meta: dict = field(default_factory=dict)


def run_trajectory(fn: Function2D, optimizer, steps: int = 200, name: str = "",
                   start=None) -> Trajectory:
    """Apply ``optimizer`` (init/step protocol) to ``fn`` for ``steps`` steps from its start."""
    steps = checks.positive_int(steps, "steps")
    p = np.array(start if start is not None else fn.start, dtype=np.float64)
    state = optimizer.init(p)
    pts, vals = [p.copy()], [fn(p)[0]]
    diverged = False
    for _ in range(steps):
        f, g = fn(p)
        state = optimizer.step(p, g, state)
        if not np.all(np.isfinite(p)) or np.abs(p).max() > 1e6:
            diverged = True
            break
        pts.append(p.copy())
        vals.append(fn(p)[0])
    return Trajectory(name or type(optimizer).__name__, np.array(pts), np.array(vals), diverged)


_STYLES = [("#0072B2", "o", "-"), ("#D55E00", "s", "--"), ("#009E73", "^", "-."),
           ("#CC79A7", "D", ":"), ("#E69F00", "v", "-"), ("#56B4E9", "P", "--"),
           ("#000000", "X", "-."), ("#F0E442", "*", ":")]


def _label(t: Trajectory) -> str:
    rate = t.meta.get("lr")
    return (t.optimizer + (f" (lr {rate:g})" if rate is not None else "")
            + (" (diverged)" if t.diverged else ""))


def plot_trajectories(fn: Function2D, trajectories: list[Trajectory], *, title=None, ax=None):
    """Paths drawn over the contour plot of ``fn`` (log-spaced levels) and, without ``ax``, a
    second panel of the value against the step; returns the Figure.

    Every rule has its own colour (colour-blind safe), marker and line style, so paths that
    overlap stay visible; the legend gives each rule's rate. Drawn without pyplot and written
    nowhere (save it with :func:`steepest.viz.save_figure`).
    """
    from .viz import new_figure

    if ax is None:
        fig = new_figure((12, 5.2))
        ax, ax_loss = fig.subplots(1, 2, width_ratios=[1.15, 1])
    else:
        fig, ax_loss = ax.figure, None
    x0, x1, y0, y1 = fn.window
    X, Y = np.meshgrid(np.linspace(x0, x1, 300), np.linspace(y0, y1, 300))
    Z = fn.value_grid(X, Y)
    if fn.name == "saddle":
        ax.contour(X, Y, Z, levels=25, cmap="Greys", linewidths=0.7)
    else:
        zmin = max(Z.min(), 0) + 1e-3
        ax.contour(X, Y, Z, levels=np.logspace(np.log10(zmin), np.log10(Z.max()), 25),
                   cmap="Greys", linewidths=0.7)
    for i, t in enumerate(trajectories):
        color, marker, ls = _STYLES[i % len(_STYLES)]
        every = max(1, len(t.points) // 12)
        ax.plot(t.points[:, 0], t.points[:, 1], ls=ls, lw=1.6, color=color, marker=marker,
                ms=5, markevery=every, label=_label(t), zorder=3 + len(trajectories) - i)
        if ax_loss is not None:
            ax_loss.plot(np.arange(len(t.values)), t.values, ls=ls, color=color, marker=marker,
                         ms=4, markevery=every, label=_label(t))
    for m in fn.minima:
        ax.plot(*m, "k*", ms=12, zorder=10)
    ax.plot(*fn.start, "ko", ms=6, zorder=10)
    ax.set(xlim=(x0, x1), ylim=(y0, y1), xlabel="x", ylabel="y")
    label = f"{fn.name}" + (f" (condition number {fn.kappa:g})" if fn.name == "quadratic" else "")
    ax.set_title(title or f"paths on {label} (start: black dot)")
    ax.legend(fontsize=8, loc="best")
    if ax_loss is not None:
        ax_loss.set(xlabel="step", ylabel="f(x, y)", title="value against step")
        if all(np.all(t.values > 0) for t in trajectories):
            ax_loss.set_yscale("log")
        ax_loss.grid(alpha=0.3, which="both")
    return fig


# Rates that make each rule's behaviour visible on each function within ~100 steps.
DEFAULT_LR = {
    # one rate for the three first-order rules, so momentum's gain is visible at equal step
    # size; Nesterov (mu 0.9) is stable only for lr * kappa < 2(1 + mu)/(1 + 2 mu) ~ 1.36
    "quadratic": {"sgd": 0.025, "momentum": 0.025, "nesterov": 0.025, "adagrad": 1.0,
                  "rmsprop": 0.1, "adam": 0.3, "adamw": 0.3},
    "rosenbrock": {"sgd": 1e-3, "momentum": 1e-3, "nesterov": 1e-3, "adagrad": 0.5,
                   "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05},
    "beale": {"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.5,
              "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05},
    "booth": {"sgd": 0.05, "momentum": 0.01, "nesterov": 0.01, "adagrad": 2.0,
              "rmsprop": 0.1, "adam": 0.3, "adamw": 0.3},
    "himmelblau": {"sgd": 0.01, "momentum": 0.005, "nesterov": 0.005, "adagrad": 0.5,
                   "rmsprop": 0.05, "adam": 0.1, "adamw": 0.1},
    "saddle": {"sgd": 0.01, "momentum": 0.01, "nesterov": 0.01, "adagrad": 0.1,
               "rmsprop": 0.01, "adam": 0.05, "adamw": 0.05},
}


@dataclass(frozen=True)
class TrajectoryComparison(Result):
    """Several update rules from the same start on one 2-D function: their paths and, per
    rule, a summary row (final point and value, distance to the nearest minimum, steps until
    within ``tol`` of it, whether it diverged)."""

    function: Function2D
    trajectories: tuple[Trajectory, ...]
    rows: tuple[dict, ...]

    _omit = ("function", "trajectories")

    def to_dict(self) -> dict:
        return {"function": self.function.name, **super().to_dict()}

    def plot(self, ax=None, title=None):
        """The paths over the function's contours."""
        return plot_trajectories(self.function, list(self.trajectories), title=title, ax=ax)


def _summary(fn: Function2D, t: Trajectory, rate: float, tol: float) -> dict:
    final = t.points[-1]
    dist = (min(float(np.hypot(*(final - np.array(m)))) for m in fn.minima)
            if fn.minima else None)
    reach = None
    if fn.minima:
        d = np.min([np.hypot(*(t.points - np.array(m)).T) for m in fn.minima], axis=0)
        hit = np.nonzero(d < tol)[0]
        reach = int(hit[0]) if hit.size else None
    return {"optimizer": t.optimizer, "lr": rate, "final": final.tolist(),
            "value": float(t.values[-1]), "distance": dist, "steps_to_tol": reach,
            "diverged": t.diverged, "escape_y": float(abs(final[1]))}


def compare_on(function: str, names: list[str], steps: int = 100, kappa: float = 50.0,
               lr: float | None = None, tol: float = 1e-3) -> TrajectoryComparison:
    """Run each named rule on ``function`` from its start; rates from :data:`DEFAULT_LR`
    unless ``lr`` sets one for all."""
    from .optim import make_optimizer

    fn = function2d(function, kappa)
    rows, trajs = [], []
    for name in names:
        rate = lr if lr is not None else DEFAULT_LR[function].get(name)
        if rate is None:
            raise InputError(f"unknown optimizer {name!r} for trajectories; allowed: "
                             f"{', '.join(DEFAULT_LR[function])}")
        t = run_trajectory(fn, make_optimizer(name, lr=rate), steps, name=name)
        t.meta["lr"] = rate
        trajs.append(t)
        rows.append(_summary(fn, t, rate, tol))
    return TrajectoryComparison(fn, tuple(trajs), tuple(rows))
