"""Search spaces: what a hyperparameter search may vary, declared in YAML beside a run config.

Each key is a dotted path into the run configuration (``optim.lr``, ``model.reg``,
``model.hidden``, ``train.batch_size``, ``optim.name`` ...), so anything the training config
accepts can be searched. Each value declares one parameter::

    optim.lr:         {low: 1.0e-4, high: 1.0e-1, log: true}       # float (log-uniform)
    model.reg:        {low: 1.0e-6, high: 1.0e-2, log: true}
    model.dropout:    {low: 0.5, high: 1.0}                          # float (uniform)
    train.batch_size: {type: int, low: 32, high: 256, log: true}     # integer
    optim.name:       {choices: [sgd, momentum, adam]}               # categorical
    model.hidden:     {choices: [[64], [128], [256, 128]]}           # lists are allowed

``type`` is ``float`` (the default for ranges), ``int`` or ``categorical`` (the default for
``choices``). For the grid sampler, numeric ranges become ``grid`` evenly spaced values (log
spaced for log ranges; 5 unless the parameter says ``grid: N``). Problems (unknown keys, low >=
high, a log range touching zero, a value the config would refuse) are all reported at once.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .._bounded import check_size, load_yaml, short_repr
from ..config import field_of, parse_config, set_values
from ..errors import InputError

_FIELDS = {"type", "low", "high", "log", "step", "choices", "grid"}


@dataclass(frozen=True)
class Param:
    name: str  # dotted config path
    kind: str  # "float", "int" or "categorical"
    low: float | None = None
    high: float | None = None
    log: bool = False
    choices: tuple = ()
    grid: int = 5

    def encode(self, value):
        """A categorical value as Optuna stores it (lists become JSON strings)."""
        return json.dumps(value) if isinstance(value, list | dict) else value

    def decode(self, value):
        if self.kind == "categorical" and isinstance(value, str) and value[:1] in "[{":
            return json.loads(value)
        return value

    def distribution(self):
        import optuna.distributions as distributions

        if self.kind == "float":
            return distributions.FloatDistribution(self.low, self.high, log=self.log)
        if self.kind == "int":
            return distributions.IntDistribution(int(self.low), int(self.high), log=self.log)
        return distributions.CategoricalDistribution([self.encode(c) for c in self.choices])

    def grid_values(self) -> list:
        if self.kind == "categorical":
            return [self.encode(c) for c in self.choices]
        if self.log:
            vals = np.geomspace(self.low, self.high, self.grid)
        else:
            vals = np.linspace(self.low, self.high, self.grid)
        if self.kind == "int":
            return sorted({int(round(v)) for v in vals})
        return [float(v) for v in vals]

    def narrowed(self, values, margin: float = 0.25) -> Param:
        """The range spanned by ``values`` widened by ``margin`` of its width (in log space for
        log parameters), clipped to the original range; categorical parameters are kept."""
        if self.kind == "categorical" or not len(values):
            return self
        f = np.log if self.log else (lambda v: np.asarray(v, dtype=float))
        g = np.exp if self.log else (lambda v: v)
        lo, hi = float(np.min(f(values))), float(np.max(f(values)))
        width = max(hi - lo, 0.05 * (float(f(self.high)) - float(f(self.low))))
        lo, hi = g(lo - margin * width), g(hi + margin * width)
        lo, hi = max(float(lo), self.low), min(float(hi), self.high)
        if self.kind == "int":
            lo, hi = math.floor(lo), math.ceil(hi)
            if lo >= hi:
                hi = min(lo + 1, int(self.high))
                lo = hi - 1
        return Param(self.name, self.kind, lo, hi, self.log, self.choices, self.grid)


class SearchSpace:
    """An ordered set of :class:`Param`, validated against the run configuration."""

    def __init__(self, params: list[Param]):
        if not params:
            raise InputError("the search space is empty: declare at least one parameter")
        self.params = list(params)

    def __iter__(self):
        return iter(self.params)

    def __getitem__(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    @property
    def names(self) -> list[str]:
        return [p.name for p in self.params]

    @property
    def log_params(self) -> dict[str, bool]:
        return {p.name: p.log for p in self.params if p.kind != "categorical"}

    def suggest(self, trial) -> dict[str, Any]:
        """Draw every parameter from ``trial``; returns the decoded values by name."""
        out = {}
        for p in self.params:
            if p.kind == "float":
                v = trial.suggest_float(p.name, p.low, p.high, log=p.log)
            elif p.kind == "int":
                v = trial.suggest_int(p.name, int(p.low), int(p.high), log=p.log)
            else:
                v = p.decode(trial.suggest_categorical(p.name, [p.encode(c) for c in p.choices]))
            out[p.name] = v
        return out

    def decode(self, params: dict) -> dict:
        return {k: self[k].decode(v) if k in self.names else v for k, v in params.items()}

    def grid(self) -> dict[str, list]:
        return {p.name: p.grid_values() for p in self.params}

    def narrowed(self, best_params: list[dict], margin: float = 0.25) -> SearchSpace:
        return SearchSpace([p.narrowed([b[p.name] for b in best_params if p.name in b], margin)
                            for p in self.params])

    def to_dict(self) -> dict:
        out = {}
        for p in self.params:
            if p.kind == "categorical":
                out[p.name] = {"choices": list(p.choices)}
            else:
                out[p.name] = {"type": p.kind, "low": p.low, "high": p.high, "log": p.log}
        return out


def parse_space(data: dict, base: dict | None = None) -> SearchSpace:
    """Validate a space declaration (see the module docstring); every problem at once."""
    if not isinstance(data, dict) or not data:
        raise InputError("the search space must be a non-empty mapping of config paths to "
                         "parameter declarations")
    check_size(data, "the search space")
    problems, params = [], []
    for name, spec in data.items():
        where = f"  {name[:80] if isinstance(name, str) else short_repr(name)}:"
        if not isinstance(name, str) or field_of(name) is None:
            problems.append(f"{where} not a key of the run configuration (use dotted paths such "
                            f"as optim.lr, model.reg, train.batch_size)")
            continue
        if not isinstance(spec, dict):
            problems.append(f"{where} must be a mapping like {{low: 1e-4, high: 1e-1, log: true}}"
                            f" or {{choices: [...]}}, got {short_repr(spec)}")
            continue
        unknown = sorted(set(spec) - _FIELDS)
        if unknown:
            problems.append(f"{where} unknown field(s) {', '.join(unknown)}; allowed: "
                            f"{', '.join(sorted(_FIELDS))}")
            continue
        kind = spec.get("type", "categorical" if "choices" in spec else "float")
        if kind not in ("float", "int", "categorical"):
            problems.append(f"{where} type must be float, int or categorical, got "
                            f"{short_repr(kind)}")
            continue
        grid = spec.get("grid", 5)
        if not isinstance(grid, int) or grid < 2:
            problems.append(f"{where} grid must be an integer >= 2, got {short_repr(grid)}")
            continue
        if kind == "categorical":
            choices = spec.get("choices")
            if not isinstance(choices, list) or not choices:
                problems.append(f"{where} choices must be a non-empty list, got "
                            f"{short_repr(choices)}")
                continue
            params.append(Param(name, kind, choices=tuple(choices), grid=grid))
            continue
        low, high, log = spec.get("low"), spec.get("high"), spec.get("log", False)
        bad = [k for k, v in (("low", low), ("high", high))
               if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v)]
        if bad:
            problems.append(f"{where} {' and '.join(bad)} must be finite numbers "
                            f"(got low={short_repr(low)}, high={short_repr(high)})")
            continue
        if kind == "int" and (low != int(low) or high != int(high)):
            problems.append(f"{where} an int range needs integer bounds, got {low}..{high}")
            continue
        if low >= high:
            problems.append(f"{where} low must be below high, got low={low} >= high={high}")
            continue
        if not isinstance(log, bool):
            problems.append(f"{where} log must be true or false, got {short_repr(log)}")
            continue
        if log and low <= 0:
            problems.append(f"{where} a log range must be positive, got low={low} (it touches or"
                            f" crosses zero)")
            continue
        params.append(Param(name, kind, float(low), float(high), log, grid=grid))
    if base is not None:
        # every extreme of every (well-formed) parameter must make a valid run config
        for p in params:
            for v in (p.choices if p.kind == "categorical" else (p.low, p.high)):
                v = int(v) if p.kind == "int" else v
                try:
                    parse_config(set_values(base, {p.name: v}))
                except InputError as e:
                    detail = str(e).splitlines()[-1].strip()
                    problems.append(f"  {p.name}: the value {short_repr(v)} is not a valid "
                                    f"config value ({detail})")
    if problems:
        raise InputError(f"{len(problems)} problem(s) in the search space:\n"
                         + "\n".join(problems))
    return SearchSpace(params)


def load_space(path: str | Path, base: dict | None = None) -> SearchSpace:
    """Read a search space from YAML (bounded in size, nesting and aliases) and validate it."""
    return parse_space(load_yaml(path, "search space"), base)
