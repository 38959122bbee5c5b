"""Classifier two-sample test: can a random forest tell synthetic from real cells?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ALL, as_labels, concat, rows, subsample

MIN_CELLS = 5  # fewest cells per side for a per-label test
# Cells per side for an informative overall test: the AUC of two identical sets then has a
# standard error of sqrt((n + m + 1) / (12 n m)) = 0.041, so AUC 0.58 stands two errors from 0.5.
INFORMATIVE_CELLS = 100


def classifier_auc(
    real: np.ndarray,
    synthetic: np.ndarray,
    *,
    real_labels=None,
    synthetic_labels=None,
    n_splits: int = 5,
    n_estimators: int = 50,
    max_cells: int | None = 2000,
    max_cells_per_label: int | None = 300,
    random_state: int = 0,
    overall: bool = True,
) -> pd.DataFrame:
    """Cross-validated ROC AUC of a class-balanced random forest separating real from synthetic cells.

    0.5 means the classifier cannot tell them apart; 1 means every synthetic cell is recognisable.
    Compare held-out real cells (not the cells the embedding was fitted on) with synthetic cells.

    Parameters
    ----------
    real, synthetic
        Cells x features (e.g. coordinates in the :func:`~scaug.metrics.fit_embedding` space).
    real_labels, synthetic_labels
        Cell-type labels; when given, the test is also run within each label present on both sides.
    n_splits
        Cross-validation folds (fewer for small labels).
    n_estimators
        Trees of the random forest.
    max_cells
        Cells per side used at most overall (random subsample; the forest costs more than linear time).
    max_cells_per_label
        Cells per side used at most within a label.
    random_state
        Seed of subsampling, folds and forest.
    overall
        Whether to compute the overall (label ``"all"``) value.

    Returns
    -------
    Tidy table; label ``"all"`` is the overall test. Metrics: ``"classifier_auc"`` (out-of-fold),
    ``"classifier_auc_sd"`` (standard deviation of the per-fold AUCs: how far the value would move
    on other cells) and ``"classifier_auc_cells"`` (cells of the smaller side, after subsampling:
    below :data:`INFORMATIVE_CELLS` the test cannot tell moderately different sets apart).

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> a, b = rng.normal(size=(200, 5)), rng.normal(size=(200, 5))
    >>> t = scaug.metrics.classifier_auc(a, b).set_index(["metric", "label"])["value"]
    >>> bool(0.3 < t["classifier_auc", "all"] < 0.7), int(t["classifier_auc_cells", "all"])
    (True, 200)
    """
    real_labels = as_labels(real_labels, len(real))
    synthetic_labels = as_labels(synthetic_labels, len(synthetic))
    rng = np.random.default_rng(random_state)
    values = {"classifier_auc": {}, "classifier_auc_sd": {}, "classifier_auc_cells": {}}

    def record(label, result: tuple[float, float, int]) -> None:
        for name, value in zip(values, result, strict=True):
            values[name][label] = value

    if overall:
        record(
            ALL,
            two_sample_auc(
                real, synthetic, n_splits=n_splits, n_estimators=n_estimators, max_cells=max_cells, rng=rng
            ),
        )
    if real_labels is not None and synthetic_labels is not None:
        for label in pd.unique(synthetic_labels):
            r, s = real[real_labels == label], synthetic[synthetic_labels == label]
            if min(len(r), len(s)) < MIN_CELLS:
                record(label, (np.nan, np.nan, min(len(r), len(s))))
                continue
            record(
                label,
                two_sample_auc(
                    r, s, n_splits=n_splits, n_estimators=n_estimators, max_cells=max_cells_per_label, rng=rng
                ),
            )
    return concat([rows(name, v) for name, v in values.items()])


def two_sample_auc(
    a: np.ndarray,
    b: np.ndarray,
    *,
    n_splits: int,
    n_estimators: int,
    max_cells: int | None,
    rng: np.random.Generator,
) -> tuple[float, float, int]:
    """Out-of-fold ROC AUC of a random forest separating ``a`` (0) from ``b`` (1).

    Returns the AUC, the standard deviation of the per-fold AUCs and the cells of the smaller side.
    """
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.metrics import roc_auc_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    a = a[subsample(len(a), max_cells, rng)]
    b = b[subsample(len(b), max_cells, rng)]
    n = min(len(a), len(b))
    if n < 2:
        return np.nan, np.nan, n
    X = np.vstack([a, b])
    y = np.r_[np.zeros(len(a)), np.ones(len(b))]
    seed = int(rng.integers(2**31 - 1))
    folds = StratifiedKFold(n_splits=int(min(n_splits, len(a), len(b))), shuffle=True, random_state=seed)
    # one thread: parallel trees add up probabilities in varying order, which changes the last digits
    forest = RandomForestClassifier(
        n_estimators=n_estimators, class_weight="balanced", min_samples_leaf=2, n_jobs=1, random_state=seed
    )
    proba = cross_val_predict(forest, X, y, cv=folds, method="predict_proba")[:, 1]
    per_fold = [roc_auc_score(y[test], proba[test]) for _, test in folds.split(X, y)]
    return float(roc_auc_score(y, proba)), float(np.std(per_fold, ddof=1)), n
