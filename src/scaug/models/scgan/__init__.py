"""scGAN (Marouf et al. 2020): unconditional generation, cells labelled by a real-cell classifier."""

from functools import partial

from .._gan import fit
from ._model import SCGAN

#: The registry's train function: presets, option checks and seeding are the GANs' (``fit``).
train_scgan = partial(fit, SCGAN)

__all__ = ["SCGAN"]
