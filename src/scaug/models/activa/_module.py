"""ACTIVA's networks (encoder = adversary, decoder = generator, ACTINN classifier) and its loss terms."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Literal

import numpy as np
import torch
from scvi import REGISTRY_KEYS
from scvi.distributions import NegativeBinomial
from scvi.module.base import BaseModuleClass, LossOutput, auto_move_data
from torch import nn
from torch.nn import functional as F

from ..._validation import ScaugInputError
from .._counts import draw_counts
from ..scvi._label_region import label_regions, smoothed_draws
from ..study._networks import generator, mlp
from ..study._scaling import MinMaxScaling

#: ACTINN's classifier widths (Ma & Pellegrini 2020), as ACTIVA uses it.
ACTINN_HIDDEN = (100, 50, 25)

Output = Literal["profile", "scaled"]
Latent = Literal["smoothed", "gaussian"]


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


class ProfileDecoder(nn.Module):
    """Latent -> hidden widths -> log-softmax over the genes, with a dispersion per gene.

    The log-profile is the log of each gene's share of the cell's counts (of the modelled genes);
    counts are negative binomial around it with inverse dispersion ``exp(log_dispersion)`` (as
    scVI's per-gene dispersion), which the gamma noise of :meth:`gamma_noise` reproduces.

    Examples
    --------
    >>> import torch
    >>> decoder = ProfileDecoder(4, 10, (8,))
    >>> [round(total, 4) for total in decoder(torch.zeros(2, 4)).exp().sum(dim=1).tolist()]
    [1.0, 1.0]
    """

    def __init__(self, n_latent: int, n_genes: int, n_hidden: Sequence[int]):
        super().__init__()
        self.net = mlp([n_latent, *n_hidden, n_genes])
        self.log_dispersion = nn.Parameter(torch.zeros(n_genes))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return F.log_softmax(self.net(z), dim=1)

    def gamma_noise(self, n: int, rng: torch.Generator | None = None) -> torch.Tensor:
        """``n`` x genes draws of Gamma(theta, rate theta) (mean 1) on the CPU, from ``rng`` if given.

        torch's gamma sampler takes no generator: with ``rng``, the global one is seeded from it
        and restored afterwards, so that a sampling seed gives the same cells.
        """
        theta = self.log_dispersion.detach().exp().cpu()
        with torch.random.fork_rng(devices=[], enabled=rng is not None):
            if rng is not None:
                torch.manual_seed(int(torch.randint(2**62, (1,), generator=rng, device=rng.device)))
            return torch.distributions.Gamma(theta, theta).sample((n,))


class ACTIVAModule(BaseModuleClass):
    """ACTIVA's networks: encoder (also the adversary), decoder (the generator), ACTINN classifier.

    Encoder and classifier see cells log-normalised and scaled per gene into [-1, 1]
    (:class:`~scaug.models.study.MinMaxScaling`, as the comparison study's VAE). Encoder genes ->
    ``n_hidden`` -> mean and log-variance of the latent; classifier genes -> 100 -> 50 -> 25 ->
    labels (ACTINN); decoder latent -> reversed ``n_hidden`` -> genes, whose output is either
    (``output``) a profile (:class:`ProfileDecoder`: softmax over the modelled genes, negative
    binomial counts around it; the default for counts), or scaled values (tanh) with a squared
    error, as the paper's decoder (and the only choice in a continuous space). Decoded cells reach
    the encoder and the classifier as real cells do (:meth:`seen`). Encoder and decoder do not see
    the label, as in the paper: the label enters through the classifier's cell-type loss during
    training and, at generation, through the label's region of the latent space (:meth:`set_regions`,
    buffers saved with the weights).

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
    output
        ``"profile"`` or ``"scaled"`` (see above); ``None``: ``"profile"`` for counts.
    n_components
        Cells per label whose posteriors are kept for generation (:meth:`set_regions`).

    Examples
    --------
    >>> import torch
    >>> m = ACTIVAModule(50, 3, n_latent=4, n_hidden=(16, 8))
    >>> mean, log_var = m.encode(torch.zeros(2, 50))
    >>> m.decode(m.region_latent(torch.tensor([0, 2]))).shape
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
        output: Output | None = None,
        n_components: int = 256,
    ):
        super().__init__()
        output = output or ("profile" if log_normalise else "scaled")
        if output not in ("profile", "scaled") or (output == "profile" and not log_normalise):
            raise ScaugInputError(
                f"output must be 'profile' (counts only) or 'scaled', got {output!r} for "
                f"{'counts' if log_normalise else 'a continuous space'}"
            )
        self.n_labels = n_labels
        self.n_latent = n_latent
        self.output = output
        self.scaling = MinMaxScaling(n_input, gene_index=gene_index, log_normalise=log_normalise)
        self.encoder = mlp([n_input, *n_hidden, 2 * n_latent])
        widths = tuple(reversed(tuple(n_hidden)))
        self.decoder = (
            generator(n_latent, n_input, widths)
            if output == "scaled"
            else ProfileDecoder(n_latent, n_input, widths)
        )
        self.classifier = mlp([n_input, *n_hidden_classifier, n_labels])
        # The prior until the model fits the label regions.
        self.n_components = n_components
        self.register_buffer("region_centres", torch.zeros(n_labels, n_latent))
        self.register_buffer("region_factors", torch.eye(n_latent).repeat(n_labels, 1, 1))
        self.register_buffer("kernel_factors", torch.zeros(n_labels, n_latent, n_latent))
        # One component of mean 0 and variance 1 per label: the smoothed draw is the prior.
        self.register_buffer("component_means", torch.zeros(n_labels, n_components, n_latent))
        self.register_buffer("component_variances", torch.ones(n_labels, n_components, n_latent))
        self.register_buffer("component_counts", torch.ones(n_labels, dtype=torch.long))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Mean and log-variance of the approximate posterior of scaled cells ``x``."""
        mean, log_var = self.encoder(x).chunk(2, dim=1)
        # Generated cells far from the data can drive the log-variance to overflow exp().
        return mean, log_var.clamp(-20.0, 20.0)

    def kl(self, x: torch.Tensor) -> torch.Tensor:
        """``L_REG`` of scaled cells ``x`` as the encoder sees them (per cell)."""
        return kl_divergence(*self.encode(x))

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """The decoder's output for latents ``z``: log-profiles (``"profile"``) or scaled values (``"scaled"``)."""
        return self.decoder(z)

    def profiles(self, decoded: torch.Tensor, rng: torch.Generator | None = None) -> torch.Tensor:
        """Decoded cells as sampling takes them: relative expression (counts) or the continuous values.

        ``"profile"``: each cell's profile times gamma noise of the decoder's dispersion, so that
        Poisson counts drawn from it are negative binomial, as in training.
        """
        if self.output == "scaled":
            return self.scaling.profiles(decoded)
        return decoded.exp() * self.decoder.gamma_noise(len(decoded), rng).to(decoded.device)

    def library(self, counts: torch.Tensor) -> torch.Tensor:
        """Library sizes of registered cells (all genes): their totals over the modelled genes and over all genes."""
        modelled = counts[:, self.scaling.gene_index].sum(dim=1)
        return torch.stack([modelled, counts.sum(dim=1)], dim=1).clamp_min(1.0)

    def seen(
        self,
        decoded: torch.Tensor,
        library: torch.Tensor | None,
        *,
        noise: bool = True,
        rng: torch.Generator | None = None,
    ) -> torch.Tensor:
        """Decoded cells as the encoder and the classifier see real ones: scaled, at ``library`` sizes.

        With ``noise`` (counts only), counts are drawn from the decoded expression at the library
        sizes (:meth:`library`: modelled genes, all genes) as sampling draws them (negative
        binomial for a profile, Poisson for scaled values) and log-normalised as real cells are;
        the gradient passes straight through the draw. The encoder, as adversary, then
        compares real cells with generated ones as they will be output (with counting noise), not
        with smooth expected values, which it could tell apart by their smoothness alone. A
        continuous space has no counts: scaled values are returned as they are.
        """
        s = self.scaling
        if not s.log_normalise:
            return decoded
        modelled, total = library[:, :1], library[:, 1:]
        if self.output == "profile":
            rates = decoded.exp() * modelled
            values = torch.log1p(rates * (s.target_sum / total))
            if noise:
                drawn = draw_counts(self.profiles(decoded.detach(), rng) * modelled, "poisson", rng)
                values = values + (torch.log1p(drawn * (s.target_sum / total)) - values).detach()
            return (values - s.lower) / s._span() * 2 - 1
        if not noise:
            return decoded
        rates = s.profiles(decoded.detach()) * (total / s.target_sum)
        values = torch.log1p(draw_counts(rates, "poisson", rng) * (s.target_sum / total))
        return decoded + ((values - s.lower) / s._span() * 2 - 1 - decoded).detach()

    def reconstruction_loss(
        self, decoded: torch.Tensor, seen: torch.Tensor, x: torch.Tensor, counts: torch.Tensor
    ) -> torch.Tensor:
        """``L_AE`` per cell: negative binomial negative log-likelihood (``"profile"``) or squared error (``"scaled"``).

        ``"profile"``: of the real cells' ``counts`` (registered, all genes) of the modelled genes,
        with means the decoded profiles at the cells' totals of those genes and the decoder's
        per-gene dispersion; ``"scaled"`` (the paper's): between the decoded cells as :meth:`seen`
        and the scaled real cells ``x``.
        """
        if self.output == "scaled":
            return (seen - x).pow(2).sum(dim=1)
        observed = counts[:, self.scaling.gene_index]
        means = decoded.exp() * observed.sum(dim=1, keepdim=True)
        likelihood = NegativeBinomial(mu=means, theta=self.decoder.log_dispersion.exp())
        return -likelihood.log_prob(observed).sum(dim=1)

    def set_regions(
        self,
        means: np.ndarray,
        variances: np.ndarray,
        codes: np.ndarray,
        *,
        prior_cells: float,
        rng: np.random.Generator,
    ) -> None:
        """Fit each label's latent region to its training cells' posteriors (means, variances: cells x dims).

        Keeps the label's Gaussian (:func:`~scaug.models.scvi.label_regions`: buffers
        ``region_centres``, ``region_factors``), the kernel of its smoothed aggregate posterior
        (``kernel_factors``, :func:`~scaug.models.scvi.smoothed_draws`) and the posteriors of up to
        ``n_components`` of its cells, chosen with ``rng`` (``component_*``: the saved model holds
        no more per label). Labels without cells keep the prior.
        """
        centres, covariances = label_regions(means, variances, codes, self.n_labels, prior_cells=prior_cells)
        _, scatters = label_regions(
            means, variances, codes, self.n_labels, prior_cells=prior_cells, posterior_noise=False
        )
        # A zero scatter (only 1-cell labels) has no Cholesky factor, and needs none.
        jitter = 1e-9 * np.eye(self.n_latent)
        as_tensor = partial(torch.as_tensor, dtype=torch.float32, device=self.region_centres.device)
        for k in np.unique(codes):
            cells = np.flatnonzero(codes == k)
            if len(cells) > self.n_components:
                cells = np.sort(rng.choice(cells, self.n_components, replace=False))
            self.region_centres[k] = as_tensor(centres[k])
            self.region_factors[k] = as_tensor(np.linalg.cholesky(covariances[k]))
            self.kernel_factors[k] = as_tensor(np.linalg.cholesky(scatters[k] + jitter))
            self.component_means[k, : len(cells)] = as_tensor(means[cells])
            self.component_variances[k, : len(cells)] = as_tensor(variances[cells])
            self.component_counts[k] = len(cells)

    def region_latent(
        self,
        labels: torch.Tensor,
        rng: torch.Generator | None = None,
        *,
        latent: Latent = "gaussian",
        bandwidth: float = 0.3,
    ) -> torch.Tensor:
        """Latents drawn from the regions of ``labels``, on the module's device (noise from ``rng`` on the CPU).

        ``latent="gaussian"``: the label's Gaussian; ``"smoothed"``: its smoothed aggregate
        posterior (:func:`~scaug.models.scvi.smoothed_draws` with ``bandwidth``).
        """
        device = self.region_centres.device
        if latent == "gaussian":
            eps = torch.randn(len(labels), self.n_latent, generator=rng).to(device)
            labels = labels.to(device)
            return self.region_centres[labels] + torch.einsum("nij,nj->ni", self.region_factors[labels], eps)
        generator = np.random.default_rng(int(torch.randint(2**62, (1,), generator=rng)))
        codes = labels.to(device)
        counts = self.component_counts[codes].cpu().numpy()
        picks = torch.as_tensor((generator.random(len(codes)) * counts).astype(np.int64), device=device)
        # Only the rows drawn leave the device, not every label's kept posteriors.
        z = smoothed_draws(
            self.component_means[codes, picks].cpu().numpy(),
            self.component_variances[codes, picks].cpu().numpy(),
            self.region_centres[codes].cpu().numpy(),
            self.kernel_factors[codes].cpu().numpy(),
            bandwidth=bandwidth,
            rng=generator,
        )
        return torch.as_tensor(z, dtype=torch.float32, device=device)

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
        counts = x
        x = self.scaling(counts)
        mean, log_var = self.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        return {"counts": counts, "x": x, "mean": mean, "log_var": log_var, "z": z}

    @auto_move_data
    def generative(self, z: torch.Tensor) -> dict[str, torch.Tensor]:
        """The decoder's output for latents ``z`` (:meth:`decode`)."""
        return {"decoded": self.decode(z)}

    def loss(
        self,
        tensors: dict[str, torch.Tensor],
        inference_outputs: dict[str, torch.Tensor],
        generative_outputs: dict[str, torch.Tensor],
    ) -> LossOutput:
        """The VAE loss of the warm-up: ``L_AE`` (without counting noise) + ``L_REG``, mean over cells."""
        counts, decoded = inference_outputs["counts"], generative_outputs["decoded"]
        library = self.library(counts) if self.scaling.log_normalise else None
        seen = self.seen(decoded, library, noise=False)
        reconstruction = self.reconstruction_loss(decoded, seen, inference_outputs["x"], counts)
        kl = kl_divergence(inference_outputs["mean"], inference_outputs["log_var"])
        return LossOutput(
            loss=(reconstruction + kl).mean(),
            reconstruction_loss=reconstruction,
            kl_local=kl,
            n_obs_minibatch=len(reconstruction),
        )
