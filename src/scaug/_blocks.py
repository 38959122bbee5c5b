"""Contiguous blocks of rows of a cells x genes matrix, in memory or on disk, and per-gene sums over them.

One code path for an in-memory matrix and for the on-disk ``X`` of an AnnData opened with
``backed="r"`` (anndata's CSR dataset or an h5py dataset): statistics are accumulated block by
block, so a file larger than memory is read once per pass, in contiguous (fast) reads, and gives
the same numbers as the same cells in memory.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
from scipy import sparse
from tqdm.auto import tqdm

BLOCK_ROWS = 10_000
# Passes over fewer rows take seconds: no progress bar.
_PROGRESS_ROWS = 200_000


def on_disk(matrix) -> bool:
    """Whether ``matrix`` is read from a file (anndata's on-disk sparse dataset, an h5py dataset).

    Examples
    --------
    >>> import numpy as np
    >>> on_disk(np.zeros((2, 2)))
    False
    """
    return not (sparse.issparse(matrix) or isinstance(matrix, np.ndarray))


def row_blocks(
    matrix, *, block_rows: int | None = None, desc: str = "reading"
) -> Iterator[tuple[int, object]]:
    """``(start, rows)`` for contiguous blocks of ``block_rows`` rows (default :data:`BLOCK_ROWS`), as CSR or ndarray.

    Examples
    --------
    >>> import numpy as np
    >>> [(start, rows.shape) for start, rows in row_blocks(np.zeros((5, 2)), block_rows=2)]
    [(0, (2, 2)), (2, (2, 2)), (4, (1, 2))]
    """
    n_rows, step = matrix.shape[0], block_rows or BLOCK_ROWS
    for start in tqdm(range(0, n_rows, step), desc=desc, unit="block", disable=n_rows < _PROGRESS_ROWS):
        rows = matrix[start : start + step]
        yield start, sparse.csr_matrix(rows) if sparse.issparse(rows) else np.asarray(rows)


def n_cells_expressing(matrix) -> np.ndarray:
    """Number of cells in which each gene is non-zero (block by block).

    Examples
    --------
    >>> import numpy as np
    >>> n_cells_expressing(np.array([[1, 0], [2, 0], [0, 3]])).tolist()
    [2, 1]
    """
    out = np.zeros(matrix.shape[1], dtype=np.int64)
    for _, rows in row_blocks(matrix, desc="genes detected"):
        out += (
            np.asarray((rows != 0).sum(axis=0)).ravel()
            if sparse.issparse(rows)
            else np.count_nonzero(rows, 0)
        )
    return out


def normalised_moments(matrix, columns: np.ndarray, *, counts: bool) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance (ddof 1) of each of ``columns`` in the space scanpy's ``"seurat"`` HVGs rank in.

    Counts: per-cell scaled to the median total over ``columns`` (of cells with counts), as
    ``log1p(normalize_total(target_sum=None))`` de-logged; a continuous (log) space: ``expm1`` of
    the values. One pass: the median is applied to the sums at the end.

    Examples
    --------
    >>> import numpy as np
    >>> mean, var = normalised_moments(np.array([[1.0, 1.0], [3.0, 1.0]]), np.array([0, 1]), counts=True)
    >>> mean.round(3).tolist(), var.round(3).tolist()
    ([1.875, 1.125], [0.281, 0.281])
    """
    n_rows = matrix.shape[0]
    s1, s2, totals = np.zeros(len(columns)), np.zeros(len(columns)), []
    for _, rows in row_blocks(matrix, desc="gene variability"):
        sub = rows[:, columns]
        sub = (
            sparse.csr_matrix(sub, dtype=np.float64) if sparse.issparse(sub) else np.asarray(sub, np.float64)
        )
        if counts:
            cell_totals = np.asarray(sub.sum(axis=1)).ravel()
            totals.append(cell_totals)
            scale = np.divide(1.0, cell_totals, out=np.zeros_like(cell_totals), where=cell_totals > 0)
            values = sparse.diags(scale) @ sub if sparse.issparse(sub) else sub * scale[:, None]
        else:
            values = sub.expm1() if sparse.issparse(sub) else np.expm1(sub)
        s1 += np.asarray(values.sum(axis=0)).ravel()
        squares = values.multiply(values) if sparse.issparse(values) else values * values
        s2 += np.asarray(squares.sum(axis=0)).ravel()
    if counts:
        totals = np.concatenate(totals)
        target = float(np.median(totals[totals > 0])) if (totals > 0).any() else 1.0
        s1, s2 = s1 * target, s2 * target**2
    mean = s1 / n_rows
    var = s2 / n_rows - mean**2
    if n_rows > 1:
        var *= n_rows / (n_rows - 1)
    return mean, var
