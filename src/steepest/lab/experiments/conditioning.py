"""``conditioning``: gradient descent, heavy-ball momentum and Nesterov on ill-conditioned
quadratics, each at its best fixed parameters.

Neuromatch W1D5 section 4 ("Poor conditioning", solution: momentum) and Goh's "Why Momentum
Really Works", which it cites, make the claim: on a quadratic whose curvatures range from ``mu``
to ``L`` (condition number ``kappa = L / mu``), gradient descent with its best step
``2 / (L + mu)`` contracts the error by ``(kappa - 1) / (kappa + 1)`` per iteration, while
Polyak's heavy ball with its best step ``4 / (sqrt(L) + sqrt(mu))^2`` and momentum
``((sqrt(kappa) - 1) / (sqrt(kappa) + 1))^2`` contracts it by ``(sqrt(kappa) - 1) /
(sqrt(kappa) + 1)``: iterations grow like ``kappa`` for one and ``sqrt(kappa)`` for the other,
so momentum's advantage grows like ``sqrt(kappa)``. Nesterov's method is run at the constant
parameters that are best on quadratics (Lessard, Recht and Packard 2016: step
``4 / (3 L + mu)``, momentum ``(sqrt(3 kappa + 1) - 2) / (sqrt(3 kappa + 1) + 2)``, rate
``1 - 2 / sqrt(3 kappa + 1)``), through steepest's CS231n-form Nesterov rule.
"""

from __future__ import annotations

import numpy as np

from ...errors import InputError
from ..base import Verdict, experiment

METHODS = ("gradient descent", "heavy ball", "Nesterov")
# the colours steepest.trajectories gives the three paths, in this order
COLORS = {"gradient descent": "#0072B2", "heavy ball": "#D55E00", "Nesterov": "#009E73"}
MARKERS = {"gradient descent": "o", "heavy ball": "s", "Nesterov": "^"}


def best_parameters(kappa: float, L: float | None = None) -> dict:
    """``{method: (step, momentum, theoretical rate)}`` for curvatures in ``[L / kappa, L]``."""
    L = float(kappa if L is None else L)
    mu = L / kappa
    sk, s3 = np.sqrt(kappa), np.sqrt(3 * kappa + 1)
    return {"gradient descent": (2 / (L + mu), 0.0, (kappa - 1) / (kappa + 1)),
            "heavy ball": (4 / (np.sqrt(L) + np.sqrt(mu)) ** 2, ((sk - 1) / (sk + 1)) ** 2,
                           (sk - 1) / (sk + 1)),
            "Nesterov": (4 / (3 * L + mu), (s3 - 2) / (s3 + 2), 1 - 2 / s3)}


def _optimizer(method: str, step: float, momentum: float):
    from ...optim import SGD, Momentum, Nesterov

    if method == "gradient descent":
        return SGD(step)
    return (Momentum if method == "heavy ball" else Nesterov)(step, momentum)


def _iterate(opt, curvatures, tol, floor, cap):
    """Run ``opt`` on ``f(x) = sum(c_i x_i^2) / 2`` from all ones until the error is below
    ``floor`` times the start (or ``cap`` iterations). Returns the iterations to ``tol``
    (None if never) and the rate measured over the second half of the run."""
    x = np.ones(curvatures.size)
    state = opt.init(x)
    norms = [float(np.linalg.norm(x))]
    hit = None
    for k in range(1, cap + 1):
        opt.step(x, curvatures * x, state)
        norms.append(float(np.linalg.norm(x)))
        if hit is None and norms[-1] <= tol * norms[0]:
            hit = k
        if norms[-1] <= floor * norms[0]:
            break
    last = len(norms) - 1
    half = last // 2
    if norms[last] == 0.0:  # exact convergence (kappa = 1: one step lands on the minimum)
        return hit, 0.0
    return hit, float((norms[last] / norms[half]) ** (1.0 / (last - half)))


def _rows(kappas, dim, tol, floor, cap):
    rows = []
    for kappa in kappas:
        curvatures = np.geomspace(1.0, kappa, dim)  # mu = 1, L = kappa, spread between
        for method, (step, momentum, theory) in best_parameters(kappa).items():
            iters, rate = _iterate(_optimizer(method, step, momentum), curvatures, tol, floor,
                                   cap)
            rows.append({"kappa": kappa, "method": method, "step": float(step),
                         "momentum": float(momentum), "iterations to tol": iters,
                         "measured rate": rate, "theory rate": float(theory),
                         "rate error": _rate_error(rate, theory)})
    return rows


def _rate_error(measured: float, theory: float) -> float:
    """How far the measured rate is from theory, as the relative error of the error's
    log-decrease per iteration (``ln r``); 0 when both converge in one step (rate 0)."""
    if theory == 0.0 or measured == 0.0:
        return 0.0 if measured == theory else float("inf")
    return float(abs(np.log(measured) / np.log(theory) - 1))


def _by(rows, method, key):
    return np.array([r[key] for r in rows if r["method"] == method], dtype=float)


def _slope(x, y) -> float:
    return float(np.polyfit(np.log10(x), np.log10(y), 1)[0])


def _verdicts(rows, kappas, tol):
    k = np.array(kappas, dtype=float)
    gd, hb, nag = (_by(rows, m, "iterations to tol") for m in METHODS)
    ratio, ratio_nag = gd / hb, gd / nag
    above = k > 1
    s_ratio, s_nag = _slope(k, ratio), _slope(k, ratio_nag)
    s_gd, s_hb = _slope(k[above], gd[above]), _slope(k[above], hb[above])
    worst = max(rows, key=lambda r: r["rate error"])
    return [
        Verdict("momentum's advantage grows like sqrt(kappa): the ratio of the iterations gradient "
                "descent and heavy ball need grows with exponent 1/2 in kappa (0.4 to 0.6)",
                "GD / heavy ball iterations: " + ", ".join(
                    f"{r:.1f} at kappa {kk:g} (sqrt {np.sqrt(kk):.1f})" for kk, r in zip(k, ratio))
                + f"; fitted exponent {s_ratio:.2f} (GD / Nesterov: {s_nag:.2f})",
                bool(0.4 <= s_ratio <= 0.6)),
        Verdict("gradient descent needs iterations in proportion to kappa, heavy ball in "
                "proportion to sqrt(kappa) (exponents 1 and 1/2, +- 0.1, over kappa > 1)",
                f"iterations to {tol:g} of the starting error: GD "
                + ", ".join(f"{int(v)}" for v in gd) + "; heavy ball "
                + ", ".join(f"{int(v)}" for v in hb) + f" (kappa {', '.join(f'{v:g}' for v in k)})"
                f"; exponents {s_gd:.2f} and {s_hb:.2f}",
                bool(abs(s_gd - 1) <= 0.1 and abs(s_hb - 0.5) <= 0.1)),
        Verdict("the measured convergence rates match theory, (kappa-1)/(kappa+1) for gradient "
                "descent, (sqrt(kappa)-1)/(sqrt(kappa)+1) for heavy ball and "
                "1-2/sqrt(3 kappa+1) for Nesterov, within 3% (of the log-rate)",
                f"largest deviation {worst['rate error']:.2%} ({worst['method']}, kappa "
                f"{worst['kappa']:g}: measured {worst['measured rate']:.5f}, theory "
                f"{worst['theory rate']:.5f})", bool(worst["rate error"] <= 0.03)),
    ]


def _rates_figure(rows, kappas):
    from ...viz import new_figure

    fig = new_figure((12, 4.6))
    ax1, ax2 = fig.subplots(1, 2)
    k = np.array(kappas, dtype=float)
    grid = np.geomspace(k.min(), k.max(), 100)
    for m in METHODS:
        ax1.loglog(k, _by(rows, m, "iterations to tol"), MARKERS[m] + "-", color=COLORS[m],
                   label=m)
        ax2.loglog(k, 1 - _by(rows, m, "measured rate"), MARKERS[m], color=COLORS[m], ms=8,
                   label=f"{m}: measured")
        theory = [best_parameters(kk)[m][2] for kk in grid]
        ax2.loglog(grid, 1 - np.array(theory), "-", color=COLORS[m], lw=1.2,
                   label=f"{m}: theory")
    top = _by(rows, "gradient descent", "iterations to tol").max()
    ax1.loglog(grid, 2 * top * grid / k.max(), ":", color="gray",
               label="guide: slope 1 (proportional to kappa)")
    hb_top = _by(rows, "heavy ball", "iterations to tol").max()
    ax1.loglog(grid, 0.5 * hb_top * np.sqrt(grid / k.max()), "--", color="gray",
               label="guide: slope 1/2 (sqrt(kappa))")
    ax1.set(xlabel="condition number kappa = L / mu", ylabel="iterations to the tolerance",
            title="iterations each method needs, at its best fixed parameters")
    ax2.set(xlabel="condition number kappa", ylabel="1 - rate (error shrinks by rate per step)",
            title="convergence rates: measured (markers) against theory (lines)")
    for ax in (ax1, ax2):
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, which="both")
    return fig


def _paths_figure(kappa: float, steps: int):
    from ...trajectories import function2d, plot_trajectories, run_trajectory

    fn = function2d("quadratic", kappa=kappa)
    paths = []
    for method, (step, momentum, _) in best_parameters(kappa).items():
        name = method + (f", momentum {momentum:.2f}" if momentum else "")
        t = run_trajectory(fn, _optimizer(method, step, momentum), steps, name=name)
        t.meta["lr"] = step
        paths.append(t)
    return plot_trajectories(fn, paths, title=f"{steps} steps on (x^2 + {kappa:g} y^2) / 2, each "
                                             f"method at its best parameters")


@experiment("conditioning", topic="optimization: poor conditioning and momentum",
            shows="gradient descent, heavy-ball momentum and Nesterov at their best fixed "
                  "parameters on quadratics of condition number 1 to 1000: iterations, "
                  "measured against theoretical rates, and 2-D paths",
            quick_seconds=4, full_seconds=5, kappas=(1, 10, 100, 1000), dim=None, tol=1e-6,
            path_kappa=10)
def conditioning(ctx, kappas, dim, tol, path_kappa):
    """Neuromatch W1D5 section 4 / "Why Momentum Really Works": momentum's advantage over
    gradient descent grows like sqrt(kappa), at the theoretical rates."""
    kappas = tuple(float(k) for k in kappas)
    if min(kappas) < 1 or sum(k > 1 for k in kappas) < 2 or len(set(kappas)) != len(kappas):
        raise InputError(f"kappas must be distinct condition numbers >= 1, at least two of them "
                         f"above 1, got {kappas}")
    if not 0 < float(tol) < 1:
        raise InputError(f"tol must be between 0 and 1, got {tol}")
    dim = int(dim or ctx.pick(10, 100))
    floor = ctx.pick(1e-60, 1e-100)  # the rate is measured far below tol: a long tail
    rows = _rows(sorted(kappas), dim, float(tol), floor, cap=ctx.pick(100_000, 300_000))
    missing = [r for r in rows if r["iterations to tol"] is None]
    if missing:
        raise InputError(f"{missing[0]['method']} did not reach tol {tol:g} at kappa "
                         f"{missing[0]['kappa']:g}; choose a larger tol or smaller kappas")
    text = (f"Each method runs at its best fixed step and momentum on a {dim}-dimensional "
            f"quadratic whose curvatures spread from 1 to kappa. Left: iterations until the "
            f"error is {tol:g} of the start. Gradient descent runs parallel to the dotted guide "
            f"(in proportion to kappa), heavy ball and Nesterov to the dashed one "
            f"(sqrt(kappa)); at kappa = 1 all three land on the minimum in one step. Right: "
            f"the rate at which the error shrinks per step, measured over a long run, on the "
            f"theoretical curves. "
            f"Second figure: 40 steps on the 2-D quadratic with kappa = {path_kappa:g}. With "
            f"its best step, gradient descent zig-zags across the valley while it moves along "
            f"it (both directions shrink by the same factor per step); the momentum methods "
            f"overshoot too, but the velocity carries them along the valley, and on the right "
            f"their error falls along much steeper straight lines (the slope of each line on "
            f"the log scale is twice the log of its rate).")
    return ctx.result(_verdicts(rows, sorted(kappas), float(tol)), rows,
                      {"conditioning": _rates_figure(rows, sorted(kappas)),
                       "paths": _paths_figure(float(path_kappa), 40)}, text)
