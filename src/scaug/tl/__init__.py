"""Tools: train generators, generate and augment (scanpy-style, AnnData first)."""

from ._augment import augment
from ._class_weights import class_weights
from ._fidelity import fidelity
from ._generate import generate
from ._train import train_generator

__all__ = ["augment", "class_weights", "fidelity", "generate", "train_generator"]
