"""TensorBoard logging of a training run: a trainer callback.

::

    from steepest.tensorboard import TensorBoardLogger
    steepest.runs.train_run(cfg, "runs/a", callbacks=[TensorBoardLogger("tb/a")])
    # then: tensorboard --logdir tb

:class:`TensorBoardLogger` writes, with the global step as the horizontal axis:

- **scalars**: the mini-batch loss of every step (``loss/batch``) and every number of each
  epoch's row of ``metrics.csv`` at the epoch's last step: ``loss/train_batches`` (the epoch's
  mean mini-batch loss), ``loss/train`` and ``accuracy/train`` (the fixed training subset),
  ``loss/val`` and ``accuracy/val``, ``optim/lr``, ``optim/grad_norm``,
  ``update_ratio/<tensor>``, ``act_mean/<layer>``, ``act_std/<layer>``, ``dead/<layer>``,
  ``saturated/<layer>``, ``time/epoch`` and ``time/seconds``; any other column a callback adds
  as ``metrics/<name>`` (or ``<prefix>/<rest>`` for a dotted name). When sharpness is tracked,
  every measurement is written at its own step (``curvature/sharpness`` and
  ``curvature/stability_bound``). At the end, ``accuracy/test`` when the run has a test set,
  and the run's status and message as text (``run/result``). Values that are not finite (an
  update ratio of a zero-initialized tensor is infinite) are left out: TensorBoard cannot draw
  them, and ``metrics.csv`` keeps them.
- **histograms**, at the start of a new run and every ``histograms_every`` epochs: every
  tensor of theta (``params/<tensor>``) and, where the objective offers the ``activations``
  capability, the output of every layer (dropout excepted) on the trainer's fixed training
  subset (``activations/<layer>``).

The events are written by tensorboardX, or by ``torch.utils.tensorboard`` where PyTorch (with
the ``tensorboard`` package) is installed and tensorboardX is not; with neither, building the
logger raises :class:`~steepest.errors.InputError` naming ``pip install
'steepest[tensorboard]'``. The writer is opened when the run starts and closed when it ends. A
resumed run opens it with ``purge_step`` just after its checkpoint, so TensorBoard hides what the
interrupted process wrote beyond it.

Comparisons and studies log each run into its own subfolder::

    per_run = TensorBoardLogger.per_run("tb")               # tb/<variant folder>, tb/trial-0003
    steepest.experiments.compare(cfg, variants, "runs/cmp", callbacks=per_run)
    steepest.tune.run_search(space, base, "runs/study", callbacks=per_run)
"""

from __future__ import annotations

import math
import numbers
import time
from pathlib import Path

import numpy as np

from .errors import InputError, OutputError
from .train.callbacks import Callback

__all__ = ["PerRun", "TensorBoardLogger", "summary_writer_class", "tag_of"]

INSTALL_HINT = "pip install 'steepest[tensorboard]'"
HISTOGRAM_BINS = 60  # equal bins per histogram

# the plain columns of an epoch's row, grouped the way TensorBoard shows tags (by the part
# before the first "/")
_TAGS = {
    "train_loss": "loss/train_batches", "train_eval_loss": "loss/train", "val_loss": "loss/val",
    "train_acc": "accuracy/train", "val_acc": "accuracy/val", "lr": "optim/lr",
    "grad_norm": "optim/grad_norm", "epoch": "time/epoch", "seconds": "time/seconds",
}
# written from the run state, each measurement at its own step (see on_epoch_end)
_SKIP = ("step", "sharpness", "stability_bound")


def tag_of(column: str) -> str:
    """The TensorBoard tag of a column of an epoch's row (``"update_ratio.fc1.W"`` ->
    ``"update_ratio/fc1.W"``, ``"val_acc"`` -> ``"accuracy/val"``)."""
    if column in _TAGS:
        return _TAGS[column]
    prefix, dot, rest = column.partition(".")
    return f"{prefix}/{rest}" if dot and prefix and rest else f"metrics/{column}"


def summary_writer_class():
    """The event writer: tensorboardX's ``SummaryWriter``, else ``torch.utils.tensorboard``'s;
    InputError when neither can be imported."""
    problems = []
    try:
        from tensorboardX import SummaryWriter

        return SummaryWriter
    except ImportError as e:
        problems.append(f"tensorboardX: {e}")
    try:
        from torch.utils.tensorboard import SummaryWriter

        return SummaryWriter
    except ImportError as e:
        problems.append(f"torch.utils.tensorboard: {e}")
    raise InputError(f"TensorBoard logging needs tensorboardX (or PyTorch with the tensorboard "
                     f"package); install it with {INSTALL_HINT} ({'; '.join(problems)})")


def _number(value) -> float | None:
    """``value`` as a float when it is a finite real number (booleans and None are not)."""
    if isinstance(value, bool | np.bool_) or not isinstance(value, numbers.Real):
        return None
    value = float(value)
    return value if math.isfinite(value) else None


class TensorBoardLogger(Callback):
    """A trainer callback writing a run's scalars and histograms into ``logdir`` (see the
    module docstring for every tag).

    ``histograms_every``: epochs between histograms (a positive integer), or None for none.
    The logger holds no open file between runs; it may be reused for another run, which then
    writes a new event file into the same folder.
    """

    def __init__(self, logdir: str | Path, *, histograms_every: int | None = 1):
        from ._validate import positive_int

        self.logdir = Path(logdir)
        if self.logdir.exists() and not self.logdir.is_dir():
            raise InputError(f"the TensorBoard log folder {self.logdir} is a file; choose a "
                             f"folder")
        self.histograms_every = (None if histograms_every is None
                                 else positive_int(histograms_every, "histograms_every"))
        self._writer_class = summary_writer_class()  # fail before any training
        self._writer = None
        self._sharpness_done = 0

    def __repr__(self) -> str:
        return (f"TensorBoardLogger({str(self.logdir)!r}, "
                f"histograms_every={self.histograms_every!r})")

    # pickled into worker processes of a search: the open writer (if any) stays behind
    def __getstate__(self):
        return {**self.__dict__, "_writer": None}

    @classmethod
    def per_run(cls, logdir: str | Path, *, histograms_every: int | None = 1) -> PerRun:
        """A factory for :func:`steepest.experiments.compare` and
        :func:`steepest.tune.run_search`: ``factory(name)`` gives ``[TensorBoardLogger(logdir /
        name)]``, ``name`` being the run's folder (variant folder, ``trial-NNNN``)."""
        cls(logdir, histograms_every=histograms_every)  # check the folder and the writer now
        return PerRun(Path(logdir), histograms_every)

    # ------------------------------------------------------------------ the writer
    @property
    def writer(self):
        """The open event writer (None outside a run)."""
        return self._writer

    def close(self) -> None:
        """Flush and close the writer (done at the end of every run; safe to call again)."""
        if self._writer is not None:
            writer, self._writer = self._writer, None
            writer.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ------------------------------------------------------------------ the hooks
    def on_run_start(self, trainer, state):
        self.close()
        # a resumed run: TensorBoard drops what the interrupted process wrote after the
        # checkpoint (steps from state.step + 1 on are trained again)
        purge = state.step + 1 if state.step > 0 else None
        try:
            self.logdir.mkdir(parents=True, exist_ok=True)
            # event files are named after the second they were opened in: a suffix in
            # nanoseconds keeps two writers of one second from sharing (and truncating) one
            # file, and keeps them in order
            self._writer = self._writer_class(str(self.logdir), purge_step=purge,
                                              filename_suffix=f".{time.time_ns()}")
        except OSError as e:
            raise OutputError(f"cannot write TensorBoard events into {self.logdir}: "
                              f"{e.strerror or e}") from None
        self._sharpness_done = len(state.sharpness)
        if state.step == 0 and self.histograms_every is not None:
            self._histograms(trainer, state)
        self._writer.flush()

    def on_step_end(self, trainer, state, batch):
        loss = _number(batch.loss)
        if self._writer is not None and loss is not None:
            self._writer.add_scalar("loss/batch", loss, state.step)

    def on_epoch_end(self, trainer, state, row):
        w = self._writer
        if w is None:
            return
        step = state.step
        for column, value in row.items():
            number = _number(value)
            if number is not None and column not in _SKIP:
                w.add_scalar(tag_of(column), number, step)
        for at, value, bound in state.sharpness[self._sharpness_done:]:
            for tag, number in (("curvature/sharpness", _number(value)),
                                ("curvature/stability_bound", _number(bound))):
                if number is not None:
                    w.add_scalar(tag, number, int(at))
        self._sharpness_done = len(state.sharpness)
        every = self.histograms_every
        if every is not None and state.epoch % every == 0:
            self._histograms(trainer, state)
        w.flush()

    def on_result(self, trainer, state, result):
        w = self._writer
        if w is None:
            return
        if result.test_acc is not None:
            w.add_scalar("accuracy/test", float(result.test_acc), state.step)
        w.add_text("run/result", f"{result.status}: {result.message}", state.step)
        self.close()

    # ------------------------------------------------------------------ histograms
    def _histograms(self, trainer, state):
        w, theta, step = self._writer, state.theta, state.step
        for spec in trainer.objective.layout:
            _histogram(w, f"params/{spec.name}", theta[spec.slice], step)
        activations = getattr(trainer.objective, "activations", None)
        if activations is None:
            return
        for name, kind, out in activations(theta, trainer.X[trainer.eval_rows]):
            if kind != "dropout":  # the identity in evaluation mode
                _histogram(w, f"activations/{name}", out, step)


def _histogram(writer, tag: str, values, step: int) -> None:
    """A histogram of the finite entries of ``values`` in :data:`HISTOGRAM_BINS` equal bins
    (none: nothing is written). Binned here: the writers' own default bins cost ten times
    more per tensor."""
    values = np.asarray(values, dtype=np.float64).ravel()
    values = values[np.isfinite(values)]
    if not values.size:
        return
    lo, hi = float(values.min()), float(values.max())
    if not math.isfinite(hi - lo):
        return
    counts, edges = np.histogram(values, bins=HISTOGRAM_BINS)
    squares = float(np.square(values).sum())  # not values @ values: BLAS threads for a sum
    writer.add_histogram_raw(tag, min=lo, max=hi, num=int(values.size), sum=float(values.sum()),
                             sum_squares=squares, bucket_limits=edges[1:].tolist(),
                             bucket_counts=counts.tolist(), global_step=step)


class PerRun:
    """``factory(name) -> [TensorBoardLogger(logdir / name)]``: one log folder per run of a
    comparison or a study (picklable, so search workers in other processes can use it)."""

    def __init__(self, logdir: Path, histograms_every: int | None = 1):
        self.logdir, self.histograms_every = Path(logdir), histograms_every

    def __call__(self, name: str) -> list[TensorBoardLogger]:
        return [TensorBoardLogger(self.logdir / name, histograms_every=self.histograms_every)]

    def __repr__(self) -> str:
        return f"TensorBoardLogger.per_run({str(self.logdir)!r})"
