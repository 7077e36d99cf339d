"""Fair comparisons of update rules: the same tuning budget for every rule, then reruns.

::

    import steepest.benchmark as bench
    result = bench.run("runs/benchmark-quick", quick=True)     # resumable; see below
    result.table()                       # per problem and rule: medians and quartiles
    result.profile("steps").at(2.0)      # share of problems each rule solves within 2x the best
    result.plot()                        # the performance profile (a Figure)
    result.save()                        # CSV, JSON and figures into the folder, atomically

**The protocol** (DeepOBS, Schneider et al. 2019; "Descending through a Crowded Valley",
Schmidt et al. 2021). On each problem every rule gets the same tuning budget: ``trials``
training runs, each with a setting drawn by the same Optuna sampler (random search by
default) from log-uniform ranges (the learning rate, and with ``tune_momentum`` the rule's
momentum-like coefficient; :mod:`steepest.benchmark.protocol`), all at the tuning seed (the same
initial parameters and batch order for every trial and every rule). A trial's value is the
problem's metric at the end of its budget: the validation accuracy of a classifier, the loss of
a test function. The best setting (the best final metric; a run that diverges fails) is then
rerun with ``seeds`` new seeds, never the tuning seed, and the reruns are what is reported:

- per problem and rule, steps and seconds to the target (the first measurement that meets it;
  seconds count the steps only, not the measurements), the final metric, validation and
  training losses and test accuracy, each as the median and interquartile range over the seeds,
  and the share of seeds that reached the target;
- performance profiles (Dolan and Moré 2002; :mod:`steepest.benchmark.profiles`) by steps and by
  seconds to the target, where a rule's cost on a problem is its median over the seeds (so a
  rule solves a problem when at least half its seeds reach the target).

**The problems** (:data:`PROBLEMS`; steps are the full suite's budget, quick mode's in
brackets):

==========  =============================================  ========================  ===========
problem     what                                           target                    steps
==========  =============================================  ========================  ===========
digits      MLP 64-64-10 on the 8x8 digits, batches of 64  validation accuracy 0.95  400 (150)
mnist       MLP 784-128-10 on MNIST, batches of 128        validation accuracy 0.97  2000 (200)
spiral      MLP 2-100-3 on the 3-arm spiral, full batch    validation accuracy 0.95  500 (200)
quadratic   (x^2 + 100 y^2) / 2, condition number 100      loss 1e-6                 1000 (600)
rosenbrock  (1 - x)^2 + 100 (y - x^2)^2                    loss 1e-4                 3000 (1000)
cnn         PyTorch CNN on the 8x8 digits, batches of 64   validation accuracy 0.95  400 (150)
==========  =============================================  ========================  ===========

MNIST comes from ``$STEEPEST_MNIST_DIR`` and the CNN needs PyTorch
(:class:`steepest.torch.TorchObjective`); where either is absent the problem is skipped with a
note. The test functions start at their usual points moved by a 10 % jitter drawn from the seed.
The target is checked after every step on the test functions, every 10 steps on the small
classifiers and every 100 on MNIST (steps to the target are known to that resolution).

**Quick mode** (``quick=True``): the budgets in brackets, and unless given otherwise the
problems quadratic, rosenbrock and digits, the rules sgd, momentum and adam, 4 trials and 2
seeds: a smoke test of the whole protocol in seconds.

**Resuming and workers.** Tuning trials live in an Optuna storage (``storage``: a SQLite file
``benchmark.db`` in the folder by default, any Optuna URL, or ``journal:PATH``), one study per
problem and rule; reruns in ``runs/<problem>/<rule>/seed-<seed>.json`` (written atomically).
Running again continues what is missing: a finished benchmark runs nothing. ``workers`` local
processes share the storage and the folder (which is locked while a run holds it); the folder
remembers its settings (``benchmark.json``), and a run with another sampler, seed, storage,
budget or target for one of its problems is refused. Times are measured while the workers
share the machine: compare seconds between runs with the same number of workers, and steps
anywhere.
"""

from __future__ import annotations

import time
from pathlib import Path

from .problems import PROBLEMS, QUICK_PROBLEMS, Instance, Problem, get_problem
from .profiles import PerformanceProfile, performance_profile
from .protocol import RunRecord, run_setting, search_space
from .results import BenchmarkResult, CellResult

DEFAULT_RULES = ("sgd", "momentum", "nesterov", "adam", "adamw", "nadam", "lion",
                 "sgd_schedule_free")
QUICK_RULES = ("sgd", "momentum", "adam")
DEFAULT_TRIALS, DEFAULT_SEEDS = 20, 5
QUICK_TRIALS, QUICK_SEEDS = 4, 2

__all__ = ["DEFAULT_RULES", "PROBLEMS", "QUICK_PROBLEMS", "QUICK_RULES", "BenchmarkResult",
           "CellResult", "Instance", "PerformanceProfile", "Problem", "RunRecord",
           "get_problem", "performance_profile", "run", "run_setting", "search_space"]


def run(out_dir: str | Path, *, problems=None, rules=None, trials: int | None = None,
        seeds: int | None = None, sampler: str = "random", quick: bool = False,
        workers: int = 1, storage: str | None = None, seed: int = 0,
        tune_momentum: bool = False, on_event=None) -> BenchmarkResult:
    """Run (or continue) the benchmark in ``out_dir``; see the module docstring.

    ``problems`` and ``rules`` are lists of names (default: every problem and
    :data:`DEFAULT_RULES`; in quick mode :data:`QUICK_PROBLEMS` and :data:`QUICK_RULES`);
    ``trials`` the tuning budget of every rule on every problem (default 20, quick 4);
    ``seeds`` the reruns of each best setting (default 5, quick 2); ``sampler`` "random" or
    "tpe"; ``on_event`` receives dicts (``type``: ``plan``, ``trial``, ``rerun``, ``skip``,
    ``notice``, ``error``). Writes only its working state (storage, reruns, settings): call
    ``result.save()`` for the tables and figures.
    """
    from .._lock import FolderLock
    from ..tune.search import _quiet_optuna, make_storage
    from . import suite

    out = Path(out_dir)
    settings = suite.check_settings(
        problems, rules, (QUICK_TRIALS if quick else DEFAULT_TRIALS) if trials is None
        else trials, (QUICK_SEEDS if quick else DEFAULT_SEEDS) if seeds is None else seeds,
        sampler, seed, quick, tune_momentum, workers, storage, out)
    emit = on_event or (lambda event: None)
    start = time.perf_counter()
    with FolderLock(out, "benchmark folder") as lock, _quiet_optuna():
        if lock.took_over:
            emit({"type": "notice", "message": lock.took_over})
        suite.claim(out, settings.identity())
        skipped = [{"problem": p, "reason": PROBLEMS[p].unavailable()}
                   for p in settings.problems if PROBLEMS[p].unavailable()]
        for item in skipped:
            emit({"type": "skip", **item})
        runnable = [p for p in settings.problems if p not in {d["problem"] for d in skipped}]
        store = make_storage(settings.storage, heartbeat=None)
        counts = _execute(suite, store, settings, runnable, out, emit)
        return _collect(suite, store, settings, runnable, out, skipped, counts,
                        time.perf_counter() - start)


def _execute(suite, store, settings, runnable, out: Path, emit) -> dict:
    """Run the missing trials, then the missing reruns (in this process or in workers);
    returns how many of each ran and the errors reported."""
    counts = {"trial": 0, "rerun": 0, "errors": []}

    def record(event):
        if event["type"] == "error":
            where = " / ".join(str(event[k]) for k in ("problem", "rule", "seed") if k in event)
            counts["errors"].append(f"{where or event.get('unit')}: {event['message']}")
        else:
            counts[event["type"]] += 1
        emit(event)

    runner = suite.Runner(settings, out)
    runner._storage = store  # in this process: the same connection (an in-memory one too)
    pool = None
    try:
        for phase in ("trials", "reruns"):
            units = (suite.pending_trials(store, settings, runnable) if phase == "trials"
                     else suite.pending_reruns(store, settings, runnable, out))
            emit({"type": "plan", "phase": phase, "units": len(units)})
            if units and settings.workers > 1:
                pool = pool or suite.Pool(runner, settings.workers)
                pool.run(units, record)
            else:
                for unit in units:
                    record(runner(unit))
    finally:
        if pool is not None:
            pool.close()
    return counts


def _cell(suite, store, settings, problem: str, rule: str, out: Path) -> CellResult:
    import optuna

    from .results import MEASURES, spread

    p = PROBLEMS[problem]
    study = optuna.load_study(study_name=suite.study_name(problem, rule), storage=store)
    counted = suite.counted_trials(study, settings.trials)
    tuning = tuple({"slot": slot, "trial": t.number, "state": t.state.name, "value": t.value,
                    **suite.hyperparameters(dict(t.params)),
                    "steps_to_target": t.user_attrs["bench"].get("steps_to_target"),
                    "reason": t.user_attrs["bench"].get("reason")}
                   for slot, t in sorted(counted.items()))
    best = suite.best_setting(study, settings.trials, p.direction)
    runs, curves = [], []
    for seed in settings.rerun_seeds if best else ():
        saved = suite.read_rerun(suite.rerun_path(out, problem, rule, seed), best[0],
                                 p.spec(settings.quick))
        if saved is not None:
            runs.append({"seed": seed, **saved["record"]})
            curves.append(tuple(tuple(pt) for pt in saved["curve"]))
    stats = {m: spread([r[m] for r in runs], unreached_is_inf=m.endswith("_to_target"))
             for m in MEASURES}
    reached = sum(r["steps_to_target"] is not None for r in runs) / len(runs) if runs else 0.0
    return CellResult(problem, rule, len(counted), sum(t["state"] == "COMPLETE" for t in tuning),
                      sum(t["state"] != "COMPLETE" for t in tuning),
                      best[0] if best else None, best[1] if best else None,
                      best[2] if best else None, reached, stats, tuple(runs), tuning,
                      tuple(curves))


def _collect(suite, store, settings, runnable, out: Path, skipped, counts,
             seconds: float) -> BenchmarkResult:
    cells = tuple(_cell(suite, store, settings, p, r, out)
                  for p in runnable for r in settings.rules)
    profiles = {m: performance_profile(
        [[next(c for c in cells if c.problem == p and c.rule == r).cost(m)
          for r in settings.rules] for p in runnable], runnable, settings.rules, m)
        for m in ("steps", "seconds")}
    problems = {p: {**PROBLEMS[p].spec(settings.quick), "target_text": PROBLEMS[p].target_text()}
                for p in runnable}
    notes = [f"unit failed: {e}" for e in counts["errors"]]
    info = {"problems": list(settings.problems), "rules": list(settings.rules),
            "trials": settings.trials, "seeds": settings.seeds, "sampler": settings.sampler,
            "seed": settings.seed, "rerun_seeds": list(settings.rerun_seeds),
            "quick": settings.quick, "tune_momentum": settings.tune_momentum,
            "workers": settings.workers, "storage": settings.storage,
            "spaces": {r: {k: list(v) for k, v in search_space(r, settings.tune_momentum).items()}
                       for r in settings.rules}}
    return BenchmarkResult(out, info, problems, cells, profiles, tuple(skipped), tuple(notes),
                           counts["trial"], counts["rerun"], seconds)
