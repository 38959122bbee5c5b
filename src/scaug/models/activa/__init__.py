"""ACTIVA (Heydari et al. 2021): a conditional introspective VAE with an ACTINN cell-type classifier."""

from ._fit import PAPER, PRESETS, train_activa
from ._model import ACTIVA
from ._module import ACTIVAModule, cell_type_loss, decoder_loss, encoder_loss, kl_divergence
from ._trainingplan import IntrospectiveTrainingPlan

__all__ = [
    "ACTIVA",
    "PAPER",
    "PRESETS",
    "ACTIVAModule",
    "IntrospectiveTrainingPlan",
    "cell_type_loss",
    "decoder_loss",
    "encoder_loss",
    "kl_divergence",
    "train_activa",
]
