"""The graph attention network of GARAGE stage 1, and the loss weights and held-out cells it trains with."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv


class GATClassifier(nn.Module):
    """Two multi-head graph attention layers that classify cells on the cell graph.

    Both layers keep a linear skip connection (``residual=True``): a cell keeps its own profile in
    its representation even when most of its neighbours are of another type, which is the rule for
    rare cells.

    Parameters
    ----------
    n_input
        Input features per cell.
    n_labels
        Number of labels.
    n_hidden
        Hidden channels per head of the first layer.
    n_heads
        Attention heads of both layers (the first layer concatenates, the second averages).
    dropout
        Dropout of the features and of the attention coefficients during training.
    """

    def __init__(
        self, n_input: int, n_labels: int, *, n_hidden: int = 16, n_heads: int = 4, dropout: float = 0.3
    ):
        super().__init__()
        self.dropout = dropout
        self.conv1 = GATConv(n_input, n_hidden, heads=n_heads, dropout=dropout, residual=True)
        self.conv2 = GATConv(
            n_hidden * n_heads, n_labels, heads=n_heads, concat=False, dropout=dropout, residual=True
        )

    @property
    def n_embedding(self) -> int:
        """Size of the hidden cell embedding (output of the first layer)."""
        return self.conv1.heads * self.conv1.out_channels

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> dict[str, torch.Tensor | list]:
        """Label logits, the hidden embedding and each layer's ``(edge_index, attention)``.

        Attention tensors have shape ``(n_edges + n_cells, n_heads)``: the layers add self-loops.
        """
        x = F.dropout(x, p=self.dropout, training=self.training)
        h, att1 = self.conv1(x, edge_index, return_attention_weights=True)
        h = F.elu(h)
        out = F.dropout(h, p=self.dropout, training=self.training)
        logits, att2 = self.conv2(out, edge_index, return_attention_weights=True)
        return {"logits": logits, "embedding": h, "attention": [att1, att2]}


def class_weights(label_counts: np.ndarray, rare: np.ndarray, *, rare_weight: float) -> torch.Tensor:
    """Class-balanced loss weights (inverse label frequency), multiplied by ``rare_weight`` for rare labels.

    Normalised to mean 1 over labels, so the learning rate means the same whatever the imbalance.
    """
    counts = np.maximum(np.asarray(label_counts, dtype=np.float64), 1.0)
    weights = counts.sum() / (len(counts) * counts)
    weights = weights * np.where(rare, rare_weight, 1.0)
    return torch.as_tensor(weights / weights.mean(), dtype=torch.float32)


def holdout_mask(
    codes: np.ndarray, *, fraction: float, min_cells: int, rng: np.random.Generator
) -> np.ndarray:
    """Stratified held-out nodes for early stopping: ``fraction`` of each label with ``>= min_cells`` cells.

    Smaller labels are used for training only (they have too few cells to spare).
    """
    held = np.zeros(len(codes), dtype=bool)
    for code in np.unique(codes):
        rows = np.flatnonzero(codes == code)
        if len(rows) < min_cells:
            continue
        n = max(1, round(fraction * len(rows)))
        held[rng.choice(rows, n, replace=False)] = True
    return held
