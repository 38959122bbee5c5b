"""scVI's posterior predictive of a label's own real cells, as a scaug generator."""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.model import SCVI
from tqdm.auto import tqdm

from ..._genes import select_genes
from ..._validation import ScaugInputError, check_values
from .._counts import RowStack, mean_profiles, sample_from_profiles, with_columns
from .._files import SafeFileMixin
from .._generator import GeneratorMixin

logger = logging.getLogger("scaug")
# Negative binomial draws over ~13,000 genes run at a few hundred cells per second on one CPU
# thread: a progress bar from this many cells (tens of seconds) on.
_PROGRESS_CELLS = 10_000

#: The one-line refusal of a continuous (e.g. log-normalised) matrix.
COUNTS_ONLY = (
    "scVI (scvi, scvi_ppc) needs raw integer counts (its count likelihood), but the modelled matrix "
    "holds non-integer values (log-normalised?); pass the counts with layer= (e.g. layer='counts')"
)


class SCVIPPC(GeneratorMixin, SafeFileMixin, SCVI):
    r"""Posterior predictive samples of scVI (Lopez et al. 2018) from a label's own real cells.

    An :class:`scvi.model.SCVI` (negative binomial likelihood by default) is trained on the counts
    of all training cells. A synthetic cell of label ``L`` is one posterior predictive sample
    (:meth:`~scvi.model.SCVI.posterior_predictive_sample`) of a real training cell of ``L``: a
    latent drawn from the cell's posterior :math:`q(z \mid x)`, decoded, and counts drawn at the
    cell's observed library size. Source cells are used in turn (random order), so each real cell
    of ``L`` seeds about the same number of synthetic cells. This is the honest strong baseline of
    scaug's benchmark: it needs no label conditioning and works from a single cell of a label, but
    its cells stay close to the real ones (see the memorisation ratio of
    :func:`scaug.tl.fidelity`).

    Sampling needs the training cells: the model keeps the counts of its modelled genes, and
    :meth:`save` writes them next to the weights (``adata.h5ad``); do not share a saved model
    whose cells you may not share.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`, integer counts, all genes.
    registry
        Registry of a saved model (used by :meth:`load`).
    n_hidden, n_latent, n_layers, dropout_rate, dispersion, use_observed_lib_size, latent_distribution
        As in :class:`scvi.model.SCVI`.
    gene_likelihood
        ``"nb"`` (default), ``"zinb"`` or ``"poisson"``.
    min_cells
        Genes detected in fewer training cells are not modelled (zero in samples).
    n_top_genes
        Model only this many highly variable genes (scanpy's ``"seurat"`` flavour on
        log-normalised counts) among those, as :class:`~scaug.models.CSCGAN` does; ``None``: all
        of them (scVI copes with ~13,000 genes on a few thousand cells, at about 3x the time).
    background
        The other genes detected in ``min_cells`` cells are drawn as by
        :class:`~scaug.models.CSCGAN`: Poisson counts from the label's mean profile, with the
        source cell's own total of those genes, so library sizes and their split between genes
        stay the source cell's; ``False``: they are zero in samples.
    modelled_genes
        Explicit genes to model (overrides ``min_cells``/``n_top_genes``).
    **kwargs
        Further options of :class:`scvi.module.VAE` (e.g. ``use_batch_norm``).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
    >>> scaug.models.SCVIPPC.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.SCVIPPC(adata, n_latent=4)
    >>> model.train(max_epochs=1, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_1": 10}, random_state=0)
    >>> X.shape
    (10, 30)
    """

    _method = "scvi_ppc"

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        n_hidden: int = 128,
        n_latent: int = 10,
        n_layers: int = 1,
        dropout_rate: float = 0.1,
        dispersion: Literal["gene", "gene-batch", "gene-label", "gene-cell"] = "gene",
        gene_likelihood: Literal["nb", "zinb", "poisson"] = "nb",
        use_observed_lib_size: bool = True,
        latent_distribution: Literal["normal", "ln"] = "normal",
        *,
        min_cells: int = 3,
        n_top_genes: int | None = 2000,
        background: bool = True,
        modelled_genes: Sequence[str] | None = None,
        **kwargs,
    ):
        if gene_likelihood not in ("nb", "zinb", "poisson"):
            raise ScaugInputError(
                f"gene_likelihood must be 'nb', 'zinb' or 'poisson' (counts out), got {gene_likelihood!r}"
            )
        var_names, label_counts, extra = None, None, None
        if adata is not None:
            manager = self._get_most_recent_anndata_manager(adata, required=True)
            matrix = manager.get_from_registry(REGISTRY_KEYS.X_KEY)
            if modelled_genes is None:
                mask = select_genes(matrix, counts=True, min_cells=min_cells, n_top_genes=n_top_genes)
                if not mask.any():
                    raise ScaugInputError(
                        f"no gene is detected in at least {min_cells} cells; nothing to model"
                    )
                modelled_genes = adata.var_names[mask].tolist()
            unknown = pd.Index(modelled_genes).difference(adata.var_names)
            if len(unknown) or not len(modelled_genes):
                raise ScaugInputError(
                    f"modelled_genes must be genes of adata.var_names; unknown: {list(unknown[:5])}"
                )
            keep = adata.var_names.isin(modelled_genes)
            modelled_genes = adata.var_names[keep].tolist()
            var_names = adata.var_names.astype(str).tolist()
            codes = np.asarray(manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel().astype(int)
            mapping = manager.get_state_registry(REGISTRY_KEYS.LABELS_KEY).categorical_mapping
            label_counts = pd.Series(
                np.bincount(codes, minlength=len(mapping)),
                index=[str(lab) for lab in mapping],
                dtype=np.int64,
            )
            extra = (
                _background(matrix, keep, codes, len(mapping), min_cells=min_cells) if background else None
            )
            if registry is None or not keep.all():
                # scVI models every gene of the AnnData it is given, and sampling reads the cells
                # long after training (a later in-place normalize_total of the caller's matrix
                # must not change them): a copy of the modelled genes, registered as the original.
                setup_args = dict(manager.registry["setup_args"])
                adata = _modelled_copy(adata, keep, setup_args)
                type(self).setup_anndata(adata, **setup_args)
        super().__init__(
            adata,
            registry,
            n_hidden=n_hidden,
            n_latent=n_latent,
            n_layers=n_layers,
            dropout_rate=dropout_rate,
            dispersion=dispersion,
            gene_likelihood=gene_likelihood,
            use_observed_lib_size=use_observed_lib_size,
            latent_distribution=latent_distribution,
            **kwargs,
        )
        # SCVI records its own signature; this one (with the selected genes) lets load() rebuild the
        # module without selecting genes again.
        self.init_params_ = self._get_init_params(locals())
        # Attributes ending in "_" are saved with the model (and restored by load()).
        if var_names is not None:
            self.var_names_ = var_names
            self.label_counts_ = label_counts
            genes, profiles, totals = (
                extra if extra is not None else (np.zeros(0, dtype=np.int64), None, None)
            )
            self.background_genes_ = [var_names[j] for j in genes]
            self.background_profiles_ = profiles
            self.background_totals_ = totals
        self.train_params_: dict = {}
        self._model_summary_string = (
            f"SCVIPPC: scVI posterior predictive, {len(modelled_genes or [])} genes modelled, "
            f"{self.summary_stats.n_labels} labels, n_latent {n_latent}, n_hidden {n_hidden}, "
            f"n_layers {n_layers}, {gene_likelihood} likelihood"
        )

    # -- setup -----------------------------------------------------------------------------------

    @classmethod
    def setup_anndata(
        cls,
        adata: AnnData,
        labels_key: str,
        layer: str | None = None,
        batch_key: str | None = None,
        size_factor_key: str | None = None,
        categorical_covariate_keys: list[str] | None = None,
        continuous_covariate_keys: list[str] | None = None,
        **kwargs,
    ) -> None:
        """Register the counts, the labels and (optionally) scVI's covariates.

        Parameters
        ----------
        adata
            Cells x genes with integer counts.
        labels_key
            ``obs`` column with the cell-type labels; every cell needs one.
        layer
            Layer with the counts; ``None`` for ``.X``.
        batch_key, categorical_covariate_keys, continuous_covariate_keys
            As in :meth:`scvi.model.SCVI.setup_anndata`; a synthetic cell keeps the covariates of
            the real cell it is sampled from.
        size_factor_key
            Not supported: samples are drawn at the source cell's observed library size.
        **kwargs
            Passed to scvi-tools' registration (used by :meth:`load`).

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.SCVIPPC.setup_anndata(adata, labels_key="cell_type")
        """
        if labels_key not in adata.obs.columns:
            raise ScaugInputError(f"labels_key {labels_key!r} is not a column of adata.obs")
        if adata.obs[labels_key].isna().any():
            raise ScaugInputError(f"obs[{labels_key!r}] has missing labels; drop the unlabelled cells first")
        if size_factor_key is not None:
            raise ScaugInputError(
                f"{cls._method} samples at each source cell's observed library size; size_factor_key is not supported"
            )
        if layer is not None and layer not in adata.layers:
            raise ScaugInputError(f"layer {layer!r} is not in adata.layers (layers: {list(adata.layers)})")
        matrix = adata.X if layer is None else adata.layers[layer]
        if not check_values(matrix, where="adata.X" if layer is None else f"adata.layers[{layer!r}]"):
            raise ScaugInputError(COUNTS_ONLY)
        with warnings.catch_warnings():
            # scvi-tools warns about labels of fewer than 3 cells, which matter to models that learn
            # per label; here labels only say which cells to sample from, and 1-cell labels are the point.
            warnings.filterwarnings("ignore", message=r"Category .* has fewer than 3 cells")
            super().setup_anndata(
                adata,
                layer=layer,
                batch_key=batch_key,
                labels_key=labels_key,
                size_factor_key=None,
                categorical_covariate_keys=categorical_covariate_keys,
                continuous_covariate_keys=continuous_covariate_keys,
                **kwargs,
            )

    # -- training --------------------------------------------------------------------------------

    def train(
        self,
        max_epochs: int | None = None,
        *,
        train_size: float = 1.0,
        batch_size: int = 128,
        datasplitter_kwargs: dict | None = None,
        **kwargs,
    ) -> None:
        """Train scVI (:meth:`scvi.model.SCVI.train`).

        Parameters
        ----------
        max_epochs
            Passes over the training cells; ``None``: scvi-tools' heuristic
            (``min(round(20,000 / n_cells * 400), 400)``: 400 up to 20,000 cells).
        train_size
            Share of cells trained on; default all of them (scvi-tools holds out 10 % for
            validation): a generator has no use for held-out cells, and the encoder should have
            seen every cell it is asked to sample from, a label's only cell included.
        batch_size
            Minibatch size.
        datasplitter_kwargs
            Options of :class:`scvi.dataloaders.DataSplitter`.
        **kwargs
            Further options of :meth:`scvi.model.SCVI.train` and of the (Lightning) trainer, e.g.
            ``accelerator``, ``early_stopping``, ``plan_kwargs``, ``enable_progress_bar``.

        Examples
        --------
        See :meth:`sample`, whose example trains a model first.
        """
        from scvi.model._utils import get_max_epochs_heuristic

        if max_epochs is None:
            max_epochs = get_max_epochs_heuristic(self.adata.n_obs)
        datasplitter_kwargs = dict(datasplitter_kwargs or {})
        n_train = math.ceil(train_size * self.adata.n_obs)
        if 0 < n_train % batch_size < 3 and "drop_last" not in datasplitter_kwargs:
            # A last minibatch of one cell breaks batch norm; the training cells are shuffled every
            # epoch, so dropping the short batch skips no cell for good.
            datasplitter_kwargs["drop_last"] = True
        self.train_params_ = {
            "max_epochs": int(max_epochs),
            "train_size": float(train_size),
            "batch_size": int(batch_size),
            **{k: v for k, v in kwargs.items() if isinstance(v, int | float | str | bool)},
        }
        super().train(
            max_epochs=max_epochs,
            train_size=train_size,
            batch_size=batch_size,
            datasplitter_kwargs=datasplitter_kwargs,
            **kwargs,
        )

    # -- save / load -----------------------------------------------------------------------------

    def save(self, dir_path: str, *, overwrite: bool = False, save_anndata: bool = True) -> None:
        """Save weights, settings and the training cells of the modelled genes (sampling needs them).

        Parameters
        ----------
        dir_path
            Directory to write (``model.pt``, loadable with ``torch.load(weights_only=True)``, and
            ``adata.h5ad``).
        overwrite
            Replace an existing directory.
        save_anndata
            Also write the training cells; without them, :meth:`load` needs the same cells again.

        Examples
        --------
        >>> import scaug, tempfile
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.SCVIPPC.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.SCVIPPC(adata)
        >>> model.train(max_epochs=1, enable_progress_bar=False)
        >>> path = tempfile.mkdtemp()
        >>> model.save(path, overwrite=True)
        >>> loaded = scaug.models.SCVIPPC.load(path)
        """
        super().save(dir_path, overwrite=overwrite, save_anndata=save_anndata)

    @classmethod
    def load(
        cls,
        dir_path: str,
        adata: AnnData | Literal[False] | None = None,
        accelerator: str = "auto",
        device: int | str = "auto",
    ) -> SCVIPPC:
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            ``None`` or ``False`` (what :func:`scaug.models.load_model` passes): the cells saved
            with the model; else an AnnData of the same cells and modelled genes.
        accelerator, device
            Where to put the model.

        Returns
        -------
        The trained model, ready to :meth:`sample`.
        """
        return super().load(dir_path, adata=adata, accelerator=accelerator, device=device)

    @classmethod
    def _from_saved(cls, saved: dict, dir_path: str, adata, accelerator: str, device: int | str) -> SCVIPPC:
        # Unlike the GANs, sampling needs the training cells: always load the saved ones.
        adata = None if adata is False else adata
        model = super()._from_saved(saved, dir_path, adata, accelerator, device)
        if model.adata is None:
            raise ScaugInputError(
                f"{dir_path} holds no training cells (adata.h5ad), which {cls._method} samples from; "
                "save the model with save_anndata=True or pass adata="
            )
        return model

    # -- scaug Generator protocol ----------------------------------------------------------------

    @property
    def counts(self) -> bool:
        """Samples are integer counts."""
        return True

    def sample(
        self, n_per_label: Mapping[str, int], *, random_state: int = 0, chunk_size: int = 1024
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Draw ``n_per_label[label]`` posterior predictive cells per label.

        Each synthetic cell of a label is one posterior predictive sample of a real training cell
        of that label; the label's cells are taken in a random order, then again in a new random
        order, and so on, so each seeds ``n // n_cells`` or one more synthetic cells.

        Parameters
        ----------
        n_per_label
            Number of cells per label.
        random_state
            Seed of the source cells and of the draws; the same seed gives the same cells on CPU.
        chunk_size
            Source cells sampled per pass (bounds the working memory).

        Returns
        -------
        ``(matrix, labels)``: integer counts as a CSR matrix over all :attr:`var_names` (genes not
        modelled are zero), and the label of each row.

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.SCVIPPC.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.SCVIPPC(adata)
        >>> model.train(max_epochs=1, enable_progress_bar=False)
        >>> X, labels = model.sample({"type_0": 5, "type_1": 3}, random_state=0)
        >>> X.shape, list(labels[:2])
        ((8, 30), ['type_0', 'type_0'])
        """
        self._check_can_sample(n_per_label)
        return self._sample_from_sources(n_per_label, self._posterior_predictive, random_state, chunk_size)

    def _check_can_sample(self, n_per_label: Mapping[str, int]) -> None:
        if self.adata is None:
            raise ScaugInputError("this model has no training cells to sample from; load it with adata=")
        self._check_known(n_per_label)

    def _sample_from_sources(
        self,
        n_per_label: Mapping[str, int],
        draw: Callable[[np.ndarray, np.random.Generator], sparse.csr_matrix],
        random_state: int,
        chunk_size: int,
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Source cells of each label in turn, the modelled genes drawn for them by ``draw``, and the others."""
        rng = np.random.default_rng(random_state)
        sources = np.concatenate(
            [np.zeros(0, dtype=np.int64)]
            + [self._source_cells(lab, int(n), rng) for lab, n in n_per_label.items() if int(n) > 0]
        )
        labels = np.repeat(
            np.asarray(list(n_per_label), dtype=object), [max(int(n), 0) for n in n_per_label.values()]
        )
        self.module.eval()
        columns = self.var_names.get_indexer(self.modelled_genes)
        out = RowStack(len(sources), len(self.var_names_))
        progress = tqdm(
            total=len(sources), desc="sample", unit="cells", disable=len(sources) < _PROGRESS_CELLS
        )
        devices = [self.device] if self.device.type == "cuda" else []
        # scVI's likelihoods draw from torch's global RNG: seed a fork of it, so the caller's random
        # stream is left as it was.
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            torch.manual_seed(int(random_state))
            for start in range(0, len(sources), chunk_size):
                chunk = sources[start : start + chunk_size]
                block = with_columns(draw(chunk, rng), columns, (len(chunk), len(self.var_names_)))
                if self.background_genes_:
                    block = block + self._background_block(chunk, rng)
                out.append(block)
                progress.update(len(chunk))
        progress.close()
        return out.tocsr(), labels

    def _posterior_predictive(self, sources: np.ndarray, rng: np.random.Generator) -> sparse.csr_matrix:
        """Counts of the modelled genes: one posterior predictive sample of each source cell."""
        drawn = self.posterior_predictive_sample(indices=sources, batch_size=len(sources))
        return sparse.csr_matrix(drawn.to_scipy_sparse(), dtype=np.float32)

    def _background_block(self, sources: np.ndarray, rng: np.random.Generator) -> sparse.csr_matrix:
        """Counts of the genes scVI does not model: the source cells' totals over their label's mean profile."""
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()[sources]
        drawn = sample_from_profiles(
            self.background_profiles_, codes.astype(np.int64), self.background_totals_[sources], rng
        )
        columns = self.var_names.get_indexer(self.background_genes_)
        return with_columns(drawn.astype(np.float32), columns, (len(sources), len(self.var_names_)))

    def _source_cells(self, label: str, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` training cells of ``label`` (rows of :attr:`adata`), cycling through them in random orders."""
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()
        cells = np.flatnonzero(codes == self.labels.index(label))
        if not len(cells):
            raise ScaugInputError(f"label {label!r} has no training cells to sample from")
        rounds = -(-n // len(cells))
        return np.concatenate([rng.permutation(cells) for _ in range(rounds)])[:n]


def _background(
    matrix, modelled: np.ndarray, codes: np.ndarray, n_labels: int, *, min_cells: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Columns of the other detected genes, each label's mean profile over them and each cell's total."""
    detected = np.asarray((matrix != 0).sum(axis=0)).ravel() >= min_cells
    genes = np.flatnonzero(detected & ~modelled)
    if not len(genes):
        return None
    block = matrix[:, genes]
    profiles = mean_profiles(block, codes.astype(str), [str(i) for i in range(n_labels)]).astype(np.float32)
    totals = np.asarray(block.sum(axis=1), dtype=np.float64).ravel()
    return genes, profiles, totals


def _modelled_copy(adata: AnnData, keep: np.ndarray, setup_args: dict) -> AnnData:
    """A new AnnData with the registered counts of the ``keep`` genes and the registered obs columns."""
    layer = setup_args.get("layer")
    matrix = adata.X if layer is None else adata.layers[layer]
    # Indexing the columns copies them (a CSR copy keeps the fast row access sampling needs).
    matrix = matrix[:, np.flatnonzero(keep)]
    matrix = sparse.csr_matrix(matrix) if sparse.issparse(matrix) else np.asarray(matrix)
    keys = [setup_args.get("labels_key"), setup_args.get("batch_key")]
    for many in ("categorical_covariate_keys", "continuous_covariate_keys"):
        keys += list(setup_args.get(many) or [])
    obs = adata.obs[list(dict.fromkeys(k for k in keys if k is not None))].copy()
    var = pd.DataFrame(index=adata.var_names[keep].copy())
    if layer is None:
        return AnnData(X=matrix, obs=obs, var=var)
    return AnnData(obs=obs, var=var, layers={layer: matrix})
