"""Training a WGAN-GP model for scaug's registry: presets, option checks, seeding."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING

from ..._seeding import seeded
from ..._validation import ScaugInputError
from ._model import GANModelBase
from ._trainingplan import GANTrainingError

if TYPE_CHECKING:
    from anndata import AnnData

#: The published scGAN/cscGAN architecture and optimiser (Marouf et al. 2020), all genes detected in
#: 3 cells modelled, ReLU LSN output, a critic that scores generated profiles without count noise or
#: library sizes, and counts drawn by stochastic rounding (the generator has learnt the counting
#: noise itself): ``model_kwargs={"preset": "published"}``. Training steps stay the default unless
#: ``train_kwargs={"max_steps": ...}`` asks for the (much longer, GPU-scale) published schedule.
PUBLISHED = {
    "model": {
        "n_latent": 128,
        "n_hidden_generator": (256, 512, 1024),
        "n_hidden_critic": (1024, 512, 256),
        "library_size": 20_000.0,
        "log_critic_input": False,
        "n_top_genes": None,
        "output_activation": "relu",
        "condition_on_library": False,
        "count_sampler": "round",
        "few_shot_cells": 0,  # scaug's addition, not in the paper
    },
    "train": {"batch_size": 128, "lr": 1e-4, "n_critic": 5, "count_noise": False},
}
PRESETS = {"fast": {"model": {}, "train": {}}, "published": PUBLISHED}


def fit(
    cls: type[GANModelBase],
    adata: AnnData,
    *,
    labels_key: str,
    random_state: int,
    model_kwargs: dict,
    train_kwargs: dict,
) -> GANModelBase:
    """Set up ``adata``, build ``cls`` with a preset plus ``model_kwargs`` and train it, seeded.

    The seed is set for the run only (:func:`scaug._seeding.seeded`): the caller's random state
    and ``scvi.settings.seed`` are left as they were.
    """
    model_kwargs = dict(model_kwargs)
    preset = model_kwargs.pop("preset", "fast")
    if preset not in PRESETS:
        raise ScaugInputError(f"unknown preset {preset!r}; use one of {list(PRESETS)}")
    model_kwargs = {**PRESETS[preset]["model"], **model_kwargs}
    train_kwargs = {**PRESETS[preset]["train"], **train_kwargs}
    # Subclasses take cscGAN's options as **kwargs: accept both signatures.
    _check_kwargs((cls.__init__, GANModelBase.__init__), model_kwargs, "model_kwargs")
    _check_train_kwargs(cls, train_kwargs)
    with seeded(random_state):
        cls.setup_anndata(adata, labels_key=labels_key)
        model = cls(adata, **model_kwargs)
        try:
            model.train(**train_kwargs)
        except GANTrainingError as err:
            raise ScaugInputError(str(err)) from None
    return model


def _check_train_kwargs(cls: type[GANModelBase], train_kwargs: dict) -> None:
    """Options of the model's ``train``, scvi's Trainer and Lightning's Trainer are accepted."""
    import lightning.pytorch as pl
    import scvi

    known = {
        p
        for func in (cls.train, scvi.train.Trainer.__init__, pl.Trainer.__init__)
        for p in inspect.signature(func).parameters
    } - {"self", "trainer_kwargs", "kwargs"}
    unknown = sorted(set(train_kwargs) - known)
    if unknown:
        raise ScaugInputError(f"unknown train_kwargs {unknown} for {cls._method} (see {cls.__name__}.train)")


def _check_kwargs(funcs, kwargs: dict, what: str) -> None:
    known = [
        p
        for func in funcs
        for p, param in inspect.signature(func).parameters.items()
        if p not in ("self", "adata", "registry") and param.kind is not param.VAR_KEYWORD
    ]
    known = list(dict.fromkeys(known))
    unknown = sorted(set(kwargs) - set(known))
    if unknown:
        raise ScaugInputError(f"unknown {what} {unknown}; known: {known}")
