"""The graph attention network of GARAGE stage 1 and its training as a label classifier."""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F
from torch import nn
from torch_geometric.nn import GATConv
from tqdm.auto import tqdm

logger = logging.getLogger("scaug")


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


@dataclass
class GATFit:
    """What training the classifier produced."""

    network: GATClassifier
    history: pd.DataFrame
    best_epoch: int


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


def fit_gat(
    x: torch.Tensor,
    edge_index: torch.Tensor,
    codes: np.ndarray,
    weights: torch.Tensor,
    *,
    held_out: np.ndarray,
    n_hidden: int = 16,
    n_heads: int = 4,
    dropout: float = 0.3,
    lr: float = 5e-3,
    weight_decay: float = 5e-4,
    max_epochs: int = 300,
    patience: int = 30,
    random_state: int = 0,
    progress_bar: bool = True,
) -> GATFit:
    """Train a :class:`GATClassifier` full-batch with a weighted cross-entropy; keep the best held-out epoch.

    Parameters
    ----------
    x, edge_index
        Node features and graph.
    codes
        Integer label of every node.
    weights
        Loss weight per label (see :func:`class_weights`).
    held_out
        Nodes used for early stopping instead of training (all nodes train when none is held out).
    n_hidden, n_heads, dropout
        Network options (see :class:`GATClassifier`).
    lr, weight_decay
        Adam options.
    max_epochs, patience
        Stop after ``max_epochs`` or when the held-out weighted loss has not improved for ``patience`` epochs.
    random_state
        Seed of the initial weights and dropout (the global torch seed is left untouched).
    progress_bar
        Show a tqdm bar.
    """
    y = torch.as_tensor(np.asarray(codes, dtype=np.int64))
    train = torch.as_tensor(~held_out if held_out.any() else np.ones(len(codes), dtype=bool))
    val = torch.as_tensor(held_out if held_out.any() else np.ones(len(codes), dtype=bool))
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        net = GATClassifier(x.shape[1], len(weights), n_hidden=n_hidden, n_heads=n_heads, dropout=dropout)
        optim = torch.optim.Adam(net.parameters(), lr=lr, weight_decay=weight_decay)
        rows, best, best_state, best_epoch, waited = [], np.inf, None, 0, 0
        bar = tqdm(range(max_epochs), desc="GARAGE seeds (GAT)", disable=not progress_bar)
        for epoch in bar:
            net.train()
            optim.zero_grad()
            loss = F.cross_entropy(net(x, edge_index)["logits"][train], y[train], weight=weights)
            loss.backward()
            optim.step()
            net.eval()
            with torch.no_grad():
                logits = net(x, edge_index)["logits"]
                val_loss = float(F.cross_entropy(logits[val], y[val], weight=weights))
                val_acc = float((logits[val].argmax(1) == y[val]).float().mean())
            rows.append(
                {
                    "epoch": epoch,
                    "train_loss": loss.item(),
                    "validation_loss": val_loss,
                    "validation_accuracy": val_acc,
                }
            )
            bar.set_postfix(val_loss=f"{val_loss:.3f}", refresh=False)
            if val_loss < best - 1e-4:
                best, best_state, best_epoch, waited = val_loss, copy.deepcopy(net.state_dict()), epoch, 0
            else:
                waited += 1
                if waited >= patience:
                    break
        bar.close()
    net.load_state_dict(best_state)
    net.eval()
    logger.info("GARAGE GAT: best held-out loss %.3f at epoch %d", best, best_epoch)
    return GATFit(net, pd.DataFrame(rows), best_epoch)
