"""cscGAN (Marouf et al. 2020): the label-conditional scGAN."""

from functools import partial

from .._gan import PUBLISHED, fit
from ._model import CSCGAN

#: The registry's train function: presets, option checks and seeding are the GANs' (``fit``).
train_cscgan = partial(fit, CSCGAN)

__all__ = ["CSCGAN", "PUBLISHED"]
