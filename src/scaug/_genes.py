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
from scipy import sparse

from ._spaces import log_normalise
from ._validation import ScaugInputError


def select_genes(matrix, *, counts: bool, min_cells: int = 3, n_top_genes: int | None = None) -> np.ndarray:
    """Boolean mask of the genes to model.

    Parameters
    ----------
    matrix
        Cells x genes (sparse or dense), counts or a non-negative continuous space.
    counts
        Whether ``matrix`` holds counts (variability is then ranked on ``log1p(normalize_total)``).
    min_cells
        Genes non-zero in fewer cells are not modelled (they would be all-zero noise to learn).
    n_top_genes
        Keep only this many genes of highest normalised dispersion (scanpy's ``"seurat"`` flavour).

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[1, 0, 2], [1, 0, 0], [3, 1, 0]])
    >>> select_genes(x, counts=True, min_cells=2)
    array([ True, False, False])
    """
    detected = n_cells_expressing(matrix) >= min_cells
    if n_top_genes is None or n_top_genes >= detected.sum():
        return detected
    columns = np.flatnonzero(detected)
    # Normalised over the candidate genes only (the library sizes the generator will model), to
    # their median total: the ranking depends on the target sum, and models were trained with this one.
    expr = log_normalise(matrix[:, columns], counts=counts, target_sum=None)
    chosen = highly_variable_genes(
        expr, pd.RangeIndex(len(columns)), n_top_genes=n_top_genes, min_cells=min_cells
    )
    mask = np.zeros(len(detected), dtype=bool)
    mask[columns[chosen.to_numpy()]] = True
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
    import anndata as ad
    import scanpy as sc

    detected = np.flatnonzero(n_cells_expressing(expr) >= min_cells)
    if len(detected) == 0:
        raise ScaugInputError(f"no gene is detected in {min_cells} cells; cannot choose variable genes")
    sub = expr[:, detected]
    sub = sparse.csr_matrix(sub, dtype=np.float32) if sparse.issparse(sub) else np.asarray(sub, np.float32)
    table = sc.pp.highly_variable_genes(
        ad.AnnData(sub), n_top_genes=min(n_top_genes, len(detected)), flavor="seurat", inplace=False
    )
    return var_names[detected[table["highly_variable"].to_numpy()]]


def n_cells_expressing(expr) -> np.ndarray:
    """Number of cells in which each gene is non-zero."""
    if sparse.issparse(expr):
        return np.asarray((expr != 0).sum(axis=0)).ravel()
    return np.count_nonzero(np.asarray(expr), axis=0)
