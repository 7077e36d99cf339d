"""Feature preprocessing fitted on training rows only, then applied to every split.

Methods (statistics computed in float64 over the rows given to :meth:`Preprocessor.fit`):

``none``
    identity.
``center``
    ``z = x - mu``.
``standardize``
    ``z = (x - mu) / sigma`` per feature (population std). Features that are constant on the
    training rows (e.g. MNIST's border pixels) have ``sigma = 0`` and map to 0 everywhere
    instead of being divided by zero.
``minmax``
    ``z = 2 (x - lo) / (hi - lo) - 1``, so training values span [-1, 1]; constant features map
    to 0. Other splits may fall outside [-1, 1].
``pca``
    ``z = (x - mu) W_k`` with ``W_k`` the top-``k`` eigenvectors of the covariance
    ``C = (X - mu)^T (X - mu) / n``, sorted by decreasing eigenvalue ``lambda``; each
    eigenvector's sign is fixed so its largest-magnitude entry is positive.
``whiten``
    PCA whitening, ``z_j = (x - mu) . w_j / sqrt(lambda_j + eps)``; the training rows get
    covariance ``diag(lambda / (lambda + eps))``, i.e. about the identity.

``n_components`` (pca / whiten only) is an int ``k``, a float in (0, 1) meaning the smallest
``k`` that keeps that fraction of the total variance, or None for all features.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._validate import choice, features, nonneg_float
from ..errors import InputError

METHODS = ("none", "center", "standardize", "minmax", "pca", "whiten")
_STATE_ARRAYS = {
    "none": (),
    "center": ("mean",),
    "standardize": ("mean", "std"),
    "minmax": ("min", "max"),
    "pca": ("mean", "components", "explained_variance"),
    "whiten": ("mean", "components", "explained_variance"),
}
_ROW_BLOCK_ELEMS = 1 << 22  # rows per float64 block ~ 32 MiB, to bound temporary memory


def _out_dtype(X: np.ndarray) -> np.dtype:
    return np.result_type(X.dtype, np.float32)


def _row_blocks(n: int, d: int):
    step = max(1, _ROW_BLOCK_ELEMS // max(d, 1))
    for start in range(0, n, step):
        yield slice(start, min(start + step, n))


class Preprocessor:
    """Fit feature statistics on training rows, then transform any split with them.

    Parameters: ``method`` (one of :data:`METHODS`), ``n_components`` (pca/whiten), ``eps``
    (whiten's eigenvalue regulariser, >= 0). Outputs keep float32 inputs in float32 (float64
    inputs stay float64); the fitted statistics are float64.
    """

    def __init__(
        self,
        method: str = "standardize",
        n_components: int | float | None = None,
        eps: float = 1e-5,
    ) -> None:
        self.method = choice(method, METHODS, "preprocessing method")
        if n_components is not None and method not in ("pca", "whiten"):
            raise InputError(
                f"n_components only applies to pca and whiten, not to method {method!r}"
            )
        if n_components is not None:
            if isinstance(n_components, bool) or not isinstance(
                n_components, (int, float, np.integer, np.floating)
            ):
                raise InputError(f"n_components must be an int or a float, got {n_components!r}")
            if isinstance(n_components, (float, np.floating)) and not 0 < n_components < 1:
                raise InputError(
                    f"a float n_components is a variance fraction in (0, 1), got {n_components}"
                )
            if isinstance(n_components, (int, np.integer)) and n_components < 1:
                raise InputError(f"n_components must be >= 1, got {n_components}")
        self.n_components = n_components
        self.eps = nonneg_float(eps, "eps")
        self.n_features_in: int | None = None
        self.params: dict[str, np.ndarray] = {}

    def __repr__(self) -> str:
        fitted = "fitted" if self.fitted else "unfitted"
        return (
            f"Preprocessor(method={self.method!r}, n_components={self.n_components!r}, "
            f"eps={self.eps!r}) [{fitted}]"
        )

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`from_state`) has set the statistics."""
        return self.n_features_in is not None

    @property
    def n_features_out(self) -> int:
        """Number of output features (k for pca/whiten, else the input count)."""
        self._check_fitted()
        if self.method in ("pca", "whiten"):
            return int(self.params["components"].shape[0])
        return int(self.n_features_in)

    # ---------------------------------------------------------------------------- fitting

    def fit(self, X) -> Preprocessor:
        """Compute the statistics of ``X`` (n_samples, n_features); return ``self``."""
        X = features(X, "X")
        n, d = X.shape
        p: dict[str, np.ndarray] = {}
        m = self.method
        if m != "none" and m != "minmax":
            p["mean"] = X.mean(axis=0, dtype=np.float64)
        if m == "standardize":
            ssq = np.zeros(d)
            for rows in _row_blocks(n, d):
                dev = X[rows].astype(np.float64) - p["mean"]
                ssq += np.einsum("ij,ij->j", dev, dev)
            std = np.sqrt(ssq / n)
            constant = X.max(axis=0) == X.min(axis=0)
            std[constant] = 0.0
            p["std"] = std
        elif m == "minmax":
            p["min"] = X.min(axis=0).astype(np.float64)
            p["max"] = X.max(axis=0).astype(np.float64)
        elif m in ("pca", "whiten"):
            cov = np.zeros((d, d))
            for rows in _row_blocks(n, d):
                dev = X[rows].astype(np.float64) - p["mean"]
                cov += dev.T @ dev
            cov /= n
            evals, evecs = np.linalg.eigh(cov)
            evals = np.clip(evals[::-1], 0.0, None)
            evecs = evecs[:, ::-1]
            k = self._resolve_k(evals, d)
            comps = evecs[:, :k].T.copy()
            flip = comps[np.arange(k), np.argmax(np.abs(comps), axis=1)] < 0
            comps[flip] *= -1
            p["components"] = comps
            p["explained_variance"] = evals[:k].copy()
        self.params = p
        self.n_features_in = d
        return self

    def _resolve_k(self, evals: np.ndarray, d: int) -> int:
        nc = self.n_components
        if nc is None:
            return d
        if isinstance(nc, (float, np.floating)):
            total = evals.sum()
            if total <= 0:
                return 1
            cum = np.cumsum(evals) / total
            return int(min(np.searchsorted(cum, nc - 1e-12) + 1, d))
        if nc > d:
            raise InputError(f"n_components={nc} exceeds the {d} features of the training data")
        return int(nc)

    # ---------------------------------------------------------------------------- applying

    def _check_fitted(self) -> None:
        if not self.fitted:
            raise InputError(
                f"this {self.method!r} preprocessor is not fitted; call fit(X_train) first"
            )

    def _whiten_scale(self) -> np.ndarray:
        denom = np.sqrt(self.params["explained_variance"] + self.eps)
        return np.divide(1.0, denom, out=np.zeros_like(denom), where=denom > 0)

    def transform(self, X) -> np.ndarray:
        """Apply the fitted statistics to ``X``; returns a new array."""
        self._check_fitted()
        X = features(X, "X", n_features=self.n_features_in)
        dt = _out_dtype(X)
        p, m = self.params, self.method
        if m == "none":
            return X.astype(dt, copy=True)
        if m == "center":
            return X - p["mean"].astype(dt)
        if m == "standardize":
            std = p["std"]
            inv = np.divide(1.0, std, out=np.zeros_like(std), where=std > 0)
            return (X - p["mean"].astype(dt)) * inv.astype(dt)
        if m == "minmax":
            span = p["max"] - p["min"]
            scale = np.divide(2.0, span, out=np.zeros_like(span), where=span > 0)
            mid = (p["max"] + p["min"]) / 2
            return (X - mid.astype(dt)) * scale.astype(dt)
        W = p["components"].T
        if m == "whiten":
            W = W * self._whiten_scale()
        return (X - p["mean"].astype(dt)) @ W.astype(dt)

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z) -> np.ndarray:
        """Map transformed rows back to feature space.

        Exact for none/center/minmax/standardize on non-constant features (constant ones come
        back as their training value), and for pca/whiten when all components are kept;
        otherwise it is the projection onto the kept components. Whitened directions with
        ``lambda + eps == 0`` carry no information and come back as the mean.
        """
        self._check_fitted()
        Z = features(Z, "Z", n_features=self.n_features_out)
        dt = _out_dtype(Z)
        p, m = self.params, self.method
        if m == "none":
            return Z.astype(dt, copy=True)
        if m == "center":
            return Z + p["mean"].astype(dt)
        if m == "standardize":
            return Z * p["std"].astype(dt) + p["mean"].astype(dt)
        if m == "minmax":
            half = (p["max"] - p["min"]) / 2
            mid = (p["max"] + p["min"]) / 2
            return Z * half.astype(dt) + mid.astype(dt)
        W = p["components"]
        if m == "whiten":
            W = W * np.sqrt(p["explained_variance"] + self.eps)[:, None]
        return Z @ W.astype(dt) + p["mean"].astype(dt)

    # ---------------------------------------------------------------------------- state

    def state(self) -> dict[str, Any]:
        """Plain arrays and scalars describing this preprocessor (``np.savez``-able, no pickle).

        Keys: ``method`` (str), ``eps`` (float), ``n_components`` (int, -1 when unset),
        ``n_features`` (int) and the fitted float64 arrays of the method.
        """
        self._check_fitted()
        nc = self.n_components
        out: dict[str, Any] = {
            "method": self.method,
            "eps": float(self.eps),
            "n_components": -1 if nc is None else self.n_features_out,
            "n_features": int(self.n_features_in),
        }
        for key in _STATE_ARRAYS[self.method]:
            out[key] = self.params[key].copy()
        return out

    @classmethod
    def from_state(cls, state) -> Preprocessor:
        """Rebuild a fitted preprocessor from :meth:`state` (also from an ``np.load`` of it)."""
        try:
            method = str(np.asarray(state["method"]))
            eps = float(np.asarray(state["eps"]))
            nc = int(np.asarray(state["n_components"]))
            d = int(np.asarray(state["n_features"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"not a preprocessor state: {exc!r}") from exc
        choice(method, METHODS, "preprocessing method")
        if d < 1:
            raise InputError(f"preprocessor state n_features must be >= 1, got {d}")
        obj = cls(method, None if nc < 1 else nc, eps)
        params = {}
        for key in _STATE_ARRAYS[method]:
            if key not in state:
                raise InputError(f"preprocessor state for {method!r} lacks array {key!r}")
            params[key] = np.array(state[key], dtype=np.float64)
        k = params["components"].shape[0] if "components" in params else 0
        if "components" in params and (params["components"].ndim != 2 or k < 1):
            raise InputError(
                f"preprocessor state 'components' must be a (k >= 1, {d}) array, got shape "
                f"{params['components'].shape}"
            )
        wanted = {"components": (k, d), "explained_variance": (k,)}
        for key, arr in params.items():
            want = wanted.get(key, (d,))
            if arr.shape != want or not np.isfinite(arr).all():
                raise InputError(
                    f"preprocessor state array {key!r} has shape {arr.shape}, expected {want} "
                    "with finite values"
                )
        obj.params = params
        obj.n_features_in = d
        return obj
