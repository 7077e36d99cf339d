"""Layers, initializers and models over the flat parameter vector."""

from .init import INITS, init_weight
from .layers import (
    ACTIVATIONS,
    BatchNorm,
    Context,
    Dropout,
    Layer,
    LeakyReLU,
    Linear,
    Maxout,
    ReLU,
    Sigmoid,
    Tanh,
)
from .model import Model, Record, Sequential, linear, mlp

__all__ = [
    "ACTIVATIONS", "INITS", "BatchNorm", "Context", "Dropout", "Layer", "LeakyReLU", "Linear",
    "Maxout", "Model", "Record", "ReLU", "Sequential", "Sigmoid", "Tanh", "init_weight",
    "linear", "mlp",
]
