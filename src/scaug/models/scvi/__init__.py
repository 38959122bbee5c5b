"""scvi_ppc: scVI's posterior predictive of a label's own real cells (Lopez et al. 2018; scvi-tools)."""

from ._model import SCVIPPC

__all__ = ["SCVIPPC"]
