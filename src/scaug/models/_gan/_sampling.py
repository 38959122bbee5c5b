"""Label-aware sampling of real minibatches, so that the critic sees small labels often enough."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch
from scvi import settings
from scvi.dataloaders import DataSplitter
from torch.utils.data import BatchSampler, DataLoader, WeightedRandomSampler


def rare_priority_weights(labels: np.ndarray, rare: pd.Series, *, rare_sampling: float) -> np.ndarray:
    """Sampling weight per cell: ``rare_sampling`` for cells of rare labels, 1 otherwise.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> rare_priority_weights(np.array(["a", "b", "a"]), pd.Series({"a": False, "b": True}), rare_sampling=4.0)
    array([1., 4., 1.])
    """
    is_rare = rare.reindex(pd.Index(np.asarray(labels).astype(str)), fill_value=False).to_numpy(dtype=bool)
    return np.where(is_rare, float(rare_sampling), 1.0)


def label_share_weights(labels: np.ndarray, min_share: float) -> np.ndarray:
    """Sampling weight per cell so that every label fills at least about ``min_share`` of a minibatch.

    Cells of a label with fewer than ``min_share`` of all cells are drawn ``min_share x n / n_label``
    times as often as the others (a label of 2 cells among 2,000 at ``min_share=0.02`` fills about
    2 % of every minibatch instead of 0.1 %); larger labels keep weight 1.

    Examples
    --------
    >>> import numpy as np
    >>> label_share_weights(np.array(["a"] * 98 + ["b"] * 2), 0.1)[[0, 98, 99]]
    array([1., 5., 5.])
    """
    labels = np.asarray(labels).astype(str)
    _, codes, sizes = np.unique(labels, return_inverse=True, return_counts=True)
    return np.maximum(1.0, min_share * len(labels) / sizes)[codes]


class RarePrioritySplitter(DataSplitter):
    """scvi's :class:`~scvi.dataloaders.DataSplitter` whose training minibatches are drawn by weight.

    Every epoch draws as many cells as the training set holds, with replacement, each cell with
    probability proportional to ``cell_weights`` (seeded by ``scvi.settings.seed``). Validation
    batches are unchanged. Without weights it is the plain splitter.

    Parameters
    ----------
    adata_manager
        The model's AnnData manager.
    cell_weights
        Sampling weight of every registered cell, or ``None``.
    **kwargs
        See :class:`~scvi.dataloaders.DataSplitter`.
    """

    def __init__(self, adata_manager, *, cell_weights: np.ndarray | None = None, **kwargs):
        self.cell_weights = None if cell_weights is None else np.asarray(cell_weights, dtype=np.float64)
        super().__init__(adata_manager, **kwargs)

    def train_dataloader(self):
        """Weighted minibatches of training cells (one dataset read per minibatch).

        Under DDP, Lightning shares the minibatches out among the processes (its
        ``DistributedSamplerWrapper``): every process draws the same weighted epoch from the same
        seed and trains on its own part of it.
        """
        if self.cell_weights is None:
            return super().train_dataloader()
        weights = torch.as_tensor(self.cell_weights[self.train_idx])
        generator = torch.Generator().manual_seed(int(settings.seed or 0))
        sampler = BatchSampler(
            WeightedRandomSampler(weights, num_samples=len(weights), replacement=True, generator=generator),
            batch_size=int(self.data_loader_kwargs.get("batch_size") or settings.batch_size),
            drop_last=self.drop_last,
        )
        dataset = self.adata_manager.create_torch_dataset(
            indices=self.train_idx, load_sparse_tensor=self.load_sparse_tensor
        )
        return DataLoader(
            dataset,
            sampler=sampler,
            batch_size=None,
            pin_memory=self.pin_memory,
            num_workers=settings.dl_num_workers,
        )
