"""What every fidelity plot shares: reading the stored results, colours, and show/save as in scanpy."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._validation import ScaugInputError
from ..tl._mudata import modality

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.figure import Figure
    from mudata import MuData

REAL_COLOUR = "#9e9e9e"
SYNTHETIC_COLOUR = "#e4572e"


def results(adata: AnnData, key: str) -> dict:
    """The ``uns[key]`` entry written by :func:`scaug.tl.fidelity`, checked."""
    entry = adata.uns.get(key) if hasattr(adata, "uns") else None
    if not isinstance(entry, dict) or "table" not in entry:
        raise ScaugInputError(
            f"no fidelity results in adata.uns[{key!r}]; run scaug.tl.fidelity(adata) first"
        )
    return entry


def pick_run(entry: dict, run: str | None) -> str:
    """The run to plot: ``run`` if given (checked), else the first evaluated run."""
    runs = json.loads(entry["params"])["runs"]
    if run is None:
        return runs[0]
    if run not in runs:
        raise ScaugInputError(f"run {run!r} was not evaluated; runs: {runs}")
    return run


def selected_run(
    adata: AnnData | MuData, key: str, run: str | None, mod: str | None = None
) -> tuple[dict, str]:
    """The checked results in ``uns[key]`` (of modality ``mod`` for a MuData) and the run to plot (:func:`pick_run`)."""
    entry = results(modality(adata, mod).data, key)
    return entry, pick_run(entry, run)


def run_table(entry: dict, run: str) -> pd.DataFrame:
    """Metric x label table of one run."""
    table = entry["table"]
    table = table[table["run"].astype(str) == run]
    return table.pivot_table(index="metric", columns="label", values="value", aggfunc="first", dropna=False)


def run_cells(entry: dict, run: str) -> pd.DataFrame:
    """Per-cell plot data of the held-out real cells and the synthetic cells of ``run``."""
    cells = entry["cells"]
    keep = cells["run"].astype(str).isin(["real", run]).to_numpy()
    out = cells[keep].copy()
    out["label"] = out["label"].astype(str)
    return out


def generated_labels(entry: dict, run: str) -> list[str]:
    """Labels of the run's synthetic cells, largest real label first."""
    cells = run_cells(entry, run)
    syn = cells.loc[cells["origin"] == "synthetic", "label"]
    real_sizes = cells.loc[cells["origin"] == "real", "label"].value_counts()
    return sorted(pd.unique(syn), key=lambda lab: (-real_sizes.get(lab, 0), lab))


def label_colours(labels) -> dict[str, str]:
    """Colours of the labels: scanpy's default categorical palette, in label order."""
    from scanpy.plotting.palettes import default_20, default_102

    labels = list(labels)
    palette = default_20 if len(labels) <= 20 else default_102
    return {lab: palette[i % len(palette)] for i, lab in enumerate(labels)}


def new_axes(ax, figsize=(4.5, 4)):
    """``ax`` or a new figure's single axes."""
    import matplotlib.pyplot as plt

    if ax is not None:
        return ax
    return plt.subplots(figsize=figsize)[1]


def savefig_or_show(writekey: str, fig: Figure, *, show: bool | None, save: bool | str | None) -> None:
    """Save and/or show a figure with scanpy's conventions.

    ``save=True`` writes ``{sc.settings.figdir}/{writekey}.png``; a string is appended to the name
    (``save="_run1.pdf"`` → ``scaug_fidelity_run1.pdf``) unless it is a path with a directory.
    """
    import matplotlib.pyplot as plt
    import scanpy as sc

    show = sc.settings.autoshow if show is None else show
    save = sc.settings.autosave if save is None else save
    if save:
        path = Path(save) if isinstance(save, str) and Path(save).parent != Path() else None
        if path is None:
            suffix = save if isinstance(save, str) else ""
            ext = next((e for e in (".png", ".pdf", ".svg") if suffix.endswith(e)), None)
            suffix = suffix[: -len(ext)] if ext else suffix
            path = Path(sc.settings.figdir) / f"{writekey}{suffix}{ext or '.' + sc.settings.file_format_figs}"
        path.parent.mkdir(parents=True, exist_ok=True)
        # scanpy's set_figure_params(dpi_save=...) sets rcParams["savefig.dpi"]; below 150 is too coarse
        dpi = plt.rcParams["savefig.dpi"]
        dpi = 150 if isinstance(dpi, str) or dpi < 150 else dpi
        fig.savefig(path, dpi=dpi, bbox_inches="tight")
    if show:
        plt.show()
    if save and not show:
        plt.close(fig)


def finite(values) -> np.ndarray:
    """The finite values of an array."""
    values = np.asarray(values, dtype=float)
    return values[np.isfinite(values)]
