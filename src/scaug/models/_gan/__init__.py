"""The WGAN-GP machinery that scGAN, cscGAN and GARAGE share: networks, module, training plan, model base."""

from ._fit import PRESETS, PUBLISHED, fit
from ._layers import LSN, ConditionalBatchNorm1d
from ._model import DEFAULT_MAX_STEPS, GANModelBase
from ._module import GANModule
from ._networks import GeneratorNetwork, ProjectionCritic
from ._sampling import RarePrioritySplitter, rare_priority_weights
from ._trainingplan import GANTrainingError, WGANGPTrainingPlan

__all__ = [
    "DEFAULT_MAX_STEPS",
    "LSN",
    "PRESETS",
    "PUBLISHED",
    "ConditionalBatchNorm1d",
    "GANModelBase",
    "GANModule",
    "GANTrainingError",
    "GeneratorNetwork",
    "ProjectionCritic",
    "RarePrioritySplitter",
    "WGANGPTrainingPlan",
    "fit",
    "rare_priority_weights",
]
