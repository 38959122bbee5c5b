"""The model base of the comparison study's generators: log-normalised HVGs in, cells of the input's space out."""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS
from scvi.model._utils import use_distributed_sampler

from ..._validation import ScaugInputError
from .._counts import CountSampler
from .._profile_model import ProfileModelBase, check_output_options


class StudyModelBase(ProfileModelBase):
    """Data, genes, scaling, training and sampling shared by :class:`StudyGAN` and :class:`StudyVAE`.

    The networks model the ``n_top_genes`` most variable genes, log-normalised (``log1p`` of counts
    per 10,000) and scaled into [-1, 1] per gene (:class:`MinMaxScaling`), as the study's networks
    did. Generated values are scaled back (within each gene's training range); for counts they are
    turned into counts as by every scaug generator (:class:`~scaug.models.CSCGAN`): each synthetic
    cell takes the library size of a random training cell of its label, the modelled genes get
    counts drawn from the generated expression (``count_sampler``), the other detected genes from
    the label's mean profile (``background``).

    Subclasses set ``_module_cls``, ``_default_lr`` and ``_plan_defaults`` and may turn their
    options into module arguments in :meth:`_module_options`.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    min_cells
        Genes detected in fewer training cells are not modelled (zero in samples).
    n_top_genes
        Highly variable genes the networks model (scanpy's ``"seurat"`` flavour); ``None``: every
        gene detected in ``min_cells`` cells.
    background
        Counts only: the other detected genes are drawn from their label's mean profile at the
        library size of a real cell, so that library sizes stay realistic; ``False``: zero.
    modelled_genes
        Explicit genes to model (overrides ``min_cells``/``n_top_genes``).
    space
        ``"counts"`` (log-normalised for the networks) or ``"continuous"`` (e.g. log-normalised
        values, modelled as they are); default from ``adata.uns["scaug_space"]``, else integer
        values mean counts.
    count_sampler
        How counts are drawn from generated expression (see :func:`~scaug.models.sample_counts`):
        ``"round"`` (default: the counts reproduce the generated values as closely as integers
        allow, so a classifier sees what the study's classifier saw; the networks learnt real
        cells' counting noise as far as they could), ``"poisson"`` (adds counting noise, e.g. to
        the VAE's smooth decoder means) or ``"multinomial"``.
    **options
        The subclass's network options (saved with the model).
    """

    _default_lr: float
    _plan_defaults: ClassVar[dict] = {}
    #: Whether training can run in several processes (``strategy="ddp"``).
    _distributed: bool = True

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        min_cells: int = 3,
        n_top_genes: int | None = 2000,
        background: bool = True,
        modelled_genes: Sequence[str] | None = None,
        space: Literal["counts", "continuous"] | None = None,
        count_sampler: CountSampler = "round",
        **options,
    ):
        super().__init__(adata, registry)
        check_output_options("counts", count_sampler)
        module_options = self._module_options(**options)
        if adata is not None:
            space, modelled_genes = self._record_data(
                adata,
                space=space,
                modelled_genes=modelled_genes,
                min_cells=min_cells,
                n_top_genes=n_top_genes,
                background=background,
            )
        # Saved with the model, so that load() rebuilds the same module without the training data.
        self.init_params_ = {
            "kwargs": {},
            "non_kwargs": {
                "min_cells": min_cells,
                "n_top_genes": n_top_genes,
                "background": background,
                "modelled_genes": modelled_genes,
                "space": space,
                "count_sampler": count_sampler,
                **options,
            },
        }
        self.module = self._module_cls(
            len(modelled_genes),
            self.summary_stats.n_labels,
            # Without data (load), the saved state dict restores the gene index and the scaling.
            gene_index=self.var_names.get_indexer(modelled_genes).tolist() if adata is not None else None,
            log_normalise=space == "counts",
            **module_options,
        )
        if adata is not None:
            self.module.scaling.fit(self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY))
        self._model_summary_string = (
            f"{type(self).__name__}: {len(modelled_genes)} genes modelled "
            f"({'log-normalised counts' if space == 'counts' else space}, scaled to [-1, 1]), "
            f"{self.summary_stats.n_labels} labels"
        )

    def _module_options(self, **options) -> dict:
        """The module's arguments from the model's options (checked here, before anything is trained)."""
        return options

    # -- training --------------------------------------------------------------------------------

    def train(
        self,
        max_epochs: int | None = 200,
        *,
        batch_size: int = 128,
        lr: float | None = None,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        **trainer_kwargs,
    ) -> None:
        """Train on every registered cell for ``max_epochs`` epochs (the study's fixed schedule).

        Parameters
        ----------
        max_epochs
            Passes over the training cells (study: 200; ``None``: 200).
        batch_size
            Cells per minibatch.
        lr
            Adam's learning rate (default: 1e-4 for the GAN, as in the study; 1e-3 for the VAE).
        accelerator, devices
            Lightning's device selection (``"auto"``: a GPU when there is one).
        datasplitter_kwargs, plan_kwargs
            Passed to the data splitter and the training plan.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (e.g. ``enable_progress_bar=False``).

        Examples
        --------
        See :meth:`sample`, whose example trains a model first.
        """
        max_epochs = 200 if max_epochs is None else max_epochs
        for name, value in (("max_epochs", max_epochs), ("batch_size", batch_size)):
            check_positive_int(name, value)
        if not self._distributed and use_distributed_sampler(trainer_kwargs.get("strategy", "auto")):
            raise ScaugInputError(
                f"{self._method} trains in one process: strategy={trainer_kwargs['strategy']!r} is not supported"
            )
        plan_kwargs = {**self._plan_defaults, "lr": lr or self._default_lr, **(plan_kwargs or {})}
        self.train_params_ = {
            "max_epochs": int(max_epochs),
            "batch_size": int(batch_size),
            **{k: v for k, v in plan_kwargs.items() if isinstance(v, int | float | str | bool)},
        }
        super().train(
            max_epochs=int(max_epochs),
            accelerator=accelerator,
            devices=devices,
            train_size=1.0,
            batch_size=int(batch_size),
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            **trainer_kwargs,
        )

    # -- sampling --------------------------------------------------------------------------------

    def _profiles(
        self, codes: np.ndarray, torch_rng: torch.Generator, library: np.ndarray | None
    ) -> torch.Tensor:
        """Generated expression of label ``codes``: per 10,000 counts (counts) or the continuous values."""
        device = next(self.module.parameters()).device
        labels = torch.as_tensor(codes, dtype=torch.long)
        z = self.module.latent(labels, torch_rng).to(device)
        with torch.inference_mode():
            scaled = self.module.generate(labels.to(device), z=z)
            return self.module.scaling.profiles(scaled)


def check_positive_int(name: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ScaugInputError(f"{name} must be a positive integer, got {value!r}")


def check_widths(name: str, widths) -> tuple[int, ...]:
    """Hidden layer widths as a tuple of positive ints, or a one-line error."""
    if isinstance(widths, int | str) or not isinstance(widths, Sequence) or not len(widths):
        raise ScaugInputError(f"{name} must be a non-empty sequence of positive integers, got {widths!r}")
    for width in widths:
        check_positive_int(name, width)
    return tuple(int(w) for w in widths)
