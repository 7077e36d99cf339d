"""train_val_split, batch_indices and the synthetic generators."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from steepest.data import batch_indices, make_blobs, make_spiral, split_indices, train_val_split
from steepest.errors import InputError

# ------------------------------------------------------------------------------ splits


def _data(n=100, k=3, seed=0):
    y = np.random.default_rng(seed).integers(0, k, n)
    X = np.arange(n, dtype=np.float64)[:, None] * np.ones((1, 2))  # row i holds i
    return X, y


def test_split_partitions_rows_and_keeps_pairs():
    X, y = _data()
    X_tr, X_va, y_tr, y_va = train_val_split(X, y, 0.2, seed=1)
    assert len(X_tr) == 80 and len(X_va) == 20
    rows = np.concatenate([X_tr[:, 0], X_va[:, 0]]).astype(int)
    assert sorted(rows) == list(range(100))
    np.testing.assert_array_equal(y[X_tr[:, 0].astype(int)], y_tr)
    np.testing.assert_array_equal(y[X_va[:, 0].astype(int)], y_va)
    assert (np.diff(X_tr[:, 0]) > 0).all()  # original order kept


def test_split_is_deterministic_for_a_seed():
    X, y = _data()
    a = train_val_split(X, y, seed=5)
    b = train_val_split(X, y, seed=5)
    c = train_val_split(X, y, seed=6)
    for u, v in zip(a, b, strict=True):
        np.testing.assert_array_equal(u, v)
    assert not np.array_equal(a[1], c[1])
    assert len(a[1]) == 10  # default fraction 0.1


def test_generator_seed_is_accepted():
    X, y = _data()
    a = train_val_split(X, y, seed=np.random.default_rng(3))
    b = train_val_split(X, y, seed=np.random.default_rng(3))
    np.testing.assert_array_equal(a[3], b[3])


def test_stratified_counts_are_proportional():
    y = np.repeat([0, 1, 2], [50, 30, 20])
    X = np.zeros((100, 1))
    _, _, _, y_va = train_val_split(X, y, val_size=10, seed=0)
    assert np.bincount(y_va).tolist() == [5, 3, 2]
    _, _, _, y_va = train_val_split(X, y, val_fraction=0.15, seed=0)
    assert np.bincount(y_va, minlength=3).tolist() == [8, 4, 3]  # 7.5, 4.5, 3 -> ties to lower


def test_unstratified_split():
    y = np.repeat([0, 1], [90, 10])
    counts = set()
    for seed in range(20):
        _, val = split_indices(y, val_size=10, seed=seed, stratify=False)
        counts.add(int((y[val] == 1).sum()))
    assert len(counts) > 1  # class proportions vary without stratification


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.integers(0, 6), min_size=2, max_size=200),
    st.floats(0.01, 0.99),
    st.integers(0, 10_000),
)
def test_split_properties(labels, frac, seed):
    y = np.array(labels)
    train, val = split_indices(y, frac, seed=seed)
    n = len(y)
    assert len(val) == min(max(round(frac * n), 1), n - 1)
    assert np.array_equal(np.sort(np.concatenate([train, val])), np.arange(n))
    k = len(val)
    for c in np.unique(y):
        ideal = k * (y == c).sum() / n
        assert abs((y[val] == c).sum() - ideal) < 1


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"val_fraction": 0.0}, "val_fraction"),
        ({"val_fraction": 1.0}, "val_fraction"),
        ({"val_size": 100}, "val_size"),
        ({"val_size": 0}, "val_size"),
        ({"val_fraction": 0.1, "val_size": 3}, "not both"),
        ({"seed": "abc"}, "seed"),
    ],
)
def test_split_argument_errors(kw, message):
    X, y = _data()
    with pytest.raises(InputError, match=message):
        train_val_split(X, y, **kw)


def test_split_shape_errors():
    with pytest.raises(InputError, match="same number of rows"):
        train_val_split(np.zeros((5, 2)), np.zeros(4, dtype=int))
    with pytest.raises(InputError, match="1-D"):
        train_val_split(np.zeros((5, 2)), np.zeros((5, 1), dtype=int))
    with pytest.raises(InputError, match="at least 2 rows"):
        train_val_split(np.zeros((1, 2)), np.zeros(1, dtype=int))


# ------------------------------------------------------------------------------ batches


def test_batches_cover_every_index_once():
    rng = np.random.default_rng(0)
    batches = list(batch_indices(103, 10, rng))
    assert [len(b) for b in batches] == [10] * 10 + [3]
    assert sorted(np.concatenate(batches).tolist()) == list(range(103))


def test_each_epoch_is_a_fresh_permutation():
    rng = np.random.default_rng(0)
    e1 = np.concatenate(list(batch_indices(50, 7, rng)))
    e2 = np.concatenate(list(batch_indices(50, 7, rng)))
    assert sorted(e1) == sorted(e2) and not np.array_equal(e1, e2)
    again = np.concatenate(list(batch_indices(50, 7, np.random.default_rng(0))))
    np.testing.assert_array_equal(e1, again)


def test_drop_last():
    batches = list(batch_indices(103, 10, np.random.default_rng(1), drop_last=True))
    assert [len(b) for b in batches] == [10] * 10
    assert len(set(np.concatenate(batches).tolist())) == 100


@pytest.mark.parametrize(("n", "bs"), [(100, 10), (101, 10), (5, 8)])
def test_with_replacement(n, bs):
    batches = list(batch_indices(n, bs, np.random.default_rng(2), replace=True))
    assert len(batches) == math.ceil(n / bs)
    assert all(len(b) == bs for b in batches)
    allidx = np.concatenate(batches)
    assert allidx.min() >= 0 and allidx.max() < n
    if n == 100:
        assert len(np.unique(allidx)) < n  # with replacement there are repeats


def test_with_replacement_drop_last_uses_floor():
    batches = list(batch_indices(101, 10, np.random.default_rng(2), replace=True, drop_last=True))
    assert len(batches) == 10


def test_batch_size_larger_than_n():
    batches = list(batch_indices(5, 8, np.random.default_rng(0)))
    assert len(batches) == 1 and sorted(batches[0]) == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("args", "kw", "message"),
    [
        ((0, 5, np.random.default_rng()), {}, "n must be a positive"),
        ((10, 0, np.random.default_rng()), {}, "batch_size"),
        ((10, 2.5, np.random.default_rng()), {}, "batch_size"),
        ((10, 5, 0), {}, "Generator"),
        ((10, 5, np.random.RandomState(0)), {}, "Generator"),
        ((5, 8, np.random.default_rng()), {"drop_last": True}, "no batch"),
    ],
)
def test_batch_argument_errors_raise_at_call(args, kw, message):
    with pytest.raises(InputError, match=message):
        batch_indices(*args, **kw)  # no iteration needed


# ------------------------------------------------------------------------------ synthetic


def test_spiral_geometry():
    X, y = make_spiral(n_per_class=50, n_classes=3, noise=0.0, seed=0)
    assert X.shape == (150, 2) and y.tolist() == [0] * 50 + [1] * 50 + [2] * 50
    r = np.linspace(0, 1, 50)
    for j in range(3):
        pts = X[y == j]
        np.testing.assert_allclose(np.hypot(pts[:, 0], pts[:, 1]), r, atol=1e-12)
        t = np.linspace(4 * j, 4 * (j + 1), 50)
        np.testing.assert_allclose(pts[1:], np.c_[r * np.sin(t), r * np.cos(t)][1:], atol=1e-12)


def test_spiral_noise_and_determinism():
    a = make_spiral(seed=4)
    b = make_spiral(seed=4)
    c = make_spiral(seed=5)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])
    # radius is unaffected by angular noise
    np.testing.assert_allclose(np.hypot(*a[0][:100].T), np.linspace(0, 1, 100), atol=1e-12)


def test_blobs():
    X, y = make_blobs(n_per_class=400, n_classes=4, n_features=3, std=0.1, seed=1)
    assert X.shape == (1600, 3) and np.bincount(y).tolist() == [400] * 4
    means = np.array([X[y == k].mean(axis=0) for k in range(4)])
    centers = np.random.default_rng(1).uniform(-10, 10, size=(4, 3))
    np.testing.assert_allclose(means, centers, atol=0.03)
    stds = np.array([X[y == k].std(axis=0) for k in range(4)])
    np.testing.assert_allclose(stds, 0.1, rtol=0.15)
    np.testing.assert_array_equal(make_blobs(seed=2)[0], make_blobs(seed=2)[0])


@pytest.mark.parametrize(
    ("fn", "kw", "message"),
    [
        (make_spiral, {"n_per_class": 0}, "n_per_class"),
        (make_spiral, {"noise": -1}, "noise"),
        (make_blobs, {"std": float("nan")}, "std"),
        (make_blobs, {"n_features": 0}, "n_features"),
        (make_blobs, {"seed": -3}, "seed"),
    ],
)
def test_generator_argument_errors(fn, kw, message):
    with pytest.raises(InputError, match=message):
        fn(**kw)
