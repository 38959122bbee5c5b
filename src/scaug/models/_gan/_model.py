"""The model shared by the WGAN-GP generators (scGAN, cscGAN, GARAGE): data, training, count output."""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np
import pandas as pd
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS, settings
from scvi.data import AnnDataManager
from scvi.data.fields import CategoricalObsField, LayerField
from scvi.model.base import BaseModelClass, UnsupervisedTrainingMixin
from tqdm.auto import tqdm

from ..._genes import select_genes
from ..._validation import ScaugInputError, check_values
from .._counts import (
    CountSampler,
    RowStack,
    draw_library_sizes,
    library_sizes_by_label,
    mean_profiles,
    sample_counts,
    sample_from_profiles,
    with_columns,
)
from .._files import SafeFileMixin
from .._generator import GeneratorMixin
from ._few_shot import borrow_library_sizes, fit_label_offset, fit_label_shift
from ._module import GANModule
from ._trainingplan import WGANGPTrainingPlan

logger = logging.getLogger("scaug")
# Below this many cells generation takes seconds at most: no progress bar.
_PROGRESS_CELLS = 100_000

Output = Literal["counts", "normalized"]

#: Generator steps of a default training run (minutes on a laptop CPU for a few thousand cells; times
#: in the README). The step search is in benchmarks/results/before_hvg_fix/cscgan_search.csv: twice as
#: many steps scored no better.
DEFAULT_MAX_STEPS = 4000


class GANModelBase(GeneratorMixin, SafeFileMixin, UnsupervisedTrainingMixin, BaseModelClass):
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
        if output not in ("counts", "normalized"):
            raise ScaugInputError(f"output must be 'counts' or 'normalized', got {output!r}")
        if count_sampler not in ("round", "poisson", "multinomial"):
            raise ScaugInputError(
                f"count_sampler must be 'round', 'poisson' or 'multinomial', got {count_sampler!r}"
            )
        n_hidden_generator, n_hidden_critic = list(n_hidden_generator), list(n_hidden_critic)
        if adata is not None:
            matrix = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
            if space is None:
                space = adata.uns.get("scaug_space") or (
                    "counts" if check_values(matrix, where="X") else "continuous"
                )
            if modelled_genes is None:
                mask = select_genes(
                    matrix, counts=space == "counts", min_cells=min_cells, n_top_genes=n_top_genes
                )
                if not mask.any():
                    raise ScaugInputError(
                        f"no gene is expressed in at least {min_cells} cells; nothing to model"
                    )
                modelled_genes = adata.var_names[mask].tolist()
            unknown = pd.Index(modelled_genes).difference(adata.var_names)
            if len(unknown) or not len(modelled_genes):
                raise ScaugInputError(
                    f"modelled_genes must be genes of adata.var_names; unknown: {list(unknown[:5])}"
                )
            # In the order of var_names, so that gene columns and profiles line up.
            modelled_genes = adata.var_names[adata.var_names.isin(modelled_genes)].tolist()
            self._init_from_data(
                adata,
                matrix,
                modelled_genes,
                space,
                min_cells=min_cells,
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
        min_cells: int,
        background: bool,
        few_shot_cells: int = 0,
    ) -> None:
        """Record what sampling needs without the training data (attributes ending in ``_`` are saved)."""
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
        totals = [np.asarray(matrix[:, columns].sum(axis=1)).ravel()]
        if background:
            detected = np.asarray((matrix != 0).sum(axis=0)).ravel() >= min_cells
            detected[columns] = False
            bg = matrix[:, np.flatnonzero(detected)]
            self.background_genes_ = self.var_names[detected].tolist()
            self.background_profiles_ = mean_profiles(bg, labels, self.labels).astype(np.float32)
            totals.append(np.asarray(bg.sum(axis=1)).ravel())
        self.library_sizes_ = library_sizes_by_label(np.column_stack(totals), labels)
        small = [lab for lab, n in self.label_counts_.items() if n < few_shot_cells]
        if small:
            rng = np.random.default_rng(settings.seed)
            self.library_sizes_ = borrow_library_sizes(self.library_sizes_, small, rng=rng)

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
            Passed to :class:`scvi.train.Trainer`.

        Examples
        --------
        See :meth:`sample`, whose example trains a model first.
        """
        n_obs = self.adata.n_obs
        if train_size is None:
            train_size = 0.9 if early_stopping else 1.0
        n_train = max(1, math.floor(n_obs * train_size))
        batch_size = min(int(batch_size), n_train)
        batches_per_epoch = max(1, n_train // batch_size)
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
        steps: int = 300,
        lr: float = 1e-2,
        offset_bound: float | None = 2.0,
    ) -> pd.Series:
        """Fit the conditioning of few-shot labels to the mean expression of their real cells.

        Called at the end of :meth:`train` for :attr:`few_shot_labels`; see
        :mod:`scaug.models._gan._few_shot` for why: only each label's conditional batch-norm
        shifts move, then a bounded offset per gene of the output, so its cells keep the
        variation the generator learnt from all labels.

        Parameters
        ----------
        labels
            Labels to fit (default :attr:`few_shot_labels`).
        steps, lr
            Adam steps and learning rate (of each of the two fits).
        offset_bound
            Largest offset per gene (:func:`~scaug.models._gan._few_shot.fit_label_offset`);
            ``None``: fit the shifts only (no offsets).

        Returns
        -------
        The final loss per label (mean squared difference of mean log expression per gene).

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
        losses = {}
        for lab in labels:
            cells = matrix[np.flatnonzero(cell_labels == lab)][:, columns]
            cells = torch.as_tensor(cells.toarray() if sparse.issparse(cells) else np.asarray(cells))
            library = None if self.library_sizes_ is None else self.library_sizes_[lab][:, 0]
            code = self.labels.index(lab)
            fit = {"steps": steps, "lr": lr, "generator": generator, "rng": rng}
            with torch.no_grad():
                self.module.generator.label_offset[code] = 0.0
            losses[lab] = fit_label_shift(self.module, code, cells, library, **fit)
            shift_loss = losses[lab]
            if offset_bound is not None:
                losses[lab] = fit_label_offset(self.module, code, cells, library, bound=offset_bound, **fit)
            logger.info(
                "few-shot label %r (%d cells): conditioning fitted, loss %.4f (shifts alone %.4f)",
                lab,
                len(cells),
                losses[lab],
                shift_loss,
            )
        self.train_params_["few_shot_loss"] = {lab: round(v, 6) for lab, v in losses.items()}
        return pd.Series(losses, dtype=np.float64)

    # -- scaug Generator protocol ----------------------------------------------------------------

    @property
    def space(self) -> str:
        """``"counts"`` or ``"continuous"``: the space of the training data."""
        return self.init_params_["non_kwargs"]["space"]

    @property
    def counts(self) -> bool:
        """Whether samples are integer counts."""
        return self.space == "counts" and self.init_params_["non_kwargs"]["output"] == "counts"

    def sample(
        self, n_per_label: Mapping[str, int], *, random_state: int = 0, chunk_size: int = 4096
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
        self._check_known(n_per_label)
        torch_rng = torch.Generator().manual_seed(int(random_state))
        rng = np.random.default_rng(random_state)
        self.module.eval()
        n_total = sum(int(n) for n in n_per_label.values())
        out = RowStack(n_total, len(self.var_names_))
        progress = tqdm(total=n_total, desc="sample", unit="cells", disable=n_total < _PROGRESS_CELLS)
        for lab, n in n_per_label.items():
            for start in range(0, int(n), chunk_size):
                codes = np.full(min(chunk_size, int(n) - start), self.labels.index(lab))
                library = self._draw_library(codes, rng)
                profiles = self._profiles(codes, torch_rng, library)
                out.append(self._to_output(profiles, codes, library, torch_rng, rng))
                progress.update(len(codes))
        progress.close()
        labels = np.repeat(
            np.asarray(list(n_per_label), dtype=object), [int(n) for n in n_per_label.values()]
        )
        return out.tocsr(), labels

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

    def _profiles(
        self, codes: np.ndarray, torch_rng: torch.Generator, library: np.ndarray | None
    ) -> torch.Tensor:
        """Generated profiles for label ``codes`` at ``library`` sizes (noise drawn on CPU, so seeds hold on any device)."""
        device = next(self.module.parameters()).device
        labels = torch.as_tensor(codes, dtype=torch.long)
        z = self.module.latent(labels, torch_rng).to(device)
        size = None if library is None else torch.as_tensor(library[:, 0], dtype=torch.float32, device=device)
        with torch.inference_mode():
            return self.module.generate(labels.to(device), z=z, library=size).cpu()

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
            return self._place(sparse.csr_matrix(profiles.numpy()), "modelled")
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
