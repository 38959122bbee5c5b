"""Fidelity metrics: how realistic synthetic cells are, overall and per label.

Every metric is computed in an evaluation embedding fitted on real training cells only
(:func:`fit_embedding`) and compares held-out real cells with synthetic cells, both projected into
it. :func:`compare` computes them all; :func:`scaug.tl.fidelity` runs it on an augmented AnnData.
"""

from ._classifier import classifier_auc
from ._controls import CONTROLS, bad_controls
from ._correlation import correlation_discrepancy, gene_correlation, marker_genes
from ._embedding import EvaluationEmbedding, fit_embedding, highly_variable_genes, log_normalise
from ._label_fidelity import BalancedKNN, label_fidelity
from ._layout import joint_umap
from ._marginals import cell_qc, marginals
from ._memorisation import memorisation
from ._mmd import mmd
from ._prdc import prdc
from ._rem import rem
from ._report import METRICS, FidelityResult, compare
from ._warnings import fidelity_warnings
from ._wasserstein import wasserstein

__all__ = [
    "CONTROLS",
    "METRICS",
    "BalancedKNN",
    "EvaluationEmbedding",
    "FidelityResult",
    "bad_controls",
    "cell_qc",
    "classifier_auc",
    "compare",
    "correlation_discrepancy",
    "fidelity_warnings",
    "fit_embedding",
    "gene_correlation",
    "highly_variable_genes",
    "joint_umap",
    "label_fidelity",
    "log_normalise",
    "marginals",
    "marker_genes",
    "memorisation",
    "mmd",
    "prdc",
    "rem",
    "wasserstein",
]
