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
  :func:`random_direction`). Two evaluations per tensor, so a 270k-parameter
  MLP is checked in milliseconds, and a wrong backward is pinned to the tensor it corrupts.

Kinks: ReLU at 0, the hinge at its margin, ``|w|`` at 0 are not differentiable. When the
objective can report its discrete state (``objective.loss_and_kinks(theta)``: which side of
every kink each unit is on), an evaluation pair whose state differs from the state at ``theta``
crossed a kink; its difference is not a derivative, so the check retries with a smaller step and
a new direction, and reports the crossing instead of calling a correct gradient wrong.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field

import numpy as np

from . import _validate as V
from .errors import InputError
from .params import Layout

MODES = ("fast", "sampled", "full")
_EPS_NOISE = 4 * np.finfo(np.float64).eps  # rounding noise of one loss evaluation, relative
METHODS = ("central", "forward")


@dataclass
class TensorCheck:
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


@dataclass
class GradCheckResult:
    """What a gradient check found; ``ok`` is False when any tensor failed."""

    ok: bool
    mode: str
    method: str
    h: float
    tol: float
    tensors: list[TensorCheck] = field(default_factory=list)
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
        d = asdict(self)
        d["failed"] = self.failed
        d["max_rel_error"] = self.max_rel_error
        for t in d["tensors"]:
            t["shape"] = list(t["shape"])
            t["worst_index"] = None if t["worst_index"] is None else list(t["worst_index"])
        return d


def rel_error(a, n, floor: float = 1e-10):
    """``|a - n| / max(|a|, |n|, floor)``, elementwise."""
    a = np.asarray(a, dtype=np.float64)
    n = np.asarray(n, dtype=np.float64)
    return np.abs(a - n) / np.maximum(np.maximum(np.abs(a), np.abs(n)), floor)


def numerical_gradient(f, theta, h: float = 1e-5, method: str = "central", indices=None):
    """Finite-difference gradient of a scalar function ``f`` at ``theta`` (float64).

    ``indices`` restricts the work to those flat coordinates (the rest of the result is NaN).
    """
    V.choice(method, METHODS, "difference method")
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


class _Probe:
    """Uniform access to an objective: its gradient, its value, and (optionally) kink states."""

    def __init__(self, objective):
        self.evals = 0
        if callable(objective) and not hasattr(objective, "loss_and_grad"):
            self.loss_and_grad = objective
            self._loss = lambda t: objective(t)[0]
        else:
            self.loss_and_grad = objective.loss_and_grad
            self._loss = getattr(objective, "loss", lambda t: objective.loss_and_grad(t)[0])
        # loss_and_kinks(t) -> (loss, state) in one forward pass, where the objective offers it.
        self._loss_and_kinks = getattr(objective, "loss_and_kinks", None)
        self.has_kinks = self._loss_and_kinks is not None

    def value(self, t, want_kinks):
        """The loss at t and, when asked, the kink state (else None)."""
        self.evals += 1
        if want_kinks:
            loss, state = self._loss_and_kinks(t)
            return float(loss), state
        return float(self._loss(t)), None


def random_direction(rng: np.random.Generator, shape) -> tuple[np.ndarray, tuple | None]:
    """A random unit direction for a tensor of ``shape``: ``(u, factors)``.

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
        a = random_direction(rng, shape[:1])[0]
        b = random_direction(rng, shape[1:])[0]
        return np.outer(a, b), (a, b)
    n = int(np.prod(shape))
    u = np.frombuffer(rng.bytes(2 * n), dtype=np.int16).astype(np.float64)
    u += 0.5  # levels -32767.5 ... 32767.5: symmetric, never zero
    u /= np.linalg.norm(u)
    return u.reshape(shape), None


def _coordinate(objective, record, theta, spec, p: int, step: float):
    """The resumed pass for coordinate ``p`` of a tensor: ``delta`` is a one-hot tensor (for a
    matrix the rank-1 ``e_i e_j^T``, whose factors let an affine layer skip the product)."""
    delta = np.zeros(spec.size)
    delta[p] = 1.0
    factors = None
    if len(spec.shape) == 2:
        i, j = np.unravel_index(p, spec.shape)
        a, b = np.zeros(spec.shape[0]), np.zeros(spec.shape[1])
        a[i] = b[j] = 1.0
        factors = (a, b)
    return objective.directional(record, theta, spec.name, delta, step, factors)


def _same_state(s0, s1) -> bool:
    if s0 is None or s1 is None:
        return True
    return all(np.array_equal(a, b) for a, b in zip(s0, s1))


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

    ``objective`` is a callable ``theta -> (loss, grad)`` or an object with ``loss_and_grad``
    (and optionally ``loss`` and ``loss_and_kinks``), such as ``model.objective(X, y)``.
    ``layout`` names the tensors (one tensor "theta" if omitted). ``tol`` defaults to 1e-6 for
    centered differences in ``full``/``sampled`` mode, 1e-5 in ``fast`` mode (a sum over many
    coordinates carries more rounding), and 1e-3 for forward differences.
    """
    V.choice(mode, MODES, "gradcheck mode")
    V.choice(method, METHODS, "difference method")
    k = V.positive_int(k, "k")
    retries = V.positive_int(retries, "retries")
    h = float(h)
    if not (np.isfinite(h) and h > 0):
        raise InputError(f"step h must be a positive finite number, got {h!r}")
    if tol is None:
        tol = 1e-3 if method == "forward" else (1e-5 if mode == "fast" else 1e-6)
    start = time.perf_counter()
    theta = np.array(theta, dtype=np.float64)  # a private float64 copy we may perturb
    if theta.ndim != 1:
        raise InputError(f"theta must be a 1-D parameter vector, got shape {theta.shape}")
    if layout is None:
        layout = Layout([("theta", (theta.size,), "weight")])
    layout.check(theta)
    probe = _Probe(objective)
    want_kinks = detect_kinks and probe.has_kinks
    # An objective that can resume a pass mid-network (steepest models): one recorded base
    # pass, then every perturbation of a tensor starts at that tensor's layer.
    resumable = method == "central" and hasattr(objective, "directional")
    if resumable:
        record = objective.prepare(theta)
        f0, grad = record.loss, record.grad
        probe.evals += 1
    else:
        f0, grad = probe.loss_and_grad(theta.copy())
    grad = np.asarray(grad, dtype=np.float64)
    if grad.shape != theta.shape:
        raise InputError(f"the gradient has shape {grad.shape}, theta has {theta.shape}")
    state0 = probe.value(theta, want_kinks)[1] if want_kinks and not resumable else None
    f0 = float(f0)
    rng = np.random.default_rng(seed)

    def quotient(fp, fm, step):
        """The difference quotient and its rounding resolution."""
        if method == "central":
            return (fp - fm) / (2 * step), _EPS_NOISE * (abs(fp) + abs(fm)) / (2 * step)
        return (fp - f0) / step, _EPS_NOISE * (abs(fp) + abs(f0)) / step

    def perturbed(sl, delta, step):
        """Loss (and crossing) at theta +- step*delta on slice sl, restoring theta after."""
        saved = theta[sl].copy()
        theta[sl] += step * delta
        fp, sp = probe.value(theta, want_kinks)
        theta[sl] = saved
        fm, sm = f0, state0
        if method == "central":
            theta[sl] -= step * delta
            fm, sm = probe.value(theta, want_kinks)
            theta[sl] = saved
        return fp, fm, not (_same_state(state0, sp) and _same_state(state0, sm))

    tensors = []
    for spec in layout:
        sl = spec.slice
        g = grad[sl]
        if mode == "fast":
            probes = [None]
        elif mode == "sampled":
            probes = list(rng.choice(spec.size, size=min(k, spec.size), replace=False))
        else:
            probes = list(range(spec.size))
        worst = (-1.0, 0.0, None, 0.0, 0.0)  # rel, abs, index, analytic, numeric
        crossings = 0
        for p in probes:
            step = h
            for _attempt in range(retries):
                if p is None:  # a random direction on the whole tensor
                    u, factors = random_direction(rng, spec.shape)
                    if factors is None:
                        analytic = float(g @ u.ravel())
                    else:
                        analytic = float(factors[0] @ g.reshape(spec.shape) @ factors[1])
                    u = u.ravel()
                    if resumable:
                        fp, fm, crossed = objective.directional(record, theta, spec.name, u,
                                                                step, factors)
                        probe.evals += 2
                        crossed = crossed and detect_kinks
                    else:
                        fp, fm, crossed = perturbed(sl, u, step)
                else:  # one coordinate
                    analytic = float(g[p])
                    if resumable:
                        fp, fm, crossed = _coordinate(objective, record, theta, spec, int(p),
                                                      step)
                        probe.evals += 2
                        crossed = crossed and detect_kinks
                    else:
                        one = slice(spec.start + int(p), spec.start + int(p) + 1)
                        fp, fm, crossed = perturbed(one, 1.0, step)
                numeric, res = quotient(fp, fm, step)
                if not crossed:
                    break
                step /= 10
            if crossed:
                crossings += 1
                continue
            r = float(rel_error(analytic, numeric, max(floor, res / tol)))
            if r > worst[0]:
                index = None
                if p is not None:
                    index = tuple(int(i) for i in np.unravel_index(p, spec.shape))
                worst = (r, abs(analytic - numeric), index, analytic, numeric)
        n_checked = len(probes)
        if crossings == n_checked:
            status = "kink"
        else:
            status = "pass" if worst[0] <= tol else "fail"
        tensors.append(
            TensorCheck(
                name=spec.name,
                shape=spec.shape,
                n_checked=n_checked,
                max_rel_error=max(worst[0], 0.0),
                max_abs_error=worst[1],
                worst_index=worst[2],
                analytic=worst[3],
                numeric=worst[4],
                kink_crossings=crossings,
                status=status,
            )
        )
    return GradCheckResult(
        ok=all(t.passed for t in tensors),
        mode=mode,
        method=method,
        h=h,
        tol=tol,
        tensors=tensors,
        n_evals=probe.evals + 1,
        seconds=time.perf_counter() - start,
    )


def check_model(
    model, X, y, theta=None, mode: str = "fast", train: bool = True, seed: int = 0, **kwargs
) -> GradCheckResult:
    """Gradient-check ``model`` on ``(X, y)`` at ``theta`` (a fresh init by default), in float64.

    In training mode BatchNorm uses batch statistics and dropout a fixed mask (seeded), so the
    objective is a deterministic function of theta; running statistics are left untouched.
    """
    if theta is None:
        theta = model.init_params(seed)
    obj = model.objective(X, y, train=train, seed=seed)
    return gradcheck(obj, theta, layout=model.layout, mode=mode, seed=seed, **kwargs)
