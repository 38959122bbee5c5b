"""The cell sets of a fidelity comparison: checked, labelled, projected, with matched label mix."""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._spaces import get_matrix
from .._validation import ScaugInputError, check_adata, check_labels
from ._embedding import EvaluationEmbedding

if TYPE_CHECKING:
    from anndata import AnnData

# Cells per set at most for the metrics whose cost grows faster than linearly.
MAX_CELLS = {"classifier_auc": 1500, "mmd": 1000, "wasserstein": 5000, "prdc": 5000}
MAX_CELLS_PER_LABEL = 2000  # cells per label and set at most for k-NN searches against all training cells


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
