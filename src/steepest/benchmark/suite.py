"""The protocol: tune every rule with the same budget, rerun its best setting with new seeds.

Work comes in units, each a plain tuple, so that one process or several run the same code:

- ``("trial", problem, rule, slot)``: trial ``slot`` (0 .. trials-1) of the rule's study on
  the problem, one training run at the tuning seed with a setting drawn by the sampler;
- ``("rerun", problem, rule, seed, hyper)``: one training run of the best setting with a
  rerun seed, written to ``runs/<problem>/<rule>/seed-<seed>.json``.

Every (problem, rule) cell is one Optuna study (``<problem>/<rule>``) in the storage; a trial
records its slot, and a cell's budget is its distinct slots, so a run that was killed (its
trial left RUNNING), a race between machines (a slot run twice: the first counts) or a later
run with more ``trials`` all leave every rule with exactly ``trials`` trials. The sampler of
trial ``slot`` is seeded by the benchmark seed, the problem and the slot, not the rule: with the
random sampler, trial ``k`` of every rule lies at the same quantile of its own range (common
random numbers), and the draws do not depend on how many workers ran them.
"""

from __future__ import annotations

import os
import queue
import sys
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .._io import atomic_write_json, die_with_parent, read_record
from ..errors import InputError, SteepestError
from .problems import PROBLEMS, get_problem
from .protocol import RunRecord, hyperparameters, run_setting, search_space

SAMPLERS = ("random", "tpe")


@dataclass(frozen=True)
class Settings:
    """The validated options of one benchmark run (see :func:`steepest.benchmark.run`)."""

    problems: tuple[str, ...]
    rules: tuple[str, ...]
    trials: int
    seeds: int
    sampler: str
    seed: int
    quick: bool
    tune_momentum: bool
    workers: int
    storage: str  # the storage URL
    storage_option: str | None = None  # as given (None: the folder's own SQLite file)

    def steps(self, name: str) -> int:
        return PROBLEMS[name].budget(self.quick)

    @property
    def rerun_seeds(self) -> tuple[int, ...]:
        """The seeds of the reruns: after the tuning seed, never equal to it, so the reported
        figures are not those of the run the setting was chosen on."""
        return tuple(self.seed + 1 + i for i in range(self.seeds))

    def identity(self) -> dict:
        """What a benchmark folder remembers: runs with other values here are refused."""
        return {"storage": self.storage_option or "benchmark.db", "sampler": self.sampler,
                "seed": self.seed, "tune_momentum": self.tune_momentum,
                "problems": {p: PROBLEMS[p].spec(self.quick) for p in self.problems},
                "spaces": {r: {k: list(v) for k, v in search_space(r, self.tune_momentum).items()}
                           for r in self.rules}}


def study_name(problem: str, rule: str) -> str:
    return f"{problem}/{rule}"


def slot_seed(seed: int, problem: str, slot: int) -> int:
    """The sampler seed of trial ``slot`` on ``problem`` (stable across processes)."""
    words = [int(seed), zlib.crc32(problem.encode("utf-8")), int(slot)]
    return int(np.random.SeedSequence(words).generate_state(1)[0])


# ----------------------------------------------------------------------------- the folder
def claim(out_dir: Path, identity: dict) -> None:
    """Refuse a folder whose earlier runs used other settings (or other budgets or targets for
    a problem of this run); then record this run's settings in ``benchmark.json``."""
    file = out_dir / "benchmark.json"
    old = read_record(file) or {}
    changed = [k for k in ("storage", "sampler", "seed", "tune_momentum")
               if k in old and old[k] != identity[k]]
    for group in ("problems", "spaces"):
        before = old.get(group) or {}
        changed += [f"{group[:-1]} {name}" for name, value in identity[group].items()
                    if name in before and before[name] != value]
    if changed:
        raise InputError(f"{out_dir} holds a benchmark run with other settings "
                         f"({', '.join(changed)}; a quick run and a full one differ in their "
                         f"budgets); choose another output folder")
    merged = {**identity,
              "problems": {**(old.get("problems") or {}), **identity["problems"]},
              "spaces": {**(old.get("spaces") or {}), **identity["spaces"]}}
    atomic_write_json(file, merged)


def rerun_path(out_dir: Path, problem: str, rule: str, seed: int) -> Path:
    return out_dir / "runs" / problem / rule / f"seed-{seed}.json"


def read_rerun(path: Path, hyper: dict, spec: dict) -> dict | None:
    """The saved rerun at ``path`` if it ran this setting on this problem spec, else None."""
    saved = read_record(path)
    if saved is None or saved.get("hyper") != hyper or saved.get("spec") != spec:
        return None
    return saved


# ----------------------------------------------------------------------------- the studies
def counted_trials(study, trials: int) -> dict[int, object]:
    """``{slot: trial}`` of the trials that ran to their end (complete, or failed with a
    recorded reason: both carry the ``bench`` attribute, set when the run ended), the first
    one of each slot below ``trials``."""
    out: dict[int, object] = {}
    for t in sorted(study.get_trials(deepcopy=False), key=lambda t: t.number):
        info = t.user_attrs.get("bench")
        slot = info.get("slot") if isinstance(info, dict) else None
        counted = t.state.name in ("COMPLETE", "FAIL")
        if counted and isinstance(slot, int) and 0 <= slot < trials and slot not in out:
            out[slot] = t
    return out


def best_setting(study, trials: int, direction: str):
    """``(hyper, value, slot)`` of the best completed counted trial, or None if none
    completed (ties: the lowest slot)."""
    done = [(slot, t) for slot, t in sorted(counted_trials(study, trials).items())
            if t.state.name == "COMPLETE"]
    if not done:
        return None
    sign = 1.0 if direction == "minimize" else -1.0
    slot, t = min(done, key=lambda st: (sign * st[1].value, st[0]))
    return hyperparameters(dict(t.params)), float(t.value), slot


# ----------------------------------------------------------------------------- running units
class Runner:
    """Runs units (see the module docstring) in the process that calls it; it makes its
    storage and builds each problem once, on first use, so it can be sent to a new process."""

    def __init__(self, settings: Settings, out_dir: Path):
        self.settings, self.out_dir = settings, Path(out_dir)
        self.in_worker = False
        self._storage = None
        self._instances: dict = {}

    def __getstate__(self):
        return {**self.__dict__, "_storage": None, "_instances": {}}

    @property
    def storage(self):
        if self._storage is None:
            from ..tune.search import make_storage

            self._storage = make_storage(self.settings.storage, heartbeat=None)
        return self._storage

    def instance(self, problem: str):
        if problem not in self._instances:
            self._instances[problem] = PROBLEMS[problem].build()
            if self.in_worker and "torch" in sys.modules:
                import torch  # a worker process of ours (see Pool)

                torch.set_num_threads(1)
        return self._instances[problem]

    def __call__(self, unit: tuple) -> dict:
        if unit[0] == "trial":
            return self.trial(*unit[1:])
        return self.rerun(*unit[1:])

    def _train(self, problem, rule, hyper, seed) -> RunRecord:
        return run_setting(PROBLEMS[problem], self.instance(problem), rule, hyper, seed=seed,
                           steps=self.settings.steps(problem))

    def trial(self, problem: str, rule: str, slot: int) -> dict:
        import optuna

        from ..tune.search import make_sampler

        s = self.settings
        self.instance(problem)  # data that cannot load is an error, not a failed trial
        sampler = make_sampler(s.sampler, None, slot_seed(s.seed, problem, slot), s.trials)
        study = optuna.load_study(study_name=study_name(problem, rule), storage=self.storage,
                                  sampler=sampler)
        trial = study.ask()
        sampled = {name: trial.suggest_float(name, low, high, log=True)
                   for name, (low, high) in search_space(rule, s.tune_momentum).items()}
        event = {"type": "trial", "problem": problem, "rule": rule, "slot": slot,
                 "hyper": hyperparameters(sampled)}
        info: dict = {"slot": slot}  # set once the run ended: the trial counts
        try:
            record = self._train(problem, rule, event["hyper"], s.seed)
        except Exception as e:  # recorded with its reason; the benchmark goes on
            record, reason = None, f"{type(e).__name__}: {e}"
        else:
            reason = record.message if record.diverged else None
            info.update({k: getattr(record, k) for k in
                         ("steps_to_target", "seconds_to_target", "seconds", "diverged")})
        trial.set_user_attr("bench", {**info, "reason": reason})
        if reason is not None:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            return {**event, "state": "FAIL", "value": None, "reason": reason}
        study.tell(trial, record.final)
        return {**event, "state": "COMPLETE", "value": record.final,
                "steps_to_target": record.steps_to_target}

    def rerun(self, problem: str, rule: str, seed: int, hyper: dict) -> dict:
        event = {"type": "rerun", "problem": problem, "rule": rule, "seed": seed,
                 "hyper": hyper}
        self.instance(problem)
        try:
            record = self._train(problem, rule, hyper, seed)
        except Exception as e:  # not saved: the next run tries it again
            return {**event, "type": "error", "message": f"{type(e).__name__}: {e}"}
        spec = PROBLEMS[problem].spec(self.settings.quick)
        atomic_write_json(rerun_path(self.out_dir, problem, rule, seed),
                          {"problem": problem, "rule": rule, "seed": seed, "hyper": hyper,
                           "spec": spec, "record": record.to_dict(),
                           "curve": [list(p) for p in record.curve]})
        return {**event, "final": record.final, "steps_to_target": record.steps_to_target,
                "diverged": record.diverged}


def _worker(runner: Runner, tasks, results, parent_pid: int, threads: int) -> None:
    """One local worker process: takes units until it gets None, sends back their events."""
    import optuna
    from threadpoolctl import threadpool_limits

    die_with_parent(parent_pid)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our process; reasons are recorded
    runner.in_worker = True
    runner._storage, runner._instances = None, {}  # the parent's are not for this process
    with threadpool_limits(limits=threads):
        while (unit := tasks.get()) is not None:
            try:
                results.put(runner(unit))
            except Exception as e:  # a storage failure: reported, the worker goes on
                results.put({"type": "error", "unit": list(unit[:4]),
                             "message": f"{type(e).__name__}: {e}"})


class Pool:
    """``workers`` local processes (forked, as ``steepest tune``'s) that share the storage and
    take units from one queue; :meth:`run` hands them a batch of units and reports their
    events. Each worker makes its own storage connection and builds the problems it meets;
    its BLAS gets its share of the cores and PyTorch one thread (the CNN is small, and a forked
    process must not use an OpenMP pool its parent may have started)."""

    def __init__(self, runner: Runner, workers: int):
        import multiprocessing as mp

        threads = max(1, (os.cpu_count() or 1) // workers)
        ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
        self.tasks, self.results = ctx.Queue(), ctx.Queue()
        self.procs = [ctx.Process(target=_worker, daemon=True,
                                  args=(runner, self.tasks, self.results, os.getpid(), threads))
                      for _ in range(workers)]
        for p in self.procs:
            p.start()

    def run(self, units: list, emit) -> None:
        for unit in units:
            self.tasks.put(unit)
        left = len(units)
        while left:
            try:
                event = self.results.get(timeout=0.5)
            except queue.Empty:
                dead = [p for p in self.procs if not p.is_alive()]
                if dead:  # a worker leaves only when closed: this one was killed
                    codes = ", ".join(str(p.exitcode) for p in dead)
                    raise SteepestError(f"{len(dead)} benchmark worker(s) stopped (exit code "
                                        f"{codes}) with {left} unit(s) left; run again to "
                                        f"continue what is missing") from None
                continue
            left -= 1
            emit(event)

    def close(self) -> None:
        for _ in self.procs:
            self.tasks.put(None)
        for p in self.procs:
            p.join(timeout=30)
            if p.is_alive():
                p.terminate()


# ----------------------------------------------------------------------------- planning
def pending_trials(storage, settings: Settings, problems) -> list[tuple]:
    """The trial units still missing, slot by slot across the cells (so workers spread over
    the cells); each cell's study is created here if new."""
    import optuna

    missing = []
    for problem in problems:
        for rule in settings.rules:
            study = optuna.create_study(study_name=study_name(problem, rule), storage=storage,
                                        direction=PROBLEMS[problem].direction,
                                        load_if_exists=True)
            done = counted_trials(study, settings.trials)
            missing += [(slot, problem, rule) for slot in range(settings.trials)
                        if slot not in done]
    return [("trial", problem, rule, slot) for slot, problem, rule in sorted(missing)]


def pending_reruns(storage, settings: Settings, problems, out_dir: Path) -> list[tuple]:
    """The rerun units still missing: each cell's best setting, on every rerun seed without a
    saved run of that setting."""
    import optuna

    units = []
    for problem in problems:
        spec = PROBLEMS[problem].spec(settings.quick)
        for rule in settings.rules:
            study = optuna.load_study(study_name=study_name(problem, rule), storage=storage)
            best = best_setting(study, settings.trials, PROBLEMS[problem].direction)
            if best is None:
                continue
            for seed in settings.rerun_seeds:
                path = rerun_path(out_dir, problem, rule, seed)
                if read_rerun(path, best[0], spec) is None:
                    units.append(("rerun", problem, rule, seed, best[0]))
    return units


def check_settings(problems, rules, trials, seeds, sampler, seed, quick, tune_momentum,
                   workers, storage, out_dir: Path) -> Settings:
    """Every option checked (InputError naming the value and what is allowed)."""
    from .._validate import positive_int
    from ..optim import OPTIMIZERS
    from . import DEFAULT_RULES, QUICK_RULES
    from .problems import QUICK_PROBLEMS

    problems = _names(problems, QUICK_PROBLEMS if quick else tuple(PROBLEMS), "problem")
    for name in problems:
        get_problem(name)
    rules = _names(rules, QUICK_RULES if quick else DEFAULT_RULES, "rule")
    for rule in rules:
        if rule not in OPTIMIZERS:
            raise InputError(f"unknown rule {rule!r}; allowed: {', '.join(OPTIMIZERS)}")
    trials = positive_int(trials, "the tuning budget (trials per rule)")
    seeds = positive_int(seeds, "the number of rerun seeds")
    workers = positive_int(workers, "workers")
    if sampler not in SAMPLERS:
        raise InputError(f"unknown sampler {sampler!r}; allowed: {', '.join(SAMPLERS)}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    url = storage or f"sqlite:///{(out_dir / 'benchmark.db').resolve()}"
    if workers > 1 and url.startswith("sqlite://") and ":memory:" in url:
        raise InputError("an in-memory storage cannot be shared by worker processes")
    return Settings(problems, rules, trials, seeds, sampler, int(seed), bool(quick),
                    bool(tune_momentum), workers, url, storage)


def _names(value, default, what: str) -> tuple[str, ...]:
    if value is None:
        return tuple(default)
    if isinstance(value, str):
        value = [v.strip() for v in value.split(",") if v.strip()]
    names = tuple(dict.fromkeys(value))
    if not names:
        raise InputError(f"name at least one {what}")
    bad = [n for n in names if not isinstance(n, str)]
    if bad:
        raise InputError(f"a {what} is named by a string, got {bad[0]!r}")
    return names
