"""Training ACTIVA for scaug's registry: the paper's preset or the CPU default, option checks, seeding."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..._validation import ScaugInputError
from ..study._fit import fit
from ._model import ACTIVA
from ._trainingplan import ACTIVATrainingError

if TYPE_CHECKING:
    from anndata import AnnData

#: The paper's settings (Heydari et al. 2021): latent 128, encoder 1024-512-256 (decoder reversed),
#: Adam 2e-4 (0.9, 0.999), batches of 128, margin 110, alpha1 1, alpha2 0.5, 10 VAE warm-up epochs
#: then the introspective phase, a decoder of scaled values with its squared error unweighted and
#: without counting noise:
#: ``model_kwargs={"preset": "paper"}``. Epochs stay the default unless
#: ``train_kwargs={"max_epochs": ...}`` asks for more.
PAPER = {
    "model": {"n_latent": 128, "n_hidden": (1024, 512, 256), "decoder_output": "scaled"},
    "train": {
        "lr": 2e-4,
        "betas": (0.9, 0.999),
        "batch_size": 128,
        "margin": 110.0,
        "alpha1": 1.0,
        "alpha2": 0.5,
        "reconstruction_weight": 1.0,
        "count_noise": False,
        "warmup_epochs": 10,
    },
}
PRESETS = {"cpu": {"model": {}, "train": {}}, "paper": PAPER}


def train_activa(
    adata: AnnData,
    *,
    labels_key: str,
    random_state: int,
    model_kwargs: dict,
    train_kwargs: dict,
) -> ACTIVA:
    """Set up ``adata``, build :class:`ACTIVA` with a preset plus ``model_kwargs`` and train it, seeded.

    ``model_kwargs["preset"]``: ``"cpu"`` (default: the model's defaults, smaller and faster) or
    ``"paper"`` (:data:`PAPER`); explicit options override the preset's.
    """
    model_kwargs = dict(model_kwargs)
    preset = model_kwargs.pop("preset", "cpu")
    if preset not in PRESETS:
        raise ScaugInputError(f"unknown preset {preset!r}; use one of {list(PRESETS)}")
    model_kwargs = {**PRESETS[preset]["model"], **model_kwargs}
    train_kwargs = {**PRESETS[preset]["train"], **train_kwargs}
    try:
        return fit(
            ACTIVA,
            adata,
            labels_key=labels_key,
            random_state=random_state,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
        )
    except ACTIVATrainingError as err:
        raise ScaugInputError(str(err)) from None
