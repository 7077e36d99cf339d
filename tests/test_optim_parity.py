"""The newer rules and schedules against their references, in float64 over 200 steps.

- ``torch.optim`` for NAdam, RAdam, Adamax, Adadelta, Adafactor and Muon: the same recorded
  gradient vectors are set by hand on leaf tensors (one per tensor of the layout for the rules
  that need one), the parameters must agree to 1e-10.
- ``torch.optim.lr_scheduler`` for OneCycleLR (with its momentum), CosineAnnealingWarmRestarts,
  PolynomialLR and ReduceLROnPlateau: the value used at every step.
- the authors' ``schedulefree`` package for the schedule-free rules (both ``y`` and the
  evaluation point ``x``), and the paper's algorithm written out here, which needs no package.
"""

import warnings

import numpy as np
import pytest

from steepest.optim import (
    Adadelta,
    Adafactor,
    Adamax,
    Muon,
    NAdam,
    RAdam,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
    cosine_restarts,
    one_cycle,
    one_cycle_momentum,
    polynomial,
    reduce_on_plateau,
    warmup,
)
from steepest.params import Layout

STEPS, TOL = 200, 1e-10
LAYOUT = Layout([
    ("fc1.W", (6, 4), "weight", 0),  # PyTorch's (out, in) order
    ("fc1.b", (6,), "bias"),
    ("conv.W", (2, 3, 5), "weight", 0),
    ("fc2.W", (3, 6), "weight", 0),
    ("fc2.b", (3,), "bias"),
])


@pytest.fixture(scope="module")
def torch64():
    torch = pytest.importorskip("torch")
    old = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # torch's scalar state (NAdam's mu_product) in f64
    yield torch
    torch.set_default_dtype(old)


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(13)
    return rng.standard_normal(LAYOUT.size), rng.standard_normal((STEPS, LAYOUT.size))


def ours(opt, theta0, grads):
    theta = theta0.copy()
    state = opt.init(theta)
    for g in grads:
        state = opt.step(theta, g, state)
    return theta, state


def theirs(torch, makers, theta0, grads, groups):
    """One torch optimizer per group of layout names (``None``: the whole vector as one
    tensor); every optimizer steps on the same gradients."""
    params, specs, opts = [], [], []
    for make, names in zip(makers, groups):
        if names is None:  # a single flat tensor
            chosen = [None]
            ps = [torch.tensor(theta0.copy(), requires_grad=True)]
        else:
            chosen = [s for s in LAYOUT if s.name in names]
            ps = [torch.tensor(theta0[s.slice].reshape(s.shape), requires_grad=True)
                  for s in chosen]
        opts.append(make(ps))
        params += ps
        specs += chosen
    for g in grads:
        for p, s in zip(params, specs):
            p.grad = torch.tensor(g.copy() if s is None else g[s.slice].reshape(s.shape))
        for o in opts:
            o.step()
    out = theta0.copy()
    for p, s in zip(params, specs):
        out[slice(None) if s is None else s.slice] = p.detach().numpy().reshape(-1)
    return out


ELEMENTWISE = {
    "nadam": (NAdam(0.01, beta1=0.85, beta2=0.99, momentum_decay=5e-3),
              lambda t, p: t.optim.NAdam(p, lr=0.01, betas=(0.85, 0.99), momentum_decay=5e-3)),
    "nadam l2": (NAdam(0.01, weight_decay=0.1),
                 lambda t, p: t.optim.NAdam(p, lr=0.01, weight_decay=0.1)),
    "nadam decoupled": (
        NAdam(0.01, weight_decay=0.1, decoupled_weight_decay=True),
        lambda t, p: t.optim.NAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    "radam": (RAdam(0.01, beta2=0.99), lambda t, p: t.optim.RAdam(p, lr=0.01, betas=(0.9, 0.99))),
    "radam l2": (RAdam(0.01, weight_decay=0.1),
                 lambda t, p: t.optim.RAdam(p, lr=0.01, weight_decay=0.1)),
    "radam decoupled": (
        RAdam(0.01, weight_decay=0.1, decoupled_weight_decay=True),
        lambda t, p: t.optim.RAdam(p, lr=0.01, weight_decay=0.1, decoupled_weight_decay=True),
    ),
    "adamax": (Adamax(0.01, beta1=0.8, weight_decay=0.05),
               lambda t, p: t.optim.Adamax(p, lr=0.01, betas=(0.8, 0.999), weight_decay=0.05)),
    "adadelta": (Adadelta(0.5, rho=0.95, eps=1e-5, weight_decay=0.05),
                 lambda t, p: t.optim.Adadelta(p, lr=0.5, rho=0.95, eps=1e-5, weight_decay=0.05)),
}


@pytest.mark.torch
@pytest.mark.parametrize("case", sorted(ELEMENTWISE))
def test_elementwise_rules_match_torch(torch64, problem, case):
    theta0, grads = problem
    opt, make = ELEMENTWISE[case]
    a, _ = ours(opt, theta0, grads)
    b = theirs(torch64, [lambda p: make(torch64, p)], theta0, grads, [None])
    assert np.abs(a - theta0).max() > 0.05  # it moved
    assert np.abs(a - b).max() < TOL


@pytest.mark.torch
@pytest.mark.parametrize("kw", [{}, {"weight_decay": 0.1, "eps1": 1e-20, "clip_threshold": 1.5},
                                {"beta2_decay": -0.5, "eps2": 0.1}])
def test_adafactor_matches_torch_per_tensor(torch64, problem, kw):
    """Matrices (and the 3-D tensor, factored over its last two axes) and vectors."""
    theta0, grads = problem
    a, state = ours(Adafactor(0.05, layout=LAYOUT, **kw), theta0, grads)
    tkw = {"weight_decay": kw.get("weight_decay", 0.0), "d": kw.get("clip_threshold", 1.0),
           "eps": (kw.get("eps1"), kw.get("eps2", 1e-3)),
           "beta2_decay": kw.get("beta2_decay", -0.8)}
    b = theirs(torch64, [lambda p: torch64.optim.Adafactor(p, lr=0.05, **tkw)], theta0, grads,
               [LAYOUT.names])
    assert np.abs(a - theta0).max() > 0.5
    assert np.abs(a - b).max() < TOL
    # memory: factors for the matrices, full second moments for the vectors only
    assert state["row"].size == 6 + 2 * 3 + 3 and state["col"].size == 4 + 2 * 5 + 6
    assert state["v"].size == 6 + 3


@pytest.fixture
def no_bfloat16(torch64, monkeypatch):
    """torch's Newton-Schulz casts to bfloat16; ours runs in theta's dtype (the documented
    convention difference). Making the cast a copy runs torch's own code in float64."""
    monkeypatch.setattr(torch64.Tensor, "bfloat16", lambda self: self.clone())
    return torch64


@pytest.mark.torch
@pytest.mark.parametrize("kw", [
    {},
    {"nesterov": False, "adjust_lr": "match_rms_adamw", "momentum": 0.9, "ns_steps": 3},
])
def test_muon_matches_torch_muon_plus_adamw(no_bfloat16, problem, kw):
    torch = no_bfloat16
    theta0, grads = problem
    opt = Muon(0.02, weight_decay=0.1, adam_lr=0.01, adam_beta2=0.99, adam_weight_decay=0.05,
               layout=LAYOUT, **kw)
    a, _ = ours(opt, theta0, grads)
    mats = [s.name for s in LAYOUT if len(s.shape) == 2]
    rest = [n for n in LAYOUT.names if n not in mats]
    tkw = {"momentum": kw.get("momentum", 0.95), "nesterov": kw.get("nesterov", True),
           "ns_steps": kw.get("ns_steps", 5), "adjust_lr_fn": kw.get("adjust_lr")}
    b = theirs(torch, [
        lambda p: torch.optim.Muon(p, lr=0.02, weight_decay=0.1, **tkw),
        lambda p: torch.optim.AdamW(p, lr=0.01, betas=(0.9, 0.99), weight_decay=0.05),
    ], theta0, grads, [mats, rest])
    assert np.abs(a - theta0).max() > 0.5
    assert np.abs(a - b).max() < TOL


@pytest.mark.torch
def test_muon_on_steepest_in_out_weights_equals_torch_on_the_transpose(no_bfloat16):
    """steepest stores Linear weights (in, out) (unit_axis -1): the update and the shape
    scaling are those of torch on the (out, in) transpose."""
    torch = no_bfloat16
    rng = np.random.default_rng(3)
    layout = Layout([("W", (4, 9), "weight")])  # in=4, out=9: scale sqrt(9/4)
    theta0, grads = rng.standard_normal(36), rng.standard_normal((50, 36))
    a, _ = ours(Muon(0.02, weight_decay=0.1, layout=layout), theta0, grads)
    p = torch.tensor(theta0.reshape(4, 9).T.copy(), requires_grad=True)
    opt = torch.optim.Muon([p], lr=0.02, weight_decay=0.1)
    for g in grads:
        p.grad = torch.tensor(g.reshape(4, 9).T.copy())
        opt.step()
    b = p.detach().numpy().T.reshape(-1)
    assert np.abs(a - b).max() < TOL


@pytest.mark.torch
def test_muon_is_within_bfloat16_error_of_unpatched_torch(torch64):
    rng = np.random.default_rng(4)
    layout = Layout([("W", (64, 32), "weight", 0)])
    theta0, g = rng.standard_normal(layout.size), rng.standard_normal((1, layout.size))
    a, _ = ours(Muon(0.02, weight_decay=0.0, layout=layout), theta0, g)
    p = torch64.tensor(theta0.reshape(64, 32).copy(), requires_grad=True)
    opt = torch64.optim.Muon([p], lr=0.02, weight_decay=0.0)
    p.grad = torch64.tensor(g[0].reshape(64, 32))
    opt.step()
    da, db = a - theta0, p.detach().numpy().reshape(-1) - theta0
    assert np.linalg.norm(da - db) < 0.05 * np.linalg.norm(da)


# ------------------------------------------------------------------ schedules vs lr_scheduler
def _torch_values(torch, make_scheduler, steps, metrics=None):
    """The lr (and momentum) in force at each optimizer step under a torch scheduler."""
    p = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([p], lr=0.1, momentum=0.9)
    sched = make_scheduler(opt)
    lrs, moms = [], []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for t in range(steps):
            lrs.append(opt.param_groups[0]["lr"])
            moms.append(opt.param_groups[0]["momentum"])
            p.grad = torch.zeros(1)
            opt.step()
            sched.step() if metrics is None else sched.step(metrics[t])
    return np.array(lrs), np.array(moms)


@pytest.mark.torch
@pytest.mark.parametrize("three_phase", [False, True])
@pytest.mark.parametrize("anneal", ["cos", "linear"])
@pytest.mark.parametrize("pct", [0.3, 0.25])
def test_one_cycle_matches_onecyclelr(torch64, three_phase, anneal, pct):
    lr, mom = _torch_values(torch64, lambda o: torch64.optim.lr_scheduler.OneCycleLR(
        o, max_lr=0.5, total_steps=STEPS, pct_start=pct, anneal_strategy=anneal,
        three_phase=three_phase, div_factor=20.0, final_div_factor=300.0), STEPS)
    s = one_cycle(0.5, STEPS, pct, div_factor=20.0, final_div_factor=300.0, anneal=anneal,
                  three_phase=three_phase)
    m = one_cycle_momentum(STEPS, pct_start=pct, anneal=anneal, three_phase=three_phase)
    assert np.abs(lr - [s(t) for t in range(STEPS)]).max() < TOL
    assert np.abs(mom - [m(t) for t in range(STEPS)]).max() < TOL
    assert s(STEPS) == s(10 * STEPS) == 0.5 / 20 / 300  # held at the end (torch raises)


@pytest.mark.torch
@pytest.mark.parametrize("period, mult", [(7, 1), (5, 2), (3, 3)])
def test_cosine_restarts_matches_warm_restarts(torch64, period, mult):
    lr, _ = _torch_values(torch64, lambda o: torch64.optim.lr_scheduler.CosineAnnealingWarmRestarts(
        o, T_0=period, T_mult=mult, eta_min=0.01), STEPS)
    s = cosine_restarts(0.1, period, mult, final=0.01)
    assert np.abs(lr - [s(t) for t in range(STEPS)]).max() < TOL


@pytest.mark.torch
@pytest.mark.parametrize("power", [1.0, 2.0, 0.5])
def test_polynomial_matches_polynomiallr(torch64, power):
    lr, _ = _torch_values(torch64, lambda o: torch64.optim.lr_scheduler.PolynomialLR(
        o, total_iters=150, power=power), STEPS)
    s = polynomial(0.1, 150, power)
    assert np.abs(lr - [s(t) for t in range(STEPS)]).max() < TOL


@pytest.mark.torch
@pytest.mark.parametrize("mode", ["min", "max"])
@pytest.mark.parametrize("threshold_mode", ["rel", "abs"])
def test_reduce_on_plateau_matches_reducelronplateau(torch64, mode, threshold_mode):
    rng = np.random.default_rng(5)
    metrics = 5 + 0.1 * np.cumsum(rng.standard_normal(STEPS))
    kw = dict(mode=mode, factor=0.5, patience=3, threshold=0.01, threshold_mode=threshold_mode,
              cooldown=2)
    lr, _ = _torch_values(torch64, lambda o: torch64.optim.lr_scheduler.ReduceLROnPlateau(
        o, min_lr=1e-4, **kw), STEPS, metrics)
    s = reduce_on_plateau(0.1, min_value=1e-4, **kw)
    values = []
    for t in range(STEPS):
        values.append(s(t))
        s.observe(metrics[t])
    assert len(set(values)) > 3  # it did reduce, several times
    assert np.abs(lr - values).max() < TOL


# ------------------------------------------------------------------ schedule-free
def paper_schedule_free(theta0, grads, lr, beta, wd, r, power, adam=None):
    """Defazio et al. 2024, written out: returns (y, x) after the run; ``adam=(beta2, eps)``
    gives the AdamW form."""
    z, x, y = theta0.copy(), theta0.copy(), theta0.copy()
    v = np.zeros_like(theta0)
    weight_sum, lr_max = 0.0, 0.0
    for t, g in enumerate(grads):
        rate = lr(t)
        lr_max = max(lr_max, rate)
        w = (t + 1) ** r * lr_max**power
        weight_sum += w
        c = w / weight_sum
        if adam is not None:
            beta2, eps = adam
            v = beta2 * v + (1 - beta2) * g * g
            g = g / (np.sqrt(v / (1 - beta2 ** (t + 1))) + eps)
        z = z - rate * (g + wd * y)
        x = (1 - c) * x + c * z
        y = (1 - beta) * z + beta * x
    return y, x


SF_CASES = {
    "sgd": (lambda: ScheduleFreeSGD(warmup(0.1, 10), momentum=0.9, weight_decay=0.01),
            dict(beta=0.9, wd=0.01, r=0.0, power=2.0), None,
            dict(cls="SGDScheduleFree", lr=0.1, momentum=0.9, weight_decay=0.01)),
    "sgd r": (lambda: ScheduleFreeSGD(warmup(0.5, 20), momentum=0.8, r=0.5, weight_lr_power=1.0),
              dict(beta=0.8, wd=0.0, r=0.5, power=1.0), None,
              dict(cls="SGDScheduleFree", lr=0.5, momentum=0.8, r=0.5, weight_lr_power=1.0)),
    "adamw": (lambda: ScheduleFreeAdamW(warmup(0.01, 10), beta1=0.9, beta2=0.99,
                                        weight_decay=0.05),
              dict(beta=0.9, wd=0.05, r=0.0, power=2.0), (0.99, 1e-8),
              dict(cls="AdamWScheduleFree", lr=0.01, betas=(0.9, 0.99), weight_decay=0.05)),
}


def _warm(case):
    return {"sgd": (0.1, 10), "sgd r": (0.5, 20), "adamw": (0.01, 10)}[case]


@pytest.mark.parametrize("case", sorted(SF_CASES))
def test_schedule_free_matches_the_paper(problem, case):
    theta0, grads = problem
    make, kw, adam, _ = SF_CASES[case]
    opt = make()
    y, state = ours(opt, theta0, grads)
    peak, steps = _warm(case)
    y_ref, x_ref = paper_schedule_free(theta0, grads, lambda t: peak * min(1, (t + 1) / steps),
                                       adam=adam, **kw)
    assert np.abs(y - y_ref).max() < TOL
    assert np.abs(opt.eval_params(y, state) - x_ref).max() < TOL
    assert np.abs(y - x_ref).max() > 1e-3  # y and x are different points


@pytest.mark.parametrize("case", sorted(SF_CASES))
@pytest.mark.parametrize("reference", [False, True])
def test_schedule_free_matches_the_schedulefree_package(torch64, problem, case, reference):
    sf = pytest.importorskip("schedulefree")
    theta0, grads = problem
    make, _, _, pkw = SF_CASES[case]
    pkw = dict(pkw)
    cls = getattr(sf, pkw.pop("cls") + ("Reference" if reference else ""))
    opt = make()
    y, state = ours(opt, theta0, grads)
    p = torch64.tensor(theta0.copy(), requires_grad=True)
    topt = cls([p], warmup_steps=_warm(case)[1], **pkw)
    topt.train()
    for g in grads:
        p.grad = torch64.tensor(g.copy())
        topt.step()
    y_pkg = p.detach().numpy().copy()
    topt.eval()  # the package moves the parameters to x
    x_pkg = p.detach().numpy().copy()
    assert np.abs(y - y_pkg).max() < TOL
    assert np.abs(opt.eval_params(y, state) - x_pkg).max() < TOL
