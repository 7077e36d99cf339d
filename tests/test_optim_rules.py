"""Update rules: hand-worked steps, update() == step() bit for bit, state and config round-trips."""

import json

import numpy as np
import pytest

from steepest.errors import InputError
from steepest.optim import (
    OPTIMIZERS,
    SGD,
    Adagrad,
    Adam,
    AdamW,
    Momentum,
    Nesterov,
    RMSProp,
    constant,
    cosine,
    make_optimizer,
    optimizer_from_config,
    ramp,
    step_decay,
    warmup,
)
from steepest.params import Layout

G = [1.0, -2.0]

# (optimizer, theta0, gradients, theta after each step), worked out by hand in the comments.
HAND = {
    # theta -= 0.1 g
    "sgd": (
        SGD(0.1),
        [0.0, 0.0],
        [G, [0.5, 0.5], [-1.0, 0.0]],
        [[-0.1, 0.2], [-0.15, 0.15], [-0.05, 0.15]],
    ),
    # v1 = -0.1 g = [-.1, .2]; v2 = .9 v1 - .1 g = [-.19, .38]; v3 = [-.271, .542]
    "momentum": (
        Momentum(0.1, mu=0.9),
        [0.0, 0.0],
        [G, G, G],
        [[-0.1, 0.2], [-0.29, 0.58], [-0.561, 1.122]],
    ),
    # delta = -.9 v_prev + 1.9 v: [-.19, .38], [.09 - .361, ...] = [-.271, .542], [-.3439, .6878]
    "nesterov": (
        Nesterov(0.1, mu=0.9),
        [0.0, 0.0],
        [G, G, G],
        [[-0.19, 0.38], [-0.461, 0.922], [-0.8049, 1.6098]],
    ),
    # cache [1, 4] -> delta -.1 [1, -1]; cache [10, 8] -> -.1 [3/sqrt(10), 2/sqrt(8)]; g = 0
    "adagrad": (
        Adagrad(0.1, eps=0.0),
        [0.0, 0.0],
        [G, [3.0, 2.0], [0.0, 0.0]],
        [
            [-0.1, 0.1],
            [-0.1948683298050514, 0.0292893218813452],
            [-0.1948683298050514, 0.0292893218813452],
        ],
    ),
    # cache .1 g^2 = [.1, .4] -> -.01 g / sqrt(cache) = -.01 [sqrt(10), -sqrt(10)];
    # cache [.19, .76] -> -.01 [1/sqrt(.19), -2/sqrt(.76)] = -.01 [2.2941573387, -2.2941573387]
    "rmsprop": (
        RMSProp(0.01, decay=0.9, eps=0.0),
        [0.0, 0.0],
        [G, G],
        [
            [-0.031622776601683795, 0.031622776601683795],
            [-0.054564349988739975, 0.054564349988739975],
        ],
    ),
    # t=1: mhat = g, vhat = g^2 -> -.1 sign(g). t=2, g = [0, 2]: m = [.09, .02], mhat = m/.19,
    # v = [.000999, .007996], vhat = v/.001999 = [.49974987, 4] -> delta [-.0670058, -.0052632]
    "adam": (
        Adam(0.1, eps=0.0),
        [0.0, 0.0],
        [G, [0.0, 2.0]],
        [[-0.1, 0.1], [-0.16700582541365436, 0.09473684210526316]],
    ),
    # no bias correction: m = [.1, -.2], v = [.001, .004] -> -.1 m/sqrt(v) = -.1 [sqrt(10), ...]
    "adam_uncorrected": (
        Adam(0.1, eps=0.0, bias_correction=False),
        [0.0, 0.0],
        [G],
        [[-0.31622776601683794, 0.31622776601683794]],
    ),
    # Adam direction [1, -1] both steps; decay .5 theta: [-.1 (1 + .5), -.1 (-1 + 1)] = [-.15, 0],
    # then -.1 [1 + .425, -1 + 1] = [-.1425, 0]
    "adamw": (
        AdamW(0.1, eps=0.0, weight_decay=0.5),
        [1.0, 2.0],
        [G, G],
        [[0.85, 2.0], [0.7075, 2.0]],
    ),
    # the same with the second entry excluded from the decay: it moves by +.1 each step
    "adamw_masked": (
        AdamW(0.1, eps=0.0, weight_decay=0.5, decay_mask=np.array([True, False])),
        [1.0, 2.0],
        [G, G],
        [[0.85, 2.1], [0.7075, 2.2]],
    ),
}


@pytest.mark.parametrize("case", sorted(HAND))
@pytest.mark.parametrize("path", ["update", "step"])
def test_first_steps_by_hand(case, path):
    opt, theta0, grads, expected = HAND[case]
    theta = np.array(theta0)
    state = opt.init(theta)
    for g, want in zip(grads, expected):
        if path == "update":
            delta, state = opt.update(theta, np.array(g), state)
            theta = theta + delta
        else:
            state = opt.step(theta, np.array(g), state)
        np.testing.assert_allclose(theta, want, rtol=1e-13, atol=1e-15)
    assert int(state["step"]) == len(grads)


def test_momentum_velocity_is_in_the_state():
    opt = Momentum(0.1, mu=0.9)
    theta = np.zeros(2)
    state = opt.init(theta)
    for _ in range(2):
        state = opt.step(theta, np.array(G), state)
    np.testing.assert_allclose(state["v"], [-0.19, 0.38], rtol=1e-14)


def test_schedule_is_read_before_the_counter_moves():
    rates = [1.0, 10.0, 100.0]
    opt = SGD(lambda t: rates[t])
    theta = np.zeros(1)
    state = opt.init(theta)
    for want in (-1.0, -11.0, -111.0):
        state = opt.step(theta, np.ones(1), state)
        assert theta[0] == want
    assert opt.hyperparameters(1) == {"lr": 10.0}


def test_momentum_schedule_for_mu():
    opt = Momentum(0.1, mu=ramp(0.0, 0.5, 1))  # mu = 0 at step 0, 0.5 afterwards
    theta = np.zeros(1)
    state = opt.init(theta)
    state = opt.step(theta, np.ones(1), state)  # v = -0.1
    state = opt.step(theta, np.ones(1), state)  # v = 0.5 * -0.1 - 0.1 = -0.15
    np.testing.assert_allclose(state["v"], [-0.15], rtol=1e-15)


def _make_all(size):
    mask = np.zeros(size, dtype=bool)
    mask[: size // 2] = True
    lr = warmup(cosine(0.05, total_steps=12), steps=3)
    return [
        SGD(step_decay(0.1, 0.5, every=4)),
        Momentum(lr, mu=ramp(0.5, 0.95, 6)),
        Nesterov(0.05, mu=0.9),
        Adagrad(lr),
        RMSProp(lr, decay=0.9),
        Adam(lr),
        Adam(0.01, bias_correction=False),
        AdamW(lr, weight_decay=0.1),
        AdamW(0.01, weight_decay=0.3, decay_mask=mask),
    ]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_and_step_are_bit_identical(dtype):
    size, rng = 37, np.random.default_rng(0)
    grads = rng.standard_normal((15, size)).astype(dtype)
    theta0 = rng.standard_normal(size).astype(dtype)
    for opt in _make_all(size):
        a, b = theta0.copy(), theta0.copy()
        sa, sb = opt.init(a), opt.init(b)
        for g in grads:
            before = {k: v.copy() for k, v in sa.items()}
            delta, sa_new = opt.update(a, g, sa)
            for k in sa:  # update() leaves the old state alone
                np.testing.assert_array_equal(sa[k], before[k])
            sa = sa_new
            a += delta
            sb = opt.step(b, g, sb)
            assert delta.dtype == dtype
        assert a.dtype == b.dtype == dtype, opt
        np.testing.assert_array_equal(a, b, err_msg=repr(opt))
        for k in sa:
            np.testing.assert_array_equal(sa[k], sb[k], err_msg=f"{opt!r} {k}")
            assert sa[k].dtype == (np.int64 if k == "step" else dtype)


def test_state_round_trips_through_npz_and_resumes_bit_identically(tmp_path):
    size, rng = 23, np.random.default_rng(1)
    grads = rng.standard_normal((10, size)).astype(np.float32)
    theta0 = rng.standard_normal(size).astype(np.float32)
    for i, opt in enumerate(_make_all(size)):
        full = theta0.copy()
        state = opt.init(full)
        for g in grads:
            state = opt.step(full, g, state)

        part = theta0.copy()
        state = opt.init(part)
        for g in grads[:4]:
            state = opt.step(part, g, state)
        path = tmp_path / f"state{i}.npz"
        np.savez(path, theta=part, **opt.state_to_arrays(state))
        # a fresh optimizer rebuilt from its JSON config, as a checkpoint would
        opt2 = optimizer_from_config(json.loads(json.dumps(opt.config())))
        with np.load(path, allow_pickle=False) as f:
            theta = f["theta"].copy()
            state = opt2.state_from_arrays({k: f[k] for k in f.files if k != "theta"}, theta)
        assert int(state["step"]) == 4
        for g in grads[4:]:
            state = opt2.step(theta, g, state)
        np.testing.assert_array_equal(theta, full, err_msg=repr(opt))


def test_state_from_arrays_accepts_an_npz_file_directly(tmp_path):
    opt = Adam(1e-3)
    theta = np.zeros(5)
    state = opt.step(theta, np.ones(5), opt.init(theta))
    np.savez(tmp_path / "s.npz", **state)
    with np.load(tmp_path / "s.npz", allow_pickle=False) as f:
        back = opt.state_from_arrays(f, theta)
    assert set(back) == {"step", "m", "v"}
    back["m"][0] = 123.0  # writable copies
    assert state["m"][0] != 123.0


@pytest.mark.parametrize(
    "mutate, match",
    [
        (lambda s: s.pop("v"), "missing: v"),
        (lambda s: s.update(extra=np.zeros(4)), "unexpected: extra"),
        (lambda s: s.update(m=np.zeros(5)), "shape"),
        (lambda s: s.update(m=np.zeros(4, dtype=np.float32)), "dtype"),
        (lambda s: s.update(m=np.zeros((2, 2))), "1-D"),
        (lambda s: s.update(v=np.zeros(4, dtype=np.int64)), "floating"),
        (lambda s: s.update(step=np.array(-1)), "step"),
        (lambda s: s.update(step=np.array(1.5)), "step"),
        (lambda s: s.update(step=np.zeros(2, dtype=np.int64)), "step"),
    ],
)
def test_state_from_arrays_validation(mutate, match):
    opt = Adam()
    theta = np.zeros(4)
    arrays = dict(opt.init(theta))
    mutate(arrays)
    with pytest.raises(InputError, match=match):
        opt.state_from_arrays(arrays, theta)


def test_state_to_arrays_rejects_another_rules_state():
    theta = np.zeros(3)
    with pytest.raises(InputError, match="momentum"):
        Momentum(0.1).state_to_arrays(Adam().init(theta))
    with pytest.raises(InputError, match="not a 'momentum' state"):
        Momentum(0.1).step(theta, np.zeros(3), Adam().init(theta))


def test_step_checks_shapes():
    opt = Momentum(0.1)
    theta = np.zeros(3)
    state = opt.init(theta)
    with pytest.raises(InputError, match="grad has shape"):
        opt.step(theta, np.zeros(4), state)
    with pytest.raises(InputError, match=r"state\['v'\]"):
        opt.step(np.zeros(3, dtype=np.float32), np.zeros(3), state)
    with pytest.raises(InputError, match="1-D"):
        opt.init(np.zeros((2, 2)))
    with pytest.raises(InputError, match="decay_mask has 2 entries"):
        AdamW(decay_mask=np.array([True, False])).init(theta)


def test_config_round_trip_with_schedules_and_mask():
    mask = np.array([True, True, False, False, True])
    opt = AdamW(lr=warmup(cosine(1e-3, 100), 10), beta1=0.85, weight_decay=0.05, decay_mask=mask)
    cfg = json.loads(json.dumps(opt.config()))
    assert cfg["name"] == "adamw"
    assert cfg["lr"]["kind"] == "warmup"
    assert cfg["decay_mask"] == {"size": 5, "runs": [[0, 2], [4, 5]]}
    back = optimizer_from_config(cfg)
    assert isinstance(back, AdamW)
    assert back.config() == cfg
    np.testing.assert_array_equal(back.decay_mask, mask)
    layout = Layout([("W", (3, 2), "weight"), ("b", (2,), "bias")])
    for name, cls in OPTIMIZERS.items():
        opt = make_optimizer(name, lr=0.5, **({"layout": layout} if cls.needs_layout else {}))
        assert optimizer_from_config(opt.config()).config() == opt.config()


def test_config_refuses_plain_callables():
    with pytest.raises(InputError, match="plain callable"):
        SGD(lambda t: 0.1).config()


def test_replace_and_repr():
    opt = Adam(0.01, beta2=0.99)
    new = opt.replace(lr=constant(0.5))
    assert isinstance(new, Adam) and new.hyperparameters()["lr"] == 0.5
    assert new.hyperparameters()["beta2"] == 0.99
    assert "beta2=0.99" in repr(opt)
    with pytest.raises(InputError, match="unknown hyperparameter"):
        opt.replace(mu=0.9)


def test_make_optimizer_errors():
    assert isinstance(make_optimizer("nesterov", lr=0.1, mu=0.5), Nesterov)
    with pytest.raises(InputError, match="unknown optimizer 'adamx'.*allowed: sgd"):
        make_optimizer("adamx", lr=0.1)
    with pytest.raises(InputError, match="unknown hyperparameter.*momentum.*allowed: lr, mu"):
        make_optimizer("momentum", lr=0.1, momentum=0.9)
    with pytest.raises(InputError, match="needs hyperparameter.*lr"):
        make_optimizer("sgd")
    with pytest.raises(InputError, match="'name'"):
        optimizer_from_config({"lr": 0.1})


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: SGD(-0.1), "lr"),
        (lambda: SGD(float("inf")), "lr"),
        (lambda: SGD("fast"), "lr"),
        (lambda: Momentum(0.1, mu=1.0), r"mu must be in \[0, 1\)"),
        (lambda: Nesterov(0.1, mu=-0.5), "mu"),
        (lambda: RMSProp(decay=1.2), "decay"),
        (lambda: Adam(beta1=1.0), "beta1"),
        (lambda: Adam(beta2=-0.1), "beta2"),
        (lambda: Adam(eps=-1e-8), "eps"),
        (lambda: Adam(bias_correction="yes"), "bias_correction"),
        (lambda: AdamW(weight_decay=-1.0), "weight_decay"),
        (lambda: AdamW(decay_mask=np.ones(3)), "boolean"),
        (lambda: AdamW(decay_mask={"size": 3, "runs": [[2, 5]]}), "outside"),
        (lambda: AdamW(decay_mask={"runs": []}), "decay_mask"),
        (lambda: SGD(True), "lr"),
    ],
)
def test_hyperparameter_validation(make, match):
    with pytest.raises(InputError, match=match):
        make()


def test_registry():
    assert list(OPTIMIZERS) == [
        "sgd",
        "momentum",
        "nesterov",
        "adagrad",
        "rmsprop",
        "adam",
        "adamw",
        "nadam",
        "radam",
        "adamax",
        "adadelta",
        "adafactor",
        "lion",
        "muon",
        "sgd_schedule_free",
        "adamw_schedule_free",
        "sam",
        "lookahead",
        "shampoo",
    ]
    assert {n: c.name for n, c in OPTIMIZERS.items()} == {n: n for n in OPTIMIZERS}


def test_float32_gradient_for_float64_theta_is_cast():
    opt = SGD(0.5)
    theta = np.ones(3)
    state = opt.step(theta, np.ones(3, dtype=np.float32), opt.init(theta))
    assert theta.dtype == np.float64
    np.testing.assert_array_equal(theta, 0.5)
    assert state["step"].dtype == np.int64 and state["step"].shape == ()
