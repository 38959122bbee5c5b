"""GARAGE: graph-attention seed selection with rare-type priority + a seeded conditional WGAN-GP."""

from functools import partial

from .._gan import RarePrioritySplitter, fit, rare_priority_weights
from ._model import GARAGE
from ._module import GarageModule
from ._seeds import SeedSelector

#: The registry's train function: presets, option checks and seeding are the GANs' (``fit``).
train_garage = partial(fit, GARAGE)

__all__ = ["GARAGE", "GarageModule", "RarePrioritySplitter", "SeedSelector", "rare_priority_weights"]
