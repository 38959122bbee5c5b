from __future__ import annotations

import json
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _provenance
from .._validation import ScaugInputError, check_adata, check_labels
from ._mudata import is_mudata, modality

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

logger = logging.getLogger("scaug")

NO_REFERENCE_NOTE = (
    "no held-out reference was given: the real cells were split in half (stratified by label); the "
    "evaluation embedding and classifiers were fitted on one half and the synthetic cells compared with "
    "the other. The generator was trained on both halves, so these numbers are optimistic (memorisation "
    "above all): pass reference= with real cells the generator never saw for an honest report"
)


def fidelity(
    adata: AnnData | MuData,
    *,
    key: str = "scaug",
    reference: AnnData | MuData | None = None,
    metrics: Sequence[str] | None = None,
    n_pcs: int = 50,
    random_state: int = 0,
    key_added: str = "scaug_fidelity",
    run: str | Sequence[str] | None = None,
    labels_key: str | None = None,
    layer: str | None = None,
    mod: str | None = None,
) -> pd.DataFrame:
    """How realistic the synthetic cells of an augmented AnnData are, overall and per label.

    Every metric of :func:`scaug.metrics.compare` is computed for each generation run in ``adata``
    (``obs[f"{key}_run"]``), in one evaluation embedding fitted on real cells only. Both sides of
    each comparison are out-of-sample: synthetic cells are compared with held-out real cells, never
    with the cells the embedding was fitted on.

    The honest setting is to pass ``reference``: real cells of the same kind that the generator
    never saw (split them off before :func:`~scaug.tl.augment`). Without it, the real cells of
    ``adata`` are split in half (one half fits the embedding, the other is compared), and the
    generator has seen both halves, which flatters memorisation and fidelity; the output says so.

    Warnings in plain words (logged and stored) name labels that look dropped (synthetic cells cover
    no real cells of the label), collapsed (synthetic cells far less varied than real ones) or
    memorised (synthetic cells much closer to training cells than new real cells are).

    Parameters
    ----------
    adata
        An augmented AnnData (from :func:`~scaug.tl.augment`): real cells plus synthetic cells marked in
        ``obs[f"{key}_synthetic"]``. Or an augmented MuData, with ``mod`` naming the augmented modality.
    key
        Provenance key of the augmentation.
    reference
        Held-out real cells (same genes, same expression slot, labels in the same column); a MuData
        reference gives its modality ``mod``.
    metrics
        Metrics to compute (default: all of :data:`scaug.metrics.METRICS`; ``"umap"`` is the
        dashboard's joint 2-D map, the slowest step).
    n_pcs
        Principal components of the evaluation embedding.
    random_state
        Seed of every random choice; the same seed gives the same table.
    key_added
        ``adata.uns[key_added]`` receives the results (h5ad-safe): ``"table"``, ``"warnings"``,
        ``"notes"``, ``"cells"`` (per-cell plot data), ``"correlation"``, ``"seconds"`` (time per
        step) and ``"params"``. For a MuData: ``mdata[mod].uns[key_added]``, where the plots read
        it (``scaug.pl.fidelity(mdata, mod=mod)``, ``scaug.pl.fidelity_umap(mdata, mod=mod)``, ...).
    run
        Run id(s) to evaluate (default: every run).
    labels_key, layer
        Label column and expression slot; default: those recorded for the run.
    mod
        With a MuData (required then; an error with an AnnData): the augmented modality, e.g. ``"rna"``.

    Returns
    -------
    Tidy table with columns ``run``, ``metric``, ``label``, ``value`` (label ``"all"``: overall).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(900, 200, 3, imbalance=0.2, random_state=0)
    >>> train, heldout = adata[:600].copy(), adata[600:].copy()
    >>> aug = scaug.tl.augment(train, "smote", labels_key="cell_type")
    >>> table = scaug.tl.fidelity(aug, reference=heldout, metrics=["classifier_auc", "prdc"])
    >>> "scaug_fidelity" in aug.uns
    True

    A MuData: the results go into the augmented modality's ``.uns``.

    >>> import mudata as md
    >>> aug = scaug.tl.augment(md.MuData({"rna": train}), "smote", labels_key="cell_type", mod="rna")
    >>> _ = scaug.tl.fidelity(aug, reference=md.MuData({"rna": heldout}), metrics=["mmd"], mod="rna")
    >>> "scaug_fidelity" in aug["rna"].uns
    True
    """
    from ..metrics import METRICS, fit_embedding, joint_umap
    from ..metrics._report import compare

    # Results go into mdata[mod].uns: the runs they evaluate are recorded there, and scaug.pl reads them there.
    adata = modality(adata, mod).data
    if is_mudata(reference):  # an AnnData reference is taken as it is
        reference = modality(reference, mod, what="reference").data

    check_adata(adata)
    synthetic_mask = ~_provenance.real_mask(adata, key)
    if not synthetic_mask.any():
        raise ScaugInputError(
            f"adata has no synthetic cells (obs[{_provenance.columns(key)[0]!r}]); run scaug.tl.augment first"
        )
    run_ids = select_runs(adata, key, run, synthetic_mask)
    records = (adata.uns.get(key, {}) or {}).get("runs", {}) or {}
    labels_key = labels_key or _recorded(records, run_ids, "labels_key")
    if layer is None:
        recorded = _recorded(records, run_ids, "layer", required=False)
        layer = None if recorded in (None, "X") else recorded
    if labels_key not in adata.obs:
        raise ScaugInputError(f"labels_key {labels_key!r} is not a column of adata.obs")
    metrics = list(METRICS) if metrics is None else [metrics] if isinstance(metrics, str) else list(metrics)

    real = adata[~synthetic_mask]
    notes = []
    given = reference is not None
    if reference is None:
        train, reference = split_real(real, labels_key, random_state=random_state)
        notes.append(NO_REFERENCE_NOTE)
        logger.warning("fidelity: %s", NO_REFERENCE_NOTE)
    else:
        check_adata(reference, what="reference")
        if labels_key not in reference.obs:
            raise ScaugInputError(f"reference has no obs column {labels_key!r} with the labels")
        train = real
    train = train[check_labels(train, labels_key).notna().to_numpy()]
    clock = time.perf_counter()
    embedding = fit_embedding(train, layer=layer, n_pcs=n_pcs, random_state=random_state)
    seconds = [("all", "embedding", time.perf_counter() - clock)]

    tables, warnings, cells, coords, correlation = [], [], [], [], {}
    for i, run_id in enumerate(run_ids):
        synthetic = adata[
            synthetic_mask & (adata.obs[_provenance.columns(key)[2]].astype(str) == run_id).to_numpy()
        ]
        logger.info("fidelity of run %s (%d synthetic cells)", run_id, synthetic.n_obs)
        res = compare(
            train,
            reference,
            synthetic,
            labels_key=labels_key,
            layer=layer,
            metrics=[m for m in metrics if m != "umap"],
            labels=requested_labels(records.get(run_id), synthetic.obs[labels_key]),
            embedding=embedding,
            random_state=random_state,
        )
        tables.append(res.table.assign(run=run_id))
        seconds += [(run_id, step, sec) for step, sec in res.seconds.items()]
        warnings.append(res.warnings.assign(run=run_id))
        notes += [n for n in res.notes if n not in notes]
        is_real = (res.cells["origin"] == "real").to_numpy()
        if i == 0:  # the held-out real cells (and their subsample) are the same for every run
            cells.append(res.cells[is_real].assign(run="real"))
            coords.append(res.coords[is_real])
        cells.append(res.cells[~is_real].assign(run=run_id))
        coords.append(res.coords[~is_real])
        if res.markers is not None:
            correlation[run_id] = {
                "genes": np.asarray(res.markers, dtype=str),
                "real": res.correlations["real"],
                "synthetic": res.correlations["synthetic"],
            }

    cells = pd.concat(cells, ignore_index=True)
    if "umap" in metrics:
        clock = time.perf_counter()
        xy = joint_umap(np.vstack(coords), random_state=random_state)
        cells["umap1"], cells["umap2"] = xy[:, 0], xy[:, 1]
        seconds.append(("all", "umap", time.perf_counter() - clock))
    cells["run"] = pd.Categorical(cells["run"], categories=["real", *run_ids])
    cells["label"] = cells["label"].astype("category")
    table = pd.concat(tables, ignore_index=True)[["run", "metric", "label", "value"]]
    warnings = pd.concat(warnings, ignore_index=True)[["run", "label", "kind", "message"]]
    adata.uns[key_added] = {
        "table": table,
        "warnings": warnings.astype(str),
        "notes": np.asarray(notes or ["-"], dtype=str),
        "cells": cells,
        "correlation": correlation,
        "seconds": pd.DataFrame(seconds, columns=["run", "step", "seconds"]),
        "params": json.dumps(
            {
                "key": key,
                "runs": run_ids,
                "labels_key": labels_key,
                "layer": "X" if layer is None else layer,
                "reference": "given" if given else "split",
                "metrics": metrics,
                "n_pcs": embedding.n_pcs,
                "n_genes": len(embedding.genes),
                "random_state": random_state,
            }
        ),
    }
    return table


def select_runs(
    adata: AnnData, key: str, run: str | Sequence[str] | None, synthetic_mask: np.ndarray
) -> list[str]:
    """Run ids of the synthetic cells, or the requested ones (checked)."""
    run_col = _provenance.columns(key)[2]
    if run_col not in adata.obs:
        raise ScaugInputError(f"adata has no obs[{run_col!r}] provenance column; run scaug.tl.augment first")
    present = list(pd.unique(adata.obs[run_col].astype(str).to_numpy()[synthetic_mask]))
    if run is None:
        return present
    wanted = [run] if isinstance(run, str) else list(run)
    unknown = [r for r in wanted if r not in present]
    if unknown:
        raise ScaugInputError(f"run {unknown} has no synthetic cells in adata; runs: {present}")
    return wanted


def _recorded(records: dict, run_ids: list[str], field: str, *, required: bool = True):
    values = {records[r][field] for r in run_ids if r in records and field in records[r]}
    if len(values) > 1:
        raise ScaugInputError(
            f"the runs {run_ids} were made with different {field}s {sorted(values)}; pass run="
        )
    if values:
        return values.pop()
    if required:
        raise ScaugInputError(f"no {field} is recorded for runs {run_ids}; pass {field}=")
    return None


def requested_labels(record: dict | None, synthetic_labels: pd.Series) -> list[str]:
    """Labels the run was asked to generate (from its provenance), else those it did generate."""
    counts = None if record is None else record.get("counts")
    if isinstance(counts, pd.DataFrame) and {"label", "n_requested"} <= set(counts.columns):
        return [str(lab) for lab in counts.loc[counts["n_requested"] > 0, "label"]]
    return [str(lab) for lab in pd.unique(synthetic_labels.dropna().astype(str))]


def split_real(real: AnnData, labels_key: str, *, random_state: int) -> tuple[AnnData, AnnData]:
    """Split labelled real cells in two halves, stratified by label (views)."""
    checked = check_labels(real, labels_key)
    labels = checked.astype(str).to_numpy()
    labelled = checked.notna().to_numpy()
    rng = np.random.default_rng(random_state)
    in_train = np.zeros(real.n_obs, dtype=bool)
    for label in pd.unique(labels[labelled]):
        idx = rng.permutation(np.flatnonzero(labelled & (labels == label)))
        in_train[idx[: (len(idx) + 1) // 2]] = True
    return real[in_train], real[labelled & ~in_train]
