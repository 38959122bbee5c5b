"""From generated profiles to cells: library sizes drawn per label, then counts."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import torch
from scipy import sparse

CountSampler = Literal["poisson", "multinomial"]


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
    sampler: CountSampler = "poisson",
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
        ``"poisson"``: independent Poisson counts with those means (library sizes match in
        expectation; only genes with a non-zero mean are drawn, fast); ``"multinomial"``: exactly
        the library size per cell (slower).
    rng
        A :class:`torch.Generator` for ``"poisson"``, a :class:`numpy.random.Generator` for
        ``"multinomial"``.

    Returns
    -------
    CSR matrix of counts, the shape of ``profiles``.

    Examples
    --------
    >>> import numpy as np, torch
    >>> p = torch.tensor([[1.0, 3.0], [0.0, 1.0]])
    >>> X = sample_counts(p, np.array([100, 50]), rng=torch.Generator().manual_seed(0))
    >>> X.shape, float(X[1, 0])
    ((2, 2), 0.0)
    """
    n = profiles.shape[0]
    totals = profiles.sum(dim=1, keepdim=True).clamp_min(1e-12)
    if sampler == "poisson":
        scale = torch.as_tensor(library_sizes, dtype=profiles.dtype, device=profiles.device)[:, None] / totals
        rates = profiles * scale
        rows, cols = torch.nonzero(rates, as_tuple=True)  # row-major: rows come out sorted
        values = torch.poisson(rates[rows, cols], generator=rng)
        keep = values > 0
        rows, cols, values = rows[keep].numpy(), cols[keep].numpy(), values[keep].numpy()
        indptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n))])
        return sparse.csr_matrix((values.astype(np.float32), cols, indptr), shape=tuple(profiles.shape))
    if sampler == "multinomial":
        pvals = (profiles / totals).double().cpu().numpy()
        pvals /= pvals.sum(axis=1, keepdims=True)
        counts = rng.multinomial(np.asarray(library_sizes, dtype=np.int64), pvals)
        return sparse.csr_matrix(counts.astype(np.float32))
    raise ValueError(f"unknown count sampler {sampler!r} (use 'poisson' or 'multinomial')")


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
    profiles: np.ndarray, rows: np.ndarray, totals: np.ndarray, rng: np.random.Generator
):
    """Multinomial counts: cell ``i`` gets ``totals[i]`` counts spread by ``profiles[rows[i]]``.

    Draws one gene per count (cost grows with the counts, not with cells x genes), so it suits many
    genes with small counts each.

    Returns
    -------
    CSR matrix, cells x genes.

    Examples
    --------
    >>> import numpy as np
    >>> X = sample_from_profiles(np.array([[0.5, 0.5, 0.0]]), np.array([0, 0]), np.array([4, 2]),
    ...                          np.random.default_rng(0))
    >>> X.sum(axis=1).A1.tolist(), float(X[:, 2].sum())
    ([4.0, 2.0], 0.0)
    """
    totals = np.asarray(totals, dtype=np.int64)
    rows = np.asarray(rows)
    all_cells, all_genes = [], []
    for r in np.unique(rows):
        cells = np.flatnonzero(rows == r)
        cells = np.repeat(cells, totals[cells])
        all_cells.append(cells)
        all_genes.append(_inverse_cdf(profiles[r], rng.random(len(cells))))
    cells, genes = np.concatenate(all_cells), np.concatenate(all_genes)
    out = sparse.csr_matrix(
        (np.ones(len(cells), dtype=np.float32), (cells, genes)), shape=(len(totals), profiles.shape[1])
    )
    out.sum_duplicates()
    return out


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
