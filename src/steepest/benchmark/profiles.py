"""Performance profiles (Dolan and Moré 2002, "Benchmarking optimization software with
performance profiles").

For problems ``p`` and solvers (here: update rules) ``s`` with costs ``t[p, s]`` (steps or
seconds to the target; infinite when ``s`` does not solve ``p``), the performance ratio is

    r[p, s] = t[p, s] / min_s' t[p, s']

(infinite when ``t[p, s]`` is, and for every rule on a problem that no rule solves), and the
profile of rule ``s`` is the fraction of problems it solves within a factor ``tau`` of the best
rule:

    rho_s(tau) = |{p : r[p, s] <= tau}| / n_problems,    tau >= 1.

``rho_s(1)`` is the share of problems on which ``s`` is the fastest (ties count for each rule
tied); ``rho_s(tau)`` for large ``tau`` is the share it solves at all. It is a right-continuous
step function of ``tau`` that jumps at the rule's finite ratios. A best cost of 0 (the target
met at the start) gives ratio 1 to the rules that also took 0 and infinity to the others.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..results import Result


@dataclass(frozen=True)
class PerformanceProfile(Result):
    """The profile of every rule over the same problems (see the module docstring).

    ``costs`` and ``ratios`` are (problems x rules) lists, infinity for unsolved;
    ``taus`` the sorted breakpoints (1 and every finite ratio); ``fractions[rule]`` the value of
    ``rho_rule`` at each of ``taus``.
    """

    measure: str
    problems: tuple[str, ...]
    rules: tuple[str, ...]
    costs: tuple[tuple[float, ...], ...]
    ratios: tuple[tuple[float, ...], ...]
    taus: tuple[float, ...]
    fractions: dict

    def at(self, tau: float) -> dict[str, float]:
        """``{rule: rho_rule(tau)}``: the share of problems solved within ``tau`` of the best."""
        tau = float(tau)
        if not tau >= 1:
            raise InputError(f"tau must be a number >= 1, got {tau!r}")
        r = np.asarray(self.ratios, dtype=float).reshape(len(self.problems), len(self.rules))
        n = max(len(self.problems), 1)
        return {rule: float(np.sum(r[:, j] <= tau) / n) for j, rule in enumerate(self.rules)}

    def solved(self) -> dict[str, float]:
        """``{rule: rho_rule(infinity)}``: the share of problems each rule solves at all."""
        r = np.asarray(self.ratios, dtype=float).reshape(len(self.problems), len(self.rules))
        n = max(len(self.problems), 1)
        return {rule: float(np.sum(np.isfinite(r[:, j])) / n) for j, rule in enumerate(self.rules)}

    def rows(self) -> list[dict]:
        """One row per breakpoint: ``tau`` and each rule's fraction (for a CSV)."""
        return [{"tau": tau, **{rule: self.fractions[rule][i] for rule in self.rules}}
                for i, tau in enumerate(self.taus)]

    def plot(self, ax=None):
        """The profiles as step functions of tau (log-2 axis); the legend gives the share of
        problems each rule solves at all."""
        from ..viz.plots import figure_and_axes

        fig, ax = figure_and_axes(ax)
        top = max(self.taus[-1] * 1.5, 2.0) if self.taus else 2.0
        solved = self.solved()
        styles = ("-", "--", "-.", ":")
        for j, rule in enumerate(self.rules):
            x = [*self.taus, top]
            y = [*self.fractions[rule], self.fractions[rule][-1] if self.taus else 0.0]
            ax.step(x, y, where="post", lw=1.8, ls=styles[j % len(styles)],
                    label=f"{rule} (solves {solved[rule]:.0%})")
        ax.set_xscale("log", base=2)
        ax.set_xlim(1, top)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(f"tau (within this factor of the best rule's {self.measure})")
        ax.set_ylabel("fraction of problems")
        ax.set_title(f"performance profile: {self.measure} to the target "
                     f"({len(self.problems)} problems)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8, loc="lower right")
        return fig


def _costs(costs, n_problems: int, n_rules: int) -> np.ndarray:
    try:
        t = np.array(costs, dtype=float)
    except (TypeError, ValueError):
        raise InputError("costs must be a (problems x rules) table of numbers (inf or None for "
                         "unsolved)") from None
    if t.shape != (n_problems, n_rules):
        raise InputError(f"costs must have one row per problem and one column per rule: "
                         f"expected shape {(n_problems, n_rules)}, got {t.shape}")
    if np.any(t < 0):
        raise InputError("costs must be non-negative (steps or seconds to the target)")
    t[np.isnan(t)] = np.inf  # None and NaN: not solved
    return t


def ratios(costs: np.ndarray) -> np.ndarray:
    """The performance ratios ``r[p, s]`` of a (problems x rules) cost array."""
    t = np.asarray(costs, dtype=float)
    best = np.min(t, axis=1, keepdims=True) if t.size else np.zeros((t.shape[0], 1))
    with np.errstate(divide="ignore", invalid="ignore"):
        r = t / best
    r[t == best] = 1.0  # ties with the best, a best of 0 included
    r[~np.isfinite(t) | ~np.isfinite(best) | ~np.isfinite(r)] = np.inf
    return r


def performance_profile(costs, problems, rules, measure: str = "steps") -> PerformanceProfile:
    """The performance profile of ``rules`` on ``problems`` from a (problems x rules) table of
    costs (steps or seconds to the target; ``inf``, NaN or None where a rule does not solve a
    problem). See the module docstring."""
    problems, rules = tuple(map(str, problems)), tuple(map(str, rules))
    if not rules:
        raise InputError("a performance profile needs at least one rule")
    t = _costs(costs, len(problems), len(rules))
    r = ratios(t)
    finite = r[np.isfinite(r)]
    taus = tuple(float(v) for v in np.unique(np.concatenate(([1.0], finite))))
    n = max(len(problems), 1)
    fractions = {rule: tuple(float(np.sum(r[:, j] <= tau) / n) for tau in taus)
                 for j, rule in enumerate(rules)}
    return PerformanceProfile(measure, problems, rules,
                              tuple(tuple(float(v) for v in row) for row in t),
                              tuple(tuple(float(v) for v in row) for row in r), taus, fractions)
