"""cscGAN (Marouf et al. 2020): the label-conditional scGAN."""

from .._gan import PUBLISHED
from ._model import CSCGAN

__all__ = ["CSCGAN", "PUBLISHED"]
