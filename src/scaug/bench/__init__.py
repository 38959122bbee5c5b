"""Benchmarks: does augmentation help classify rare cell types? Tidy DataFrames; ``scaug bench`` on the CLI."""

from ._downsampling import downsampling
from ._imbalance import imbalance
from ._presets import quick_settings, summarise
from ._speed import speed

__all__ = ["downsampling", "imbalance", "quick_settings", "speed", "summarise"]
