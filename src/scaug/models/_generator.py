"""The scaug generator protocol for scvi-tools models: what every scaug model reports the same way."""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd
from scvi import REGISTRY_KEYS

from .._validation import ScaugInputError


class GeneratorMixin:
    """Properties of :class:`scaug._generator.Generator` read from a model's saved attributes.

    The model records ``var_names_``, ``label_counts_``, ``train_params_``, ``history_`` and, in its
    init parameters, ``modelled_genes``; :attr:`counts` and :meth:`sample` are its own.
    """

    _method: str

    @property
    def method(self) -> str:
        """Registered scaug method name."""
        return self._method

    @property
    def var_names(self) -> pd.Index:
        """All genes of the training data; samples have exactly these columns."""
        return pd.Index(self.var_names_)

    @property
    def modelled_genes(self) -> pd.Index:
        """Genes the model learns (the others are drawn from label means, or zero, in samples)."""
        return pd.Index(self.init_params_["non_kwargs"]["modelled_genes"])

    @property
    def labels(self) -> list[str]:
        """Labels the model knows, in the order of their codes."""
        mapping = self.registry_["field_registries"][REGISTRY_KEYS.LABELS_KEY]["state_registry"]
        return [str(lab) for lab in mapping["categorical_mapping"]]

    @property
    def label_counts(self) -> pd.Series:
        """Training cells per label."""
        return self.label_counts_

    @property
    def params(self) -> dict:
        """Model and training parameters (JSON-serialisable), for provenance."""
        init = self.init_params_
        options = {
            **init["non_kwargs"],
            **{k: v for group in init["kwargs"].values() for k, v in group.items()},
        }
        params = {
            k: list(v) if isinstance(v, tuple | list) else v
            for k, v in options.items()
            if k != "modelled_genes"
        }
        params["n_modelled_genes"] = len(self.modelled_genes)
        return {**params, **self.train_params_}

    @property
    def history(self) -> pd.DataFrame | None:
        """Training metrics, one row per epoch (``None`` before training)."""
        if not self.history_:
            return None
        frames = [df for df in self.history_.values() if len(df)]
        return pd.concat(frames, axis=1) if frames else None

    def _check_known(self, labels: Iterable[str]) -> None:
        """Refuse labels the model does not know (``labels`` may be a ``{label: n}`` request)."""
        unknown = [lab for lab in labels if lab not in self.labels]
        if unknown:
            raise ScaugInputError(f"unknown labels {unknown}; the model knows {self.labels}")
