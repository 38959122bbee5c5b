from __future__ import annotations

from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse
from tqdm.auto import tqdm

from .._chunked_h5ad import ChunkedH5AD
from .._rowstack import RowStack
from .._validation import ScaugInputError


def simulate(
    n_cells: int = 2_000,
    n_genes: int = 1_000,
    n_labels: int = 5,
    *,
    imbalance: float = 0.1,
    program_size: float = 0.05,
    fold_change: float = 2.0,
    mean_library_size: float = 5_000.0,
    library_sd: float = 0.5,
    dispersion: float = 0.3,
    dropout: float = 0.3,
    labels_key: str = "cell_type",
    chunk_size: int = 10_000,
    random_state: int = 0,
    out: str | Path | None = None,
) -> ad.AnnData:
    """Simulate UMI counts of labelled cell types with a controllable imbalance.

    Each label has a gene program: a random ``program_size`` fraction of genes whose mean is raised
    by a log-normal fold change around ``fold_change``. Counts are negative binomial around
    ``library size x expression profile``; library sizes are log-normal (``library_sd`` on the log
    scale), and extra dropout zeroes entries with a probability that falls with the expected count.
    Label sizes fall geometrically from the largest to the smallest, whose share of the largest is
    ``imbalance`` (``1 / 150`` reproduces the strongest imbalance of Zheng et al. 2025).

    Parameters
    ----------
    n_cells, n_genes, n_labels
        Size of the dataset.
    imbalance
        Size of the smallest label relative to the largest, in ``(0, 1]``.
    program_size
        Fraction of genes in each label's program.
    fold_change
        Median up-regulation of programme genes.
    mean_library_size, library_sd
        Median total counts per cell and the log-scale spread of library sizes.
    dispersion
        Negative binomial dispersion (variance = mu + dispersion * mu**2).
    dropout
        Dropout probability of an entry whose expected count is 1 (falls as 1 / (1 + mu) above).
    labels_key
        Name of the label column.
    chunk_size
        Cells simulated at a time (bounds memory for large ``n_cells``).
    random_state
        Seed.
    out
        An ``.h5ad`` file to write the cells to, ``chunk_size`` cells at a time, so that a dataset
        larger than memory can be made (the same cells as in memory for the same seed).

    Returns
    -------
    AnnData with integer counts (CSR float32) in ``.X``, labels in ``obs[labels_key]`` (``type_0`` is
    the largest), the true normalised profile of each label in ``varm["true_profile"]``, programme
    membership in ``varm["program"]``, library sizes in ``obs["true_library_size"]`` and the
    parameters in ``uns["simulation"]``. With ``out``: that file, opened with ``backed="r"``.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(1_000, 200, 4, imbalance=0.05, random_state=0)
    >>> bool(adata.obs["cell_type"].value_counts().iloc[-1] < 50)
    True
    """
    if n_cells < n_labels or n_labels < 1 or n_genes < 2:
        raise ScaugInputError(
            f"need n_labels >= 1, n_cells >= n_labels and n_genes >= 2 (got {n_cells}, {n_genes}, {n_labels})"
        )
    if not 0 < imbalance <= 1:
        raise ScaugInputError(f"imbalance must be in (0, 1], got {imbalance}")
    rng = np.random.default_rng(random_state)

    sizes = _label_sizes(n_cells, n_labels, imbalance)
    names = [f"type_{i}" for i in range(n_labels)]
    labels = np.repeat(np.arange(n_labels), sizes)
    rng.shuffle(labels)

    base = rng.gamma(shape=0.6, scale=1.0, size=n_genes) + 1e-3  # skewed base expression, as in real data
    program = rng.random((n_genes, n_labels)) < program_size
    lfc = rng.normal(np.log(fold_change), 0.4, size=(n_genes, n_labels)) * program
    profile = base[:, None] * np.exp(lfc)
    profile /= profile.sum(axis=0, keepdims=True)

    library = mean_library_size * np.exp(rng.normal(0.0, library_sd, size=n_cells))
    obs = pd.DataFrame(
        {
            labels_key: pd.Categorical([names[i] for i in labels], categories=names),
            "true_library_size": library,
        },
        index=pd.Index([f"cell_{i}" for i in range(n_cells)]),
    )
    var = pd.DataFrame(index=pd.Index([f"gene_{j}" for j in range(n_genes)]))
    varm = {"true_profile": profile, "program": program}
    uns = {
        "simulation": {
            "n_cells": n_cells,
            "n_genes": n_genes,
            "n_labels": n_labels,
            "imbalance": imbalance,
            "program_size": program_size,
            "fold_change": fold_change,
            "mean_library_size": mean_library_size,
            "library_sd": library_sd,
            "dispersion": dispersion,
            "dropout": dropout,
            "random_state": random_state,
        }
    }

    def blocks():
        for start in tqdm(range(0, n_cells, chunk_size), desc="simulate", disable=n_cells <= 2 * chunk_size):
            stop = min(start + chunk_size, n_cells)
            mu = library[start:stop, None] * profile[:, labels[start:stop]].T
            # negative binomial as a gamma-Poisson mixture
            rate = rng.gamma(1.0 / dispersion, mu * dispersion)
            counts = rng.poisson(rate).astype(np.float32)
            counts[rng.random(counts.shape) < dropout / (1.0 + np.maximum(mu - 1.0, 0.0))] = 0
            yield sparse.csr_matrix(counts)

    if out is None:
        stack = RowStack(n_cells, n_genes)
        for block in blocks():
            stack.append(block)
        return ad.AnnData(X=stack.tocsr(), obs=obs, var=var, varm=varm, uns=uns)
    with ChunkedH5AD(out, n_vars=n_genes) as sink:
        for block in blocks():
            sink.append({None: block})
        sink.finish(obs=obs, var=var, uns=uns, varm=varm)
    return ad.read_h5ad(out, backed="r")


def _label_sizes(n_cells: int, n_labels: int, imbalance: float) -> np.ndarray:
    """Geometric label sizes, largest first, smallest/largest = imbalance, summing to n_cells."""
    if n_labels == 1:
        return np.array([n_cells])
    weights = imbalance ** (np.arange(n_labels) / (n_labels - 1))
    sizes = np.maximum(1, np.floor(weights / weights.sum() * n_cells)).astype(int)
    sizes[0] += n_cells - sizes.sum()
    return sizes
