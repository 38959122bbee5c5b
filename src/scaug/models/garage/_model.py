"""GARAGE as an scvi-tools model and scaug generator: seed selection (stage 1) + seeded cscGAN (stage 2)."""

from __future__ import annotations

import functools
import logging
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scvi import REGISTRY_KEYS, settings

from ..._validation import ScaugInputError
from .._gan import GANModelBase, RarePrioritySplitter, rare_priority_weights
from ._module import GarageModule
from ._seeds import SeedSelector

logger = logging.getLogger("scaug")


class GARAGE(GANModelBase):
    """GARAGE: graph-attention seed selection with rare-type priority and a seeded conditional GAN.

    Stage 1 (:class:`~scaug.models.garage.SeedSelector`) trains a two-layer graph attention network
    to classify the labels on a sparse kNN graph of the cells (class-balanced loss, extra weight on
    rare labels) and picks, per label, the cells that receive the most attention from their
    neighbours, weighted by the network's confidence in their label; rare labels get more seeds.
    Stage 2 is cscGAN (projection critic, conditional batch norm, LSN output, WGAN-GP training and
    count sampling, all shared with :class:`~scaug.models.CSCGAN`) whose generator input
    concatenates noise with the embedding of a random seed cell of the requested label, for a
    fraction ``seeded_fraction`` of inputs. The critic is told which cells were seeded (real cells
    are flagged at random at the same rate), so seeded and unseeded inputs must each give realistic
    cells rather than two halves of each label. Real minibatches are drawn with rare cells
    ``rare_sampling`` times as likely as others, so the critic sees rare cells.

    Stage 1 runs when the model is built on data (as scGAN fits its labeller), so :attr:`seeds_` can
    be inspected before :meth:`train`, which trains stage 2 exactly as :meth:`CSCGAN.train` does.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    seeded_fraction
        Fraction of generator inputs that carry a seed embedding next to the noise (``0``: no
        seeds; the rest carry noise only). Seeding every input (the default) gave the most
        realistic cells in GARAGE's benchmark (``benchmarks/bench_garage.py``; results in the README).
    seeded_labels
        ``"all"``: inputs of every label carry seeds; ``"rare"``: only those of rare labels
        (:attr:`rare_labels_`), the others are generated from noise as by cscGAN.
    seed_noise
        Jitter added to (standardised) seed embeddings.
    rare_sampling
        How much more often cells of rare labels are drawn into real minibatches (``1``: uniform).
    seed_kwargs
        Options of :class:`~scaug.models.garage.SeedSelector` (e.g. ``rare_fraction``,
        ``seed_fraction``, ``rare_weight``, ``n_neighbors``).
    **kwargs
        Generator, critic, gene and output options of :class:`~scaug.models.CSCGAN`, with the same
        defaults.

    Attributes
    ----------
    seeds_
        The seed cells (index: training cell names) with ``label``, ``score`` (= ``attention`` x
        ``confidence``), ``attention`` (received from neighbours, mean over heads and layers),
        ``confidence`` (in the cell's label) and ``rank`` within the label.
    rare_labels_
        Labels stage 1 treated as rare.
    seed_history_
        One row per epoch of the graph attention network's training.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.GARAGE.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.GARAGE(adata, seed_kwargs={"max_epochs": 10, "progress_bar": False})
    >>> bool(model.seeds_.groupby("label", observed=True).size().min() >= 5)
    True
    >>> model.train(max_steps=5, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_2": 20}, random_state=0)
    """

    _method = "garage"

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        seeded_fraction: float = 1.0,
        seeded_labels: Literal["all", "rare"] = "all",
        seed_noise: float = 0.1,
        rare_sampling: float = 5.0,
        seed_kwargs: dict | None = None,
        **kwargs,
    ):
        if not 0 <= seeded_fraction <= 1:
            raise ScaugInputError(f"seeded_fraction must be in [0, 1], got {seeded_fraction}")
        if seeded_labels not in ("all", "rare"):
            raise ScaugInputError(f"seeded_labels must be 'all' or 'rare', got {seeded_labels!r}")
        if seed_noise < 0 or rare_sampling <= 0:
            raise ScaugInputError("seed_noise must be >= 0 and rare_sampling > 0")
        seed_kwargs = dict(seed_kwargs or {})
        sp = SeedSelector(**seed_kwargs).params  # bad options fail here, before anything is trained
        # Read by the _module_cls property when cscGAN's base class builds the module.
        self._seed_module_kwargs = {
            "n_seed_input": sp["n_hidden"] * sp["n_heads"],
            "seeded_fraction": seeded_fraction,
            "seed_noise": seed_noise,
            "n_gat_input": sp["n_pcs"],
            "n_gat_hidden": sp["n_hidden"],
            "n_gat_heads": sp["n_heads"],
            "gat_dropout": sp["dropout"],
        }
        super().__init__(adata, registry, **kwargs)
        extra = {
            "seeded_fraction": seeded_fraction,
            "seeded_labels": seeded_labels,
            "seed_noise": seed_noise,
            "rare_sampling": rare_sampling,
        }
        self.init_params_["non_kwargs"].update({**extra, "seed_kwargs": seed_kwargs})
        self.seeds_: pd.DataFrame | None = None
        self.seed_history_: pd.DataFrame | None = None
        self.rare_labels_: list[str] = []
        if adata is not None and registry is None:  # not when loading: the saved stage 1 is restored
            self.select_seeds()
        self._model_summary_string += (
            f", seeded_fraction {seeded_fraction} ({seeded_labels} labels), rare_sampling {rare_sampling}"
        )

    @property
    def _module_cls(self):
        """The module class: cscGAN's with a seeded generator input (the base class's ``__init__`` builds it)."""
        return functools.partial(GarageModule, **self._seed_module_kwargs)

    @property
    def _data_splitter_cls(self):
        """The data splitter: rare cells are drawn ``rare_sampling`` times as often into real minibatches."""
        weights = rare_priority_weights(
            self._cell_labels(),
            pd.Series(True, index=self.rare_labels_, dtype=bool),
            rare_sampling=self.init_params_["non_kwargs"]["rare_sampling"],
        )
        return functools.partial(RarePrioritySplitter, cell_weights=weights)

    def select_seeds(
        self, *, random_state: int | None = None, progress_bar: bool | None = None
    ) -> pd.DataFrame:
        """Run stage 1 on the registered data: train the GAT, pick the seeds, store them in the module.

        Called when the model is built; call it again (e.g. with another ``random_state``) before
        :meth:`train` to redo stage 1.

        Parameters
        ----------
        random_state
            Seed (default ``scvi.settings.seed``).
        progress_bar
            Show Lightning's progress bar (default: ``seed_kwargs["progress_bar"]``, else ``True``).

        Returns
        -------
        :attr:`seeds_`.

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
        >>> scaug.models.GARAGE.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.GARAGE(adata, seed_kwargs={"max_epochs": 5, "progress_bar": False})
        >>> seeds = model.select_seeds(random_state=1, progress_bar=False)
        """
        if self.adata is None:
            raise ScaugInputError("seed selection needs the training data: load the model with adata=")
        seed = settings.seed if random_state is None else random_state
        labels = self._cell_labels()
        selector = SeedSelector(**self.init_params_["non_kwargs"]["seed_kwargs"]).fit(
            self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY),
            labels,
            counts=self.space == "counts",
            obs_names=self.adata.obs_names,
            random_state=int(seed or 0),
            progress_bar=progress_bar,
        )
        emb = selector.embedding_
        emb = (emb - emb.mean(axis=0)) / np.maximum(emb.std(axis=0), 1e-6)
        rows = selector.seeds_["row"].to_numpy()
        codes = pd.Index(self.labels).get_indexer(labels[rows])
        self.rare_labels_ = [str(lab) for lab in selector.rare_.index[selector.rare_.to_numpy()]]
        seeded = (
            np.ones(len(self.labels), dtype=bool)
            if self.init_params_["non_kwargs"].get("seeded_labels", "all") == "all"
            else np.isin(self.labels, self.rare_labels_)
        )
        self.module.set_seeds(torch.from_numpy(emb[rows]), torch.from_numpy(codes), torch.from_numpy(seeded))
        self.module.seed_network.load_state_dict(selector.network_.state_dict())
        self.seeds_ = selector.seeds_.drop(columns="row")
        self.seed_history_ = selector.history_
        logger.info("GARAGE stage 1: %d seeds; rare labels %s", len(self.seeds_), self.rare_labels_ or "none")
        return self.seeds_
