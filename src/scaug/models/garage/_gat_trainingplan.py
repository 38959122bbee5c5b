"""Training GARAGE's graph attention classifier through Lightning (scvi-tools' trainer).

The whole graph is one batch: every epoch is one optimiser step on the training cells' weighted
cross-entropy, then the loss on the held-out cells, which drives early stopping. The weights of the
best held-out epoch are kept.
"""

from __future__ import annotations

import copy
import logging
from dataclasses import dataclass

import lightning.pytorch as pl
import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from ._gat import GATClassifier

logger = logging.getLogger("scaug")

#: A held-out loss must fall by more than this to count as an improvement.
MIN_DELTA = 1e-4


class GATTrainingPlan(pl.LightningModule):
    """Full-batch training of a :class:`GATClassifier` with a weighted cross-entropy.

    Parameters
    ----------
    network
        The classifier to train.
    weights
        Loss weight per label.
    lr, weight_decay
        Adam options.

    Attributes
    ----------
    history
        One row per epoch: ``train_loss``, ``validation_loss``, ``validation_accuracy``.
    best_epoch, best_loss, best_state
        The epoch with the lowest held-out loss, that loss, and the network's weights then.
    """

    def __init__(self, network: GATClassifier, weights: torch.Tensor, *, lr: float, weight_decay: float):
        super().__init__()
        self.network = network
        self.register_buffer("weights", weights)
        self.lr, self.weight_decay = lr, weight_decay
        self.history: list[dict] = []
        self.best_epoch, self.best_state, self.best_loss = 0, None, np.inf
        self._train_loss = np.nan

    def _loss(self, batch: dict, mask: str) -> tuple[torch.Tensor, torch.Tensor]:
        logits = self.network(batch["x"], batch["edge_index"])["logits"]
        rows = batch[mask]
        return F.cross_entropy(logits[rows], batch["y"][rows], weight=self.weights), logits[rows]

    def training_step(self, batch: dict, batch_idx: int) -> torch.Tensor:
        loss, _ = self._loss(batch, "train")
        self._train_loss = loss.item()
        return loss

    def validation_step(self, batch: dict, batch_idx: int) -> None:
        loss, logits = self._loss(batch, "val")
        accuracy = (logits.argmax(1) == batch["y"][batch["val"]]).float().mean()
        val_loss = float(loss)
        self.log("validation_loss", val_loss, prog_bar=True, batch_size=1)
        self.history.append(
            {
                "epoch": self.current_epoch,
                "train_loss": self._train_loss,
                "validation_loss": val_loss,
                "validation_accuracy": float(accuracy),
            }
        )
        if val_loss < self.best_loss - MIN_DELTA:
            self.best_loss, self.best_epoch = val_loss, self.current_epoch
            self.best_state = copy.deepcopy(self.network.state_dict())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.network.parameters(), lr=self.lr, weight_decay=self.weight_decay)


@dataclass
class GATFit:
    """What training the classifier produced."""

    network: GATClassifier
    history: pd.DataFrame
    best_epoch: int


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
    accelerator: str = "auto",
    devices: int | str = "auto",
) -> GATFit:
    """Train a :class:`GATClassifier` full-batch with a weighted cross-entropy; keep the best held-out epoch.

    Parameters
    ----------
    x, edge_index
        Node features and graph.
    codes
        Integer label of every node.
    weights
        Loss weight per label (see :func:`~scaug.models.garage._gat.class_weights`).
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
        Show Lightning's progress bar.
    accelerator, devices
        Lightning's device selection (``"auto"``: a GPU when there is one).

    Returns
    -------
    The trained network (on the CPU, in evaluation mode, with the best epoch's weights) and its history.

    Examples
    --------
    >>> import numpy as np, torch
    >>> x = torch.randn(30, 8)
    >>> edges = torch.tensor([[i for i in range(30)], [(i + 1) % 30 for i in range(30)]])
    >>> codes = np.repeat([0, 1], 15)
    >>> fit = fit_gat(x, edges, codes, torch.ones(2), held_out=np.arange(30) % 5 == 0, max_epochs=3,
    ...               progress_bar=False, accelerator="cpu")
    >>> len(fit.history)
    3
    """
    from scvi.train import Trainer

    y = torch.as_tensor(np.asarray(codes, dtype=np.int64))
    train = torch.as_tensor(~held_out if held_out.any() else np.ones(len(codes), dtype=bool))
    val = torch.as_tensor(held_out if held_out.any() else np.ones(len(codes), dtype=bool))
    graph = {"x": x, "edge_index": edge_index, "y": y, "train": train, "val": val}
    # One batch per epoch; the loader's own generator keeps its per-epoch seed draw off the global
    # stream, so dropout draws the same numbers whatever loop runs it.
    loader = torch.utils.data.DataLoader([graph], batch_size=None, generator=torch.Generator())
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(random_state)
        net = GATClassifier(x.shape[1], len(weights), n_hidden=n_hidden, n_heads=n_heads, dropout=dropout)
        plan = GATTrainingPlan(net, weights, lr=lr, weight_decay=weight_decay)
        trainer = Trainer(
            accelerator=accelerator,
            devices=devices,
            max_epochs=max_epochs,
            check_val_every_n_epoch=1,
            early_stopping=True,
            early_stopping_monitor="validation_loss",
            early_stopping_min_delta=MIN_DELTA,
            early_stopping_patience=patience,
            enable_progress_bar=progress_bar,
            logger=False,
            log_every_n_steps=1,
        )
        trainer.fit(plan, train_dataloaders=loader, val_dataloaders=loader)
    net = plan.network.cpu()
    net.load_state_dict(plan.best_state)
    net.eval()
    logger.info("GARAGE GAT: best held-out loss %.3f at epoch %d", plan.best_loss, plan.best_epoch)
    return GATFit(net, pd.DataFrame(plan.history), plan.best_epoch)
