"""The comparison study's VAE as an scvi-tools model and scaug generator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from anndata import AnnData
from scvi.train import TrainingPlan

from ._model import StudyModelBase, check_positive_int, check_widths
from ._vae_module import StudyVAEModule


class StudyVAE(StudyModelBase):
    """The per-dataset VAE of the class-imbalance comparison (Zheng et al. 2025), conditioned on the label.

    One multilayer-perceptron VAE for all labels of a dataset, of the size of the study's GAN:
    encoder genes + one-hot label -> 512 -> 256 -> latent mean and log-variance, decoder latent +
    one-hot label -> 256 -> 512 -> genes (LeakyReLU, tanh output, as the GAN's generator), squared
    error plus KL divergence. New cells of a label are decoded from standard normal draws with that
    label. The networks see log-normalised values of the highly variable genes scaled into [-1, 1]
    (:class:`StudyModelBase`).

    Choices the study leaves open, made here: a 32-dimensional latent (room for the variation
    within labels, which the label input does not explain; scVI's default is 10, the study GAN's
    noise 100), Adam at 1e-3 without weight decay or KL warm-up, batches of 128, 200 epochs (the
    GAN's schedule). Labels of a few cells share every weight with the others; only their label
    input is theirs.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    n_latent
        Dimension of the latent space.
    n_hidden
        Hidden widths of the encoder (the decoder's are reversed).
    **kwargs
        Gene, space and count options of :class:`StudyModelBase` (``n_top_genes``,
        ``count_sampler``, ...).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.StudyVAE.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.StudyVAE(adata)
    >>> model.train(max_epochs=2, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_2": 20}, random_state=0)
    >>> X.shape
    (20, 50)
    """

    _module_cls = StudyVAEModule
    _training_plan_cls = TrainingPlan
    _default_lr = 1e-3
    # Plain Adam and the plain ELBO: scvi's plan otherwise adds weight decay, eps 0.01 and KL warm-up.
    _plan_defaults: ClassVar[dict] = {"weight_decay": 0.0, "eps": 1e-8, "n_epochs_kl_warmup": None}
    _method = "vae"

    def __init__(
        self,
        adata: AnnData | None = None,
        registry: dict | None = None,
        *,
        n_latent: int = 32,
        n_hidden: Sequence[int] = (512, 256),
        **kwargs,
    ):
        check_positive_int("n_latent", n_latent)
        super().__init__(
            adata, registry, n_latent=n_latent, n_hidden=check_widths("n_hidden", n_hidden), **kwargs
        )
        self._model_summary_string += f", conditional VAE {list(n_hidden)} -> {n_latent} latent"
