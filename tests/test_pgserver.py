"""A real PostgreSQL server shared by Optuna workers in separate processes.

Starts a throwaway server (tests/pgserver.py), checks SQLAlchemy can reach it, then has two
worker processes optimize one Optuna study stored in it, concurrently.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from pgserver import available, postgres_server

optuna = pytest.importorskip("optuna")
sqlalchemy = pytest.importorskip("sqlalchemy")
pytest.importorskip("psycopg2")

N_WORKERS = 2
TRIALS_PER_WORKER = 6
STUDY = "pgserver-smoke"

# Each worker loads the study from the shared storage and runs its own trials.
WORKER = """
import sys
import optuna

url, study_name, worker, n_trials = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(url)
study = optuna.load_study(study_name=study_name, storage=storage)


def objective(trial):
    trial.set_user_attr("worker", worker)
    x = trial.suggest_float("x", -10.0, 10.0)
    return (x - 2.0) ** 2


study.optimize(objective, n_trials=n_trials)
storage.engine.dispose()
"""


@pytest.fixture
def pg_url(tmp_path: Path):
    ok, reason = available()
    if not ok:
        pytest.skip(reason)
    with postgres_server(tmp_path) as url:
        yield url


def test_sqlalchemy_connects(pg_url: str):
    engine = sqlalchemy.create_engine(pg_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                sqlalchemy.text("SELECT current_database(), current_setting('listen_addresses')")
            ).one()
    finally:
        engine.dispose()
    assert tuple(row) == ("optuna", "127.0.0.1")


def test_optuna_workers_share_study(pg_url: str, tmp_path: Path):
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage = optuna.storages.RDBStorage(pg_url)
    try:
        # Created here (with its tables) before the workers start, so they only load it.
        optuna.create_study(study_name=STUDY, storage=storage, direction="minimize")

        procs = []
        try:
            for worker in range(N_WORKERS):
                log_path = tmp_path / f"worker{worker}.log"
                args = [pg_url, STUDY, str(worker), str(TRIALS_PER_WORKER)]
                with open(log_path, "w") as log:  # the child has its own copy of the handle
                    proc = subprocess.Popen(
                        [sys.executable, "-c", WORKER, *args], stdout=log, stderr=subprocess.STDOUT
                    )
                procs.append((proc, log_path))
            for proc, log_path in procs:
                try:
                    rc = proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    rc = "timeout"
                assert rc == 0, f"worker exited with {rc}:\n{log_path.read_text()[-3000:]}"
        finally:
            for proc, _ in procs:  # never leave a worker behind (e.g. after a failed assert)
                if proc.poll() is None:
                    proc.kill()
                    proc.wait()

        study = optuna.load_study(study_name=STUDY, storage=storage)
        trials = study.get_trials(deepcopy=False)
        assert len(trials) == N_WORKERS * TRIALS_PER_WORKER
        assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
        assert sorted(t.number for t in trials) == list(range(len(trials)))
        per_worker = [sum(t.user_attrs["worker"] == w for t in trials) for w in range(N_WORKERS)]
        assert per_worker == [TRIALS_PER_WORKER] * N_WORKERS
        assert study.best_value == min(t.value for t in trials)
    finally:
        storage.engine.dispose()
