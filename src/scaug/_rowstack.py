"""One CSR matrix from blocks of rows, without holding the blocks."""

from __future__ import annotations

import numpy as np
from scipy import sparse


class RowStack:
    """Stack CSR blocks of rows into one CSR matrix, holding only the result and the block being added.

    ``scipy.sparse.vstack`` needs every block and then copies them all, doubling the memory of a large
    sample. Here each block is copied into arrays that grow in place as needed, so the working memory
    beyond the result is one block, whatever the number of rows.

    Parameters
    ----------
    n_rows
        Rows of all blocks together, at most (the result has the rows added).
    n_cols
        Columns of the blocks.
    dtype
        Data type of the stacked values.

    Examples
    --------
    >>> import numpy as np
    >>> from scipy import sparse
    >>> stack = RowStack(3, 2)
    >>> stack.append(sparse.csr_matrix(np.array([[1.0, 0.0]])))
    >>> stack.append(sparse.csr_matrix(np.array([[0.0, 2.0], [3.0, 0.0]])))
    >>> stack.tocsr().toarray().tolist()
    [[1.0, 0.0], [0.0, 2.0], [3.0, 0.0]]
    """

    def __init__(self, n_rows: int, n_cols: int, dtype=np.float32):
        self.shape = (int(n_rows), int(n_cols))
        self.indptr = np.zeros(self.shape[0] + 1, dtype=np.int64)
        self.data = np.empty(0, dtype=dtype)
        self.indices = np.empty(0, dtype=np.int32)
        self.n_rows = 0
        self.sorted = True

    def append(self, block: sparse.csr_matrix) -> None:
        """Add the rows of ``block`` (CSR, ``n_cols`` columns) below those added so far."""
        if self.n_rows + block.shape[0] > self.shape[0]:
            raise ValueError(f"more than the {self.shape[0]} rows announced")
        start, stop = int(self.indptr[self.n_rows]), int(self.indptr[self.n_rows]) + block.nnz
        rows = slice(self.n_rows + 1, self.n_rows + 1 + block.shape[0])
        if stop > len(self.data):
            # Room for the rows still to come at this block's density (+10 %): few reallocations, little slack.
            left = self.shape[0] - self.n_rows - block.shape[0]
            size = stop + int(1.1 * left * block.nnz / max(block.shape[0], 1))
            if size > np.iinfo(np.int32).max and self.indices.dtype == np.int32:
                self.indices = self.indices.astype(np.int64)
            # In place (realloc), not a copy: the arrays are only referenced here.
            self.data.resize(size, refcheck=False)
            self.indices.resize(size, refcheck=False)
        self.data[start:stop] = block.data
        self.indices[start:stop] = block.indices
        self.indptr[rows] = start + block.indptr[1:]
        self.n_rows += block.shape[0]
        self.sorted = self.sorted and bool(block.has_sorted_indices)

    def tocsr(self) -> sparse.csr_matrix:
        """The stacked matrix (the arrays are trimmed to the entries and handed over, not copied)."""
        nnz = int(self.indptr[self.n_rows])
        self.data.resize(nnz, refcheck=False)
        self.indices.resize(nnz, refcheck=False)
        indptr = self.indptr[: self.n_rows + 1].astype(self.indices.dtype)
        shape = (self.n_rows, self.shape[1])
        out = sparse.csr_matrix((self.data, self.indices, indptr), shape=shape, copy=False)
        out.has_sorted_indices = self.sorted
        return out
