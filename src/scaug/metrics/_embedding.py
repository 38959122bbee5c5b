"""The evaluation embedding: a fixed space, derived from real training cells only, for every metric.

Normalise (counts only), log1p, take the real cells' highly variable genes, scale with the real
statistics and fit a PCA on the real cells. Held-out real cells and synthetic cells are then
*projected* into it with exactly the same transformation. Cells the PCA was fitted on are not
exchangeable with new cells (their PCA coordinates are fitted to them), so the sets a two-sample
metric compares must both be out-of-sample.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from .._genes import highly_variable_genes
from .._spaces import get_matrix, log_normalise, resolve_layer
from .._validation import ScaugInputError, check_adata, check_values

if TYPE_CHECKING:
    from anndata import AnnData

MAX_SCALED = 10.0
_CHUNK = 10_000


@dataclass(frozen=True)
class EvaluationEmbedding:
    """A PCA space fitted on real cells, applied unchanged to any other cells with the same genes.

    Attributes
    ----------
    genes
        The highly variable genes of the real cells the embedding uses.
    counts
        Whether the fitted matrix held counts (then every matrix is normalised to ``TARGET_SUM`` and
        log1p-transformed first); otherwise it is taken to be log-normalised already.
    layer
        Layer the matrix is read from (``None``: ``.X``).
    mean, std
        Per-gene scaling statistics of the real cells.
    pca_mean, components
        The PCA of the scaled real cells (``components``: ``n_pcs x len(genes)``, orthonormal rows).
    """

    genes: pd.Index
    counts: bool
    layer: str | None
    mean: np.ndarray
    std: np.ndarray
    pca_mean: np.ndarray
    components: np.ndarray

    @property
    def n_pcs(self) -> int:
        """Number of principal components."""
        return self.components.shape[0]

    def scaled(self, adata: AnnData) -> np.ndarray:
        """Log-normalised, scaled expression of the embedding's genes (dense, cells x genes)."""
        missing = self.genes.difference(adata.var_names)
        if len(missing):
            raise ScaugInputError(
                f"{len(missing)} genes of the evaluation embedding are missing from the cells to project "
                f"(e.g. {list(missing[:3])}); real and synthetic cells need the same var_names"
            )
        if self.layer is not None and self.layer not in adata.layers:
            raise ScaugInputError(
                f"the cells to project have no layers[{self.layer!r}] (the embedding was fitted on that layer)"
            )
        matrix = get_matrix(adata, self.layer)
        if matrix is None:
            raise ScaugInputError("adata.X is None; pass layer= with the expression matrix")
        check_values(matrix, where="the expression matrix")
        columns = adata.var_names.get_indexer(self.genes)
        out = np.empty((adata.n_obs, len(self.genes)), dtype=np.float32)
        for start in range(0, adata.n_obs, _CHUNK):
            rows = slice(start, start + _CHUNK)
            expr = log_normalise(matrix[rows], counts=self.counts)[:, columns]
            expr = expr.toarray() if sparse.issparse(expr) else np.asarray(expr)
            out[rows] = np.clip((expr - self.mean) / self.std, -MAX_SCALED, MAX_SCALED)
        return out

    def transform(self, adata: AnnData) -> np.ndarray:
        """PCA coordinates of ``adata``'s cells (cells x ``n_pcs``)."""
        return self.project(self.scaled(adata))

    def project(self, scaled: np.ndarray) -> np.ndarray:
        """PCA coordinates of already scaled expression."""
        return (scaled - self.pca_mean) @ self.components.T

    def reconstruction_error(self, scaled: np.ndarray) -> np.ndarray:
        """Per-cell PCA reconstruction error (mean squared residual per gene), the REM of Alsamadi et al."""
        centred = scaled - self.pca_mean
        explained = centred @ self.components.T
        # rows of components are orthonormal, so |x - x P'P|^2 = |x|^2 - |x P'|^2
        residual = np.einsum("ij,ij->i", centred, centred) - np.einsum("ij,ij->i", explained, explained)
        return np.maximum(residual, 0.0) / centred.shape[1]


def fit_embedding(
    real: AnnData,
    *,
    layer: str | None = None,
    n_pcs: int = 50,
    n_top_genes: int = 2000,
    random_state: int = 0,
) -> EvaluationEmbedding:
    """Fit the evaluation embedding on real (training) cells.

    Parameters
    ----------
    real
        Real cells only, the cells the generator was trained on (raw counts preferred, or log-normalised).
    layer
        Layer with the expression matrix; default ``"counts"`` if present, else ``.X``.
    n_pcs
        Number of principal components (capped by the number of cells and genes).
    n_top_genes
        Number of highly variable genes (Seurat flavour, on the log-normalised real cells).
    random_state
        Seed of the randomised PCA.

    Returns
    -------
    The fitted :class:`EvaluationEmbedding`; project other cells with ``.transform(adata)``.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(400, 200, 3, random_state=0)
    >>> emb = scaug.metrics.fit_embedding(adata[:300], n_pcs=10)
    >>> emb.transform(adata[300:]).shape
    (100, 10)
    """
    from sklearn.decomposition import PCA

    check_adata(real, what="real")
    if real.n_obs < 3:
        raise ScaugInputError(f"the evaluation embedding needs at least 3 real cells, got {real.n_obs}")
    layer = resolve_layer(real, layer)
    matrix = get_matrix(real, layer)
    counts = check_values(matrix, where="the real expression matrix")
    expr = log_normalise(matrix, counts=counts)
    genes = highly_variable_genes(expr, real.var_names, n_top_genes=n_top_genes)
    columns = real.var_names.get_indexer(genes)
    sub = expr[:, columns]
    sub = sub.toarray() if sparse.issparse(sub) else np.asarray(sub)
    mean = sub.mean(axis=0)
    std = sub.std(axis=0)
    std[std == 0] = 1.0
    scaled = np.clip((sub - mean) / std, -MAX_SCALED, MAX_SCALED).astype(np.float32)
    n_comps = int(min(n_pcs, scaled.shape[0] - 1, scaled.shape[1]))
    pca = PCA(n_components=n_comps, svd_solver="randomized", random_state=random_state).fit(scaled)
    return EvaluationEmbedding(
        genes=genes,
        counts=counts,
        layer=layer,
        mean=mean.astype(np.float32),
        std=std.astype(np.float32),
        pca_mean=pca.mean_.astype(np.float32),
        components=pca.components_.astype(np.float32),
    )


def mean_var(expr) -> tuple[np.ndarray, np.ndarray]:
    """Per-gene mean and (population) variance of a dense or sparse matrix."""
    if sparse.issparse(expr):
        mean = np.asarray(expr.mean(axis=0), dtype=np.float64).ravel()
        sq = expr.copy()
        sq.data = sq.data.astype(np.float64) ** 2
        var = np.asarray(sq.mean(axis=0)).ravel() - mean**2
    else:
        expr = np.asarray(expr, dtype=np.float64)
        mean, var = expr.mean(axis=0), expr.var(axis=0)
    return mean, np.maximum(var, 0.0)
