"""scGAN (Marouf et al. 2020): unconditional, with generated cells labelled by a real-cell classifier."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse

from .._gan import GANModelBase
from .._profile_model import CHUNK_CELLS, stack_chunks
from ._labeller import fit_labeller, predict_labels

logger = logging.getLogger("scaug")


class SCGAN(GANModelBase):
    """Unconditional scGAN (Marouf et al. 2020).

    Same networks as :class:`CSCGAN` without label conditioning. To serve per-label requests (as
    :func:`scaug.tl.augment` makes), generated cells are labelled by a classifier trained on the
    real training cells (logistic regression on a PCA of log-normalised modelled genes) and kept
    when they carry a requested label. Labels the generator rarely produces may come out short
    (at most ``max_draws_factor`` times the requested number of cells is generated); scaug then
    warns. Use :class:`CSCGAN` to generate rare labels on demand.

    Parameters
    ----------
    max_draws_factor
        Cap on the cells generated per requested cell when filling per-label requests.
    **kwargs
        See :class:`CSCGAN`.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.SCGAN.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.SCGAN(adata)
    >>> model.train(max_steps=5, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_0": 20}, random_state=0)
    """

    _conditional = False
    _method = "scgan"

    def _init_from_data(
        self, adata: AnnData, matrix, modelled_genes: list[str], space: str, **kwargs
    ) -> None:
        super()._init_from_data(adata, matrix, modelled_genes, space, **kwargs)
        columns = self.var_names.get_indexer(modelled_genes)
        profiles = matrix[:, columns]
        profiles = profiles.toarray() if sparse.issparse(profiles) else np.asarray(profiles)
        self.labeller_ = fit_labeller(profiles, self._cell_labels(), log_normalize=space == "counts")

    def sample(
        self,
        n_per_label: Mapping[str, int],
        *,
        random_state: int = 0,
        chunk_size: int = CHUNK_CELLS,
        max_draws_factor: int = 20,
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Generate cells and keep those the real-cell classifier assigns to a requested label.

        Parameters
        ----------
        n_per_label
            Number of cells wanted per label.
        random_state
            Seed; the same seed gives the same cells on CPU.
        chunk_size
            Cells generated per forward pass.
        max_draws_factor
            Stop after generating this many times the number of cells asked for; labels the
            generator rarely produces may then come out short.

        Returns
        -------
        ``(matrix, labels)`` as :meth:`CSCGAN.sample`; possibly fewer cells for some labels (see the
        class example).
        """
        chunks = self.sample_chunks(
            n_per_label, random_state=random_state, chunk_size=chunk_size, max_draws_factor=max_draws_factor
        )
        return stack_chunks(chunks, sum(int(n) for n in n_per_label.values()), len(self.var_names_))

    def sample_chunks(
        self,
        n_per_label: Mapping[str, int],
        *,
        random_state: int = 0,
        chunk_size: int = CHUNK_CELLS,
        max_draws_factor: int = 20,
    ) -> Iterator[tuple[sparse.csr_matrix, np.ndarray]]:
        """:meth:`sample`, one ``(matrix, labels)`` block at a time (the cells kept from one forward pass)."""
        self._check_known(n_per_label)
        torch_rng = torch.Generator().manual_seed(int(random_state))
        rng = np.random.default_rng(random_state)
        self.module.eval()
        missing = {lab: int(n) for lab, n in n_per_label.items() if n > 0}
        budget = max_draws_factor * sum(missing.values())
        while missing and budget > 0:
            size = min(chunk_size, budget)
            budget -= size
            # Library sizes of any training cell: the label is only known once the cell is generated.
            library = self._draw_library(None, rng, n=size)
            profiles = self._profiles(np.zeros(size, dtype=np.int64), torch_rng, library)
            assigned = predict_labels(self.labeller_, profiles.cpu().numpy())
            keep = np.zeros(size, dtype=bool)
            for lab in list(missing):
                rows = np.flatnonzero(assigned == lab)[: missing[lab]]
                keep[rows] = True
                missing[lab] -= len(rows)
                if not missing[lab]:
                    del missing[lab]
            if keep.any():
                kept = np.asarray(assigned[keep], dtype=object)
                codes = pd.Index(self.labels).get_indexer(kept)
                kept_library = None if library is None else library[keep]
                rows = torch.from_numpy(keep).to(profiles.device)
                yield self._to_output(profiles[rows], codes, kept_library, torch_rng, rng), kept
        if missing:
            logger.warning(
                "scgan produced too few cells of %s after %d draws", dict(missing), max_draws_factor
            )
