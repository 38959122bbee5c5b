"""A joint 2-D map of real and synthetic cells for the dashboard (UMAP of the evaluation PCs)."""

from __future__ import annotations

import numpy as np


def joint_umap(coords: np.ndarray, *, n_neighbors: int = 15, random_state: int = 0) -> np.ndarray:
    """UMAP of cells given by their evaluation-embedding coordinates (cells x 2).

    Real and synthetic cells are laid out together, so a synthetic cell lands where real cells of
    similar expression are. Falls back to the first two coordinates for fewer than 10 cells.

    Examples
    --------
    >>> import numpy as np, scaug
    >>> xy = scaug.metrics.joint_umap(np.random.default_rng(0).normal(size=(5, 4)))
    >>> xy.shape
    (5, 2)
    """
    if len(coords) < 10:
        return np.asarray(coords[:, :2], dtype=np.float32)
    import warnings

    import umap

    with warnings.catch_warnings():
        # umap warns that a fixed random_state disables its parallelism: that is the point here
        warnings.filterwarnings("ignore", message=".*random_state.*", category=UserWarning)
        model = umap.UMAP(
            n_neighbors=min(n_neighbors, len(coords) - 1), n_epochs=200, random_state=random_state, init="pca"
        )
        return model.fit_transform(np.asarray(coords, dtype=np.float32)).astype(np.float32)
