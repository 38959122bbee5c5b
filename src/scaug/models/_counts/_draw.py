"""Counts from generated profiles: Poisson, stochastic rounding or multinomial draws."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal

import numpy as np
import torch
from scipy import sparse

from ..._rowstack import RowStack

CountSampler = Literal["round", "poisson", "multinomial"]


def sample_counts(
    profiles: torch.Tensor,
    library_sizes: np.ndarray,
    *,
    sampler: CountSampler = "round",
    rng: torch.Generator | np.random.Generator,
) -> sparse.csr_matrix:
    """Integer counts from non-negative expression profiles (cells x genes).

    Counts are drawn on the profiles' device and only the non-zero counts are moved to the CPU
    (a GPU sends a sparse matrix, not the dense profiles). On the CPU the counts follow ``rng``
    directly; on another device they follow a generator there, seeded by one draw from ``rng``
    (the same seed gives the same cells on that device). ``"multinomial"`` draws on the CPU.

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
        A :class:`torch.Generator` on the CPU for ``"round"``, a :class:`numpy.random.Generator`
        for ``"poisson"`` (see :func:`poisson_csr`) and ``"multinomial"``.

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
        if sampler == "poisson" and profiles.device.type == "cpu":
            return poisson_csr((profiles * scale).numpy(), rng)
        return dense_draw_csr(profiles * scale, sampler, generator_on(profiles.device, rng))
    if sampler == "multinomial":
        pvals = (profiles / totals).double().cpu().numpy()
        pvals /= pvals.sum(axis=1, keepdims=True)
        counts = rng.multinomial(np.asarray(library_sizes, dtype=np.int64), pvals)
        return sparse.csr_matrix(counts.astype(np.float32))
    raise ValueError(f"unknown count sampler {sampler!r} (use 'round', 'poisson' or 'multinomial')")


def dense_draw_csr(
    rates: torch.Tensor, sampler: Literal["poisson", "round"], rng: torch.Generator
) -> sparse.csr_matrix:
    """:func:`draw_counts` on the device of ``rates``; only the non-zero counts come to the CPU, as CSR.

    Examples
    --------
    >>> import torch
    >>> dense_draw_csr(torch.tensor([[2.0, 0.0]]), "round", torch.Generator()).toarray().tolist()
    [[2.0, 0.0]]
    """
    values = draw_counts(rates, sampler, rng)
    rows, cols = torch.nonzero(values, as_tuple=True)  # row-major: rows come out sorted
    return _csr(rows.cpu().numpy(), cols.cpu().numpy(), values[rows, cols].cpu().numpy(), tuple(rates.shape))


def generator_on(device: torch.device, rng: torch.Generator | np.random.Generator) -> torch.Generator:
    """A torch generator on ``device``: ``rng`` itself if it is one there, else one seeded by a draw from ``rng``.

    Examples
    --------
    >>> import torch
    >>> rng = torch.Generator().manual_seed(0)
    >>> generator_on(torch.device("cpu"), rng) is rng
    True
    """
    if isinstance(rng, torch.Generator) and _same_device(rng.device, device):
        return rng
    if isinstance(rng, torch.Generator):
        seed = int(torch.randint(2**62, (1,), generator=rng))
    else:
        seed = int(rng.integers(2**62))
    return torch.Generator(device=device).manual_seed(seed)


def _same_device(a: torch.device, b: torch.device) -> bool:
    """Same device type, and the same index where both name one (``cuda`` means the current ``cuda:0``)."""
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


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
