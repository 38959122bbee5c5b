"""The scGAN / cscGAN module: generator and critic in one ``BaseModuleClass`` (saved together)."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data

from ._networks import GeneratorNetwork, ProjectionCritic


class GANModule(BaseModuleClass):
    """Wasserstein GAN over cells: a generator of expression profiles and a critic.

    Real cells enter as library-size-normalised profiles (rows summing to ``library_size``) when the
    data are counts, unchanged when they are a continuous space (e.g. log-normalised values).

    Subclasses extend the generator input by overriding :meth:`latent` (and passing
    ``n_extra_input``), e.g. to concatenate noise with an embedding of a seed cell.

    Parameters
    ----------
    n_input
        Number of modelled genes.
    n_labels
        Number of labels.
    gene_index
        Columns of the registered data matrix that are modelled (default: all ``n_input``
        columns); the data loader yields all genes, the networks see these.
    conditional
        Condition generator (conditional batch norm) and critic (projection) on the label (cscGAN);
        ``False``: scGAN.
    n_latent
        Dimension of the noise.
    n_extra_input
        Extra generator inputs that :meth:`latent` appends to the noise (``0`` here).
    n_hidden_generator, n_hidden_critic
        Hidden layer widths.
    library_size
        Row sum of normalised profiles; ``None`` for a continuous space (no normalisation).
    log_critic_input
        Let the critic score ``log1p`` of profiles (see :class:`ProjectionCritic`).

    Examples
    --------
    >>> import torch
    >>> m = GANModule(50, 3, n_hidden_generator=(32,), n_hidden_critic=(32,))
    >>> m.generate(torch.tensor([0, 2])).shape
    torch.Size([2, 50])
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int,
        *,
        gene_index: Sequence[int] | None = None,
        conditional: bool = True,
        n_latent: int = 128,
        n_extra_input: int = 0,
        n_hidden_generator: Sequence[int] = (256, 512, 1024),
        n_hidden_critic: Sequence[int] = (1024, 512, 256),
        library_size: float | None = 20_000.0,
        log_critic_input: bool = True,
    ):
        super().__init__()
        self.n_input = n_input
        self.n_labels = n_labels
        self.conditional = conditional
        self.n_latent = n_latent
        self.library_size = library_size
        index = (
            torch.arange(n_input)
            if gene_index is None
            else torch.as_tensor(list(gene_index), dtype=torch.long)
        )
        self.register_buffer("gene_index", index)
        n_cond = n_labels if conditional else 0
        self.generator = GeneratorNetwork(
            n_latent + n_extra_input,
            n_input,
            n_hidden=tuple(n_hidden_generator),
            n_labels=n_cond,
            library_size=library_size,
        )
        self.critic = ProjectionCritic(
            n_input,
            n_hidden=tuple(n_hidden_critic),
            n_labels=n_cond,
            log_input=log_critic_input and library_size is not None,
        )

    # -- the pieces the training plan and sampling use ---------------------------------------

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Real cells as the generator produces them: library-size normalised (counts) or unchanged."""
        if self.library_size is None:
            return x
        return x * (self.library_size / x.sum(dim=1, keepdim=True).clamp_min(1e-8))

    def latent(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Generator input for cells of ``labels``: standard normal noise (override to extend)."""
        return torch.randn(len(labels), self.n_latent, generator=rng, device=labels.device)

    def generate(
        self, labels: torch.Tensor, z: torch.Tensor | None = None, rng: torch.Generator | None = None
    ) -> torch.Tensor:
        """Profiles for cells of ``labels`` (from :meth:`latent` unless ``z`` is given)."""
        if z is None:
            z = self.latent(labels, rng)
        return self.generator(z, labels if self.conditional else None)

    def score(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Critic score of profiles ``x`` for ``labels``."""
        return self.critic(x, labels if self.conditional else None)

    def gradient_penalty(self, real: torch.Tensor, fake: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """WGAN-GP penalty: (‖∇ critic‖ - 1)² at random points between real and fake cells."""
        alpha = torch.rand(len(real), 1, device=real.device)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        # log1p inside the critic has an unbounded gradient at -1; mixes of non-negative profiles stay >= 0.
        (grad,) = torch.autograd.grad(self.score(mixed, labels).sum(), mixed, create_graph=True)
        return ((grad.norm(2, dim=1) - 1) ** 2).mean()

    # -- scvi-tools module interface -----------------------------------------------------------

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"x": tensors[REGISTRY_KEYS.X_KEY], "labels": _labels(tensors)}

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"labels": inference_outputs["labels"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Real cells of a minibatch (modelled genes), normalised as the generator's output."""
        return {"x": self.normalize(x[:, self.gene_index].float()), "labels": labels}

    @auto_move_data
    def generative(self, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generated cell per real cell of the minibatch, of the same label."""
        return {"x": self.generate(labels)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
        penalty: float = 10.0,
    ) -> LossOutput:
        """Critic loss of WGAN-GP: fake score - real score + ``penalty`` x gradient penalty."""
        real, fake, labels = inference_outputs["x"], generative_outputs["x"], inference_outputs["labels"]
        real_score = self.score(real, labels).mean()
        fake_score = self.score(fake, labels).mean()
        gp = self.gradient_penalty(real, fake, labels)
        return LossOutput(
            loss=fake_score - real_score + penalty * gp,
            n_obs_minibatch=len(real),
            extra_metrics={"wasserstein": real_score - fake_score, "gradient_penalty": gp},
        )

    @torch.inference_mode()
    def sample(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Generated profiles for ``labels`` (evaluation mode, no gradients)."""
        return self.generate(labels, rng=rng)


def _labels(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    return tensors[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long()
