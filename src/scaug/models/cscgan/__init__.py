"""scGAN and cscGAN (Marouf et al. 2020), and the WGAN-GP pieces other GAN methods reuse."""

from ._counts import draw_library_sizes, library_sizes_by_label, sample_counts
from ._genes import select_genes
from ._layers import LSN, ConditionalBatchNorm1d
from ._methods import PUBLISHED
from ._model import CSCGAN, SCGAN, GANModelBase
from ._module import GANModule
from ._networks import GeneratorNetwork, ProjectionCritic
from ._trainingplan import GANTrainingError, WGANGPTrainingPlan

__all__ = [
    "CSCGAN",
    "LSN",
    "PUBLISHED",
    "SCGAN",
    "ConditionalBatchNorm1d",
    "GANModelBase",
    "GANModule",
    "GANTrainingError",
    "GeneratorNetwork",
    "ProjectionCritic",
    "WGANGPTrainingPlan",
    "draw_library_sizes",
    "library_sizes_by_label",
    "sample_counts",
    "select_genes",
]
