"""One function per fidelity metric: (comparison sets, seed) -> (tidy tables, extras for the report)."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import sparse

from .._spaces import log_normalise
from ._classifier import classifier_auc
from ._correlation import correlation_table, marker_genes
from ._label_fidelity import label_fidelity
from ._marginals import marginals
from ._memorisation import memorisation
from ._mmd import mmd
from ._prdc import prdc
from ._rem import rem
from ._sets import MAX_CELLS, MAX_CELLS_PER_LABEL, ComparisonSets
from ._utils import ALL


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


def _markers_log(matrix, var_names: pd.Index, markers: pd.Index, counts: bool) -> np.ndarray:
    expr = log_normalise(matrix, counts=counts)[:, var_names.get_indexer(markers)]
    return expr.toarray() if sparse.issparse(expr) else np.asarray(expr)
