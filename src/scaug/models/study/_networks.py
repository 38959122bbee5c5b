"""The comparison study's multilayer perceptrons: LeakyReLU hidden layers, an optional output activation."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise

from torch import nn

#: Slope of every hidden LeakyReLU (the usual GAN choice; the study names the activation, not its slope).
NEGATIVE_SLOPE = 0.2


def mlp(widths: Sequence[int], output: nn.Module | None = None) -> nn.Sequential:
    """Linear layers of ``widths``, a LeakyReLU after each but the last, then ``output`` if given.

    No batch norm and no dropout: the study's networks have none.

    Examples
    --------
    >>> from torch import nn
    >>> mlp([4, 8, 2], nn.Tanh())
    Sequential(
      (0): Linear(in_features=4, out_features=8, bias=True)
      (1): LeakyReLU(negative_slope=0.2)
      (2): Linear(in_features=8, out_features=2, bias=True)
      (3): Tanh()
    )
    """
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise(widths)):
        layers.append(nn.Linear(a, b))
        if i < len(widths) - 2:
            layers.append(nn.LeakyReLU(NEGATIVE_SLOPE))
    if output is not None:
        layers.append(output)
    return nn.Sequential(*layers)


def generator(n_noise: int, n_genes: int, n_hidden: Sequence[int] = (256, 512)) -> nn.Sequential:
    """Noise to scaled expression: ``n_noise -> 256 -> 512 -> n_genes``, tanh output (values in (-1, 1))."""
    return mlp([n_noise, *n_hidden, n_genes], nn.Tanh())


def discriminator(n_genes: int, n_hidden: Sequence[int] = (512, 256)) -> nn.Sequential:
    """Scaled expression to the probability that a cell is real: ``n_genes -> 512 -> 256 -> 1``, sigmoid."""
    return mlp([n_genes, *n_hidden, 1], nn.Sigmoid())
