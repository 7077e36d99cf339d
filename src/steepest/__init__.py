"""steepest: a fast, verified NumPy laboratory for training classifiers and seeing them optimize.

The spine is one contract over a flat parameter vector::

    model = steepest.mlp([64, 32, 10])
    theta = model.init_params(seed=0)
    loss, grad = model.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))
"""

import importlib
from typing import TYPE_CHECKING

from .errors import ChecksumError, DataError, InputError, SteepestError

__version__ = "0.1.0"

# The rest is imported on first use (PEP 562), so that the command line starts without NumPy
# and `steepest --help` answers at once; `steepest.mlp` and `from steepest import mlp` work as
# usual.
_LAZY = {
    "Bound": "contract", "FunctionObjective": "contract", "Objective": "contract",
    "bind": "contract", "check_theta": "contract", "objective": "contract",
    "l1_loss": "losses", "l2_loss": "losses", "softmax_loss": "losses", "svm_loss": "losses",
    "Model": "nn", "Sequential": "nn", "linear": "nn", "mlp": "nn",
    "Layout": "params", "ParamSpec": "params",
}

if TYPE_CHECKING:  # for type checkers and editors
    from .contract import Bound, FunctionObjective, Objective, bind, check_theta, objective
    from .losses import l1_loss, l2_loss, softmax_loss, svm_loss
    from .nn import Model, Sequential, linear, mlp
    from .params import Layout, ParamSpec


def __getattr__(name: str):
    module = _LAZY.get(name)
    if module is not None:
        value = getattr(importlib.import_module(f".{module}", __name__), name)
    elif not name.startswith("__"):  # a subpackage, as `import steepest; steepest.optim`
        try:
            value = importlib.import_module(f".{name}", __name__)
        except ModuleNotFoundError as e:
            if e.name != f"{__name__}.{name}":
                raise
            raise AttributeError(f"module 'steepest' has no attribute {name!r}") from None
    else:
        raise AttributeError(f"module 'steepest' has no attribute {name!r}")
    globals()[name] = value  # once imported, an ordinary attribute
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))


__all__ = [
    "Bound", "ChecksumError", "DataError", "FunctionObjective", "InputError", "Layout", "Model",
    "Objective", "ParamSpec", "Sequential", "SteepestError", "bind", "check_theta", "l1_loss",
    "l2_loss", "linear", "mlp", "objective", "softmax_loss", "svm_loss",
]
