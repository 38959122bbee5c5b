"""scaug: synthetic single-cell RNA-seq for data augmentation, above all of rare cell types."""

from importlib import import_module
from importlib.metadata import version

from . import datasets, pp, tl
from ._generator import Generator
from ._registry import MethodSpec, methods, register_method
from ._validation import ScaugInputError

__version__ = version("scaug")

# Submodules that pull in torch, scvi-tools or matplotlib load on first use, so `import scaug` is fast.
_LAZY = {"models", "pl", "metrics", "bench"}


def __getattr__(name: str):
    if name in _LAZY:
        return import_module(f".{name}", __name__)
    raise AttributeError(f"module 'scaug' has no attribute {name!r}")


__all__ = [
    "Generator",
    "MethodSpec",
    "ScaugInputError",
    "datasets",
    "methods",
    "pp",
    "register_method",
    "tl",
    *sorted(_LAZY),
]
