"""Our update rules against torch.optim on the same fixed gradient sequence (float64).

The gradients are set by hand on a leaf tensor (``p.grad = ...``) before each ``opt.step()``,
so both sides see exactly the same numbers; the parameters must agree to round-off once the
conventions are mapped (ours: ``v = -lr b`` for the momentum buffers).
"""

import numpy as np
import pytest

from steepest.optim import (
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    RMSProp,
    constant,
    step_decay,
)

torch = pytest.importorskip("torch")
pytestmark = pytest.mark.torch

SIZE, STEPS = 10, 20


@pytest.fixture(scope="module")
def problem():
    rng = np.random.default_rng(2024)
    return rng.standard_normal(SIZE), rng.standard_normal((STEPS, SIZE))


def ours(opt, theta0, grads):
    theta = theta0.copy()
    state = opt.init(theta)
    for g in grads:
        state = opt.step(theta, g, state)
    return theta, state


def theirs(make, theta0, grads, groups=None, scheduler=None):
    """Run a torch optimizer; ``groups`` splits theta into parameter groups (index arrays)."""
    if groups is None:
        params = [torch.tensor(theta0.copy(), requires_grad=True)]
        opt = make(params)
        index = [np.arange(theta0.size)]
    else:
        params = [torch.tensor(theta0[ix].copy(), requires_grad=True) for ix, _ in groups]
        opt = make([{"params": [p], **kw} for p, (_, kw) in zip(params, groups)])
        index = [ix for ix, _ in groups]
    sched = scheduler(opt) if scheduler else None
    for g in grads:
        for p, ix in zip(params, index):
            p.grad = torch.tensor(g[ix])
        opt.step()
        if sched:
            sched.step()
    out = np.empty_like(theta0)
    for p, ix in zip(params, index):
        out[ix] = p.detach().numpy()
    return out, opt


CASES = {
    "sgd": (SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
    "momentum": (Momentum(0.05, mu=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
    "nesterov": (
        Nesterov(0.05, mu=0.8),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.8, nesterov=True),
    ),
    "adagrad": (Adagrad(0.3, eps=1e-10), lambda p: torch.optim.Adagrad(p, lr=0.3, eps=1e-10)),
    "rmsprop": (
        RMSProp(0.01, decay=0.9, eps=1e-8),
        lambda p: torch.optim.RMSprop(p, lr=0.01, alpha=0.9, eps=1e-8),
    ),
    "adam": (
        Adam(0.02, beta1=0.8, beta2=0.99, eps=1e-8),
        lambda p: torch.optim.Adam(p, lr=0.02, betas=(0.8, 0.99), eps=1e-8),
    ),
    "adamw": (
        AdamW(0.02, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.3),
        lambda p: torch.optim.AdamW(p, lr=0.02, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.3),
    ),
    "constant schedule": (
        Momentum(constant(0.05), mu=constant(0.9)),
        lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9),
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_torch(problem, name):
    theta0, grads = problem
    opt, make = CASES[name]
    a, _ = ours(opt, theta0, grads)
    b, _ = theirs(make, theta0, grads)
    assert np.abs(a - theta0).max() > 1e-2  # the run actually moved
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)


@pytest.mark.parametrize("nesterov", [False, True])
def test_velocity_is_minus_lr_times_torch_buffer(problem, nesterov):
    theta0, grads = problem
    lr, mu = 0.05, 0.9
    opt = Nesterov(lr, mu) if nesterov else Momentum(lr, mu)
    _, state = ours(opt, theta0, grads)
    _, topt = theirs(
        lambda p: torch.optim.SGD(p, lr=lr, momentum=mu, nesterov=nesterov), theta0, grads
    )
    (p,) = topt.param_groups[0]["params"]
    b = topt.state[p]["momentum_buffer"].numpy()
    np.testing.assert_allclose(state["v"], -lr * b, rtol=1e-12, atol=1e-14)


def test_adamw_mask_matches_torch_parameter_groups(problem):
    theta0, grads = problem
    mask = np.zeros(SIZE, dtype=bool)
    mask[:6] = True  # "weights" decay, the rest ("biases") do not
    opt = AdamW(0.02, weight_decay=0.5, decay_mask=mask)
    a, _ = ours(opt, theta0, grads)
    groups = [
        (np.flatnonzero(mask), {"weight_decay": 0.5}),
        (np.flatnonzero(~mask), {"weight_decay": 0.0}),
    ]
    b, _ = theirs(lambda g: torch.optim.AdamW(g, lr=0.02), theta0, grads, groups=groups)
    np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    # and the undecayed part is plain Adam
    c, _ = ours(Adam(0.02), theta0, grads)
    np.testing.assert_allclose(a[~mask], c[~mask], rtol=1e-14)


def test_scheduled_lr_matches_torch_steplr_where_conventions_agree(problem):
    """With a step-decay rate, plain SGD and Adam match torch + StepLR exactly; momentum in
    the velocity convention does not (the rate scales each new gradient, not the buffer)."""
    theta0, grads = problem
    steplr = lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=5, gamma=0.5)  # noqa: E731
    sched = step_decay(0.1, 0.5, every=5)
    for opt, make in [
        (SGD(sched), lambda p: torch.optim.SGD(p, lr=0.1)),
        (Adam(sched), lambda p: torch.optim.Adam(p, lr=0.1)),
    ]:
        a, _ = ours(opt, theta0, grads)
        b, _ = theirs(make, theta0, grads, scheduler=steplr)
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-13)
    a, _ = ours(Momentum(sched, mu=0.9), theta0, grads)
    b, _ = theirs(
        lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9), theta0, grads, scheduler=steplr
    )
    assert np.abs(a - b).max() > 1e-3  # documented: equal only for a constant rate
