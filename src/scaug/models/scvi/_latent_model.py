"""scVI generation from a label's region of the latent space, as a scaug generator."""

from __future__ import annotations

from collections.abc import Callable, Mapping

import numpy as np
import torch
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.module._constants import MODULE_KEYS

from ._label_region import label_regions
from ._model import SCVIPPC


class SCVILatent(SCVIPPC):
    r"""New cells of a label from its region of scVI's latent space (Lopez et al. 2018).

    An :class:`scvi.model.SCVI` (negative binomial likelihood) is trained on the counts of all
    training cells. Each label's region of the latent space is one Gaussian fitted to its cells'
    posteriors (:func:`label_regions`): centred on their posterior means, with their scatter, which
    a label of few cells borrows from the others. A synthetic cell of label ``L`` is a latent drawn
    from that Gaussian, decoded, and counts drawn from the likelihood at the library size of a real
    cell of ``L`` (its batch and covariates too). Unlike :class:`~scaug.models.SCVIPPC`, whose
    cells each stay near one real cell, these fill the label's region; unlike scVI's
    :math:`\mathcal N(0, I)` prior, they stay in it (decoded prior draws land in other labels'
    regions). Training, genes, files and options are those of :class:`~scaug.models.SCVIPPC`.

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
        self._check_can_sample(n_per_label)
        prior_cells = self.module.n_latent if prior_cells is None else float(prior_cells)
        draw = self._label_region_decoder(prior_cells)
        return self._sample_from_sources(n_per_label, draw, random_state, chunk_size)

    def _label_region_decoder(
        self, prior_cells: float
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
        centres, covariances = label_regions(
            means, variances, codes, len(self.labels), prior_cells=prior_cells
        )

        def draw(sources: np.ndarray, rng: np.random.Generator) -> sparse.csr_matrix:
            latent = np.empty((len(sources), means.shape[1]))
            for k in np.unique(codes[sources]):
                rows = codes[sources] == k
                latent[rows] = rng.multivariate_normal(
                    centres[k], covariances[k], size=int(rows.sum()), method="cholesky"
                )
            loader = self._make_data_loader(
                adata=self.adata, indices=sources, batch_size=len(sources), shuffle=False
            )
            tensors = next(iter(loader))
            # The source cells' own pass gives their library sizes, batches and covariates; only
            # the latent is replaced by the label's.
            inference = self.module.inference(**self.module._get_inference_input(tensors))
            untransformed = torch.as_tensor(latent, dtype=torch.float32, device=self.device)
            inference[MODULE_KEYS.Z_KEY] = self.module.z_encoder.z_transformation(untransformed)
            generative = self.module.generative(**self.module._get_generative_input(tensors, inference))
            counts = generative[MODULE_KEYS.PX_KEY].sample().cpu().numpy()
            return sparse.csr_matrix(counts, dtype=np.float32)

        return draw
