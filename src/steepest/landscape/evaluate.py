"""Evaluating the loss at many points ``theta + a d1 + b d2`` at once.

The naive way sets the weights of the model and runs the whole forward pass once per point.
Here every quantity that is linear in the parameters is shared between points:

- the parameters of P points are one small product ``C @ [theta; d1; d2]`` with
  ``C = [[1, a_p, b_p]]`` (P x 3);
- for a first layer that is affine, ``X (W + a D1 + b D2) = XW + a XD1 + b XD2``: the three
  products are computed once for the whole evaluation, and each point's pre-activations are
  a rank-3 combination of them (a (P x 3) @ (3 x R*H) product per block of R rows) instead of
  an (R x D) @ (D x H) product per point;
- the layers after it run on stacked points, shape (P, R, features), with per-point weights
  (batched matrix products), over row blocks small enough to stay in cache;
- the L2 penalty of every point comes in closed form from six dot products.

Evaluation mode throughout (BatchNorm uses its running statistics, dropout is off), float32
by default. Memory: about ``P * R * width * 4`` bytes per block plus the per-point weights of
the later layers (``P * sum(in * out)``), bounded by ``memory_mb``.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError
from ..nn.layers import Linear
from ..nn.model import Model


class SurfaceEvaluator:
    """``evaluate(coords) -> (loss, acc)`` for coords of shape (P, 2) (or (P,) for a line).

    ``d2`` may be None for 1-D slices. ``X, y`` are the examples the loss averages over.
    """

    def __init__(self, model: Model, theta, X, y, d1, d2=None, dtype=np.float32,
                 memory_mb: float = 256.0, chunk_points: int | None = None):
        if model.loss_fn.name not in ("softmax", "svm"):
            raise InputError(f"landscapes need a classification loss, not {model.loss_fn.name!r}")
        self.model = model
        self.dtype = np.dtype(dtype)
        theta = model.layout.check(np.asarray(theta, dtype=np.float64))
        X, y = model._check(theta, X, y)[1:]
        self.X = np.ascontiguousarray(X, dtype=self.dtype)
        self.y = y
        self.n = self.X.shape[0]
        dirs = [d1] if d2 is None else [d1, d2]
        self.dirs = [model.layout.check(np.asarray(d, dtype=np.float64), "direction")
                     for d in dirs]
        # basis rows: theta, d1[, d2]; parameters of point p are coefficients @ basis
        self.basis = np.stack([theta, *self.dirs])
        self.k = self.basis.shape[0]
        self.ctx = model._context(False, None, False)
        self.ctx.inplace = True  # activations may overwrite their (temporary) inputs
        self.memory_mb = float(memory_mb)
        self._chunk_points = chunk_points
        self._setup()

    # ---------------------------------------------------------------- set-up
    def _setup(self):
        model = self.model
        layers = model.layers
        self.fast_first = isinstance(layers[0], Linear)
        self.start = 1 if self.fast_first else 0
        if self.fast_first:
            W = model.layout[f"{layers[0].name}.W"]
            b = model.layout[f"{layers[0].name}.b"]
            stack = self.basis[:, W.slice].reshape(self.k, *W.shape).astype(self.dtype)
            # A[k] = X @ (theta, d1, d2)[k]_W + (theta, d1, d2)[k]_b: computed once, so that
            # the first layer's output at point p is sum_k C[p, k] A[k], bias included
            self.A = np.stack([self.X @ stack[i] + self.basis[i, b.slice].astype(self.dtype)
                               for i in range(self.k)])  # (k, N, H)
            self.width0 = W.shape[1]
        # the widest activation materialized per point (the input is not, on the fast path)
        widths = [] if self.fast_first else [self.X.shape[1]]
        w = self.X.shape[1]
        for layer in layers:
            w = layer.output_features(w)
            widths.append(w)
        self.max_width = max(widths)
        # the per-point parameter tensors needed (everything but the first layer's W)
        first = {f"{layers[0].name}.W", f"{layers[0].name}.b"} if self.fast_first else set()
        self.specs = [s for s in model.layout if s.name not in first]
        per_point = sum(s.size for s in self.specs) * self.dtype.itemsize
        budget = self.memory_mb * 2**20
        # 8 points per chunk and ~4 MB activation blocks measured fastest for the MNIST MLP
        # on a 2-core machine (3.5-4 ms per point against 5-7 ms with 2 MB blocks or 64 points)
        self.P = self._chunk_points or int(max(1, min(8, budget // 2 // max(per_point, 1))))
        self.R = int(max(8, min(self.n, 2**22 // (self.P * self.max_width * self.dtype.itemsize))))
        self._reg_setup()

    def _reg_setup(self):
        reg = self.model.regularizer
        self.reg_specs = self.model.layout.select(reg.roles) if reg.active else []
        l1, l2 = reg._coefs() if reg.active else (0.0, 0.0)
        self.l1, self.l2 = l1, l2
        if l2 and self.reg_specs:
            idx = np.concatenate([np.arange(s.start, s.stop) for s in self.reg_specs])
            B = self.basis[:, idx]
            self.gram = B @ B.T  # (k, k): theta.theta, theta.d1, ..., d2.d2 on penalized entries
            self.reg_idx = idx
        elif self.reg_specs:
            self.reg_idx = np.concatenate([np.arange(s.start, s.stop) for s in self.reg_specs])

    def _penalty(self, C) -> np.ndarray:
        """``lambda R`` at every point (float64)."""
        out = np.zeros(C.shape[0])
        if not self.reg_specs:
            return out
        if self.l2:
            out += self.l2 * np.einsum("pi,ij,pj->p", C, self.gram, C)
        if self.l1:
            B = self.basis[:, self.reg_idx]
            for i in range(C.shape[0]):
                out[i] += self.l1 * np.abs(C[i] @ B).sum()
        return out

    # ---------------------------------------------------------------- evaluation
    def coefficients(self, coords) -> np.ndarray:
        coords = np.asarray(coords, dtype=np.float64)
        if coords.ndim == 1:
            coords = coords[:, None]
        if coords.shape[1] != self.k - 1:
            raise InputError(f"coords must have {self.k - 1} column(s) (one per direction), "
                             f"got shape {coords.shape}")
        return np.concatenate([np.ones((coords.shape[0], 1)), coords], axis=1)

    def evaluate(self, coords) -> tuple[np.ndarray, np.ndarray]:
        """Loss and accuracy at each point (fast path)."""
        C = self.coefficients(coords)
        loss = np.empty(C.shape[0])
        acc = np.empty(C.shape[0])
        for i in range(0, C.shape[0], self.P):
            loss[i : i + self.P], acc[i : i + self.P] = self._chunk(C[i : i + self.P])
        return loss, acc

    def _point_params(self, Cd):
        """Per-point tensors of every layer after the fast first layer: (P, *shape), with
        vectors as (P, 1, F) so that they broadcast over the rows."""
        P = Cd.shape[0]
        params = {}
        for s in self.specs:
            t = Cd @ self.basis[:, s.slice].astype(self.dtype)  # (P, size)
            shape = (P, 1, *s.shape) if len(s.shape) == 1 else (P, *s.shape)
            params[s.name] = t.reshape(shape)
        return params

    def _buffers(self, P):
        """Work arrays reused across chunks: fresh multi-megabyte temporaries page-fault."""
        b = getattr(self, "_buf", None)
        if b is None or b["P"] < P:
            c, n = self.model.n_outputs, self.n
            b = self._buf = {
                "P": P,
                "h": np.empty(P * self.R * (self.width0 if self.fast_first else 1), self.dtype),
                "scores": np.empty((P, c, n), self.dtype),  # class-major: (point, class, row)
                "work": np.empty((P, c, n), self.dtype),
                "m": np.empty((P, n), self.dtype),
                "s": np.empty((P, n), self.dtype),
                "y_at": np.empty((P, n), self.dtype),
            }
        return b

    def _chunk(self, C):
        model, layers = self.model, self.model.layers
        Cd = C.astype(self.dtype)
        P = C.shape[0]
        params = self._point_params(Cd)
        by_layer = [{local: params[f"{layer.name}.{local}"]
                     for local, *_ in slots if f"{layer.name}.{local}" in params}
                    for layer, slots in zip(layers, model._slots)]
        buf = self._buffers(P)
        scores = buf["scores"][:P]
        H = self.width0 if self.fast_first else None
        for r0 in range(0, self.n, self.R):
            r1 = min(self.n, r0 + self.R)
            if self.fast_first:
                # the first layer's outputs, bias included: (P, 3) @ (3, R*H)
                block = self.A[:, r0:r1, :].reshape(self.k, -1)
                h = buf["h"][: P * block.shape[1]].reshape(P, -1)
                np.matmul(Cd, block, out=h)
                h = h.reshape(P, r1 - r0, H)
            else:
                h = self.X[r0:r1][None]
            for j in range(self.start, len(layers)):
                h, _ = layers[j].forward(h, by_layer[j], self.ctx)
            scores[:, :, r0:r1] = h.transpose(0, 2, 1)
        sums, correct = _class_major_loss(model.loss_fn, scores, self.y, buf, P)
        return sums / self.n + self._penalty(C), correct / self.n

    def evaluate_naive(self, coords) -> tuple[np.ndarray, np.ndarray]:
        """The reference: set the weights and run the whole forward pass, point by point."""
        C = self.coefficients(coords)
        loss, acc = np.empty(C.shape[0]), np.empty(C.shape[0])
        for i, c in enumerate(C):
            th = (c @ self.basis).astype(self.dtype)
            scores = self.model.scores(th, self.X)
            loss[i] = (self.model.loss_fn.value(scores.astype(np.float64), self.y)
                       + self.model.regularizer.add(self.model.layout, th.astype(np.float64),
                                                    None))
            acc[i] = float(np.mean(np.argmax(scores, axis=1) == self.y))
        return loss, acc


def _class_major_loss(loss_fn, S, y, buf, P):
    """Per-point loss sums and correct counts from class-major scores ``S`` (P, C, N).

    Reductions over the short class axis run as elementwise passes over long rows, and every
    temporary lives in ``buf``. Accuracy follows ``argmax`` exactly (first maximum wins).
    """
    c, n = S.shape[1], S.shape[2]
    rows = np.arange(n)
    m, s, y_at, work = buf["m"][:P], buf["s"][:P], buf["y_at"][:P], buf["work"][:P]
    np.max(S, axis=1, out=m)
    np.take(S.reshape(P, c * n), y * n + rows, axis=1, out=y_at)  # the true class's score
    if loss_fn.name == "softmax":
        np.subtract(S, m[:, None, :], out=work)
        np.exp(work, out=work)
        np.sum(work, axis=1, out=s)
        np.log(s, out=s)
        s += m
        s -= y_at  # -log softmax of the true class
        sums = s.sum(axis=1, dtype=np.float64)
    elif loss_fn.hinge == "weston-watkins":
        np.subtract(S, y_at[:, None, :], out=work)
        work += loss_fn.margin
        np.maximum(work, 0, out=work)
        # the true class contributes max(0, margin) to the sum above; take it out
        sums = work.sum(axis=(1, 2), dtype=np.float64) - n * max(loss_fn.margin, 0.0)
    else:  # Crammer-Singer: max over the other classes
        np.copyto(work, S)
        work.reshape(P, c * n)[:, y * n + rows] = -np.inf
        np.max(work, axis=1, out=s)
        s += loss_fn.margin
        s -= y_at
        np.maximum(s, 0, out=s)
        sums = s.sum(axis=1, dtype=np.float64)
    ok = y_at >= m
    # a tie for the maximum: argmax takes the first index, which may not be the true class
    ties = (S == m[:, None, :]).sum(axis=1) > 1
    if ties.any():
        p_idx, r_idx = np.nonzero(ties)
        ok[p_idx, r_idx] = np.argmax(S[p_idx, :, r_idx], axis=1) == y[r_idx]
    return sums, ok.sum(axis=1)
