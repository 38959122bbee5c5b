"""``scaug demo``: augment the rare cell types of scanpy's bundled pbmc68k_reduced and report fidelity, offline."""

from __future__ import annotations

import logging

logger = logging.getLogger("scaug")

DEMO_METHOD = "cscgan"
# 1,000 generator steps keep the demo short (700 cells x 765 genes). The log-normalised .raw is
# modelled as its recovered counts (scaug._spaces.recover_counts): modelled as continuous values the
# cells came out twice as dense as the real ones, and smoothed (numbers in the README).
DEMO_TRAIN_KWARGS = {"cscgan": {"max_steps": 1000}, "scgan": {"max_steps": 1000}}
DEMO_LABELS = "bulk_labels"


def load_demo_data():
    """pbmc68k_reduced as shipped inside scanpy: its log-normalised ``.raw`` (700 cells x 765 genes).

    ``.X`` of that object is scaled (negative values), so the demo models ``.raw``.
    """
    import scanpy as sc

    pbmc = sc.datasets.pbmc68k_reduced()
    adata = pbmc.raw.to_adata()
    adata.obs = adata.obs[[DEMO_LABELS]].copy()
    adata.obsm.clear()
    adata.obsp.clear()
    adata.uns.clear()
    return adata


def run_demo(
    *,
    output: str = "scaug_demo.h5ad",
    method: str | None = None,
    random_state: int = 0,
    report: str | None = None,
) -> str:
    """Balance the rare labels of pbmc68k_reduced, report fidelity, write the result; return a summary.

    The fidelity report (dashboard PNG and CSV table, default beside ``output``) compares the
    synthetic cells with half of the real cells, the embedding being fitted on the other half.
    """
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")  # the demo writes files; it needs no display

    from . import pl
    from ._summaries import fidelity_summary, label_table
    from .tl import augment, fidelity

    method = method or DEMO_METHOD
    report = report or str(Path(output).with_suffix("")) + "_fidelity.png"
    adata = load_demo_data()
    aug = augment(
        adata,
        method,
        labels_key=DEMO_LABELS,
        n_cells="balance",
        random_state=random_state,
        train_kwargs=DEMO_TRAIN_KWARGS.get(method),
    )
    table = fidelity(aug, random_state=random_state)
    table.to_csv(Path(report).with_suffix(".csv"), index=False)
    pl.fidelity(aug, show=False, save=str(Path(report).resolve()))
    aug.write_h5ad(output)
    lines = [
        f"pbmc68k_reduced: {adata.n_obs} cells x {adata.n_vars} genes (log-normalised), labels {DEMO_LABELS!r}",
        f"method {method!r}, n_cells='balance' (every label up to the median label size)",
        "",
        label_table(aug, DEMO_LABELS, "scaug"),
        "",
        "fidelity (scaug.tl.fidelity):",
        fidelity_summary(aug.uns["scaug_fidelity"]),
        "",
        f"wrote {output}, {report} and {Path(report).with_suffix('.csv')}",
    ]
    return "\n".join(lines)
