"""Tools: train generators, generate and augment (scanpy-style, AnnData first)."""

from ._augment import augment
from ._fidelity import fidelity
from ._generate import generate
from ._train import train_generator

__all__ = ["augment", "fidelity", "generate", "train_generator"]
