"""A LeNet-5-style convolutional network for 1x28x28 MNIST, as a PyTorch module for steepest.

Layers (ReLU after every hidden layer, max-pooling 2x2 after each convolution)::

    conv1  6 @ 5x5, padding 2     (1, 28, 28) -> (6, 28, 28) -> pool -> (6, 14, 14)
    conv2 16 @ 5x5                (6, 14, 14) -> (16, 10, 10) -> pool -> (16, 5, 5)
    fc1   400 -> 120
    fc2   120 -> 84
    fc3    84 -> 10               class scores (61,706 parameters)

``make(batchnorm=True)`` adds BatchNorm after each convolution and hidden Linear layer,
``make(dropout=0.5)`` dropout (drop probability, PyTorch's convention) before fc2 and fc3; both
are off by default. steepest's datasets give flat rows of 784 pixels; the class attribute
``input_shape = (1, 28, 28)`` tells :class:`steepest.torch.TorchObjective` to reshape them (an
explicit ``input_shape=`` overrides it).

From Python::

    import steepest.torch as st
    obj = st.objective(st.load_factory("examples/lenet.py:make"))
    theta = obj.init_params(seed=0)            # PyTorch's default initialization, seeded
    # obj works with steepest.train.Trainer, steepest.landscape, steepest.gradcheck, ...

From the command line (``--torch-model FILE.py:FACTORY`` replaces the MLP options)::

    # train it on MNIST into a run folder
    steepest train -d mnist --torch-model examples/lenet.py:make -o adam --lr 1e-3 -e 5 \\
        --out runs/lenet
    # a 51x51 slice of its loss landscape around the trained weights, on 10,000 test images
    # (one process: PyTorch already uses every core)
    steepest landscape runs/lenet --grid 51 --split test --subset 10000 --workers 1
    # its top-5 Hessian eigenvalues (Lanczos on exact Hessian-vector products), 1,000 images
    steepest hessian runs/lenet --top 5 --subset 1000
"""

from __future__ import annotations

from torch import nn


class LeNet(nn.Module):
    """LeNet-5 in the modern form (ReLU, max-pooling) for 1x28x28 inputs."""

    input_shape = (1, 28, 28)  # one example; steepest reshapes flat rows of 784 to this

    def __init__(self, batchnorm: bool = False, dropout: float = 0.0, n_classes: int = 10):
        super().__init__()

        def norm2d(c):
            return nn.BatchNorm2d(c) if batchnorm else nn.Identity()

        def norm1d(c):
            return nn.BatchNorm1d(c) if batchnorm else nn.Identity()

        def drop():
            return nn.Dropout(dropout) if dropout > 0 else nn.Identity()

        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5, padding=2), norm2d(6), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, kernel_size=5), norm2d(16), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(16 * 5 * 5, 120), norm1d(120), nn.ReLU(), drop(),
            nn.Linear(120, 84), norm1d(84), nn.ReLU(), drop(),
            nn.Linear(84, n_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def make(batchnorm: bool = False, dropout: float = 0.0) -> nn.Module:
    """The factory ``--torch-model examples/lenet.py:make`` calls (with no arguments)."""
    return LeNet(batchnorm=batchnorm, dropout=dropout)
