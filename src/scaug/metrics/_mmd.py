"""Maximum mean discrepancy with the kernel of scGAN, beside a real-vs-real control."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist

from ._utils import ALL, concat, rows, subsample

N_NEIGHBORS = 25  # scGAN: the bandwidth scale is the distance to the 25th nearest neighbour


def mmd(
    reference: np.ndarray,
    synthetic: np.ndarray,
    *,
    max_cells: int | None = 1000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Unbiased MMD² between real and synthetic cells, and the same statistic between two real halves.

    The real cells are split in two halves A and B; ``mmd`` is MMD²(A, synthetic) and ``mmd_control``
    is MMD²(A, B) on the same number of cells, so a synthetic set as good as real data has
    ``mmd ≈ mmd_control`` (both ≈ 0). The kernel is scGAN's: a sum of Gaussians with bandwidths m/2, m
    and 2m, where m is the median distance of the real cells to their 25th nearest neighbour.

    Parameters
    ----------
    reference
        Held-out real cells x features.
    synthetic
        Synthetic cells x features.
    max_cells
        Cells per set at most (random subsample: MMD is quadratic in the number of cells).
    random_state
        Seed of the split and subsampling.

    Returns
    -------
    Tidy table with metrics ``"mmd"`` and ``"mmd_control"`` (label ``"all"``).

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> t = scaug.metrics.mmd(rng.normal(size=(400, 5)), rng.normal(2, 1, size=(200, 5)))
    >>> v = t.set_index("metric")["value"]
    >>> bool(v["mmd"] > 10 * abs(v["mmd_control"]))
    True
    """
    rng = np.random.default_rng(random_state)
    a, b, s = split_reference(reference, synthetic, max_cells=max_cells, rng=rng)
    if len(a) < 2 or len(s) < 2:
        return concat([rows("mmd", {ALL: np.nan}), rows("mmd_control", {ALL: np.nan})])
    sigmas = scgan_bandwidths(np.vstack([a, b]))
    return concat(
        [
            rows("mmd", {ALL: mmd2_unbiased(a, s, sigmas)}),
            rows("mmd_control", {ALL: mmd2_unbiased(a, b, sigmas)}),
        ]
    )


def split_reference(
    reference: np.ndarray, synthetic: np.ndarray, *, max_cells: int | None, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two disjoint random halves A, B of the real cells and a synthetic subsample the size of B."""
    order = rng.permutation(len(reference))
    half = len(reference) // 2
    if max_cells is not None:
        half = min(half, max_cells)
    n = min(half, len(synthetic))
    a, b = reference[order[:half]], reference[order[half : half + n]]
    s = synthetic[subsample(len(synthetic), n, rng)]
    return a, b, s


def scgan_bandwidths(x: np.ndarray) -> np.ndarray:
    """Bandwidths m/2, m, 2m with m the median distance to the 25th nearest neighbour within ``x``."""
    k = min(N_NEIGHBORS, len(x) - 1)
    dist = cdist(x, x)
    kth = np.partition(dist, k, axis=1)[:, k]  # column 0 is the cell itself
    m = float(np.median(kth))
    m = m if m > 0 else 1.0
    return np.array([m / 2, m, 2 * m])


def gaussian_kernel(x: np.ndarray, y: np.ndarray, sigmas: np.ndarray) -> np.ndarray:
    """Sum of Gaussian kernels ``exp(-|x - y|² / (2 σ²))`` over the bandwidths."""
    sq = cdist(x, y, "sqeuclidean")
    return sum(np.exp(-sq / (2 * s**2)) for s in sigmas)


def mmd2_unbiased(x: np.ndarray, y: np.ndarray, sigmas: np.ndarray) -> float:
    """Unbiased estimate of MMD² (diagonal terms left out), ≈ 0 when x and y share a distribution."""
    kxx, kyy, kxy = (
        gaussian_kernel(x, x, sigmas),
        gaussian_kernel(y, y, sigmas),
        gaussian_kernel(x, y, sigmas),
    )
    m, n = len(x), len(y)
    xx = (kxx.sum() - np.trace(kxx)) / (m * (m - 1))
    yy = (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
    return float(xx + yy - 2 * kxy.mean())
