"""Deep generative models (scvi-tools anatomy: module, training plan, model)."""

from ._load import load_model
from .cscgan import CSCGAN, SCGAN

__all__ = ["CSCGAN", "SCGAN", "load_model"]
