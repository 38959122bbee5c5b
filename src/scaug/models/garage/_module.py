"""The GARAGE module: cscGAN's generator and critic, a generator input seeded by seed cells, and the GAT."""

from __future__ import annotations

import torch
from scvi.module.base import auto_move_data

from .._gan import GANModule
from ._gat import GATClassifier


class GarageModule(GANModule):
    """A conditional WGAN-GP whose generator input carries the embedding of a seed cell.

    The generator input of a cell of label ``y`` is ``[noise, s, 1]`` with probability
    ``seeded_fraction`` (if ``y`` is one of the seeded labels, see :meth:`set_seeds`) and
    ``[noise, 0, 0]`` otherwise, where ``s`` is the (jittered) stage-1 embedding of a seed cell of
    label ``y`` drawn uniformly from that label's seeds. Critic, training
    plan, LSN output and conditional batch norm are cscGAN's (:class:`~scaug.models._gan.GANModule`).

    The critic is told whether a cell was seeded: it scores a cell of label ``y`` as class
    ``y + n_labels x seeded``, and every real cell of a minibatch is assigned a seeded flag at the
    same rate as the fakes, whose generator inputs follow the flag of their real counterpart. Real
    cells do not depend on the flag, so seeded and unseeded inputs must each make realistic cells
    of their label. A critic blind to the flag only judges their mixture, and the generator then
    splits each label between them (each half alone far from the real cells).
    The stage-1 graph attention network is kept in the module so that ``save`` keeps both stages.

    Parameters
    ----------
    n_input
        Number of modelled genes.
    n_labels
        Number of labels.
    n_seed_input
        Size of a seed embedding.
    seeded_fraction
        Fraction of generator inputs that carry a seed (``0``: plain cscGAN input).
    seed_noise
        Standard deviation of the Gaussian jitter added to a seed embedding (embeddings are
        standardised), so that the generator cannot tie an output to one exact seed.
    n_gat_input, n_gat_hidden, n_gat_heads, gat_dropout
        Shape of the stage-1 :class:`~scaug.models.garage._gat.GATClassifier`.
    **kwargs
        See :class:`~scaug.models._gan.GANModule`.

    Examples
    --------
    >>> import torch
    >>> m = GarageModule(50, 2, n_seed_input=4, n_hidden_generator=(32,), n_hidden_critic=(32,))
    >>> m.set_seeds(torch.randn(3, 4), torch.tensor([0, 1, 1]))
    >>> m.generate(torch.tensor([0, 1]), library=torch.tensor([500.0, 800.0])).shape
    torch.Size([2, 50])
    """

    def __init__(
        self,
        n_input: int,
        n_labels: int,
        *,
        n_seed_input: int = 64,
        seeded_fraction: float = 1.0,
        seed_noise: float = 0.1,
        n_gat_input: int = 50,
        n_gat_hidden: int = 16,
        n_gat_heads: int = 4,
        gat_dropout: float = 0.3,
        **kwargs,
    ):
        super().__init__(
            n_input, n_labels, n_extra_input=n_seed_input + 1, n_critic_classes=2 * n_labels, **kwargs
        )
        self.n_seed_input = n_seed_input
        self.seeded_fraction = float(seeded_fraction)
        self.seed_noise = float(seed_noise)
        self.seed_network = GATClassifier(
            n_gat_input, n_labels, n_hidden=n_gat_hidden, n_heads=n_gat_heads, dropout=gat_dropout
        )
        self.register_buffer("seed_embeddings", torch.zeros(0, n_seed_input))
        self.register_buffer("seed_codes", torch.zeros(0, dtype=torch.long))
        self.register_buffer("seeded_labels", torch.ones(n_labels, dtype=torch.bool))

    def set_seeds(
        self, embeddings: torch.Tensor, codes: torch.Tensor, seeded_labels: torch.Tensor | None = None
    ) -> None:
        """Store the seed embeddings and their label codes (every label needs at least one seed).

        ``seeded_labels`` (bool per label, default all): the labels whose generator inputs carry seeds.
        """
        missing = set(range(self.n_labels)) - set(codes.tolist())
        if missing:
            raise ValueError(f"labels {sorted(missing)} have no seed")
        order = torch.argsort(codes, stable=True)
        device = self.seed_embeddings.device
        self.seed_embeddings = embeddings[order].float().to(device)
        self.seed_codes = codes[order].long().to(device)
        if seeded_labels is not None:
            self.seeded_labels = torch.as_tensor(seeded_labels, dtype=torch.bool, device=device)

    def draw_seeded(self, labels: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Whether each input of ``labels`` carries a seed: ``seeded_fraction`` of those of seeded labels.

        Examples
        --------
        >>> import torch
        >>> m = GarageModule(50, 2, n_seed_input=4, seeded_fraction=1.0, n_hidden_generator=(32,), n_hidden_critic=(32,))
        >>> m.set_seeds(torch.randn(2, 4), torch.tensor([0, 1]), seeded_labels=torch.tensor([False, True]))
        >>> m.draw_seeded(torch.tensor([0, 1, 1])).tolist()
        [False, True, True]
        """
        seeded = torch.rand(len(labels), generator=rng, device=labels.device) < self.seeded_fraction
        return seeded & self.seeded_labels.to(labels.device)[labels]

    def latent(
        self,
        labels: torch.Tensor,
        rng: torch.Generator | None = None,
        seeded: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """``[noise, seed embedding or 0, seeded flag]`` for cells of ``labels``.

        ``seeded`` (bool per cell) says which inputs carry a seed (default: :meth:`draw_seeded`).
        Everything random is drawn on the device of ``labels`` with ``rng``, so a seeded ``rng``
        gives the same inputs every time.
        """
        device, n = labels.device, len(labels)
        z = torch.randn(n, self.n_latent, generator=rng, device=device)
        if seeded is None:
            seeded = self.draw_seeded(labels, rng)
        counts = torch.bincount(self.seed_codes, minlength=self.n_labels).to(device)
        offsets = torch.cumsum(counts, 0) - counts
        pick = offsets[labels] + (torch.rand(n, generator=rng, device=device) * counts[labels]).long()
        jitter = self.seed_noise * torch.randn(n, self.n_seed_input, generator=rng, device=device)
        seeds = (self.seed_embeddings.to(device)[pick] + jitter) * seeded[:, None]
        return torch.cat([z, seeds, seeded[:, None].float()], dim=1)

    # -- training: the critic scores (label, seeded) classes -----------------------------------

    @auto_move_data
    def inference(self, x: torch.Tensor, labels: torch.Tensor) -> dict[str, torch.Tensor]:
        """Real cells as in cscGAN, each assigned a seeded flag; critic class ``label + n_labels x seeded``."""
        out = super().inference(x, labels)
        seeded = self.draw_seeded(labels)
        return {**out, "seeded": seeded, "critic_labels": labels + self.n_labels * seeded.long()}

    def _get_generative_input(self, tensors, inference_outputs):
        return {
            **super()._get_generative_input(tensors, inference_outputs),
            "seeded": inference_outputs["seeded"],
        }

    @auto_move_data
    def generative(
        self, labels: torch.Tensor, library: torch.Tensor, seeded: torch.Tensor | None = None
    ) -> dict[str, torch.Tensor]:
        """One generated cell per real cell of the minibatch: same label, library size and seeded flag."""
        return {"x": self.generate(labels, z=self.latent(labels, seeded=seeded), library=library)}

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # Models saved before seeded_labels existed seeded every label.
        state_dict.setdefault(prefix + "seeded_labels", torch.ones_like(self.seeded_labels))
        # Critics saved before they were told the seeded flag scored labels only: the same
        # projection for both flags is that critic.
        key = prefix + "critic.projection.weight"
        saved = state_dict.get(key)
        if saved is not None and saved.shape[0] == self.n_labels:
            state_dict[key] = torch.cat([saved, saved])
        # The number of seeds is only known from the saved state: size the buffers to fit it.
        for name in ("seed_embeddings", "seed_codes"):
            saved = state_dict.get(prefix + name)
            if saved is not None:
                setattr(self, name, torch.empty_like(saved, device=getattr(self, name).device))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
