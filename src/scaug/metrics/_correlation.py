"""Gene-gene correlation of marker genes, real against synthetic (ACTIVA's correlation discrepancy)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ._embedding import log_normalise
from ._utils import ALL, as_labels, concat, rows


def marker_genes(
    matrix, labels, var_names: pd.Index, *, counts: bool, n_per_label: int = 5, labels_of_interest=None
) -> pd.Index:
    """Top up-regulated genes of each label against all other cells (Welch t statistic, log-normalised).

    Parameters
    ----------
    matrix
        Real cells x genes (counts or log-normalised).
    labels
        Label of each cell.
    var_names
        Gene names of the columns.
    counts
        Whether ``matrix`` holds counts (normalised and log-transformed first).
    n_per_label
        Markers per label.
    labels_of_interest
        Labels whose markers are wanted (default: all); markers are always against all other cells.

    Returns
    -------
    The union of the markers, in label order (each gene once).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 100, 3, random_state=0)
    >>> genes = scaug.metrics.marker_genes(adata.X, adata.obs["cell_type"], adata.var_names, counts=True)
    >>> len(genes) <= 15
    True
    """
    labels = as_labels(labels, matrix.shape[0])
    expr = log_normalise(matrix, counts=counts)
    expr = sparse.csr_matrix(expr) if sparse.issparse(expr) else expr
    chosen: dict[str, None] = {}
    wanted = pd.unique(labels) if labels_of_interest is None else [str(lab) for lab in labels_of_interest]
    for label in wanted:
        inside = labels == label
        if inside.all() or not inside.any():
            continue
        t = _welch_t(expr[inside], expr[~inside])
        for j in np.argsort(-t, kind="stable")[:n_per_label]:
            if np.isfinite(t[j]) and t[j] > 0:
                chosen[var_names[j]] = None
    return pd.Index(list(chosen))


def _welch_t(a, b) -> np.ndarray:
    from ._embedding import mean_var

    (m_a, v_a), (m_b, v_b) = mean_var(a), mean_var(b)
    se = np.sqrt(v_a / a.shape[0] + v_b / b.shape[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(se > 0, (m_a - m_b) / se, np.nan)


def gene_correlation(expr) -> np.ndarray:
    """Pearson correlation between the columns of log-normalised ``expr`` (0 for constant genes)."""
    expr = expr.toarray() if sparse.issparse(expr) else np.asarray(expr)
    if expr.shape[0] < 2:
        return np.full((expr.shape[1], expr.shape[1]), np.nan)
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = np.corrcoef(expr, rowvar=False)
    corr = np.nan_to_num(np.atleast_2d(corr), nan=0.0)
    np.fill_diagonal(corr, 1.0)
    return corr


def correlation_discrepancy(real_corr: np.ndarray, synthetic_corr: np.ndarray) -> float:
    """Mean absolute difference of two gene-gene correlation matrices over distinct gene pairs.

    This is the L1 correlation discrepancy of ACTIVA (Heydari et al., eq. 6) divided by the number of
    gene pairs, so values are comparable across marker sets: 0 when synthetic cells keep the real
    co-expression structure, up to 2.

    Examples
    --------
    >>> import numpy as np, scaug
    >>> c = np.array([[1.0, 0.8], [0.8, 1.0]])
    >>> round(scaug.metrics.correlation_discrepancy(c, np.eye(2)), 2)
    0.8
    """
    upper = np.triu_indices_from(real_corr, k=1)
    if not len(upper[0]):
        return np.nan
    return float(np.nanmean(np.abs(real_corr[upper] - synthetic_corr[upper])))


def correlation_table(real, synthetic, *, control=None) -> tuple[pd.DataFrame, dict[str, np.ndarray]]:
    """``"correlation_discrepancy"`` and ``"correlation_discrepancy_control"`` (training vs held-out real).

    ``real``, ``synthetic`` and ``control`` are log-normalised expression restricted to the marker
    genes (normalise before restricting: library sizes need every gene). Returns the tidy table and
    the correlation matrices (``"real"``, ``"synthetic"``) for plotting.
    """
    real_corr = gene_correlation(real)
    syn_corr = gene_correlation(synthetic)
    tables = [rows("correlation_discrepancy", {ALL: correlation_discrepancy(real_corr, syn_corr)})]
    if control is not None:
        control_corr = gene_correlation(control)
        tables.append(
            rows("correlation_discrepancy_control", {ALL: correlation_discrepancy(control_corr, real_corr)})
        )
    return concat(tables), {"real": real_corr, "synthetic": syn_corr}
