"""Classical resampling (imbalanced-learn) behind the scaug method interface."""

from ._imblearn import ResamplingGenerator

__all__ = ["ResamplingGenerator"]
