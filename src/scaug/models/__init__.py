"""Deep generative models (scvi-tools anatomy: module, training plan, model)."""

from ._counts import sample_counts
from ._gan import GANModelBase, GANModule, WGANGPTrainingPlan
from ._load import load_model
from .activa import ACTIVA
from .cscgan import CSCGAN
from .scgan import SCGAN
from .study import StudyGAN, StudyVAE

__all__ = [
    "ACTIVA",
    "CSCGAN",
    "GARAGE",
    "SCGAN",
    "SCVIPPC",
    "GANModelBase",
    "GANModule",
    "SCVILatent",
    "StudyGAN",
    "StudyVAE",
    "WGANGPTrainingPlan",
    "load_model",
    "sample_counts",
]


def __getattr__(name: str):
    # GARAGE needs torch-geometric: imported on first use, not with every model.
    if name == "GARAGE":
        from .garage import GARAGE

        return GARAGE
    if name in ("SCVIPPC", "SCVILatent"):
        from . import scvi

        return getattr(scvi, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
