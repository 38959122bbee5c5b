"""Input checks shared by every entry point: one clear error, and the input is never touched."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from scipy import sparse

from ._blocks import on_disk, row_blocks

if TYPE_CHECKING:
    from anndata import AnnData


class ScaugInputError(ValueError):
    """Bad input to a scaug function; the message is one line naming the problem."""


def check_adata(adata: AnnData, *, what: str = "adata", allow_backed: bool = False) -> None:
    """Refuse AnnData objects scaug cannot work on (not AnnData, backed unless allowed, empty, duplicate names)."""
    from anndata import AnnData

    if not isinstance(adata, AnnData):
        raise ScaugInputError(f"{what} must be an AnnData, got {type(adata).__name__}")
    if adata.isbacked and not allow_backed:
        raise ScaugInputError(
            f"{what} is backed (opened with backed='r') and this needs it in memory: use adata.to_memory(), "
            "or train from the file with scaug.tl.train_generator(adata, 'cscgan', ...) and write the "
            "synthetic cells with scaug.tl.generate(model, n, out='synthetic.h5ad')"
        )
    if adata.n_obs == 0 or adata.n_vars == 0:
        raise ScaugInputError(f"{what} is empty ({adata.n_obs} cells x {adata.n_vars} genes)")
    if not adata.var_names.is_unique:
        dup = adata.var_names[adata.var_names.duplicated()].unique()[:3].tolist()
        raise ScaugInputError(
            f"{what} has {adata.var_names.duplicated().sum()} duplicate var_names (e.g. {dup}); "
            "call adata.var_names_make_unique() first"
        )
    if not adata.obs_names.is_unique:
        # synthetic cells are appended under new names and provenance refers to cells by name
        dup = adata.obs_names[adata.obs_names.duplicated()].unique()[:3].tolist()
        raise ScaugInputError(
            f"{what} has {adata.obs_names.duplicated().sum()} duplicate obs_names (e.g. {dup}); "
            "call adata.obs_names_make_unique() first"
        )


#: String forms of a missing label (e.g. from ``astype(str)`` or a CSV round trip), treated as NaN.
MISSING_LABELS = frozenset({"nan", "NaN", "None", "", "NA", "<NA>"})


def check_labels(adata: AnnData, labels_key: str | None) -> pd.Series:
    """Return the labels as a string-valued categorical Series (NaN kept), or raise.

    Missing labels (NaN, and the strings of :data:`MISSING_LABELS`) become NaN.
    """
    if labels_key is None:
        raise ScaugInputError("labels_key is required: the obs column that holds the cell-type labels")
    if labels_key not in adata.obs.columns:
        hint = ", ".join(map(repr, adata.obs.columns[:8]))
        raise ScaugInputError(f"labels_key {labels_key!r} is not a column of adata.obs (columns: {hint})")
    labels = adata.obs[labels_key]
    # Labels are handled as strings everywhere (h5ad, dict targets, CLI), whatever their dtype.
    values = labels.astype(object).where(labels.notna(), None)
    strings = [None if v is None else str(v) for v in values]
    strings = [None if v is None or v.strip() in MISSING_LABELS else v for v in strings]
    if all(v is None for v in strings):
        raise ScaugInputError(f"obs[{labels_key!r}] holds no labels (all values are NaN or missing)")
    return pd.Series(strings, index=labels.index, dtype=object).astype("category")


def output_bytes(slots, n_cells: int) -> float:
    """Estimated bytes of ``n_cells`` rows in each matrix of ``slots`` (the real rows' density).

    Sparse matrices cost a value and a column index per stored entry, dense ones a value per entry.
    """
    total = 0.0
    for matrix in slots:
        if matrix is None:
            continue
        n_rows, n_cols = matrix.shape
        if sparse.issparse(matrix):
            density = matrix.nnz / max(n_rows * n_cols, 1)
            total += n_cells * (n_cols * density * (matrix.dtype.itemsize + 4) + 8)
        else:
            total += n_cells * n_cols * np.dtype(matrix.dtype).itemsize
    return total


def check_memory(needed: float, *, what: str, estimate: str = "about") -> None:
    """Refuse, before any work, an output that would not fit in the memory available now.

    ``estimate`` says what ``needed`` is: ``"about"`` or ``"at least"`` (a lower bound).
    """
    import psutil

    available = psutil.virtual_memory().available
    # the rest is needed for the model, the sampling chunks and the copy AnnData makes on write
    if needed > 0.8 * available:
        raise ScaugInputError(
            f"{what} would need {estimate} {needed / 2**30:.1f} GiB, more than the "
            f"{available / 2**30:.1f} GiB of memory available: ask for fewer cells (n_cells=), or "
            "generate them in parts with scaug.tl.generate and a trained generator"
        )


def check_values(matrix, *, where: str, chunk: int = 1 << 22) -> bool:
    """Check a matrix for NaN, inf and negative values; return True if it holds integers (counts).

    Works through the stored values in chunks so that the check needs no copy of the matrix; a
    matrix on disk (a backed AnnData's ``X``) is read in blocks of rows.
    """
    if on_disk(matrix) and hasattr(matrix, "shape"):
        # every block is checked (a list, not all() on a generator): the integer check must see all
        return all([check_values(rows, where=where, chunk=chunk) for _, rows in row_blocks(matrix)])
    data = matrix.data if sparse.issparse(matrix) else np.asarray(matrix).reshape(-1)
    if not np.issubdtype(data.dtype, np.number):
        raise ScaugInputError(f"{where} is not numeric (dtype {data.dtype})")
    is_int, minimum, n_bad = True, np.inf, 0
    for start in range(0, data.size, chunk):
        part = data[start : start + chunk]
        finite = np.isfinite(part)
        if not finite.all():
            n_bad += int((~finite).sum())
            continue
        minimum = min(minimum, part.min())
        is_int = is_int and bool(np.array_equal(part, np.floor(part)))
    if n_bad:
        raise ScaugInputError(f"{where} contains {n_bad} NaN or infinite values")
    if minimum < 0:
        raise ScaugInputError(
            f"{where} contains negative values (min {minimum:.3g}); scaug models counts or "
            "log-normalised data, not scaled data: pass the counts with layer="
        )
    return is_int
