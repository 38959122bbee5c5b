"""Per-label score bars: how close each label's synthetic cells come to real ones."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from ..metrics._utils import ALL
from ._docs import doc_ax_show_save, doc_mod, doc_params, doc_results, doc_returns_axes
from ._utils import generated_labels, new_axes, run_table, savefig_or_show, selected_run

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes
    from mudata import MuData

# score name -> (bar colour, description); every score is 1 for synthetic cells as good as real ones
SCORES = {
    "coverage": ("#4c72b0", "coverage (real cells reached)"),
    "precision": ("#55a868", "precision (cells look real)"),
    "indistinguishable": ("#8172b2", "indistinguishable: 1 − 2·|AUC − 0.5|"),
    "label_fidelity": ("#dd8452", "label fidelity (▏ceiling on real)"),
}


def scores(table: pd.DataFrame, labels: list[str]) -> pd.DataFrame:
    """Label x score table on a 0–1 scale (1 = as real), from a metric x label table."""

    def row(metric: str) -> pd.Series:
        if metric in table.index:
            return table.loc[metric].reindex(labels)
        return pd.Series(np.nan, index=labels)

    out = pd.DataFrame(
        {
            "coverage": row("coverage"),
            "precision": row("precision"),
            "indistinguishable": 1 - 2 * (row("classifier_auc") - 0.5).abs(),
            "label_fidelity": row("label_fidelity"),
        }
    )
    return out.clip(0, 1)


@doc_params(
    doc_results=doc_results,
    doc_ax_show_save=doc_ax_show_save,
    doc_returns_axes=doc_returns_axes,
    doc_mod=doc_mod,
)
def fidelity_scores(
    adata: AnnData | MuData,
    *,
    key: str = "scaug_fidelity",
    run: str | None = None,
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
    mod: str | None = None,
) -> Axes | None:
    """Horizontal bars per label: coverage, precision, indistinguishability and label fidelity.

    All four are 1 for synthetic cells as good as real ones; a label with short bars is the one to
    worry about (the overall row, ``all``, averages them away). Labels flagged by a warning are
    marked ⚠ with the kind of problem.

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
    >>> _ = scaug.tl.fidelity(aug, reference=adata[600:].copy(), metrics=["prdc", "label_fidelity"])
    >>> ax = scaug.pl.fidelity_scores(aug, show=False)
    """
    entry, run = selected_run(adata, key, run, mod)
    table = run_table(entry, run)
    labels = [ALL, *generated_labels(entry, run)]
    values = scores(table, labels)
    ceiling = (
        table.loc["label_fidelity_ceiling"].reindex(labels)
        if "label_fidelity_ceiling" in table.index
        else None
    )
    ax = new_axes(ax, figsize=(5, 0.5 + 0.45 * len(labels)))
    height = 0.8 / len(SCORES)
    y = np.arange(len(labels))
    for i, (name, (colour, description)) in enumerate(SCORES.items()):
        offset = (i - (len(SCORES) - 1) / 2) * height
        ax.barh(y + offset, values[name].fillna(0), height=height, color=colour, label=description)
        if name == "label_fidelity" and ceiling is not None:
            ax.scatter(ceiling, y + offset, marker="|", s=60, c="black", zorder=3)
    ax.set_yticks(y, [_tick(lab, entry, run) for lab in labels])
    for tick, lab in zip(ax.get_yticklabels(), labels, strict=True):
        if "⚠" in _tick(lab, entry, run):
            tick.set_color("#c0392b")
    ax.invert_yaxis()
    ax.set_xlim(0, 1.02)
    ax.axvline(1, color="black", lw=0.5)
    ax.set_xlabel("score (1 = as real)")
    ax.set_title("per-label scores")
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.12), ncols=2, fontsize=7, frameon=False)
    savefig_or_show("scaug_fidelity_scores", ax.figure, show=show, save=save)
    return ax if show is False else None


def _tick(label: str, entry: dict, run: str) -> str:
    warnings = entry["warnings"]
    kinds = warnings.loc[(warnings["run"] == run) & (warnings["label"] == label), "kind"].unique()
    return f"{label}  ⚠ {', '.join(kinds)}" if len(kinds) else label
