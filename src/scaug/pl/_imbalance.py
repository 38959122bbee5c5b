"""The imbalance benchmark at a glance: macro-F1 per method beside per-label F1."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._validation import ScaugInputError
from ._docs import doc_params, doc_show_save
from ._utils import savefig_or_show

if TYPE_CHECKING:
    from matplotlib.axes import Axes

#: Heatmap cells are annotated with their value up to this many methods x labels.
MAX_ANNOTATED = 300


@doc_params(doc_show_save=doc_show_save)
def imbalance(
    table: pd.DataFrame,
    *,
    ax: Sequence[Axes] | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
) -> list[Axes] | None:
    """Macro-F1 per method beside a heatmap of the per-label F1, methods in the same rows, best first.

    Bars are the mean macro-F1 over folds, error bars the standard deviation, dots the folds; the
    heatmap shows each label's F1 averaged over folds. Labels run from the largest to the smallest (cells per label, summed over the test folds, in brackets), so the rare
    types are on the right. Methods that refused folds are marked in the row name; their values
    average the folds they ran (NaN cells when they ran none).

    Parameters
    ----------
    table
        The result of :func:`scaug.bench.imbalance`.
    ax
        Two axes (bars, heatmap) to draw into; default a new figure.
    {doc_show_save}

    Returns
    -------
    The two axes if ``show`` is ``False``.

    Examples
    --------
    >>> import pandas as pd, scaug
    >>> table = pd.DataFrame({
    ...     "method": ["none"] * 4 + ["smote"] * 4, "fold": [0, 0, 0, 0] * 2,
    ...     "metric": ["macro_f1", "f1", "f1", "n_test"] * 2, "label": ["all", "B", "Mk", "Mk"] * 2,
    ...     "value": [0.6, 0.9, 0.3, 5, 0.7, 0.9, 0.5, 5], "status": "ok"})
    >>> axes = scaug.pl.imbalance(table, show=False)
    >>> len(axes)
    2
    """
    import matplotlib.pyplot as plt

    from ..bench._imbalance import summarise

    summary = summarise(table)
    methods = list(summary.index)
    labels = _label_order(table)
    f1 = (
        table[table["metric"] == "f1"]
        .pivot_table(index="method", columns="label", values="value", aggfunc="mean", dropna=False)
        .reindex(index=methods, columns=labels)
    )
    if ax is None:
        width = 4.5 + 0.55 * len(labels)
        fig, axes = plt.subplots(
            1,
            2,
            figsize=(width, 1.2 + 0.4 * len(methods)),
            gridspec_kw={"width_ratios": [3, max(2, 0.55 * len(labels))]},
        )
        axes = list(axes)
    else:
        axes = list(ax)
        if len(axes) != 2:
            raise ScaugInputError(f"ax must be two axes (bars, heatmap), got {len(axes)}")
        fig = axes[0].figure
    _bars(axes[0], table, summary)
    _heatmap(axes[1], f1, labels, table)
    savefig_or_show("scaug_imbalance", fig, show=show, save=save)
    return axes if show is False else None


def _label_order(table: pd.DataFrame) -> list[str]:
    """Labels largest first, by test cells of one method (every method has the same test cells)."""
    n_test = table[table["metric"] == "n_test"]
    if len(n_test):
        first = n_test[n_test["method"] == n_test["method"].iloc[0]]
        sizes = first.groupby("label")["value"].sum()
        return sorted(sizes.index, key=lambda lab: (-sizes[lab], lab))
    return sorted(table.loc[table["metric"] == "f1", "label"].dropna().unique())


def _bars(ax: Axes, table: pd.DataFrame, summary: pd.DataFrame) -> None:
    methods = list(summary.index)
    y = np.arange(len(methods))
    ax.barh(
        y,
        summary["macro_f1_mean"].fillna(0),
        xerr=summary["macro_f1_std"].fillna(0),
        color="#4c72b0",
        alpha=0.8,
        capsize=2,
    )
    folds = table[(table["metric"] == "macro_f1") & table["value"].notna()]
    for i, method in enumerate(methods):
        values = folds.loc[folds["method"] == method, "value"].to_numpy()
        ax.scatter(values, np.full(len(values), i), s=10, color="black", zorder=3)
    names = [f"{m}  ({n} refused)" if n else m for m, n in zip(methods, summary["n_refused"], strict=True)]
    ax.set_yticks(y, names)
    ax.set_ylim(len(methods) - 0.5, -0.5)
    ax.set_xlim(0, 1.02)
    ax.set_xlabel("macro-F1 (mean ± sd over folds; dots: folds)")
    ax.set_title("macro-F1 per method")


def _heatmap(ax: Axes, f1: pd.DataFrame, labels: list[str], table: pd.DataFrame) -> None:
    values = f1.to_numpy(dtype=float)
    image = ax.imshow(np.ma.masked_invalid(values), vmin=0, vmax=1, cmap="viridis", aspect="auto")
    n_test = table[table["metric"] == "n_test"]
    if len(n_test):
        first = n_test[n_test["method"] == n_test["method"].iloc[0]].groupby("label")["value"].sum()
        ticks = [f"{lab} ({int(first.get(lab, 0))})" for lab in labels]
    else:
        ticks = labels
    ax.set_xticks(np.arange(len(labels)), ticks, rotation=45, ha="right")
    ax.set_yticks(np.arange(len(f1.index)), [])
    if values.size <= MAX_ANNOTATED:
        for (i, j), v in np.ndenumerate(values):
            if np.isfinite(v):
                ax.text(
                    j,
                    i,
                    f"{v:.2f}",
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if v < 0.6 else "black",
                )
    ax.set_title("F1 per label (mean over folds)")
    ax.figure.colorbar(image, ax=ax, fraction=0.04, pad=0.02, label="F1")
