"""steepest benchmark: performance profiles, equal budgets, steps to a target, the quick suite
end to end, resumption, workers and bad input."""

import dataclasses
import json
import math
import time

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

import steepest.benchmark as bench
from steepest.benchmark.profiles import performance_profile
from steepest.benchmark.suite import counted_trials, study_name
from steepest.errors import InputError

INF = math.inf


# ----------------------------------------------------------------------------- profiles
def test_performance_profile_matches_a_hand_worked_example():
    # problems x rules (A, B, C): steps to the target, inf or None where a rule fails
    costs = [[10, 20, 40],     # P1: best A;      ratios 1, 2, 4
             [30, 15, INF],    # P2: best B;      ratios 2, 1, inf
             [INF, None, INF],  # P3: nobody solves it: inf for all
             [8, 8, 4]]        # P4: best C;      ratios 2, 2, 1
    prof = performance_profile(costs, ["P1", "P2", "P3", "P4"], ["A", "B", "C"])
    assert prof.ratios == ((1, 2, 4), (2, 1, INF), (INF, INF, INF), (2, 2, 1))
    assert prof.at(1) == {"A": 0.25, "B": 0.25, "C": 0.25}
    assert prof.at(1.5) == {"A": 0.25, "B": 0.25, "C": 0.25}
    assert prof.at(2) == {"A": 0.75, "B": 0.75, "C": 0.25}
    assert prof.at(3.9) == {"A": 0.75, "B": 0.75, "C": 0.25}
    assert prof.at(4) == {"A": 0.75, "B": 0.75, "C": 0.5}
    assert prof.at(1e9) == prof.solved() == {"A": 0.75, "B": 0.75, "C": 0.5}
    # the step function: breakpoints 1, 2, 4, and rho at each
    assert prof.taus == (1.0, 2.0, 4.0)
    assert prof.fractions == {"A": (0.25, 0.75, 0.75), "B": (0.25, 0.75, 0.75),
                              "C": (0.25, 0.25, 0.5)}
    assert [r["tau"] for r in prof.rows()] == [1.0, 2.0, 4.0]
    fig = prof.plot()
    assert len(fig.axes[0].lines) == 3


def test_performance_profile_ties_zero_costs_and_bad_tables():
    prof = performance_profile([[5, 5], [0, 3]], ["p", "q"], ["a", "b"])
    assert prof.ratios == ((1, 1), (1, INF))  # a tie counts for both; a best of 0 is exact
    with pytest.raises(InputError, match="one row per problem"):
        performance_profile([[1, 2]], ["p", "q"], ["a", "b"])
    with pytest.raises(InputError, match="non-negative"):
        performance_profile([[1, -2]], ["p"], ["a", "b"])
    with pytest.raises(InputError, match="tau must be"):
        prof.at(0.5)


# ----------------------------------------------------------------------------- steps to target
def test_steps_to_target_on_the_quadratic_follow_the_gd_rate():
    """GD with step 2/(L + mu) contracts both coordinates of the kappa = 100 quadratic by
    q = (kappa - 1)/(kappa + 1) per step, so f_t = f_0 q^(2t): the target eps needs
    ceil(log(eps / f_0) / (2 log q)) steps."""
    problem = bench.get_problem("quadratic")
    inst = problem.build()
    kappa = 100.0
    q = (kappa - 1) / (kappa + 1)
    for seed, target in ((0, 1e-6), (3, 1e-12)):
        prob = dataclasses.replace(problem, target=target)
        f0 = inst.objective.loss(inst.objective.init_params(seed))
        expected = math.ceil(math.log(target / f0) / (2 * math.log(q)))
        record = bench.run_setting(prob, inst, "sgd", {"lr": 2 / (kappa + 1)}, seed=seed,
                                   steps=2000)
        assert abs(record.steps_to_target - expected) <= 1, (seed, expected, record)
        assert record.reached and not record.diverged
        assert 0 < record.seconds_to_target <= record.seconds
    # a step above 2 / L diverges and never reaches the target
    record = bench.run_setting(problem, inst, "sgd", {"lr": 2.5 / kappa}, steps=500)
    assert record.diverged and not record.reached and record.steps < 500


# ----------------------------------------------------------------------------- the suite
def _studies(out, problems, rules):
    import optuna

    from steepest.tune import make_storage

    store = make_storage(f"sqlite:///{(out / 'benchmark.db').resolve()}", heartbeat=None)
    return {(p, r): optuna.load_study(study_name=study_name(p, r), storage=store)
            for p in problems for r in rules}


def test_quick_suite_end_to_end_files_and_resumption(tmp_path):
    out = tmp_path / "bench"
    events = []
    started = time.perf_counter()
    result = bench.run(out, quick=True, on_event=events.append)
    first = time.perf_counter() - started
    problems, rules = bench.QUICK_PROBLEMS, bench.QUICK_RULES
    assert tuple(result.problems) == problems and result.rules == rules
    assert len(result.cells) == len(problems) * len(rules)
    assert result.ran_trials == len(problems) * len(rules) * bench.QUICK_TRIALS
    # equal tuning budgets: every rule got exactly the same number of trials on every problem
    assert {c.trials for c in result.cells} == {bench.QUICK_TRIALS}
    for study in _studies(out, problems, rules).values():
        assert len(study.trials) == bench.QUICK_TRIALS
        assert sorted(counted_trials(study, bench.QUICK_TRIALS)) == [0, 1, 2, 3]
    assert sum(e["type"] == "trial" for e in events) == result.ran_trials
    for c in result.cells:
        assert c.best_hyper is not None and len(c.runs) == bench.QUICK_SEEDS
        assert [r["seed"] for r in c.runs] == [1, 2]  # never the tuning seed
        s = c.stats["steps_to_target"]
        assert s["q25"] <= s["median"] <= s["q75"]
    # adam reaches the quadratic's target: a finite median and a finite profile cost
    assert math.isfinite(result.cell("quadratic", "adam").cost("steps"))
    prof = result.profile("steps")
    assert prof.problems == problems and prof.rules == rules
    assert max(prof.at(1).values()) > 0

    written = {p.name for p in result.save(formats=("png",))}
    assert {"cells.csv", "runs.csv", "trials.csv", "profile-steps.csv", "profile-seconds.csv",
            "result.json", "README.txt", "profile-steps.png", "profile-seconds.png",
            "curves.png"} <= written
    assert len((out / "cells.csv").read_text().splitlines()) == 1 + len(result.cells)
    assert len((out / "trials.csv").read_text().splitlines()) == 1 + result.ran_trials
    saved = json.loads((out / "result.json").read_text())
    assert saved["settings"]["trials"] == bench.QUICK_TRIALS and len(saved["cells"]) == 9
    assert not list(out.rglob("*.part"))

    started = time.perf_counter()
    again = bench.run(out, quick=True)
    assert again.ran_trials == 0 and again.ran_reruns == 0
    assert time.perf_counter() - started < max(5.0, first)
    keys = ("problem", "rule", "trials", "best", "reached", "steps_to_target_median",
            "steps_to_target_q25", "steps_to_target_q75", "final_median")
    assert [{k: row[k] for k in keys} for row in again.table()] == \
        [{k: row[k] for k in keys} for row in result.table()]


def test_budgets_stay_equal_with_workers_growth_and_interrupted_trials(tmp_path):
    kw = dict(problems=["quadratic"], rules=["sgd", "momentum", "lion"], seeds=1, quick=True,
              tune_momentum=True)
    alone = bench.run(tmp_path / "one", trials=3, **kw)
    shared = bench.run(tmp_path / "two", trials=3, workers=2, **kw)
    assert [c.trials for c in shared.cells] == [3, 3, 3]
    # the same draws whatever the number of workers (the sampler is seeded per slot)
    assert [c.best_hyper for c in shared.cells] == [c.best_hyper for c in alone.cells]
    assert set(alone.cell("quadratic", "momentum").best_hyper) == {"lr", "mu"}
    assert set(alone.cell("quadratic", "sgd").best_hyper) == {"lr"}

    # a trial left running by a killed process does not count; a larger budget adds slots
    study = _studies(tmp_path / "one", ["quadratic"], ["sgd"])["quadratic", "sgd"]
    study.ask()
    grown = bench.run(tmp_path / "one", trials=5, **kw)
    assert grown.ran_trials == 2 * 3
    assert [c.trials for c in grown.cells] == [5, 5, 5]


def test_a_rule_whose_every_trial_diverges_gets_no_rerun_and_solves_nothing(tmp_path,
                                                                             monkeypatch):
    from steepest.benchmark import protocol

    monkeypatch.setitem(protocol.LR_RANGES, "sgd", (0.5, 3.0))  # far above 2 / L = 0.02
    result = bench.run(tmp_path / "b", problems=["quadratic"], rules=["sgd", "adam"],
                       trials=2, seeds=1, quick=True)
    sgd = result.cell("quadratic", "sgd")
    assert (sgd.trials, sgd.completed, sgd.failed) == (2, 0, 2)
    assert sgd.best_hyper is None and sgd.runs == () and sgd.cost("steps") == INF
    assert all("the loss became" in row["reason"] for row in sgd.tuning)
    assert result.profile("steps").solved()["sgd"] == 0.0
    assert result.cell("quadratic", "adam").trials == 2


def test_unavailable_problems_are_skipped_with_a_note(tmp_path, monkeypatch):
    monkeypatch.setenv("STEEPEST_MNIST_DIR", str(tmp_path / "nowhere"))
    result = bench.run(tmp_path / "b", problems=["mnist", "quadratic"], rules=["adam"],
                       trials=1, seeds=1, quick=True)
    assert [d["problem"] for d in result.skipped] == ["mnist"]
    assert "STEEPEST_MNIST_DIR" in result.skipped[0]["reason"]
    assert list(result.problems) == ["quadratic"]
    monkeypatch.delenv("STEEPEST_MNIST_DIR")
    assert "set $STEEPEST_MNIST_DIR" in bench.get_problem("mnist").unavailable()


def test_bad_input_names_the_value_and_what_is_allowed(tmp_path):
    out = tmp_path / "b"
    with pytest.raises(InputError, match=r"unknown problem 'nope'; allowed: digits, mnist"):
        bench.run(out, problems=["quadratic", "nope"])
    with pytest.raises(InputError, match=r"unknown rule 'adamm'; allowed: sgd, momentum"):
        bench.run(out, rules="sgd,adamm")
    with pytest.raises(InputError, match=r"trials per rule.*positive integer.*got 0"):
        bench.run(out, trials=0)
    with pytest.raises(InputError, match=r"rerun seeds.*got -1"):
        bench.run(out, seeds=-1)
    with pytest.raises(InputError, match=r"unknown sampler 'grid'; allowed: random, tpe"):
        bench.run(out, sampler="grid")
    with pytest.raises(InputError, match="workers"):
        bench.run(out, workers=0)
    with pytest.raises(InputError, match="name at least one rule"):
        bench.run(out, rules=[])
    assert not out.exists()  # refused before anything was written
    # a folder remembers its budgets: a full run in a quick run's folder is refused
    bench.run(out, problems=["quadratic"], rules=["sgd"], trials=1, seeds=1, quick=True)
    with pytest.raises(InputError, match="other settings.*problem quadratic"):
        bench.run(out, problems=["quadratic"], rules=["sgd"], trials=1, seeds=1)


# ----------------------------------------------------------------------------- other problems
@pytest.mark.torch
def test_cnn_problem_trains_through_the_torch_objective():
    pytest.importorskip("torch")
    problem = bench.get_problem("cnn")
    inst = problem.build()
    record = bench.run_setting(problem, inst, "adam", {"lr": 3e-3}, seed=1, steps=40)
    assert not record.diverged and record.steps == 40
    assert record.final > 0.3 and record.test_acc is not None


def test_mnist_problem_loads_from_the_environment(mnist_path, monkeypatch):
    monkeypatch.setenv("STEEPEST_MNIST_DIR", str(mnist_path))
    problem = bench.get_problem("mnist")
    assert problem.unavailable() is None
    inst = problem.build()
    assert inst.X_train.shape[1] == 784 and len(inst.X_val) == 5000
    record = bench.run_setting(problem, inst, "adam", {"lr": 1e-3}, steps=100)
    assert record.final > 0.7


# ----------------------------------------------------------------------------- command line
def test_cli_json_and_bad_input(tmp_path):
    from steepest.cli.benchmark import benchmark_command

    app = typer.Typer()
    app.command()(benchmark_command)
    runner = CliRunner()
    args = ["--quick", "--problems", "quadratic", "--rules", "sgd,adam", "--trials", "2",
            "--seeds", "1", "--out", str(tmp_path / "b"), "--json"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    data = json.loads(res.stdout)
    assert [c["trials"] for c in data["cells"]] == [2, 2]
    assert any(f.endswith("profile-steps.png") for f in data["files"])
    res = runner.invoke(app, ["--problems", "nope", "--out", str(tmp_path / "c")])
    assert res.exit_code == 2
    assert "unknown problem 'nope'" in res.output
    res = runner.invoke(app, ["--list"])
    assert res.exit_code == 0 and "rosenbrock" in res.stdout
    np.testing.assert_equal(len(data["profiles"]["steps"]["rules"]), 2)
