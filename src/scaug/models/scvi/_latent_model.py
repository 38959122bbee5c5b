"""scVI generation from a label's region of the latent space, as a scaug generator."""

from __future__ import annotations

import numbers
from collections.abc import Callable, Mapping
from typing import Literal

import numpy as np
import torch
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.module._constants import MODULE_KEYS

from ..._validation import ScaugInputError
from ._label_region import label_regions, smoothed_draws
from ._model import SCVIPPC

Latent = Literal["smoothed", "gaussian"]


class SCVILatent(SCVIPPC):
    r"""New cells of a label from its region of scVI's latent space (Lopez et al. 2018).

    An :class:`scvi.model.SCVI` (negative binomial likelihood) is trained on the counts of all
    training cells. A synthetic cell of label ``L`` takes a latent from ``L``'s region, decoded,
    and counts drawn from the likelihood at the library size of a real cell of ``L`` (its batch and
    covariates too). The region (``latent``) is by default the label's aggregate posterior, smoothed
    (:func:`smoothed_draws`): a real cell's posterior plus a kernel of the label's scatter, so
    that draws fill the space between the label's cells and keep its shape; a label of few cells
    borrows the kernel's shape from the others (:func:`label_regions`). ``"gaussian"`` fits one
    Gaussian per label instead, which spills into neighbouring labels where a label is not
    elliptical. Unlike :class:`~scaug.models.SCVIPPC`, whose cells each stay within one real cell's
    posterior, these move between the label's cells; unlike scVI's :math:`\mathcal N(0, I)` prior,
    they stay in the label (decoded prior draws land in other labels' regions). Training, genes,
    files and options are those of :class:`~scaug.models.SCVIPPC`.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
    >>> scaug.models.SCVILatent.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.SCVILatent(adata, n_latent=4)
    >>> model.train(max_epochs=1, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_1": 10}, random_state=0)
    >>> X.shape
    (10, 30)
    """

    _method = "scvi"

    def sample(
        self,
        n_per_label: Mapping[str, int],
        *,
        random_state: int = 0,
        chunk_size: int = 1024,
        latent: Latent = "smoothed",
        bandwidth: float = 0.3,
        prior_cells: float | None = None,
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Draw ``n_per_label[label]`` cells per label from the label's latent region.

        Parameters
        ----------
        n_per_label
            Number of cells per label.
        random_state
            Seed of the latents, library sizes and counts; the same seed gives the same cells on CPU.
        chunk_size
            Cells decoded per pass (bounds the working memory).
        latent
            ``"smoothed"``: the label's smoothed aggregate posterior (:func:`smoothed_draws`);
            ``"gaussian"``: one Gaussian per label (:func:`label_regions`).
        bandwidth
            ``"smoothed"`` only: the kernel's scale relative to the label's scatter (0: within the
            real cells' posteriors, as :class:`~scaug.models.SCVIPPC`; large: towards one Gaussian).
        prior_cells
            How many cells' worth of the scatter pooled over all labels a label's own scatter is
            shrunk towards (:func:`label_regions`); ``None``: the number of latent dimensions (a
            label needs about that many cells to estimate its own shape).

        Returns
        -------
        ``(matrix, labels)``: integer counts as a CSR matrix over all :attr:`var_names` (genes not
        modelled are zero), and the label of each row.

        Examples
        --------
        See :class:`SCVILatent`, whose example trains a model and samples from it.
        """
        if latent not in ("smoothed", "gaussian"):
            raise ScaugInputError(f"latent must be 'smoothed' or 'gaussian', got {latent!r}")
        if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real) or not bandwidth >= 0:
            raise ScaugInputError(f"bandwidth must be a non-negative number, got {bandwidth!r}")
        self._check_can_sample(n_per_label)
        prior_cells = self.module.n_latent if prior_cells is None else float(prior_cells)
        draw = self._label_region_decoder(latent, float(bandwidth), prior_cells)
        return self._sample_from_sources(n_per_label, draw, random_state, chunk_size)

    def _label_region_decoder(
        self, latent: Latent, bandwidth: float, prior_cells: float
    ) -> Callable[[np.ndarray, np.random.Generator], sparse.csr_matrix]:
        """Counts of the modelled genes: latents from the source cells' label regions, decoded."""
        self.module.eval()
        devices = [self.device] if self.device.type == "cuda" else []
        # Only the posterior means and variances are used, but scVI's inference draws a latent
        # from torch's global RNG on the way: the caller's stream is left as it was.
        with torch.random.fork_rng(devices=devices):
            means, variances = self.get_latent_representation(give_mean=True, return_dist=True)
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()
        codes = codes.astype(np.int64)
        smoothed = latent == "smoothed"
        centres, covariances = label_regions(
            means, variances, codes, len(self.labels), prior_cells=prior_cells, posterior_noise=not smoothed
        )
        present = np.unique(codes)
        factors = np.zeros_like(covariances)
        # A scatter of zero (a 1-cell label among 1-cell labels) has no Cholesky factor, and needs none.
        jitter = 1e-9 * np.eye(means.shape[1])
        factors[present] = np.linalg.cholesky(covariances[present] + jitter)

        def draw(sources: np.ndarray, rng: np.random.Generator) -> sparse.csr_matrix:
            k = codes[sources]
            if smoothed:
                z = smoothed_draws(
                    means[sources], variances[sources], centres[k], factors[k], bandwidth=bandwidth, rng=rng
                )
            else:
                z = centres[k] + np.einsum(
                    "nij,nj->ni", factors[k], rng.standard_normal(means[sources].shape)
                )
            loader = self._make_data_loader(
                adata=self.adata, indices=sources, batch_size=len(sources), shuffle=False
            )
            tensors = next(iter(loader))
            # The source cells' own pass gives their library sizes, batches and covariates; only
            # the latent is replaced by one from the label's region.
            inference = self.module.inference(**self.module._get_inference_input(tensors))
            untransformed = torch.as_tensor(z, dtype=torch.float32, device=self.device)
            inference[MODULE_KEYS.Z_KEY] = self.module.z_encoder.z_transformation(untransformed)
            generative = self.module.generative(**self.module._get_generative_input(tensors, inference))
            counts = generative[MODULE_KEYS.PX_KEY].sample().cpu().numpy()
            return sparse.csr_matrix(counts, dtype=np.float32)

        return draw
