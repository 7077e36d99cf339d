"""steepest.report: the kind of a folder, its HTML report, the errors, the size and that the page
references nothing outside itself. The browser checks are in test_report_browser.py."""

import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from steepest.errors import DataError, InputError
from steepest.report import build_report, detect, write_report
from steepest.report.charts import chart, downsample, series

KINDS = ("run", "comparison", "surface", "study", "lab")
runner = CliRunner()


def build_folders(tmp_path_factory) -> dict[str, Path]:
    """One tiny folder of every kind, built once per test session (shared with the browser
    tests, which call this too: the second call finds them built)."""
    root = tmp_path_factory.getbasetemp() / "report-folders"
    folders = {"run": root / "run", "comparison": root / "comparison",
               "surface": root / "run" / "landscape" / "plane", "line": root / "line",
               "study": root / "study", "lab": root / "lab"}
    if (root / "done").exists():
        return folders
    _build(folders)
    (root / "done").write_text("ok\n")
    return folders


def _build(folders: dict[str, Path]) -> None:
    import steepest.lab
    from steepest.cli import app
    from steepest.config import with_values
    from steepest.experiments import compare, optimizer_variants
    from steepest.runs import train_run
    from steepest.tune import parse_space, run_search

    cfg = with_values(None, {"train.epochs": 2, "train.track_sharpness": 10})
    train_run(cfg, folders["run"])
    run = str(folders["run"])
    for args in (["landscape", run, "--grid", "5", "--workers", "1", "--out",
                  str(folders["surface"])],
                 ["landscape", run, "--line", "--grid", "7", "--workers", "1", "--out",
                  str(folders["line"])],
                 ["hessian", run, "--top", "2", "--subset", "200"]):
        result = runner.invoke(app, [*args, "--json"])
        assert result.exit_code == 0, result.output
    compare(with_values(None, {"train.epochs": 2}), optimizer_variants(["sgd", "adam"]),
            folders["comparison"]).save()
    base = {"train": {"epochs": 2}}
    space = parse_space({"optim.lr": {"low": 1e-3, "high": 0.3, "log": True},
                         "model.reg": {"low": 1e-6, "high": 1e-2, "log": True}}, base=base)
    run_search(space, base, folders["study"], trials=3)
    steepest.lab.run("svm-vs-softmax", quick=True).save(folders["lab"])


@pytest.fixture(scope="session")
def folders(tmp_path_factory):
    return build_folders(tmp_path_factory)


@pytest.fixture(scope="session")
def reports(folders):
    return {kind: build_report(folders[kind]) for kind in (*KINDS, "line")}


def _copy(folders, kind, tmp_path) -> Path:
    dest = tmp_path / kind
    shutil.copytree(folders[kind], dest, ignore=shutil.ignore_patterns("landscape", "hessian"))
    return dest


def _specs(text: str) -> list[dict]:
    return [json.loads(s) for s in re.findall(
        r'<script type="application/json">(.*?)</script>', text, flags=re.S)]


# ----------------------------------------------------------------------------- detection
@pytest.mark.slow
@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_is_detected_by_its_files(folders, kind):
    assert detect(folders[kind]) == kind
    assert detect(folders["line"]) == "surface"


@pytest.mark.slow
def test_a_file_of_a_folder_stands_for_the_folder(folders):
    assert detect(folders["run"] / "summary.json") == "run"
    assert detect(folders["surface"] / "surface.npz") == "surface"
    with pytest.raises(InputError, match="loss.png is a file"):
        detect(folders["run"] / "plots" / "loss.png")


def test_a_folder_of_no_kind_is_refused_by_name(tmp_path):
    (tmp_path / "notes.txt").write_text("hello")
    (tmp_path / "config.yaml").write_text("train: {epochs: 1}\n")  # a config alone: no run
    with pytest.raises(InputError) as err:
        build_report(tmp_path)
    message = str(err.value)
    assert str(tmp_path) in message and "is not a run, comparison, surface, study or lab" \
        in message
    for name in ("comparison.json", "surface.npz", "study.json", "result.json"):
        assert name in message
    with pytest.raises(InputError, match="does not exist"):
        write_report(tmp_path / "missing")
    assert not (tmp_path / "report.html").exists()


# ----------------------------------------------------------------------------- damaged files
DAMAGE = [
    ("run", "summary.json", '{"status": "completed",', "not valid JSON"),
    ("run", "metrics.csv", "epoch,step,val_acc\n1,21\n", "line 2 has 2 cells"),
    ("run", "metrics.csv", "epoch,step,val_acc\n1,21,high\n", "not a number"),
    ("run", "config.yaml", "data: [unclosed\n", "damaged"),
    ("run", "iterations.csv", b"\xff\xfe\x00garbage", "not UTF-8"),
    ("comparison", "comparison.json", '{"variants": []}', "lists no variants"),
    ("surface", "surface.npz", b"PK\x03\x04 truncated", "damaged or not a NumPy"),
    ("study", "study.json", "[1, 2]", "JSON list"),
    ("study", "trials.csv", "number,state,value\n0,COMPLETE\n", "line 2 has 2 cells"),
    ("lab", "result.json", '{"name": "x", "verdicts": [{"claim": "c"}]}', "list of verdicts"),
    ("lab", "svm_vs_softmax.png", b"not a png", "not a PNG image"),
]


@pytest.mark.slow
@pytest.mark.parametrize("kind, name, content, why", DAMAGE)
def test_a_damaged_file_is_named(folders, tmp_path, kind, name, content, why):
    folder = _copy(folders, kind, tmp_path)
    target = folder / name
    target.write_bytes(content if isinstance(content, bytes) else content.encode())
    with pytest.raises(DataError) as err:
        write_report(folder)
    assert str(target) in str(err.value) and why in str(err.value)
    assert not (folder / "report.html").exists()


# ----------------------------------------------------------------------------- the content
@pytest.mark.slow
@pytest.mark.parametrize("kind", (*KINDS, "line"))
def test_the_page_references_nothing_outside_itself(reports, kind):
    text = reports[kind]
    assert text.startswith("<!DOCTYPE html>")
    refs = re.findall(r"""\b(?:src|href|action|poster|data)\s*=\s*["']?([^"'\s>]*)""", text,
                      flags=re.I)
    assert refs, "the page has no figures at all"
    for ref in refs:
        assert ref.startswith(("data:", "#")), ref
    assert not re.search(r"https?://", text)  # not even in a comment or a script
    assert "@import" not in text and not re.search(r"url\((?!#)", text)
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


@pytest.mark.slow
def test_sizes_stay_small(reports):
    sizes = {kind: len(text.encode()) for kind, text in reports.items()}
    assert sizes["run"] < 1_000_000, sizes
    assert max(sizes.values()) < 2_000_000, sizes


@pytest.mark.slow
def test_run_report_has_the_babysitting_panels(reports):
    text = reports["run"]
    titles = [s["title"] for s in _specs(text)]
    for fragment in ("training loss per step", "accuracy per epoch", "update-to-weight ratio",
                     "gradient norm", "dead units", "activation statistics", "sharpness"):
        assert any(fragment in t for t in titles), (fragment, titles)
    ratio = next(s for s in _specs(text) if "update-to-weight" in s["title"])
    assert {s["name"] for s in ratio["series"]} == {"fc1.W", "fc2.W"} and ratio["ylog"]
    assert "first-layer weights" in text and "data:image/png;base64," in text
    assert "Hessian spectrum" in text  # the curvature result of the run
    assert "<h3>optim</h3>" in text and "config.yaml as written" in text


@pytest.mark.slow
def test_long_series_are_cut_down_and_weights_redrawn(folders, tmp_path):
    folder = _copy(folders, "run", tmp_path)
    rng = np.random.default_rng(0)
    losses = np.exp(-np.linspace(0, 5, 200_000)) + 0.05 * rng.random(200_000)
    losses[123_457] = 50.0  # a spike survives the cut
    (folder / "iterations.csv").write_text(
        "step,loss\n" + "".join(f"{i + 1},{v!r}\n" for i, v in enumerate(losses.tolist())))
    shutil.rmtree(folder / "plots")
    path = write_report(folder)
    text = path.read_text()
    assert path.stat().st_size < 1_000_000
    loss = next(s for s in _specs(text) if s["title"].startswith("training loss"))
    raw = next(s for s in loss["series"] if s["name"] == "mini-batch loss")
    assert len(raw["x"]) <= 2000 and max(raw["y"]) == 50.0 and raw["x"][-1] == 200_000
    assert "(drawn from final.npz)" in text


@pytest.mark.slow
def test_unfinished_run_shows_its_finished_epochs(folders, tmp_path):
    folder = _copy(folders, "run", tmp_path)
    (folder / "summary.json").unlink()
    text = build_report(folder)
    assert "unfinished" in text and "no summary.json" in text


@pytest.mark.slow
def test_comparison_overlays_one_curve_per_variant(reports):
    specs = _specs(reports["comparison"])
    for title in ("training loss per step", "validation accuracy per epoch"):
        spec = next(s for s in specs if s["title"].startswith(title))
        assert [s["name"] for s in spec["series"]] == ["sgd (lr 0.1)", "adam (lr 0.001)"]


@pytest.mark.slow
def test_surface_study_and_lab_reports(reports):
    surface = reports["surface"]
    for caption in ("contour lines of the loss", "heatmap of the accuracy",
                    "the loss as a 3-D surface", "Hessian spectrum"):
        assert caption in surface
    assert any(s["title"] == "loss along the slice" for s in _specs(reports["line"]))
    study = reports["study"]
    assert study.count("study/trials/trial-000") >= 3 and 'class="best"' in study
    assert "hyperparameter importances" in study and "Best configuration" in study
    assert any(s["title"].startswith("learning curves") for s in _specs(study))
    lab = reports["lab"]
    assert "the lecture&#x27;s claims held" in lab or "claims did NOT hold" in lab
    assert lab.count('class="verdict ') == 3 and "measured:" in lab


@pytest.mark.slow
def test_write_report_places_the_file(folders, tmp_path):
    folder = _copy(folders, "lab", tmp_path)
    assert write_report(folder) == folder / "report.html"
    out_dir = tmp_path / "elsewhere"
    out_dir.mkdir()
    assert write_report(folder, out_dir) == out_dir / "report.html"
    assert write_report(folder, tmp_path / "lab.html").read_text().endswith("</html>\n")
    assert not list(tmp_path.rglob("*.part"))


# ----------------------------------------------------------------------------- the command
def _app():
    from steepest.cli.report import report_command

    app = typer.Typer()
    app.command("report")(report_command)
    app.command("other")(lambda: None)  # a group, so "report" is a subcommand as in steepest
    return app


@pytest.mark.slow
def test_command_writes_the_report_and_reports_errors(folders, tmp_path):
    folder = _copy(folders, "lab", tmp_path)
    result = runner.invoke(_app(), ["report", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["kind"] == "lab" and out["bytes"] == (folder / "report.html").stat().st_size
    result = runner.invoke(_app(), ["report", str(folder), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 0 and "lab report" in result.output
    result = runner.invoke(_app(), ["report", str(tmp_path / "nothing"), "--json"])
    assert result.exit_code == 2 and "does not exist" in json.loads(result.output)["error"]


# ----------------------------------------------------------------------------- chart helpers
def test_downsample_keeps_extremes_and_order():
    x = np.arange(10_000.0)
    y = np.sin(x / 300.0)
    y[7777] = 9.0
    y[4321] = np.nan
    xs, ys = downsample(x, y, 1000)
    assert xs.size <= 1000 and np.all(np.diff(xs) > 0)
    assert ys.max() == 9.0 and xs[0] == 0 and xs[-1] == 9999
    assert downsample(x[:5], y[:5], 1000)[0].size == 5


def test_chart_text_cannot_close_its_script():
    html = chart("a </script><b>", "x", "y", [series("s </script>", [1, 2], [1.0, np.inf])])
    assert html.count("</script>") == 1 and "&lt;/script&gt;" in html
    spec = _specs(html)[0]
    assert spec["series"][0]["y"] == [1.0, None] and spec["xint"]
    assert chart("empty", "x", "y", [series("s", [1], [np.nan])]) == ""


def test_a_run_is_described_by_its_kind_of_model():
    from steepest.report.training import describe

    torch_run = {"data": {"name": "mnist"}, "optim": {"name": "adam", "lr": 0.002},
                 "model": {"torch": {"factory": "examples/lenet.py:make"}}}
    assert describe(torch_run) == "mnist: PyTorch examples/lenet.py:make, adam at lr 0.002"
    mlp_run = {"data": {"name": "digits"}, "optim": {"name": "sgd", "lr": 0.1},
               "model": {"hidden": [64, 32], "activation": "tanh"}}
    assert describe(mlp_run) == "digits: MLP 64-32 (tanh), sgd at lr 0.1"
    assert describe({"model": {"hidden": []}}).endswith("linear classifier, ?")
