"""The cell graph of GARAGE stage 1: a sparse kNN graph on a PCA of the log-normalised data.

The public GARAGE code built its kNN graph as a dense n x n distance matrix; here scanpy's
``neighbors`` builds it (chunked exact search for small data, approximate NN-descent for large), so
memory grows linearly with the number of cells.
"""

from __future__ import annotations

import logging

import anndata as ad
import numpy as np
import scanpy as sc
import torch
from scipy import sparse

logger = logging.getLogger("scaug")


def cell_embedding(
    matrix,
    *,
    counts: bool,
    n_pcs: int = 50,
    n_top_genes: int | None = 2000,
    random_state: int = 0,
) -> np.ndarray:
    """PCA of the log-normalised cells, scaled to unit overall standard deviation.

    Parameters
    ----------
    matrix
        Cells x genes, sparse or dense; never modified.
    counts
        Whether ``matrix`` holds raw counts (normalised to the median library size and ``log1p``-ed
        first); otherwise it is taken as already log-normalised.
    n_pcs
        Number of principal components (fewer when the data are smaller).
    n_top_genes
        Restrict the PCA to this many highly variable genes (``None``: all genes).
    random_state
        Seed of the PCA solver.

    Returns
    -------
    ``(n_cells, n_pcs)`` float32 array (zero columns beyond the number of components the data allow).
    """
    tmp = ad.AnnData(X=sparse.csr_matrix(matrix, dtype=np.float32, copy=True))
    if counts:
        sc.pp.normalize_total(tmp)
        sc.pp.log1p(tmp)
    expressed = np.asarray((tmp.X > 0).sum(axis=0)).ravel() > 0
    tmp = tmp[:, expressed].copy()
    if n_top_genes is not None and tmp.n_vars > n_top_genes:
        sc.pp.highly_variable_genes(tmp, n_top_genes=n_top_genes, subset=True)
    n_comps = max(1, min(n_pcs, tmp.n_obs - 1, tmp.n_vars - 1))
    sc.pp.pca(tmp, n_comps=n_comps, random_state=random_state)
    emb = tmp.obsm["X_pca"].astype(np.float32)
    emb = emb / max(float(emb.std()), 1e-8)
    # Small data have fewer components: pad, so the network's input width depends on n_pcs alone.
    return np.ascontiguousarray(np.pad(emb, ((0, 0), (0, n_pcs - n_comps))))


def knn_graph(embedding: np.ndarray, *, n_neighbors: int = 15, random_state: int = 0) -> sparse.csr_matrix:
    """Symmetric sparse kNN connectivities (UMAP weights) from scanpy's ``neighbors``.

    Parameters
    ----------
    embedding
        Cells x dimensions.
    n_neighbors
        Neighbours per cell (fewer when there are fewer cells).
    random_state
        Seed of the approximate nearest-neighbour search.

    Returns
    -------
    ``(n_cells, n_cells)`` CSR matrix without self-loops; about ``n_cells * n_neighbors`` entries.
    """
    tmp = ad.AnnData(X=np.zeros((embedding.shape[0], 0), dtype=np.float32))
    tmp.obsm["X_emb"] = embedding
    k = max(2, min(n_neighbors, embedding.shape[0] - 1))
    sc.pp.neighbors(tmp, n_neighbors=k, use_rep="X_emb", random_state=random_state)
    graph = tmp.obsp["connectivities"].tocsr()
    graph.setdiag(0)
    graph.eliminate_zeros()
    return graph


def edge_index(graph: sparse.spmatrix) -> torch.Tensor:
    """The graph's edges as a torch-geometric ``edge_index`` (row 0: source, row 1: target)."""
    coo = sparse.coo_matrix(graph)
    return torch.from_numpy(np.vstack([coo.row, coo.col]).astype(np.int64))
