"""Bad controls: real cells spoilt in one known way, to check that the fidelity report catches it."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

from .._spaces import _dense, get_matrix, log_normalise

if TYPE_CHECKING:
    from anndata import AnnData

#: Each control and the warning kinds meant for it (a worse diagnosis counts as caught).
CONTROLS = {
    "dense": ("sparsity",),
    "smoothed": ("smoothed",),
    "library": ("library size",),
    "copied": ("memorised",),
    "doublets": ("off-manifold", "dropped"),
}


def bad_controls(
    train: AnnData, cells: AnnData, labels_key: str, *, layer: str | None = None, random_state: int = 0
) -> dict[str, AnnData]:
    """Counts of real ``cells`` spoilt in each way the fidelity report must catch.

    - ``dense``: a third of the zero entries set to 1 (over-dense output);
    - ``smoothed``: each cell replaced by the summed profile of its 15 nearest same-label
      ``train`` cells, scaled to its own library size and rounded (no cell-specific variation);
    - ``library``: every count multiplied by 3;
    - ``copied``: random ``train`` cells of the same labels (exact copies);
    - ``doublets``: each cell's counts plus those of a ``train`` cell of another label, thinned
      back to half (cells between clusters).

    Present held-out real cells the generator never saw as ``cells``: unspoilt (key ``"real"``)
    they must raise no warning, spoilt each must raise its own (:data:`CONTROLS`).

    Parameters
    ----------
    train
        Real training cells (counts), the source of copies, neighbours and doublet partners.
    cells
        Real held-out cells (counts) to spoil.
    labels_key
        ``obs`` column with the labels (both objects).
    layer
        Layer with the counts (default ``.X``).
    random_state
        Seed of every random choice.

    Returns
    -------
    ``{"real": cells, "dense": ..., ...}``: AnnData objects with CSR counts in ``.X`` and the
    ``obs`` of ``cells``.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(400, 60, 3, random_state=0)
    >>> out = scaug.metrics.bad_controls(adata[:300], adata[300:], "cell_type")
    >>> sorted(out)
    ['copied', 'dense', 'doublets', 'library', 'real', 'smoothed']
    """
    from sklearn.neighbors import NearestNeighbors

    from .._validation import ScaugInputError

    for name, obj in (("train", train), ("cells", cells)):
        if labels_key not in obj.obs:
            raise ScaugInputError(f"labels_key {labels_key!r} is not a column of {name}.obs")
    missing = set(cells.obs[labels_key].astype(str)) - set(train.obs[labels_key].astype(str))
    if missing:
        raise ScaugInputError(
            f"labels {sorted(missing)} of cells have no training cells to copy or smooth from"
        )
    rng = np.random.default_rng(random_state)
    X = _dense(get_matrix(cells, layer))
    T = _dense(get_matrix(train, layer))
    labels = cells.obs[labels_key].astype(str).to_numpy()
    train_labels = train.obs[labels_key].astype(str).to_numpy()

    dense = X.copy()
    dense[(dense == 0) & (rng.random(dense.shape) < 1 / 3)] = 1

    smoothed, copied = np.empty_like(X), np.empty_like(X)
    for lab in np.unique(labels):
        pool, rows = np.flatnonzero(train_labels == lab), np.flatnonzero(labels == lab)
        nn = NearestNeighbors(n_neighbors=min(15, len(pool))).fit(log_normalise(T[pool], counts=True))
        profile = T[pool][nn.kneighbors(log_normalise(X[rows], counts=True), return_distance=False)].sum(1)
        scale = X[rows].sum(1, keepdims=True) / np.maximum(profile.sum(1, keepdims=True), 1)
        smoothed[rows] = np.round(profile * scale)
        copied[rows] = T[rng.choice(pool, len(rows))]

    partner = np.array([rng.choice(np.flatnonzero(train_labels != lab)) for lab in labels])
    doublets = rng.binomial((X + T[partner]).astype(np.int64), 0.5).astype(np.float64)
    out = {"real": X, "dense": dense, "smoothed": smoothed, "library": X * 3, "copied": copied}
    out["doublets"] = doublets
    return {
        name: _like(cells, sparse.csr_matrix(m.astype(np.float32)), labels_key) for name, m in out.items()
    }


def _like(cells: AnnData, X: sparse.csr_matrix, labels_key: str) -> AnnData:
    """``X`` with the labels and genes of ``cells``."""
    import anndata as ad

    return ad.AnnData(X, obs=cells.obs[[labels_key]].copy(), var=cells.var[[]].copy())
