"""The downsampling benchmark's figure: F1 on the rare type against the number of cells kept."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._validation import ScaugInputError
from ._docs import doc_ax_show_save, doc_params, doc_returns_axes
from ._utils import new_axes, savefig_or_show

if TYPE_CHECKING:
    from matplotlib.axes import Axes

_NONE, _REAL = "none", "real_cells"


@doc_params(doc_ax_show_save=doc_ax_show_save, doc_returns_axes=doc_returns_axes)
def downsampling(
    table: pd.DataFrame,
    *,
    metric: str = "f1",
    ax: Axes | None = None,
    show: bool | None = None,
    save: bool | str | None = None,
) -> Axes | None:
    """Score of the target-vs-rest classifier against the number of target cells kept.

    One line per condition (mean over seeds, with the seeds' minimum-maximum band): no augmentation,
    each method, and the removed real cells put back (the ceiling, dashed).

    Parameters
    ----------
    table
        Result of :func:`scaug.bench.downsampling`.
    metric
        ``"f1"``, ``"precision"``, ``"recall"`` or ``"memorisation_ratio"``.
    {doc_ax_show_save}

    {doc_returns_axes}

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(600, 100, 3, random_state=0)
    >>> table = scaug.bench.downsampling(
    ...     adata, "cell_type", "type_1", ["smote"], n_kept=[10, 3], seeds=[0], n_estimators=50, progress=False
    ... )
    >>> ax = scaug.pl.downsampling(table, show=False)
    """
    values = summary(table, metric)
    ax = new_axes(ax, figsize=(5, 3.8))
    methods = [m for m in values.columns.get_level_values(0).unique() if m not in (_NONE, _REAL)]
    styles = {
        _REAL: {"color": "black", "ls": "--", "label": "real cells put back (ceiling)"},
        _NONE: {"color": "#9e9e9e", "ls": ":", "label": "no augmentation"},
    }
    for name in [_REAL, *methods, _NONE]:
        if name not in values.columns.get_level_values(0):
            continue
        part = values[name].dropna(subset=["mean"])
        style = styles.get(name, {"label": name})
        (line,) = ax.plot(part.index, part["mean"], marker="o", ms=3, **style)
        ax.fill_between(part.index, part["min"], part["max"], color=line.get_color(), alpha=0.15, lw=0)
    ax.set_xscale("log")
    kept = values.index.to_numpy()
    ax.set_xticks(kept, [str(k) for k in kept])
    ax.minorticks_off()
    ax.set_xlabel("target cells kept for training")
    ax.set_ylabel(metric.replace("_", " "))
    if metric != "memorisation_ratio":
        ax.set_ylim(-0.02, 1.02)
    ax.legend(fontsize=7, frameon=False)
    savefig_or_show("scaug_downsampling", ax.figure, show=show, save=save)
    return ax if show is False else None


def summary(table: pd.DataFrame, metric: str = "f1") -> pd.DataFrame:
    """Mean, minimum and maximum over seeds of ``metric``: rows cells kept, columns (method, statistic).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"seed": [0, 1], "n_kept": 5, "method": "none", "metric": "f1", "value": [0.2, 0.4]})
    >>> summary(t).round(2).to_dict("list")
    {('none', 'mean'): [0.3], ('none', 'min'): [0.2], ('none', 'max'): [0.4]}
    """
    missing = {"seed", "n_kept", "method", "metric", "value"} - set(table.columns)
    if missing:
        raise ScaugInputError(f"not a scaug.bench.downsampling table: columns {sorted(missing)} missing")
    part = table[table["metric"] == metric]
    if part.empty:
        raise ScaugInputError(
            f"metric {metric!r} not in the table; it has {sorted(table['metric'].unique())}"
        )
    stats = part.groupby(["n_kept", "method"], sort=True)["value"].agg(["mean", "min", "max"])
    out = stats.unstack("method")
    out.columns = out.columns.swaplevel(0, 1)
    order = list(dict.fromkeys(part["method"]))
    return out.reindex(columns=pd.MultiIndex.from_product([order, ["mean", "min", "max"]])).astype(np.float64)
