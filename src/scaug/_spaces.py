"""Which matrix a method models, in which space, and how the other matrices follow from it.

Methods model one matrix (the *source*: ``layers["counts"]`` when present, else ``.X``). Synthetic
cells are returned in the same space and slot; every other slot of the input (``.X`` or a layer) is
filled for synthetic cells only if it is a transform of the source we can recognise and repeat
(identity, ``normalize_total``, ``log1p``, ``log1p(normalize_total)``).

Log-normalised input whose counts can be recovered (``log1p`` of counts scaled per cell: every
cell's non-zero ``expm1`` values are integer multiples of its smallest one) is *log counts*: deep
generators model the recovered counts, as they do real counts, and their cells are mapped back
(:meth:`Space.to_source`). Modelled as continuous values, the same data gave cells twice as dense
as real ones with smoothed profiles (issue 14).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

import numpy as np
import pandas as pd
from scipy import sparse

from ._validation import ScaugInputError, check_values

#: Total of every cell after normalisation (log1p of counts per 10,000, as in scanpy's tutorials).
TARGET_SUM = 1e4

if TYPE_CHECKING:
    from anndata import AnnData

Kind = Literal["counts", "continuous", "log_counts"]
# Recovered counts: distance to the nearest integer, plus a relative part for large counts (scanpy's
# pbmc68k_reduced, stored as float32: up to 0.002 at counts 1-2 and 0.13 % of the count above).
INTEGER_TOLERANCE, RELATIVE_TOLERANCE = 0.05, 0.002
MAX_SMALLEST_COUNT = 4  # a cell's smallest count tried when its values are not multiples of the smallest


@dataclass(frozen=True)
class Space:
    """The modelled matrix: its slot (``None`` for ``.X``) and what it holds.

    ``kind``: ``"counts"`` (integers), ``"continuous"`` or ``"log_counts"`` (``log1p`` of counts
    scaled per cell, counts recoverable; see :func:`recover_counts`). For log counts, ``totals``
    holds per label the real cells' sums of ``expm1`` values (their scaled totals), and
    ``normalised`` whether cells were scaled at all (plain ``log1p(counts)`` was not).
    """

    layer: str | None
    kind: Kind
    totals: Mapping[str, np.ndarray] | None = field(default=None, compare=False, repr=False)
    normalised: bool = True

    @property
    def slot(self) -> str:
        """Human-readable name of the slot, for messages and provenance."""
        return "X" if self.layer is None else f"layers[{self.layer!r}]"

    def to_source(self, counts, labels: np.ndarray, rng: np.random.Generator):
        """Generated counts of log-counts data back in the source's space.

        Each cell is scaled so that its ``expm1`` values sum to the scaled total of a random real
        cell of its label (normalisation over genes that may not all be here leaves these totals
        label-dependent), then ``log1p``: the same transform the real cells went through.

        Examples
        --------
        >>> import numpy as np
        >>> space = Space(None, "log_counts", totals={"B": np.array([1000.0])})
        >>> x = space.to_source(np.array([[1.0, 3.0, 0.0]]), np.array(["B"]), np.random.default_rng(0))
        >>> np.round(np.expm1(x), 1)
        array([[250., 750.,   0.]])
        """
        if self.kind != "log_counts":
            return counts
        matrix = sparse.csr_matrix(counts, dtype=np.float64)
        if self.normalised:
            if self.totals is None:
                raise ValueError("a normalised log-counts space needs the real cells' totals per label")
            target = np.empty(matrix.shape[0])
            for label in np.unique(labels):
                rows = np.flatnonzero(labels == label)
                target[rows] = rng.choice(self.totals[label], size=len(rows))
            sums = np.asarray(matrix.sum(axis=1)).ravel()
            scale = np.divide(target, sums, out=np.zeros_like(target), where=sums > 0)
            matrix = sparse.csr_matrix(matrix.multiply(scale[:, None]))
        matrix.data = np.log1p(matrix.data)
        return matrix if sparse.issparse(counts) else matrix.toarray()


def log_normalise(matrix, *, counts: bool, target_sum: float | None = TARGET_SUM):
    """``log1p(normalize_total(matrix, target_sum))`` for counts; the matrix itself (float) otherwise.

    ``target_sum=None`` is scanpy's default: the median total of the cells with counts.
    """
    if not counts:
        return matrix.astype(np.float32) if sparse.issparse(matrix) else np.asarray(matrix, dtype=np.float32)
    totals = np.asarray(matrix.sum(axis=1), dtype=np.float64).ravel()
    if target_sum is None:
        target_sum = float(np.median(totals[totals > 0])) if (totals > 0).any() else 1.0
    scale = np.divide(target_sum, totals, out=np.zeros_like(totals), where=totals > 0)
    if sparse.issparse(matrix):
        out = sparse.csr_matrix(matrix, dtype=np.float32, copy=True)
        out.data *= np.repeat(scale, np.diff(out.indptr)).astype(np.float32)
        out.data = np.log1p(out.data)
        return out
    return np.log1p(np.asarray(matrix, dtype=np.float32) * scale[:, None].astype(np.float32))


def recover_counts(matrix) -> tuple[sparse.csr_matrix, np.ndarray] | None:
    """Counts behind ``log1p`` of per-cell scaled counts, or ``None`` when the values are not that.

    A count of 1 becomes ``unit = target_sum / library`` in its cell, so every non-zero ``expm1``
    value is an integer multiple of ``unit``: the cell's smallest value divided by its smallest
    count (1, else the first of 2 ... 4 that makes every value a multiple). A matrix with a cell
    that fits none is refused.

    Returns
    -------
    The counts (CSR, float32 integers) and each cell's ``unit`` (``log1p(counts * unit)`` is the input).

    Examples
    --------
    >>> import numpy as np
    >>> counts = np.array([[1, 0, 4], [2, 1, 0]])
    >>> logs = np.log1p(counts / counts.sum(1, keepdims=True) * 1e4)
    >>> recovered, unit = recover_counts(logs)
    >>> recovered.toarray().astype(int).tolist(), np.round(unit).tolist()
    ([[1, 0, 4], [2, 1, 0]], [2000.0, 3333.0])
    >>> recover_counts(np.log1p(np.random.default_rng(0).gamma(2.0, 1.0, (5, 20)))) is None
    True
    """
    x = sparse.csr_matrix(matrix, dtype=np.float64)
    x.eliminate_zeros()
    if x.nnz == 0 or x.data.min() < 0 or x.data.max() >= 50:  # not log scale
        return None
    values = np.expm1(x.data)
    lengths = np.diff(x.indptr)
    has = lengths > 0
    smallest = np.full(x.shape[0], np.nan)
    smallest[has] = np.minimum.reduceat(values, x.indptr[:-1][has])
    unit = np.full(x.shape[0], np.nan)
    # the smallest count of a cell is 1 most often, else 2, 3, ...: take the first that fits
    for smallest_count in range(1, MAX_SMALLEST_COUNT + 1):
        todo = has & np.isnan(unit)
        if not todo.any():
            break
        ratio = values / np.repeat(smallest / smallest_count, lengths)
        off = np.abs(ratio - np.round(ratio)) > INTEGER_TOLERANCE + RELATIVE_TOLERANCE * ratio
        fits = np.add.reduceat(off, x.indptr[:-1][has]) == 0
        fitting = np.zeros(x.shape[0], dtype=bool)
        fitting[np.flatnonzero(has)[fits]] = True
        unit[todo & fitting] = smallest[todo & fitting] / smallest_count
    if np.isnan(unit[has]).any():
        return None
    x.data = np.round(values / np.repeat(unit, lengths)).astype(np.float32)
    return x.astype(np.float32), unit


def resolve_layer(adata: AnnData, layer: str | None) -> str | None:
    """The layer to model: ``layer`` if given, else ``"counts"`` if present, else ``.X`` (``None``)."""
    if layer is not None:
        if layer not in adata.layers:
            raise ScaugInputError(f"layer {layer!r} is not in adata.layers (layers: {list(adata.layers)})")
        return layer
    return "counts" if "counts" in adata.layers else None


def get_matrix(adata: AnnData, layer: str | None):
    """``adata.X`` or ``adata.layers[layer]``, without copying."""
    return adata.X if layer is None else adata.layers[layer]


def detect_space(adata: AnnData, layer: str | None, *, rows: np.ndarray | None = None) -> Space:
    """Resolve the modelled layer and check its values (on ``rows`` if given)."""
    layer = resolve_layer(adata, layer)
    matrix = get_matrix(adata, layer)
    if matrix is None:
        raise ScaugInputError("adata.X is None; pass layer= with the matrix to model")
    if rows is not None and not rows.all():
        matrix = matrix[rows]
    slot = "adata.X" if layer is None else f"adata.layers[{layer!r}]"
    is_int = check_values(matrix, where=slot)
    if not is_int and layer == "counts":
        # synthetic floats written into a layer named counts would mislead every later tool
        raise ScaugInputError(
            f"{slot} holds non-integer values, so they are not counts (normalised?); pass the raw "
            "counts there, or, to model these values as continuous on purpose, store them under "
            "another layer name and pass layer=<that name>"
        )
    return Space(layer=layer, kind="counts" if is_int else "continuous")


def log_counts_space(space: Space, matrix, labels: np.ndarray) -> tuple[Space, sparse.csr_matrix] | None:
    """The log-counts view of a continuous space (with per-label totals) and its counts, if recoverable."""
    if space.kind != "continuous":
        return None
    found = recover_counts(matrix)
    if found is None:
        return None
    counts, unit = found
    scaled = np.asarray(counts.sum(axis=1)).ravel() * np.nan_to_num(unit)
    totals = {str(lab): scaled[labels == lab] for lab in pd.unique(labels)}
    normalised = not np.allclose(unit[np.isfinite(unit)], 1.0)
    return Space(space.layer, "log_counts", totals=totals, normalised=normalised), counts


def stochastic_round(matrix, rng: np.random.Generator):
    """Round non-negative values to integers, up with probability equal to the fraction.

    Keeps the expectation of every entry (plain rounding would bias small interpolated counts).
    """
    if sparse.issparse(matrix):
        out = matrix.tocsr(copy=True)
        out.data = _round_values(out.data, rng)
        out.eliminate_zeros()
        return out
    return _round_values(np.asarray(matrix), rng)


def _round_values(values: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    floor = np.floor(values)
    return (floor + (rng.random(values.shape) < (values - floor))).astype(values.dtype, copy=False)


# -- transforms between slots ---------------------------------------------------------------


@dataclass(frozen=True)
class Transform:
    """A recognised map from the source matrix to another slot."""

    name: Literal["identity", "normalize_total", "log1p", "log1p_normalize_total"]
    target_sum: float | None = None

    def apply(self, matrix):
        """Apply the transform to (synthetic) source rows; returns a new matrix of the same kind."""
        out = (
            matrix.astype(np.float32, copy=True) if sparse.issparse(matrix) else np.array(matrix, np.float32)
        )
        if self.name in ("normalize_total", "log1p_normalize_total"):
            sums = np.asarray(out.sum(axis=1)).ravel()
            scale = np.divide(
                self.target_sum, sums, out=np.zeros_like(sums, dtype=np.float64), where=sums > 0
            )
            out = (
                sparse.csr_matrix(out.multiply(scale[:, None]))
                if sparse.issparse(out)
                else out * scale[:, None]
            )
            out = out.astype(np.float32)
        if self.name in ("log1p", "log1p_normalize_total"):
            if sparse.issparse(out):
                out.data = np.log1p(out.data)
            else:
                out = np.log1p(out)
        return out


def recognise_transform(source, target, *, n_check: int = 200, rtol: float = 1e-3) -> Transform | None:
    """Find which known transform maps ``source`` to ``target`` (checked on up to ``n_check`` cells)."""
    if source.shape != target.shape:
        return None
    rows = np.linspace(0, source.shape[0] - 1, min(n_check, source.shape[0])).astype(int)
    s = _dense(source[rows])
    t = _dense(target[rows])
    if np.allclose(s, t, rtol=rtol, atol=1e-6):
        return Transform("identity")
    if np.allclose(np.log1p(s), t, rtol=rtol, atol=1e-5):
        return Transform("log1p")
    candidates = [("normalize_total", t)]
    if t.max() < 50:  # a log-scale matrix; larger values cannot be log1p of sensible counts
        candidates.append(("log1p_normalize_total", np.expm1(t)))
    for name, values in candidates:
        sums = values.sum(axis=1)
        keep = s.sum(axis=1) > 0
        if not keep.any():
            continue
        target_sum = float(np.median(sums[keep]))
        candidate = Transform(name, target_sum)  # type: ignore[arg-type]
        if np.allclose(_dense(candidate.apply(s[keep])), t[keep], rtol=rtol, atol=1e-4):
            return candidate
    return None


def _dense(matrix) -> np.ndarray:
    return np.asarray(matrix.toarray() if sparse.issparse(matrix) else matrix, dtype=np.float64)
