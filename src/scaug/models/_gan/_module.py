"""The scGAN / cscGAN module: generator and critic in one ``BaseModuleClass`` (saved together)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import numpy as np
import torch
from scvi import REGISTRY_KEYS
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data

from .._counts import draw_counts
from ._networks import GeneratorNetwork, ProjectionCritic


class GANModule(BaseModuleClass):
    """Wasserstein GAN over cells: a generator of expression profiles and a critic.

    Real cells enter as library-size-normalised profiles (rows summing to ``library_size``) when the
    data are counts, unchanged when they are a continuous space (e.g. log-normalised values).

    With ``condition_on_library``, generator and critic also see each cell's (standardised log)
    library size: the generator makes a profile for a given library size, as real cells' profiles
    depend on theirs, and the critic judges the pair. Generated cells of a minibatch take the
    library sizes of its real cells.

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
    n_critic_classes
        Classes the conditional critic's projection tells apart (default ``n_labels``); a subclass
        that conditions the critic on more than the label returns them as ``critic_labels`` from
        :meth:`inference`.
    n_hidden_generator, n_hidden_critic
        Hidden layer widths.
    library_size
        Row sum of normalised profiles; ``None`` for a continuous space (no normalisation).
    log_critic_input
        Let the critic score ``log1p`` of profiles (see :class:`ProjectionCritic`).
    output_activation
        Output layer of the generator (see :class:`~scaug.models._gan.LSN`).
    condition_on_library
        Condition generator and critic on the library size (counts only; set the statistics of
        real library sizes with :meth:`set_library_sizes`).

    Examples
    --------
    >>> import torch
    >>> m = GANModule(50, 3, n_hidden_generator=(32,), n_hidden_critic=(32,))
    >>> m.generate(torch.tensor([0, 2]), library=torch.tensor([900.0, 1500.0])).shape
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
        n_critic_classes: int | None = None,
        n_hidden_generator: Sequence[int] = (256, 512, 1024),
        n_hidden_critic: Sequence[int] = (1024, 512, 256),
        library_size: float | None = 20_000.0,
        log_critic_input: bool = True,
        output_activation: Literal["softmax", "relu"] = "softmax",
        condition_on_library: bool = True,
    ):
        super().__init__()
        self.n_input = n_input
        self.n_labels = n_labels
        self.conditional = conditional
        self.n_latent = n_latent
        self.library_size = library_size
        self.condition_on_library = bool(condition_on_library) and library_size is not None
        index = (
            torch.arange(n_input)
            if gene_index is None
            else torch.as_tensor(list(gene_index), dtype=torch.long)
        )
        self.register_buffer("gene_index", index)
        # Mean and standard deviation of the real cells' log library sizes (see set_library_sizes).
        self.register_buffer("log_library", torch.tensor([0.0, 1.0]))
        n_cond = n_labels if conditional else 0
        n_critic_cond = (n_critic_classes or n_labels) if conditional else 0
        n_size = int(self.condition_on_library)
        self.generator = GeneratorNetwork(
            n_latent + n_extra_input + n_size,
            n_input,
            n_hidden=tuple(n_hidden_generator),
            n_labels=n_cond,
            library_size=library_size,
            activation=output_activation,
        )
        self.critic = ProjectionCritic(
            n_input,
            n_hidden=tuple(n_hidden_critic),
            n_labels=n_critic_cond,
            n_extra_input=n_size,
            log_input=log_critic_input and library_size is not None,
        )

    def set_library_sizes(self, library_sizes: np.ndarray) -> None:
        """Standardise library sizes by the log mean and spread of ``library_sizes`` (real cells)."""
        logs = np.log(np.maximum(np.asarray(library_sizes, dtype=np.float64), 1.0))
        stats = torch.tensor([logs.mean(), max(float(logs.std()), 1e-3)], dtype=self.log_library.dtype)
        self.log_library.copy_(stats)

    # -- the pieces the training plan and sampling use ---------------------------------------

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        """Real cells as the generator produces them: library-size normalised (counts) or unchanged."""
        if self.library_size is None:
            return x
        return x * (self.library_size / x.sum(dim=1, keepdim=True).clamp_min(1e-8))

    def counted(
        self,
        profiles: torch.Tensor,
        library: torch.Tensor,
        sampler: Literal["poisson", "round"] = "poisson",
        rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """``profiles`` turned into counts at ``library`` as sampling does, then normalised as real cells.

        The gradient passes straight through the draw, so the generator learns a profile whose
        counts look like real cells: a generator trained against un-sampled real profiles instead
        has to imitate their counting noise, and the critic can tell its continuous values from
        the real cells' discrete ones.
        """
        if self.library_size is None:
            return profiles
        counts = draw_counts(profiles.detach() * (library[:, None] / self.library_size), sampler, rng)
        return profiles + (self.normalize(counts) - profiles).detach()

    def latent(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Generator input for cells of ``labels``: standard normal noise (override to extend)."""
        return torch.randn(len(labels), self.n_latent, generator=rng, device=labels.device)

    def generate(
        self,
        labels: torch.Tensor,
        z: torch.Tensor | None = None,
        rng: torch.Generator | None = None,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Profiles for cells of ``labels`` (and ``library`` sizes) from :meth:`latent` unless ``z`` is given."""
        if z is None:
            z = self.latent(labels, rng)
        if self.condition_on_library:
            z = torch.cat([z, self._library_input(library)], dim=1)
        return self.generator(z, labels if self.conditional else None)

    def score(
        self, x: torch.Tensor, labels: torch.Tensor, library: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Critic score of profiles ``x`` for ``labels`` (and ``library`` sizes)."""
        extra = self._library_input(library) if self.condition_on_library else None
        return self.critic(x, labels if self.conditional else None, extra)

    def gradient_penalty(
        self,
        real: torch.Tensor,
        fake: torch.Tensor,
        labels: torch.Tensor,
        library: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """WGAN-GP penalty: (‖∇ critic‖ - 1)² at random points between real and fake cells."""
        alpha = torch.rand(len(real), 1, device=real.device)
        mixed = (alpha * real + (1 - alpha) * fake).requires_grad_(True)
        # log1p inside the critic has an unbounded gradient at -1; mixes of non-negative profiles stay >= 0.
        (grad,) = torch.autograd.grad(self.score(mixed, labels, library).sum(), mixed, create_graph=True)
        return ((grad.norm(2, dim=1) - 1) ** 2).mean()

    def _library_input(self, library: torch.Tensor | None) -> torch.Tensor:
        if library is None:
            raise ValueError("this module is conditioned on library sizes: pass library=")
        mean, std = self.log_library
        return ((torch.log(library.float().clamp_min(1.0)) - mean) / std)[:, None]

    # -- scvi-tools module interface -----------------------------------------------------------

    def _get_inference_input(self, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return {"x": tensors[REGISTRY_KEYS.X_KEY], "labels": _labels(tensors)}

    def _get_generative_input(
        self, tensors: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> dict[str, torch.Tensor]:
        return {"labels": inference_outputs["labels"], "library": inference_outputs["library"]}

    @auto_move_data
    def inference(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Real cells of a minibatch (modelled genes), normalised as the generator's output, and their library sizes.

        ``critic_labels``: the classes the critic scores real and fake cells of the minibatch as
        (here their labels).
        """
        x = x[:, self.gene_index].float()
        return {"x": self.normalize(x), "labels": labels, "critic_labels": labels, "library": x.sum(dim=1)}

    @auto_move_data
    def generative(self, labels: torch.Tensor, library: torch.Tensor) -> dict[str, torch.Tensor]:
        """One generated cell per real cell of the minibatch, of the same label (and library size)."""
        return {"x": self.generate(labels, library=library)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
        penalty: float = 10.0,
    ) -> LossOutput:
        """Critic loss of WGAN-GP: fake score - real score + ``penalty`` x gradient penalty."""
        real, fake = inference_outputs["x"], generative_outputs["x"]
        labels, library = inference_outputs["critic_labels"], inference_outputs["library"]
        real_score = self.score(real, labels, library).mean()
        fake_score = self.score(fake, labels, library).mean()
        gp = self.gradient_penalty(real, fake, labels, library)
        return LossOutput(
            loss=fake_score - real_score + penalty * gp,
            n_obs_minibatch=len(real),
            extra_metrics={"wasserstein": real_score - fake_score, "gradient_penalty": gp},
        )

    @torch.inference_mode()
    def sample(
        self, labels: torch.Tensor, rng: torch.Generator | None = None, library: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Generated profiles for ``labels`` (evaluation mode, no gradients)."""
        return self.generate(labels, rng=rng, library=library)


def _labels(tensors: dict[str, torch.Tensor]) -> torch.Tensor:
    return tensors[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long()
