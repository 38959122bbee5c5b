"""Minibatches from a matrix on disk (a backed AnnData's ``X``), read in contiguous blocks of rows.

Random rows of an HDF5 file are slow to read one by one; contiguous rows are fast. So the cells are
cut into blocks of ``block_rows`` consecutive rows, each epoch visits the blocks in a random order,
``blocks_per_window`` of them at a time (read in as many contiguous reads and held in memory), and
the minibatches are drawn from the window's rows shuffled together. Several blocks from random
places of the file per window keep minibatches mixed when the file is sorted (by label, sample).
Memory: one window (``blocks_per_window x block_rows`` cells), whatever the number of cells.

:class:`BlockDataSplitter` puts this in place of scvi-tools' ``DataSplitter`` for a model whose
registered matrix is on disk; training plans receive the same ``{X, labels}`` minibatches.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.dataloaders import DataSplitter
from torch.utils.data import DataLoader, Dataset, Sampler

from .._validation import ScaugInputError

BLOCK_ROWS = 2_048
BLOCKS_PER_WINDOW = 8


@dataclass(frozen=True)
class BlockBatch:
    """A minibatch: the blocks its window holds and the positions (in the dataset's rows) it takes."""

    window: tuple[int, ...]
    positions: np.ndarray


class BlockBatchSampler(Sampler):
    """Minibatches of row positions, drawn window by window of randomly chosen contiguous blocks.

    Parameters
    ----------
    n_rows
        Rows of the dataset (positions ``0 ... n_rows - 1``, in the order of the file).
    batch_size
        Cells per minibatch.
    shuffle
        Visit blocks in a random order and shuffle rows within a window (training); otherwise in
        order (validation).
    drop_last
        Drop each window's last minibatch when it is smaller than ``batch_size``.
    block_rows, blocks_per_window
        Rows per block; blocks read together into one window.
    seed
        Seed of the order; epoch ``e`` uses ``(seed, e)``, so every epoch differs and runs repeat.

    Examples
    --------
    >>> sampler = BlockBatchSampler(10, 4, shuffle=False, block_rows=5, blocks_per_window=1, seed=0)
    >>> [b.positions.tolist() for b in sampler]
    [[0, 1, 2, 3], [4], [5, 6, 7, 8], [9]]
    """

    def __init__(
        self,
        n_rows: int,
        batch_size: int,
        *,
        shuffle: bool,
        drop_last: bool = False,
        block_rows: int = BLOCK_ROWS,
        blocks_per_window: int = BLOCKS_PER_WINDOW,
        seed: int = 0,
    ):
        self.n_rows, self.batch_size = int(n_rows), int(batch_size)
        self.shuffle, self.drop_last = shuffle, drop_last
        self.block_rows, self.blocks_per_window = int(block_rows), int(blocks_per_window)
        self.seed, self.epoch = int(seed), 0

    def _windows(self, rng: np.random.Generator) -> list[tuple[int, ...]]:
        n_blocks = -(-self.n_rows // self.block_rows)
        blocks = rng.permutation(n_blocks) if self.shuffle else np.arange(n_blocks)
        step = self.blocks_per_window
        # sorted within a window: the file is then read forwards
        return [tuple(sorted(int(b) for b in blocks[i : i + step])) for i in range(0, n_blocks, step)]

    def __iter__(self):
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        for window in self._windows(rng):
            positions = np.concatenate(
                [np.arange(b * self.block_rows, min((b + 1) * self.block_rows, self.n_rows)) for b in window]
            )
            if self.shuffle:
                positions = rng.permutation(positions)
            for start in range(0, len(positions), self.batch_size):
                batch = positions[start : start + self.batch_size]
                if len(batch) < self.batch_size and self.drop_last:
                    continue
                yield BlockBatch(window, batch)

    def __len__(self) -> int:
        """Minibatches of the next epoch (its windows, computed as :meth:`__iter__` will draw them)."""
        total = 0
        for window in self._windows(np.random.default_rng([self.seed, self.epoch])):
            rows = sum(min((b + 1) * self.block_rows, self.n_rows) - b * self.block_rows for b in window)
            total += rows // self.batch_size if self.drop_last else -(-rows // self.batch_size)
        return total


class BlockDataset(Dataset):
    """The registered cells ``rows`` (file rows, sorted) of ``matrix``, served window by window.

    ``dataset[BlockBatch]`` returns the minibatch as scvi-tools' ``AnnTorchDataset`` does: dense
    float32 ``X`` and int64 ``labels`` of shape ``(n, 1)``. A window is read on its first minibatch
    and kept until the next window.
    """

    def __init__(self, matrix, labels: np.ndarray, rows: np.ndarray, *, block_rows: int = BLOCK_ROWS):
        self.matrix, self.labels = matrix, np.asarray(labels, dtype=np.int64).reshape(-1, 1)
        self.rows = np.sort(np.asarray(rows, dtype=np.int64))
        self.block_rows = int(block_rows)
        self._window: tuple[int, ...] | None = None
        self._cells = None
        self._offset: dict[int, int] = {}

    def __len__(self) -> int:
        return len(self.rows)

    def _read(self, window: tuple[int, ...]) -> None:
        parts, self._offset, n = [], {}, 0
        for block in window:
            rows = self.rows[block * self.block_rows : (block + 1) * self.block_rows]
            first, last = int(rows[0]), int(rows[-1]) + 1
            # one contiguous read; rows not registered (a validation split) are dropped after it
            part = self.matrix[first:last]
            part = sparse.csr_matrix(part) if sparse.issparse(part) else np.asarray(part)
            parts.append(part[rows - first])
            self._offset[block] = n
            n += len(rows)
        self._cells = (
            sparse.vstack(parts, format="csr") if sparse.issparse(parts[0]) else np.concatenate(parts)
        )
        self._window = window

    def __getitem__(self, batch: BlockBatch) -> dict[str, np.ndarray]:
        if batch.window != self._window:
            self._read(batch.window)
        blocks = batch.positions // self.block_rows
        local = np.array([self._offset[b] for b in blocks]) + batch.positions % self.block_rows
        cells = self._cells[local]
        cells = cells.toarray() if sparse.issparse(cells) else cells
        return {
            REGISTRY_KEYS.X_KEY: np.asarray(cells, dtype=np.float32),
            REGISTRY_KEYS.LABELS_KEY: self.labels[self.rows[batch.positions]],
        }


class BlockDataSplitter(DataSplitter):
    """scvi-tools' ``DataSplitter`` with minibatches read in blocks (:class:`BlockBatchSampler`).

    The train/validation split is scvi's; each split's rows are read in file order, blocks shuffled.
    """

    def __init__(
        self, *args, block_rows: int = BLOCK_ROWS, blocks_per_window: int = BLOCKS_PER_WINDOW, **kwargs
    ):
        if kwargs.get("distributed_sampler"):
            raise ScaugInputError(
                "training from a backed AnnData runs in one process; load the data in memory for strategy='ddp'"
            )
        super().__init__(*args, **kwargs)
        self.block_rows, self.blocks_per_window = int(block_rows), int(blocks_per_window)
        self.seed = int(torch.initial_seed())

    def _loader(self, indices: np.ndarray, *, shuffle: bool) -> DataLoader:
        manager = self.adata_manager
        matrix = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        labels = np.asarray(manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()
        dataset = BlockDataset(matrix, labels, indices, block_rows=self.block_rows)
        sampler = BlockBatchSampler(
            len(dataset),
            self.data_loader_kwargs.get("batch_size", 128),
            shuffle=shuffle,
            drop_last=self.drop_last if shuffle else False,
            block_rows=self.block_rows,
            blocks_per_window=self.blocks_per_window,
            seed=self.seed,
        )
        # batch_size=None: the sampler makes the minibatches (as scvi's own loader does)
        return DataLoader(dataset, sampler=sampler, batch_size=None)

    def train_dataloader(self) -> DataLoader:
        return self._loader(self.train_idx, shuffle=True)

    def val_dataloader(self) -> DataLoader | None:
        if len(self.val_idx) == 0:
            return None
        return self._loader(self.val_idx, shuffle=False)
