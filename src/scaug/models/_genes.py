"""Which genes a generator models: detected in enough cells, optionally only the most variable."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse


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
    detected = np.asarray((matrix != 0).sum(axis=0)).ravel() >= min_cells
    if n_top_genes is None or n_top_genes >= detected.sum():
        return detected
    import anndata as ad
    import scanpy as sc

    sub = matrix[:, np.flatnonzero(detected)]
    sub = (
        sparse.csr_matrix(sub, dtype=np.float32)
        if sparse.issparse(sub)
        else np.asarray(sub, dtype=np.float32)
    )
    tmp = ad.AnnData(sub)
    if counts:
        sc.pp.normalize_total(tmp)
        sc.pp.log1p(tmp)
    hvg: pd.DataFrame = sc.pp.highly_variable_genes(
        tmp, n_top_genes=n_top_genes, flavor="seurat", inplace=False
    )
    mask = np.zeros(len(detected), dtype=bool)
    mask[np.flatnonzero(detected)[hvg["highly_variable"].to_numpy()]] = True
    return mask
