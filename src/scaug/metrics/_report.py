"""All fidelity metrics of one synthetic set against real training and held-out real cells."""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse
from tqdm.auto import tqdm

from .._spaces import get_matrix
from .._validation import ScaugInputError, check_adata, check_labels
from ._classifier import classifier_auc
from ._correlation import correlation_table, marker_genes
from ._embedding import EvaluationEmbedding, fit_embedding, log_normalise
from ._label_fidelity import label_fidelity
from ._layout import joint_umap
from ._marginals import cell_qc, marginals
from ._memorisation import memorisation
from ._mmd import mmd
from ._prdc import prdc
from ._rem import rem
from ._utils import ALL, concat
from ._warnings import fidelity_warnings

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("scaug")

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

# Cells per set at most for the metrics whose cost grows faster than linearly.
MAX_CELLS = {"classifier_auc": 1500, "mmd": 1000, "wasserstein": 5000, "prdc": 5000}
MAX_CELLS_PER_LABEL = 2000  # cells per label and set at most for k-NN searches against all training cells
MAX_PLOT_CELLS = 1000  # per set, for the dashboard (rare labels kept whole)


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


@dataclass
class ComparisonSets:
    """The three cell sets of a comparison, projected into the evaluation embedding.

    ``ri`` and ``si`` index the held-out real and synthetic cells used for overall values: the
    generated labels only, with the same number of cells per label on both sides (augmentation
    generates mostly rare labels, and a different label mix alone would make the sets differ).
    """

    train: AnnData
    reference: AnnData
    synthetic: AnnData
    embedding: EvaluationEmbedding
    labels: list[str]
    y_train: np.ndarray
    y_ref: np.ndarray
    y_syn: np.ndarray
    z_train: np.ndarray
    z_ref: np.ndarray
    z_syn: np.ndarray
    rem_ref: np.ndarray
    rem_syn: np.ndarray
    ri: np.ndarray
    si: np.ndarray
    seconds: dict[str, float]

    def matrix(self, which: str):
        """The expression matrix (counts or log-normalised) of ``"train"``, ``"reference"`` or ``"synthetic"``."""
        return get_matrix(getattr(self, which), self.embedding.layer)

    def per_label(self) -> dict:
        """Keyword arguments of the per-label call of a metric (all cells, overall value left out)."""
        return {"real_labels": self.y_ref, "synthetic_labels": self.y_syn, "overall": False}

    def notes(self, metrics: list[str]) -> list[str]:
        """How the overall values were computed, in words."""
        out = []
        if len(self.si) < len(self.y_syn) or len(self.ri) < len(self.y_ref):
            out.append(
                f"overall values compare {len(self.ri)} held-out real and {len(self.si)} synthetic cells: the "
                "same number of each generated label on both sides (so that the label mix does not count as a "
                "difference)"
            )
        return out + _subsampling_notes(metrics, len(self.ri), len(self.si))


def comparison_sets(
    train: AnnData,
    reference: AnnData,
    synthetic: AnnData,
    *,
    labels_key: str,
    synthetic_labels_key: str | None,
    labels: Sequence[str] | None,
    embedding: EvaluationEmbedding,
    random_state: int,
) -> ComparisonSets:
    """Check the three sets, keep labelled cells, project them and match their label mix."""
    for name, obj in (("train", train), ("reference", reference), ("synthetic", synthetic)):
        check_adata(obj, what=name)
    train = _aligned(train, synthetic.var_names, "train")
    reference = _aligned(reference, synthetic.var_names, "reference")
    train, y_train = _labelled(train, _labels(train, labels_key, "train"))
    reference, y_ref = _labelled(reference, _labels(reference, labels_key, "reference"))
    y_syn = _labels(synthetic, synthetic_labels_key or labels_key, "synthetic")
    labels = [str(lab) for lab in (pd.unique(y_train) if labels is None else labels)]
    clock = time.perf_counter()
    scaled_ref, scaled_syn = embedding.scaled(reference), embedding.scaled(synthetic)
    z_train = embedding.transform(train)
    z_ref, z_syn = embedding.project(scaled_ref), embedding.project(scaled_syn)
    rem_ref, rem_syn = embedding.reconstruction_error(scaled_ref), embedding.reconstruction_error(scaled_syn)
    seconds = {"projection": time.perf_counter() - clock}
    ri, si = matched_composition(y_ref, y_syn, labels, np.random.default_rng(random_state))
    return ComparisonSets(
        train,
        reference,
        synthetic,
        embedding,
        labels,
        y_train,
        y_ref,
        y_syn.astype(str),
        z_train,
        z_ref,
        z_syn,
        rem_ref,
        rem_syn,
        ri,
        si,
        seconds,
    )


# -- one function per metric: (sets, seed) -> (tables, extras) -------------------------------


def _classifier_auc(s: ComparisonSets, seed: int):
    cap = MAX_CELLS["classifier_auc"]
    overall = classifier_auc(s.z_ref[s.ri], s.z_syn[s.si], max_cells=cap, random_state=seed)
    return [overall, classifier_auc(s.z_ref, s.z_syn, **s.per_label(), max_cells=cap, random_state=seed)], {}


def _mmd(s: ComparisonSets, seed: int):
    return [mmd(s.z_ref[s.ri], s.z_syn[s.si], max_cells=MAX_CELLS["mmd"], random_state=seed)], {}


def _wasserstein(s: ComparisonSets, seed: int):
    from ._wasserstein import wasserstein

    return [
        wasserstein(s.z_ref[s.ri], s.z_syn[s.si], max_cells=MAX_CELLS["wasserstein"], random_state=seed)
    ], {}


def _prdc(s: ComparisonSets, seed: int):
    cap = MAX_CELLS["prdc"]
    overall = prdc(s.z_ref[s.ri], s.z_syn[s.si], max_cells=cap, random_state=seed)
    per_label = prdc(s.z_ref, s.z_syn, **s.per_label(), labels=s.labels, max_cells=cap, random_state=seed)
    return [overall, per_label], {}


def _rem(s: ComparisonSets, seed: int):
    per_label = rem(s.rem_ref, s.rem_syn, reference_labels=s.y_ref, synthetic_labels=s.y_syn, overall=False)
    return [rem(s.rem_ref[s.ri], s.rem_syn[s.si]), per_label], {}


def _label_fidelity(s: ComparisonSets, seed: int):
    table = label_fidelity(
        s.z_train,
        s.y_train,
        s.z_syn,
        s.y_syn,
        reference=s.z_ref,
        reference_labels=s.y_ref,
        max_cells_per_label=MAX_CELLS_PER_LABEL,
        random_state=seed,
    )
    return [table], {}


def _memorisation(s: ComparisonSets, seed: int):
    common = {"max_cells_per_label": MAX_CELLS_PER_LABEL, "random_state": seed}
    # labels passed only to cap large labels alike on both (matched) sides
    matched = memorisation(
        s.z_train,
        s.z_syn[s.si],
        s.z_ref[s.ri],
        synthetic_labels=s.y_syn[s.si],
        reference_labels=s.y_ref[s.ri],
        **common,
    )
    per_label = memorisation(
        s.z_train,
        s.z_syn,
        s.z_ref,
        synthetic_labels=s.y_syn,
        reference_labels=s.y_ref,
        overall=False,
        **common,
    )
    return [matched[matched["label"] == ALL], per_label], {}


def _marginals(s: ComparisonSets, seed: int):
    x_ref, x_syn, counts = s.matrix("reference"), s.matrix("synthetic"), s.embedding.counts
    overall = marginals(x_ref[s.ri], x_syn[s.si], counts=counts)
    per_label = marginals(
        x_ref, x_syn, counts=counts, reference_labels=s.y_ref, synthetic_labels=s.y_syn, overall=False
    )
    return [overall, per_label], {}


def _correlation(s: ComparisonSets, seed: int):
    counts = s.embedding.counts
    markers = marker_genes(
        s.matrix("train"), s.y_train, s.train.var_names, counts=counts, labels_of_interest=s.labels
    )
    # normalise with every gene (library sizes), then keep the markers; the same label mix on every side
    table, correlations = correlation_table(
        _markers_log(s.matrix("reference"), s.reference.var_names, markers, counts)[s.ri],
        _markers_log(s.matrix("synthetic"), s.synthetic.var_names, markers, counts)[s.si],
        control=_markers_log(s.matrix("train"), s.train.var_names, markers, counts)[
            np.isin(s.y_train, s.labels)
        ],
    )
    return [table], {"markers": markers, "correlations": correlations}


STEPS = {
    "classifier_auc": _classifier_auc,
    "mmd": _mmd,
    "wasserstein": _wasserstein,
    "prdc": _prdc,
    "rem": _rem,
    "correlation": _correlation,
    "label_fidelity": _label_fidelity,
    "memorisation": _memorisation,
    "marginals": _marginals,
}


def _check_metrics(metrics: Sequence[str] | None) -> list[str]:
    if metrics is None:
        return list(METRICS)
    if isinstance(metrics, str):
        metrics = [metrics]
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ScaugInputError(f"unknown metrics {unknown}; choose from {list(METRICS)}")
    return list(dict.fromkeys(metrics))


def _aligned(adata: AnnData, var_names: pd.Index, what: str) -> AnnData:
    """``adata`` with the genes of the synthetic cells, in their order (a view if they differ)."""
    if adata.var_names.equals(var_names):
        return adata
    missing = var_names.difference(adata.var_names)
    if len(missing):
        raise ScaugInputError(
            f"{what} lacks {len(missing)} genes of the synthetic cells (e.g. {list(missing[:3])}); "
            "real and synthetic cells need the same var_names"
        )
    return adata[:, var_names]


def _labels(adata: AnnData, key: str, what: str) -> np.ndarray:
    try:
        labels = check_labels(adata, key)
    except ScaugInputError as err:
        raise ScaugInputError(f"{what}: {err}") from None
    return labels.astype(object).to_numpy()


def _labelled(adata: AnnData, labels: np.ndarray) -> tuple[AnnData, np.ndarray]:
    """Drop cells without a label (they belong to no per-label comparison)."""
    keep = pd.notna(labels)
    if keep.all():
        return adata, labels.astype(str)
    return adata[keep], labels[keep].astype(str)


def _markers_log(matrix, var_names: pd.Index, markers: pd.Index, counts: bool) -> np.ndarray:
    expr = log_normalise(matrix, counts=counts)[:, var_names.get_indexer(markers)]
    return expr.toarray() if sparse.issparse(expr) else np.asarray(expr)


def matched_composition(
    y_ref: np.ndarray, y_syn: np.ndarray, labels: Sequence[str], rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Held-out real and synthetic cells with the same label mix, for overall values.

    For each generated label present on both sides, the larger side is subsampled (without
    replacement) to the size of the smaller one. Falls back to all cells when no label is shared.
    """
    shared = [lab for lab in labels if (y_ref == lab).any() and (y_syn == lab).any()]
    if not shared:
        return np.arange(len(y_ref)), np.arange(len(y_syn))
    ri, si = [], []
    for lab in shared:
        idx_ref, idx_syn = np.flatnonzero(y_ref == lab), np.flatnonzero(y_syn == lab)
        n = min(len(idx_ref), len(idx_syn))
        ri.append(idx_ref if n == len(idx_ref) else rng.choice(idx_ref, size=n, replace=False))
        si.append(idx_syn if n == len(idx_syn) else rng.choice(idx_syn, size=n, replace=False))
    return np.sort(np.concatenate(ri)), np.sort(np.concatenate(si))


def plot_subsample(labels: np.ndarray, max_cells: int, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of about ``max_cells`` cells, every label kept in proportion but at least 100 cells."""
    if len(labels) <= max_cells:
        return np.arange(len(labels))
    keep = []
    for label in pd.unique(labels):
        idx = np.flatnonzero(labels == label)
        n = min(len(idx), max(100, round(max_cells * len(idx) / len(labels))))
        keep.append(rng.choice(idx, size=n, replace=False))
    return np.sort(np.concatenate(keep))


def plot_cells(sets: ComparisonSets, keep_ref: np.ndarray, keep_syn: np.ndarray) -> pd.DataFrame:
    """Per-cell data of the dashboard for the chosen held-out real and synthetic cells."""
    lib_ref, zeros_ref = cell_qc(sets.matrix("reference")[keep_ref])
    lib_syn, zeros_syn = cell_qc(sets.matrix("synthetic")[keep_syn])
    return pd.DataFrame(
        {
            "origin": pd.Categorical(
                ["real"] * len(keep_ref) + ["synthetic"] * len(keep_syn), categories=["real", "synthetic"]
            ),
            "label": np.concatenate([sets.y_ref[keep_ref], sets.y_syn[keep_syn]]).astype(str),
            "rem": np.concatenate([sets.rem_ref[keep_ref], sets.rem_syn[keep_syn]]),
            "library_size": np.concatenate([lib_ref, lib_syn]),
            "sparsity": np.concatenate([zeros_ref, zeros_syn]),
        }
    )


def _subsampling_notes(metrics: list[str], n_ref: int, n_syn: int) -> list[str]:
    notes = []
    what = {
        "classifier_auc": "classifier AUC (random forest)",
        "mmd": "MMD (quadratic in cells; the real cells are split into two halves for the control)",
        "wasserstein": "Wasserstein (exact transport on ≤ 1000 cells per set, sliced beyond)",
        "prdc": "precision/recall/density/coverage",
    }
    for metric, cap in MAX_CELLS.items():
        n_real = n_ref // 2 if metric in ("mmd", "wasserstein") else n_ref
        if metric in metrics and max(n_real, n_syn) > cap:
            notes.append(f"{what[metric]}: computed on a random subsample of ≤ {cap} cells per set")
    return notes
