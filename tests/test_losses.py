"""Losses against the lecture's worked numbers, hand computations and their own gradients."""

import numpy as np
import pytest

from steepest import InputError, l1_loss, l2_loss, softmax_loss, svm_loss
from steepest.gradcheck import numerical_gradient

# The lecture example: scores for cat, car, frog of three images whose classes are cat, car, frog.
SCORES = np.array([[3.2, 5.1, -1.7], [1.3, 4.9, 2.0], [2.2, 2.5, -3.1]])
LABELS = np.array([0, 1, 2])


def test_svm_lecture_numbers():
    per_example = [svm_loss(SCORES[i : i + 1], LABELS[i : i + 1])[0] for i in range(3)]
    assert per_example == pytest.approx([2.9, 0.0, 12.9])
    loss, _ = svm_loss(SCORES, LABELS)
    assert loss == pytest.approx((2.9 + 0 + 12.9) / 3)
    assert round(loss, 2) == 5.27


def test_softmax_lecture_number():
    loss, _ = softmax_loss(SCORES[:1], LABELS[:1])
    # -log(e^3.2 / (e^3.2 + e^5.1 + e^-1.7)), natural log
    expected = -np.log(np.exp(3.2) / np.exp([3.2, 5.1, -1.7]).sum())
    assert loss == pytest.approx(expected)
    assert round(loss, 2) == 2.04


def test_scaling_weights_keeps_zero_svm_loss_at_zero():
    # The car example has zero loss; any W that achieves zero loss keeps it when scaled by 2.
    from steepest import linear

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4))
    model = linear(4, 3, loss="svm")
    W = rng.standard_normal((4, 3))
    y = np.argmax(X @ W, axis=1)
    # make the margins comfortably larger than 1 by scaling until the loss is zero
    theta = model.layout.flatten({"fc1.W": W, "fc1.b": np.zeros(3)})
    while model.loss(theta, X, y) > 0:
        theta *= 2
    assert model.loss(theta, X, y) == 0.0
    assert model.loss(2 * theta, X, y) == 0.0
    assert svm_loss(2 * SCORES[1:2], LABELS[1:2])[0] == 0.0


def test_crammer_singer_by_hand():
    # row 0: max over j != 0 is 5.1; 1 + 5.1 - 3.2 = 2.9; row 2: 1 + 2.5 - (-3.1) = 6.6
    loss, d = svm_loss(SCORES, LABELS, variant="crammer-singer")
    assert loss == pytest.approx((2.9 + 0.0 + 6.6) / 3)
    expected = np.zeros((3, 3))
    expected[0, 1], expected[0, 0] = 1 / 3, -1 / 3
    expected[2, 1], expected[2, 2] = 1 / 3, -1 / 3
    np.testing.assert_allclose(d, expected)


def test_softmax_is_stable_for_huge_scores():
    s = np.array([[1000.0, 0.0, -1000.0], [5e307, 5e307, 0.0]])
    loss, d = softmax_loss(s, [0, 1])
    assert np.isfinite(loss) and np.isfinite(d).all()
    assert loss == pytest.approx(np.log(2) / 2)


def test_softmax_initial_loss_is_log_c():
    # the lecture's sanity check: equal scores give -log(1/C)
    loss, _ = softmax_loss(np.zeros((7, 10)), np.arange(7))
    assert loss == pytest.approx(np.log(10))


def test_regression_losses_by_hand():
    pred = np.array([[1.0, 2.0], [0.0, -1.0]])
    target = np.array([[0.0, 0.0], [1.0, 1.0]])
    loss, d = l2_loss(pred, target)
    assert loss == pytest.approx((1 + 4 + 1 + 4) / 2)
    np.testing.assert_allclose(d, 2 * (pred - target) / 2)
    loss, d = l1_loss(pred, target)
    assert loss == pytest.approx((1 + 2 + 1 + 2) / 2)
    np.testing.assert_allclose(d, np.sign(pred - target) / 2)


@pytest.mark.parametrize(
    "fn",
    [
        softmax_loss,
        lambda s, y: svm_loss(s, y, margin=1.0),
        lambda s, y: svm_loss(s, y, variant="crammer-singer"),
        lambda s, y: l2_loss(s, np.eye(s.shape[1])[y]),
        lambda s, y: l1_loss(s, np.eye(s.shape[1])[y] + 0.37),
    ],
    ids=["softmax", "svm-ww", "svm-cs", "l2", "l1"],
)
def test_loss_gradients_match_numerical(fn, rng):
    s = rng.standard_normal((6, 5)) * 3
    y = rng.integers(0, 5, size=6)
    _, d = fn(s, y)
    num = numerical_gradient(lambda t: fn(t.reshape(6, 5), y)[0], s.ravel()).reshape(6, 5)
    np.testing.assert_allclose(d, num, rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(
    "scores, y, match",
    [
        (np.zeros((3, 4)), [0, 1, 4], r"label 4; labels must be in \[0, 4\)"),
        (np.zeros((3, 4)), [0, -1, 2], r"label -1"),
        (np.zeros((3, 4)), [0, 1], r"2 labels but X has 3 rows"),
        (np.zeros(4), [0], r"scores must be 2-D"),
        (np.zeros((2, 4)), [0.5, 1], r"integer class labels"),
    ],
)
def test_bad_labels_are_named(scores, y, match):
    with pytest.raises(InputError, match=match):
        softmax_loss(scores, y)


def test_unknown_hinge_variant():
    with pytest.raises(InputError, match="unknown hinge variant 'ovr'; allowed: weston-watkins"):
        svm_loss(SCORES, LABELS, variant="ovr")
