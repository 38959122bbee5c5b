"""The comparison study's GAN module: one generator/discriminator pair per label it generates."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn
from torch.nn import functional as F

from ._networks import discriminator, generator
from ._scaling import MinMaxScaling


class StudyGANModule(BaseModuleClass):
    """Independent GANs, one per label, over scaled log-normalised expression (Zheng et al. 2025).

    Pair ``k`` (generator ``generators[k]``, discriminator ``discriminators[k]``) learns label
    ``pair_labels[k]`` from that label's cells only: nothing is shared between labels, so a label of
    a few cells has a GAN trained on those few cells. The generator maps standard normal noise to
    values in (-1, 1) (tanh); the discriminator gives the probability that a cell is real (sigmoid),
    trained with binary cross-entropy.

    Parameters
    ----------
    n_input
        Number of modelled genes.
    n_labels
        Number of labels of the registered data.
    pair_labels
        Codes of the labels that get a pair, in the order of the pairs.
    gene_index
        Columns of the registered matrix that are modelled.
    log_normalise
        Counts in (log-normalised before scaling); ``False``: a continuous space.
    n_noise
        Dimension of the generator's noise (study: 100).
    n_hidden_generator, n_hidden_discriminator
        Hidden widths (study: 256, 512 and 512, 256).

    Examples
    --------
    >>> import torch
    >>> m = StudyGANModule(50, 3, pair_labels=[2], n_hidden_generator=(8,), n_hidden_discriminator=(8,))
    >>> m.generate(torch.tensor([2, 2])).shape
    torch.Size([2, 50])
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int,
        *,
        pair_labels: Sequence[int],
        gene_index: Sequence[int] | None = None,
        log_normalise: bool = True,
        n_noise: int = 100,
        n_hidden_generator: Sequence[int] = (256, 512),
        n_hidden_discriminator: Sequence[int] = (512, 256),
    ):
        super().__init__()
        self.n_input = n_input
        self.n_noise = n_noise
        self.scaling = MinMaxScaling(n_input, gene_index=gene_index, log_normalise=log_normalise)
        self.generators = nn.ModuleList(
            generator(n_noise, n_input, tuple(n_hidden_generator)) for _ in pair_labels
        )
        self.discriminators = nn.ModuleList(
            discriminator(n_input, tuple(n_hidden_discriminator)) for _ in pair_labels
        )
        pair_of_label = torch.full((n_labels,), -1, dtype=torch.long)
        pair_of_label[torch.as_tensor(list(pair_labels), dtype=torch.long)] = torch.arange(len(pair_labels))
        self.register_buffer("pair_of_label", pair_of_label)

    def pairs(self, labels: torch.Tensor) -> torch.Tensor:
        """The pair of each label code (``-1``: the label has no pair)."""
        return self.pair_of_label[labels]

    def latent(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Standard normal noise, one row per cell of ``labels``."""
        return torch.randn(len(labels), self.n_noise, generator=rng, device=labels.device)

    def generate(
        self, labels: torch.Tensor, z: torch.Tensor | None = None, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """Scaled values of cells of ``labels``, each from its label's generator."""
        if z is None:
            z = self.latent(labels, rng)
        pairs = self.pairs(labels)
        if (pairs < 0).any():
            raise ValueError("a label without a generator/discriminator pair was asked for")
        out = z.new_empty(len(z), self.n_input)
        for k in torch.unique(pairs).tolist():
            rows = pairs == k
            out[rows] = self.generators[k](z[rows])
        return out

    def discriminator_loss(self, real: torch.Tensor, fake: torch.Tensor, pair: int) -> LossOutput:
        """BCE of pair ``pair``'s discriminator: real cells labelled 1, generated cells 0."""
        d_real, d_fake = self.discriminators[pair](real), self.discriminators[pair](fake)
        loss = F.binary_cross_entropy(d_real, torch.ones_like(d_real)) + F.binary_cross_entropy(
            d_fake, torch.zeros_like(d_fake)
        )
        return LossOutput(
            loss=loss,
            n_obs_minibatch=len(real),
            extra_metrics={"d_real": d_real.mean().detach(), "d_fake": d_fake.mean().detach()},
        )

    def generator_loss(self, fake: torch.Tensor, pair: int) -> torch.Tensor:
        """BCE of generated cells labelled real (the non-saturating generator loss)."""
        d_fake = self.discriminators[pair](fake)
        return F.binary_cross_entropy(d_fake, torch.ones_like(d_fake))

    # -- scvi-tools module interface -----------------------------------------------------------

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {
            "x": tensors[REGISTRY_KEYS.X_KEY],
            "labels": tensors[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long(),
        }

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"labels": inference_outputs["labels"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Real cells of a minibatch as the networks see them (scaled modelled genes)."""
        return {"x": self.scaling(x), "labels": labels}

    @auto_move_data
    def generative(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generated cell per real cell of the minibatch, from the generator of its label."""
        return {"x": self.generate(labels)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
    ) -> LossOutput:
        """Discriminator loss of a minibatch of one label (see :meth:`discriminator_loss`)."""
        pairs = torch.unique(self.pairs(inference_outputs["labels"]))
        if len(pairs) != 1 or pairs.item() < 0:
            raise ValueError("the loss is defined for a minibatch of one label that has a pair")
        return self.discriminator_loss(inference_outputs["x"], generative_outputs["x"], int(pairs.item()))

    @torch.inference_mode()
    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Generated scaled values for ``labels`` (no gradients)."""
        return self.generate(labels, rng=rng)
