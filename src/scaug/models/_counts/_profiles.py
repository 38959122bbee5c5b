"""Cells drawn from per-label mean profiles (the genes a generator does not model)."""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy import sparse

from ._draw import _csr, _in_blocks


def mean_profiles(matrix, labels: np.ndarray, order: list[str]) -> np.ndarray:
    """Per-label mean of library-normalised rows (labels x genes, rows sum to 1 or are 0).

    Examples
    --------
    >>> import numpy as np
    >>> mean_profiles(np.array([[1, 1], [0, 2]]), np.array(["a", "a"]), ["a"])
    array([[0.25, 0.75]])
    """
    matrix = sparse.csr_matrix(matrix, dtype=np.float64)
    totals = np.asarray(matrix.sum(axis=1)).ravel()
    scale = np.divide(1.0, totals, out=np.zeros_like(totals), where=totals > 0)
    normalised = sparse.diags(scale) @ matrix
    labels = np.asarray(labels).astype(str)
    out = np.zeros((len(order), matrix.shape[1]))
    for i, lab in enumerate(order):
        rows = labels == lab
        if rows.any():
            out[i] = np.asarray(normalised[rows].mean(axis=0)).ravel()
    return out


def sample_from_profiles(
    profiles: np.ndarray,
    rows: np.ndarray,
    totals: np.ndarray,
    rng: np.random.Generator,
    *,
    dense_mean: float = 2.0,
    block_rows: int = 1024,
    n_threads: int | None = None,
) -> sparse.csr_matrix:
    """Poisson counts: cell ``i`` gets ``Poisson(totals[i] * profiles[rows[i], g])`` counts of gene ``g``.

    Made for many genes with small counts each (the genes a GAN does not model). Genes whose mean
    count reaches ``dense_mean`` in a typical cell are drawn gene by gene; the long tail of the
    others is drawn count by count: a Poisson number of counts per cell, each placed on a gene
    drawn from the tail's profile (the same distribution, at a cost that grows with the counts,
    not with cells x genes). Blocks of ``block_rows`` cells are drawn in ``n_threads`` threads, as
    by :func:`poisson_csr`.

    Returns
    -------
    CSR matrix, cells x genes, with sorted indices; row sums equal ``totals`` in expectation.

    Examples
    --------
    >>> import numpy as np
    >>> X = sample_from_profiles(np.array([[0.5, 0.5, 0.0]]), np.array([0, 0]), np.array([4, 0]),
    ...                          np.random.default_rng(0))
    >>> X.shape, float(X[1].sum()), float(X[:, 2].sum())
    ((2, 3), 0.0, 0.0)
    """
    profiles = np.asarray(profiles, dtype=np.float64)
    rows = np.asarray(rows)
    totals = np.asarray(totals, dtype=np.float64)
    typical = float(np.median(totals)) if len(totals) else 0.0
    is_dense = profiles.max(axis=0, initial=0.0) * typical >= dense_mean
    dense, tail = np.flatnonzero(is_dense), np.flatnonzero(~is_dense)
    # Split once here, not in every block.
    draw = partial(
        _profile_block,
        dense=dense,
        tail=tail,
        dense_profiles=profiles[:, dense],
        tail_profiles=profiles[:, tail],
    )
    return _in_blocks(
        draw, [rows, totals], profiles.shape[1], rng, block_rows=block_rows, n_threads=n_threads
    )


def _profile_block(
    rows: np.ndarray,
    totals: np.ndarray,
    *,
    rng: np.random.Generator,
    dense: np.ndarray,
    tail: np.ndarray,
    dense_profiles: np.ndarray,
    tail_profiles: np.ndarray,
) -> sparse.csr_matrix:
    """:func:`sample_from_profiles` of one block of cells, in one thread."""
    shape = (len(totals), len(dense) + len(tail))
    out = with_columns(sparse.csr_matrix(rng.poisson(totals[:, None] * dense_profiles[rows])), dense, shape)
    tail_counts = rng.poisson(totals * tail_profiles.sum(axis=1)[rows])
    return out + with_columns(_draw_counts(tail_profiles, rows, tail_counts, rng), tail, shape)


def with_columns(block: sparse.csr_matrix, columns: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """``block`` (cells x ``len(columns)``) as the ``columns`` (ascending) of a ``shape`` matrix."""
    block = sparse.csr_matrix(block, dtype=np.float32)
    block.eliminate_zeros()
    return sparse.csr_matrix((block.data, columns[block.indices], block.indptr), shape=shape)


def _draw_counts(
    profiles: np.ndarray, rows: np.ndarray, totals: np.ndarray, rng: np.random.Generator
) -> sparse.csr_matrix:
    """Cell ``i`` gets ``totals[i]`` counts, each on a gene drawn from ``profiles[rows[i]]`` (multinomial).

    Each cell's draws are made in gene order (inverse CDF of sorted uniforms), so equal genes are
    neighbours and the CSR matrix is built without sorting.
    """
    totals = np.asarray(totals, dtype=np.int64)
    groups = []
    for r in np.unique(rows[totals > 0]):
        cells = np.flatnonzero(rows == r)
        draws = _inverse_cdf(profiles[r], _sorted_uniforms(totals[cells], rng))
        # A run of one gene within a cell is one entry with a count.
        starts = np.cumsum(totals[cells]) - totals[cells]  # first draw of each cell
        new = np.ones(len(draws), dtype=bool)
        new[1:] = draws[1:] != draws[:-1]
        new[starts[starts < len(draws)]] = True
        first = np.flatnonzero(new)
        per_cell = np.diff(np.r_[np.searchsorted(first, starts), len(first)])
        groups.append((np.repeat(cells, per_cell), draws[first], np.diff(np.r_[first, len(draws)])))
    if not groups:
        return sparse.csr_matrix((len(totals), profiles.shape[1]), dtype=np.float32)
    cells, genes, counts = (np.concatenate(parts) for parts in zip(*groups, strict=True))
    if len(groups) > 1:  # groups are sorted within; a stable sort by cell keeps genes in order
        order = np.argsort(cells, kind="stable")
        cells, genes, counts = cells[order], genes[order], counts[order]
    return _csr(cells, genes, counts, (len(totals), profiles.shape[1]))


def _sorted_uniforms(counts: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """``counts[k]`` sorted uniforms per segment ``k``, segments one after the other.

    The partial sums of ``n + 1`` exponential spacings, divided by their total, are distributed as
    ``n`` sorted uniforms.
    """
    counts = np.asarray(counts, dtype=np.int64)
    cum = np.cumsum(rng.standard_exponential(int(counts.sum())))
    ends = np.cumsum(counts)
    at = np.r_[0.0, cum]  # at[i]: sum of the first i spacings
    before = at[ends - counts]
    total = at[ends] - before + rng.standard_exponential(len(counts))
    return (cum - np.repeat(before, counts)) / np.repeat(total, counts)


def _inverse_cdf(profile: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Index of the category of each uniform ``u`` under ``profile`` (a guide table speeds the search)."""
    cum = np.cumsum(profile, dtype=np.float64)
    cum /= cum[-1] if cum[-1] > 0 else 1.0
    cum[-1] = np.inf  # rounding must not let a draw fall off the end
    n_buckets = 4 * len(cum)
    guide = np.searchsorted(cum, np.arange(n_buckets) / n_buckets, side="right")
    idx = guide[(u * n_buckets).astype(np.int64)]
    todo = np.flatnonzero(cum[idx] <= u)
    while len(todo):
        idx[todo] += 1
        todo = todo[cum[idx[todo]] <= u[todo]]
    return idx
