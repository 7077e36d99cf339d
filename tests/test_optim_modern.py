"""The newer rules, wrappers, clipping and stateful schedules: definitions, protocol, state.

Parity with torch.optim, lr_scheduler and the schedulefree package is in test_optim_parity.py;
here each rule is checked against its paper's definition where no library has it (Lion, SAM,
ASAM, Lookahead, Shampoo), and every rule against the protocol: ``update`` == ``step`` bit for
bit, a savez round-trip mid-run that continues bit-identically (stateful schedules included),
config round-trips, clipping, and hyperparameter validation.
"""

import json

import numpy as np
import pytest

from steepest.errors import InputError
from steepest.optim import (
    OPTIMIZERS,
    SAM,
    SGD,
    Adadelta,
    Adafactor,
    Adam,
    Adamax,
    Lion,
    Lookahead,
    Momentum,
    Muon,
    NAdam,
    RAdam,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
    Shampoo,
    cosine,
    cosine_restarts,
    make_optimizer,
    newton_schulz,
    one_cycle,
    optimizer_from_config,
    polynomial,
    reduce_on_plateau,
    schedule_from_dict,
    warmup,
)
from steepest.params import Layout

LAYOUT = Layout([("W1", (5, 4), "weight"), ("b1", (4,), "bias"), ("W2", (4, 3), "weight"),
                 ("b2", (3,), "bias")])
N = LAYOUT.size
MASK = LAYOUT.mask(("weight",))
STEPS = 12


def _quadratic(seed=0):
    rng = np.random.default_rng(seed)
    M = rng.standard_normal((N, N))
    A = M @ M.T / N + 0.1 * np.eye(N)
    b = rng.standard_normal(N)
    noise = 0.1 * rng.standard_normal((STEPS, N))
    return A, b, noise, rng.standard_normal(N)


A, B, NOISE, THETA0 = _quadratic()
METRICS = 1.0 + 0.01 * np.arange(STEPS)  # never improves (min mode): a plateau


def grad_at(theta, t):
    return (A @ theta.astype(np.float64) - B + NOISE[t]).astype(theta.dtype)


def plateau(v0):
    return reduce_on_plateau(v0, factor=0.5, patience=0)


FACTORIES = {
    "nadam": lambda: NAdam(warmup(cosine(0.02, 20), 3), weight_decay=0.01, decay_mask=MASK),
    "nadam decoupled": lambda: NAdam(plateau(0.02), weight_decay=0.1,
                                     decoupled_weight_decay=True),
    "radam": lambda: RAdam(plateau(0.02), beta2=0.9, weight_decay=0.01),
    "adamax": lambda: Adamax(one_cycle(0.05, 20), weight_decay=0.01),
    "adadelta": lambda: Adadelta(cosine_restarts(1.0, 5, 2), weight_decay=0.01,
                                 decay_mask=MASK),
    "adafactor": lambda: Adafactor(plateau(0.05), weight_decay=0.01, layout=LAYOUT),
    "lion": lambda: Lion(warmup(3e-3, 4), weight_decay=0.1, decay_mask=MASK),
    "muon": lambda: Muon(plateau(0.02), adam_lr=cosine(0.01, 20), layout=LAYOUT),
    "muon excluded": lambda: Muon(0.02, nesterov=False, exclude=["W2"], layout=LAYOUT),
    "sgd_schedule_free": lambda: ScheduleFreeSGD(warmup(0.1, 4), weight_decay=0.01, r=0.5),
    "adamw_schedule_free": lambda: ScheduleFreeAdamW(warmup(plateau(0.02), 4), weight_decay=0.01),
    "sam": lambda: SAM(lr=plateau(0.05), rho=0.05),
    "asam adam": lambda: SAM(base="adam", lr=0.01, rho=0.5, adaptive=True),
    "lookahead": lambda: Lookahead(base=Adam(plateau(0.02)), k=3, alpha=0.5),
    "lookahead momentum": lambda: Lookahead(lr=0.05, base="momentum", mu=0.8, k=4),
    "shampoo": lambda: Shampoo(plateau(0.05), update_every=3, layout=LAYOUT),
    "shampoo capped": lambda: Shampoo(0.05, beta2=0.9, max_dim=4, layout=LAYOUT),
}


def run(opt, theta, state, steps, observe=True):
    """Steps ``steps`` on the noisy quadratic; a metric is observed every second step."""
    for t in steps:
        g = grad_at(theta, t)
        if opt.needs_closure:
            state = opt.step(theta, g, state, lambda p, t=t: (0.0, grad_at(p, t)))
        else:
            state = opt.step(theta, g, state)
        if observe and t % 2 == 1:
            opt.observe(METRICS[t])
    return state


def test_every_registered_rule_is_covered():
    covered = {FACTORIES[k]().name for k in FACTORIES}
    new = set(list(OPTIMIZERS)[7:])
    assert new <= covered


@pytest.mark.parametrize("case", sorted(FACTORIES))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_and_step_are_bit_identical(case, dtype):
    opt = FACTORIES[case]()
    a, b = THETA0.astype(dtype), THETA0.astype(dtype)
    sa, sb = opt.init(a), opt.init(b)
    for t in range(STEPS):
        g = grad_at(a, t)
        extra = (lambda p, t=t: (0.0, grad_at(p, t)),) if opt.needs_closure else ()
        before = {k: v.copy() for k, v in sa.items()}
        delta, sa_new = opt.update(a, g, sa, *extra)
        for k in sa:
            np.testing.assert_array_equal(sa[k], before[k])
        sa = sa_new
        a += delta
        sb = opt.step(b, g, sb, *extra)
        assert delta.dtype == dtype
    np.testing.assert_array_equal(a, b)
    assert set(sa) == set(sb)
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert np.abs(a - THETA0.astype(dtype)).max() > 1e-3


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_savez_round_trip_mid_run_continues_bit_identically(tmp_path, case):
    opt = FACTORIES[case]()
    full = THETA0.astype(np.float32)
    run(opt, full, opt.init(full), range(STEPS))
    lr_full = opt.hyperparameters(STEPS).get("lr")

    opt = FACTORIES[case]()
    part = THETA0.astype(np.float32)
    state = run(opt, part, opt.init(part), range(5))
    path = tmp_path / "ckpt.npz"
    np.savez(path, theta=part, **opt.state_to_arrays(state))
    cfg = json.loads(json.dumps(opt.config()))
    opt2 = optimizer_from_config(cfg)  # fresh schedules: their state comes from the file
    assert opt2.config() == cfg
    with np.load(path, allow_pickle=False) as f:
        theta = f["theta"].copy()
        state = opt2.state_from_arrays({k: f[k] for k in f.files if k != "theta"}, theta)
    run(opt2, theta, state, range(5, STEPS))
    np.testing.assert_array_equal(theta, full)
    assert opt2.hyperparameters(STEPS).get("lr") == lr_full


def test_stateful_schedules_are_saved_under_sched_names():
    opt = FACTORIES["radam"]()
    theta = THETA0.copy()
    state = run(opt, theta, opt.init(theta), range(6))
    arrays = opt.state_to_arrays(state)
    assert {k for k in arrays if k.startswith("sched.")} == {
        "sched.lr.value", "sched.lr.best", "sched.lr.num_bad_epochs",
        "sched.lr.cooldown_counter", "sched.lr.last_epoch"}
    assert float(arrays["sched.lr.value"]) == 0.02 * 0.5**2  # 3 observations, 2 without gain
    assert int(arrays["sched.lr.last_epoch"]) == 3
    nested = FACTORIES["adamw_schedule_free"]()
    assert "sched.lr.inner.best" in nested.state_to_arrays(nested.init(theta))
    wrapped = FACTORIES["lookahead"]()
    assert "base.sched.lr.value" in wrapped.state_to_arrays(wrapped.init(theta))
    # a checkpoint must carry the schedule state, and only where a schedule has one
    del arrays["sched.lr.best"]
    with pytest.raises(InputError, match="missing: sched.lr.best"):
        RAdam(plateau(0.02)).state_from_arrays(arrays)
    with pytest.raises(InputError, match="unexpected: sched.lr.best"):
        RAdam(0.02).state_from_arrays(opt.state_to_arrays(state))


def test_observe_reaches_every_stateful_schedule_once_and_init_resets_them():
    shared = reduce_on_plateau(1.0, mode="max", factor=0.5, patience=0)
    opt = SAM(base=NAdam(shared, weight_decay=shared), rho=0.1)
    theta = np.zeros(3)
    opt.init(theta)
    for metric in (1.0, 0.5, 0.4):  # two epochs without improvement
        opt.observe(metric)
    assert opt.hyperparameters(0)["lr"] == 0.25  # halved twice, not four times
    assert opt.hyperparameters(0)["weight_decay"] == 0.25
    opt.init(theta)
    assert opt.hyperparameters(0)["lr"] == 1.0
    SGD(0.1).observe(1.0)  # nothing to observe: a no-op


@pytest.mark.parametrize("case", sorted(FACTORIES))
def test_clipping_is_applied_to_the_gradient_the_rule_sees(case):
    value, norm = 0.3, 0.5
    clipped = FACTORIES[case]().replace(clip_value=value, clip_norm=norm)
    plain = FACTORIES[case]()

    def clip(g):
        g = np.clip(g, -value, value)
        return g * min(1.0, norm / (np.linalg.norm(g) + 1e-6))

    a, b = THETA0.copy(), THETA0.copy()
    sa, sb = clipped.init(a), plain.init(b)
    for t in range(STEPS):
        ga, gb = grad_at(a, t), clip(grad_at(b, t))
        keep = ga.copy()
        if plain.needs_closure:
            sa = clipped.step(a, ga, sa, lambda p, t=t: (0.0, grad_at(p, t)))
            sb = plain.step(b, gb, sb, lambda p, t=t: (0.0, clip(grad_at(p, t))))
        else:
            sa, sb = clipped.step(a, ga, sa), plain.step(b, gb, sb)
        np.testing.assert_array_equal(ga, keep)  # the caller's gradient is untouched
    np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12)
    assert clipped.config()["clip_norm"] == norm and "clip_norm" not in plain.config()


def test_clipping_by_hand():
    theta = np.zeros(2)
    opt = SGD(1.0, clip_norm=1.0)
    opt.step(theta, np.array([3.0, 4.0]), opt.init(theta))
    np.testing.assert_allclose(theta, [-0.6, -0.8], rtol=1e-6)
    theta = np.zeros(3)
    opt = SGD(1.0, clip_value=2.0)
    opt.step(theta, np.array([3.0, -1.0, -5.0]), opt.init(theta))
    np.testing.assert_array_equal(theta, [-2.0, 1.0, 2.0])
    theta = np.zeros(2)  # value first ([2, 2], norm 2.83), then the norm
    opt = SGD(1.0, clip_value=2.0, clip_norm=1.0)
    opt.step(theta, np.array([3.0, 5.0]), opt.init(theta))
    np.testing.assert_allclose(theta, -np.sqrt([0.5, 0.5]), rtol=1e-6)
    theta = np.zeros(2)  # below the threshold: untouched
    opt = SGD(1.0, clip_norm=10.0)
    opt.step(theta, np.array([3.0, 4.0]), opt.init(theta))
    np.testing.assert_array_equal(theta, [-3.0, -4.0])
    assert SGD(0.1, clip_norm=cosine(1.0, 10)).hyperparameters(5)["clip_norm"] == 0.5


# ------------------------------------------------------------------ definitions
def test_lion_matches_the_paper():
    lr, b1, b2, wd = 1e-3, 0.9, 0.99, 0.2
    opt = Lion(lr, b1, b2, weight_decay=wd)
    theta, m, ref = THETA0.copy(), np.zeros(N), THETA0.copy()
    state = opt.init(theta)
    for t in range(STEPS):
        g = grad_at(ref, t)
        state = opt.step(theta, g, state)
        c = b1 * m + (1 - b1) * g
        ref = ref - lr * (np.sign(c) + wd * ref)
        m = b2 * m + (1 - b2) * g
        np.testing.assert_allclose(theta, ref, rtol=1e-14, atol=1e-15)
    np.testing.assert_allclose(state["m"], m, rtol=1e-14)


@pytest.mark.parametrize("adaptive", [False, True])
def test_sam_is_the_gradient_at_the_perturbed_point(adaptive):
    """Foret et al.: theta -= lr grad f(theta + rho g / ||g||); ASAM: e = rho T^2 g / ||T g||
    with T = |theta| + eta."""
    lr, rho, eta = 0.05, 0.2, 0.01
    f_grad = lambda p: A @ p - B  # noqa: E731 - a fixed quadratic
    opt = SAM(lr=lr, rho=rho, adaptive=adaptive, eta=eta)
    theta, ref = THETA0.copy(), THETA0.copy()
    state = opt.init(theta)
    seen = []
    for _ in range(STEPS):
        def closure(p):
            seen.append(p.copy())
            return 0.5 * p @ A @ p - B @ p, f_grad(p)
        state = opt.step(theta, f_grad(theta), state, closure)
        g = f_grad(ref)
        T = np.abs(ref) + eta if adaptive else np.ones(N)
        e = rho * T * T * g / np.linalg.norm(T * g)
        np.testing.assert_allclose(seen[-1], ref + e, rtol=1e-13, atol=1e-14)
        ref = ref - lr * f_grad(ref + e)
        np.testing.assert_allclose(theta, ref, rtol=1e-13, atol=1e-14)
    assert int(state["step"]) == int(state["base.step"]) == STEPS


def test_sam_feeds_its_inner_rule_the_perturbed_gradients():
    opt = SAM(base=Adam(0.01), rho=0.1)
    inner = Adam(0.01)
    theta, ref = THETA0.copy(), THETA0.copy()
    state, ref_state = opt.init(theta), inner.init(ref)
    for t in range(STEPS):
        g = grad_at(theta, t)
        point = theta + 0.1 * g / np.linalg.norm(g)
        state = opt.step(theta, g, state, lambda p, t=t: (0.0, grad_at(p, t)))
        ref_state = inner.step(ref, grad_at(point, t), ref_state)
        np.testing.assert_allclose(theta, ref, rtol=1e-12, atol=1e-13)
    for k in ("m", "v"):
        np.testing.assert_allclose(state[f"base.{k}"], ref_state[k], rtol=1e-12)


def test_lookahead_matches_its_definition():
    """Zhang et al.: k inner steps on the fast weights, then slow += alpha (fast - slow) and the
    fast weights restart from slow; the inner momentum is kept."""
    k, alpha, lr, mu = 3, 0.4, 0.05, 0.8
    opt = Lookahead(base=Momentum(lr, mu), k=k, alpha=alpha)
    theta = THETA0.copy()
    state = opt.init(theta)
    fast, slow, v = THETA0.copy(), THETA0.copy(), np.zeros(N)
    for t in range(STEPS):
        g = grad_at(fast, t)
        state = opt.step(theta, g, state)
        v = mu * v - lr * g
        fast = fast + v
        if (t + 1) % k == 0:
            slow = slow + alpha * (fast - slow)
            fast = slow.copy()
            np.testing.assert_allclose(state["slow"], slow, rtol=1e-14)
        np.testing.assert_allclose(theta, fast, rtol=1e-13, atol=1e-14)
    np.testing.assert_allclose(state["base.v"], v, rtol=1e-13, atol=1e-15)


def _inverse_root(M, p):
    scipy_linalg = pytest.importorskip("scipy.linalg")
    return np.real(scipy_linalg.fractional_matrix_power(M, -p))


@pytest.mark.parametrize("every", [1, 3])
def test_shampoo_matches_the_paper(every):
    """Gupta et al. 2018, Algorithm 1: L += G G^T, R += G^T G, W -= lr L^-1/4 G R^-1/4 with
    L_0 = R_0 = eps I; roots refreshed every ``every`` steps; vectors: diagonal Adagrad."""
    lr, eps = 0.05, 1e-3
    opt = Shampoo(lr, eps=eps, update_every=every, layout=LAYOUT)
    theta, ref = THETA0.copy(), THETA0.copy()
    state = opt.init(theta)
    stats = {s.name: [eps * np.eye(d) for d in s.shape] for s in LAYOUT if len(s.shape) == 2}
    roots, diag = {}, {s.name: np.zeros(s.size) for s in LAYOUT if len(s.shape) == 1}
    for t in range(STEPS):
        g = grad_at(ref, t)
        state = opt.step(theta, g, state)
        for s in LAYOUT:
            G = g[s.slice].reshape(s.shape)
            if s.name in diag:
                diag[s.name] += G * G
                ref[s.slice] -= lr * G / np.sqrt(diag[s.name] + eps)
                continue
            L, R = stats[s.name]
            L += G @ G.T
            R += G.T @ G
            if t % every == 0:
                roots[s.name] = (_inverse_root(L, 0.25), _inverse_root(R, 0.25))
            PL, PR = roots[s.name]
            ref[s.slice] -= lr * (PL @ G @ PR).reshape(-1)
        np.testing.assert_allclose(theta, ref, rtol=1e-10, atol=1e-12)


def test_shampoo_skips_long_sides_and_falls_back_to_the_diagonal():
    layout = Layout([("W", (3, 8), "weight"), ("V", (9, 9), "weight")])
    opt = Shampoo(0.1, eps=1e-3, update_every=1, max_dim=5, layout=layout)
    rng = np.random.default_rng(1)
    theta, g = rng.standard_normal(layout.size), rng.standard_normal(layout.size)
    before = theta.copy()
    state = opt.step(theta, g, opt.init(theta))
    assert state["stats"].size == 9 and state["diag"].size == 81  # W's 3x3 L only; V diagonal
    G = g[:24].reshape(3, 8)
    want = -0.1 * _inverse_root(G @ G.T + 1e-3 * np.eye(3), 0.5) @ G  # order-1: exponent 1/2
    np.testing.assert_allclose(theta[:24] - before[:24], want.reshape(-1), rtol=1e-9)
    np.testing.assert_allclose(theta[24:] - before[24:], -0.1 * g[24:] / np.sqrt(g[24:] ** 2
                                                                               + 1e-3))


def test_newton_schulz_is_roughly_orthogonal():
    rng = np.random.default_rng(2)
    for shape in [(20, 8), (8, 20)]:
        G = rng.standard_normal(shape)
        X = newton_schulz(G)
        assert X.shape == shape
        s = np.linalg.svd(X, compute_uv=False)
        assert 0.6 < s.min() and s.max() < 1.25
        U, _, Vt = np.linalg.svd(G, full_matrices=False)
        assert np.sum(X * (U @ Vt)) > 0.9 * min(shape)  # aligned with U V^T


def test_eval_params():
    theta = THETA0.copy()
    opt = Adam(0.01)
    assert opt.eval_params(theta, opt.init(theta)) is theta
    for opt in (ScheduleFreeSGD(0.1), Lookahead(base=ScheduleFreeAdamW(0.01), k=2)):
        state = run(opt, theta, opt.init(theta), range(4))
        x = opt.eval_params(theta, state)
        key = "x" if "x" in state else "base.x"
        np.testing.assert_array_equal(x, state[key])
        assert x is not state[key] and np.abs(x - theta).max() > 1e-4
    with pytest.raises(InputError, match="not a 'sgd_schedule_free' state"):
        ScheduleFreeSGD(0.1).eval_params(theta, Adam().init(theta))


# ------------------------------------------------------------------ construction and errors
def test_registry_builds_every_rule_by_name_with_wrappers_and_layouts():
    sam = make_optimizer("sam", base="adam", lr=1e-3, beta2=0.99, rho=0.1)
    assert isinstance(sam.base, Adam) and sam.base.hyperparameters()["beta2"] == 0.99
    cfg = json.loads(json.dumps(sam.config()))
    assert cfg["base"] == Adam(1e-3, beta2=0.99).config() and cfg["rho"] == 0.1
    assert optimizer_from_config(cfg).config() == cfg
    la = make_optimizer("lookahead", base={"name": "sgd", "lr": 0.1}, k=3)
    assert la.k == 3 and isinstance(la.base, SGD)
    assert SAM.needs_closure and not Lookahead.needs_closure and not Adam.needs_closure
    assert {n for n, c in OPTIMIZERS.items() if c.needs_layout} == {"adafactor", "muon",
                                                                    "shampoo"}
    faster = la.replace(lr=0.5, k=4)  # lr is the inner rule's
    assert faster.k == 4 and faster.base.hyperparameters()["lr"] == 0.5 and la.k == 3
    with pytest.raises(InputError, match="unknown hyperparameter.*mu"):
        la.replace(mu=0.9)
    muon = make_optimizer("muon", lr=0.02, layout=LAYOUT.to_dict())
    assert muon.layout == LAYOUT
    assert sam.hyperparameters()["lr"] == 1e-3  # the inner rate, for logging


@pytest.mark.parametrize("name", ["adafactor", "muon", "shampoo"])
def test_layout_rules_need_a_layout(name):
    with pytest.raises(InputError, match=f"optimizer '{name}' needs layout="):
        make_optimizer(name, lr=0.1)
    opt = make_optimizer(name, lr=0.1, layout=LAYOUT)
    with pytest.raises(InputError, match=f"layout describes {N} parameters but theta has 5"):
        opt.init(np.zeros(5))


def test_sam_errors():
    opt = SAM(lr=0.1)
    theta = np.zeros(3)
    state = opt.init(theta)
    with pytest.raises(InputError, match="needs closure"):
        opt.step(theta, np.ones(3), state)
    with pytest.raises(InputError, match=r"must return \(loss, grad\)"):
        opt.step(theta, np.ones(3), state, lambda p: p)
    with pytest.raises(InputError, match="grad has shape"):
        opt.step(theta, np.ones(3), state, lambda p: (0.0, np.ones(4)))
    with pytest.raises(InputError, match="cannot wrap 'sam'"):
        Lookahead(base=SAM(lr=0.1))
    with pytest.raises(InputError, match="go with a base given by name"):
        SAM(base=SGD(0.1), lr=0.1)
    with pytest.raises(InputError, match="needs hyperparameter.*lr"):
        SAM()


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: NAdam(beta1=1.0), r"beta1 must be in \[0, 1\), got 1.0"),
        (lambda: NAdam(momentum_decay=-1), "momentum_decay.*-1"),
        (lambda: NAdam(decoupled_weight_decay="yes"), "decoupled_weight_decay.*'yes'"),
        (lambda: RAdam(eps=-1e-8), "eps.*-1e-08"),
        (lambda: RAdam(weight_decay=float("nan")), "weight_decay.*nan"),
        (lambda: Adamax(beta2=1.5), "beta2.*1.5"),
        (lambda: Adadelta(rho=1.0), "rho.*1.0"),
        (lambda: Adadelta(decay_mask=np.ones(3)), "decay_mask.*boolean"),
        (lambda: Lion(lr="fast"), "lr.*'fast'"),
        (lambda: Adafactor(beta2_decay=0.5, layout=LAYOUT), "beta2_decay.*<= 0.*0.5"),
        (lambda: Adafactor(clip_threshold=0.5, layout=LAYOUT), "clip_threshold.*>= 1.*0.5"),
        (lambda: Muon(ns_steps=0, layout=LAYOUT), "ns_steps.*0"),
        (lambda: Muon(ns_coefficients=(1, 2), layout=LAYOUT), r"three numbers.*\(1, 2\)"),
        (lambda: Muon(adjust_lr="rms", layout=LAYOUT), "adjust_lr 'rms'"),
        (lambda: Muon(exclude=["nope"], layout=LAYOUT), "no tensor named 'nope'"),
        (lambda: Muon(adam_lr=-1, layout=LAYOUT), "adam_lr.*-1"),
        (lambda: Muon(layout="W"), "layout must be"),
        (lambda: Shampoo(beta2=0.0, layout=LAYOUT), r"beta2 must be in \(0, 1\], got 0.0"),
        (lambda: Shampoo(eps=0.0, layout=LAYOUT), "eps must be positive, got 0.0"),
        (lambda: Shampoo(update_every=0, layout=LAYOUT), "update_every.*0"),
        (lambda: ScheduleFreeSGD(momentum=1.0), "momentum.*1.0"),
        (lambda: ScheduleFreeAdamW(weight_lr_power=-2), "weight_lr_power.*-2"),
        (lambda: SAM(lr=0.1, rho=0.0), "rho must be positive, got 0.0"),
        (lambda: SAM(lr=0.1, adaptive=1), "adaptive.*1"),
        (lambda: SAM(base=3), "base must be.*3"),
        (lambda: SAM(base="adamx"), "unknown optimizer 'adamx'"),
        (lambda: Lookahead(lr=0.1, k=0), "lookahead k.*0"),
        (lambda: Lookahead(lr=0.1, alpha=-0.5), "alpha.*-0.5"),
        (lambda: SGD(0.1, clip_norm=0.0), "clip_norm must be positive, got 0.0"),
        (lambda: Adam(clip_value=-1.0), "clip_value.*-1.0"),
    ],
)
def test_bad_hyperparameters_name_the_value(make, match):
    with pytest.raises(InputError, match=match):
        make()


# ------------------------------------------------------------------ schedules
def test_new_schedules_by_hand():
    p = polynomial(1.0, 4, power=2.0)
    assert [p(t) for t in range(6)] == [1.0, 0.5625, 0.25, 0.0625, 0.0, 0.0]
    c = cosine_restarts(1.0, 2, mult=2)  # cycles of 2, 4, 8 steps
    assert [c(t) for t in (0, 2, 6, 14)] == [1.0, 1.0, 1.0, 1.0]
    assert c(1) == pytest.approx(0.5) and c(4) == pytest.approx(0.5)
    oc = one_cycle(1.0, 10, pct_start=0.5, div_factor=10.0, final_div_factor=100.0)
    assert oc(0) == pytest.approx(0.1) and oc(4) == 1.0 and oc(9) == pytest.approx(1e-3)
    assert oc(100) == oc.end == 1e-3


def test_reduce_on_plateau_state():
    s = reduce_on_plateau(1.0, mode="max", factor=0.1, patience=1, cooldown=1, min_value=0.05)
    for metric in (0.5, 0.6, 0.6, 0.6):  # improves, then two bad epochs: cut
        s.observe(metric)
    assert s(0) == s(10**6) == pytest.approx(0.1)
    saved = s.state_arrays()
    assert set(saved) == set(s.state_names()) and saved["best"] == 0.6
    assert saved["cooldown_counter"] == 1 and saved["last_epoch"] == 4
    for metric in (0.6, 0.6, 0.6):  # one cooldown epoch, then two bad ones: floor at min_value
        s.observe(metric)
    assert s(0) == 0.05
    twin = reduce_on_plateau(1.0, mode="max", factor=0.1, patience=1, cooldown=1,
                             min_value=0.05)
    assert twin == s and hash(twin) == hash(s)  # settings only; the state is not a field
    twin.load_state_arrays(saved)
    assert twin(0) == pytest.approx(0.1)
    assert schedule_from_dict(json.loads(json.dumps(s.to_dict()))) == s
    assert "value" not in s.to_dict()
    s.reset()
    assert s(0) == 1.0
    with pytest.raises(InputError, match="needs exactly the arrays"):
        twin.load_state_arrays({"value": np.array(1.0)})
    bad = dict(saved, num_bad_epochs=np.array(-1))
    with pytest.raises(InputError, match="non-negative"):
        twin.load_state_arrays(bad)
    with pytest.raises(InputError, match="metric must be a number"):
        s.observe("high")


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: polynomial(1.0, 0), "polynomial total_steps"),
        (lambda: cosine_restarts(1.0, 0), "cosine_restarts period"),
        (lambda: cosine_restarts(1.0, 3, mult=1.5), "cosine_restarts mult"),
        (lambda: one_cycle(1.0, 10, pct_start=1.5), r"pct_start must be in \[0, 1\]"),
        (lambda: one_cycle(1.0, 10, anneal="cubic"), "unknown one_cycle anneal 'cubic'"),
        (lambda: one_cycle(1.0, 10, div_factor=0), "div_factor"),
        (lambda: reduce_on_plateau(1.0, mode="best"), "unknown reduce_on_plateau mode 'best'"),
        (lambda: reduce_on_plateau(1.0, factor=1.0), r"factor must be in \(0, 1\), got 1.0"),
        (lambda: reduce_on_plateau(1.0, patience=-1), "patience.*-1"),
        (lambda: reduce_on_plateau(1.0, threshold_mode="pct"), "threshold_mode 'pct'"),
    ],
)
def test_new_schedule_validation(make, match):
    with pytest.raises(InputError, match=match):
        make()
