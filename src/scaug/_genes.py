"""Which genes to use: detected in enough cells, the most variable of them.

One ranking of variable genes serves the generators (which genes they model) and the evaluation
embedding (which genes it is built on): scanpy's ``"seurat"`` flavour on log-normalised values,
among genes detected in ``min_cells`` cells. Its mean bins are on ``log1p`` of the mean, so the
ranking depends on the normalisation's target sum: the generators keep scanpy's default (the
median total), the evaluation embedding the usual 1e4.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._blocks import n_cells_expressing, normalised_moments
from ._validation import ScaugInputError


def select_genes(
    matrix,
    *,
    counts: bool,
    min_cells: int = 3,
    n_top_genes: int | None = None,
    detected: np.ndarray | None = None,
) -> np.ndarray:
    """Boolean mask of the genes to model.

    The matrix is read in blocks of rows (:mod:`scaug._blocks`), so the on-disk ``X`` of a backed
    AnnData gives the same genes as the same cells in memory.

    Parameters
    ----------
    matrix
        Cells x genes (sparse or dense, in memory or on disk), counts or a non-negative continuous space.
    counts
        Whether ``matrix`` holds counts (variability is then ranked on ``log1p(normalize_total)``).
    min_cells
        Genes non-zero in fewer cells are not modelled (they would be all-zero noise to learn).
    n_top_genes
        Keep only this many genes of highest normalised dispersion (scanpy's ``"seurat"`` flavour).
    detected
        The genes non-zero in at least ``min_cells`` cells, if the caller counted them already
        (a pass over an on-disk matrix saved).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 0, 2], [1, 0, 0], [3, 1, 0]])
    >>> select_genes(x, counts=True, min_cells=2)
    array([ True, False, False])
    """
    if detected is None:
        detected = n_cells_expressing(matrix) >= min_cells
    if n_top_genes is None or n_top_genes >= detected.sum():
        return detected
    columns = np.flatnonzero(detected)
    # Normalised over the candidate genes only (the library sizes the generator will model), to
    # their median total: the ranking depends on the target sum, and models were trained with this one.
    mean, var = normalised_moments(matrix, columns, counts=counts)
    mask = np.zeros(len(detected), dtype=bool)
    mask[columns[seurat_top_genes(mean, var, n_top_genes)]] = True
    return mask


def highly_variable_genes(expr, var_names: pd.Index, *, n_top_genes: int, min_cells: int = 3) -> pd.Index:
    """Top genes by normalised dispersion, as scanpy's ``highly_variable_genes(flavor="seurat")``.

    Mean and dispersion are computed on the de-logged values (``expm1`` of the log-normalised
    expression), dispersions are normalised within 20 bins of mean expression, and only genes
    detected in at least ``min_cells`` cells compete, as after the usual
    ``sc.pp.filter_genes(adata, min_cells=3)``: without that filter the top of the ranking is
    genes seen in one or two cells, whose dispersion is all noise.

    Parameters
    ----------
    expr
        Log-normalised expression (cells x genes), dense or sparse.
    var_names
        Gene names of the columns.
    n_top_genes
        Number of genes to return (fewer when fewer genes qualify).
    min_cells
        Genes non-zero in fewer cells are never chosen.

    Returns
    -------
    The chosen genes, in the order of ``var_names``.

    Examples
    --------
    >>> import scaug
    >>> from scaug.metrics import highly_variable_genes, log_normalise
    >>> adata = scaug.datasets.simulate(300, 100, 3, random_state=0)
    >>> genes = highly_variable_genes(log_normalise(adata.X, counts=True), adata.var_names, n_top_genes=20)
    >>> len(genes)
    20
    """
    detected = np.flatnonzero(n_cells_expressing(expr) >= min_cells)
    if len(detected) == 0:
        raise ScaugInputError(f"no gene is detected in {min_cells} cells; cannot choose variable genes")
    mean, var = normalised_moments(expr, detected, counts=False)
    return var_names[detected[seurat_top_genes(mean, var, n_top_genes)]]


def seurat_top_genes(mean: np.ndarray, var: np.ndarray, n_top_genes: int) -> np.ndarray:
    """Mask of the ``n_top_genes`` genes of highest normalised dispersion, from de-logged moments.

    scanpy's ``flavor="seurat"`` (``sc.pp.highly_variable_genes``) computed from each gene's mean
    and variance instead of the matrix, so that the moments can be summed over blocks of cells:
    log dispersion, normalised within 20 equal-width bins of ``log1p`` mean (a bin of one gene
    gets normalised dispersion 1), the top ``n_top_genes`` kept (ties at the cut-off included).

    Examples
    --------
    >>> import numpy as np
    >>> seurat_top_genes(np.array([1.0, 1.0, 1.0]), np.array([1.0, 4.0, 2.0]), 1).tolist()
    [False, True, False]
    """
    mean = np.where(mean == 0, 1e-12, mean)
    with np.errstate(divide="ignore", invalid="ignore"):
        dispersion = var / mean
        dispersion[dispersion == 0] = np.nan
        dispersion = np.log(dispersion)
    table = pd.DataFrame({"dispersion": dispersion, "bin": pd.cut(np.log1p(mean), bins=20)})
    stats = table.groupby("bin", observed=True)["dispersion"].agg(avg="mean", dev="std")
    single = stats["dev"].isnull()
    stats.loc[single, "dev"] = stats.loc[single, "avg"]
    stats.loc[single, "avg"] = 0.0
    stats = stats.loc[table["bin"]].set_index(table.index)
    normalised = ((table["dispersion"] - stats["avg"]) / stats["dev"]).to_numpy(dtype=np.float64)
    ranked = np.sort(normalised[~np.isnan(normalised)])[::-1]
    if len(ranked) == 0:
        return np.zeros(len(mean), dtype=bool)
    cutoff = ranked[min(n_top_genes, len(ranked)) - 1]
    return np.nan_to_num(normalised, nan=-np.inf) >= cutoff
