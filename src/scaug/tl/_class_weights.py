"""Per-label loss weights: the algorithm-level answer to class imbalance (no cells are added)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd

from .._validation import ScaugInputError, check_adata, check_labels

if TYPE_CHECKING:
    from anndata import AnnData

Scheme = Literal["balanced", "effective_number"]
SCHEMES = ("balanced", "effective_number")


def class_weights(
    adata: AnnData,
    labels_key: str,
    *,
    scheme: Scheme = "balanced",
    beta: float = 0.9999,
) -> pd.Series:
    """Per-label weights for a weighted loss (e.g. ``torch.nn.CrossEntropyLoss(weight=...)``).

    Parameters
    ----------
    adata
        Cells with labels. Cells with a missing label are ignored.
    labels_key
        ``obs`` column with the labels.
    scheme
        ``"balanced"``: ``n_cells / (n_labels * n_label)``, scikit-learn's ``class_weight="balanced"``.
        ``"effective_number"``: ``(1 - beta) / (1 - beta**n_label)``, normalised so that the weights
        sum to ``n_labels`` (Cui et al. 2019, *Class-Balanced Loss Based on Effective Number of
        Samples*). ``beta = 0`` gives equal weights; as ``beta`` approaches 1 the weights approach
        inverse label frequency.
    beta
        Hyperparameter of ``"effective_number"``, in ``[0, 1)``.

    Returns
    -------
    Weight per label (index: label as string, in sorted order; float values).

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd, scaug
    >>> obs = pd.DataFrame({"cell_type": ["B", "B", "B", "Mk"]}, index=["c1", "c2", "c3", "c4"])
    >>> adata = ad.AnnData(np.ones((4, 2)), obs=obs)
    >>> scaug.tl.class_weights(adata, "cell_type").round(3).to_dict()
    {'B': 0.667, 'Mk': 2.0}
    >>> scaug.tl.class_weights(adata, "cell_type", scheme="effective_number", beta=0.5).round(3).to_dict()
    {'B': 0.727, 'Mk': 1.273}
    """
    check_adata(adata)
    labels = check_labels(adata, labels_key)
    counts = labels.dropna().value_counts(sort=False)
    counts = counts[counts > 0].sort_index()
    counts.index = counts.index.astype(str)
    return class_weights_from_counts(counts, scheme=scheme, beta=beta)


def class_weights_from_counts(
    counts: pd.Series, *, scheme: Scheme = "balanced", beta: float = 0.9999
) -> pd.Series:
    """Per-label weights from the number of cells per label (see :func:`class_weights`).

    Parameters
    ----------
    counts
        Cells per label (index: label), every count positive.
    scheme, beta
        As in :func:`class_weights`.

    Returns
    -------
    Weight per label, in the order of ``counts``, named ``"weight"``.

    Examples
    --------
    >>> import pandas as pd
    >>> class_weights_from_counts(pd.Series({"B": 90, "Mk": 10})).to_dict()
    {'B': 0.5555555555555556, 'Mk': 5.0}
    """
    if scheme not in SCHEMES:
        raise ScaugInputError(f"scheme must be one of {', '.join(map(repr, SCHEMES))}, got {scheme!r}")
    if isinstance(beta, bool) or not isinstance(beta, int | float | np.floating) or not 0 <= beta < 1:
        raise ScaugInputError(f"beta must be a number in [0, 1), got {beta!r}")
    n = pd.Series(counts, dtype=np.float64)
    if n.empty:
        raise ScaugInputError("no labels to weight (the label counts are empty)")
    if (n <= 0).any() or not np.isfinite(n.to_numpy()).all():
        bad = n[(n <= 0) | ~np.isfinite(n)].index.tolist()
        raise ScaugInputError(f"every label needs a positive number of cells; not so for {bad}")
    if scheme == "balanced":
        weights = n.sum() / (len(n) * n)
    else:
        # effective number (1 - beta**n) / (1 - beta); expm1/log keep it exact for beta near 1
        effective = np.ones(len(n)) if beta == 0 else -np.expm1(n * np.log(beta)) / (1 - beta)
        weights = 1.0 / effective
        weights = weights * len(n) / weights.sum()
    return pd.Series(np.asarray(weights, dtype=np.float64), index=n.index, name="weight")
