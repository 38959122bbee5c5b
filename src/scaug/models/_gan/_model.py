"""The model shared by the WGAN-GP generators (scGAN, cscGAN, GARAGE): module, training, few-shot labels.

Data, modelled genes and count output are every profile generator's (:mod:`scaug.models._profile_model`).
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS, settings

from ..._blocks import on_disk
from ..._validation import ScaugInputError
from .._blocks_loader import BlockDataSplitter
from .._counts import CountSampler
from .._distributed import n_processes, two_optimizer_strategy
from .._profile_model import Output, ProfileModelBase, check_output_options
from ._few_shot import borrow_library_sizes, fit_label_shift
from ._module import GANModule
from ._trainingplan import WGANGPTrainingPlan

logger = logging.getLogger("scaug")

#: Training cells (drawn at random) whose principal axes denoise a few-shot label's target.
REFERENCE_CELLS = 2048

#: Generator steps of a default training run (minutes on a laptop CPU for a few thousand cells; times
#: in the README). The step search is in benchmarks/results/before_hvg_fix/cscgan_search.csv: twice as
#: many steps scored no better.
DEFAULT_MAX_STEPS = 4000


class GANModelBase(ProfileModelBase):
    """Shared model logic of :class:`SCGAN` and :class:`CSCGAN` (see there for the parameters)."""

    _module_cls = GANModule
    _training_plan_cls = WGANGPTrainingPlan
    _conditional: bool = True
    _method: str = "cscgan"

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        n_latent: int = 64,
        n_hidden_generator: Sequence[int] = (128, 256),
        n_hidden_critic: Sequence[int] = (256, 128),
        library_size: float = 20_000.0,
        log_critic_input: bool = True,
        min_cells: int = 3,
        n_top_genes: int | None = 2000,
        background: bool = True,
        modelled_genes: Sequence[str] | None = None,
        space: Literal["counts", "continuous"] | None = None,
        output: Output = "counts",
        count_sampler: CountSampler = "poisson",
        output_activation: Literal["softmax", "relu"] = "softmax",
        condition_on_library: bool = True,
        few_shot_cells: int = 20,
    ):
        super().__init__(adata, registry)
        if isinstance(few_shot_cells, bool) or not isinstance(few_shot_cells, int) or few_shot_cells < 0:
            raise ScaugInputError(f"few_shot_cells must be a non-negative int, got {few_shot_cells!r}")
        check_output_options(output, count_sampler)
        n_hidden_generator, n_hidden_critic = list(n_hidden_generator), list(n_hidden_critic)
        if adata is not None:
            space, modelled_genes = self._record_data(
                adata,
                space=space,
                modelled_genes=modelled_genes,
                min_cells=min_cells,
                n_top_genes=n_top_genes,
                background=background,
                few_shot_cells=few_shot_cells if self._conditional else 0,
            )
        # Saved with the model, so that load() rebuilds the same module without the training data.
        # The options of this signature, also when a subclass takes them as **kwargs.
        options = inspect.signature(GANModelBase.__init__).parameters
        local = locals()
        self.init_params_ = {
            "kwargs": {},
            "non_kwargs": {k: local[k] for k in options if k not in ("self", "adata", "registry")},
        }
        self.module = self._module_cls(
            len(modelled_genes),
            self.summary_stats.n_labels,
            # Without data (load), the saved state dict restores the gene index buffer.
            gene_index=self.var_names.get_indexer(modelled_genes).tolist() if adata is not None else None,
            conditional=self._conditional,
            n_latent=n_latent,
            n_hidden_generator=n_hidden_generator,
            n_hidden_critic=n_hidden_critic,
            library_size=library_size if space == "counts" else None,
            log_critic_input=log_critic_input,
            output_activation=output_activation,
            condition_on_library=condition_on_library,
        )
        if adata is not None and self.library_sizes_ is not None:
            self.module.set_library_sizes(np.concatenate([s[:, 0] for s in self.library_sizes_.values()]))
        self._model_summary_string = (
            f"{type(self).__name__}: {len(modelled_genes)} genes modelled ({space}), "
            f"{self.summary_stats.n_labels} labels, generator {n_hidden_generator}, critic {n_hidden_critic}"
        )

    def _init_from_data(
        self,
        adata: AnnData,
        matrix,
        modelled_genes: list[str],
        space: str,
        *,
        detected: np.ndarray | None,
        background: bool,
        few_shot_cells: int = 0,
    ) -> None:
        """Record what sampling needs; few-shot labels borrow the spread of library sizes from the others."""
        super()._init_from_data(
            adata, matrix, modelled_genes, space, detected=detected, background=background
        )
        small = [lab for lab, n in self.label_counts_.items() if n < few_shot_cells]
        if small and self.library_sizes_ is not None:
            rng = np.random.default_rng(settings.seed)
            self.library_sizes_ = borrow_library_sizes(self.library_sizes_, small, rng=rng)

    # -- training --------------------------------------------------------------------------------

    def train(
        self,
        max_epochs: int | None = None,
        max_steps: int | None = None,
        *,
        batch_size: int = 128,
        lr: float = 1e-3,
        n_critic: int = 3,
        count_noise: bool = True,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        train_size: float | None = None,
        validation_size: float | None = None,
        early_stopping: bool = False,
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        **trainer_kwargs,
    ) -> None:
        """Train generator and critic with WGAN-GP.

        Parameters
        ----------
        max_epochs
            Passes over the training cells; ``None``: as many as ``max_steps`` needs.
        max_steps
            Generator steps (each after ``n_critic`` critic steps); default
            ``DEFAULT_MAX_STEPS`` unless ``max_epochs`` is given. Training stops at whichever
            limit comes first.
        batch_size
            Real cells per critic step (and generated cells per step).
        lr
            Learning rate of generator and critic (see :class:`WGANGPTrainingPlan` for decay).
        n_critic
            Critic steps per generator step.
        count_noise
            Counts data: the critic scores generated cells after drawing their counts as sampling
            does (``count_sampler``; Poisson for ``"multinomial"``), at the library sizes of the
            minibatch's real cells, so the generator learns expression profiles whose counts look
            real (see :meth:`GANModule.counted`). ``False``: the published scGAN, whose critic
            scores generated profiles directly.
        accelerator, devices
            Lightning's device selection (``"auto"``: a GPU when there is one).
        train_size, validation_size
            Split of the cells; default all cells train, or 90 % with ``early_stopping``.
        early_stopping
            Stop when the validation Wasserstein estimate (``wasserstein_validation``, logged by
            the plan) stops falling; patience etc. through ``trainer_kwargs``.
        datasplitter_kwargs, plan_kwargs
            Passed to :class:`scvi.dataloaders.DataSplitter` and :class:`WGANGPTrainingPlan`.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer`. ``strategy="ddp"`` with ``devices=N`` trains in
            N processes (Lightning's DDP; ``accelerator="cpu"`` uses the gloo backend): each
            process takes its own minibatches of ``batch_size`` cells, so a generator step sees
            N x ``batch_size`` real cells, and ``max_steps`` counts the same generator steps as in
            one process. Run it from a script: every process runs the script (use
            ``"ddp_notebook"`` in Jupyter).

        Examples
        --------
        See :meth:`sample`, whose example trains a model first.
        """
        n_obs = self.adata.n_obs
        if train_size is None:
            train_size = 0.9 if early_stopping else 1.0
        n_train = max(1, math.floor(n_obs * train_size))
        strategy = trainer_kwargs.get("strategy")
        processes = n_processes(strategy, accelerator, devices, trainer_kwargs.get("num_nodes", 1))
        if strategy is not None:
            trainer_kwargs["strategy"] = two_optimizer_strategy(strategy)
        # Under DDP each process takes its own minibatches: an epoch has `processes` times fewer steps.
        per_process = max(1, n_train // processes)
        batch_size = min(int(batch_size), per_process)
        batches_per_epoch = max(1, per_process // batch_size)
        if max_steps is None and max_epochs is None:
            max_steps = DEFAULT_MAX_STEPS
        if max_steps is not None:
            # Lightning counts every optimizer step: n_critic critic steps + 1 generator step each.
            trainer_kwargs["max_steps"] = int(max_steps) * (int(n_critic) + 1)
            if max_epochs is None:
                max_epochs = math.ceil(int(max_steps) * int(n_critic) / batches_per_epoch)
        if early_stopping:
            trainer_kwargs.setdefault("early_stopping_monitor", "wasserstein_validation")
        datasplitter_kwargs = {"drop_last": True, **(datasplitter_kwargs or {})}
        # X on disk (a backed AnnData): minibatches read in contiguous blocks of rows, not row by row
        if on_disk(self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)):
            self._data_splitter_cls = BlockDataSplitter
        sampler = self.init_params_["non_kwargs"]["count_sampler"]
        noise = (
            ("round" if sampler == "round" else "poisson") if count_noise and self.space == "counts" else None
        )
        plan_kwargs = {"lr": lr, "n_critic": n_critic, "count_noise": noise, **(plan_kwargs or {})}
        self.train_params_ = {
            "max_epochs": max_epochs,
            "max_steps": max_steps,
            "batch_size": batch_size,
            **{k: v for k, v in plan_kwargs.items() if isinstance(v, int | float | str | bool)},
            "count_noise": plan_kwargs["count_noise"] or "off",
            "processes": processes,
        }
        super().train(
            max_epochs=max_epochs,
            accelerator=accelerator,
            devices=devices,
            train_size=train_size,
            validation_size=validation_size,
            batch_size=batch_size,
            early_stopping=early_stopping,
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            **trainer_kwargs,
        )
        self.train_params_["generator_steps"] = int(self.trainer.lightning_module.generator_steps)
        if self.few_shot_labels:
            self.fit_few_shot()

    @property
    def few_shot_labels(self) -> list[str]:
        """Labels with fewer than ``few_shot_cells`` training cells (conditional models only)."""
        # Models saved before few-shot fitting existed have no such option: none.
        limit = self.init_params_["non_kwargs"].get("few_shot_cells", 0)
        if not self._conditional or not limit:
            return []
        return [lab for lab, n in self.label_counts_.items() if n < limit]

    def fit_few_shot(
        self,
        labels: Sequence[str] | None = None,
        *,
        n_components: int | None = 10,
        steps: int = 300,
        lr: float = 1e-2,
    ) -> pd.Series:
        """Fit the conditioning of few-shot labels to the denoised mean expression of their real cells.

        Called at the end of :meth:`train` for :attr:`few_shot_labels`; see
        :mod:`scaug.models._gan._few_shot` for why: only each label's conditional batch-norm
        shifts move, so its cells keep the variation the generator learnt from all labels, and
        the target keeps the part of the few cells' mean along the main axes of variation of the
        training cells and, elsewhere, only genes whose difference stands out of the counting noise.

        Parameters
        ----------
        labels
            Labels to fit (default :attr:`few_shot_labels`).
        n_components
            Principal components of the training cells (up to ``REFERENCE_CELLS`` of them, drawn at
            random) kept in the target; ``None`` fits the plain mean of the label's cells.
        steps, lr
            Adam steps and learning rate.

        Returns
        -------
        The final loss per label (mean squared difference from the target per gene, in the critic's space).

        Examples
        --------
        >>> import scaug
        >>> adata = scaug.datasets.simulate(300, 50, 3, imbalance=0.02, random_state=0)
        >>> scaug.models.CSCGAN.setup_anndata(adata, labels_key="cell_type")
        >>> model = scaug.models.CSCGAN(adata)
        >>> model.few_shot_labels
        ['type_2']
        >>> model.train(max_steps=5, enable_progress_bar=False)
        >>> float(model.params["few_shot_loss"]["type_2"]) >= 0
        True
        """
        if self.adata is None:
            raise ScaugInputError(
                "fitting few-shot labels needs the training cells: load the model with adata="
            )
        labels = list(self.few_shot_labels if labels is None else labels)
        self._check_known(labels)
        matrix = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        cell_labels = self._cell_labels()
        columns = self.var_names.get_indexer(self.modelled_genes)
        seed = int(settings.seed or 0)
        generator = torch.Generator(device=self.device).manual_seed(seed)
        rng = np.random.default_rng(seed)

        def rows(index: np.ndarray) -> torch.Tensor:
            x = matrix[index][:, columns]
            return torch.as_tensor(x.toarray() if sparse.issparse(x) else np.asarray(x))

        denoise = {}
        if n_components is not None and labels:
            n = len(cell_labels)
            index = np.sort(rng.choice(n, min(n, REFERENCE_CELLS), replace=False))
            denoise = {
                "reference": rows(index),
                "reference_labels": cell_labels[index],
                "n_components": n_components,
            }
        losses = {}
        for lab in labels:
            cells = rows(np.flatnonzero(cell_labels == lab))
            library = None if self.library_sizes_ is None else self.library_sizes_[lab][:, 0]
            code = self.labels.index(lab)
            losses[lab] = fit_label_shift(
                self.module,
                code,
                cells,
                library,
                **denoise,
                steps=steps,
                lr=lr,
                generator=generator,
                rng=rng,
            )
            logger.info(
                "few-shot label %r (%d cells): conditioning fitted, loss %.4f", lab, len(cells), losses[lab]
            )
        self.train_params_["few_shot_loss"] = {lab: round(v, 6) for lab, v in losses.items()}
        self.train_params_["few_shot_components"] = n_components
        return pd.Series(losses, dtype=np.float64)

    # -- scaug Generator protocol ----------------------------------------------------------------

    def _profiles(
        self, codes: np.ndarray, torch_rng: torch.Generator, library: np.ndarray | None
    ) -> torch.Tensor:
        """Generated profiles for label ``codes`` at ``library`` sizes, on the model's device (noise drawn on the CPU)."""
        device = next(self.module.parameters()).device
        labels = torch.as_tensor(codes, dtype=torch.long)
        z = self.module.latent(labels, torch_rng).to(device)
        size = None if library is None else torch.as_tensor(library[:, 0], dtype=torch.float32, device=device)
        with torch.inference_mode():
            return self.module.generate(labels.to(device), z=z, library=size)
