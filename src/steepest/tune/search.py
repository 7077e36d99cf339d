"""Hyperparameter search on Optuna: each trial is a real training run.

``run_search(space, base, study_dir, ...)`` creates (or continues) an Optuna study and runs
``trials`` training runs, in this process or in ``workers`` local processes, all sharing one
storage so that separate machines can join the same study with ``--storage URL --study NAME``.

- Storage: a SQLite file ``study.db`` in the study folder by default; any SQLAlchemy URL Optuna
  accepts (``postgresql://...``, ``mysql://...``); or a journal file (``journal:PATH`` or a path
  ending in ``.log``/``.journal``). Relational storages keep a heartbeat, so a worker killed in
  the middle of a trial leaves that trial marked FAIL once the grace period has passed (when
  the next trial of any worker starts); a worker killed before its trial's first heartbeat, and
  any killed worker on the journal storage (no heartbeat in Optuna 5), leaves the trial
  RUNNING, reported as stale.
- Every trial trains through :func:`steepest.runs.train_run` into ``trials/trial-NNNN`` with
  its own seed (the base seed plus the trial number) and reports the validation accuracy each
  epoch, so pruners (median, successive halving, Hyperband) can stop hopeless runs. A run that
  diverges or fails is recorded as FAIL with its reason and the search goes on.
- ``trials`` is the study's total: a continued search runs only what is missing, and workers
  on several machines sharing one study stop once it holds that many trials.
- Coarse-to-fine: with ``stages`` > 1 the trials are split into stages; each later stage
  narrows every numeric range to the span of the best trials of the stage before (widened by a
  margin, in log space for log ranges) and continues the same study.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from .._io import atomic_write_json, atomic_write_text, die_with_parent, make_folder, read_record
from .._lock import FolderLock
from ..config import RunConfig, parse_config, set_values
from ..errors import InputError
from ..results import Result
from ..train.callbacks import Callback
from .space import SearchSpace

SAMPLERS = ("random", "grid", "tpe", "cmaes")
PRUNERS = ("none", "median", "halving", "hyperband")
FINISHED = ("COMPLETE", "PRUNED", "FAIL")


class TrialFailed(Exception):
    """A trial that trained but diverged (its reason is kept in the trial's attributes)."""


@dataclass(frozen=True)
class StudyResult(Result):
    """A finished (or continued) search: the best trial, the counts and where things are."""

    study_name: str
    storage: str
    study_dir: Path
    best_value: float | None
    best_params: dict
    best_trial: int | None
    best_config: Path | None
    trials: int
    completed: int
    pruned: int
    failed: int
    stale: int
    seconds: float
    stages: list = field(default_factory=list)
    plots: list = field(default_factory=list)
    ran: int = 0  # trials finished by this call (0: the study already held them all)

    def plot(self, ax=None):
        """The search history (validation accuracy of every trial and the best so far)."""
        from .plots import plot_history

        return plot_history(self.load_study(), ax=ax)

    def load_study(self):
        """The Optuna study, read back from its storage."""
        import optuna

        return optuna.load_study(study_name=self.study_name, storage=make_storage(self.storage))


# ----------------------------------------------------------------------------- storage
def storage_url(study_dir: Path, storage: str | None) -> str:
    return storage or f"sqlite:///{(Path(study_dir) / 'study.db').resolve()}"


def make_storage(url: str, heartbeat: float | None = 30.0):
    """An Optuna storage for ``url``; raises InputError quickly when it cannot be reached."""
    import optuna
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    if url.startswith("journal:") or url.endswith((".log", ".journal")):
        from optuna.storages.journal import JournalFileBackend

        path = Path(url.removeprefix("journal:"))
        make_folder(path.parent, "journal folder")
        try:
            return optuna.storages.JournalStorage(JournalFileBackend(str(path)))
        except OSError as e:
            raise InputError(f"cannot use the journal {path}: {e.strerror or e}") from None
    scheme = url.split(":", 1)[0]
    connect = ({"timeout": 60} if scheme.startswith("sqlite")
               else {"connect_timeout": 5} if scheme.startswith(("postgres", "mysql")) else {})
    hb = {}
    if heartbeat:
        hb = {"heartbeat_interval": max(1, int(heartbeat)),
              "grace_period": max(2, int(2 * heartbeat))}
    try:
        with warnings.catch_warnings():  # heartbeats are "experimental" in Optuna 5
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": connect}, **hb)
    except (SQLAlchemyError, ArgumentError, ValueError, ImportError, ModuleNotFoundError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise InputError(f"cannot use the storage {url!r}: {first}") from None


# ----------------------------------------------------------------------------- sampler/pruner
def make_sampler(name: str, space: SearchSpace, seed: int | None, n_trials: int):
    import optuna

    if name == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if name == "grid":
        return optuna.samplers.GridSampler(space.grid(), seed=seed)
    if name == "tpe":
        return optuna.samplers.TPESampler(seed=seed, multivariate=True,
                                          n_startup_trials=max(2, min(10, n_trials // 4)))
    if name == "cmaes":
        return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=max(1, n_trials // 10))
    raise InputError(f"unknown sampler {name!r}; allowed: {', '.join(SAMPLERS)}")


def make_pruner(name: str, epochs: int):
    import optuna

    if name == "none":
        return optuna.pruners.NopPruner()
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=4, n_warmup_steps=1)
    if name == "halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, max_resource=max(epochs, 2),
                                              reduction_factor=3)
    raise InputError(f"unknown pruner {name!r}; allowed: {', '.join(PRUNERS)}")


# ----------------------------------------------------------------------------- objective
class PruneTrial(Callback):
    """A trainer callback: report the validation accuracy of every epoch to an Optuna trial
    and stop the run (status "pruned") when the trial's pruner says so."""

    def __init__(self, trial):
        self.trial = trial

    def on_epoch_end(self, trainer, state, row):
        self.trial.report(row["val_acc"], row["epoch"])
        if self.trial.should_prune():
            self.trial.set_user_attr("pruned_at_epoch", row["epoch"])
            state.stop("pruned", f"pruned after epoch {row['epoch']} "
                                 f"(val_acc {row['val_acc']:.4f})")


def _objective(space: SearchSpace, base: dict, study_dir: Path, stage: int, callbacks=None):
    import optuna

    from ..runs import train_run

    def objective(trial):
        values = space.suggest(trial)
        cfg_dict = set_values(base, values)
        cfg_dict.setdefault("train", {})
        cfg_dict["train"]["seed"] = int(base.get("train", {}).get("seed", 0)) + trial.number
        trial.set_user_attr("stage", stage)
        try:
            cfg = parse_config(cfg_dict)
        except InputError as e:
            trial.set_user_attr("fail_reason", f"invalid configuration: {e}")
            raise
        run_dir = study_dir / "trials" / f"trial-{trial.number:04d}"
        trial.set_user_attr("run_dir", str(run_dir))
        extra = callbacks(run_dir.name) if callable(callbacks) else callbacks
        try:
            result = train_run(cfg, run_dir, plots=False,
                               callbacks=[PruneTrial(trial), *(extra or [])])
        except Exception as e:  # recorded with its reason; the search goes on
            trial.set_user_attr("fail_reason", f"{type(e).__name__}: {e}")
            raise
        if result.status == "pruned":
            raise optuna.TrialPruned(result.message)
        trial.set_user_attr("epochs", result.epochs)
        trial.set_user_attr("test_acc", result.test_acc)
        trial.set_user_attr("train_acc", result.train_acc)
        if result.status == "diverged":
            trial.set_user_attr("fail_reason", result.message)
            raise TrialFailed(result.message)
        return result.val_acc

    return objective


def _worker(url, study_name, space, base, study_dir, stage, sampler, pruner, epochs, n_trials,
            target, seed, blas, heartbeat, parent_pid=None, callbacks=None):
    """One local worker process: its own sampler and pruner, the shared storage."""
    import optuna
    from threadpoolctl import threadpool_limits

    die_with_parent(parent_pid)
    optuna.logging.set_verbosity(optuna.logging.ERROR)  # our process: reasons are recorded
    with threadpool_limits(limits=blas):
        storage = make_storage(url, heartbeat)
        study = optuna.load_study(study_name=study_name, storage=storage,
                                  sampler=make_sampler(sampler, space, seed, n_trials),
                                  pruner=make_pruner(pruner, epochs))
        study.optimize(_objective(space, base, Path(study_dir), stage, callbacks),
                       n_trials=n_trials, catch=(Exception,), callbacks=[_stop_at(target)])


def _stop_at(target: int):
    """Stop every worker of every machine once the study holds ``target`` trials in any state
    (so machines that start together do not each run the whole budget)."""
    import optuna

    return optuna.study.MaxTrialsCallback(target, states=None)


# ----------------------------------------------------------------------------- the search
def _counts(study) -> dict:
    counts = {s: 0 for s in (*FINISHED, "RUNNING", "WAITING")}
    for t in study.get_trials(deepcopy=False):
        counts[t.state.name] = counts.get(t.state.name, 0) + 1
    return counts


def _stage_trials(study, stage: int):
    return [t for t in study.get_trials(deepcopy=False)
            if t.user_attrs.get("stage") == stage and t.state.name in FINISHED]


def _split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


MIN_TO_NARROW = 4  # completed trials a stage needs before the next one narrows around them


@dataclass(frozen=True)
class _Options:
    """The settings of one search, validated (see :func:`run_search`)."""

    trials: int
    sampler: str
    pruner: str
    stages: int
    workers: int
    seed: int
    heartbeat: float | None
    top_fraction: float
    epochs: int

    def identity(self, space: SearchSpace, base: dict, study_name: str, url: str) -> dict:
        """What makes two runs of ``steepest tune`` the same search (``--trials`` may grow)."""
        return {"study": study_name, "storage": url, "space": space.to_dict(), "base": base,
                "sampler": self.sampler, "pruner": self.pruner, "stages": self.stages}


def _options(trials, sampler, pruner, stages, workers, seed, heartbeat, top_fraction,
             base) -> _Options:
    for name, value, allowed in (("sampler", sampler, SAMPLERS), ("pruner", pruner, PRUNERS)):
        if value not in allowed:
            raise InputError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
    for name, value in (("trials", trials), ("stages", stages), ("workers", workers)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InputError(f"{name} must be a positive integer, got {value!r}")
    if stages > trials:
        raise InputError(f"cannot split {trials} trial(s) into {stages} stages")
    if heartbeat is not None and not (math.isfinite(heartbeat) and heartbeat > 0):
        raise InputError(f"the heartbeat must be a positive number of seconds, got {heartbeat!r}")
    epochs = parse_config(base).train.epochs  # the base must be a valid run config on its own
    return _Options(trials, sampler, pruner, stages, workers, int(seed), heartbeat,
                    float(top_fraction), epochs)


def _claim(study_dir: Path, identity: dict, continue_study: bool) -> None:
    """Refuse a folder that holds another study, or this study with other settings unless
    ``continue_study``; then record this search's settings in ``study.json``."""
    file = study_dir / "study.json"
    old = read_record(file)
    if old is not None and old.get("study") != identity["study"]:
        raise InputError(f"{study_dir} holds the study {old.get('study')!r}; choose another "
                         f"--out for the study {identity['study']!r}")
    if old is not None and old != identity and not continue_study:
        changed = sorted(k for k in identity if old.get(k) != identity[k])
        raise InputError(f"the study in {study_dir} was run with other settings "
                         f"({', '.join(changed)}); pass --continue to add trials with these "
                         f"settings, or choose another --out")
    atomic_write_json(file, identity)


def _stage_space(study, space: SearchSpace, current: SearchSpace, stage: int,
                 opts: _Options, emit) -> SearchSpace:
    """The space of ``stage``: the previous stage's, narrowed around its best completed trials
    once at least :data:`MIN_TO_NARROW` of them are done."""
    previous = [t for t in _stage_trials(study, stage - 1) if t.state.name == "COMPLETE"]
    narrowed = len(previous) >= MIN_TO_NARROW
    if narrowed:
        previous.sort(key=lambda t: t.value, reverse=True)
        k = max(2, math.ceil(opts.top_fraction * len(previous)))
        current = current.narrowed([space.decode(t.params) for t in previous[:k]])
    emit({"type": "narrow", "stage": stage, "from_trials": len(previous), "narrowed": narrowed,
          "minimum": MIN_TO_NARROW, "space": current.to_dict()})
    return current


def _run_stages(study, space, base, study_dir, url, opts: _Options, emit,
                callbacks=None) -> list[dict]:
    stage_info, current, target = [], space, 0
    for stage, quota in enumerate(_split(opts.trials, opts.stages), start=1):
        target += quota
        if stage > 1:
            current = _stage_space(study, space, current, stage, opts, emit)
        done = len(_stage_trials(study, stage))
        todo = max(0, quota - done)
        info = {"stage": stage, "trials": quota, "resumed": done, "space": current.to_dict()}
        stage_info.append(info)
        emit({"type": "stage", **info})
        if todo == 0:
            continue
        if opts.workers == 1:
            study.sampler = make_sampler(opts.sampler, current, opts.seed + stage, todo)
            study.pruner = make_pruner(opts.pruner, opts.epochs)

            def callback(st, trial):
                emit({"type": "trial", **_trial_row(trial, opts), "counts": _counts(st)})

            study.optimize(_objective(current, base, study_dir, stage, callbacks), n_trials=todo,
                           catch=(Exception,), callbacks=[callback, _stop_at(target)])
        else:
            _run_workers(url, study, current, base, study_dir, stage, todo, target, opts, emit,
                         callbacks)
    return stage_info


@contextmanager
def _quiet_optuna():
    """Optuna logs every trial, and a failed one (a diverged run) with its traceback at
    WARNING; the library prints nothing (trials and their failures are reported as events and
    in the results), so its logger is quieted to errors for the search and restored after."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


def run_search(space: SearchSpace, base: dict, study_dir: str | Path, *, trials: int = 20,
               sampler: str = "random", pruner: str = "none", stages: int = 1,
               storage: str | None = None, study_name: str | None = None, workers: int = 1,
               seed: int = 0, on_event=None, heartbeat: float | None = 30.0,
               top_fraction: float = 0.25, plots: bool | tuple[str, int] = True,
               continue_study: bool = False, callbacks=None) -> StudyResult:
    """Run (or continue) the search; see the module docstring.

    The study folder is locked while the search runs, holds one study only, and remembers the
    settings it was run with (``study.json``): a second run with other settings is refused
    unless ``continue_study``. When the study already holds ``trials`` trials nothing runs,
    and the result says so (``ran == 0``). ``plots`` is True (PNG at 110 dpi), False, or a
    ``(format, dpi)`` pair. ``callbacks`` are extra trainer callbacks for every trial: a list,
    or a factory called with the trial's folder name (``trial-NNNN``) that returns one
    (``steepest.tensorboard.TensorBoardLogger.per_run(logdir)`` logs each trial apart).
    """
    import optuna

    opts = _options(trials, sampler, pruner, stages, workers, seed, heartbeat, top_fraction,
                    base)
    study_dir = Path(study_dir)
    emit = on_event or (lambda ev: None)
    with FolderLock(study_dir, "study folder") as lock, _quiet_optuna():
        if lock.took_over:
            emit({"type": "notice", "message": lock.took_over})
        url = storage_url(study_dir, storage)
        study_name = study_name or study_dir.name
        _claim(study_dir, opts.identity(space, base, study_name, url), continue_study)
        study = optuna.create_study(study_name=study_name, storage=make_storage(url, heartbeat),
                                    direction="maximize", load_if_exists=True)
        before = sum(_counts(study)[s] for s in FINISHED)
        start = time.perf_counter()
        stage_info = _run_stages(study, space, base, study_dir, url, opts, emit, callbacks)
        return _finish(study, space, base, study_dir, url, stage_info,
                       time.perf_counter() - start, plots, before, opts)


def _run_workers(url, study, space, base, study_dir, stage, todo, target, opts: _Options,
                 emit, callbacks=None):
    """``opts.workers`` local processes share the stage's ``todo`` trials through the storage;
    the trials of this stage are reported as they finish (each once)."""
    import multiprocessing as mp

    blas = max(1, (os.cpu_count() or 1) // opts.workers)
    ctx = mp.get_context("fork" if os.name == "posix" else "spawn")
    procs = []
    for i, n in enumerate(_split(todo, opts.workers)):
        if n == 0:
            continue
        p = ctx.Process(target=_worker, args=(url, study.study_name, space, base,
                                              str(study_dir), stage, opts.sampler, opts.pruner,
                                              opts.epochs, n, target,
                                              opts.seed + 1000 * stage + i, blas,
                                              opts.heartbeat, os.getpid(), callbacks))
        p.start()
        procs.append(p)
    seen = {t.number for t in _stage_trials(study, stage)}  # finished before this call
    while True:
        alive = any(p.is_alive() for p in procs)
        for t in _stage_trials(study, stage):
            if t.number not in seen:
                seen.add(t.number)
                emit({"type": "trial", **_trial_row(t, opts), "counts": _counts(study)})
        if not alive:
            break
        time.sleep(0.5)
    for p in procs:
        p.join()
        if p.exitcode not in (0, None):
            emit({"type": "worker_exit", "exitcode": p.exitcode})


def _trial_row(t, opts: _Options | None = None) -> dict:
    reason = t.user_attrs.get("fail_reason")
    if t.state.name == "FAIL" and reason is None:
        # a trial whose worker was killed records nothing itself; the storage failed it
        reason = ("its worker stopped (no heartbeat within the grace period)"
                  if opts is None or opts.heartbeat else "its worker stopped")
    return {
        "number": t.number, "state": t.state.name, "value": t.value,
        "params": dict(t.params), "stage": t.user_attrs.get("stage"), "reason": reason,
        "pruned_at_epoch": t.user_attrs.get("pruned_at_epoch"),
        "seconds": (t.duration.total_seconds() if t.duration is not None else None),
        "run_dir": t.user_attrs.get("run_dir"),
    }


def _finish(study, space, base, study_dir, url, stage_info, seconds, plots, before,
            opts) -> StudyResult:
    counts = _counts(study)
    all_trials = study.get_trials(deepcopy=False)
    rows = [_trial_row(t, opts) for t in all_trials]
    best = None
    completed = [t for t in all_trials if t.state.name == "COMPLETE"]
    best_config = None
    if completed:
        best = max(completed, key=lambda t: t.value)
        cfg_file = Path(best.user_attrs["run_dir"]) / "config.yaml"
        if cfg_file.exists():
            text = cfg_file.read_text()
        else:  # the run folder is on another machine: rebuild it from the parameters
            cfg = set_values(base, space.decode(best.params))
            text = RunConfig.model_validate(cfg).to_yaml()
        best_config = atomic_write_text(study_dir / "best_config.yaml", text)
    cols = ["number", "state", "value", "stage", "seconds", "reason", "run_dir"]
    names = space.names
    lines = [",".join(cols + names)]
    for r in rows:
        cells = [str(r[c]) if r[c] is not None else "" for c in cols]
        cells = [c.replace(",", ";") for c in cells]
        cells += [str(r["params"].get(n, "")).replace(",", ";") for n in names]
        lines.append(",".join(cells))
    atomic_write_text(study_dir / "trials.csv", "\n".join(lines) + "\n")
    written = []
    if plots:
        from ..viz import save_figures
        from .plots import plot_search

        fmt, dpi = plots if isinstance(plots, tuple) else ("png", 110)
        written = save_figures(plot_search(study, space.log_params), study_dir / "plots",
                               format=fmt, dpi=dpi)
    result = StudyResult(
        study_name=study.study_name, storage=url, study_dir=study_dir,
        best_value=None if best is None else float(best.value),
        best_params={} if best is None else space.decode(dict(best.params)),
        best_trial=None if best is None else best.number, best_config=best_config,
        trials=sum(counts[s] for s in FINISHED), completed=counts["COMPLETE"],
        pruned=counts["PRUNED"], failed=counts["FAIL"], stale=counts["RUNNING"],
        seconds=seconds, stages=stage_info, plots=written,
        ran=sum(counts[s] for s in FINISHED) - before,
    )
    atomic_write_json(study_dir / "summary.json", result.to_dict())
    return result
