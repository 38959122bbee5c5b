"""Joint UMAP of held-out real and synthetic cells."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from .._validation import ScaugInputError
from ._docs import doc_ax_show_save, doc_key_run, doc_mod, doc_params, doc_returns_axes
from ._utils import (
    REAL_COLOUR,
    SYNTHETIC_COLOUR,
    label_colours,
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
    doc_key_run=doc_key_run,
    doc_ax_show_save=doc_ax_show_save,
    doc_returns_axes=doc_returns_axes,
    doc_mod=doc_mod,
)
def fidelity_umap(
    adata: AnnData | MuData,
    *,
    color: Literal["origin", "label"] = "origin",
    key: str = "scaug_fidelity",
    run: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Joint UMAP of held-out real and synthetic cells, coloured by origin or by label.

    Synthetic cells that land where no real cells of their label are show a generator that missed
    the label's expression; synthetic islands away from every real cell show unrealistic cells.

    Parameters
    ----------
    adata
        AnnData (or MuData, with ``mod``) with results of :func:`scaug.tl.fidelity` (computed with the ``"umap"`` metric).
    color
        ``"origin"``: real grey, synthetic red; ``"label"``: by cell type, synthetic cells outlined.
    {doc_key_run}
    {doc_ax_show_save}
    {doc_mod}

    {doc_returns_axes}

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> aug = scaug.tl.augment(adata[:600].copy(), "smote", labels_key="cell_type")
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy())
    >>> ax = scaug.pl.fidelity_umap(aug, color="label", show=False)
    """
    entry, run = selected_run(adata, key, run, mod)
    cells = run_cells(entry, run)
    if "umap1" not in cells:
        raise ScaugInputError(
            "the fidelity results hold no UMAP; run scaug.tl.fidelity with the 'umap' metric"
        )
    if color not in ("origin", "label"):
        raise ScaugInputError(f"color must be 'origin' or 'label', got {color!r}")
    ax = new_axes(ax)
    real = (cells["origin"] == "real").to_numpy()
    xy = cells[["umap1", "umap2"]].to_numpy()
    size = max(2.0, min(20.0, 6000 / len(cells)))
    if color == "origin":
        ax.scatter(*xy[real].T, s=size, c=REAL_COLOUR, lw=0, label=f"real (held-out, {real.sum()})")
        ax.scatter(
            *xy[~real].T, s=size, c=SYNTHETIC_COLOUR, lw=0, alpha=0.7, label=f"synthetic ({(~real).sum()})"
        )
        ax.legend(loc="best", fontsize=8, markerscale=2, frameon=False)
    else:
        colours = label_colours(sorted(cells["label"].unique()))
        c = cells["label"].map(colours).to_numpy()
        ax.scatter(*xy[real].T, s=size, c=c[real], lw=0, alpha=0.6)
        ax.scatter(*xy[~real].T, s=size * 1.6, c=c[~real], edgecolors="black", linewidths=0.3, marker="D")
        _legend(ax, colours)
    ax.set_title("held-out real vs synthetic" if color == "origin" else "by label (◆ synthetic)")
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("UMAP1")
    ax.set_ylabel("UMAP2")
    savefig_or_show(f"scaug_fidelity_umap_{color}", ax.figure, show=show, save=save)
    return ax if show is False else None


def _legend(ax, colours: dict[str, str]) -> None:
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], ls="", marker="o", color=c, label=lab) for lab, c in colours.items()]
    ax.legend(
        handles=handles,
        loc="center left",
        bbox_to_anchor=(1.0, 0.5),
        fontsize=7,
        frameon=False,
        ncols=1 if len(handles) <= 14 else 2,
    )


__all__ = ["fidelity_umap"]
