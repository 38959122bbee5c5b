"""imbalanced-learn oversamplers as scaug generators.

imbalanced-learn returns the whole resampled dataset; we only keep the new rows and avoid copying
the input where the method allows it: random oversampling works on row indices, SMOTE on one
label at a time (its neighbours are same-label cells). Borderline-SMOTE and ADASYN look at the
neighbourhood of other labels, so they see the full matrix.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from anndata import AnnData
from scipy import sparse
from tqdm.auto import tqdm

from .._spaces import stochastic_round
from .._validation import ScaugInputError

logger = logging.getLogger("scaug")


class ResamplingGenerator:
    """Oversampling with imbalanced-learn, as a :class:`scaug.Generator`.

    "Training" only keeps a reference to the training cells; :meth:`sample` runs the sampler.
    Interpolated counts are rounded stochastically to integers.

    Parameters
    ----------
    adata
        Training cells (modelled matrix in ``.X``), as built by :func:`scaug.tl.train_generator`.
    labels_key
        ``obs`` column with the labels.
    method
        ``"random_oversample"``, ``"smote"``, ``"borderline_smote"`` or ``"adasyn"``.
    **sampler_kwargs
        Options of the imbalanced-learn sampler (e.g. ``k_neighbors=5``).
    """

    def __init__(self, adata: AnnData, labels_key: str, method: str, **sampler_kwargs):
        self.method = method
        self.var_names = adata.var_names.copy()
        self._X = adata.X
        self._y = adata.obs[labels_key].astype(str).to_numpy(dtype=object)
        self.label_counts = (
            pd.Series(self._y)
            .value_counts(sort=False)
            .reindex(adata.obs[labels_key].cat.categories.astype(str))
            .dropna()
            .astype(np.int64)
        )
        self.labels = list(self.label_counts.index)
        self.counts = adata.uns.get("scaug_space", "counts") == "counts"
        self.params = dict(sampler_kwargs)
        self.history = None
        _sampler(method, random_state=0, **sampler_kwargs)  # bad option names fail now, not at sampling

    def __repr__(self) -> str:
        return f"ResamplingGenerator({self.method!r}, {len(self._y)} cells, {len(self.var_names)} genes)"

    def sample(self, n_per_label: Mapping[str, int], *, random_state: int = 0):
        """Draw ``n_per_label[label]`` new cells per label; returns ``(matrix, labels)``."""
        n_per_label = {lab: int(n) for lab, n in n_per_label.items() if n > 0}
        rng = np.random.default_rng(random_state)
        if not n_per_label:
            return _empty(self._X, len(self.var_names)), np.array([], dtype=object)
        if self.method == "random_oversample":
            rows, labels = self._oversample_indices(n_per_label, rng)
            return self._X[rows], labels
        if self.method == "smote":
            parts = [
                self._smote_one(lab, n, rng)
                for lab, n in tqdm(n_per_label.items(), desc="smote", disable=len(n_per_label) < 3)
            ]
            matrix = _vstack([p[0] for p in parts])
            labels = np.concatenate([p[1] for p in parts])
        else:
            matrix, labels = self._resample_all(n_per_label, rng)
        if self.counts:
            matrix = stochastic_round(matrix, rng)
        return matrix, labels

    def _strategy(self, n_per_label: Mapping[str, int]) -> dict[str, int]:
        return {lab: int(self.label_counts[lab]) + n for lab, n in n_per_label.items()}

    def _oversample_indices(self, n_per_label, rng):
        from imblearn.over_sampling import RandomOverSampler

        index, y = np.arange(len(self._y))[:, None], self._y
        if len(set(y)) < 2:  # imbalanced-learn needs two classes: a placeholder row, never drawn
            index, y = np.vstack([index, [[-1]]]), np.append(y, "\0other")
        sampler = RandomOverSampler(
            sampling_strategy=self._strategy(n_per_label), random_state=_seed(rng), **self.params
        )
        rows, labels = sampler.fit_resample(index, y)
        return rows[len(y) :, 0], labels[len(y) :]

    def _smote_one(self, label: str, n: int, rng):
        """SMOTE for one label: its cells plus one cell of another label (imbalanced-learn wants two classes)."""
        own = np.flatnonzero(self._y == label)
        other = np.flatnonzero(self._y != label)[:1]
        if len(own) < 2:
            raise ScaugInputError(f"smote needs at least 2 cells of label {label!r}, it has {len(own)}")
        if len(other) == 0:
            other = own[:1]
        k = min(self.params.get("k_neighbors", 5), len(own) - 1)
        kwargs = {**self.params, "k_neighbors": k}
        y = np.concatenate([self._y[own], np.full(len(other), "\0other", dtype=object)])
        X = _vstack([self._X[own], self._X[other]])
        sampler = _sampler(
            "smote", random_state=_seed(rng), sampling_strategy={label: len(own) + n}, **kwargs
        )
        X_res, y_res = sampler.fit_resample(X, y)
        return X_res[len(y) :], y_res[len(y) :]

    def _resample_all(self, n_per_label, rng):
        smallest = min(int(self.label_counts[lab]) for lab in n_per_label)
        kwargs = dict(self.params)
        key = "n_neighbors" if self.method == "adasyn" else "k_neighbors"
        kwargs[key] = min(kwargs.get(key, 5), smallest - 1)
        sampler = _sampler(
            self.method, random_state=_seed(rng), sampling_strategy=self._strategy(n_per_label), **kwargs
        )
        try:
            X_res, y_res = sampler.fit_resample(self._X, self._y)
        except (ValueError, RuntimeError) as err:  # e.g. ADASYN: a label with no other-label neighbours
            raise ScaugInputError(f"{self.method} failed: {str(err).splitlines()[0]}") from None
        X_new, y_new = X_res[len(self._y) :], y_res[len(self._y) :]
        return _trim(X_new, y_new, n_per_label, rng)


def _trim(X, y, n_per_label, rng):
    """Keep at most the requested number per label (ADASYN's rounded per-cell quotas can overshoot)."""
    keep = np.ones(len(y), dtype=bool)
    for lab, n in n_per_label.items():
        rows = np.flatnonzero(y == lab)
        if len(rows) > n:
            keep[rng.choice(rows, len(rows) - n, replace=False)] = False
    return X[keep], y[keep]


def _sampler(method: str, **kwargs):
    from imblearn import over_sampling

    cls = {
        "random_oversample": over_sampling.RandomOverSampler,
        "smote": over_sampling.SMOTE,
        "borderline_smote": over_sampling.BorderlineSMOTE,
        "adasyn": over_sampling.ADASYN,
    }[method]
    try:
        return cls(**kwargs)
    except TypeError as err:
        raise ScaugInputError(f"bad option for {method}: {err}") from None


def _seed(rng: np.random.Generator) -> int:
    return int(rng.integers(2**31 - 1))


def _vstack(parts):
    if sparse.issparse(parts[0]):
        return sparse.vstack(parts, format="csr")
    return np.vstack(parts)


def _empty(like, n_vars: int):
    return (
        sparse.csr_matrix((0, n_vars), dtype=like.dtype)
        if sparse.issparse(like)
        else np.zeros((0, n_vars), like.dtype)
    )


def _make_train(method: str):
    def train(adata: AnnData, *, labels_key: str, random_state: int, model_kwargs: dict, train_kwargs: dict):
        # random_state is used at sampling time: resampling has nothing to train
        return ResamplingGenerator(adata, labels_key, method, **model_kwargs)

    train.__name__ = f"train_{method}"
    train.__doc__ = f"Keep the training cells for {method} sampling."
    return train


train_random_oversample = _make_train("random_oversample")
train_smote = _make_train("smote")
train_borderline_smote = _make_train("borderline_smote")
train_adasyn = _make_train("adasyn")
