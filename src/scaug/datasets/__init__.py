"""Datasets: a simulator with ground truth (and loaders of packaged data)."""

from ._simulate import simulate

__all__ = ["simulate"]
