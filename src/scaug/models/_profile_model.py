"""The model base of generators that make expression profiles of chosen genes, per label.

Everything such a model does around its networks is the same whichever networks they are (the
WGAN-GP generators of :mod:`scaug.models._gan`, the comparison study's GAN and VAE): register the
data, choose the modelled genes, record each label's library sizes and mean profile of the other
genes, and turn generated profiles into cells over all genes in the training space (counts drawn
at a real cell's library size). Subclasses build the module, train it and say how a label's
profiles are generated (:meth:`ProfileModelBase._profiles`).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalObsField, LayerField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from tqdm.auto import tqdm

from .._blocks import n_cells_expressing, row_blocks
from .._genes import select_genes
from .._validation import ScaugInputError, check_values
from ._counts import (
    RowStack,
    draw_library_sizes,
    library_sizes_by_label,
    mean_profiles,
    sample_counts,
    sample_from_profiles,
    with_columns,
)
from ._files import SafeFileMixin
from ._generator import GeneratorMixin

logger = logging.getLogger("scaug")
# Below this many cells generation takes seconds at most: no progress bar.
_PROGRESS_CELLS = 100_000

Output = Literal["counts", "normalized"]


def check_output_options(output: str, count_sampler: str) -> None:
    """Refuse an unknown ``output`` or ``count_sampler`` with a one-line error (before anything is trained)."""
    if output not in ("counts", "normalized"):
        raise ScaugInputError(f"output must be 'counts' or 'normalized', got {output!r}")
    if count_sampler not in ("round", "poisson", "multinomial"):
        raise ScaugInputError(
            f"count_sampler must be 'round', 'poisson' or 'multinomial', got {count_sampler!r}"
        )


#: Cells per generated block (forward pass, count draws, one write to disk). 2,048 cells over 2,000
#: genes keep streaming a million cells to disk under 1 GB, at the throughput of 4,096-cell blocks
#: (benchmarks/bench_scale.py); 1,024 needed less memory but were 16 % slower.
CHUNK_CELLS = 2048


class ProfileModelBase(GeneratorMixin, SafeFileMixin, UnsupervisedTrainingMixin, BaseModelClass):
    """Data, modelled genes and count output of a generator of per-label expression profiles.

    A subclass records its options (``space``, ``modelled_genes``, ``count_sampler`` and, if it
    offers them, ``output`` and ``library_size``) in ``init_params_["non_kwargs"]``, calls
    :meth:`_record_data` when built on data, and implements :meth:`_profiles`.
    """

    _method: str

    def _record_data(
        self,
        adata: AnnData,
        *,
        space: Literal["counts", "continuous"] | None,
        modelled_genes: Sequence[str] | None,
        min_cells: int,
        n_top_genes: int | None,
        background: bool,
        **kwargs,
    ) -> tuple[str, list[str]]:
        """Resolve the space and the modelled genes of the registered data and record what sampling needs.

        Returns
        -------
        ``(space, modelled_genes)``, the genes in the order of ``var_names``; ``kwargs`` go to
        :meth:`_init_from_data`.
        """
        matrix = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        if space is None:
            space = adata.uns.get("scaug_space") or (
                "counts" if check_values(matrix, where="X") else "continuous"
            )
        # counted once for gene selection and the background genes (one pass over an on-disk matrix)
        detected = n_cells_expressing(matrix) >= min_cells if modelled_genes is None or background else None
        if modelled_genes is None:
            mask = select_genes(
                matrix,
                counts=space == "counts",
                min_cells=min_cells,
                n_top_genes=n_top_genes,
                detected=detected,
            )
            if not mask.any():
                raise ScaugInputError(f"no gene is expressed in at least {min_cells} cells; nothing to model")
            modelled_genes = adata.var_names[mask].tolist()
        unknown = pd.Index(modelled_genes).difference(adata.var_names)
        if len(unknown) or not len(modelled_genes):
            raise ScaugInputError(
                f"modelled_genes must be genes of adata.var_names; unknown: {list(unknown[:5])}"
            )
        # In the order of var_names, so that gene columns and profiles line up.
        modelled_genes = adata.var_names[adata.var_names.isin(modelled_genes)].tolist()
        self._init_from_data(
            adata, matrix, modelled_genes, space, detected=detected, background=background, **kwargs
        )
        return space, modelled_genes

    def _init_from_data(
        self,
        adata: AnnData,
        matrix,
        modelled_genes: list[str],
        space: str,
        *,
        detected: np.ndarray | None,
        background: bool,
    ) -> None:
        """Record what sampling needs without the training data (attributes ending in ``_`` are saved).

        ``detected``: the genes non-zero in ``min_cells`` cells (the candidates for background genes).
        """
        self.var_names_ = adata.var_names.astype(str).tolist()
        labels = self._cell_labels()
        self.label_counts_ = (
            pd.Series(labels).value_counts().reindex(self.labels, fill_value=0).astype(np.int64)
        )
        self.library_sizes_ = None
        self.background_genes_: list[str] = []
        self.background_profiles_ = None
        self.train_params_: dict = {}
        if space != "counts":
            return
        columns = self.var_names.get_indexer(modelled_genes)
        background_columns = np.array([], dtype=np.int64)
        if background:
            candidates = detected.copy()
            candidates[columns] = False
            background_columns = np.flatnonzero(candidates)
            self.background_genes_ = self.var_names[candidates].tolist()
        # one pass over blocks of cells (an on-disk matrix is read once): library sizes, background means
        totals, profile_sums = [], np.zeros((len(self.labels), len(background_columns)))
        for start, rows in row_blocks(matrix, desc="library sizes"):
            block_labels = labels[start : start + rows.shape[0]]
            bg = rows[:, background_columns]
            totals.append(np.column_stack([_row_sums(rows[:, columns]), _row_sums(bg)]))
            if background:
                profile_sums += mean_profiles(bg, block_labels, self.labels) * _label_sizes(
                    block_labels, self.labels
                )
        if background:
            n_cells = np.maximum(self.label_counts_.to_numpy(dtype=np.float64), 1.0)
            self.background_profiles_ = (profile_sums / n_cells[:, None]).astype(np.float32)
        totals = np.concatenate(totals)
        self.library_sizes_ = library_sizes_by_label(totals if background else totals[:, :1], labels)

    def _cell_labels(self) -> np.ndarray:
        """The label of every registered cell."""
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel().astype(int)
        return np.asarray(self.labels, dtype=object)[codes]

    # -- setup -----------------------------------------------------------------------------------

    @classmethod
    def setup_anndata(cls, adata: AnnData, labels_key: str, layer: str | None = None, **kwargs) -> None:
        """Register the matrix to model and the labels.

        Parameters
        ----------
        adata
            Cells x genes: counts (preferred) or a non-negative continuous space such as
            log-normalised values.
        labels_key
            ``obs`` column with the cell-type labels; every cell needs one.
        layer
            Layer to model; ``None`` for ``.X``.
        **kwargs
            Passed to scvi-tools' registration (used by ``load``).

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.CSCGAN.setup_anndata(adata, labels_key="cell_type")
        """
        if labels_key not in adata.obs.columns:
            raise ScaugInputError(f"labels_key {labels_key!r} is not a column of adata.obs")
        if adata.obs[labels_key].isna().any():
            raise ScaugInputError(f"obs[{labels_key!r}] has missing labels; drop the unlabelled cells first")
        setup_method_args = cls._get_setup_method_args(**locals())
        fields = [
            LayerField(REGISTRY_KEYS.X_KEY, layer, is_count_data=False),
            CategoricalObsField(REGISTRY_KEYS.LABELS_KEY, labels_key),
        ]
        adata_manager = AnnDataManager(fields=fields, setup_method_args=setup_method_args)
        adata_manager.register_fields(adata, **kwargs)
        cls.register_manager(adata_manager)

    # -- scaug Generator protocol ----------------------------------------------------------------

    @property
    def space(self) -> str:
        """``"counts"`` or ``"continuous"``: the space of the training data."""
        return self.init_params_["non_kwargs"]["space"]

    @property
    def counts(self) -> bool:
        """Whether samples are integer counts."""
        return self.space == "counts" and self.init_params_["non_kwargs"].get("output", "counts") == "counts"

    def sample(
        self, n_per_label: Mapping[str, int], *, random_state: int = 0, chunk_size: int = CHUNK_CELLS
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Generate ``n_per_label[label]`` cells per label.

        Parameters
        ----------
        n_per_label
            Number of cells per label.
        random_state
            Seed; the same seed gives the same cells on CPU.
        chunk_size
            Cells generated per forward pass (bounds the working memory).

        Returns
        -------
        ``(matrix, labels)``: CSR matrix over all :attr:`var_names` (genes not modelled are zero)
        in the training space (integer counts, or profiles summing to ``library_size`` with
        ``output="normalized"``), and the label of each row.

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.CSCGAN.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.CSCGAN(adata)
        >>> model.train(max_steps=2, enable_progress_bar=False)
        >>> X, labels = model.sample({"type_1": 10}, random_state=0)
        >>> X.shape
        (10, 30)
        """
        chunks = self.sample_chunks(n_per_label, random_state=random_state, chunk_size=chunk_size)
        return stack_chunks(chunks, sum(int(n) for n in n_per_label.values()), len(self.var_names_))

    def sample_chunks(
        self, n_per_label: Mapping[str, int], *, random_state: int = 0, chunk_size: int = CHUNK_CELLS
    ) -> Iterator[tuple[sparse.csr_matrix, np.ndarray]]:
        """:meth:`sample`, one ``(matrix, labels)`` block of at most ``chunk_size`` cells at a time.

        The blocks stacked are :meth:`sample`'s cells: memory does not grow with the number of
        cells when each block is written away (``scaug.tl.generate(..., out="cells.h5ad")``).

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.CSCGAN.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.CSCGAN(adata)
        >>> model.train(max_steps=2, enable_progress_bar=False)
        >>> [X.shape for X, _ in model.sample_chunks({"type_1": 10}, chunk_size=4)]
        [(4, 30), (4, 30), (2, 30)]
        """
        self._check_known(n_per_label)
        torch_rng = torch.Generator().manual_seed(int(random_state))
        rng = np.random.default_rng(random_state)
        self.module.eval()
        n_total = sum(int(n) for n in n_per_label.values())
        with tqdm(total=n_total, desc="sample", unit="cells", disable=n_total < _PROGRESS_CELLS) as progress:
            for lab, n in n_per_label.items():
                for start in range(0, int(n), chunk_size):
                    codes = np.full(min(chunk_size, int(n) - start), self.labels.index(lab))
                    library = self._draw_library(codes, rng)
                    profiles = self._profiles(codes, torch_rng, library)
                    yield (
                        self._to_output(profiles, codes, library, torch_rng, rng),
                        np.full(len(codes), lab, object),
                    )
                    progress.update(len(codes))

    def _profiles(
        self, codes: np.ndarray, torch_rng: torch.Generator, library: np.ndarray | None
    ) -> torch.Tensor:
        """Generated profiles (cells x modelled genes, on the model's device) for label ``codes`` at ``library`` sizes.

        Counts: non-negative relative expression (rescaled to the library size by sampling, on that
        device); continuous space: values of that space. Noise is drawn from ``torch_rng`` on the
        CPU, so that a seed gives the same profiles on any device.
        """
        raise NotImplementedError

    def _draw_library(
        self, codes: np.ndarray | None, rng: np.random.Generator, n: int = 0
    ) -> np.ndarray | None:
        """Library sizes (modelled genes, other genes) of a random training cell of each cell's label.

        ``codes=None``: of ``n`` random training cells of any label. ``None`` in a continuous space.
        """
        if self.library_sizes_ is None:
            return None
        if codes is None:
            pooled = np.concatenate(list(self.library_sizes_.values()))
            return pooled[rng.integers(0, len(pooled), size=n)].astype(np.float64)
        return draw_library_sizes(self.library_sizes_, np.asarray(self.labels, dtype=object)[codes], rng)

    def _to_output(
        self,
        profiles: torch.Tensor,
        codes: np.ndarray,
        library: np.ndarray | None,
        torch_rng: torch.Generator,
        rng: np.random.Generator,
    ) -> sparse.csr_matrix:
        """Cells over all genes from generated profiles of the modelled genes (rows of label ``codes``).

        Counts: each cell has the library size of a random training cell of its label
        (:meth:`_draw_library`), split as in that cell between modelled and background genes;
        modelled genes get counts drawn from the profile, background genes from the label's mean
        profile. Normalised output: the expected values of those counts, rescaled to
        ``library_size``.
        """
        if self.space != "counts":
            return self._place(sparse.csr_matrix(profiles.cpu().numpy()), "modelled")
        has_background = len(self.background_genes_) > 0
        if self.counts:
            sampler = self.init_params_["non_kwargs"]["count_sampler"]
            counts = sample_counts(
                profiles, library[:, 0], sampler=sampler, rng=torch_rng if sampler == "round" else rng
            )
            out = self._place(counts, "modelled")
            if has_background:
                background = sample_from_profiles(self.background_profiles_, codes, library[:, 1], rng)
                out = out + self._place(background, "background")
            return out
        profiles = profiles.cpu()
        totals = profiles.sum(dim=1, keepdim=True).clamp_min(1e-12).numpy()
        expected = profiles.numpy() / totals * library[:, :1]
        out = self._place(sparse.csr_matrix(expected), "modelled")
        if has_background:
            out = out + self._place(
                sparse.csr_matrix(self.background_profiles_[codes] * library[:, 1:]), "background"
            )
        sums = np.asarray(out.sum(axis=1)).ravel()
        scale = self.init_params_["non_kwargs"]["library_size"] / np.where(sums > 0, sums, 1.0)
        return sparse.csr_matrix(sparse.diags(scale) @ out, dtype=np.float32)

    def _place(self, block, genes: Literal["modelled", "background"]) -> sparse.csr_matrix:
        """``block`` (cells x the modelled or background genes) as columns of all genes (others zero)."""
        # Looked up once: an index of tens of thousands of gene names is slow to build per chunk.
        cache = self.__dict__.setdefault("_columns", {})
        names = self.modelled_genes if genes == "modelled" else self.background_genes_
        if genes not in cache or len(cache[genes]) != len(names):
            cache[genes] = self.var_names.get_indexer(names)
        return with_columns(block, cache[genes], (block.shape[0], len(self.var_names_)))


def stack_chunks(
    chunks: Iterable[tuple[sparse.csr_matrix, np.ndarray]], n_rows: int, n_cols: int
) -> tuple[sparse.csr_matrix, np.ndarray]:
    """``(matrix, labels)`` blocks (at most ``n_rows`` rows in all) stacked into one ``(matrix, labels)``."""
    out, labels = RowStack(n_rows, n_cols), [np.array([], dtype=object)]
    for matrix, lab in chunks:
        out.append(matrix)
        labels.append(lab)
    return out.tocsr(), np.concatenate(labels)


def _row_sums(rows) -> np.ndarray:
    return np.asarray(rows.sum(axis=1), dtype=np.float64).ravel()


def _label_sizes(labels: np.ndarray, order: list[str]) -> np.ndarray:
    """Cells of each label of ``order`` among ``labels`` (a column, to weigh per-label means)."""
    return pd.Series(labels).value_counts().reindex(order, fill_value=0).to_numpy(dtype=np.float64)[:, None]
