"""``scaug demo``: augment the rare cell types of scanpy's bundled pbmc68k_reduced, offline."""

from __future__ import annotations

import logging

logger = logging.getLogger("scaug")

DEMO_METHOD = "smote"
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


def run_demo(*, output: str = "scaug_demo.h5ad", method: str | None = None, random_state: int = 0) -> str:
    """Balance the rare labels of pbmc68k_reduced, write the result and return a before/after table."""
    from .cli import _summary
    from .tl import augment

    method = method or DEMO_METHOD
    adata = load_demo_data()
    aug = augment(adata, method, labels_key=DEMO_LABELS, n_cells="balance", random_state=random_state)
    aug.write_h5ad(output)
    lines = [
        f"pbmc68k_reduced: {adata.n_obs} cells x {adata.n_vars} genes (log-normalised), labels {DEMO_LABELS!r}",
        f"method {method!r}, n_cells='balance' (every label up to the median label size)",
        "",
        _summary(aug, DEMO_LABELS, "scaug"),
        "",
        f"wrote {output}",
    ]
    return "\n".join(lines)
