"""The method registry: every generator, built-in or third-party, behind one ``method=`` name.

A method is a *train* callable ``train(adata, *, labels_key, random_state, model_kwargs,
train_kwargs) -> Generator``. ``adata`` holds only the cells to learn from (real, labelled), the
modelled matrix in ``.X`` (counts or a continuous space, see ``adata.uns["scaug_space"]``) and the
labels in ``obs[labels_key]``. The returned object follows :class:`scaug.Generator`.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field

import pandas as pd

from ._validation import ScaugInputError


@dataclass(frozen=True)
class MethodSpec:
    """A registered method.

    Parameters
    ----------
    name
        The ``method=`` name.
    train
        ``train(adata, *, labels_key, random_state, model_kwargs, train_kwargs) -> Generator``.
    kind
        ``"resampling"``, ``"deep"`` or ``"external"``.
    description
        One line for :func:`scaug.methods`.
    min_cells
        Fewest training cells a label needs before the method can generate it.
    conditional
        Whether the method generates a requested label (``False``: labels are assigned afterwards).
    reference
        Publication the method follows.
    per_label
        The method trains one model per label it generates (the study's GAN):
        :func:`scaug.tl.augment` and :func:`scaug.tl.generate`, which know the labels before
        training, pass them as ``model_kwargs["labels"]`` (unless the caller set it).
    backed
        The method trains from a backed AnnData's ``X`` on disk, without loading it.
    """

    name: str
    train: Callable = field(repr=False)
    kind: str = "external"
    description: str = ""
    min_cells: int = 1
    conditional: bool = True
    reference: str = ""
    per_label: bool = False
    backed: bool = False


def _lazy(module: str, attr: str) -> Callable:
    """A train callable that imports its (heavy) module only when called."""

    def train(*args, **kwargs):
        return getattr(importlib.import_module(module, __package__), attr)(*args, **kwargs)

    train.__qualname__ = f"{module}.{attr}"
    return train


_REGISTRY: dict[str, MethodSpec] = {}


def register_method(
    name: str,
    train: Callable,
    *,
    kind: str = "external",
    description: str = "",
    min_cells: int = 1,
    conditional: bool = True,
    reference: str = "",
    per_label: bool = False,
    backed: bool = False,
    overwrite: bool = False,
) -> MethodSpec:
    """Register a generator under ``name`` so that ``augment(adata, method=name)`` can use it.

    Parameters
    ----------
    name
        The method name.
    train
        ``train(adata, *, labels_key, random_state, model_kwargs, train_kwargs) -> Generator``; see
        :class:`scaug.Generator` for what the returned object must provide.
    kind, description, min_cells, conditional, reference, per_label, backed
        See :class:`scaug.MethodSpec`.
    overwrite
        Replace an existing method of the same name.

    Returns
    -------
    The registered :class:`~scaug.MethodSpec`.

    Examples
    --------
    >>> import scaug
    >>> def train(adata, *, labels_key, random_state, model_kwargs, train_kwargs):
    ...     ...  # return an object with .sample(n_per_label, random_state=...)
    >>> spec = scaug.register_method("my_gan", train, description="my GAN", overwrite=True)
    """
    if not isinstance(name, str) or not name:
        raise ScaugInputError("method name must be a non-empty string")
    if name in _REGISTRY and not overwrite:
        raise ScaugInputError(f"method {name!r} is already registered; pass overwrite=True to replace it")
    if not callable(train):
        raise ScaugInputError(f"train for method {name!r} must be callable")
    spec = MethodSpec(
        name,
        train,
        kind,
        description,
        int(min_cells),
        bool(conditional),
        reference,
        bool(per_label),
        bool(backed),
    )
    _REGISTRY[name] = spec
    return spec


def get_method(name: str) -> MethodSpec:
    """Look up a registered method, with a one-line error listing the known names."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise ScaugInputError(
            f"unknown method {name!r}; known methods: {', '.join(sorted(_REGISTRY))}"
        ) from None


def methods() -> pd.DataFrame:
    """Table of the registered methods.

    Examples
    --------
    >>> import scaug
    >>> "smote" in scaug.methods().index
    True
    """
    rows = [
        {
            "kind": s.kind,
            "conditional": s.conditional,
            "min_cells": s.min_cells,
            "description": s.description,
            "reference": s.reference,
        }
        for s in _REGISTRY.values()
    ]
    return pd.DataFrame(rows, index=pd.Index(list(_REGISTRY), name="method"))


_SEED_STUDY = "Zheng et al. 2025; imbalanced-learn"
for _name, _desc, _min in [
    ("random_oversample", "duplicate randomly chosen cells of the label", 1),
    ("smote", "SMOTE: interpolate between a cell and one of its k nearest same-label neighbours", 2),
    ("borderline_smote", "Borderline-SMOTE: SMOTE seeded only from cells near other labels", 2),
    ("adasyn", "ADASYN: SMOTE weighted towards cells surrounded by other labels", 2),
]:
    register_method(
        _name,
        _lazy(".resample._imblearn", "train_" + _name),
        kind="resampling",
        description=_desc,
        min_cells=_min,
        reference=_SEED_STUDY,
    )

_MAROUF = "Marouf et al. 2020, Nat Commun 11:166 (scGAN, cscGAN)"
register_method(
    "cscgan",
    _lazy(".models.cscgan", "train_cscgan"),
    kind="deep",
    description="conditional Wasserstein GAN (projection critic, conditional batch norm); counts out; "
    "labels of 1-19 cells fitted few-shot; trains from a backed AnnData",
    min_cells=1,
    reference=_MAROUF,
    backed=True,
)
register_method(
    "scgan",
    _lazy(".models.scgan", "train_scgan"),
    kind="deep",
    description="unconditional Wasserstein GAN; cells labelled by a classifier trained on real cells",
    min_cells=5,
    conditional=False,
    reference=_MAROUF,
)
register_method(
    "garage",
    _lazy(".models.garage", "train_garage"),
    kind="deep",
    description="graph-attention seed cells (rare-type priority) + cscGAN seeded with them; counts out; "
    "labels of 1-19 cells fitted few-shot",
    min_cells=1,
    reference="GARAGE (graph attention seed selection + seeded conditional GAN); Marouf et al. 2020",
)
register_method(
    "scvi",
    _lazy(".models.scvi._methods", "train_scvi"),
    kind="deep",
    description="scVI: latents drawn from the label's region of the latent space (a Gaussian of its "
    "cells' posteriors; few-cell labels borrow its shape), decoded, NB counts; counts out",
    min_cells=1,
    reference="Lopez et al. 2018 (scVI); scvi-tools",
)
register_method(
    "scvi_ppc",
    _lazy(".models.scvi._methods", "train_scvi_ppc"),
    kind="deep",
    description="scVI posterior predictive samples of the label's own real cells (NB likelihood); counts out",
    min_cells=1,
    reference="Lopez et al. 2018 (scVI); scvi-tools posterior_predictive_sample",
)

_ZHENG = "Zheng et al. 2025 (class-imbalance comparison: per-class GAN, per-dataset VAE)"
register_method(
    "gan",
    _lazy(".models.study", "train_gan"),
    kind="deep",
    description="the comparison study's GAN: one MLP generator/discriminator pair (BCE) per generated "
    "label, on log-normalised HVGs; counts out",
    min_cells=1,
    reference=_ZHENG,
    per_label=True,
)
register_method(
    "vae",
    _lazy(".models.study", "train_vae"),
    kind="deep",
    description="the comparison study's MLP VAE of a dataset, conditioned on the label, on log-normalised "
    "HVGs; counts out",
    min_cells=1,
    reference=_ZHENG,
)
register_method(
    "activa",
    _lazy(".models.activa", "train_activa"),
    kind="deep",
    description="ACTIVA: introspective VAE (encoder = adversary with margin m) with an ACTINN cell-type "
    "loss; latents from the label's region of the latent space; counts out",
    min_cells=1,
    reference="Heydari et al. 2021 (ACTIVA), Bioinformatics",
)
