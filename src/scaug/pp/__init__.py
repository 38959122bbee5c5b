"""Preprocessing: methods that remove cells."""

from ._resample import resample

__all__ = ["resample"]
