"""Many finite-difference probes of one tensor at once: the losses at ``theta +- h e_i`` for a
block of coordinates ``i``, for a full gradient check of a whole model in seconds.

Moving one coordinate of a layer's parameters moves one output unit of that layer: a weight
``W[a, b]`` of a Linear moves column ``b`` of its output by ``+- h x[:, a]``, a bias or a
BatchNorm scale or shift moves one column too. So a block of P coordinates is a block of P
changed columns (P, N), not P copies of the network:

1. the **column phase** carries each changed column through the layers that act unit by unit
   (activations, dropout's fixed mask, BatchNorm, whose batch statistics of a column depend on
   that column only, and maxout, which maps a unit to its group);
2. at the next Linear the change becomes the rank-1 update ``out + (c' - c) w_u^T`` of its
   output, and from there the **stack phase** runs the remaining layers on the P perturbed
   copies stacked as (P, N, features);
3. the loss of every copy comes from the losses' batched form.

Kink crossings (a ReLU unit, a hinge margin, a maxout winner or an L1 sign changing side) are
reported per coordinate, as the one-coordinate path reports them. The results equal the
one-at-a-time differences up to rounding (tested).
"""

from __future__ import annotations

import numpy as np

from ..losses import class_major_loss_sums
from .layers import BatchNorm, Dropout, LeakyReLU, Linear, Maxout, ReLU, Sigmoid, Tanh

_COLUMN_LAYERS = (ReLU, LeakyReLU, Sigmoid, Tanh, Dropout, BatchNorm, Maxout)
_BLOCK_ELEMENTS = 1 << 21  # values of one stacked block: a few MB of float64


def supports(model) -> bool:
    """Whether every layer of ``model`` is one the batched probes know."""
    kinds = (Linear, *_COLUMN_LAYERS)
    return (all(isinstance(layer, kinds) for layer in model.layers)
            and model.loss_fn.name in ("softmax", "svm", "l2", "l1"))


def _start_columns(model, record, theta, name, coords, step):
    """Unit index and the (+, -) changed columns at the output of the tensor's layer."""
    i, local = model._owner[name]
    spec = model.layout[name]
    layer, out = model.layers[i], record.outputs[i]
    if isinstance(layer, Linear) and local == "W":
        a, units = np.unravel_index(coords, spec.shape)
        move = record.inputs[i][:, a].T * step  # (P, N)
    elif isinstance(layer, BatchNorm) and local == "gamma":
        units = coords
        move = record.caches[i][0][:, units].T * step  # xhat columns
    else:  # a bias or BatchNorm's beta: the whole column moves by step
        units = coords
        move = np.full((len(coords), out.shape[0]), step, dtype=out.dtype)
    base = out[:, units].T  # (P, N)
    return i, np.asarray(units), base + move, base - move


def _column(layer, j, c, units, record, model, theta):
    """Layer ``j`` applied to changed columns ``c`` (P, N) of units ``units``: the new columns,
    their units and which columns crossed a kink."""
    base_in = record.inputs[j]
    crossed = np.zeros(c.shape[0], dtype=bool)
    if isinstance(layer, ReLU | LeakyReLU):
        crossed = ((c > 0) != (base_in[:, units].T > 0)).any(axis=1)
        out = np.maximum(c, 0) if isinstance(layer, ReLU) else np.where(c > 0, c, layer.alpha * c)
    elif isinstance(layer, Sigmoid):
        out = 0.5 * (1.0 + np.tanh(0.5 * c))
    elif isinstance(layer, Tanh):
        out = np.tanh(c)
    elif isinstance(layer, Dropout):
        mask = record.caches[j]
        out = c if mask is None else c * mask[:, units].T
    elif isinstance(layer, BatchNorm):
        out = _batchnorm_columns(layer, j, c, units, record, model, theta)
    else:  # Maxout: the unit's group, with this member replaced
        return _maxout_columns(layer, j, c, units, record)
    return out, units, crossed


def _batchnorm_columns(layer, j, c, units, record, model, theta):
    views = model.layer_views(theta, j)
    gamma, beta = views["gamma"][units][:, None], views["beta"][units][:, None]
    if record.caches[j][2]:  # training mode: the column's own batch statistics
        centered = c - c.mean(axis=1, keepdims=True)
        var = np.mean(centered * centered, axis=1, keepdims=True)
        return centered / np.sqrt(var + layer.eps) * gamma + beta
    inv_std = record.caches[j][1][units][:, None]
    mean = model.buffer_layout.view(model.buffers, f"{layer.name}.running_mean")[units]
    return (c - mean.astype(c.dtype)[:, None]) * inv_std * gamma + beta


def _maxout_columns(layer, j, c, units, record):
    k = layer.k
    groups = units // k
    members = record.inputs[j].reshape(record.inputs[j].shape[0], -1, k)[:, groups, :]
    members = members.transpose(1, 0, 2).copy()  # (P, N, k)
    members[np.arange(len(units)), :, units % k] = c
    winners = np.argmax(members, axis=2)
    base_winners = record.caches[j][0][:, groups].T
    crossed = (winners != base_winners).any(axis=1)
    return np.take_along_axis(members, winners[..., None], axis=2)[..., 0], groups, crossed


def _stack_forward(layer, j, h, record, model, theta, ctx):
    """Layer ``j`` on stacked copies ``h`` (P, N, F), and which copies crossed a kink."""
    views = model.layer_views(theta, j)
    if isinstance(layer, BatchNorm) and ctx.train:
        mean = h.mean(axis=1, keepdims=True)
        centered = h - mean
        var = np.mean(centered * centered, axis=1, keepdims=True)
        return centered / np.sqrt(var + layer.eps) * views["gamma"] + views["beta"], None
    out, cache = layer.forward(h, views, ctx)
    state, base = layer.kinks(cache), record.kinks[j]
    if state is None:
        return out, None
    return out, (state != base).reshape(h.shape[0], -1).any(axis=1)


def _copy_losses(model, scores, y, base_scores):
    """The data loss of every stacked copy of the scores (P, N, C), and which copies moved a
    hinge margin or an L1 residual across its kink."""
    loss = model.loss_fn
    P, n, _ = scores.shape
    if loss.name in ("l2", "l1"):
        target = y if np.ndim(y) == 2 else loss._target(base_scores, y)
        r = scores - target
        if loss.name == "l2":
            return (r * r).sum(axis=(1, 2)) / n, np.zeros(P, dtype=bool)
        crossed = (np.sign(r) != np.sign(base_scores - target)).reshape(P, -1).any(axis=1)
        return np.abs(r).sum(axis=(1, 2)) / n, crossed
    S = np.ascontiguousarray(scores.transpose(0, 2, 1))
    buf = {k: np.empty((P, n), S.dtype) for k in ("m", "s", "y_at")}
    buf["work"] = np.empty_like(S)
    sums, _ = class_major_loss_sums(loss, S, y, buf, P)
    crossed = np.zeros(P, dtype=bool)
    if loss.name == "svm":
        base = loss.kinks(base_scores, y)
        crossed = np.array([not np.array_equal(loss.kinks(s, y), base) for s in scores])
    return sums / n, crossed


def _block(model, record, theta, name, coords, step, y, ctx):
    """``(losses, crossed)`` of the 2P perturbed copies (the + signs, then the - signs)."""
    layers = model.layers
    i, units, plus, minus = _start_columns(model, record, theta, name, coords, step)
    cols, units = np.concatenate([plus, minus]), np.concatenate([units, units])
    crossed = np.zeros(len(cols), dtype=bool)
    j = i + 1
    while j < len(layers) and isinstance(layers[j], _COLUMN_LAYERS):
        cols, units, hit = _column(layers[j], j, cols, units, record, model, theta)
        crossed |= hit
        j += 1
    base_scores = record.outputs[-1]
    if j == len(layers):  # the changed column reached the scores
        scores = np.repeat(base_scores[None], len(cols), axis=0)
        scores[np.arange(len(cols)), :, units] = cols
    else:  # a Linear: the column change is a rank-1 change of its output
        W = model.layer_views(theta, j)["W"]
        moved = cols - record.inputs[j][:, units].T
        scores = record.outputs[j][None] + moved[:, :, None] * W[units][:, None, :]
        for k in range(j + 1, len(layers)):
            scores, hit = _stack_forward(layers[k], k, scores, record, model, theta, ctx)
            if hit is not None:
                crossed |= hit
    losses, hit = _copy_losses(model, scores, y, base_scores)
    return losses, crossed | hit


def coordinate_losses(model, record, theta, name, coords, step, y, ctx):
    """``(f(theta + step e_i), f(theta - step e_i), crossed)`` for every flat index ``i`` of
    tensor ``name`` in ``coords``, from the base pass ``record`` (see the module docstring)."""
    coords = np.asarray(coords, dtype=np.int64)
    n = record.outputs[-1].shape[0]
    widest = max(out.shape[-1] for out in record.outputs)
    block = max(1, _BLOCK_ELEMENTS // (2 * n * widest))
    fp, fm = np.empty(coords.size), np.empty(coords.size)
    crossed = np.zeros(coords.size, dtype=bool)
    for start in range(0, coords.size, block):
        part = slice(start, start + block)
        losses, hit = _block(model, record, theta, name, coords[part], step, y, ctx)
        k = losses.size // 2
        fp[part], fm[part] = losses[:k], losses[k:]
        crossed[part] = hit[:k] | hit[k:]
    spec, reg = model.layout[name], model.regularizer
    w = theta[spec.slice][coords].astype(np.float64)
    base = record.reg
    if reg.active and spec.role in reg.roles:
        l1, l2 = reg.coefficients
        pen = lambda v: l2 * v * v + l1 * np.abs(v)  # noqa: E731
        fp += pen(w + step) - pen(w)
        fm += pen(w - step) - pen(w)
        if l1:
            crossed |= (np.sign(w + step) != np.sign(w)) | (np.sign(w - step) != np.sign(w))
    return fp + base, fm + base, crossed
