"""From generated profiles to cells: library sizes drawn per label, then counts."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal

import numpy as np
import torch
from scipy import sparse

CountSampler = Literal["round", "poisson", "multinomial"]


def library_sizes_by_label(library_sizes: np.ndarray, labels: np.ndarray) -> dict[str, np.ndarray]:
    """Empirical library sizes of each label's training cells.

    Examples
    --------
    >>> import numpy as np
    >>> library_sizes_by_label(np.array([10, 20, 30]), np.array(["a", "b", "a"]))["a"]
    array([10, 30])
    """
    labels = np.asarray(labels).astype(str)
    return {lab: np.asarray(library_sizes)[labels == lab] for lab in dict.fromkeys(labels)}


def draw_library_sizes(
    library_sizes: Mapping[str, np.ndarray], labels: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """Library sizes per cell, drawn from its label's empirical library sizes.

    ``library_sizes[label]`` holds one entry per training cell (or one row, when a cell's counts are
    split between groups of genes: rows are drawn whole, keeping the split of a real cell).

    Examples
    --------
    >>> import numpy as np
    >>> sizes = {"a": np.array([10.0]), "b": np.array([5.0, 7.0])}
    >>> draw_library_sizes(sizes, np.array(["a", "a"]), np.random.default_rng(0))
    array([10., 10.])
    """
    labels = np.asarray(labels).astype(str)
    first = np.asarray(next(iter(library_sizes.values())))
    out = np.empty((len(labels), *first.shape[1:]), dtype=np.float64)
    for lab in dict.fromkeys(labels):
        rows = labels == lab
        sizes = np.asarray(library_sizes[lab])
        out[rows] = sizes[rng.integers(0, len(sizes), size=int(rows.sum()))]
    return out


def sample_counts(
    profiles: torch.Tensor,
    library_sizes: np.ndarray,
    *,
    sampler: CountSampler = "round",
    rng: torch.Generator | np.random.Generator,
) -> sparse.csr_matrix:
    """Integer counts from non-negative expression profiles (cells x genes).

    Parameters
    ----------
    profiles
        Relative expression; each row is rescaled to sum to its cell's library size.
    library_sizes
        Total counts per cell.
    sampler
        ``"round"``: the expected counts rounded up with probability equal to their fraction
        (unbiased, adds the least noise: a generator trained on library-normalised real cells has
        learnt their counting noise already, and Poisson or multinomial draws add it a second
        time); ``"poisson"``: independent Poisson counts with those means; ``"multinomial"``:
        exactly the library size per cell (slowest).
    rng
        A :class:`torch.Generator` for ``"round"``, a :class:`numpy.random.Generator` for
        ``"poisson"`` (see :func:`poisson_csr`) and ``"multinomial"``.

    Returns
    -------
    CSR matrix of counts, the shape of ``profiles``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> p = torch.tensor([[1.0, 3.0], [0.0, 1.0]])
    >>> X = sample_counts(p, np.array([100, 50]), rng=torch.Generator().manual_seed(0))
    >>> X.toarray().tolist()
    [[25.0, 75.0], [0.0, 50.0]]
    """
    totals = profiles.sum(dim=1, keepdim=True).clamp_min(1e-12)
    if sampler in ("round", "poisson"):
        scale = torch.as_tensor(library_sizes, dtype=profiles.dtype, device=profiles.device)[:, None] / totals
        if sampler == "poisson":
            return poisson_csr((profiles * scale).cpu().numpy(), rng)
        values = draw_counts(profiles * scale, "round", rng)
        rows, cols = torch.nonzero(values, as_tuple=True)  # row-major: rows come out sorted
        return _csr(rows.numpy(), cols.numpy(), values[rows, cols].numpy(), tuple(profiles.shape))
    if sampler == "multinomial":
        pvals = (profiles / totals).double().cpu().numpy()
        pvals /= pvals.sum(axis=1, keepdims=True)
        counts = rng.multinomial(np.asarray(library_sizes, dtype=np.int64), pvals)
        return sparse.csr_matrix(counts.astype(np.float32))
    raise ValueError(f"unknown count sampler {sampler!r} (use 'round', 'poisson' or 'multinomial')")


def draw_counts(
    rates: torch.Tensor, sampler: Literal["poisson", "round"], rng: torch.Generator | None = None
) -> torch.Tensor:
    """Integer counts (dense, same shape) around expected counts ``rates``.

    ``"poisson"``: independent Poisson draws; ``"round"``: each rate rounded up with probability
    equal to its fraction (unbiased, the least noise).

    Examples
    --------
    >>> import torch
    >>> draw_counts(torch.tensor([[2.0, 0.0]]), "round").tolist()
    [[2.0, 0.0]]
    """
    if sampler == "poisson":
        return torch.poisson(rates, generator=rng)
    floor = torch.floor(rates)
    return floor + (torch.rand(rates.shape, generator=rng, device=rates.device) < rates - floor).to(
        rates.dtype
    )


def poisson_csr(
    rates: np.ndarray,
    rng: np.random.Generator,
    *,
    direct_rate: float = 3.0,
    block_rows: int = 512,
    n_threads: int | None = None,
) -> sparse.csr_matrix:
    """Independent counts ``X[i, g] ~ Poisson(rates[i, g])`` (cells x genes) as a CSR matrix.

    Exact, and faster than :func:`torch.poisson` plus :func:`torch.nonzero` for the sparse counts
    of single cells, where most rates are far below one and random numbers, not arithmetic, are the
    cost of a draw per entry. Each entry is an inverse-CDF draw from one uniform ``u``: ``X > 0``
    when ``u < 1 - exp(-rate)``, decided from the top 16 bits of ``u`` (a quarter of the random
    numbers a full uniform per entry costs, and no exponential); only the entries whose 16 bits do
    not settle it get the rest of ``u``, and only entries with ``X > 0`` walk the CDF further.
    Rates of at least ``direct_rate`` (few, long walks) get a Poisson draw repeated while zero.

    Blocks of ``block_rows`` rows are drawn in ``n_threads`` threads (default: torch's number of
    threads), each block from its own generator spawned from ``rng``: the counts depend on ``rng``
    and ``block_rows``, not on the number of threads.

    Examples
    --------
    >>> import numpy as np
    >>> rates = np.tile(np.array([0.0, 0.5, 4.0], dtype=np.float32), (10_000, 1))
    >>> X = poisson_csr(rates, np.random.default_rng(0))
    >>> X.shape, np.asarray(X.mean(axis=0)).round(1).tolist()
    ((10000, 3), [[0.0, 0.5, 4.0]])
    """
    rates = np.asarray(rates, dtype=np.float32)
    draw = partial(_poisson_block, direct_rate=direct_rate)
    return _in_blocks(draw, [rates], rates.shape[1], rng, block_rows=block_rows, n_threads=n_threads)


def _in_blocks(
    draw: Callable[..., sparse.csr_matrix],
    arrays: list[np.ndarray],
    n_cols: int,
    rng: np.random.Generator,
    *,
    block_rows: int,
    n_threads: int | None,
) -> sparse.csr_matrix:
    """``draw(*rows of arrays, rng=...)`` for blocks of ``block_rows`` rows in threads, stacked.

    Each block has its own generator spawned from ``rng``, so the result depends on ``rng`` and
    ``block_rows``, not on ``n_threads`` (default: torch's number of threads). numpy releases the
    GIL in the array operations and random draws the blocks spend their time in.
    """
    n_rows = len(arrays[0])
    starts = range(0, n_rows, block_rows)
    blocks = ([a[start : start + block_rows] for a in arrays] for start in starts)
    rngs = rng.spawn(len(starts))
    n_threads = torch.get_num_threads() if n_threads is None else n_threads
    out = RowStack(n_rows, n_cols)
    with ThreadPoolExecutor(max(1, min(n_threads, len(starts)))) as pool:
        for block in pool.map(lambda parts, r: draw(*parts, rng=r), blocks, rngs):
            out.append(block)
    return out.tocsr()


def _poisson_block(rates: np.ndarray, *, rng: np.random.Generator, direct_rate: float) -> sparse.csr_matrix:
    """:func:`poisson_csr` of one block of rows, in one thread."""
    rates = np.ascontiguousarray(rates)
    flat_rates = rates.reshape(-1)
    bits = rng.bit_generator.random_raw(-(-flat_rates.size // 4)).view(np.uint16)[: flat_rates.size]
    # u = (bits + v) / 2**16 with v uniform, and X > 0 when u < 1 - exp(-rate) <= rate: only entries
    # with bits <= 2**16 * rate (float32 rounding keeps every one of them) can have X > 0.
    candidates = np.flatnonzero(bits <= flat_rates * np.float32(_BUCKETS))
    lam = flat_rates[candidates].astype(np.float64)
    u = (bits[candidates] + rng.random(len(candidates))) / _BUCKETS
    above_zero = -np.expm1(-lam)  # P(X >= 1)
    positive = u < above_zero
    flat, lam, above_zero, u = candidates[positive], lam[positive], above_zero[positive], u[positive]
    counts = np.empty(len(flat), dtype=np.float32)
    walk = lam < direct_rate
    counts[walk] = _walk_cdf(lam[walk], above_zero[walk] - u[walk])
    direct = np.flatnonzero(~walk)
    draws = rng.poisson(lam[direct])
    while (zero := draws == 0).any():  # probability < exp(-direct_rate) each
        draws[zero] = rng.poisson(lam[direct][zero])
    counts[direct] = draws
    return _csr(flat // rates.shape[1], flat % rates.shape[1], counts, rates.shape)


_BUCKETS = float(2**16)


def _walk_cdf(lam: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Smallest ``k >= 1`` with ``P(1 <= X <= k) >= target`` for ``X ~ Poisson(lam)`` (inverse CDF past 0)."""
    out = np.ones(len(lam))
    term = lam * np.exp(-lam)  # P(X = k), k = 1
    active = np.flatnonzero(target > term)
    lam, target, cdf, term = lam[active], target[active], term[active], term[active]
    k = 1
    while len(active):
        k += 1
        term *= lam / k
        cdf += term
        out[active] = k
        # a term that underflows to 0 ends the walk (only a target within rounding of 1 gets there)
        more = (target > cdf) & (term > 0)
        active, lam, target, cdf, term = active[more], lam[more], target[more], cdf[more], term[more]
    return out


def _csr(rows: np.ndarray, cols: np.ndarray, values: np.ndarray, shape: tuple[int, int]) -> sparse.csr_matrix:
    """CSR matrix from coordinates sorted by row (and by column within a row)."""
    indptr = np.r_[0, np.cumsum(np.bincount(rows, minlength=shape[0]))]
    out = sparse.csr_matrix((values.astype(np.float32), cols, indptr), shape=shape)
    out.has_sorted_indices = True
    return out


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

    def __init__(self, n_rows: int, n_cols: int):
        self.shape = (int(n_rows), int(n_cols))
        self.indptr = np.zeros(self.shape[0] + 1, dtype=np.int64)
        self.data = np.empty(0, dtype=np.float32)
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
