"""The lab's machinery: an experiment is a function registered with what it shows and the
options it takes; running it returns a :class:`LabResult` whose verdicts set the lecture's
claim beside the number measured.

Write an experiment as::

    @experiment("conditioning", topic="momentum", shows="...", quick_seconds=3,
                full_seconds=20, kappas=(1, 10, 100, 1000))
    def conditioning(ctx, kappas):
        ...
        return ctx.result(verdicts=[...], table=[...], figures={...}, text="...")

``ctx`` (:class:`Context`) carries ``quick``, ``seed`` and a few helpers. Every option is
declared with its default in the decorator; a run with an option the experiment does not take
is refused by name.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .._io import atomic_write_bytes, atomic_write_json, atomic_write_text
from ..errors import InputError
from ..results import Result, finite_or_none


@dataclass(frozen=True)
class Verdict(Result):
    """A lecture's ``claim``, the figure ``measured`` (in words, with its numbers) and whether
    the claim ``held`` on this run."""

    claim: str
    measured: str
    held: bool


@dataclass(frozen=True)
class LabResult(Result):
    """What an experiment produced: verdicts, a table, figures, data and a text saying what to
    look at."""

    name: str
    quick: bool
    seed: int
    verdicts: tuple[Verdict, ...]
    table: tuple[dict, ...] = ()
    text: str = ""
    figures: dict = field(default_factory=dict)  # file stem -> matplotlib Figure
    data: dict = field(default_factory=dict)  # extra series, JSON-ready
    options: dict = field(default_factory=dict)
    seconds: float = 0.0

    _omit = ("figures",)

    @property
    def held(self) -> bool:
        """True when every verdict held."""
        return all(v.held for v in self.verdicts)

    def to_dict(self) -> dict:
        return {**super().to_dict(), "figures": sorted(self.figures), "held": self.held}

    def plot(self):
        """The experiment's main figure (the first one)."""
        return next(iter(self.figures.values()))

    def save(self, out_dir: str | Path, formats=("png", "svg", "pdf"), dpi: int = 110) -> list:
        """Write every figure in every format, ``table.csv``, ``result.json`` and
        ``README.txt`` (what to look at, and the verdicts) into ``out_dir``."""
        from ..viz import save_figures

        out = Path(out_dir)
        written = []
        for fmt in formats:
            written += save_figures(self.figures, out, format=fmt, dpi=dpi)
        if self.table:
            written.append(atomic_write_text(out / "table.csv", _csv(self.table)))
        written.append(atomic_write_json(out / "result.json", finite_or_none(self.to_dict())))
        written.append(atomic_write_bytes(out / "README.txt", self.readme().encode("utf-8")))
        return written

    def readme(self) -> str:
        lines = [f"steepest lab: {self.name}" + (" (quick)" if self.quick else ""), "",
                 self.text.strip(), "", "Verdicts:"]
        for v in self.verdicts:
            lines.append(f"- [{'held' if v.held else 'DID NOT HOLD'}] {v.claim}")
            lines.append(f"    measured: {v.measured}")
        return "\n".join(lines) + "\n"


def findings(verdicts, sep: str = " (") -> str:
    """A sentence for an experiment's text naming the claims that did not hold on this run
    (each claim up to ``sep``, where its measured detail begins); empty when all held."""
    failed = [v.claim.split(sep)[0] for v in verdicts if not v.held]
    if not failed:
        return ""
    return (" Finding: on this run '" + "'; '".join(failed) + "' did not hold; the verdicts "
            "give the numbers.")


def _csv(rows) -> str:
    cols = list(dict.fromkeys(k for row in rows for k in row))
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=cols, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else v) for k, v in row.items()})
    return buf.getvalue()


@dataclass
class Context:
    """What an experiment function receives: its mode and seed, and where it records."""

    name: str
    quick: bool
    seed: int
    options: dict
    started: float = field(default_factory=time.perf_counter)

    def result(self, verdicts, table=(), figures=None, text="", data=None) -> LabResult:
        return LabResult(self.name, self.quick, self.seed, tuple(verdicts), tuple(table), text,
                         dict(figures or {}), dict(data or {}), dict(self.options),
                         time.perf_counter() - self.started)

    def pick(self, quick, full):
        """``quick`` in a quick run, else ``full``."""
        return quick if self.quick else full


@dataclass(frozen=True)
class Experiment:
    """A registered experiment: its name, lecture topic, what it shows, how long it takes (on
    the project's 2-core machine), its options with their defaults, and its function."""

    name: str
    topic: str
    shows: str
    quick_seconds: float
    full_seconds: float
    options: dict
    function: Callable[..., LabResult]

    def describe(self) -> dict:
        return {"name": self.name, "topic": self.topic, "shows": self.shows,
                "quick_seconds": self.quick_seconds, "full_seconds": self.full_seconds,
                "options": dict(self.options)}


EXPERIMENTS: dict[str, Experiment] = {}


def experiment(name: str, *, topic: str, shows: str, quick_seconds: float,
               full_seconds: float, **options: Any):
    """Register ``fn(ctx, **options) -> LabResult`` as the experiment ``name``."""

    def register(fn):
        EXPERIMENTS[name] = Experiment(name, topic, shows, quick_seconds, full_seconds,
                                       options, fn)
        return fn

    return register


def get(name: str) -> Experiment:
    """The experiment called ``name``; an unknown name gets the list of valid ones."""
    from . import experiments  # noqa: F401  (registers them all)

    if name not in EXPERIMENTS:
        raise InputError(f"unknown experiment {name!r}; the lab has: "
                         f"{', '.join(sorted(EXPERIMENTS))}")
    return EXPERIMENTS[name]


def check(name: str, seed: int = 0, **options) -> Experiment:
    """The experiment ``name`` after checking the seed and that it takes these options."""
    exp = get(name)
    unknown = sorted(set(options) - set(exp.options))
    if unknown:
        allowed = ", ".join(exp.options) or "none"
        raise InputError(f"experiment {name!r} takes no option {', '.join(unknown)}; its "
                         f"options: {allowed}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    return exp


def run(name: str, quick: bool = False, seed: int = 0, **options) -> LabResult:
    """Run the experiment ``name`` (``quick``: the variant the tests run, at most a minute on 2
    cores) and return its result; options it does not take are refused by name."""
    exp = check(name, seed, **options)
    merged = {**exp.options, **options}
    ctx = Context(name, bool(quick), seed, merged)
    return exp.function(ctx, **merged)


def listing() -> list[dict]:
    """Every experiment: name, topic, what it shows, time to run, options."""
    from . import experiments  # noqa: F401

    return [EXPERIMENTS[k].describe() for k in sorted(EXPERIMENTS)]
