"""Benchmark: steepest's gradient checker against torch.autograd.gradcheck, in the same run.

1. fast mode on a 784-256-256-10 ReLU MLP (~270k parameters, batch 32, float64, softmax):
   steepest ``mode="fast"`` (one random direction per tensor, every tensor named) against
   ``torch.autograd.gradcheck(fast_mode=True)`` on the same weights and data;
2. full mode on a 64-100-10 MLP against torch's slow mode (the full numerical Jacobian);
3. a planted bug (fc2.W's gradient scaled by 1.01) and what each tool reports.

Run: ``.venv/bin/python bench/gradcheck.py [--repeat 5]``. Times are the best of --repeat runs.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

import steepest
from steepest.gradcheck import check_model


def best_of(fn, repeat):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


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
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import torch
        from torch.autograd import gradcheck as torch_gradcheck
    except ImportError:
        torch = None
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
    t_ours, res = best_of(lambda: check_model(model, X, y, theta=theta, mode="fast"), args.repeat)
    assert res.ok, res.to_dict()
    line = {"case": f"fast, MLP 784-256-256-10 ({model.n_params:,} params), batch 32",
            "steepest_s": t_ours, "evals": res.n_evals}
    if torch is not None:
        f, inputs = torch_objective(model, theta, X, y)
        t_torch, ok = best_of(lambda: torch_gradcheck(f, inputs, fast_mode=True), args.repeat)
        assert ok
        line["torch_s"] = t_torch
    rows.append(line)

    # 2. full mode, 64-100-10, batch 32
    small = steepest.mlp([64, 100, 10])
    th2 = small.init_params(0)
    X2, y2 = rng.random((32, 64)), rng.integers(0, 10, 32)
    t_ours, res = best_of(lambda: check_model(small, X2, y2, theta=th2, mode="full"), 1)
    assert res.ok, res.to_dict()
    line = {"case": f"full, MLP 64-100-10 ({small.n_params:,} params), batch 32",
            "steepest_s": t_ours, "evals": res.n_evals}
    if torch is not None:
        f2, in2 = torch_objective(small, th2, X2, y2)
        t_torch, ok = best_of(lambda: torch_gradcheck(f2, in2, fast_mode=False), 1)
        assert ok
        line["torch_s"] = t_torch
    rows.append(line)

    print(f"\n{'case':58s} {'steepest':>10s} {'torch':>10s} {'speed-up':>9s}")
    for r in rows:
        tt = r.get("torch_s")
        ratio = f"{tt / r['steepest_s']:8.1f}x" if tt else "      n/a"
        torch_s = f"{tt * 1e3:8.1f}ms" if tt else "       n/a"
        print(f"{r['case']:58s} {r['steepest_s'] * 1e3:8.1f}ms {torch_s} {ratio}")

    # 3. a planted bug: fc2.W's gradient scaled by 1.01
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
