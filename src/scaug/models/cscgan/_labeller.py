"""A classifier that labels unconditionally generated cells (scGAN), trained on real cells."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer


def _log_normalize(x: np.ndarray) -> np.ndarray:
    totals = x.sum(axis=1, keepdims=True)
    return np.log1p(np.divide(x * 1e4, totals, out=np.zeros_like(x, dtype=np.float64), where=totals > 0))


def fit_labeller(profiles: np.ndarray, labels: np.ndarray, *, log_normalize: bool, random_state: int = 0):
    """Logistic regression on a PCA of (log-normalised) profiles, balanced over labels.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.vstack([np.eye(3)[[0] * 5], np.eye(3)[[2] * 5]]) * 10 + 1
    >>> clf = fit_labeller(x, np.array(["a"] * 5 + ["b"] * 5), log_normalize=True)
    >>> str(clf.predict(x[:1])[0])
    'a'
    """
    n_components = int(min(50, profiles.shape[0] - 1, profiles.shape[1]))
    steps = [FunctionTransformer(_log_normalize)] if log_normalize else []
    steps += [
        PCA(n_components=max(1, n_components), random_state=random_state),
        LogisticRegression(max_iter=500, class_weight="balanced"),
    ]
    return make_pipeline(*steps).fit(np.asarray(profiles, dtype=np.float64), np.asarray(labels).astype(str))
