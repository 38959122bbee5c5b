"""The fidelity dashboard: one figure a biologist can read in ten seconds."""

from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING

import numpy as np

from .._validation import ScaugInputError
from ..metrics._utils import ALL
from ..metrics._warnings import verdict
from ..tl._mudata import modality
from ._correlation import fidelity_correlation
from ._docs import doc_params, doc_results, doc_show_save
from ._qc import fidelity_library_size, fidelity_sparsity
from ._rem import fidelity_rem
from ._scores import fidelity_scores
from ._umap import fidelity_umap
from ._utils import run_table, savefig_or_show, selected_run

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure
    from mudata import MuData


@doc_params(doc_results=doc_results, doc_show_save=doc_show_save)
def fidelity(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Figure | None:
    """Dashboard of the fidelity of synthetic cells, from :func:`scaug.tl.fidelity` results.

    Top: the verdict in words — overall scores and a warning for every label that looks dropped,
    collapsed or memorised. Then the joint UMAP of held-out real and synthetic cells (by origin and
    by label), per-label score bars, the marker-gene correlation heatmap (real above the diagonal,
    synthetic below), per-label reconstruction-error (REM) distributions, and the library-size and
    sparsity distributions. Each panel is also its own function (``scaug.pl.fidelity_*``).

    Parameters
    ----------
    {doc_results}
    {doc_show_save}
    mod
        With a MuData (required then): the modality :func:`scaug.tl.fidelity` evaluated. The panel
        functions take it too: ``scaug.pl.fidelity_umap(mdata, mod="rna")``.

    Returns
    -------
    The figure if ``show`` is ``False``.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> aug = scaug.tl.augment(adata[:600].copy(), "smote", labels_key="cell_type")
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy())
    >>> fig = scaug.pl.fidelity(aug, show=False)
    """
    import matplotlib.pyplot as plt

    adata = modality(adata, mod).data
    entry, run = selected_run(adata, key, run)
    title, left, right = summary_text(entry, run)
    # the summary gets the height its lines need (about 0.19 inch per line at 9-10 pt)
    top_height = 0.5 + 0.19 * max(len(left.splitlines()), len(right.splitlines()))
    fig = plt.figure(figsize=(22, 12 + top_height), layout="constrained")
    # one sub-figure per row, so that long label names in one panel do not squeeze the others
    top, middle, bottom = fig.subfigures(3, 1, height_ratios=[top_height, 6, 6])
    _draw_summary(top.add_subplot(), title, left, right, warned="⚠" in right)
    row1 = middle.subplots(1, 3, width_ratios=[1, 1.45, 1.9])
    row2 = bottom.subplots(1, 4, width_ratios=[1.3, 1.45, 1, 1])
    panels = [
        (row1[0], lambda ax: fidelity_umap(adata, color="origin", key=key, run=run, ax=ax, show=False)),
        (row1[1], lambda ax: fidelity_umap(adata, color="label", key=key, run=run, ax=ax, show=False)),
        (row1[2], lambda ax: fidelity_scores(adata, key=key, run=run, ax=ax, show=False)),
        (row2[0], lambda ax: fidelity_correlation(adata, key=key, run=run, ax=ax, show=False)),
        (row2[1], lambda ax: fidelity_rem(adata, key=key, run=run, ax=ax, show=False)),
        (row2[2], lambda ax: fidelity_library_size(adata, key=key, run=run, ax=ax, show=False)),
        (row2[3], lambda ax: fidelity_sparsity(adata, key=key, run=run, ax=ax, show=False)),
    ]
    for ax, draw in panels:
        try:
            draw(ax)
        except ScaugInputError as err:  # a metric that was not computed: say so in its place
            ax.set_axis_off()
            ax.text(0.5, 0.5, textwrap.fill(str(err), 40), ha="center", va="center", fontsize=9, color="grey")
    savefig_or_show("scaug_fidelity", fig, show=show, save=save)
    return fig if show is False else None


def run_verdict(entry: dict, run: str) -> str:
    """The worst finding of one run (or that every check passed), as the title states it."""
    warnings = entry["warnings"]
    return verdict(warnings.loc[warnings["run"] == run])


def summary_lines(entry: dict, run: str) -> tuple[list[str], list[str], list[str]]:
    """Headline numbers, warnings and notes of one run, in words."""
    table = run_table(entry, run)

    def get(metric: str) -> float:
        try:
            return float(table.loc[metric, ALL])
        except KeyError:
            return np.nan

    numbers = []
    if np.isfinite(get("classifier_auc")):
        sd, cells = get("classifier_auc_sd"), get("classifier_auc_cells")
        spread = f" ± {sd:.2f}" if np.isfinite(sd) else ""
        size = f", {cells:.0f} cells per side" if np.isfinite(cells) else ""
        numbers.append(
            f"classifier AUC {get('classifier_auc'):.2f}{spread}{size}  (0.5 = synthetic indistinguishable "
            "from real, 1 = all recognisable)"
        )
    if np.isfinite(get("coverage")):
        numbers.append(
            f"coverage {get('coverage'):.0%} of real cells reached, precision {get('precision'):.0%} of synthetic cells look real"
        )
    if np.isfinite(get("label_fidelity")):
        numbers.append(
            f"label fidelity {get('label_fidelity'):.0%}  (a classifier of real cells gets {get('label_fidelity_ceiling'):.0%} on held-out real cells)"
        )
    if np.isfinite(get("memorisation_ratio")):
        numbers.append(
            f"memorisation ratio {get('memorisation_ratio'):.2f}  (1 = as far from training cells as new real cells; ≪ 1 = copies)"
        )
    if np.isfinite(get("mmd")):
        numbers.append(f"MMD {get('mmd'):.3f}  vs real-vs-real {get('mmd_control'):.3f}")
    warnings = entry["warnings"]
    warnings = [f"⚠ {m}" for m in warnings.loc[warnings["run"] == run, "message"]]
    notes = [str(n) for n in np.atleast_1d(entry.get("notes", [])) if str(n) != "-"]
    return numbers, warnings, notes


def summary_text(entry: dict, run: str) -> tuple[str, str, str]:
    """Title, headline numbers (left) and warnings + notes (right) of the dashboard."""
    numbers, warnings, notes = summary_lines(entry, run)
    title = f"scaug fidelity — run {run}: {run_verdict(entry, run)}"
    others = [r for r in json.loads(entry["params"])["runs"] if r != run]
    if others:
        numbers = [*numbers, f"(other runs in these results: {', '.join(others)}; pass run= to show one)"]
    right = [textwrap.fill(w, 100) for w in warnings[:6]]
    if len(warnings) > 6:
        right.append(f"… and {len(warnings) - 6} more (adata.uns[key]['warnings'])")
    right += [textwrap.fill(n, 110) for n in notes]
    return title, "\n".join(numbers), "\n".join(right)


def _draw_summary(ax, title: str, left: str, right: str, *, warned: bool) -> None:
    ax.set_axis_off()
    top = {"xycoords": "axes fraction", "textcoords": "offset points", "va": "top"}
    ax.annotate(title, (0, 1), xytext=(0, 0), fontsize=15, weight="bold", **top)
    ax.annotate(left, (0, 1), xytext=(0, -26), fontsize=10, linespacing=1.45, **top)
    ax.annotate(right, (0.5, 1), xytext=(0, -26), fontsize=9, color="#a93226" if warned else "#555555", **top)
