"""The ``cscgan`` method of scaug's registry: train a :class:`CSCGAN` on the training AnnData."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .._gan import fit
from ._model import CSCGAN

if TYPE_CHECKING:
    from anndata import AnnData


def train_cscgan(
    adata: AnnData, *, labels_key: str, random_state: int, model_kwargs: dict, train_kwargs: dict
):
    """Train a :class:`~scaug.models.CSCGAN` (registry signature; see :func:`scaug.register_method`).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> model = scaug.tl.train_generator(
    ...     adata, "cscgan", labels_key="cell_type", max_epochs=1, train_kwargs={"enable_progress_bar": False}
    ... )
    """
    return fit(
        CSCGAN,
        adata,
        labels_key=labels_key,
        random_state=random_state,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
    )
