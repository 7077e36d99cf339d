"""Preprocessor: statistics from training rows only, PCA / whitening, state round trips."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.decomposition import PCA

from steepest.data import PREPROCESS_METHODS, Preprocessor
from steepest.errors import InputError


def _correlated(n=2000, seed=0, dtype=np.float64):
    """Gaussian rows with covariance R diag(25, 4, 1, 0.25) R^T and mean (3, -2, 1, 0)."""
    rng = np.random.default_rng(seed)
    R, _ = np.linalg.qr(rng.standard_normal((4, 4)))
    Z = rng.standard_normal((n, 4)) * np.array([5.0, 2.0, 1.0, 0.5])
    return (Z @ R.T + np.array([3.0, -2.0, 1.0, 0.0])).astype(dtype), R


@pytest.fixture(scope="module")
def splits():
    X, R = _correlated(3000)
    return X[:2000], X[2000:] + 0.5, R  # the test split is shifted on purpose


def test_statistics_come_from_training_rows_only(splits):
    X_train, X_test, _ = splits
    pre = Preprocessor("standardize").fit(X_train)
    want = (X_test - X_train.mean(axis=0)) / X_train.std(axis=0)
    np.testing.assert_allclose(pre.transform(X_test), want, rtol=1e-12, atol=1e-12)
    Z = pre.transform(X_test)
    assert np.all(np.abs(Z.mean(axis=0)) > 0.05)  # not re-centred on the test rows


def test_center_and_none(splits):
    X_train, X_test, _ = splits
    np.testing.assert_allclose(
        Preprocessor("center").fit(X_train).transform(X_test), X_test - X_train.mean(axis=0)
    )
    out = Preprocessor("none").fit_transform(X_train)
    np.testing.assert_array_equal(out, X_train)
    assert out is not X_train


def test_standardize_constant_features_map_to_zero():
    X = np.c_[np.linspace(0, 1, 50), np.full(50, 0.3), np.zeros(50)].astype(np.float32)
    pre = Preprocessor("standardize").fit(X)
    Z = pre.transform(X)
    assert np.isfinite(Z).all()
    assert (Z[:, 1:] == 0).all()
    test = np.array([[0.5, 7.0, 1.0]], dtype=np.float32)
    assert (pre.transform(test)[0, 1:] == 0).all()
    np.testing.assert_allclose(pre.inverse_transform(Z), X, atol=1e-6)


def test_minmax():
    X = np.c_[np.linspace(-3, 5, 20), np.full(20, 2.0)]
    pre = Preprocessor("minmax").fit(X)
    Z = pre.transform(X)
    assert Z[:, 0].min() == -1 and Z[:, 0].max() == 1 and (Z[:, 1] == 0).all()
    np.testing.assert_allclose(pre.transform([[9.0, 4.0]]), [[2.0, 0.0]])
    np.testing.assert_allclose(pre.inverse_transform(Z), X)


def test_pca_keeps_top_variance_directions(splits):
    X_train, _, R = splits
    pre = Preprocessor("pca", n_components=2).fit(X_train)
    W = pre.params["components"]
    assert W.shape == (2, 4)
    np.testing.assert_allclose(W @ W.T, np.eye(2), atol=1e-12)
    # the top directions are the first two columns of R (variances 25 and 4), up to sign
    np.testing.assert_allclose(np.abs(W @ R[:, :2]), np.eye(2), atol=0.05)
    ev = pre.params["explained_variance"]
    assert ev[0] > ev[1] and ev[0] == pytest.approx(25, rel=0.1)
    Z = pre.transform(X_train)
    np.testing.assert_allclose(Z.var(axis=0), ev, rtol=1e-9)


def test_pca_matches_scikit_learn_up_to_sign(splits):
    X_train, X_test, _ = splits
    ours = Preprocessor("pca", n_components=3).fit(X_train).transform(X_test)
    theirs = PCA(n_components=3, svd_solver="full").fit(X_train).transform(X_test)
    signs = np.sign(np.sum(ours * theirs, axis=0))
    np.testing.assert_allclose(ours, theirs * signs, rtol=1e-7, atol=1e-9)


def test_pca_variance_fraction(splits):
    X_train, _, _ = splits
    # variances 25, 4, 1, 0.25: 25/30.25 = 0.83, 29/30.25 = 0.96
    assert Preprocessor("pca", n_components=0.8).fit(X_train).n_features_out == 1
    assert Preprocessor("pca", n_components=0.9).fit(X_train).n_features_out == 2
    assert Preprocessor("pca", n_components=0.999).fit(X_train).n_features_out == 4


def test_whitening_gives_identity_covariance(splits):
    X_train, X_test, _ = splits
    pre = Preprocessor("whiten", eps=1e-10).fit(X_train)
    Z = pre.transform(X_train)
    np.testing.assert_allclose(np.cov(Z, rowvar=False, bias=True), np.eye(4), atol=1e-6)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    Zt = pre.transform(X_test)
    assert np.abs(Zt.mean(axis=0)).max() > 0.05  # test rows use the training mean


def test_whitening_eps_shrinks_small_directions(splits):
    X_train, _, _ = splits
    pre = Preprocessor("whiten", eps=1.0).fit(X_train)
    lam = pre.params["explained_variance"]
    Z = pre.transform(X_train)
    np.testing.assert_allclose(Z.var(axis=0), lam / (lam + 1.0), rtol=1e-9)


@pytest.mark.parametrize("method", PREPROCESS_METHODS)
def test_inverse_transform_round_trip(splits, method):
    X_train, X_test, _ = splits
    pre = Preprocessor(method).fit(X_train)
    np.testing.assert_allclose(pre.inverse_transform(pre.transform(X_test)), X_test, atol=1e-9)


@pytest.mark.parametrize("method", PREPROCESS_METHODS)
def test_state_round_trip_through_npz(tmp_path, splits, method):
    X_train, X_test, _ = splits
    kw = {"n_components": 3} if method in ("pca", "whiten") else {}
    pre = Preprocessor(method, **kw).fit(X_train)
    state = pre.state()
    for v in state.values():
        assert isinstance(v, (str, int, float, np.ndarray))
    np.savez(tmp_path / "pre.npz", **state)
    with np.load(tmp_path / "pre.npz", allow_pickle=False) as f:
        back = Preprocessor.from_state(dict(f))
    assert back.method == method and back.n_features_in == 4
    np.testing.assert_array_equal(back.transform(X_test), pre.transform(X_test))


def test_float32_stays_float32(splits):
    X_train, X_test, _ = splits
    for method in PREPROCESS_METHODS:
        pre = Preprocessor(method).fit(X_train.astype(np.float32))
        assert pre.transform(X_test.astype(np.float32)).dtype == np.float32
        assert pre.transform(X_test).dtype == np.float64
        assert pre.params.get("mean", np.zeros(1)).dtype == np.float64


def test_large_offsets_are_handled_in_float64():
    rng = np.random.default_rng(0)
    X = (1e4 + rng.standard_normal((5000, 3))).astype(np.float32)
    Z = Preprocessor("standardize").fit_transform(X)
    np.testing.assert_allclose(Z.std(axis=0), 1, rtol=1e-3)
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-3)


@pytest.mark.parametrize(
    ("args", "kw", "message"),
    [
        (("zca",), {}, "unknown preprocessing method 'zca'; allowed: none, center"),
        (("standardize",), {"n_components": 2}, "only applies to pca and whiten"),
        (("pca",), {"n_components": 0}, ">= 1"),
        (("pca",), {"n_components": 1.5}, r"\(0, 1\)"),
        (("pca",), {"n_components": "all"}, "int or a float"),
        (("whiten",), {"eps": -1}, "eps"),
    ],
)
def test_constructor_errors(args, kw, message):
    with pytest.raises(InputError, match=message):
        Preprocessor(*args, **kw)


def test_usage_errors(splits):
    X_train, _, _ = splits
    with pytest.raises(InputError, match="not fitted"):
        Preprocessor("center").transform(X_train)
    with pytest.raises(InputError, match="exceeds the 4 features"):
        Preprocessor("pca", n_components=5).fit(X_train)
    pre = Preprocessor("center").fit(X_train)
    with pytest.raises(InputError, match="3 features per row but the model expects 4"):
        pre.transform(X_train[:, :3])
    bad = X_train.copy()
    bad[0, 0] = np.nan
    with pytest.raises(InputError, match="NaN"):
        Preprocessor().fit(bad)
    with pytest.raises(InputError, match="2-D"):
        Preprocessor().fit(np.zeros(5))


def test_bad_state(splits):
    X_train, _, _ = splits
    state = Preprocessor("pca", n_components=2).fit(X_train).state()
    with pytest.raises(InputError, match="lacks array 'components'"):
        Preprocessor.from_state({k: v for k, v in state.items() if k != "components"})
    with pytest.raises(InputError, match="explained_variance"):
        Preprocessor.from_state({**state, "explained_variance": np.ones(3)})
    with pytest.raises(InputError, match="not a preprocessor state"):
        Preprocessor.from_state({"method": "pca"})
