"""``numerical-gradient``: what the finite-difference gradient costs and how accurate it can be.

The lecture (CS231n "Optimization" notes, "Computing the gradient numerically"; CS682 lecture 3,
"Evaluating the gradient numerically"; CS231n "Neural Networks 3", gradient checks) says:

- the numerical gradient is "very slow": one loss evaluation per parameter (two for the centred
  formula), so its cost grows linearly with the number of parameters, while the analytic
  gradient costs about one forward and one backward pass;
- it is approximate: prefer the centred difference ``(f(x+h) - f(x-h)) / 2h`` (error O(h^2))
  to the forward one ``(f(x+h) - f(x)) / h`` (error O(h)); in floating point, shrinking h trades
  truncation error for round-off error (about eps |f| / h), so the error against h is a V with
  its bottom near ``h ~ eps^(1/2)`` (forward) and ``eps^(1/3)`` (centred);
- "precision really matters: use double, not single precision";
- kinks (ReLU at 0) make the check unreliable: a difference that straddles a kink is no
  derivative.
"""

from __future__ import annotations

import time

import numpy as np
from matplotlib.ticker import NullFormatter

from ...errors import InputError
from ..base import Verdict, experiment

EPS64 = float(np.finfo(np.float64).eps)
EPS32 = float(np.finfo(np.float32).eps)
THEORY_H = {"forward": EPS64 ** 0.5, "central": EPS64 ** (1 / 3)}
SLOPE = {"forward": 1.0, "central": 2.0}
KINK_SHOW_H = 0.05  # the h of the secant drawn in the kink panel (visible at the plot's scale)
STYLE = {("forward", "float64"): ("#E69F00", "s-"), ("central", "float64"): ("#0072B2", "o-"),
         ("forward", "float32"): ("#CC79A7", "v-"), ("central", "float32"): ("#D55E00", "^-")}


def _digits(n: int, seed: int):
    from ...data import load_dataset

    ds = load_dataset("digits", seed=seed)
    return ds.X_train[:n].astype(np.float64), ds.y_train[:n]


def _best_time(fn, budget: float = 0.1, most: int = 30) -> float:
    """The least CPU time (of this process: other work on the machine does not count) of
    repeated runs of ``fn``, repeated until ``budget`` seconds are spent (at least once, at
    most ``most`` times)."""
    best, spent, runs = np.inf, 0.0, 0
    while runs < 1 or (spent < budget and runs < most):
        t = time.process_time()
        fn()
        t = time.process_time() - t
        best, spent, runs = min(best, t), spent + t, runs + 1
    return best


# ------------------------------------------------------------------------------- cost
def _cost_rows(X, y, widths, seed):
    """Per model size: parameters, loss evaluations and CPU seconds of the centred numerical
    gradient against the analytic one (best of several runs)."""
    import steepest

    from ...gradcheck import numerical_gradient

    rows = []
    for width in widths:
        model = steepest.mlp([X.shape[1], width, 10], activation="tanh")
        theta = model.init_params(seed)
        f = model.bind(X, y)
        calls, out = [0], {}

        def loss(t, f=f, calls=calls):
            calls[0] += 1
            return f.loss(t)

        def numeric(loss=loss, theta=theta, calls=calls, out=out):
            calls[0] = 0
            out["grad"] = numerical_gradient(loss, theta)

        t_num = _best_time(numeric)
        t_an = _best_time(lambda f=f, theta=theta: f.loss_and_grad(theta), budget=0.05)
        analytic = f.loss_and_grad(theta)[1]
        # the error relative to the largest component (coordinates near 0 have no scale)
        worst = float(np.abs(analytic - out["grad"]).max() / np.abs(analytic).max())
        rows.append({"part": "cost", "hidden units": width, "parameters": model.n_params,
                     "loss evaluations": calls[0], "numerical CPU seconds": t_num,
                     "analytic CPU seconds": t_an, "time ratio": t_num / t_an,
                     "max error / max gradient": worst})
    return rows


# ------------------------------------------------------------------------ error vs h
def _error_curves(X, y, hs, seed, k=20):
    """Median relative error, over the ``k`` coordinates of largest gradient, of the forward
    and centred differences in float64 and the centred one in float32, against h. The truth
    is the float64 analytic gradient of a smooth (tanh) network. Also returns the median of
    ``|f| / |f'|`` over those coordinates, the scale of the relative round-off error."""
    import steepest

    from ...gradcheck import numerical_gradient, rel_error

    model = steepest.mlp([X.shape[1], 16, 10], activation="tanh")
    theta = model.init_params(seed)
    f64 = model.bind(X, y)
    f32 = model.bind(X.astype(np.float32), y)
    loss0, grad = f64.loss_and_grad(theta)
    idx = np.argsort(-np.abs(grad))[:k]
    scale = float(np.median(abs(loss0) / np.abs(grad[idx])))

    def loss32(t):  # the whole evaluation in single precision, the perturbation included
        return f32.loss(t.astype(np.float32))

    curves = {key: np.empty(hs.size) for key in STYLE}
    for i, h in enumerate(hs):
        for method, dtype in STYLE:
            fn = f64.loss if dtype == "float64" else loss32
            n = numerical_gradient(fn, theta, h=float(h), method=method, indices=idx)
            curves[(method, dtype)][i] = np.median(rel_error(grad[idx], n[idx]))
    return curves, scale


def _truncation(hs, err, method):
    """On the truncation side (from 100 times the rule-of-thumb h up to 1e-2): the log-log
    slope of the error, and its coefficient ``a`` in ``error = a h^p`` with the theoretical
    exponent p (1 forward, 2 centred)."""
    sel = (hs >= 100 * THEORY_H[method]) & (hs <= 1e-2)
    slope = float(np.polyfit(np.log10(hs[sel]), np.log10(err[sel]), 1)[0])
    return slope, float(np.median(err[sel] / hs[sel] ** SLOPE[method]))


def _balance_h(method, a, scale):
    """Where the truncation error ``a h^p`` meets the round-off error of the difference
    quotient, relative to ``|f'|``: ``2 eps |f| / (|f'| h)`` forward, ``eps |f| / (|f'| h)``
    centred. Unlike the rule of thumb, it keeps the function's scale."""
    if method == "forward":
        return float(np.sqrt(2 * EPS64 * scale / a))
    return float((EPS64 * scale / (2 * a)) ** (1 / 3))


# ------------------------------------------------------------------------------ kink
def _kink_setup(X, y, seed):
    """A ReLU network whose hidden unit 0 has zero weights and bias: its pre-activation is
    exactly 0 on every example, so it sits on its kink."""
    import steepest

    model = steepest.mlp([X.shape[1], 8, 10], activation="relu")
    theta = model.init_params(seed)
    params = model.params(theta)
    params["fc1.W"][:, 0] = 0.0
    params["fc1.b"][0] = 0.0
    return model, theta, model.layout["fc1.b"].slice.start


def _kink(X, y, seed, h=1e-5):
    """The centred difference at the kink against the analytic gradient and the jump of the
    derivative, and what gradcheck says with and without kink detection."""
    from ...gradcheck import gradcheck

    model, theta, j = _kink_setup(X, y, seed)
    f = model.bind(X, y)
    loss0, grad = f.loss_and_grad(theta)

    def at(t):
        moved = theta.copy()
        moved[j] += t
        return f.loss(moved)

    small = 1e-7
    right, left = (at(small) - loss0) / small, (loss0 - at(-small)) / small
    centred = (at(h) - at(-h)) / (2 * h)
    seen = gradcheck(f, theta, mode="full", h=h)
    blind = gradcheck(f, theta, mode="full", h=h, detect_kinks=False)
    bias = {t.name: t for t in seen.tensors}["fc1.b"]
    bias_blind = {t.name: t for t in blind.tensors}["fc1.b"]
    return {"analytic": float(grad[j]), "right": right, "left": left, "jump": right - left,
            "centred": centred, "h": h, "share": float((centred - grad[j]) / (right - left)),
            "ok_with_detection": seen.ok, "crossings": bias.kink_crossings,
            "status_with_detection": bias.status, "ok_without": blind.ok,
            "status_without": bias_blind.status,
            "rel_error_without": bias_blind.max_rel_error,
            "curve": [(float(t), at(t)) for t in np.linspace(-0.1, 0.1, 81)]}


# ---------------------------------------------------------------------------- figure
def _cost_axes(ax, rows, slope):
    p = np.array([r["parameters"] for r in rows])
    ratio = np.array([r["time ratio"] for r in rows])
    ax.loglog(p, ratio, "o-", color="#0072B2", label="CPU time, in analytic gradients")
    ax.loglog(p, [r["loss evaluations"] for r in rows], "s--", color="#E69F00",
              label="loss evaluations (2P)")
    ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set(xlabel="parameters P", ylabel="cost of one numerical gradient (CPU time)",
           title=f"cost grows linearly with P (fitted slope {slope:.2f})")
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3, which="both")


def _error_axes(ax, hs, curves, keys, title, rules):
    """The error curves of ``keys``; ``rules`` draws the float64 rules of thumb, else each
    curve's minimum is marked."""
    for key in keys:
        color, style = STYLE[key]
        ax.loglog(hs, curves[key], style, color=color, ms=3, label=f"{key[0]}, {key[1]}")
        if not rules:
            best = int(np.nanargmin(curves[key]))
            ax.loglog(hs[best], curves[key][best], "*", color=color, ms=14, mec="black",
                      mew=0.6)
    if rules:
        for method in ("forward", "central"):
            ax.axvline(THEORY_H[method], color=STYLE[(method, "float64")][0], ls=":", lw=1.2,
                       label=f"eps^(1/{2 if method == 'forward' else 3}) = "
                             f"{THEORY_H[method]:.1e}")
    ax.set(xlabel="step h", ylabel="relative error (median of 20 coordinates)", title=title)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3, which="both")


def _kink_axes(ax, kink):
    t, v = np.array(kink["curve"]).T
    ax.plot(t, v, color="#0072B2", lw=2, label="loss as the unit's bias moves by t")
    l0 = float(np.interp(0, t, v))
    show = KINK_SHOW_H  # a visible h for the drawing
    lp, lm = float(np.interp(show, t, v)), float(np.interp(-show, t, v))
    ax.plot([-show, show], [lm, lp], "o--", color="#D55E00",
            label=f"centred secant, h = {show:g}: slope {(lp - lm) / (2 * show):.3f}")
    right = np.array([0.0, t[-1]])
    ax.plot(right, l0 + kink["right"] * right, "-.", color="#009E73",
            label=f"right derivative: slope {kink['right']:.3f}")
    ax.plot(t, l0 + kink["analytic"] * t, ":", color="black",
            label=f"analytic gradient (and left derivative): slope {kink['analytic']:.3f}")
    ax.set(xlabel="t (bias of a ReLU unit sitting at its kink, moved by t)", ylabel="loss",
           title=f"at a kink the centred difference gives {kink['share']:.2f} of the jump "
                 f"(h = {kink['h']:g})")
    ax.legend(fontsize=7, loc="upper left")
    ax.grid(alpha=0.3)


def _figure(rows, slope, hs, curves, kink):
    from ...viz import new_figure

    fig = new_figure((12.5, 9))
    axes = fig.subplots(2, 2)
    _cost_axes(axes[0, 0], rows, slope)
    _error_axes(axes[0, 1], hs, curves, [("forward", "float64"), ("central", "float64")],
                "error against h (float64): truncation ~ h or h^2, round-off ~ eps/h", True)
    _error_axes(axes[1, 0], hs, curves, list(STYLE),
                "float32 against float64: the V moves up and right (stars: minima)", False)
    _kink_axes(axes[1, 1], kink)
    return fig


# -------------------------------------------------------------------------- verdicts
def _summary(hs, curves, scale) -> dict:
    out = {}
    for (method, dtype), err in curves.items():
        best = int(np.nanargmin(err))
        row = {"best_h": float(hs[best]), "best_error": float(err[best]), "slope": None,
               "balance_h": None}
        if dtype == "float64":
            row["slope"], a = _truncation(hs, err, method)
            row["balance_h"] = _balance_h(method, a, scale)
        out[(method, dtype)] = row
    return out


def _scaling_verdict(summary):
    """The best h's move from float64 to float32 against eps^(1/2) and eps^(1/3)."""
    moved, expected, words = {}, {}, []
    for method, power in (("forward", 1 / 2), ("central", 1 / 3)):
        h64, h32 = (summary[(method, d)]["best_h"] for d in ("float64", "float32"))
        moved[method], expected[method] = h32 / h64, (EPS32 / EPS64) ** power
        words.append(f"{'centred' if method == 'central' else method} {h64:.1e} -> "
                     f"{h32:.1e} (x{moved[method]:.0f}, theory x{expected[method]:.0f})")
    fw, ce = summary[("forward", "float64")], summary[("central", "float64")]
    measured = ("best h from float64 to float32: " + "; ".join(words)
                + f". In float64 the best h is {fw['best_h'] / THEORY_H['forward']:.2g} x "
                f"eps^(1/2) and {ce['best_h'] / THEORY_H['central']:.2g} x eps^(1/3): the rule "
                f"of thumb leaves out a factor set by the function; balancing the measured "
                f"truncation line with the round-off eps |f| / (|f'| h) puts the bottoms at "
                f"{fw['balance_h']:.1e} and {ce['balance_h']:.1e}")
    held = all(abs(np.log10(moved[m] / expected[m])) <= np.log10(3) for m in moved)
    return Verdict("round-off makes the error a V whose bottom, where truncation and round-off "
                   "balance, scales like h ~ eps^(1/2) (forward) and eps^(1/3) (centred): from "
                   "float64 to float32 (eps 2^29 times larger) the best h grows by about "
                   "2^(29/2) = 23,000 resp. 2^(29/3) = 810 (within a factor 3)",
                   measured, bool(held))


def _verdicts(rows, slope, summary, kink):
    evals_ok = all(r["loss evaluations"] == 2 * r["parameters"] for r in rows)
    fw, ce, c32 = (summary[k] for k in (("forward", "float64"), ("central", "float64"),
                                        ("central", "float32")))
    return [
        Verdict("the numerical gradient costs two loss evaluations per parameter (centred), so "
                "its cost relative to the analytic gradient grows linearly with the number of "
                "parameters (log-log slope 1 +- 0.25)",
                f"evaluations = 2P for every size: {evals_ok}; time ratio from "
                f"{rows[0]['time ratio']:.0f}x (P={rows[0]['parameters']}) to "
                f"{rows[-1]['time ratio']:.0f}x (P={rows[-1]['parameters']}); fitted slope "
                f"{slope:.2f}", bool(evals_ok and abs(slope - 1) <= 0.25)),
        Verdict("on the truncation side the error falls like h for forward differences and h^2 "
                "for centred ones (log-log slopes 1 and 2, +- 0.15)",
                f"slopes: forward {fw['slope']:.2f}, centred {ce['slope']:.2f}",
                bool(abs(fw["slope"] - 1) <= 0.15 and abs(ce["slope"] - 2) <= 0.15)),
        _scaling_verdict(summary),
        Verdict("centred differences get far closer: their best error is at least 100 times "
                "below the forward one's (theory: about eps^(-1/6) = 400 times)",
                f"best error: centred {ce['best_error']:.1e}, forward {fw['best_error']:.1e} "
                f"({fw['best_error'] / ce['best_error']:.0f} times)",
                bool(fw["best_error"] >= 100 * ce["best_error"])),
        Verdict("precision matters: in float32 the best relative error of the numerical gradient "
                "is orders of magnitude (at least 1000x) worse than in float64",
                f"best centred error: float32 {c32['best_error']:.1e} at h={c32['best_h']:.0e} "
                f"(eps32^(1/3) = {EPS32 ** (1 / 3):.0e}), float64 {ce['best_error']:.1e}",
                bool(c32["best_error"] >= 1000 * ce["best_error"])),
        Verdict("at a kink the centred difference is no derivative: it is off by about half the "
                "jump of the derivative (0.4 to 0.6 of it); gradcheck reports the crossing "
                "instead of failing, and fails when kink detection is off",
                f"ReLU unit at its kink: analytic {kink['analytic']:.4f}, left/right derivatives "
                f"{kink['left']:.4f}/{kink['right']:.4f}, centred (h={kink['h']:g}) "
                f"{kink['centred']:.4f}: off by {kink['share']:.3f} of the jump; gradcheck: "
                f"fc1.b {kink['status_with_detection']} with {kink['crossings']} kink "
                f"crossing(s), ok={kink['ok_with_detection']}; without detection "
                f"{kink['status_without']} (relative error {kink['rel_error_without']:.2f})",
                bool(0.4 <= kink["share"] <= 0.6 and kink["crossings"] >= 1
                     and kink["ok_with_detection"] and not kink["ok_without"])),
    ]


@experiment("numerical-gradient", topic="optimization: computing the gradient",
            shows="the numerical gradient's cost against the number of parameters, its error "
                  "against the step h (forward and centred, float64 and float32), and a ReLU "
                  "kink that gradcheck reports",
            quick_seconds=10, full_seconds=20, widths=None, n_rows=100)
def numerical_gradient_lab(ctx, widths, n_rows):
    """CS231n / CS682 lecture 3: the numerical gradient is slow (linear in the parameters) and
    approximate (a V of truncation and round-off; double precision; kinks)."""
    widths = tuple(int(w) for w in (widths or ctx.pick((2, 4, 8, 16, 32),
                                                         (2, 4, 8, 16, 32, 64, 128))))
    if len(widths) < 2 or min(widths) < 1:
        raise InputError(f"widths must list at least two positive hidden sizes, got {widths}")
    X, y = _digits(int(n_rows), ctx.seed)
    rows = _cost_rows(X, y, widths, ctx.seed)
    p = np.log10([r["parameters"] for r in rows])
    slope = float(np.polyfit(p, np.log10([r["time ratio"] for r in rows]), 1)[0])
    hs = 10.0 ** np.arange(-14, -0.99, ctx.pick(0.25, 0.125))
    curves, scale = _error_curves(X, y, hs, ctx.seed)
    summary = _summary(hs, curves, scale)
    kink = _kink(X[:20], y[:20], ctx.seed)
    table = rows + [{"part": f"error vs h: {m}, {d}", "best h": s["best_h"],
                     "best rel error": s["best_error"], "theory h": (
                         THEORY_H[m] if d == "float64" else EPS32 ** (1 / 3)),
                     "truncation slope": s["slope"], "balance h": s["balance_h"]}
                    for (m, d), s in summary.items()]
    table.append({"part": "kink", **{k: v for k, v in kink.items() if k != "curve"}})
    factors = [summary[(m, "float64")]["best_h"] / THEORY_H[m] for m in ("forward", "central")]
    text = ("Top left: the centred numerical gradient of a tanh network on the digits makes two "
            "loss evaluations per parameter, so against one analytic gradient (a forward and a "
            "backward pass) its time grows in proportion to the parameters. Top right: its "
            "error against h on log axes. Right of the bottom, truncation (slope 1 forward, 2 "
            "centred); left of it, round-off, which grows like eps/h; the dotted lines mark "
            "the rules of thumb eps^(1/2) and eps^(1/3), which ignore the function's own scale "
            f"(here the bottoms sit {factors[0]:.2g} and {factors[1]:.2g} times to the right of "
            "them). Bottom left: the same in "
            "float32: eps is 2^29 times larger, so the bottoms move right by about eps^(1/2) "
            "and eps^(1/3) of that and the best centred error is about a million times worse: "
            "check gradients in double precision. Bottom right: "
            "a ReLU unit exactly at its kink; the centred secant averages the flat left side "
            "and the sloped right side, so it reports half the jump whatever h is, and "
            "steepest's gradcheck flags the crossing instead of calling the gradient wrong.")
    data = {"h": hs, "errors": {f"{m}, {d}": e for (m, d), e in curves.items()},
            "kink_curve": kink["curve"]}
    return ctx.result(_verdicts(rows, slope, summary, kink), table,
                      {"numerical_gradient": _figure(rows, slope, hs, curves, kink)}, text, data)
