"""Schedules: values worked by hand, composition, dict round-trips and validation."""

import json
import math

import numpy as np
import pytest

from steepest.errors import InputError
from steepest.optim import (
    SCHEDULES,
    Schedule,
    as_schedule,
    constant,
    cosine,
    exponential,
    inverse_time,
    ramp,
    schedule_from_dict,
    step_decay,
    warmup,
)


def test_constant():
    s = constant(0.1)
    assert [s(0), s(1), s(10**9)] == [0.1, 0.1, 0.1]


def test_step_decay_halves_every_three_steps():
    s = step_decay(0.8, 0.5, every=3)
    assert [s(t) for t in range(8)] == [0.8, 0.8, 0.8, 0.4, 0.4, 0.4, 0.2, 0.2]


def test_exponential_and_inverse_time():
    e = exponential(2.0, 0.5)
    assert e(0) == 2.0
    assert e(2) == pytest.approx(2.0 * math.exp(-1.0), rel=1e-15)
    i = inverse_time(1.0, 0.25)
    assert [i(0), i(4), i(12)] == [1.0, 0.5, 0.25]


def test_cosine_endpoints_middle_and_after():
    s = cosine(1.0, total_steps=100, final=0.1)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(0.55, rel=1e-14)  # half-way: the mean of v0 and final
    assert s(25) == pytest.approx(0.1 + 0.9 * (1 + math.sqrt(0.5)) / 2, rel=1e-14)
    assert s(100) == 0.1 and s(1000) == 0.1
    values = [s(t) for t in range(101)]
    assert all(a >= b for a, b in zip(values, values[1:]))  # monotone


def test_ramp_for_momentum_annealing():
    s = ramp(0.5, 0.99, steps=7)
    assert s(0) == 0.5
    assert s(7) == 0.99 and s(70) == 0.99
    assert s(2) == pytest.approx(0.5 + 0.49 * 2 / 7, rel=1e-15)
    down = ramp(1.0, 0.0, steps=4)
    assert [down(t) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_warmup_of_a_constant_is_linear():
    s = warmup(0.4, steps=4)
    assert [s(t) for t in range(6)] == pytest.approx([0.1, 0.2, 0.3, 0.4, 0.4, 0.4], rel=1e-15)
    s = warmup(constant(1.0), steps=2, start=0.5)
    assert [s(0), s(1), s(2)] == [0.75, 1.0, 1.0]


def test_warmup_composes_with_cosine_without_shifting_it():
    inner = cosine(1.0, total_steps=10)
    s = warmup(inner, steps=4)
    for t in range(4):
        assert s(t) == pytest.approx(inner(t) * (t + 1) / 4, rel=1e-15)
    assert s(3) == inner(3)  # the hand-over step is exactly the inner value
    for t in range(4, 15):
        assert s(t) == inner(t)
    assert s(10) == 0.0


def test_warmup_of_warmup_and_step_decay():
    s = warmup(step_decay(1.0, 0.5, every=2), steps=2)
    assert [s(0), s(1), s(2), s(3), s(4)] == [0.5, 1.0, 0.5, 0.5, 0.25]
    w2 = warmup(warmup(1.0, steps=4), steps=2)
    assert w2(0) == pytest.approx(0.25 * 0.5, rel=1e-15)


@pytest.mark.parametrize(
    "s",
    [
        constant(0.3),
        step_decay(0.1, 0.1, 1000),
        exponential(1.0, 1e-3),
        inverse_time(0.5, 0.01),
        cosine(0.1, 500, final=1e-4),
        ramp(0.5, 0.99, 100),
        warmup(cosine(0.1, 500), 20, start=1e-3),
        warmup(warmup(1.0, 3), 2),
    ],
)
def test_dict_round_trip_through_json(s):
    d = json.loads(json.dumps(s.to_dict()))
    back = schedule_from_dict(d)
    assert back == s
    assert [back(t) for t in (0, 1, 17, 499, 5000)] == [s(t) for t in (0, 1, 17, 499, 5000)]


def test_registry_and_kinds():
    assert set(SCHEDULES) == {
        "constant",
        "step_decay",
        "exponential",
        "inverse_time",
        "cosine",
        "ramp",
        "warmup",
        "polynomial",
        "cosine_restarts",
        "one_cycle",
        "reduce_on_plateau",
    }
    assert cosine(1.0, 10).to_dict() == {
        "kind": "cosine",
        "v0": 1.0,
        "total_steps": 10,
        "final": 0.0,
    }


def test_as_schedule():
    assert as_schedule(0.1) == constant(0.1)
    assert as_schedule(2) == constant(2.0)
    c = cosine(1.0, 10)
    assert as_schedule(c) is c
    assert as_schedule({"kind": "constant", "value": 0.5}) == constant(0.5)
    f = lambda t: 1.0  # noqa: E731 - plain callables are passed through
    assert as_schedule(f) is f
    with pytest.raises(InputError, match="schedule"):
        as_schedule("fast")
    with pytest.raises(InputError):
        as_schedule(True)
    with pytest.raises(InputError, match="non-negative"):
        as_schedule(-0.1)


def test_steps_accept_numpy_integers_and_reject_bad_values():
    s = cosine(1.0, 10)
    assert s(np.int64(5)) == s(5)
    assert s(np.array(5, dtype=np.int64)) == s(5)
    for bad in (-1, 1.5, "3", None, True):
        with pytest.raises(InputError, match="step"):
            s(bad)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: constant(-1.0), "constant value"),
        (lambda: constant(float("nan")), "constant value"),
        (lambda: step_decay(0.1, 0.0, 10), "factor"),
        (lambda: step_decay(0.1, 1.5, 10), "factor"),
        (lambda: step_decay(0.1, 0.5, 0), "every"),
        (lambda: step_decay(0.1, 0.5, 2.5), "every"),
        (lambda: step_decay(-0.1, 0.5, 2), "v0"),
        (lambda: exponential(0.1, -1.0), "k"),
        (lambda: inverse_time(0.1, -1.0), "k"),
        (lambda: cosine(0.1, 0), "total_steps"),
        (lambda: cosine(0.1, 10, final=-1.0), "final"),
        (lambda: ramp(0.5, 0.9, -3), "steps"),
        (lambda: ramp(-0.5, 0.9, 3), "start"),
        (lambda: warmup(cosine(0.1, 10), 0), "steps"),
        (lambda: warmup(lambda t: 1.0, 3), "warmup inner"),
    ],
)
def test_validation(make, match):
    with pytest.raises(InputError, match=match):
        make()


@pytest.mark.parametrize(
    "d, match",
    [
        ({"kind": "triangle"}, "unknown schedule kind"),
        ({"v0": 1.0}, "kind"),
        ({"kind": "cosine", "v0": 1.0}, "missing.*total_steps"),
        ({"kind": "cosine", "v0": 1.0, "total_steps": 5, "speed": 2}, "unknown field.*speed"),
        ({"kind": "warmup", "inner": {"kind": "nope"}, "steps": 3}, "unknown schedule kind"),
        ([1, 2], "dict"),
    ],
)
def test_from_dict_errors(d, match):
    with pytest.raises(InputError, match=match):
        schedule_from_dict(d)


def test_schedules_are_frozen_and_hashable():
    s = cosine(1.0, 10)
    assert isinstance(s, Schedule)
    with pytest.raises(AttributeError):
        s.v0 = 2.0
    assert len({s, cosine(1.0, 10), constant(1.0)}) == 2
