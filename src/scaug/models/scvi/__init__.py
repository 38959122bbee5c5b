"""scVI generators: the posterior predictive of a label's cells (scvi_ppc) and its latent region (scvi)."""

from ._label_region import label_regions, smoothed_draws
from ._latent_model import SCVILatent
from ._model import SCVIPPC

__all__ = ["SCVIPPC", "SCVILatent", "label_regions", "smoothed_draws"]
