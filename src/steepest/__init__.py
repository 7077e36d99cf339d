"""steepest: a fast, verified NumPy laboratory for training classifiers and seeing them optimize.

The spine is one contract over a flat parameter vector::

    model = steepest.mlp([64, 32, 10])
    theta = model.init_params(seed=0)
    loss, grad = model.loss_and_grad(theta, X, y, train=True, rng=np.random.default_rng(0))
"""

from .errors import ChecksumError, DataError, InputError, SteepestError
from .losses import l1_loss, l2_loss, softmax_loss, svm_loss
from .nn import Model, Sequential, linear, mlp
from .params import Layout, ParamSpec

__version__ = "0.1.0"

__all__ = [
    "ChecksumError", "DataError", "InputError", "Layout", "Model", "ParamSpec", "Sequential",
    "SteepestError", "l1_loss", "l2_loss", "linear", "mlp", "softmax_loss", "svm_loss",
]
