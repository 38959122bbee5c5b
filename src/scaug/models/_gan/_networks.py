"""The generator and the projection critic of scGAN / cscGAN."""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from typing import Literal

import torch
from torch import nn

from ._layers import LSN, ConditionalBatchNorm1d


class GeneratorNetwork(nn.Module):
    """MLP generator: (label-conditional) batch norm + ReLU hidden layers and an LSN output.

    Parameters
    ----------
    n_input
        Width of the generator input (noise, plus any conditioning vector the caller concatenates).
    n_output
        Number of modelled genes.
    n_hidden
        Widths of the hidden layers (published: 256, 512, 1024).
    n_labels
        Number of labels for conditional batch norm; ``0`` for an unconditional generator.
    library_size
        Row sum of the output (see :class:`LSN`); ``None`` for a rectified output without fixed sum.
    activation
        Output activation of the :class:`LSN` layer.

    Examples
    --------
    >>> import torch
    >>> g = GeneratorNetwork(16, 50, n_hidden=(32,), n_labels=2, library_size=1e4)
    >>> g(torch.randn(3, 16), torch.tensor([0, 1, 1])).shape
    torch.Size([3, 50])
    """

    def __init__(
        self,
        n_input: int,
        n_output: int,
        *,
        n_hidden: Sequence[int] = (256, 512, 1024),
        n_labels: int = 0,
        library_size: float | None = 20_000.0,
        activation: Literal["softmax", "relu"] = "softmax",
    ):
        super().__init__()
        widths = [n_input, *n_hidden]
        # Batch norm follows every hidden layer, so the linear layers need no bias.
        self.linears = nn.ModuleList(nn.Linear(a, b, bias=False) for a, b in pairwise(widths))
        self.norms = nn.ModuleList(ConditionalBatchNorm1d(w, n_labels) for w in n_hidden)
        self.output = nn.Linear(widths[-1], n_output)
        self.lsn = LSN(library_size, activation=activation)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Generate one profile per row of ``z`` (for ``labels``, if conditional)."""
        h = z
        for linear, norm in zip(self.linears, self.norms, strict=True):
            h = torch.relu(norm(linear(h), labels))
        return self.lsn(self.output(h))


class ProjectionCritic(nn.Module):
    """WGAN critic, with a projection on the label embedding when conditional (Miyato & Koyama 2018).

    The score of a cell ``x`` with label ``y`` is ``w·h(x) + b + e_y·h(x)``: a shared output plus a
    per-label output weight, as in cscGAN.

    Parameters
    ----------
    n_input
        Number of modelled genes.
    n_hidden
        Widths of the hidden layers (published: 1024, 512, 256).
    n_labels
        Number of labels; ``0`` for an unconditional critic.
    n_extra_input
        Extra features per cell scored with the genes (e.g. the library size).
    log_input
        Score ``log1p(x)`` instead of ``x``, which evens out the scale of highly and lowly expressed
        genes (the published critic scores library-size-normalised values directly).

    Examples
    --------
    >>> import torch
    >>> critic = ProjectionCritic(50, n_hidden=(32,), n_labels=2)
    >>> critic(torch.rand(3, 50), torch.tensor([0, 1, 1])).shape
    torch.Size([3])
    """

    def __init__(
        self,
        n_input: int,
        *,
        n_hidden: Sequence[int] = (1024, 512, 256),
        n_labels: int = 0,
        n_extra_input: int = 0,
        log_input: bool = True,
    ):
        super().__init__()
        widths = [n_input + n_extra_input, *n_hidden]
        layers: list[nn.Module] = []
        for a, b in pairwise(widths):
            # No batch norm: the gradient penalty is defined per sample.
            layers += [nn.Linear(a, b), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.output = nn.Linear(widths[-1], 1)
        self.n_labels = n_labels
        self.log_input = log_input
        if n_labels:
            self.projection = nn.Embedding(n_labels, widths[-1])
            nn.init.zeros_(self.projection.weight)

    def forward(
        self, x: torch.Tensor, labels: torch.Tensor | None = None, extra: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Score every row of ``x`` (higher: more like the real cells of its label)."""
        x = torch.log1p(x) if self.log_input else x
        h = self.features(x if extra is None else torch.cat([x, extra], dim=1))
        score = self.output(h).squeeze(-1)
        if self.n_labels:
            score = score + (self.projection(labels) * h).sum(dim=-1)
        return score
