"""Gradient checking: compare an analytic gradient with finite differences, per named tensor.

Everything runs in float64, whatever dtype the model trains in. For a coordinate or direction
with analytic derivative ``a`` and numerical derivative ``n`` the relative error is

    rel = |a - n| / max(|a|, |n|, floor, resolution / tol)

where ``resolution ~ 4 eps_mach |f| / h`` is the rounding noise of the difference quotient: a
derivative smaller than what the finite difference can resolve (the exactly-zero gradient of a
bias that BatchNorm cancels, say) is compared in absolute terms instead of producing a relative
error of pure noise. A real bug still shows: a 1% error is far above the resolution.

Numerical derivatives: centered ``(f(t + h e) - f(t - h e)) / 2h`` (error O(h^2)) or forward
``(f(t + h e) - f(t)) / h`` (error O(h), for teaching). Modes:

- ``full``: every coordinate of every tensor (2 evaluations each: small models only);
- ``sampled``: ``k`` random coordinates per tensor;
- ``fast``: per tensor, one random unit direction ``u`` supported on that tensor, comparing
  ``<grad, u>`` with the directional difference (rank-1 ``u`` for matrices, see
  :func:`probe_direction`). Two evaluations per tensor, so a 270k-parameter
  MLP is checked in milliseconds, and a wrong backward is pinned to the tensor it corrupts.

Kinks: ReLU at 0, the hinge at its margin, ``|w|`` at 0 are not differentiable. When the
objective can report its discrete state (``objective.loss_and_kinks(theta)``: which side of
every kink each unit is on), an evaluation pair whose state differs from the state at ``theta``
crossed a kink; its difference is not a derivative, so the check retries with a smaller step and
a new direction, and reports the crossing instead of calling a correct gradient wrong.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from . import _validate as checks
from .contract import bind, check_theta, require_objective
from .errors import InputError
from .params import Layout
from .results import Result

MODES = ("fast", "sampled", "full")
_EPS_NOISE = 4 * np.finfo(np.float64).eps  # rounding noise of one loss evaluation, relative
METHODS = ("central", "forward")


@dataclass(frozen=True)
class TensorCheck(Result):
    """The check of one named tensor."""

    name: str
    shape: tuple[int, ...]
    n_checked: int
    max_rel_error: float
    max_abs_error: float
    worst_index: tuple[int, ...] | None
    analytic: float
    numeric: float
    kink_crossings: int
    status: str  # "pass", "fail" or "kink" (every probe crossed a kink: inconclusive)

    @property
    def passed(self) -> bool:
        return self.status != "fail"


@dataclass(frozen=True)
class GradCheckResult(Result):
    """What a gradient check found; ``ok`` is False when any tensor failed."""

    ok: bool
    mode: str
    method: str
    h: float
    tol: float
    tensors: tuple[TensorCheck, ...] = ()
    n_evals: int = 0
    seconds: float = 0.0

    @property
    def failed(self) -> list[str]:
        return [t.name for t in self.tensors if t.status == "fail"]

    @property
    def max_rel_error(self) -> float:
        errs = [t.max_rel_error for t in self.tensors if t.n_checked > t.kink_crossings]
        return max(errs, default=0.0)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "failed": self.failed, "max_rel_error": self.max_rel_error}

    def plot(self, ax=None):
        """The worst relative error of every tensor (log scale) against the tolerance."""
        from .viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax, figsize=(7, 0.35 * len(self.tensors) + 1.5))
        names = [t.name for t in self.tensors]
        errors = [max(t.max_rel_error, 1e-18) for t in self.tensors]
        colors = {"pass": "#0072B2", "fail": "#D55E00", "kink": "#E69F00"}
        ax.barh(names, errors, color=[colors[t.status] for t in self.tensors])
        ax.axvline(self.tol, color="black", ls="--", lw=1, label=f"tolerance {self.tol:g}")
        ax.set_xscale("log")
        ax.invert_yaxis()
        ax.set_xlabel("largest relative error (analytic vs numerical)")
        ax.set_title(f"gradient check ({self.mode}, {self.method} differences): "
                     f"{'OK' if self.ok else 'FAILED ' + ', '.join(self.failed)}")
        ax.legend(loc="lower right")
        return fig


def rel_error(a, n, floor: float = 1e-10):
    """``|a - n| / max(|a|, |n|, floor)``, elementwise."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def numerical_gradient(f, theta, h: float = 1e-5, method: str = "central", indices=None):
    """Finite-difference gradient of a scalar function ``f`` at ``theta`` (float64).

    ``indices`` restricts the work to those flat coordinates (the rest of the result is NaN).
    """
    checks.choice(method, METHODS, "difference method")
    t = np.array(theta, dtype=np.float64)
    idx = range(t.size) if indices is None else np.asarray(indices).ravel()
    out = np.full(t.size, np.nan)
    f0 = float(f(t)) if method == "forward" else None
    for i in idx:
        old = t[i]
        t[i] = old + h
        fp = float(f(t))
        if method == "central":
            t[i] = old - h
            out[i] = (fp - float(f(t))) / (2 * h)
        else:
            out[i] = (fp - f0) / h
        t[i] = old
    return out.reshape(np.shape(theta))


def probe_direction(rng: np.random.Generator, shape) -> tuple[np.ndarray, tuple | None]:
    """A random unit direction to probe a tensor of ``shape`` with: ``(u, factors)``.

    Vectors get i.i.d. entries uniform on 65,536 symmetric levels, normalized (symmetric and
    nearly continuous like a Gaussian, about ten times cheaper to draw). A matrix gets the
    rank-1 direction ``u = a b^T`` with independent random unit vectors ``a`` and ``b``
    (``factors = (a, b)``): still a unit direction, and a fixed nonzero error matrix ``E`` has
    ``<E, u> = a^T E b = 0`` with probability 0, with ``E[(a^T E b)^2]`` proportional to
    ``||E||_F^2`` as for a dense direction; but it costs m + n random draws instead of m n, and
    ``<G, u> = a^T G b`` is a matrix-vector product.
    """
    shape = tuple(shape)
    if len(shape) == 2 and min(shape) > 1:
        a = probe_direction(rng, shape[:1])[0]
        b = probe_direction(rng, shape[1:])[0]
        return np.outer(a, b), (a, b)
    n = int(np.prod(shape))
    u = np.frombuffer(rng.bytes(2 * n), dtype=np.int16).astype(np.float64)
    u += 0.5  # levels -32767.5 ... 32767.5: symmetric, never zero
    u /= np.linalg.norm(u)
    return u.reshape(shape), None


def _one_hot(spec, p: int):
    """Coordinate ``p`` of a tensor as a direction: a one-hot vector, and for a matrix the
    factors of the rank-1 ``e_i e_j^T`` (which let an affine layer skip the product)."""
    delta = np.zeros(spec.size)
    delta[p] = 1.0
    factors = None
    if len(spec.shape) == 2:
        i, j = np.unravel_index(p, spec.shape)
        a, b = np.zeros(spec.shape[0]), np.zeros(spec.shape[1])
        a[i] = b[j] = 1.0
        factors = (a, b)
    return delta, factors


def _same_state(s0, s1) -> bool:
    if s0 is None or s1 is None:
        return True
    return all(np.array_equal(a, b) for a, b in zip(s0, s1))


@dataclass(frozen=True)
class _Options:
    mode: str
    method: str
    h: float
    tol: float
    k: int
    seed: int
    detect_kinks: bool
    retries: int
    floor: float


def _options(mode, method, h, tol, k, seed, detect_kinks, retries, floor) -> _Options:
    checks.choice(mode, MODES, "gradcheck mode")
    checks.choice(method, METHODS, "difference method")
    h = float(h)
    if not (np.isfinite(h) and h > 0):
        raise InputError(f"step h must be a positive finite number, got {h!r}")
    if tol is None:
        tol = 1e-3 if method == "forward" else (1e-5 if mode == "fast" else 1e-6)
    tol = float(tol)
    if not (np.isfinite(tol) and tol > 0):
        raise InputError(f"tol must be a positive finite number, got {tol!r}")
    return _Options(mode, method, h, tol, checks.positive_int(k, "k"), int(seed),
                    bool(detect_kinks), checks.positive_int(retries, "retries"), float(floor))


class _Checker:
    """The state of one check: the base pass at theta and the finite differences around it."""

    def __init__(self, fn, theta: np.ndarray, opts: _Options):
        self.fn, self.theta, self.opts = fn, theta, opts
        self.evals = 0
        self.want_kinks = opts.detect_kinks and fn.has_kinks
        # An objective that can resume a pass mid-network (steepest's MLP): one recorded base
        # pass, then every perturbation of a tensor starts at that tensor's layer.
        self.resumable = opts.method == "central" and fn.resumable
        if self.resumable:
            self.record = fn.record(theta)
            f0, grad = self.record.loss, self.record.grad
        else:
            f0, grad = fn.loss_and_grad(theta.copy())
        self.evals += 1
        self.grad = np.asarray(grad, dtype=np.float64)
        if self.grad.shape != theta.shape:
            raise InputError(f"the gradient has shape {self.grad.shape}, theta has {theta.shape}")
        self.f0 = float(f0)
        self.state0 = (self._value(theta)[1] if self.want_kinks and not self.resumable
                       else None)
        self.rng = np.random.default_rng(opts.seed)

    def _value(self, t):
        """The loss at t and, when kinks are watched, the kink state (else None)."""
        self.evals += 1
        if self.want_kinks:
            loss, state = self.fn.loss_and_kinks(t)
            return float(loss), state
        return float(self.fn.loss(t)), None

    def quotient(self, fp, fm, step):
        """The difference quotient and its rounding resolution."""
        if self.opts.method == "central":
            return (fp - fm) / (2 * step), _EPS_NOISE * (abs(fp) + abs(fm)) / (2 * step)
        return (fp - self.f0) / step, _EPS_NOISE * (abs(fp) + abs(self.f0)) / step

    def perturbed(self, sl, delta, step):
        """Loss (and crossing) at theta +- step*delta on slice sl, restoring theta after."""
        theta = self.theta
        saved = theta[sl].copy()
        theta[sl] += step * delta
        fp, sp = self._value(theta)
        theta[sl] = saved
        fm, sm = self.f0, self.state0
        if self.opts.method == "central":
            theta[sl] -= step * delta
            fm, sm = self._value(theta)
            theta[sl] = saved
        return fp, fm, not (_same_state(self.state0, sp) and _same_state(self.state0, sm))

    def probe(self, spec, p, step):
        """``(analytic, f(+), f(-), crossed)`` for coordinate ``p`` (or, with ``p`` None, a
        random direction) of the tensor ``spec``."""
        g = self.grad[spec.slice]
        if p is None:
            u, factors = probe_direction(self.rng, spec.shape)
            if factors is None:
                analytic = float(g @ u.ravel())
            else:
                analytic = float(factors[0] @ g.reshape(spec.shape) @ factors[1])
            delta, where = u.ravel(), spec.slice
        else:
            analytic = float(g[p])
            delta, factors = _one_hot(spec, int(p))
            where = slice(spec.start + int(p), spec.start + int(p) + 1)
        if self.resumable:
            fp, fm, crossed = self.fn.directional(self.record, self.theta, spec.name, delta,
                                                  step, factors)
            self.evals += 2
            return analytic, fp, fm, crossed and self.opts.detect_kinks
        return (analytic, *self.perturbed(where, delta if p is None else 1.0, step))

    def probes(self, spec) -> list:
        if self.opts.mode == "fast":
            return [None]
        if self.opts.mode == "sampled":
            return list(self.rng.choice(spec.size, size=min(self.opts.k, spec.size),
                                        replace=False))
        return list(range(spec.size))

    def _one(self, spec, p):
        """``(analytic, numeric, resolution, crossed)`` of one probe, retrying a kink crossing
        with smaller steps."""
        step = self.opts.h
        for _attempt in range(self.opts.retries):
            analytic, fp, fm, crossed = self.probe(spec, p, step)
            numeric, resolution = self.quotient(fp, fm, step)
            if not crossed:
                break
            step /= 10
        return analytic, numeric, resolution, crossed

    def _batched(self, spec, probes):
        """All coordinate probes of a tensor at once through the objective's batched probes
        (None when it has none); crossed coordinates are retried one at a time."""
        if not (self.resumable and probes and probes[0] is not None
                and self.fn.has_coordinate_probes):
            return None
        coords = np.asarray(probes, dtype=np.int64)
        out = self.fn.coordinate_losses(self.record, self.theta, spec.name, coords, self.opts.h)
        if out is None:
            return None
        fp, fm, crossed = out
        self.evals += 2 * coords.size
        numeric = (fp - fm) / (2 * self.opts.h)
        resolution = _EPS_NOISE * (np.abs(fp) + np.abs(fm)) / (2 * self.opts.h)
        rows = [(float(a), float(n), float(r), False) for a, n, r in
                zip(self.grad[spec.slice][coords], numeric, resolution)]
        for k in np.flatnonzero(crossed & self.opts.detect_kinks):
            rows[k] = self._one(spec, coords[k])
        return rows

    def check_tensor(self, spec) -> TensorCheck:
        opts = self.opts
        probes = self.probes(spec)
        rows = self._batched(spec, probes) or [self._one(spec, p) for p in probes]
        worst = (-1.0, 0.0, None, 0.0, 0.0)  # rel, abs, index, analytic, numeric
        crossings = 0
        for p, (analytic, numeric, resolution, crossed) in zip(probes, rows):
            if crossed:
                crossings += 1
                continue
            r = float(rel_error(analytic, numeric, max(opts.floor, resolution / opts.tol)))
            if r > worst[0]:
                index = None if p is None else tuple(
                    int(i) for i in np.unravel_index(p, spec.shape))
                worst = (r, abs(analytic - numeric), index, analytic, numeric)
        if crossings == len(probes):
            status = "kink"
        else:
            status = "pass" if worst[0] <= opts.tol else "fail"
        return TensorCheck(name=spec.name, shape=spec.shape, n_checked=len(probes),
                           max_rel_error=max(worst[0], 0.0), max_abs_error=worst[1],
                           worst_index=worst[2], analytic=worst[3], numeric=worst[4],
                           kink_crossings=crossings, status=status)


def gradcheck(
    objective,
    theta,
    layout: Layout | None = None,
    mode: str = "fast",
    h: float = 1e-5,
    tol: float | None = None,
    k: int = 10,
    seed: int = 0,
    method: str = "central",
    detect_kinks: bool = True,
    retries: int = 3,
    floor: float = 1e-10,
) -> GradCheckResult:
    """Check ``objective``'s analytic gradient at ``theta`` tensor by tensor.

    ``objective`` is a function of theta: a callable ``theta -> (loss, grad)`` or a bound
    objective (``steepest.bind(model, X, y)``, ``model.bind(X, y)``); its fast paths (resumed
    passes, kink states) are used where it offers them. ``layout`` names the tensors (the
    objective's layout, or one tensor "theta", if omitted). ``tol`` defaults to 1e-6 for
    centered differences in ``full``/``sampled`` mode, 1e-5 in ``fast`` mode (a sum over many
    coordinates carries more rounding), and 1e-3 for forward differences.
    """
    opts = _options(mode, method, h, tol, k, seed, detect_kinks, retries, floor)
    start = time.perf_counter()
    fn = bind(objective)
    # a private float64 copy we may perturb
    theta = np.array(check_theta(theta), dtype=np.float64)
    layout = layout or fn.layout or Layout([("theta", (theta.size,), "weight")])
    layout.check(theta)
    checker = _Checker(fn, theta, opts)
    tensors = tuple(checker.check_tensor(spec) for spec in layout)
    return GradCheckResult(ok=all(t.passed for t in tensors), mode=opts.mode,
                           method=opts.method, h=opts.h, tol=opts.tol, tensors=tensors,
                           n_evals=checker.evals, seconds=time.perf_counter() - start)


def check_model(
    model, X, y, theta=None, mode: str = "fast", train: bool = True, seed: int = 0, **kwargs
) -> GradCheckResult:
    """Gradient-check ``model`` on ``(X, y)`` at ``theta`` (a fresh init by default), in float64.

    In training mode BatchNorm uses batch statistics and dropout a fixed mask (seeded), so the
    objective is a deterministic function of theta; running statistics are left untouched.
    """
    require_objective(model, "check_model")
    if theta is None:
        theta = model.init_params(seed)
    fn = bind(model, X, y, train=train, seed=seed)
    return gradcheck(fn, theta, layout=model.layout, mode=mode, seed=seed, **kwargs)
