"""GARAGE: graph-attention seed selection with rare-type priority + a seeded conditional WGAN-GP."""

from .._gan import RarePrioritySplitter, rare_priority_weights
from ._model import GARAGE
from ._module import GarageModule
from ._seeds import SeedSelector

__all__ = ["GARAGE", "GarageModule", "RarePrioritySplitter", "SeedSelector", "rare_priority_weights"]
