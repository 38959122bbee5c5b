"""The ``scvi`` and ``scvi_ppc`` methods of scaug's registry: train an scVI generator on the training AnnData."""

from __future__ import annotations

import inspect
from functools import partial
from typing import TYPE_CHECKING

from ..._seeding import seeded
from ..._validation import ScaugInputError
from ._latent_model import SCVILatent
from ._model import COUNTS_ONLY, SCVIPPC

if TYPE_CHECKING:
    from anndata import AnnData

#: Options of scvi's VAE that SCVI sets itself from the data (not for model_kwargs).
_SET_BY_SCVI = {
    "n_input",
    "n_batch",
    "n_labels",
    "n_continuous_cov",
    "n_cats_per_cov",
    "use_size_factor_key",
    "library_log_means",
    "library_log_vars",
}


def fit(
    model_cls: type[SCVIPPC],
    adata: AnnData,
    *,
    labels_key: str,
    random_state: int,
    model_kwargs: dict,
    train_kwargs: dict,
) -> SCVIPPC:
    """Train a ``model_cls`` scVI generator (registry signature; see :func:`scaug.register_method`).

    ``model_kwargs`` go to the model (scVI's ``n_latent``, ``n_layers``, ``gene_likelihood``, ...,
    and ``n_top_genes``/``min_cells`` of :class:`~scaug.models.SCVIPPC`), ``train_kwargs`` to its
    :meth:`~scaug.models.SCVIPPC.train` (scVI's ``train`` and the Lightning trainer). Training is
    seeded with ``random_state`` for this run only (:func:`scaug._seeding.seeded`).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> model = scaug.tl.train_generator(
    ...     adata, "scvi_ppc", labels_key="cell_type", max_epochs=1, train_kwargs={"enable_progress_bar": False}
    ... )
    >>> model.method
    'scvi_ppc'
    """
    # Before anything is trained: scVI's likelihood is for counts only.
    if adata.uns.get("scaug_space") == "continuous":
        raise ScaugInputError(COUNTS_ONLY)
    _check_model_kwargs(model_kwargs, model_cls._method)
    _check_train_kwargs(train_kwargs, model_cls._method)
    with seeded(random_state):
        model_cls.setup_anndata(adata, labels_key=labels_key)
        model = model_cls(adata, **model_kwargs)
        model.train(**train_kwargs)
    return model


#: The registry's train functions.
train_scvi_ppc = partial(fit, SCVIPPC)
train_scvi = partial(fit, SCVILatent)


def _check_model_kwargs(model_kwargs: dict, method: str) -> None:
    """Options of SCVIPPC and of the scVI module it builds are accepted."""
    from scvi.module import VAE

    known = _parameters(SCVIPPC.__init__, VAE.__init__) - _SET_BY_SCVI
    unknown = sorted(set(model_kwargs) - known)
    if unknown:
        raise ScaugInputError(f"unknown model_kwargs {unknown} for {method}; known: {sorted(known)}")


def _check_train_kwargs(train_kwargs: dict, method: str) -> None:
    """Options of SCVIPPC.train, SCVI.train, scvi's Trainer and Lightning's Trainer are accepted."""
    import lightning.pytorch as pl
    import scvi
    from scvi.model import SCVI

    known = _parameters(SCVIPPC.train, SCVI.train, scvi.train.Trainer.__init__, pl.Trainer.__init__)
    unknown = sorted(set(train_kwargs) - known)
    if unknown:
        raise ScaugInputError(f"unknown train_kwargs {unknown} for {method} (see SCVIPPC.train)")


def _parameters(*funcs) -> set[str]:
    return {
        name
        for func in funcs
        for name, param in inspect.signature(func).parameters.items()
        if name not in ("self", "adata", "registry") and param.kind is not param.VAR_KEYWORD
    }
