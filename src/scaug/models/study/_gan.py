"""The comparison study's GAN as an scvi-tools model and scaug generator."""

from __future__ import annotations

import functools
from collections.abc import Iterable, Sequence

import numpy as np
from anndata import AnnData
from scvi import REGISTRY_KEYS

from ..._validation import ScaugInputError
from ._gan_batches import LabelBatchSplitter
from ._gan_module import StudyGANModule
from ._gan_trainingplan import BCEGANTrainingPlan
from ._model import StudyModelBase, check_positive_int, check_widths


class StudyGAN(StudyModelBase):
    """The per-label GAN of the class-imbalance comparison (Zheng et al. 2025).

    One plain GAN per label, trained on that label's cells only: generator noise 100 -> 256 -> 512
    -> genes (LeakyReLU, tanh output), discriminator genes -> 512 -> 256 -> 1 (LeakyReLU, sigmoid),
    binary cross-entropy, Adam at 1e-4, 200 epochs. The networks see log-normalised values of the
    highly variable genes scaled into [-1, 1] (:class:`StudyModelBase`).

    A label gets a pair when it is to be generated: :func:`scaug.tl.augment` and
    :func:`scaug.tl.generate` train pairs for the labels they generate (in the study, the minority
    labels), :func:`scaug.tl.train_generator` for every label unless ``labels`` says which. Nothing
    is shared between labels: a GAN trained on a label's 2 cells can only memorise them or collapse,
    as the study's did (see the memorisation ratio of :func:`scaug.tl.fidelity`).

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    labels
        Labels that get a generator/discriminator pair (default: every label).
    n_noise
        Dimension of the generator's noise.
    n_hidden_generator, n_hidden_discriminator
        Hidden widths.
    **kwargs
        Gene, space and count options of :class:`StudyModelBase` (``n_top_genes``,
        ``count_sampler``, ...).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.StudyGAN.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.StudyGAN(adata, labels=["type_2"])
    >>> model.train(max_epochs=2, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_2": 20}, random_state=0)
    >>> X.shape
    (20, 50)
    """

    _module_cls = StudyGANModule
    _training_plan_cls = BCEGANTrainingPlan
    _default_lr = 1e-4
    _method = "gan"
    # Each process would step the pairs of the labels in its own minibatch: the processes' backward
    # passes (and gradient all-reduces) would not match.
    _distributed = False

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        labels: Sequence[str] | None = None,
        n_noise: int = 100,
        n_hidden_generator: Sequence[int] = (256, 512),
        n_hidden_discriminator: Sequence[int] = (512, 256),
        **kwargs,
    ):
        super().__init__(
            adata,
            registry,
            labels=None if labels is None else [str(lab) for lab in _as_list(labels)],
            n_noise=n_noise,
            n_hidden_generator=check_widths("n_hidden_generator", n_hidden_generator),
            n_hidden_discriminator=check_widths("n_hidden_discriminator", n_hidden_discriminator),
            **kwargs,
        )
        self._model_summary_string += (
            f", one generator/discriminator pair for each of {len(self.pair_labels)} labels"
        )

    def _module_options(self, *, labels: list[str] | None, **options) -> dict:
        check_positive_int("n_noise", options["n_noise"])
        if labels is not None:
            unknown = [lab for lab in labels if lab not in self.labels]
            if unknown or not labels:
                raise ScaugInputError(f"labels must name labels of the data {self.labels}, got {labels}")
        return {"pair_labels": [self.labels.index(lab) for lab in labels or self.labels], **options}

    @property
    def pair_labels(self) -> list[str]:
        """Labels that have a generator/discriminator pair (the labels this model can generate)."""
        return self.init_params_["non_kwargs"]["labels"] or self.labels

    @property
    def _data_splitter_cls(self):
        """Minibatches of one label each, of the labels with a pair only."""
        codes = np.asarray(self.adata_manager.get_from_registry(REGISTRY_KEYS.LABELS_KEY)).ravel()
        return functools.partial(
            LabelBatchSplitter,
            cell_labels=codes.astype(np.int64),
            labels=[self.labels.index(lab) for lab in self.pair_labels],
        )

    def _check_known(self, labels: Iterable[str]) -> None:
        """Refuse labels without a pair: the model knows them but has no GAN to generate them."""
        labels = list(labels)
        super()._check_known(labels)
        missing = [lab for lab in labels if lab not in self.pair_labels]
        if missing:
            raise ScaugInputError(
                f"this GAN has no generator for labels {missing} (only for {self.pair_labels}); "
                "train one with model_kwargs={'labels': [...]}"
            )


def _as_list(labels) -> list:
    """A label or labels, each once, in the order given."""
    return list(dict.fromkeys([labels] if isinstance(labels, str) else labels))
