"""A classifier that labels unconditionally generated cells (scGAN), trained on real cells."""

from __future__ import annotations

import numpy as np
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from ..._spaces import log_normalise


def fit_labeller(
    profiles: np.ndarray, labels: np.ndarray, *, log_normalize: bool, random_state: int = 0
) -> dict:
    """Logistic regression on a PCA of (log-normalised) profiles, balanced over labels.

    Returns
    -------
    The fitted classifier as arrays (saved with the model; no pickled estimator): apply it with
    :func:`predict_labels`.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.vstack([np.eye(3)[[0] * 5], np.eye(3)[[2] * 5]]) * 10 + 1
    >>> labeller = fit_labeller(x, np.array(["a"] * 5 + ["b"] * 5), log_normalize=True)
    >>> str(predict_labels(labeller, x[:1])[0])
    'a'
    """
    x = np.asarray(profiles, dtype=np.float64)
    if log_normalize:
        x = log_normalise(x, counts=True).astype(np.float64)
    n_components = max(1, int(min(50, x.shape[0] - 1, x.shape[1])))
    pca = PCA(n_components=n_components, random_state=random_state).fit(x)
    classifier = LogisticRegression(max_iter=500, class_weight="balanced")
    classifier.fit(pca.transform(x), np.asarray(labels).astype(str))
    return {
        "log_normalize": bool(log_normalize),
        "mean": pca.mean_,
        "components": pca.components_,
        "coef": classifier.coef_,
        "intercept": classifier.intercept_,
        "classes": classifier.classes_.astype(object),
    }


def predict_labels(labeller: dict, profiles: np.ndarray) -> np.ndarray:
    """The label :func:`fit_labeller`'s classifier gives each row of ``profiles``."""
    x = np.asarray(profiles, dtype=np.float64)
    if labeller["log_normalize"]:
        x = log_normalise(x, counts=True).astype(np.float64)
    scores = (x - labeller["mean"]) @ labeller["components"].T @ labeller["coef"].T + labeller["intercept"]
    # Two classes: scikit-learn keeps one score, positive for the second class.
    best = (scores[:, 0] > 0).astype(int) if scores.shape[1] == 1 else scores.argmax(axis=1)
    return labeller["classes"][best]
