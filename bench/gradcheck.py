"""Benchmark: steepest's gradient checker against torch.autograd.gradcheck, in the same run.

1. fast mode on a 784-256-256-10 ReLU MLP (~270k parameters, batch 32, float64, softmax):
   steepest ``mode="fast"`` (one random direction per tensor, every tensor named) against
   ``torch.autograd.gradcheck(fast_mode=True)`` on the same weights and data;
2. full mode on a 64-100-10 MLP against torch's slow mode (the full numerical Jacobian);
3. full mode of a whole MNIST-sized MLP 784-256-10 (203,530 parameters, batch 32, float64),
   every coordinate, against torch's slow mode timed on a slice of ``--torch-coords`` leading
   coordinates of fc1.W (the rest held constant) and extrapolated per coordinate to the whole
   model: torch has no way to check 203k coordinates in a benchmark's time, so say so;
4. a planted bug (fc2.W's gradient scaled by 1.01) and what each tool reports.

Run: ``.venv/bin/python bench/gradcheck.py [--repeat 40] [--torch-coords 2000]``. The two
tools alternate in blocks of ten calls (ours x10, theirs x10, ...): drifts of a shared machine
hit both alike, while each library's worker threads, which keep spinning for a while after a
call, do not steal the cores of the other call by call. The table gives the median and the
minimum of each, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import steepest
from steepest.gradcheck import check_model


def interleaved(fns, repeat, block=10):
    """Time each callable ``repeat`` times, alternating in blocks; return lists of seconds."""
    times = [[] for _ in fns]
    results = [None] * len(fns)
    done = 0
    while done < repeat:
        k = min(block, repeat - done)
        for i, fn in enumerate(fns):
            for _ in range(k):
                t0 = time.perf_counter()
                results[i] = fn()
                times[i].append(time.perf_counter() - t0)
        done += k
    return times, results


def torch_objective(model, theta, X, y, planted=None):
    """The same MLP as a function of its parameter tensors, for torch.autograd.gradcheck."""
    import torch

    names = [s.name for s in model.layout]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    class Scale(torch.autograd.Function):  # identity forward, backward scaled: a planted bug
        @staticmethod
        def forward(ctx, w):
            return w.view_as(w)

        @staticmethod
        def backward(ctx, g):
            return g * 1.01

    def f(*params):
        p = dict(zip(names, params))
        h = Xt
        linears = [layer.name for layer in model.layers if layer.kind == "linear"]
        for i, name in enumerate(linears):
            W = p[f"{name}.W"]
            if planted == f"{name}.W":
                W = Scale.apply(W)
            h = h @ W + p[f"{name}.b"]
            if i < len(linears) - 1:
                h = torch.relu(h)
        return torch.nn.functional.cross_entropy(h, yt)

    inputs = tuple(torch.tensor(v.copy(), requires_grad=True)
                   for v in model.params(theta).values())
    return f, inputs


def torch_slice_objective(model, theta, X, y, k):
    """The MLP as a function of the first ``k`` coordinates of theta only (the rest fixed)."""
    import torch

    f_all, inputs = torch_objective(model, theta, X, y)
    first = inputs[0].detach()
    flat = first.reshape(-1)

    def f(head):
        w = torch.cat([head, flat[k:]]).reshape(first.shape)
        return f_all(w, *inputs[1:])

    return f, (flat[:k].clone().requires_grad_(True),)


def whole_model_row(rng, torch_coords, torch_gradcheck):
    """Full mode on 784-256-10, every coordinate; torch slow mode on a slice, extrapolated."""
    model = steepest.mlp([784, 256, 10])
    theta = model.init_params(0)
    X, y = rng.random((32, 784)), rng.integers(0, 10, 32)
    t0 = time.perf_counter()
    res = check_model(model, X, y, theta=theta, mode="full")
    ours = time.perf_counter() - t0
    n = model.n_params
    assert res.ok and sum(t.n_checked for t in res.tensors) == n, res.to_dict()
    line = (f"full, MLP 784-256-10 ({n:,} params, every coordinate), batch 32: "
            f"steepest {ours:.2f} s")
    if torch_gradcheck is None:
        return line + "; torch absent"
    f, inputs = torch_slice_objective(model, theta, X, y, torch_coords)
    t0 = time.perf_counter()
    assert torch_gradcheck(f, inputs, fast_mode=False)
    per = (time.perf_counter() - t0) / torch_coords
    return (line + f"; torch slow mode {per * 1e3:.3f} ms/coordinate on {torch_coords:,} "
            f"coordinates of fc1.W, extrapolated to {n:,}: {per * n:.0f} s "
            f"(ratio {per * n / ours:.0f}x, extrapolated)")


def plant_bug(model, name="fc2"):
    layer = next(layer for layer in model.layers if layer.name == name)
    original = layer.backward

    def backward(dout, cache, p, g, need_dx=True):
        dx = original(dout, cache, p, g, need_dx)
        g["W"] *= 1.01
        return dx

    layer.backward = backward


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=40)
    parser.add_argument("--torch-coords", type=int, default=2000,
                        help="coordinates torch's slow mode checks before extrapolating")
    args = parser.parse_args()
    try:
        import torch
        from torch.autograd import gradcheck as torch_gradcheck
    except ImportError:
        torch = torch_gradcheck = None
    print(f"machine: {platform.processor() or platform.machine()}, "
          f"numpy {np.__version__}, torch {torch.__version__ if torch else 'absent'}")
    if torch is not None:
        torch.set_num_threads(torch.get_num_threads())

    rng = np.random.default_rng(0)
    rows = []

    # 1. fast mode, 784-256-256-10, batch 32
    model = steepest.mlp([784, 256, 256, 10])
    theta = model.init_params(0)
    X, y = rng.random((32, 784)), rng.integers(0, 10, 32)
    fns = [lambda: check_model(model, X, y, theta=theta, mode="fast")]
    if torch is not None:
        f, inputs = torch_objective(model, theta, X, y)
        fns.append(lambda: torch_gradcheck(f, inputs, fast_mode=True))
    times, results = interleaved(fns, args.repeat)
    assert results[0].ok and all(r is True for r in results[1:]), results[0].to_dict()
    rows.append((f"fast, MLP 784-256-256-10 ({model.n_params:,} params), batch 32", times))

    # 2. full mode, 64-100-10, batch 32 (a few seconds each: fewer repeats)
    small = steepest.mlp([64, 100, 10])
    th2 = small.init_params(0)
    X2, y2 = rng.random((32, 64)), rng.integers(0, 10, 32)
    fns = [lambda: check_model(small, X2, y2, theta=th2, mode="full")]
    if torch is not None:
        f2, in2 = torch_objective(small, th2, X2, y2)
        fns.append(lambda: torch_gradcheck(f2, in2, fast_mode=False))
    times, results = interleaved(fns, max(1, args.repeat // 10), block=1)
    assert results[0].ok and all(r is True for r in results[1:]), results[0].to_dict()
    rows.append((f"full, MLP 64-100-10 ({small.n_params:,} params), batch 32", times))

    print(f"\n{'case':56s} {'steepest median/min':>20s} {'torch median/min':>20s} {'ratio':>7s}")
    for case, times in rows:
        ours = np.median(times[0]), min(times[0])
        cell = f"{ours[0] * 1e3:8.1f} /{ours[1] * 1e3:7.1f}ms"
        if len(times) > 1:
            theirs = np.median(times[1]), min(times[1])
            tcell = f"{theirs[0] * 1e3:8.1f} /{theirs[1] * 1e3:7.1f}ms"
            ratio = f"{theirs[0] / ours[0]:6.1f}x"
        else:
            tcell, ratio = f"{'n/a':>20s}", "   n/a"
        print(f"{case:56s} {cell:>20s} {tcell:>20s} {ratio:>7s}")

    # 3. full mode of a whole MNIST MLP, torch extrapolated from a slice
    print("\n" + whole_model_row(rng, args.torch_coords, torch_gradcheck))

    # 4. a planted bug: fc2.W's gradient scaled by 1.01
    plant_bug(model, "fc2")
    res = check_model(model, X, y, theta=theta, mode="fast")
    print("\nplanted bug (fc2.W gradient x1.01):")
    print(f"  steepest fast mode: ok={res.ok}, failed tensors: {res.failed} "
          f"(rel. error {max(t.max_rel_error for t in res.tensors):.2e})")
    if torch is not None:
        f, inputs = torch_objective(model, theta, X, y, planted="fc2.W")
        try:
            torch_gradcheck(f, inputs, fast_mode=True)
            print("  torch fast mode: passed (missed the bug)")
        except Exception as e:  # torch raises GradcheckError on the first mismatch
            first = str(e).strip().splitlines()[0]
            print(f"  torch fast mode: raised {type(e).__name__}: {first}")


if __name__ == "__main__":
    main()
