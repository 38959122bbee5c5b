"""All fidelity metrics of one synthetic set against real training and held-out real cells."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import ScaugInputError
from ._embedding import EvaluationEmbedding, fit_embedding
from ._layout import joint_umap
from ._plot_cells import MAX_PLOT_CELLS, plot_cells, plot_subsample
from ._sets import comparison_sets
from ._steps import STEPS
from ._utils import ALL, concat
from ._warnings import fidelity_warnings

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("scaug")

#: Metric groups :func:`compare` and :func:`scaug.tl.fidelity` compute (``metrics=`` picks among them).
METRICS = (
    "classifier_auc",
    "mmd",
    "wasserstein",
    "prdc",
    "rem",
    "correlation",
    "label_fidelity",
    "memorisation",
    "marginals",
    "umap",
)


@dataclass
class FidelityResult:
    """Fidelity of one synthetic set.

    Attributes
    ----------
    table
        Tidy table (metric, label, value); label ``"all"`` holds overall values.
    warnings
        One row (label, kind, message) per failure the checks found, worst first (:func:`fidelity_warnings`).
    notes
        How the metrics were computed (subsampling, reference), in plain words.
    cells
        Per-cell data for plots, on a subsample of the held-out real and synthetic cells: origin,
        label, ``umap1``/``umap2`` (if computed), REM, library size, sparsity.
    coords
        Evaluation-embedding coordinates of the rows of ``cells``.
    markers
        Marker genes of the correlation heatmap.
    correlations
        Their correlation matrices in real (``"real"``) and synthetic (``"synthetic"``) cells.
    seconds
        Wall-clock seconds of each step (embedding, projection, each metric).
    """

    table: pd.DataFrame
    warnings: pd.DataFrame
    notes: list[str] = field(default_factory=list)
    cells: pd.DataFrame | None = None
    coords: np.ndarray | None = None
    markers: pd.Index | None = None
    correlations: dict[str, np.ndarray] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)


def compare(
    train: AnnData,
    reference: AnnData,
    synthetic: AnnData,
    *,
    labels_key: str,
    synthetic_labels_key: str | None = None,
    layer: str | None = None,
    metrics: Sequence[str] | None = None,
    labels: Sequence[str] | None = None,
    embedding: EvaluationEmbedding | None = None,
    n_pcs: int = 50,
    n_top_genes: int = 2000,
    random_state: int = 0,
) -> FidelityResult:
    """Every fidelity metric of synthetic cells, against real training and held-out real cells.

    The evaluation embedding is fitted on ``train`` only; ``reference`` (held-out real cells the
    generator never saw) and ``synthetic`` are projected into it and compared with each other, so
    both sides of every two-sample metric are out-of-sample.

    Parameters
    ----------
    train
        Real cells the generator was trained on.
    reference
        Held-out real cells (never seen by the generator).
    synthetic
        Synthetic cells, the label each was generated for in ``obs[labels_key]``.
    labels_key
        ``obs`` column with the labels (in all three objects).
    synthetic_labels_key
        Label column of ``synthetic`` if it differs from ``labels_key``.
    layer
        Layer with the expression matrix (counts or log-normalised) in all three objects; default
        ``"counts"`` if present, else ``.X``.
    metrics
        Subset of ``METRICS`` to compute (default: all; ``"umap"`` is the dashboard's 2-D map).
    labels
        Labels meant to be generated (default: every label of ``train``); a label of this list
        without synthetic cells is reported as dropped.
    embedding
        A fitted :func:`fit_embedding` of ``train`` to reuse (e.g. when scoring many synthetic sets).
    n_pcs, n_top_genes
        Size of the evaluation embedding.
    random_state
        Seed of every random choice; the same seed gives the same table.

    Returns
    -------
    A :class:`FidelityResult`; its ``table`` is the tidy (metric, label, value) table.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, random_state=0)
    >>> train, heldout = adata[:600], adata[600:]
    >>> syn = scaug.tl.generate(train, 200, method="smote", labels_key="cell_type")
    >>> res = scaug.metrics.compare(
    ...     train, heldout, syn, labels_key="cell_type", metrics=["classifier_auc", "prdc"]
    ... )
    >>> sorted(res.table["metric"].unique())[:4]
    ['classifier_auc', 'classifier_auc_cells', 'classifier_auc_sd', 'coverage']
    """
    metrics = _check_metrics(metrics)
    seconds, clock = {}, time.perf_counter()
    if embedding is None:
        embedding = fit_embedding(
            train, layer=layer, n_pcs=n_pcs, n_top_genes=n_top_genes, random_state=random_state
        )
        seconds["embedding"] = time.perf_counter() - clock
    sets = comparison_sets(
        train,
        reference,
        synthetic,
        labels_key=labels_key,
        synthetic_labels_key=synthetic_labels_key,
        labels=labels,
        embedding=embedding,
        random_state=random_state,
    )
    draws = np.random.default_rng(random_state).integers(2**31 - 1, size=len(METRICS))
    seeds = {metric: int(seed) for metric, seed in zip(METRICS, draws, strict=True)}
    tables, extras = [], {}
    seconds.update(sets.seconds)
    steps = [m for m in metrics if m != "umap"]
    for metric in tqdm(steps, desc="fidelity", disable=len(sets.y_syn) < 5000, leave=False):
        clock = time.perf_counter()
        step_tables, step_extras = STEPS[metric](sets, seeds[metric])
        tables += step_tables
        extras.update(step_extras)
        seconds[metric] = time.perf_counter() - clock
    table = concat(tables)
    n_reference = pd.Series(sets.y_ref, dtype=object).value_counts().to_dict()
    n_reference[ALL] = len(sets.ri)
    n_synthetic = pd.Series(sets.y_syn, dtype=object).value_counts().to_dict()
    n_synthetic[ALL] = len(sets.si)
    warnings = fidelity_warnings(table, n_synthetic, sets.labels, n_reference)
    for message in warnings["message"]:
        logger.warning("fidelity: %s", message)

    keep_ref = plot_subsample(sets.y_ref, MAX_PLOT_CELLS, np.random.default_rng(seeds["umap"]))
    keep_syn = plot_subsample(sets.y_syn, MAX_PLOT_CELLS, np.random.default_rng(seeds["umap"] + 1))
    cells = plot_cells(sets, keep_ref, keep_syn)
    coords = np.vstack([sets.z_ref[keep_ref], sets.z_syn[keep_syn]])
    if "umap" in metrics:
        clock = time.perf_counter()
        xy = joint_umap(coords, random_state=random_state)
        cells["umap1"], cells["umap2"] = xy[:, 0], xy[:, 1]
        seconds["umap"] = time.perf_counter() - clock
    return FidelityResult(
        table,
        warnings,
        notes=sets.notes(metrics),
        cells=cells,
        coords=coords,
        markers=extras.get("markers"),
        correlations=extras.get("correlations", {}),
        seconds=seconds,
    )


def _check_metrics(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ScaugInputError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    return list(dict.fromkeys(metrics))
