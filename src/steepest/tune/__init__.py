"""Hyperparameter search on Optuna: search spaces, samplers, pruners, coarse-to-fine stages,
shared storages and worker processes."""

from .search import PRUNERS, SAMPLERS, PruneTrial, StudyResult, make_storage, run_search
from .space import Param, SearchSpace, load_space, parse_space

__all__ = ["PRUNERS", "SAMPLERS", "Param", "PruneTrial", "SearchSpace", "StudyResult",
           "load_space", "make_storage", "parse_space", "run_search"]
