"""Count output shared by every count generator: library sizes, count draws, profile sampling."""

from ..._rowstack import RowStack
from ._draw import CountSampler, dense_draw_csr, draw_counts, generator_on, poisson_csr, sample_counts
from ._library import draw_library_sizes, library_sizes_by_label
from ._profiles import mean_profiles, sample_from_profiles, with_columns

__all__ = [
    "CountSampler",
    "RowStack",
    "dense_draw_csr",
    "draw_counts",
    "draw_library_sizes",
    "generator_on",
    "library_sizes_by_label",
    "mean_profiles",
    "poisson_csr",
    "sample_counts",
    "sample_from_profiles",
    "with_columns",
]
