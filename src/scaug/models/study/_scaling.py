"""The study's input space: log-normalised values of the modelled genes, scaled into [-1, 1]."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scipy import sparse
from torch import nn

from ..._spaces import TARGET_SUM, log_normalise


class MinMaxScaling(nn.Module):
    """Cells as the comparison study's networks see them, and back.

    Counts are log-normalised as in scanpy (``log1p`` of counts per ``target_sum`` of the cell's
    total over all genes), a continuous space is taken as it is; then each modelled gene is scaled
    linearly from the ``[lower, upper]`` range of the training cells to ``[-1, 1]``, the range of
    the generator's tanh output. :meth:`inverse` maps generated values back to log-normalised
    values (always within the training range), :meth:`profiles` to what count sampling draws from.

    Parameters
    ----------
    n_input
        Number of modelled genes.
    gene_index
        Columns of the registered matrix that are modelled (default: the first ``n_input``).
    log_normalise
        Counts in: log-normalise them (``False``: a continuous space, modelled as it is).
    target_sum
        Total of every cell after normalisation.

    Examples
    --------
    >>> import torch
    >>> scaling = MinMaxScaling(2, log_normalise=False)
    >>> scaling.set_bounds([0.0, 1.0], [4.0, 3.0])
    >>> scaling(torch.tensor([[2.0, 3.0]]))
    tensor([[0., 1.]])
    >>> scaling.inverse(torch.tensor([[-1.0, 0.0]]))
    tensor([[0., 2.]])
    """

    def __init__(
        self,
        n_input: int,
        *,
        gene_index: Sequence[int] | None = None,
        log_normalise: bool = True,
        target_sum: float = TARGET_SUM,
    ):
        super().__init__()
        self.log_normalise = log_normalise
        self.target_sum = target_sum
        index = torch.arange(n_input) if gene_index is None else torch.as_tensor(list(gene_index))
        self.register_buffer("gene_index", index.long())
        self.register_buffer("lower", torch.zeros(n_input))
        self.register_buffer("upper", torch.ones(n_input))

    def fit(self, matrix) -> None:
        """Set the bounds to each modelled gene's range in ``matrix`` (registered cells x all genes)."""
        values = log_normalise(matrix, counts=self.log_normalise, target_sum=self.target_sum)
        values = values[:, self.gene_index.cpu().numpy()]
        if sparse.issparse(values):
            lower, upper = values.min(axis=0).toarray().ravel(), values.max(axis=0).toarray().ravel()
        else:
            lower, upper = values.min(axis=0), values.max(axis=0)
        self.set_bounds(lower, upper)

    def set_bounds(self, lower, upper) -> None:
        """Values ``lower`` map to -1 and ``upper`` to 1 (per gene)."""
        self.lower.copy_(torch.as_tensor(np.asarray(lower, dtype=np.float32)))
        self.upper.copy_(torch.as_tensor(np.asarray(upper, dtype=np.float32)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Registered cells (all genes) to the scaled values of the modelled genes."""
        x = x.float()
        if self.log_normalise:
            total = x.sum(dim=1, keepdim=True).clamp_min(1e-8)
            x = torch.log1p(x * (self.target_sum / total))
        return (x[:, self.gene_index] - self.lower) / self._span() * 2 - 1

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """Scaled values back to log-normalised (or continuous) values, clipped to the training range."""
        return (y.clamp(-1, 1) + 1) / 2 * self._span() + self.lower

    def profiles(self, y: torch.Tensor) -> torch.Tensor:
        """Scaled values to what sampling takes: expression per ``target_sum`` (counts) or the values."""
        values = self.inverse(y)
        return torch.expm1(values) if self.log_normalise else values

    def _span(self) -> torch.Tensor:
        # A gene with one value in every training cell maps to -1 instead of dividing by zero.
        span = self.upper - self.lower
        return torch.where(span > 0, span, torch.ones_like(span))
