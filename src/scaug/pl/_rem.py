"""Per-label distributions of PCA reconstruction error (REM), real against synthetic."""

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
def fidelity_rem(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Box plots of per-cell reconstruction error, held-out real vs synthetic, for each generated label.

    The reconstruction error is the part of a cell's expression the real cells' principal components
    do not explain: its individual variation. Synthetic boxes far below and narrower than the real
    ones mean smoothed or collapsed cells; far above, noisy cells.

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
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy(), metrics=["rem"])
    >>> ax = scaug.pl.fidelity_rem(aug, show=False)
    """
    entry, run = selected_run(adata, key, run, mod)
    cells = run_cells(entry, run)
    labels = generated_labels(entry, run)
    ax = new_axes(ax, figsize=(4.5, 0.6 + 0.5 * len(labels)))
    positions = np.arange(len(labels))
    horizontal = _horizontal()
    for origin, colour, shift in (("real", REAL_COLOUR, -0.18), ("synthetic", SYNTHETIC_COLOUR, 0.18)):
        data = [
            finite(cells.loc[(cells["origin"] == origin) & (cells["label"] == lab), "rem"]) for lab in labels
        ]
        keep = [i for i, d in enumerate(data) if len(d)]
        if not keep:
            continue
        parts = ax.boxplot(
            [data[i] for i in keep],
            positions=positions[keep] + shift,
            widths=0.32,
            **horizontal,
            patch_artist=True,
            showfliers=False,
            manage_ticks=False,
        )
        for box in parts["boxes"]:
            box.set(facecolor=colour, edgecolor="black", linewidth=0.6)
        for median in parts["medians"]:
            median.set(color="black")
        ax.plot([], [], "s", color=colour, label="held-out real" if origin == "real" else "synthetic")
    ax.set_yticks(positions, labels)
    ax.invert_yaxis()
    ax.set_xlabel("reconstruction error (per gene)")
    ax.set_title("REM: cell-specific variation")
    ax.legend(fontsize=7, frameon=False, loc="lower right")
    savefig_or_show("scaug_fidelity_rem", ax.figure, show=show, save=save)
    return ax if show is False else None


def _horizontal() -> dict:
    """Keyword for horizontal box plots (``vert`` is deprecated from matplotlib 3.10)."""
    import matplotlib

    major, minor = (int(p) for p in matplotlib.__version__.split(".")[:2])
    return {"orientation": "horizontal"} if (major, minor) >= (3, 10) else {"vert": False}
