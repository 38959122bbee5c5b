"""Small helpers shared by the metrics: tidy rows, subsampling, label masks."""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from .._validation import ScaugInputError

ALL = "all"  # the label of overall (not per-label) values
COLUMNS = ["metric", "label", "value"]


def rows(metric: str, values: dict[str, float]) -> pd.DataFrame:
    """A tidy table ``(metric, label, value)`` from ``{label: value}``."""
    return pd.DataFrame(
        {
            "metric": metric,
            "label": list(values),
            "value": np.asarray(list(values.values()), dtype=np.float64),
        },
        columns=COLUMNS,
    )


def concat(tables: Iterable[pd.DataFrame]) -> pd.DataFrame:
    """Concatenate tidy tables (an empty table with the right columns when there are none)."""
    tables = [t for t in tables if len(t)]
    if not tables:
        return pd.DataFrame({c: pd.Series(dtype=float if c == "value" else object) for c in COLUMNS})
    return pd.concat(tables, ignore_index=True)


def subsample(n: int, max_n: int | None, rng: np.random.Generator) -> np.ndarray:
    """Sorted indices of at most ``max_n`` of ``n`` items, chosen at random (all when ``max_n`` is None)."""
    if max_n is None or n <= max_n:
        return np.arange(n)
    return np.sort(rng.choice(n, size=max_n, replace=False))


def per_label_subsample(
    labels: np.ndarray | None, n: int, max_per_label: int | None, rng: np.random.Generator
) -> np.ndarray:
    """Sorted indices keeping at most ``max_per_label`` cells of each label (all cells of small labels)."""
    if max_per_label is None:
        return np.arange(n)
    if labels is None:
        return subsample(n, max_per_label, rng)
    keep = []
    for label in pd.unique(labels):
        idx = np.flatnonzero(labels == label)
        keep.append(idx[subsample(len(idx), max_per_label, rng)])
    return np.sort(np.concatenate(keep)) if keep else np.arange(0)


def as_labels(labels, n: int) -> np.ndarray | None:
    """Labels as an object array of strings, checked against the number of cells."""
    if labels is None:
        return None
    out = np.asarray(pd.Series(labels).astype(str), dtype=object)
    if len(out) != n:
        raise ScaugInputError(f"got {len(out)} labels for {n} cells")
    return out
