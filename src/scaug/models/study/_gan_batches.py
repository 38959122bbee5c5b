"""Minibatches of one label each, so that every label's GAN trains on its own cells as in the study."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np
import torch
from scvi import settings
from scvi.dataloaders import DataSplitter
from torch.utils.data import DataLoader, Sampler


class LabelBatchSampler(Sampler[list[int]]):
    """Every epoch, each group's items in a new random order, cut into batches; all batches shuffled.

    A group of ``n`` items gives ``ceil(n / batch_size)`` batches (the last one shorter), so each
    label's GAN sees its cells once per epoch in batches of ``batch_size``, as if it were trained
    alone; the order of the batches of different labels does not matter to the independent pairs.

    Parameters
    ----------
    groups
        Positions of the items of each group.
    batch_size
        Items per batch.
    generator
        Random stream of the orders (seeded, so that training is reproducible).

    Examples
    --------
    >>> import numpy as np, torch
    >>> sampler = LabelBatchSampler([np.arange(5), np.arange(5, 7)], 2, torch.Generator().manual_seed(0))
    >>> batches = list(sampler)
    >>> len(batches), sorted(len(b) for b in batches), sorted(sum(batches, []))
    (4, [1, 2, 2, 2], [0, 1, 2, 3, 4, 5, 6])
    """

    def __init__(self, groups: Sequence[np.ndarray], batch_size: int, generator: torch.Generator):
        self.groups = [np.asarray(g, dtype=np.int64) for g in groups if len(g)]
        self.batch_size = int(batch_size)
        self.generator = generator

    def __len__(self) -> int:
        return sum(-(-len(g) // self.batch_size) for g in self.groups)

    def __iter__(self) -> Iterator[list[int]]:
        batches = []
        for group in self.groups:
            order = group[torch.randperm(len(group), generator=self.generator).numpy()]
            batches += [order[i : i + self.batch_size] for i in range(0, len(order), self.batch_size)]
        for i in torch.randperm(len(batches), generator=self.generator).tolist():
            yield batches[i].tolist()


class LabelBatchSplitter(DataSplitter):
    """scvi's :class:`~scvi.dataloaders.DataSplitter` whose training minibatches hold one label each.

    Only cells of ``labels`` are trained on (the labels that have a GAN). Without ``labels`` it is
    the plain splitter. Training runs in one process (:class:`StudyGAN` refuses DDP).

    Parameters
    ----------
    adata_manager
        The model's AnnData manager.
    cell_labels
        Label code of every registered cell.
    labels
        Label codes whose cells form the minibatches.
    **kwargs
        See :class:`~scvi.dataloaders.DataSplitter`.
    """

    def __init__(
        self, adata_manager, *, cell_labels: np.ndarray, labels: Sequence[int] | None = None, **kwargs
    ):
        self.cell_labels = np.asarray(cell_labels)
        self.labels = None if labels is None else list(labels)
        super().__init__(adata_manager, **kwargs)

    def train_dataloader(self):
        """Single-label minibatches of the training cells of :attr:`labels`."""
        if self.labels is None:
            return super().train_dataloader()
        codes = self.cell_labels[self.train_idx]
        # Positions within the training cells: the dataset below holds only those.
        groups = [np.flatnonzero(codes == code) for code in self.labels]
        sampler = LabelBatchSampler(
            groups,
            int(self.data_loader_kwargs.get("batch_size") or settings.batch_size),
            torch.Generator().manual_seed(int(settings.seed or 0)),
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
