"""Label fidelity: does a classifier trained on real cells recognise each synthetic cell's label?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import ScaugInputError
from ._utils import ALL, as_labels, concat, per_label_subsample, rows


class BalancedKNN:
    """k-nearest-neighbour classifier whose votes are weighted by 1 / distance and 1 / label size.

    A plain majority vote can never predict a label with fewer cells than half of k, and even with
    distance weighting a rare label is outvoted by the many cells of a large neighbouring label.
    Weighting every training cell by the inverse size of its label (as ``class_weight="balanced"``)
    gives each label the same total vote, so cells of a 15-cell label can be recognised.

    Parameters
    ----------
    n_neighbors
        Neighbours consulted per cell.
    """

    def __init__(self, n_neighbors: int = 15):
        self.n_neighbors = n_neighbors

    def fit(self, X: np.ndarray, labels) -> BalancedKNN:
        """Remember the training cells and the weight of each label."""
        from sklearn.neighbors import NearestNeighbors

        labels = as_labels(labels, len(X))
        self.classes_, codes = np.unique(labels, return_inverse=True)
        sizes = np.bincount(codes, minlength=len(self.classes_))
        self.codes_ = codes
        self.weights_ = len(codes) / (len(self.classes_) * sizes)
        self.nn_ = NearestNeighbors(n_neighbors=min(self.n_neighbors, len(X))).fit(X)
        return self

    def predict(self, X: np.ndarray) -> np.ndarray:
        """Label with the largest weighted vote among the nearest training cells."""
        dist, idx = self.nn_.kneighbors(X)
        codes = self.codes_[idx]
        # an exact match outweighs everything else, as in scikit-learn's weights="distance"
        weight = np.where(dist[:, :1] == 0, (dist == 0).astype(float), 1.0 / np.maximum(dist, 1e-12))
        weight = weight * self.weights_[codes]
        votes = np.zeros((len(X), len(self.classes_)))
        np.add.at(votes, (np.repeat(np.arange(len(X)), codes.shape[1]), codes.ravel()), weight.ravel())
        return self.classes_[votes.argmax(axis=1)]


def label_fidelity(
    train: np.ndarray,
    train_labels,
    synthetic: np.ndarray,
    synthetic_labels,
    *,
    reference: np.ndarray | None = None,
    reference_labels=None,
    n_neighbors: int = 15,
    max_cells_per_label: int | None = 2000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Share of synthetic cells of each label that a classifier trained on real cells assigns to it.

    The classifier (:class:`BalancedKNN`) is trained on the real training cells. The same
    classifier's accuracy on held-out real cells is the ceiling: a label the classifier confuses
    with another in real data cannot score higher in synthetic data.

    Parameters
    ----------
    train, train_labels
        Real training cells x features and their labels.
    synthetic, synthetic_labels
        Synthetic cells and the labels they were generated for.
    reference, reference_labels
        Held-out real cells and labels, for the ceiling.
    n_neighbors
        Neighbours of the classifier.
    max_cells_per_label
        Synthetic and held-out cells classified at most per label (random subsample; the
        neighbour search costs training cells x classified cells).
    random_state
        Seed of the subsampling.

    Returns
    -------
    Tidy table: ``"label_fidelity"`` per label (label ``"all"``: mean over labels, so rare labels
    count as much as large ones) and ``"label_fidelity_ceiling"`` on held-out real cells.

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (300, 5)), rng.normal(4, 1, (15, 5))]
    >>> y = np.r_[["big"] * 300, ["rare"] * 15]
    >>> t = scaug.metrics.label_fidelity(X, y, X[300:], y[300:])
    >>> float(t.set_index("label")["value"]["rare"])
    1.0
    """
    train_labels = as_labels(train_labels, len(train))
    synthetic_labels = as_labels(synthetic_labels, len(synthetic))
    if len(train) == 0:
        raise ScaugInputError("label fidelity needs real training cells")
    rng = np.random.default_rng(random_state)
    model = BalancedKNN(n_neighbors).fit(train, train_labels)
    keep = per_label_subsample(synthetic_labels, len(synthetic), max_cells_per_label, rng)
    tables = [
        rows("label_fidelity", per_label_accuracy(synthetic_labels[keep], model.predict(synthetic[keep])))
    ]
    if reference is not None and len(reference):
        reference_labels = as_labels(reference_labels, len(reference))
        keep = per_label_subsample(reference_labels, len(reference), max_cells_per_label, rng)
        tables.append(
            rows(
                "label_fidelity_ceiling",
                per_label_accuracy(reference_labels[keep], model.predict(reference[keep])),
            )
        )
    return concat(tables)


def per_label_accuracy(truth: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """Accuracy within each label, and their mean under ``"all"``."""
    out = {label: float((predicted[truth == label] == label).mean()) for label in pd.unique(truth)}
    return {ALL: float(np.mean(list(out.values()))) if out else np.nan, **out}
