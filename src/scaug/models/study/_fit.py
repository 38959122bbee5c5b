"""Training a study generator for scaug's registry: option checks and seeding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._seeding import seeded
from .._gan._fit import _check_kwargs, _check_train_kwargs
from ._model import StudyModelBase

if TYPE_CHECKING:
    from anndata import AnnData


def fit(
    cls: type[StudyModelBase],
    adata: AnnData,
    *,
    labels_key: str,
    random_state: int,
    model_kwargs: dict,
    train_kwargs: dict,
) -> StudyModelBase:
    """Set up ``adata``, build ``cls`` with ``model_kwargs`` and train it, seeded with ``random_state``.

    Unknown options are refused before anything is built; the seed is set for the run only
    (:func:`scaug._seeding.seeded`).
    """
    _check_kwargs((cls.__init__, StudyModelBase.__init__), model_kwargs, "model_kwargs")
    _check_train_kwargs(cls, train_kwargs)
    with seeded(random_state):
        cls.setup_anndata(adata, labels_key=labels_key)
        model = cls(adata, **model_kwargs)
        model.train(**train_kwargs)
    return model
