"""Marker-gene correlation heatmap: real cells above the diagonal, synthetic cells below."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from .._validation import ScaugInputError
from ._docs import doc_ax_show_save, doc_key_run, doc_mod, doc_params, doc_returns_axes
from ._utils import new_axes, savefig_or_show, selected_run

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from mudata import MuData

MAX_GENES = 40


@doc_params(
    doc_key_run=doc_key_run,
    doc_ax_show_save=doc_ax_show_save,
    doc_returns_axes=doc_returns_axes,
    doc_mod=doc_mod,
)
def fidelity_correlation(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    max_genes: int = MAX_GENES,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Gene-gene correlation of marker genes: upper triangle real cells, lower triangle synthetic.

    A generator that keeps the co-expression structure gives a heatmap symmetric about the diagonal.

    Parameters
    ----------
    adata
        AnnData (or MuData, with ``mod``) with results of :func:`scaug.tl.fidelity` (computed with the ``"correlation"`` metric).
    {doc_key_run}
    max_genes
        Marker genes shown at most (the first ones: markers are ordered by label).
    {doc_ax_show_save}
    {doc_mod}

    {doc_returns_axes}

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> aug = scaug.tl.augment(adata[:600].copy(), "smote", labels_key="cell_type")
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy(), metrics=["correlation"])
    >>> ax = scaug.pl.fidelity_correlation(aug, show=False)
    """
    entry, run = selected_run(adata, key, run, mod)
    corr = entry.get("correlation", {}).get(run)
    if corr is None:
        raise ScaugInputError(
            "the fidelity results hold no correlations; run scaug.tl.fidelity with 'correlation'"
        )
    genes = np.asarray(corr["genes"]).astype(str)[:max_genes]
    n = len(genes)
    real, syn = np.asarray(corr["real"])[:n, :n], np.asarray(corr["synthetic"])[:n, :n]
    combined = np.where(np.triu(np.ones((n, n), dtype=bool), k=1), real, syn)
    np.fill_diagonal(combined, np.nan)
    ax = new_axes(ax, figsize=(5, 4.5))
    image = ax.imshow(combined, cmap="RdBu_r", vmin=-1, vmax=1, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, shrink=0.7, label="Pearson r")
    fontsize = 7 if n <= 25 else 5
    ax.set_xticks(range(n), genes, rotation=90, fontsize=fontsize)
    ax.set_yticks(range(n), genes, fontsize=fontsize)
    ax.set_title("marker correlation\n◥ real   ◣ synthetic", fontsize=10)
    savefig_or_show("scaug_fidelity_correlation", ax.figure, show=show, save=save)
    return ax if show is False else None
