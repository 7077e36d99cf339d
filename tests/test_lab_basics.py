"""The lab's optimization-basics experiments (search strategies, numerical gradient, step size,
learning rates, conditioning, mini-batches): each quick variant runs, every claim holds, and
its result saves.

``search-strategies``, ``step-size`` and ``learning-rates`` are about MNIST and need its files
(the ``mnist_path`` fixture skips them where they are absent); the other three run on the
bundled digits or on quadratics and need nothing.
"""


import pytest

import steepest.lab
from steepest.errors import InputError

MNIST = ("search-strategies", "step-size", "learning-rates")
OFFLINE = ("numerical-gradient", "conditioning", "minibatch")


@pytest.mark.parametrize("name", OFFLINE)
def test_offline_experiment_quick(name, tmp_path, check_lab_result):
    check_lab_result(steepest.lab.run(name, quick=True), tmp_path)


@pytest.mark.parametrize("name", MNIST)
def test_mnist_experiment_quick(name, tmp_path, mnist_path, monkeypatch, check_lab_result):
    monkeypatch.setenv("STEEPEST_MNIST_DIR", str(mnist_path))
    check_lab_result(steepest.lab.run(name, quick=True), tmp_path)


@pytest.mark.parametrize("name, options, words", [
    ("learning-rates", {"rates": [1.0, 0.1]}, "four positive learning rates"),
    ("conditioning", {"kappas": [1, 10]}, "at least two of them above 1"),
    ("conditioning", {"tol": 2.0}, "tol must be between 0 and 1"),
    ("numerical-gradient", {"widths": [8]}, "at least two positive hidden sizes"),
])
def test_bad_options_are_refused_by_name(name, options, words):
    with pytest.raises(InputError, match=words):
        steepest.lab.run(name, quick=True, **options)


def test_best_parameters_of_the_quadratic_methods():
    from steepest.lab.experiments.conditioning import best_parameters

    p = best_parameters(100.0)
    assert p["gradient descent"] == pytest.approx((2 / 101, 0.0, 99 / 101))
    assert p["heavy ball"] == pytest.approx((4 / 121, (9 / 11) ** 2, 9 / 11))
    # kappa = 1: every method lands on the minimum in one step
    assert all(step == pytest.approx(1.0) and rate == pytest.approx(0.0)
               for step, _, rate in best_parameters(1.0).values())
