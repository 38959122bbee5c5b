"""Layers of the scGAN generator: the library-size-normalising output and conditional batch norm."""

from __future__ import annotations

from typing import Literal

import torch
from torch import nn


class LSN(nn.Module):
    """Library-size normalisation output layer of scGAN (Marouf et al. 2020).

    Makes every row non-negative and rescales it to sum to ``library_size``, so the generator only
    has to learn relative expression, as in library-size-normalised training data.

    Parameters
    ----------
    library_size
        Sum of every output row. ``None``: rectify only (for continuous spaces, where rows have no
        fixed sum).
    activation
        ``"softmax"``: every gene gets a positive share (as scVI's expression scale), so rare,
        sporadic expression can be learnt and sampled; ``"relu"`` (published scGAN): rectify, then
        rescale; genes with a negative input are exactly zero and pass no gradient.

    Examples
    --------
    >>> import torch
    >>> out = LSN(100.0)(torch.randn(4, 10))
    >>> bool(torch.allclose(out.sum(1), torch.full((4,), 100.0)))
    True
    """

    def __init__(
        self, library_size: float | None = 20_000.0, activation: Literal["softmax", "relu"] = "softmax"
    ):
        super().__init__()
        if activation not in ("softmax", "relu"):
            raise ValueError(f"activation must be 'softmax' or 'relu', got {activation!r}")
        self.library_size = library_size
        self.activation = activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Make ``x`` (cells x genes) non-negative and rescale each row."""
        if self.library_size is None:
            return torch.relu(x)
        if self.activation == "softmax":
            return torch.softmax(x, dim=1) * self.library_size
        x = torch.relu(x)
        # A row the ReLU zeroed entirely stays zero instead of dividing by zero.
        return x * (self.library_size / x.sum(dim=1, keepdim=True).clamp_min(1e-8))


class ConditionalBatchNorm1d(nn.Module):
    """Batch norm whose scale and shift depend on the label (cscGAN's conditional batch norm).

    With ``n_labels=0`` it is plain :class:`torch.nn.BatchNorm1d` with a learnt scale and shift.

    Parameters
    ----------
    n_features
        Width of the normalised layer.
    n_labels
        Number of labels; ``0`` for no conditioning.

    Examples
    --------
    >>> import torch
    >>> bn = ConditionalBatchNorm1d(8, n_labels=3)
    >>> bn(torch.randn(5, 8), torch.tensor([0, 1, 2, 0, 1])).shape
    torch.Size([5, 8])
    """

    def __init__(self, n_features: int, n_labels: int = 0):
        super().__init__()
        self.n_labels = n_labels
        self.bn = nn.BatchNorm1d(n_features, affine=n_labels == 0)
        if n_labels:
            self.scale = nn.Embedding(n_labels, n_features)
            self.shift = nn.Embedding(n_labels, n_features)
            nn.init.ones_(self.scale.weight)
            nn.init.zeros_(self.shift.weight)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        """Normalise ``x`` and apply the scale and shift of each row's label."""
        x = self.bn(x)
        if not self.n_labels:
            return x
        return x * self.scale(labels) + self.shift(labels)
