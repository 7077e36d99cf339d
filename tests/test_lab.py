"""The lab's machinery and its CLI, and the experiments on losses, landscapes, hyperparameter
search and the edge of stability: each quick variant runs and its claims hold."""

import json

import matplotlib.figure
import pytest
from typer.testing import CliRunner

import steepest.lab as lab
from steepest.cli import app
from steepest.errors import InputError

runner = CliRunner()


def _check(result, tmp_path):
    assert result.held, [v for v in result.verdicts if not v.held]
    assert result.figures and all(isinstance(f, matplotlib.figure.Figure)
                                  for f in result.figures.values())
    assert result.table and result.text
    written = {p.name for p in result.save(tmp_path, formats=("png", "svg", "pdf"), dpi=60)}
    stem = next(iter(result.figures))
    assert {f"{stem}.png", f"{stem}.svg", f"{stem}.pdf", "result.json", "README.txt",
            "table.csv"} <= written
    assert json.loads((tmp_path / "result.json").read_text())["held"] is True


def test_svm_vs_softmax(tmp_path):
    _check(lab.run("svm-vs-softmax", quick=True), tmp_path)


def test_landscape(tmp_path):
    _check(lab.run("landscape", quick=True), tmp_path)


def test_hyperparameter_search(tmp_path):
    _check(lab.run("hyperparameter-search", quick=True), tmp_path)


@pytest.mark.slow
def test_edge_of_stability(tmp_path, mnist_path):
    _check(lab.run("edge-of-stability", quick=True), tmp_path)


def test_unknown_names_and_options_are_refused():
    with pytest.raises(InputError, match="the lab has: .*svm-vs-softmax"):
        lab.run("nope")
    with pytest.raises(InputError, match="takes no option colour; its options: dataset, jiggle"):
        lab.run("svm-vs-softmax", colour=1)


def test_the_cli_lists_and_runs(tmp_path):
    listed = json.loads(runner.invoke(app, ["lab", "list", "--json"]).stdout)["experiments"]
    names = {e["name"] for e in listed}
    assert {"svm-vs-softmax", "landscape", "hyperparameter-search",
            "edge-of-stability"} <= names
    assert all(e["quick_seconds"] <= 60 for e in listed)
    out = tmp_path / "svm"
    res = runner.invoke(app, ["lab", "run", "svm-vs-softmax", "--quick", "--out", str(out),
                              "--format", "png", "--json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)["held"] and (out / "svm_vs_softmax.png").exists()
    again = runner.invoke(app, ["lab", "run", "svm-vs-softmax", "--quick", "--out", str(out)])
    assert again.exit_code == 2 and "--force" in again.output
    bad = runner.invoke(app, ["lab", "run", "svm-vs-softmax", "--option", "colour=1"])
    assert bad.exit_code == 2 and "takes no option colour" in bad.output
    unknown = runner.invoke(app, ["lab", "run", "nope"])
    assert unknown.exit_code == 2 and "svm-vs-softmax" in unknown.output


def test_findings_name_the_claims_that_did_not_hold():
    from steepest.lab.base import Verdict, findings

    held = Verdict("momentum helps (kappa 100)", "12 against 90 iterations", True)
    missed = Verdict("wider is better (width 64)", "0.31 against 0.30", False)
    assert findings([held]) == ""
    assert findings([held, missed]) == (" Finding: on this run 'wider is better' did not hold; "
                                        "the verdicts give the numbers.")
    assert "'wider is better (width 64)'" in findings([missed], sep=":")
