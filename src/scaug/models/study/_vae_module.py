"""The comparison study's VAE module: an MLP conditional VAE over scaled log-normalised expression."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch.distributions import Normal, kl_divergence
from torch.nn import functional as F

from ._networks import generator, mlp
from ._scaling import MinMaxScaling


class StudyVAEModule(BaseModuleClass):
    """Conditional VAE (Kingma & Welling 2014; Sohn et al. 2015) of one dataset, all labels together.

    The encoder reads a cell's scaled values and its one-hot label (genes + labels -> 512 -> 256 ->
    mean and log-variance of the latent); the decoder is the study GAN's generator fed the latent
    and the one-hot label (-> 256 -> 512 -> genes, tanh). The loss is the textbook one: squared
    error summed over genes plus the KL divergence from the standard normal prior. Every weight is
    shared between labels, so a label of a few cells borrows the others' decoder and only its
    label input is specific to it.

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

    Examples
    --------
    >>> import torch
    >>> m = StudyVAEModule(50, 3, n_latent=4, n_hidden=(16, 8))
    >>> m.generate(torch.tensor([0, 2])).shape
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
    ):
        super().__init__()
        self.n_labels = n_labels
        self.n_latent = n_latent
        self.scaling = MinMaxScaling(n_input, gene_index=gene_index, log_normalise=log_normalise)
        self.encoder = mlp([n_input + n_labels, *n_hidden, 2 * n_latent])
        self.decoder = generator(n_latent + n_labels, n_input, tuple(reversed(tuple(n_hidden))))

    def _with_label(self, h: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return torch.cat([h, F.one_hot(labels, self.n_labels).to(h.dtype)], dim=1)

    def latent(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Draws from the standard normal prior, one row per cell of ``labels``."""
        return torch.randn(len(labels), self.n_latent, generator=rng, device=labels.device)

    def generate(
        self, labels: torch.Tensor, z: torch.Tensor | None = None, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """Scaled values of cells of ``labels``: the decoder's output at prior draws ``z``."""
        if z is None:
            z = self.latent(labels, rng)
        return self.decoder(self._with_label(z, labels))

    # -- scvi-tools module interface -----------------------------------------------------------

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "labels": tensors[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long(),
        }

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"z": inference_outputs["z"], "labels": inference_outputs["labels"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Scaled cells, their approximate posterior ``qz`` and a reparameterised draw ``z`` from it."""
        x = self.scaling(x)
        mean, log_var = self.encoder(self._with_label(x, labels)).chunk(2, dim=1)
        qz = Normal(mean, torch.exp(0.5 * log_var))
        return {"x": x, "qz": qz, "z": qz.rsample(), "labels": labels}

    @auto_move_data
    def generative(self, z: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Decoded scaled values of latents ``z`` for ``labels``."""
        return {"x": self.generate(labels, z=z)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
        kl_weight: float = 1.0,
    ) -> LossOutput:
        """Mean over cells of squared error (summed over genes) + ``kl_weight`` x KL(q(z|x) || N(0, I))."""
        reconstruction = ((generative_outputs["x"] - inference_outputs["x"]) ** 2).sum(dim=1)
        qz = inference_outputs["qz"]
        kl = kl_divergence(qz, Normal(torch.zeros_like(qz.loc), torch.ones_like(qz.scale))).sum(dim=1)
        return LossOutput(
            loss=(reconstruction + kl_weight * kl).mean(),
            reconstruction_loss=reconstruction,
            kl_local=kl,
            n_obs_minibatch=len(reconstruction),
        )

    @torch.inference_mode()
    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Scaled values of new cells of ``labels`` from the prior (no gradients)."""
        return self.generate(labels, rng=rng)
