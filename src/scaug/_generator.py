"""What a trained generator provides, whatever the method behind it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, runtime_checkable

import numpy as np
import pandas as pd


@runtime_checkable
class Generator(Protocol):
    """A trained generator, as returned by a registered method's train callable.

    A generator may also have ``sample_chunks(n_per_label, *, random_state=0)``, yielding
    ``(matrix, labels)`` blocks whose rows stacked are :meth:`sample`'s: then
    ``scaug.tl.generate(..., out=path)`` writes each block as it comes, in bounded memory.

    Attributes
    ----------
    method
        Registered method name (``"smote"``, ``"cscgan"``, ...).
    var_names
        Genes of the training data, in order; samples have exactly these columns.
    labels
        Labels the generator can produce.
    counts
        Whether samples are integer counts (else the continuous space it was trained on).
    label_counts
        Training cells per label (index: label), used to spread ``n_cells`` and to balance.
    params
        The parameters the generator was trained with (JSON-serialisable), for provenance.
    history
        Short training history (one row per epoch), or ``None`` when nothing was trained.
    """

    method: str
    var_names: pd.Index
    labels: list[str]
    counts: bool
    label_counts: pd.Series
    params: dict
    history: pd.DataFrame | None

    def sample(self, n_per_label: Mapping[str, int], *, random_state: int = 0) -> tuple[object, np.ndarray]:
        """Draw ``n_per_label[label]`` cells per label.

        Returns a ``(matrix, labels)`` pair: a CSR matrix (or dense array) of shape
        ``(n, len(var_names))`` and the label of each row. A method may return fewer cells for a label
        than asked (e.g. ADASYN when a label has no neighbours of other labels); the labels say which.
        """
        ...
