"""A study's storage opens in optuna-dashboard: a tiny search, the dashboard started on a free
loopback port (the command line the README gives), the study and its trials read back over its
HTTP API and compared with the storage."""

import json
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("optuna_dashboard")
optuna = pytest.importorskip("optuna")

from steepest.tune import parse_space, run_search  # noqa: E402

# urllib without any proxy from the environment: the dashboard is on this machine
_HTTP = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def _command() -> str:
    found = (shutil.which("optuna-dashboard", path=str(Path(sys.executable).parent))
             or shutil.which("optuna-dashboard"))
    if found is None:
        pytest.skip("the optuna-dashboard command is not installed")
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, timeout: float = 5.0):
    with _HTTP.open(url, timeout=timeout) as response:
        return json.loads(response.read().decode())


def _start(command: str, storage: str, log: Path):
    """The dashboard on a free loopback port, answering; (process, base url)."""
    for _attempt in range(3):  # another process may take the port between the probe and bind
        port = _free_port()
        with open(log, "ab") as out:
            proc = subprocess.Popen([command, storage, "--host", "127.0.0.1", "--port",
                                     str(port), "--quiet"], stdout=out, stderr=out,
                                    stdin=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                _get(f"{base}/api/meta", timeout=2)
                return proc, base
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                time.sleep(0.2)
        _stop(proc)
    pytest.fail(f"optuna-dashboard did not answer; its output:\n{log.read_text()[-3000:]}")


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_the_dashboard_shows_the_study_of_a_search(tmp_path):
    command = _command()
    base = {"train": {"epochs": 1, "batch_size": 128, "eval_train_size": 200},
            "model": {"hidden": [8]}}
    space = parse_space({"optim.lr": {"low": 1e-3, "high": 0.3, "log": True}}, base=base)
    study_dir = tmp_path / "study"
    result = run_search(space, base, study_dir, trials=3, plots=False)
    assert result.completed == 3
    storage = f"sqlite:///{(study_dir / 'study.db').resolve()}"
    assert storage == result.storage
    trials = {t.number: t for t in optuna.load_study(study_name=result.study_name,
                                                     storage=storage).get_trials()}

    proc, url = _start(command, storage, tmp_path / "dashboard.log")
    try:
        studies = _get(f"{url}/api/studies")["study_summaries"]
        assert [s["study_name"] for s in studies] == [result.study_name]
        assert studies[0]["directions"] == ["maximize"]
        detail = _get(f"{url}/api/studies/{studies[0]['study_id']}")
    finally:
        _stop(proc)

    assert detail["name"] == result.study_name
    shown = {t["number"]: t for t in detail["trials"]}
    assert sorted(shown) == sorted(trials) == [0, 1, 2]
    for number, trial in trials.items():
        row = shown[number]
        assert row["state"] == "Complete"
        assert row["values"] == pytest.approx([trial.value])
        params = {p["name"]: float(p["param_external_value"]) for p in row["params"]}
        assert params == pytest.approx(trial.params)
        steps = {v["step"]: v["value"] for v in row["intermediate_values"]}
        assert steps == pytest.approx(trial.intermediate_values)  # val_acc of every epoch
    best = max(trials.values(), key=lambda t: t.value)
    assert [t["number"] for t in detail["best_trials"]] == [best.number] == [result.best_trial]
