"""Memorisation: are synthetic cells closer to the training cells than new real cells are?"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ALL, as_labels, concat, per_label_subsample, rows

MIN_CELLS = 3


def memorisation(
    train: np.ndarray,
    synthetic: np.ndarray,
    reference: np.ndarray,
    *,
    synthetic_labels=None,
    reference_labels=None,
    overall: bool = True,
    max_cells_per_label: int | None = 2000,
    random_state: int = 0,
) -> pd.DataFrame:
    """Median distance to the closest training cell, synthetic over held-out real cells.

    Held-out real cells are new draws from the same biology as the training cells; a generator that
    learnt that biology produces cells about as far from the training cells (ratio ≈ 1). A ratio
    ≪ 1 means synthetic cells sit on top of training cells: the generator copies them, which defeats
    augmentation and leaks the training data.

    Parameters
    ----------
    train
        The real cells the generator was trained on (x features).
    synthetic
        Synthetic cells.
    reference
        Held-out real cells (never seen by the generator).
    synthetic_labels, reference_labels
        Labels, for per-label ratios: each label's synthetic cells against the same label's
        held-out cells, or against all held-out cells when the label has fewer than 3 (few-shot
        labels).
    overall
        Whether to compute the overall (label ``"all"``) value.
    max_cells_per_label
        Synthetic and held-out cells measured at most per label (random subsample; the
        neighbour search costs training cells x measured cells).
    random_state
        Seed of the subsampling.

    Returns
    -------
    Tidy table: ``"memorisation_ratio"`` (overall and per label) and ``"copy_fraction"``: share of
    synthetic cells closer to a training cell than 99 % of held-out real cells are (≈ 0.01 ideal).

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> train = rng.normal(size=(300, 5))
    >>> copies = train[:100] + rng.normal(0, 0.01, (100, 5))
    >>> t = scaug.metrics.memorisation(train, copies, rng.normal(size=(100, 5)))
    >>> bool(t.set_index("metric")["value"]["memorisation_ratio"] < 0.1)
    True
    """
    from sklearn.neighbors import NearestNeighbors

    synthetic_labels = as_labels(synthetic_labels, len(synthetic))
    reference_labels = as_labels(reference_labels, len(reference))
    rng = np.random.default_rng(random_state)
    keep_syn = per_label_subsample(synthetic_labels, len(synthetic), max_cells_per_label, rng)
    keep_ref = per_label_subsample(reference_labels, len(reference), max_cells_per_label, rng)
    synthetic, reference = synthetic[keep_syn], reference[keep_ref]
    synthetic_labels = None if synthetic_labels is None else synthetic_labels[keep_syn]
    reference_labels = None if reference_labels is None else reference_labels[keep_ref]
    nn = NearestNeighbors(n_neighbors=1).fit(train)
    d_syn = nn.kneighbors(synthetic)[0][:, 0]
    d_ref = nn.kneighbors(reference)[0][:, 0]
    ratio, copies = {}, {}
    if overall:
        ratio[ALL] = _ratio(d_syn, d_ref)
        copies[ALL] = float((d_syn < np.percentile(d_ref, 1)).mean()) if len(d_ref) and len(d_syn) else np.nan
    if synthetic_labels is not None and reference_labels is not None:
        for label in pd.unique(synthetic_labels):
            same = reference_labels == label
            # A few-shot label rarely has held-out cells of its own: then compare with all held-out
            # cells, which sit closer to the training cells than new cells of a rare label would,
            # so copies are still caught (the ratio errs low, towards the warning).
            ref = d_ref[same] if same.sum() >= MIN_CELLS else d_ref
            ratio[label] = _ratio(d_syn[synthetic_labels == label], ref)
    return concat([rows("memorisation_ratio", ratio), rows("copy_fraction", copies)])


def _ratio(d_syn: np.ndarray, d_ref: np.ndarray) -> float:
    if min(len(d_syn), len(d_ref)) < MIN_CELLS:
        return np.nan
    ref = np.median(d_ref)
    return float(np.median(d_syn) / ref) if ref > 0 else np.nan
