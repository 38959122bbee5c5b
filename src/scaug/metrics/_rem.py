"""REM: distributions of PCA reconstruction error, synthetic against real, per label (Alsamadi et al.)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ALL, as_labels, concat, rows

MIN_CELLS = 3


def rem(
    reference_error: np.ndarray,
    synthetic_error: np.ndarray,
    *,
    reference_labels=None,
    synthetic_labels=None,
    overall: bool = True,
) -> pd.DataFrame:
    """Compare per-cell PCA reconstruction errors of synthetic and held-out real cells.

    A cell's reconstruction error (see :meth:`EvaluationEmbedding.reconstruction_error`) is what the
    real cells' principal components cannot explain of it: the cell-specific variation. Synthetic
    cells that lack it (smoothed, averaged or collapsed cells) have errors far below real ones.

    Parameters
    ----------
    reference_error, synthetic_error
        Per-cell reconstruction errors of held-out real and synthetic cells.
    reference_labels, synthetic_labels
        Labels, for per-label values (label ``"all"``: every cell).
    overall
        Whether to compute the overall (label ``"all"``) value.

    Returns
    -------
    Tidy table: ``"rem_ks"`` (two-sample Kolmogorov–Smirnov statistic, 0 ideal), ``"rem_shift"``
    (median synthetic error relative to the median real error, minus 1: 0 ideal, −1 when synthetic
    cells have no cell-specific variation) and ``"rem_spread"`` (interquartile range of synthetic
    errors over that of real errors: 1 ideal, ≪ 1 when synthetic cells are all alike).

    Examples
    --------
    >>> import numpy as np, scaug
    >>> rng = np.random.default_rng(0)
    >>> t = scaug.metrics.rem(rng.gamma(2, size=500), np.full(100, 0.1))
    >>> bool(t.set_index("metric")["value"]["rem_spread"] < 0.1)
    True
    """
    reference_labels = as_labels(reference_labels, len(reference_error))
    synthetic_labels = as_labels(synthetic_labels, len(synthetic_error))
    values = {"rem_ks": {}, "rem_shift": {}, "rem_spread": {}}
    groups = {ALL: (reference_error, synthetic_error)} if overall else {}
    if reference_labels is not None and synthetic_labels is not None:
        for label in pd.unique(synthetic_labels):
            groups[label] = (
                reference_error[reference_labels == label],
                synthetic_error[synthetic_labels == label],
            )
    for label, (r, s) in groups.items():
        for metric, value in compare_errors(r, s).items():
            values[metric][label] = value
    return concat([rows(m, v) for m, v in values.items()])


def compare_errors(real: np.ndarray, synthetic: np.ndarray) -> dict[str, float]:
    """KS statistic, relative median shift and spread ratio of two error samples."""
    from scipy.stats import ks_2samp

    if min(len(real), len(synthetic)) < MIN_CELLS:
        return {"rem_ks": np.nan, "rem_shift": np.nan, "rem_spread": np.nan}
    q_real = np.percentile(real, [25, 50, 75])
    q_syn = np.percentile(synthetic, [25, 50, 75])
    iqr_real = q_real[2] - q_real[0]
    return {
        "rem_ks": float(ks_2samp(real, synthetic).statistic),
        "rem_shift": float(q_syn[1] / q_real[1] - 1) if q_real[1] > 0 else np.nan,
        "rem_spread": float((q_syn[2] - q_syn[0]) / iqr_real) if iqr_real > 0 else np.nan,
    }
