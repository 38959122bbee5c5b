"""ACTIVA as an scvi-tools model and scaug generator."""

from __future__ import annotations

import numbers
from collections.abc import Iterator, Mapping, Sequence
from typing import ClassVar, Literal

import numpy as np
import torch
from anndata import AnnData
from scipy import sparse
from scvi import REGISTRY_KEYS

from ..._validation import ScaugInputError
from .._counts import generator_on
from .._distributed import two_optimizer_strategy
from .._profile_model import CHUNK_CELLS, stack_chunks
from ..study._model import StudyModelBase, check_positive_int, check_widths
from ._module import ACTINN_HIDDEN, ACTIVAModule, Latent, Output
from ._trainingplan import IntrospectiveTrainingPlan

Generation = Literal["region", "filter"]
#: Sampling options outside :meth:`ACTIVA.sample` (a block made by the base class's sampler).
_SAMPLING = {
    "generation": "region",
    "latent": "gaussian",
    "bandwidth": 0.3,
    "max_draws": 100,
    "confidence": 0.9,
}
#: Cells encoded per pass when the label regions are fitted.
_ENCODE_CHUNK = 1024


class ACTIVA(StudyModelBase):
    """ACTIVA (Heydari et al. 2021): an introspective VAE whose cells keep their cell type.

    The encoder doubles as the adversary (IntroVAE): it maps real cells near the prior and pushes
    decoded cells away, up to a margin ``m``, while the decoder learns to make cells the encoder
    takes for real; an ACTINN classifier, trained alongside on the real cells, adds a cell-type
    loss so that reconstructions keep their type (:class:`IntrospectiveTrainingPlan`).

    Cells of a label are generated from the label's region of the latent space (default,
    ``generation="region"``): a Gaussian fitted to its training cells' posteriors, whose scatter a
    label of a few cells borrows, shrunk, from the other labels
    (:func:`~scaug.models.scvi.label_regions`), so every label, even of one cell, can be generated.
    ``latent="smoothed"`` in :meth:`sample` draws from the cells' posteriors smoothed by a kernel
    instead (:func:`~scaug.models.scvi.smoothed_draws`, the default of ``scvi``); on pbmc3k it
    was as realistic for ACTIVA and kept fewer cells in their label (the README's table).
    The paper's way, decoding prior draws and keeping those the classifier assigns to the label
    (``generation="filter"``), is offered; it wastes draws and fails for labels the classifier
    rarely predicts.

    Encoder and classifier see log-normalised values of the modelled genes scaled into [-1, 1], as
    the comparison study's VAE (:class:`~scaug.models.StudyVAE`). For counts the decoder outputs a
    profile over the modelled genes with a negative binomial likelihood (``decoder_output``; scaug's
    default: the paper's decoder of scaled values with a squared error left rare labels' cells
    unrecognisable on pbmc3k, though it scored better on paul15: see the README's generator
    table); generated cells get counts at the library size of a real cell of the
    label, as from every scaug generator (``count_sampler``; other detected genes from the label's
    mean profile, ``background``).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    n_latent
        Dimension of the latent space (paper: 128).
    n_hidden
        Hidden widths of the encoder (the decoder's are reversed; paper: 1024, 512, 256).
    n_hidden_classifier
        Hidden widths of the ACTINN classifier.
    decoder_output
        ``"profile"`` (softmax over the modelled genes, negative binomial counts; counts only) or
        ``"scaled"`` (tanh over scaled values, squared error: the paper's, and a continuous
        space's); ``None``: ``"profile"`` for counts.
    generation
        ``"region"`` (latents from the label's region) or ``"filter"`` (the paper's: prior draws the
        classifier assigns to the label); :meth:`sample` can override it.
    prior_cells
        How many cells' worth of the pooled within-label scatter a label's region is shrunk towards
        (:func:`~scaug.models.scvi.label_regions`); ``None``: ``n_latent``.
    count_sampler
        How counts are drawn from the generated expression: ``"poisson"`` (default: the decoder
        outputs a smooth expected profile, so counting noise is added) or ``"round"`` /
        ``"multinomial"``.
    **kwargs
        Gene and space options of :class:`~scaug.models.study.StudyModelBase` (``n_top_genes``,
        ``background``, ``space``, ...).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.ACTIVA.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.ACTIVA(adata, n_latent=8, n_hidden=(64, 32))
    >>> model.train(max_epochs=3, warmup_epochs=1, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_2": 20}, random_state=0)
    >>> X.shape
    (20, 50)
    """

    _module_cls = ACTIVAModule
    _training_plan_cls = IntrospectiveTrainingPlan
    _default_lr = 5e-4
    _plan_defaults: ClassVar[dict] = {}
    _method = "activa"

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        n_latent: int = 32,
        n_hidden: Sequence[int] = (512, 256),
        n_hidden_classifier: Sequence[int] = ACTINN_HIDDEN,
        decoder_output: Output | None = None,
        generation: Generation = "region",
        prior_cells: float | None = None,
        count_sampler: Literal["round", "poisson", "multinomial"] = "poisson",
        **kwargs,
    ):
        check_positive_int("n_latent", n_latent)
        _check_generation(generation)
        if prior_cells is not None and (not isinstance(prior_cells, numbers.Real) or prior_cells <= 0):
            raise ScaugInputError(f"prior_cells must be a positive number or None, got {prior_cells!r}")
        super().__init__(
            adata,
            registry,
            n_latent=n_latent,
            n_hidden=check_widths("n_hidden", n_hidden),
            n_hidden_classifier=check_widths("n_hidden_classifier", n_hidden_classifier),
            decoder_output=decoder_output,
            generation=generation,
            prior_cells=prior_cells,
            count_sampler=count_sampler,
            **kwargs,
        )
        self._model_summary_string += f", introspective VAE {list(n_hidden)} -> {n_latent} latent"

    def _module_options(self, *, generation, prior_cells, decoder_output, **options) -> dict:
        return {"output": decoder_output, **options}

    # -- training --------------------------------------------------------------------------------

    def train(
        self,
        max_epochs: int | None = 50,
        *,
        warmup_epochs: int = 10,
        margin: float = 30.0,
        alpha1: float = 1.0,
        alpha2: float = 0.5,
        reconstruction_weight: float | None = None,
        count_noise: bool = True,
        batch_size: int = 128,
        lr: float | None = None,
        betas: tuple[float, float] = (0.9, 0.999),
        classifier_lr: float = 1e-3,
        accelerator: str = "auto",
        devices: int | list[int] | str = "auto",
        datasplitter_kwargs: dict | None = None,
        plan_kwargs: dict | None = None,
        **trainer_kwargs,
    ) -> None:
        """Train for ``max_epochs`` epochs (``warmup_epochs`` of them as a plain VAE), then fit the label regions.

        Parameters
        ----------
        max_epochs
            Passes over the training cells, warm-up included (``None``: 50).
        warmup_epochs
            Epochs of plain VAE training before the introspective phase (paper: 10).
        margin
            The margin ``m`` of the encoder's hinge (paper: 110); compare it with the ``kl_real``
            the warm-up logs (``model.history``): the default 30 is about twice the warm-up's KL
            of real cells with the default latent and weights.
        alpha1, alpha2
            Weights of the adversarial terms and of reconstruction + cell-type loss (paper: 1, 0.5).
        reconstruction_weight
            Factor of ``L_AE`` (see :class:`IntrospectiveTrainingPlan`); ``None``: 1 for the
            profile decoder's likelihood, 10 for the squared error of scaled values (paper: 1, on
            unscaled counts per 20,000).
        count_noise
            Counts data: losses see decoded cells with counting noise, as sampling outputs them
            (see :class:`IntrospectiveTrainingPlan`; paper: ``False``).
        batch_size
            Cells per minibatch.
        lr
            Adam's learning rate of encoder and decoder (default 5e-4; paper 2e-4).
        betas
            Adam's betas of encoder and decoder.
        classifier_lr
            The classifier's learning rate.
        accelerator, devices
            Lightning's device selection (``"auto"``: a GPU when there is one).
        datasplitter_kwargs, plan_kwargs
            Passed to the data splitter and :class:`IntrospectiveTrainingPlan`.
        **trainer_kwargs
            Passed to :class:`scvi.train.Trainer` (e.g. ``enable_progress_bar=False``;
            ``strategy="ddp", devices=N``: N processes, each with its own minibatches and noise).

        Examples
        --------
        See :class:`ACTIVA`, whose example trains a model.
        """
        max_epochs = 50 if max_epochs is None else max_epochs
        if reconstruction_weight is None:
            reconstruction_weight = 1.0 if self.module.output == "profile" else 10.0
        if (
            isinstance(warmup_epochs, bool)
            or not isinstance(warmup_epochs, numbers.Integral)
            or warmup_epochs < 0
        ):
            raise ScaugInputError(f"warmup_epochs must be a non-negative integer, got {warmup_epochs!r}")
        for name, value in (
            ("margin", margin),
            ("alpha1", alpha1),
            ("alpha2", alpha2),
            ("reconstruction_weight", reconstruction_weight),
        ):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
                raise ScaugInputError(f"{name} must be a non-negative number, got {value!r}")
        plan_kwargs = {
            "warmup_epochs": int(warmup_epochs),
            "margin": float(margin),
            "alpha1": float(alpha1),
            "alpha2": float(alpha2),
            "reconstruction_weight": float(reconstruction_weight),
            "count_noise": bool(count_noise),
            "betas": tuple(betas),
            "classifier_lr": classifier_lr,
            **(plan_kwargs or {}),
        }
        if "strategy" in trainer_kwargs:
            trainer_kwargs["strategy"] = two_optimizer_strategy(trainer_kwargs["strategy"])
        super().train(
            max_epochs,
            batch_size=batch_size,
            lr=lr,
            accelerator=accelerator,
            devices=devices,
            datasplitter_kwargs=datasplitter_kwargs,
            plan_kwargs=plan_kwargs,
            **trainer_kwargs,
        )
        self.fit_label_regions()

    def fit_label_regions(self, prior_cells: float | None = None) -> None:
        """Fit each label's latent region to its training cells' posteriors (called by :meth:`train`).

        Parameters
        ----------
        prior_cells
            See :class:`ACTIVA`; default the model's ``prior_cells`` option, else ``n_latent``.

        Examples
        --------
        See :class:`ACTIVA`, whose example trains a model (which fits the regions).
        """
        if self.adata is None:
            raise ScaugInputError(
                "fitting label regions needs the training cells: load the model with adata="
            )
        if prior_cells is None:
            prior_cells = self.init_params_["non_kwargs"].get("prior_cells") or self.module.n_latent
        matrix = self.adata_manager.get_from_registry(REGISTRY_KEYS.X_KEY)
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()
        device = next(self.module.parameters()).device
        self.module.eval()
        means, variances = [], []
        with torch.inference_mode():
            for start in range(0, matrix.shape[0], _ENCODE_CHUNK):
                chunk = matrix[start : start + _ENCODE_CHUNK]
                chunk = chunk.toarray() if sparse.issparse(chunk) else np.asarray(chunk)
                x = self.module.scaling(torch.as_tensor(chunk, dtype=torch.float32, device=device))
                mean, log_var = self.module.encode(x)
                means.append(mean.double().cpu().numpy())
                variances.append(log_var.double().exp().cpu().numpy())
        # Which cells' posteriors the model keeps is part of training, not of a sampling seed.
        self.module.set_regions(
            np.concatenate(means),
            np.concatenate(variances),
            codes.astype(np.int64),
            prior_cells=float(prior_cells),
            rng=np.random.default_rng(0),
        )

    # -- sampling --------------------------------------------------------------------------------

    def sample(
        self,
        n_per_label: Mapping[str, int],
        *,
        random_state: int = 0,
        chunk_size: int = CHUNK_CELLS,
        generation: Generation | None = None,
        latent: Latent = "gaussian",
        bandwidth: float = 0.3,
        max_draws: int = 100,
        confidence: float = 0.9,
    ) -> tuple[sparse.csr_matrix, np.ndarray]:
        """Generate ``n_per_label[label]`` cells per label.

        Parameters
        ----------
        n_per_label
            Number of cells per label.
        random_state
            Seed; the same seed gives the same cells on CPU.
        chunk_size
            Cells generated per forward pass.
        generation
            ``"region"`` or ``"filter"`` (see :class:`ACTIVA`); default the model's option.
        latent
            ``"region"`` only: ``"gaussian"``, one Gaussian per label
            (:func:`~scaug.models.scvi.label_regions`), or ``"smoothed"``, the label's smoothed
            aggregate posterior (:func:`~scaug.models.scvi.smoothed_draws`).
        bandwidth
            ``"smoothed"`` only: the kernel's scale relative to the label's scatter.
        max_draws
            ``"filter"`` only: prior draws per requested cell before giving up with an error.
        confidence
            ``"filter"`` only: a draw is kept when the classifier gives its label at least this
            probability (the paper keeps the most probable label; a draw between two labels then
            often changes label with the counting noise of the output).

        Returns
        -------
        ``(matrix, labels)`` as :meth:`scaug.models.CSCGAN.sample`.

        Examples
        --------
        See :class:`ACTIVA`, whose example trains a model and samples from it.
        """
        chunks = self.sample_chunks(
            n_per_label,
            random_state=random_state,
            chunk_size=chunk_size,
            generation=generation,
            latent=latent,
            bandwidth=bandwidth,
            max_draws=max_draws,
            confidence=confidence,
        )
        return stack_chunks(chunks, sum(int(n) for n in n_per_label.values()), len(self.var_names_))

    def sample_chunks(
        self,
        n_per_label: Mapping[str, int],
        *,
        random_state: int = 0,
        chunk_size: int = CHUNK_CELLS,
        generation: Generation | None = None,
        latent: Latent = "gaussian",
        bandwidth: float = 0.3,
        max_draws: int = 100,
        confidence: float = 0.9,
    ) -> Iterator[tuple[sparse.csr_matrix, np.ndarray]]:
        """:meth:`sample`, one ``(matrix, labels)`` block of at most ``chunk_size`` cells at a time."""
        generation = generation or self.init_params_["non_kwargs"].get("generation", "region")
        _check_generation(generation)
        check_positive_int("max_draws", max_draws)
        if not isinstance(confidence, numbers.Real) or not 0 < confidence < 1:
            raise ScaugInputError(f"confidence must be a number between 0 and 1, got {confidence!r}")
        if latent not in ("smoothed", "gaussian"):
            raise ScaugInputError(f"latent must be 'smoothed' or 'gaussian', got {latent!r}")
        if isinstance(bandwidth, bool) or not isinstance(bandwidth, numbers.Real) or not bandwidth >= 0:
            raise ScaugInputError(f"bandwidth must be a non-negative number, got {bandwidth!r}")
        self._sampling = {
            "generation": generation,
            "latent": latent,
            "bandwidth": float(bandwidth),
            "max_draws": int(max_draws),
            "confidence": float(confidence),
        }
        try:
            yield from super().sample_chunks(n_per_label, random_state=random_state, chunk_size=chunk_size)
        finally:
            del self._sampling

    def _profiles(
        self, codes: np.ndarray, torch_rng: torch.Generator, library: np.ndarray | None
    ) -> torch.Tensor:
        """Decoded expression of label ``codes`` (one label per call): per 10,000 counts or the values."""
        options = getattr(self, "_sampling", _SAMPLING)
        device = next(self.module.parameters()).device
        labels = torch.as_tensor(codes, dtype=torch.long)
        with torch.inference_mode():
            if options["generation"] == "region":
                z = self.module.region_latent(
                    labels, torch_rng, latent=options["latent"], bandwidth=options["bandwidth"]
                )
                decoded = self.module.decode(z)
            else:
                decoded = self._filtered(
                    int(codes[0]), len(codes), torch_rng, options["max_draws"], options["confidence"], device
                )
            return self.module.profiles(decoded, torch_rng)

    def _filtered(
        self,
        code: int,
        n: int,
        torch_rng: torch.Generator,
        max_draws: int,
        confidence: float,
        device: torch.device,
    ) -> torch.Tensor:
        """``n`` decoded prior draws that the classifier assigns to label ``code`` (ACTIVA's generation)."""
        kept, n_kept, drawn = [], 0, 0
        pooled = None
        if self.library_sizes_ is not None:  # (modelled genes, all genes) of every training cell
            sizes = np.concatenate(list(self.library_sizes_.values()))
            pooled = torch.as_tensor(
                np.stack([sizes[:, 0], sizes.sum(axis=1)], axis=1), dtype=torch.float32
            ).clamp_min(1.0)
        batch = max(n, 256)
        while n_kept < n:
            if drawn >= n * max_draws:
                raise ScaugInputError(
                    f"generation='filter': the classifier assigned {n_kept} of {drawn} prior draws to "
                    f"label {self.labels[code]!r}; use generation='region'"
                )
            decoded = self.module.decode(self.module.prior_latent(batch, torch_rng).to(device))
            # The classifier knows real cells: it judges a draw by counts drawn from it, as output.
            library = None
            if pooled is not None:
                library = pooled[torch.randint(len(pooled), (batch,), generator=torch_rng)].to(device)
            seen = self.module.seen(decoded, library, rng=generator_on(device, torch_rng))
            hit = self.module.classifier(seen).softmax(dim=1)[:, code] >= confidence
            kept.append(decoded[hit])
            n_kept += int(hit.sum())
            drawn += batch
        return torch.cat(kept)[:n]


def _check_generation(generation) -> None:
    if generation not in ("region", "filter"):
        raise ScaugInputError(f"generation must be 'region' or 'filter', got {generation!r}")
