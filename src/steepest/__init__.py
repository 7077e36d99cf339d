"""steepest: a fast, verified NumPy laboratory for training classifiers and seeing them optimize.

The spine is one contract over a flat parameter vector::

    model = steepest.mlp([64, 32, 10])
    theta = model.init_params(seed=0)
    loss, grad = model.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))
"""

from .contract import Bound, FunctionObjective, Objective, bind, check_theta, objective
from .errors import ChecksumError, DataError, InputError, SteepestError
from .losses import l1_loss, l2_loss, softmax_loss, svm_loss
from .nn import Model, Sequential, linear, mlp
from .params import Layout, ParamSpec

__version__ = "0.1.0"

__all__ = [
    "Bound", "ChecksumError", "DataError", "FunctionObjective", "InputError", "Layout", "Model",
    "Objective", "ParamSpec", "Sequential", "SteepestError", "bind", "check_theta", "l1_loss",
    "l2_loss", "linear", "mlp", "objective", "softmax_loss", "svm_loss",
]
