"""scGAN (Marouf et al. 2020): unconditional generation, cells labelled by a real-cell classifier."""

from ._model import SCGAN

__all__ = ["SCGAN"]
