"""Benchmark: the per-step cost of every update rule against the same rule in torch.optim.

Each rule steps a flat float32 vector of 1e5, 1e6 and 1e7 parameters (``--quick``: 1e5 and
1e6); torch steps one tensor of the same size (``foreach=True`` where torch offers it), with
gradients set by hand. The rules that need a layout (Adafactor, Muon, Shampoo) see one matrix
of shape ``(100, n / 100)``, and so does torch. The two libraries alternate in blocks of steps
(ours, theirs, ours, ...) so that drifts of a shared machine hit both alike; the table gives the
median seconds per step of each and the ratio torch / steepest (above 1: steepest is faster).
Rules torch does not have (Lion, Shampoo, SAM, Lookahead) are timed alone; the schedule-free
ones are compared with the authors' ``schedulefree`` package when it is installed. SAM's
closure returns a fixed gradient, so its time is the rule's own overhead.

NumPy's element-wise ufuncs use one core and its matrix products (Muon, Shampoo) the BLAS
threads; torch uses ``torch.get_num_threads()`` threads. ``--threads N`` sets both (torch's
threads and, through threadpoolctl, NumPy's BLAS); on a loaded machine ``--threads 1`` avoids
threads fighting for busy cores, which can slow either library tenfold.

Run: ``.venv/bin/python bench/optim_step.py [--quick] [--threads N] [--only sgd adam ...]``.
"""

from __future__ import annotations

import argparse
import platform
import time

import numpy as np

from steepest.optim import (
    SAM,
    SGD,
    Adadelta,
    Adafactor,
    Adagrad,
    Adam,
    Adamax,
    AdamW,
    Lion,
    Lookahead,
    Momentum,
    Muon,
    NAdam,
    Nesterov,
    RAdam,
    RMSProp,
    ScheduleFreeAdamW,
    ScheduleFreeSGD,
    Shampoo,
)
from steepest.params import Layout

ROWS = 100  # the matrix shape of the layout rules: (ROWS, n / ROWS)


def cases(torch, sf):
    """``name -> (make_ours(layout), make_theirs(params) or None, needs a matrix)``."""
    o = torch.optim
    fe = {"foreach": True}
    sf_sgd = (lambda p: sf.SGDScheduleFree(p, lr=0.1)) if sf else None
    sf_adamw = (lambda p: sf.AdamWScheduleFree(p, lr=1e-3)) if sf else None
    return {
        "sgd": (lambda L: SGD(0.01), lambda p: o.SGD(p, lr=0.01, **fe), False),
        "momentum": (lambda L: Momentum(0.01, 0.9),
                     lambda p: o.SGD(p, lr=0.01, momentum=0.9, **fe), False),
        "nesterov": (lambda L: Nesterov(0.01, 0.9),
                     lambda p: o.SGD(p, lr=0.01, momentum=0.9, nesterov=True, **fe), False),
        "adagrad": (lambda L: Adagrad(0.01), lambda p: o.Adagrad(p, lr=0.01, **fe), False),
        "rmsprop": (lambda L: RMSProp(0.01), lambda p: o.RMSprop(p, lr=0.01, **fe), False),
        "adam": (lambda L: Adam(1e-3), lambda p: o.Adam(p, lr=1e-3, **fe), False),
        "adamw": (lambda L: AdamW(1e-3), lambda p: o.AdamW(p, lr=1e-3, **fe), False),
        "nadam": (lambda L: NAdam(1e-3), lambda p: o.NAdam(p, lr=1e-3, **fe), False),
        "radam": (lambda L: RAdam(1e-3), lambda p: o.RAdam(p, lr=1e-3, **fe), False),
        "adamax": (lambda L: Adamax(1e-3), lambda p: o.Adamax(p, lr=1e-3, **fe), False),
        "adadelta": (lambda L: Adadelta(1.0), lambda p: o.Adadelta(p, lr=1.0, **fe), False),
        "adafactor": (lambda L: Adafactor(1e-2, layout=L),
                      lambda p: o.Adafactor(p, lr=1e-2, **fe), True),
        "lion": (lambda L: Lion(1e-4), None, False),
        "muon": (lambda L: Muon(1e-3, layout=L), lambda p: o.Muon(p, lr=1e-3), True),
        "sgd_schedule_free": (lambda L: ScheduleFreeSGD(0.1), sf_sgd, False),
        "adamw_schedule_free": (lambda L: ScheduleFreeAdamW(1e-3), sf_adamw, False),
        "sam": (lambda L: SAM(lr=0.01), None, False),
        "lookahead": (lambda L: Lookahead(base=Adam(1e-3)), None, False),
        "shampoo": (lambda L: Shampoo(0.1, layout=L), None, True),
    }


def our_stepper(opt, n, rng):
    theta = rng.standard_normal(n).astype(np.float32)
    grad = (0.01 * rng.standard_normal(n)).astype(np.float32)
    state = opt.init(theta)
    closure = (lambda p: (0.0, grad)) if opt.needs_closure else None

    def step():
        nonlocal state
        if closure is None:
            state = opt.step(theta, grad, state)
        else:
            state = opt.step(theta, grad, state, closure)

    return step


def their_stepper(torch, make, shape, rng):
    p = torch.tensor(rng.standard_normal(shape).astype(np.float32), requires_grad=True)
    p.grad = torch.tensor((0.01 * rng.standard_normal(shape)).astype(np.float32))
    opt = make([p])
    if hasattr(opt, "train"):  # schedulefree's optimizers have train/eval modes
        opt.train()
    return opt.step


def per_step(fns, rounds):
    """Median seconds per step of each callable, alternating blocks sized to ~20 ms."""
    for f in fns:  # warm up (allocations, first-step state)
        f()
        f()
    blocks = []
    for f in fns:
        t0 = time.perf_counter()
        f()
        blocks.append(max(1, int(0.02 / max(time.perf_counter() - t0, 1e-7))))
    times = [[] for _ in fns]
    for _ in range(rounds):
        for i, f in enumerate(fns):
            t0 = time.perf_counter()
            for _ in range(blocks[i]):
                f()
            times[i].append((time.perf_counter() - t0) / blocks[i])
    return [float(np.median(t)) for t in times]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="sizes 1e5 and 1e6, fewer rounds")
    ap.add_argument("--rounds", type=int, default=None, help="alternated blocks per library")
    ap.add_argument("--threads", type=int, default=None,
                    help="torch threads and NumPy BLAS threads (default: each library's own)")
    ap.add_argument("--only", nargs="*", default=None, help="rule names to run")
    args = ap.parse_args()
    import torch

    try:
        import schedulefree as sf
    except ImportError:
        sf = None
    if args.threads:
        from threadpoolctl import threadpool_limits

        torch.set_num_threads(args.threads)
        threadpool_limits(args.threads)  # for this benchmark process only
    sizes = [10**5, 10**6] if args.quick else [10**5, 10**6, 10**7]
    rounds = args.rounds or (5 if args.quick else 9)
    print(f"# {platform.machine()} {platform.processor() or ''}, numpy {np.__version__}, torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), float32, "
          f"median of {rounds} alternated blocks")
    print(f"{'rule':<22}{'n':>10}{'steepest ms':>14}{'torch ms':>12}{'torch/steepest':>16}")
    rng = np.random.default_rng(0)
    for name, (ours, theirs, matrix) in cases(torch, sf).items():
        if args.only and name not in args.only:
            continue
        for n in sizes:
            shape = (ROWS, n // ROWS) if matrix else (n,)
            layout = Layout([("W", shape, "weight", 0)] if matrix else [("v", (n,), "bias")])
            fns = [our_stepper(ours(layout), n, rng)]
            if theirs is not None:
                fns.append(their_stepper(torch, theirs, shape, rng))
            t = per_step(fns, rounds)
            row = f"{name:<22}{n:>10.0e}{1e3 * t[0]:>14.3f}"
            row += f"{1e3 * t[1]:>12.3f}{t[1] / t[0]:>16.2f}" if len(t) > 1 else f"{'-':>12}"
            print(row, flush=True)


if __name__ == "__main__":
    main()
