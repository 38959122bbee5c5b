"""Which matrix a method models, in which space, and how the other matrices follow from it.

Methods model one matrix (the *source*: ``layers["counts"]`` when present, else ``.X``). Synthetic
cells are returned in the same space and slot; every other slot of the input (``.X`` or a layer) is
filled for synthetic cells only if it is a transform of the source we can recognise and repeat
(identity, ``normalize_total``, ``log1p``, ``log1p(normalize_total)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

import numpy as np
from scipy import sparse

from ._validation import ScaugInputError, check_values

if TYPE_CHECKING:
    from anndata import AnnData

Kind = Literal["counts", "continuous"]


@dataclass(frozen=True)
class Space:
    """The modelled matrix: its slot (``None`` for ``.X``) and whether it holds integer counts."""

    layer: str | None
    kind: Kind

    @property
    def slot(self) -> str:
        """Human-readable name of the slot, for messages and provenance."""
        return "X" if self.layer is None else f"layers[{self.layer!r}]"


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
