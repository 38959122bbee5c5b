"""The class-imbalance comparison's simple generators (Zheng et al. 2025): a GAN per label, one VAE."""

from functools import partial

from ._fit import fit
from ._gan import StudyGAN
from ._gan_batches import LabelBatchSampler, LabelBatchSplitter
from ._gan_module import StudyGANModule
from ._gan_trainingplan import BCEGANTrainingPlan
from ._model import StudyModelBase
from ._scaling import MinMaxScaling
from ._vae import StudyVAE
from ._vae_module import StudyVAEModule

#: The registry's train functions (option checks and seeding: ``fit``).
train_gan = partial(fit, StudyGAN)
train_vae = partial(fit, StudyVAE)

__all__ = [
    "BCEGANTrainingPlan",
    "LabelBatchSampler",
    "LabelBatchSplitter",
    "MinMaxScaling",
    "StudyGAN",
    "StudyGANModule",
    "StudyModelBase",
    "StudyVAE",
    "StudyVAEModule",
]
