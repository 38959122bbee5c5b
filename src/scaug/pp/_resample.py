from __future__ import annotations

import logging
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .. import _provenance
from .._validation import ScaugInputError, check_adata, check_labels

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("scaug")

_UNDERSAMPLERS = ("random_undersample",)


def resample(
    adata: AnnData,
    method: str = "random_undersample",
    *,
    labels_key: str,
    target: int | str = "min",
    random_state: int = 0,
    key_added: str = "scaug",
) -> AnnData:
    """Undersample: return a new AnnData with at most ``target`` cells per label.

    Cells are dropped, never changed; which ones were dropped is recorded in
    ``uns[key_added]["runs"][run_id]["dropped"]`` (their obs_names). Cells without a label are kept.

    Parameters
    ----------
    adata
        Cells x genes with labels.
    method
        ``"random_undersample"`` (imbalanced-learn's ``RandomUnderSampler``).
    labels_key
        ``obs`` column with the labels.
    target
        Cells kept per label at most: an int, or ``"min"`` (default, the smallest label), ``"median"``.
    random_state
        Seed of the random choice.
    key_added
        Provenance key of the ``uns`` record.

    Returns
    -------
    A new, smaller AnnData.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(500, 50, 3, imbalance=0.1, random_state=0)
    >>> small = scaug.pp.resample(adata, labels_key="cell_type", target=50)
    >>> int(small.obs["cell_type"].value_counts().max())
    50
    """
    from imblearn.under_sampling import RandomUnderSampler

    if method not in _UNDERSAMPLERS:
        raise ScaugInputError(
            f"unknown undersampling method {method!r} (known: {', '.join(_UNDERSAMPLERS)}); "
            "oversampling methods add cells: use scaug.tl.augment"
        )
    check_adata(adata)
    labels = check_labels(adata, labels_key)
    labelled = np.flatnonzero(labels.notna().to_numpy())
    y = labels.iloc[labelled].astype(str).to_numpy(dtype=object)
    counts = pd.Series(y).value_counts(sort=False)
    if target == "min":
        goal = int(counts.min())
    elif target == "median":
        goal = int(np.ceil(counts.median()))
    elif isinstance(target, int | np.integer) and not isinstance(target, bool) and target > 0:
        goal = int(target)
    else:
        raise ScaugInputError(f"target must be a positive int, 'min' or 'median', got {target!r}")
    if len(counts) < 2:
        raise ScaugInputError(
            f"obs[{labels_key!r}] holds one label ({counts.index[0]!r}): there is no imbalance to undersample"
        )
    strategy = {lab: min(int(n), goal) for lab, n in counts.items()}
    sampler = RandomUnderSampler(sampling_strategy=strategy, random_state=random_state)
    sampler.fit_resample(labelled[:, None], y)
    keep = np.zeros(adata.n_obs, dtype=bool)
    keep[labels.isna().to_numpy()] = True
    keep[labelled[np.sort(sampler.sample_indices_)]] = True
    out = adata[keep].copy()
    after = out.obs[labels_key].astype(str).value_counts()
    table = pd.DataFrame(
        {
            "label": list(counts.index),
            "n_before": counts.to_numpy(),
            "n_after": [int(after.get(k, 0)) for k in counts.index],
        }
    )
    record = _provenance.run_record(
        method=method,
        params={"target": target},
        deep=False,
        random_state=random_state,
        labels_key=labels_key,
        layer=None,
        space="unchanged",
        counts=table,
        seconds_train=0.0,
        seconds_generate=0.0,
    )
    record["dropped"] = np.asarray(adata.obs_names[~keep], dtype=str)
    _provenance.add_run(out.uns, key_added, _provenance.new_run_id(adata, key_added, method), record)
    logger.info("%s kept %d of %d cells", method, out.n_obs, adata.n_obs)
    return out
