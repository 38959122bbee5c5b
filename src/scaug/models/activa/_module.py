"""ACTIVA's networks (encoder = adversary, decoder = generator, ACTINN classifier) and its loss terms."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch.nn import functional as F

from .._counts import draw_counts
from ..study._networks import generator, mlp
from ..study._scaling import MinMaxScaling

#: ACTINN's classifier widths (Ma & Pellegrini 2020), as ACTIVA uses it.
ACTINN_HIDDEN = (100, 50, 25)


def kl_divergence(mean: torch.Tensor, log_var: torch.Tensor) -> torch.Tensor:
    """``L_REG``: KL(N(mean, exp(log_var)) || N(0, I)) per cell, summed over latent dimensions.

    Examples
    --------
    >>> import torch
    >>> kl_divergence(torch.zeros(2, 3), torch.zeros(2, 3)).tolist()
    [0.0, 0.0]
    """
    return 0.5 * (mean.pow(2) + log_var.exp() - 1 - log_var).sum(dim=1)


def encoder_loss(
    kl_real: torch.Tensor,
    kl_reconstructed: torch.Tensor,
    kl_generated: torch.Tensor,
    reconstruction: torch.Tensor,
    cell_type: torch.Tensor,
    *,
    margin: float,
    alpha1: float,
    alpha2: float,
) -> torch.Tensor:
    r"""The encoder's loss (ACTIVA eq. 3), averaged over cells.

    .. math::
        L_\text{Enc} = L_\text{REG}(z) + \alpha_1 \sum_{s \in \{r, p\}} [m - L_\text{REG}(z_s)]^+
        + \alpha_2 (L_\text{AE} + L_\text{CT})

    The encoder maps real cells near the prior (small ``L_REG(z)``) and pushes reconstructed
    (``r``) and generated (``p``) cells away from it, but only until their KL reaches the margin
    ``m``: past it a fake earns the encoder nothing, so it cannot win by pushing fakes to infinity.
    Every argument is per cell (the KL terms from :func:`kl_divergence`).

    Examples
    --------
    >>> import torch
    >>> zero = torch.zeros(1)
    >>> encoder_loss(zero, torch.tensor([3.0]), torch.tensor([20.0]), zero, zero, margin=10, alpha1=1, alpha2=1)
    tensor(7.)
    """
    hinge = F.relu(margin - kl_reconstructed) + F.relu(margin - kl_generated)
    return (kl_real + alpha1 * hinge + alpha2 * (reconstruction + cell_type)).mean()


def decoder_loss(
    kl_reconstructed: torch.Tensor,
    kl_generated: torch.Tensor,
    reconstruction: torch.Tensor,
    cell_type: torch.Tensor,
    *,
    alpha1: float,
    alpha2: float,
) -> torch.Tensor:
    r"""The decoder's (generator's) loss (ACTIVA eq. 4), averaged over cells.

    .. math::
        L_\text{Gen} = \alpha_1 \sum_{s \in \{r, p\}} L_\text{REG}(\text{Enc}(x_s))
        + \alpha_2 (L_\text{AE} + L_\text{CT})

    The decoder wants the encoder to take its cells for real ones (small KL), while reconstructing
    real cells and keeping their cell type. ``kl_*`` must be differentiable through the decoder's
    output (the encoder itself is not updated by this loss).

    Examples
    --------
    >>> import torch
    >>> one = torch.ones(2)
    >>> decoder_loss(one, one, one, one, alpha1=1, alpha2=0.5)
    tensor(3.)
    """
    return (alpha1 * (kl_reconstructed + kl_generated) + alpha2 * (reconstruction + cell_type)).mean()


def cell_type_loss(logits: torch.Tensor, target_logits: torch.Tensor) -> torch.Tensor:
    """``L_CT``: squared distance between the classifier's outputs for reconstructed and real cells, per cell.

    As in ACTIVA's published code (its outputs are the logits of the ACTINN classifier).

    Examples
    --------
    >>> import torch
    >>> cell_type_loss(torch.tensor([[1.0, 2.0]]), torch.tensor([[0.0, 0.0]])).tolist()
    [5.0]
    """
    return (logits - target_logits).pow(2).sum(dim=1)


class ACTIVAModule(BaseModuleClass):
    """ACTIVA's networks: encoder (also the adversary), decoder (the generator), ACTINN classifier.

    Cells are log-normalised and scaled per gene into [-1, 1] (:class:`~scaug.models.study.MinMaxScaling`,
    as for the comparison study's VAE). Encoder genes -> ``n_hidden`` -> mean and log-variance of the
    latent; decoder latent -> reversed ``n_hidden`` -> genes, tanh; classifier genes -> 100 -> 50 ->
    25 -> labels (ACTINN). Encoder and decoder do not see the label, as in the paper: the label
    enters through the classifier's cell-type loss during training and, at generation, through the
    label's region of the latent space (buffers ``region_centres``, ``region_factors``: centre and
    Cholesky factor per label, set by the model after training and saved with the weights).

    Parameters
    ----------
    n_input
        Number of modelled genes.
    n_labels
        Number of labels.
    gene_index
        Columns of the registered matrix that are modelled.
    log_normalise
        Counts in (log-normalised before scaling); ``False``: a continuous space.
    n_latent
        Dimension of the latent space.
    n_hidden
        Hidden widths of the encoder (the decoder's are reversed).
    n_hidden_classifier
        Hidden widths of the classifier.

    Examples
    --------
    >>> import torch
    >>> m = ACTIVAModule(50, 3, n_latent=4, n_hidden=(16, 8))
    >>> mean, log_var = m.encode(torch.zeros(2, 50))
    >>> m.decoder(m.region_latent(torch.tensor([0, 2]))).shape
    torch.Size([2, 50])
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int,
        *,
        gene_index: Sequence[int] | None = None,
        log_normalise: bool = True,
        n_latent: int = 32,
        n_hidden: Sequence[int] = (512, 256),
        n_hidden_classifier: Sequence[int] = ACTINN_HIDDEN,
    ):
        super().__init__()
        self.n_labels = n_labels
        self.n_latent = n_latent
        self.scaling = MinMaxScaling(n_input, gene_index=gene_index, log_normalise=log_normalise)
        self.encoder = mlp([n_input, *n_hidden, 2 * n_latent])
        self.decoder = generator(n_latent, n_input, tuple(reversed(tuple(n_hidden))))
        self.classifier = mlp([n_input, *n_hidden_classifier, n_labels])
        # The prior until the model fits the label regions.
        self.register_buffer("region_centres", torch.zeros(n_labels, n_latent))
        self.register_buffer("region_factors", torch.eye(n_latent).repeat(n_labels, 1, 1))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the approximate posterior of scaled cells ``x``."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        # Generated cells far from the data can drive the log-variance to overflow exp().
        return mean, log_var.clamp(-20.0, 20.0)

    def kl(self, x: torch.Tensor) -> torch.Tensor:
        """``L_REG`` of scaled cells ``x`` as the encoder sees them (per cell)."""
        return kl_divergence(*self.encode(x))

    def counted(
        self, x: torch.Tensor, totals: torch.Tensor, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """Scaled generated cells ``x`` after drawing Poisson counts at library sizes ``totals``, as sampling does.

        The gradient passes straight through the draw. The encoder, as adversary, then compares
        real cells with generated ones as they will be output (with counting noise), not with the
        decoder's smooth expected values, which it could tell apart by their smoothness alone.
        A continuous space has no counts: ``x`` is returned as it is.
        """
        s = self.scaling
        if not s.log_normalise:
            return x
        rates = s.profiles(x.detach()) * (totals[:, None] / s.target_sum)
        values = torch.log1p(draw_counts(rates, "poisson", rng) * (s.target_sum / totals[:, None]))
        return x + ((values - s.lower) / s._span() * 2 - 1 - x).detach()

    def set_regions(self, centres: np.ndarray, covariances: np.ndarray) -> None:
        """Set each label's latent region (centres: labels x dims; covariances: labels x dims x dims).

        Labels without a region (NaN, no cells) keep the prior.
        """
        for k in range(self.n_labels):
            if np.isnan(centres[k]).any():
                continue
            factor = np.linalg.cholesky(covariances[k])
            self.region_centres[k] = torch.as_tensor(centres[k], dtype=torch.float32)
            self.region_factors[k] = torch.as_tensor(factor, dtype=torch.float32)

    def region_latent(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Latents drawn from the regions of ``labels``, on the module's device (noise from ``rng`` on the CPU)."""
        device = self.region_centres.device
        eps = torch.randn(len(labels), self.n_latent, generator=rng).to(device)
        labels = labels.to(device)
        return self.region_centres[labels] + torch.einsum("nij,nj->ni", self.region_factors[labels], eps)

    def prior_latent(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``n`` draws from the standard normal prior (on the CPU)."""
        return torch.randn(n, self.n_latent, generator=rng)

    # -- scvi-tools module interface -----------------------------------------------------------

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"x": tensors[REGISTRY_KEYS.X_KEY]}

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"z": inference_outputs["z"]}

    @auto_move_data
    def inference(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scaled cells, their posterior mean and log-variance, and a reparameterised draw ``z``."""
        x = self.scaling(x)
        mean, log_var = self.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return {"x": x, "mean": mean, "log_var": log_var, "z": z}

    @auto_move_data
    def generative(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """Decoded scaled values of latents ``z``."""
        return {"x": self.decoder(z)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
    ) -> LossOutput:
        """The VAE loss of the warm-up: squared error summed over genes + ``L_REG``, mean over cells."""
        reconstruction = ((generative_outputs["x"] - inference_outputs["x"]) ** 2).sum(dim=1)
        kl = kl_divergence(inference_outputs["mean"], inference_outputs["log_var"])
        return LossOutput(
            loss=(reconstruction + kl).mean(),
            reconstruction_loss=reconstruction,
            kl_local=kl,
            n_obs_minibatch=len(reconstruction),
        )
