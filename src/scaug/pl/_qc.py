"""Library-size and sparsity distributions of held-out real and synthetic cells."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from ._docs import doc_ax_show_save, doc_mod, doc_params, doc_results, doc_returns_axes
from ._utils import (
    REAL_COLOUR,
    SYNTHETIC_COLOUR,
    finite,
    generated_labels,
    new_axes,
    run_cells,
    savefig_or_show,
    selected_run,
)

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from mudata import MuData


@doc_params(
    doc_results=doc_results,
    doc_ax_show_save=doc_ax_show_save,
    doc_returns_axes=doc_returns_axes,
    doc_mod=doc_mod,
)
def fidelity_library_size(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Histograms of per-cell library size (total counts), held-out real vs synthetic.

    Only the generated labels are shown, each label weighted equally on both sides (augmentation
    generates mostly rare labels, which would otherwise dominate the synthetic histogram).

    Parameters
    ----------
    {doc_results}
    {doc_ax_show_save}
    {doc_mod}

    {doc_returns_axes}

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> aug = scaug.tl.augment(adata[:600].copy(), "smote", labels_key="cell_type")
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy(), metrics=["marginals"])
    >>> ax = scaug.pl.fidelity_library_size(aug, show=False)
    """
    ax = _histograms(adata, "library_size", key=key, run=run, mod=mod, ax=ax, log=True)
    ax.set_xlabel("library size (log10 of the total per cell)")
    ax.set_title("library sizes")
    savefig_or_show("scaug_fidelity_library_size", ax.figure, show=show, save=save)
    return ax if show is False else None


@doc_params(
    doc_results=doc_results,
    doc_ax_show_save=doc_ax_show_save,
    doc_returns_axes=doc_returns_axes,
    doc_mod=doc_mod,
)
def fidelity_sparsity(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Histograms of per-cell sparsity (share of zero genes), held-out real vs synthetic.

    Only the generated labels are shown, each label weighted equally on both sides.

    Parameters
    ----------
    {doc_results}
    {doc_ax_show_save}
    {doc_mod}

    {doc_returns_axes}

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> aug = scaug.tl.augment(adata[:600].copy(), "smote", labels_key="cell_type")
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy(), metrics=["marginals"])
    >>> ax = scaug.pl.fidelity_sparsity(aug, show=False)
    """
    ax = _histograms(adata, "sparsity", key=key, run=run, mod=mod, ax=ax, log=False)
    ax.set_xlabel("share of zero genes per cell")
    ax.set_title("sparsity")
    savefig_or_show("scaug_fidelity_sparsity", ax.figure, show=show, save=save)
    return ax if show is False else None


def _histograms(adata, column: str, *, key: str, run: str | None, mod: str | None, ax, log: bool):
    """Overlaid histograms, real vs synthetic, every generated label given the same weight on both sides.

    Augmentation generates mostly rare labels; unweighted, the synthetic histogram would show the
    rare labels and the real one the large labels.
    """
    entry, run = selected_run(adata, key, run, mod)
    cells = run_cells(entry, run)
    cells = cells[cells["label"].isin(generated_labels(entry, run))]
    ax = new_axes(ax, figsize=(4, 3))
    values = np.asarray(cells[column], dtype=float)
    if log:
        values = np.log10(np.where(values > 0, values, np.nan))
    finite_values = finite(values)
    if len(finite_values):
        low, high = finite_values.min(), finite_values.max()
        edges = np.linspace(low, high if high > low else low + 1, 40)
        for origin, colour, name in (
            ("real", REAL_COLOUR, "held-out real"),
            ("synthetic", SYNTHETIC_COLOUR, "synthetic"),
        ):
            rows = (cells["origin"] == origin).to_numpy() & np.isfinite(values)
            if not rows.any():
                continue
            per_label = cells.loc[rows, "label"].map(cells.loc[rows, "label"].value_counts()).to_numpy()
            weights = 1.0 / per_label
            median = weighted_median(values[rows], weights)
            shown = 10**median if log else median
            ax.hist(
                values[rows],
                bins=edges,
                weights=weights,
                density=True,
                histtype="stepfilled",
                alpha=0.55,
                color=colour,
                label=f"{name} (median {shown:.3g})",
            )
    ax.set_ylabel("density (labels weighted equally)")
    ax.set_yticks([])
    ax.legend(fontsize=7, frameon=False)
    return ax


def weighted_median(values: np.ndarray, weights: np.ndarray) -> float:
    """The value below which half of the total weight lies."""
    order = np.argsort(values)
    cumulative = np.cumsum(weights[order])
    return float(values[order][np.searchsorted(cumulative, cumulative[-1] / 2)])
