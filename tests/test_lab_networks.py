"""The lab's network experiments (overparameterization, adaptive, initialization, batchnorm,
regularization, double-descent, generalization-gap): each quick variant runs, every claim
holds, and its result saves.

Every quick variant runs on data that needs no files: the bundled digits, the generated spiral
or random Gaussian inputs, so these tests never skip. MNIST is the data of the full variants;
one test runs a shortened ``generalization-gap`` on it through the ``mnist_path`` fixture
(skipped where the files are absent).
"""


import numpy as np
import pytest

import steepest.lab
from steepest.errors import InputError

QUICK = ("overparameterization", "adaptive", "initialization", "batchnorm", "regularization",
         "double-descent", "generalization-gap")


@pytest.fixture(autouse=True)
def one_blas_thread():
    """One BLAS thread per test: these networks multiply small matrices, which two threads
    slow down several times over on a loaded 2-core machine (the numbers do not change)."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.mark.parametrize("name", QUICK)
def test_quick_variant(name, tmp_path, check_lab_result):
    check_lab_result(steepest.lab.run(name, quick=True), tmp_path)


def test_generalization_gap_on_mnist(tmp_path, mnist_path, monkeypatch, check_lab_result):
    monkeypatch.setenv("STEEPEST_MNIST_DIR", str(mnist_path))
    result = steepest.lab.run("generalization-gap", quick=True, dataset="mnist", n_train=300,
                              hidden=256, shuffles=1)
    check_lab_result(result, tmp_path)


def test_listed_with_their_options():
    listed = {e["name"]: e for e in steepest.lab.listing()}
    assert set(QUICK) <= set(listed)
    assert listed["overparameterization"]["options"]["widths"] == (4, 8, 16, 32, 64, 128, 256)
    assert listed["regularization"]["options"]["noise"] == 0.2


@pytest.mark.parametrize("name, options, words", [
    ("overparameterization", {"widths": [16]}, "at least two different hidden sizes"),
    ("overparameterization", {"seeds": 2}, "seeds must be at least 4"),
    ("adaptive", {"rules": ["sgd", "lion2"]}, "unknown update rule"),
    ("initialization", {"inputs": "cifar"}, "unknown inputs"),
    ("batchnorm", {"init": "orthogonal"}, "unknown initialization"),
    ("regularization", {"noise": 1.0}, "noise must be a fraction"),
    ("regularization", {"kinds": ["l3"]}, "unknown regularizer"),
    ("double-descent", {"widths": [4, 8]}, "at least three hidden sizes"),
    ("generalization-gap", {"shuffles": 0}, "shuffles must be a positive integer"),
    ("batchnorm", {"momentum": 0.5}, "takes no option momentum"),
])
def test_bad_options_are_refused_by_name(name, options, words):
    with pytest.raises(InputError, match=words):
        steepest.lab.run(name, quick=True, **options)


def test_label_noise_changes_exactly_the_drawn_labels():
    from steepest.build import build_data
    from steepest.config import parse_config
    from steepest.lab.experiments.generalization import with_label_noise

    data = build_data(parse_config({"data": {"name": "digits"}}))
    noisy = with_label_noise(data, 0.3, seed=4)
    changed = noisy.y_train != data.y_train
    assert 0.25 < changed.mean() < 0.35  # every drawn label moves to another class
    assert noisy.y_train.min() >= 0 and noisy.y_train.max() < data.dataset.n_classes
    assert np.array_equal(noisy.y_val, data.y_val) and np.array_equal(noisy.y_test, data.y_test)
    assert np.array_equal(with_label_noise(data, 0.3, seed=4).y_train, noisy.y_train)
    assert with_label_noise(data, 0.0, seed=4) is data


def test_the_lecture_preference_example():
    from steepest.lab.experiments.regularization import _preference

    p = _preference()
    assert p["score_w1"] == p["score_w2"] == 1.0
    assert (p["l2_w1"], p["l2_w2"]) == (1.0, 0.25)
    assert (p["l1_w1"], p["l1_w2"]) == (1.0, 1.0)
