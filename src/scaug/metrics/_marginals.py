"""Marginal statistics: per-gene means and variances, sparsity, library sizes, HVG overlap (scGAN)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from ._embedding import highly_variable_genes, log_normalise, mean_var
from ._utils import ALL, as_labels, concat, rows

MIN_CELLS = 3


def cell_qc(matrix) -> tuple[np.ndarray, np.ndarray]:
    """Per-cell library size (total of the matrix) and sparsity (share of zero entries)."""
    totals = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    if sparse.issparse(matrix):
        matrix = sparse.csr_matrix(matrix)
        if (matrix.data == 0).any():  # stored zeros are not expressed genes
            matrix = matrix.copy()
            matrix.eliminate_zeros()
        nonzero = np.diff(matrix.indptr)
    else:
        nonzero = np.count_nonzero(np.asarray(matrix), axis=1)
    return totals, 1.0 - nonzero / matrix.shape[1]


def marginals(
    reference,
    synthetic,
    *,
    counts: bool,
    reference_labels=None,
    synthetic_labels=None,
    n_top_genes: int = 1000,
    overall: bool = True,
) -> pd.DataFrame:
    """Agreement of per-gene and per-cell summary statistics of synthetic and held-out real cells.

    Parameters
    ----------
    reference, synthetic
        Expression matrices (cells x the same genes, dense or sparse), counts or log-normalised.
    counts
        Whether the matrices hold counts (then gene statistics are computed after
        ``log1p(normalize_total)``; library sizes are always totals of the matrices as given).
    reference_labels, synthetic_labels
        Labels, for per-label mean correlation and library-size comparison.
    n_top_genes
        Size of the two HVG sets whose overlap is reported (at most a quarter of the genes).
    overall
        Whether to compute the overall (label ``"all"``) value.

    Returns
    -------
    Tidy table: ``"mean_correlation"`` and ``"variance_correlation"`` (Pearson correlation over genes
    of log-normalised means and variances; 1 ideal), ``"sparsity_real"``/``"sparsity_synthetic"``
    (mean share of zeros per cell), ``"sparsity_ks"`` (KS statistic of the per-cell shares, 0 ideal), ``"library_size_real"``/``"library_size_synthetic"`` (median
    total per cell), ``"library_size_ks"`` (KS statistic of log library sizes, 0 ideal) and
    ``"hvg_overlap"`` (share of the real top HVGs that are also top HVGs of the synthetic cells).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(400, 200, 3, random_state=0)
    >>> t = scaug.metrics.marginals(adata.X[:200], adata.X[200:], counts=True)
    >>> bool(t.set_index("metric")["value"]["mean_correlation"] > 0.9)
    True
    """
    from scipy.stats import ks_2samp

    reference_labels = as_labels(reference_labels, reference.shape[0])
    synthetic_labels = as_labels(synthetic_labels, synthetic.shape[0])
    ref_log, syn_log = log_normalise(reference, counts=counts), log_normalise(synthetic, counts=counts)
    lib_ref, zeros_ref = cell_qc(reference)
    lib_syn, zeros_syn = cell_qc(synthetic)

    def gene_agreement(r, s) -> tuple[float, float]:
        if min(r.shape[0], s.shape[0]) < MIN_CELLS:
            return np.nan, np.nan
        (m_r, v_r), (m_s, v_s) = mean_var(r), mean_var(s)
        return _pearson(m_r, m_s), _pearson(v_r, v_s)

    def ks(r, s) -> float:
        if min(len(r), len(s)) < MIN_CELLS:
            return np.nan
        return float(ks_2samp(r, s).statistic)

    def library_ks(r, s) -> float:
        return ks(np.log1p(r), np.log1p(s))

    names = (
        "mean_correlation",
        "variance_correlation",
        "sparsity_real",
        "sparsity_synthetic",
        "library_size_real",
        "library_size_synthetic",
        "library_size_ks",
        "sparsity_ks",
        "hvg_overlap",
    )
    values = {name: {} for name in names}
    if overall:
        mean_corr, var_corr = gene_agreement(ref_log, syn_log)
        overall_values = {
            "mean_correlation": mean_corr,
            "variance_correlation": var_corr,
            "sparsity_real": float(zeros_ref.mean()),
            "sparsity_synthetic": float(zeros_syn.mean()) if len(zeros_syn) else np.nan,
            "library_size_real": float(np.median(lib_ref)),
            "library_size_synthetic": float(np.median(lib_syn)) if len(lib_syn) else np.nan,
            "library_size_ks": library_ks(lib_ref, lib_syn),
            "sparsity_ks": ks(zeros_ref, zeros_syn),
            "hvg_overlap": hvg_overlap(ref_log, syn_log, n_top_genes=n_top_genes),
        }
        for name, value in overall_values.items():
            values[name][ALL] = value
    if reference_labels is not None and synthetic_labels is not None:
        for label in pd.unique(synthetic_labels):
            r, s = reference_labels == label, synthetic_labels == label
            values["mean_correlation"][label] = gene_agreement(ref_log[r], syn_log[s])[0]
            values["library_size_ks"][label] = library_ks(lib_ref[r], lib_syn[s])
            values["sparsity_ks"][label] = ks(zeros_ref[r], zeros_syn[s])
            values["sparsity_real"][label] = float(zeros_ref[r].mean()) if r.any() else np.nan
            values["sparsity_synthetic"][label] = float(zeros_syn[s].mean())
            values["library_size_real"][label] = float(np.median(lib_ref[r])) if r.any() else np.nan
            values["library_size_synthetic"][label] = float(np.median(lib_syn[s]))
    return concat([rows(m, v) for m, v in values.items()])


def hvg_overlap(reference_log, synthetic_log, *, n_top_genes: int) -> float:
    """Share of the real cells' top HVGs that are also among the synthetic cells' top HVGs."""
    index = pd.RangeIndex(reference_log.shape[1])
    # a quarter of the genes at most, else the overlap is high whatever the cells
    n = max(1, min(n_top_genes, reference_log.shape[1] // 4))
    try:
        real = highly_variable_genes(reference_log, index, n_top_genes=n)
        syn = highly_variable_genes(synthetic_log, index, n_top_genes=n)
    except ValueError:  # ScaugInputError: no varying gene on one side
        return 0.0 if synthetic_log.shape[0] else np.nan
    return float(len(real.intersection(syn)) / len(real))


def _pearson(a: np.ndarray, b: np.ndarray) -> float:
    if a.std() == 0 or b.std() == 0:
        return np.nan
    return float(np.corrcoef(a, b)[0, 1])
