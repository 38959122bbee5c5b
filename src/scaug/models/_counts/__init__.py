"""Count output shared by every count generator: library sizes, count draws, profile sampling."""

from ._draw import CountSampler, draw_counts, poisson_csr, sample_counts
from ._library import draw_library_sizes, library_sizes_by_label
from ._profiles import mean_profiles, sample_from_profiles, with_columns
from ._rowstack import RowStack

__all__ = [
    "CountSampler",
    "RowStack",
    "draw_counts",
    "draw_library_sizes",
    "library_sizes_by_label",
    "mean_profiles",
    "poisson_csr",
    "sample_counts",
    "sample_from_profiles",
    "with_columns",
]
