"""Provenance of synthetic cells: obs columns, unique names and the ``uns[key]["runs"]`` record.

Everything written here survives ``write_h5ad``/``read_h5ad`` unchanged: parameters are stored as a
JSON string (nested dicts with ``None`` do not round-trip through h5ad), per-label counts and the
training history as DataFrames (labels such as ``"CD4+/CD25 T Reg"`` break nested dicts in h5ad).
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from anndata import AnnData

_PACKAGES = ("scaug", "anndata", "scanpy", "numpy", "scipy", "scikit-learn", "imbalanced-learn")
_DEEP_PACKAGES = ("torch", "lightning", "scvi-tools", "torch-geometric")


def columns(key: str) -> tuple[str, str, str]:
    """Names of the provenance obs columns: synthetic flag, method, run."""
    return f"{key}_synthetic", f"{key}_method", f"{key}_run"


def real_mask(adata: AnnData, key: str) -> np.ndarray:
    """Boolean mask of the real cells (all cells when the object was never augmented)."""
    flag = columns(key)[0]
    if flag not in adata.obs:
        return np.ones(adata.n_obs, dtype=bool)
    return ~adata.obs[flag].to_numpy(dtype=bool)


def new_run_id(adata: AnnData | None, key: str, method: str) -> str:
    """``"{method}-{k}"`` with ``k`` one more than the number of runs recorded so far."""
    runs = (adata.uns.get(key, {}) or {}).get("runs", {}) if adata is not None else {}
    k = len(runs) + 1
    while f"{method}-{k}" in runs:
        k += 1
    return f"{method}-{k}"


def versions(deep: bool) -> dict[str, str]:
    """Installed versions of scaug and its dependencies (without importing them)."""
    out = {}
    for pkg in _PACKAGES + (_DEEP_PACKAGES if deep else ()):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "not installed"
    return out


def to_json(params: dict) -> str:
    """Parameters as a JSON string; values JSON does not know are written with ``repr``."""
    return json.dumps(params, sort_keys=True, default=_jsonable)


def _jsonable(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return repr(value)


def run_record(
    *,
    method: str,
    params: dict,
    deep: bool,
    random_state: int,
    labels_key: str,
    layer: str | None,
    space: str,
    counts: pd.DataFrame,
    seconds_train: float,
    seconds_generate: float,
    history: pd.DataFrame | None = None,
) -> dict:
    """The ``uns[key]["runs"][run_id]`` entry of one augment/generate call."""
    record = {
        "method": method,
        "params": to_json(params),
        "versions": versions(deep),
        "random_state": int(random_state),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "labels_key": labels_key,
        "layer": "X" if layer is None else layer,
        "space": space,
        "counts": counts,
        "seconds_train": float(seconds_train),
        "seconds_generate": float(seconds_generate),
    }
    if history is not None and len(history):
        # scvi-tools histories hold floats in object columns, which h5ad cannot write.
        record["history"] = history.reset_index(drop=True).infer_objects()
    return record


def add_run(uns: dict, key: str, run_id: str, record: dict) -> None:
    """Append a run record to ``uns[key]["runs"]`` (``uns`` must be the output's own dict)."""
    entry = dict(uns.get(key, {}) or {})
    runs = dict(entry.get("runs", {}) or {})
    runs[run_id] = record
    entry["runs"] = runs
    uns[key] = entry


def counts_table(n_real: pd.Series, n_requested: dict[str, int], syn_labels: np.ndarray) -> pd.DataFrame:
    """Per-label table: training cells, cells asked for and cells generated."""
    generated = pd.Series(syn_labels, dtype=object).value_counts()
    labels = list(n_real.index)
    return pd.DataFrame(
        {
            "label": labels,
            "n_real": [int(n_real[lab]) for lab in labels],
            "n_requested": [int(n_requested.get(lab, 0)) for lab in labels],
            "n_synthetic": [int(generated.get(lab, 0)) for lab in labels],
        }
    )
