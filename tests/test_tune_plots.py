"""Plots of a hyperparameter search, on small synthetic Optuna studies (no training)."""

from __future__ import annotations

import math

import matplotlib.image as mpimg
import numpy as np
import pytest
from matplotlib.figure import Figure

optuna = pytest.importorskip("optuna")

from steepest.errors import InputError  # noqa: E402
from steepest.tune import plots as tp  # noqa: E402
from steepest.viz import save_figure, save_figures  # noqa: E402

optuna.logging.set_verbosity(optuna.logging.ERROR)  # also quiets "Trial 5 failed"
pytestmark = pytest.mark.filterwarnings("ignore::optuna.exceptions.ExperimentalWarning")

PNG = b"\x89PNG\r\n\x1a\n"
LOG = {"optim.lr": True, "model.reg": True, "train.batch_size": True}
STEMS = ["history", "params", "lr_reg", "importances", "intermediate"]
NAMES = [f"{stem}.png" for stem in STEMS]


def _accuracy(lr, reg, hidden, batch):
    """A smooth synthetic 'validation accuracy' peaking at lr=1e-2, reg=1e-4."""
    a = 0.92 - 0.06 * (math.log10(lr) + 2) ** 2 - 0.02 * (math.log10(reg) + 4) ** 2
    a += 0.01 * (hidden == "128,64") - 0.002 * abs(math.log2(batch) - 6)
    return float(np.clip(a, 0.1, 0.99))


def _objective(lr_range, reg_range, stage):
    def objective(trial):
        trial.set_user_attr("stage", stage)
        lr = trial.suggest_float("optim.lr", *lr_range, log=True)
        reg = trial.suggest_float("model.reg", *reg_range, log=True)
        hidden = trial.suggest_categorical("model.hidden", ["64", "128,64"])
        batch = trial.suggest_int("train.batch_size", 16, 256, log=True)
        if trial.number == 5:
            raise ValueError("diverged")  # a failed trial
        final = _accuracy(lr, reg, hidden, batch)
        for epoch in range(1, 6):
            trial.report(final * (1 - 0.5 ** epoch) / (1 - 0.5 ** 5), epoch)
            if trial.number % 4 == 3 and epoch == 2:
                raise optuna.TrialPruned()
        return final

    return objective


@pytest.fixture(scope="module")
def study():
    """Two stages (coarse then fine), pruned and failed trials and one still running."""
    s = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=3))
    s.optimize(_objective((1e-5, 1.0), (1e-6, 1e-1), 1), n_trials=20, catch=(ValueError,))
    s.optimize(_objective((1e-3, 1e-1), (1e-5, 1e-3), 2), n_trials=10, catch=(ValueError,))
    running = s.ask()  # left RUNNING, with a partial learning curve
    running.suggest_float("optim.lr", 1e-5, 1.0, log=True)
    running.report(0.3, 1)
    return s


def _is_png(path):
    assert path is not None
    data = path.read_bytes()
    assert data[:8] == PNG
    img = mpimg.imread(path)
    assert img.ndim == 3 and img.shape[0] > 50 and img.shape[1] > 50
    return img


def _axes(fig):
    """(x scale, y scale, title, y label) of each visible axes of a returned figure."""
    assert isinstance(fig, Figure)
    return [(ax.get_xscale(), ax.get_yscale(), ax.get_title(), ax.get_ylabel())
            for ax in fig.axes if ax.get_visible()]


def test_study_fixture_has_every_state(study):
    states = {t.state for t in study.trials}
    S = optuna.trial.TrialState
    assert {S.COMPLETE, S.PRUNED, S.FAIL, S.RUNNING} <= states


def test_plot_search_draws_all_five(study, tmp_path):
    figures = tp.plot_search(study, LOG)
    assert list(figures) == STEMS
    history, params, lr_reg, importances, curves = (_axes(figures[k]) for k in STEMS)
    # one panel per parameter, log axes exactly where the parameter was searched on a log scale
    scales = {title.split()[0]: xs for xs, _, title, _ in params}
    assert scales == {"optim.lr": "log", "model.reg": "log", "model.hidden": "linear",
                      "train.batch_size": "log"}
    main, cbar = lr_reg
    assert main[:2] == ("log", "log")
    assert cbar[3] == "validation accuracy"  # the colourbar is labelled
    assert history[0][3] == "validation accuracy" and curves[0][3] == "validation accuracy"
    assert "completed trials" in importances[0][2]
    assert not list(tmp_path.iterdir())  # drawing writes nothing
    paths = save_figures(figures, tmp_path / "plots")
    assert [p.name for p in paths] == NAMES
    for p in paths:
        _is_png(p)


def test_history_counts_and_stages(study):
    ax = tp.plot_history(study).axes[0]
    assert ax.get_title() == "search history: 22 completed, 7 pruned, 1 failed, 1 unfinished"
    assert [t.get_text() for t in ax.texts] == [" stage 1", " stage 2"]


def test_single_panel_plots_draw_into_a_given_axes(study):
    for plot in (tp.plot_history, tp.plot_importances, tp.plot_intermediate):
        fig = Figure()
        ax = fig.subplots()
        assert plot(study, ax=ax) is fig
        assert ax.get_title()
    fig = Figure()
    ax = fig.subplots()
    assert tp.plot_lr_reg(study, log_params=LOG, ax=ax) is fig
    assert ax.get_xscale() == "log" and len(fig.axes) == 2  # plus the colour bar
    # nothing to draw: None, and the given axes is left alone
    empty = Figure().subplots()
    assert tp.plot_lr_reg(study, reg="model.dropout", ax=empty) is None
    assert not empty.has_data() and empty.get_title() == ""


def test_log_params_decide_the_axes(study):
    fig = tp.plot_params(study, {"optim.lr": True, "model.reg": False})
    scales = {title.split()[0]: xs for xs, _, title, _ in _axes(fig)}
    assert scales["optim.lr"] == "log" and scales["model.reg"] == "linear"
    assert scales["train.batch_size"] == "log"  # not in log_params: the distribution's flag


def test_lr_reg_none_when_a_parameter_was_not_searched(study, tmp_path):
    assert tp.plot_lr_reg(study, reg="model.dropout") is None
    assert tp.plot_lr_reg(study, lr="optim.momentum") is None
    # any two numeric parameters will do
    fig = tp.plot_lr_reg(study, lr="optim.lr", reg="train.batch_size")
    assert _axes(fig)[0][3].startswith("train.batch_size")
    _is_png(save_figure(fig, tmp_path / "c.png"))
    # a categorical parameter is not a numeric axis
    assert tp.plot_lr_reg(study, reg="model.hidden") is None


def _study(objective, n, **kw):
    s = optuna.create_study(direction="maximize", sampler=optuna.samplers.RandomSampler(seed=0))
    if n:
        s.optimize(objective, n_trials=n, **kw)
    return s


def _each(s, tmp_path):
    """Every plot on ``s``; each returns None or a figure that renders, and nothing raises."""
    out = {
        "history": tp.plot_history(s),
        "params": tp.plot_params(s, LOG),
        "lr_reg": tp.plot_lr_reg(s, log_params=LOG),
        "importances": tp.plot_importances(s),
        "intermediate": tp.plot_intermediate(s),
    }
    for stem, fig in out.items():
        if fig is not None:
            _axes(fig)
            _is_png(save_figure(fig, tmp_path / f"{stem}.png"))
    return out


def test_empty_study(tmp_path):
    s = _study(None, 0)
    assert all(v is None for v in _each(s, tmp_path).values())
    assert tp.plot_search(s, LOG) == {}


def test_one_trial(tmp_path):
    def objective(trial):
        lr = trial.suggest_float("optim.lr", 1e-5, 1.0, log=True)
        reg = trial.suggest_float("model.reg", 1e-6, 1e-1, log=True)
        trial.report(0.5, 1)
        return _accuracy(lr, reg, "64", 64)

    out = _each(_study(objective, 1), tmp_path)
    assert out["importances"] is None  # needs two completed trials
    assert out["history"] and out["params"] and out["lr_reg"] and out["intermediate"]


def test_all_failed(tmp_path):
    def objective(trial):
        trial.suggest_float("optim.lr", 1e-5, 1.0, log=True)
        raise ValueError("boom")

    s = _study(objective, 3, catch=(ValueError,))
    assert all(v is None for v in _each(s, tmp_path).values())


def test_all_pruned(tmp_path):
    def objective(trial):
        trial.suggest_float("optim.lr", 1e-5, 1.0, log=True)
        trial.report(0.2 + 0.01 * trial.number, 1)
        raise optuna.TrialPruned()

    out = _each(_study(objective, 3), tmp_path)
    assert out["params"] is None and out["lr_reg"] is None and out["importances"] is None
    assert out["history"] is not None and out["intermediate"] is not None


def test_no_parameters_and_no_reports(tmp_path):
    out = _each(_study(lambda trial: 0.5, 4), tmp_path)
    assert out["params"] is None and out["importances"] is None
    assert out["intermediate"] is None and out["lr_reg"] is None
    assert out["history"] is not None


def test_importances_none_without_variation():
    s = _study(lambda t: t.suggest_categorical("model.hidden", ["64"]) and 0.5, 4)
    assert tp.plot_importances(s) is None


def test_multi_objective_is_skipped():
    s = optuna.create_study(directions=["maximize", "minimize"])
    s.optimize(lambda t: (t.suggest_float("optim.lr", 1e-3, 1.0), 1.0), n_trials=2)
    assert tp.plot_search(s, LOG) == {}


def test_bad_inputs(study):
    with pytest.raises(InputError):
        tp.plot_history(object())
    with pytest.raises(InputError):
        tp.plot_params(study, log_params=["optim.lr"])
    with pytest.raises(InputError):
        tp.plot_search(study, ["optim.lr"])
