"""The ``garage`` method of scaug's registry: train a :class:`GARAGE` on the training AnnData."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._gan import fit
from ._model import GARAGE

if TYPE_CHECKING:
    from anndata import AnnData


def train_garage(
    adata: AnnData, *, labels_key: str, random_state: int, model_kwargs: dict, train_kwargs: dict
):
    """Train a :class:`~scaug.models.GARAGE` (registry signature; see :func:`scaug.register_method`).

    Presets, option checks and seeding are the GANs' (:func:`scaug.models._gan.fit`).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> model = scaug.tl.train_generator(
    ...     adata,
    ...     "garage",
    ...     labels_key="cell_type",
    ...     max_epochs=1,
    ...     model_kwargs={"seed_kwargs": {"max_epochs": 5}},
    ...     train_kwargs={"enable_progress_bar": False},
    ... )
    """
    return fit(
        GARAGE,
        adata,
        labels_key=labels_key,
        random_state=random_state,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
    )
