from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

import anndata as ad
import pandas as pd

from .. import _provenance
from .._generator import Generator
from .._registry import _REGISTRY, MethodSpec, get_method
from .._spaces import Space, detect_space, get_matrix, log_counts_space, resolve_layer
from .._validation import ScaugInputError, check_adata, check_labels

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("scaug")


def train_generator(
    adata: AnnData,
    method: str = "cscgan",
    *,
    labels_key: str,
    layer: str | None = None,
    key: str = "scaug",
    max_epochs: int | None = None,
    accelerator: str = "auto",
    devices: int | str = "auto",
    batch_size: int | None = None,
    random_state: int = 0,
    model_kwargs: dict | None = None,
    train_kwargs: dict | None = None,
) -> Generator:
    """Train a generator on the real, labelled cells of ``adata``.

    Parameters
    ----------
    adata
        Cells x genes; raw counts (``layers["counts"]`` or integer ``.X``) or log-normalised data.
        Opened with ``backed="r"``, methods that can (``"cscgan"``) train from ``X`` on disk: gene
        selection and library sizes are computed in passes over blocks of rows and minibatches are
        read in contiguous blocks, so memory does not grow with the number of cells.
    method
        A registered method name (see :func:`scaug.methods`).
    labels_key
        ``obs`` column with the cell-type labels. Cells with a missing label are not used.
    layer
        Layer to model; default ``"counts"`` if present, else ``.X``.
    key
        Provenance key: cells flagged synthetic in ``obs[f"{key}_synthetic"]`` are not trained on.
    max_epochs, accelerator, devices, batch_size
        Training options of the deep methods (added to ``train_kwargs``); ignored by resampling.
    random_state
        Seed for everything random in training.
    model_kwargs
        Options of the method's model (e.g. ``k_neighbors`` for SMOTE, network sizes for a GAN).
    train_kwargs
        Further options of the method's training (deep methods: passed to the trainer; e.g.
        ``{"strategy": "ddp"}`` with ``devices=2`` trains cscgan, scgan, garage or activa in two
        processes through Lightning's DDP, from a script).

    Returns
    -------
    The trained generator (for deep methods an scvi-tools style model with ``save``/``load``).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> gen = scaug.tl.train_generator(adata, "smote", labels_key="cell_type")
    >>> X, labels = gen.sample({"type_2": 5}, random_state=0)
    """
    spec = get_method(method)
    deep_kwargs = {"max_epochs": max_epochs, "batch_size": batch_size}
    train_kwargs = dict(train_kwargs or {})
    if spec.kind == "deep":
        train_kwargs.setdefault("accelerator", accelerator)
        train_kwargs.setdefault("devices", devices)
        train_kwargs.update({k: v for k, v in deep_kwargs.items() if v is not None})
    gen, _, _ = fit_method(
        adata,
        spec,
        labels_key=labels_key,
        layer=layer,
        key=key,
        random_state=random_state,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
    )
    return gen


def fit_method(
    adata: AnnData,
    spec: MethodSpec,
    *,
    labels_key: str,
    layer: str | None,
    key: str,
    random_state: int,
    model_kwargs: dict | None,
    train_kwargs: dict | None,
    labels: Sequence[str] | None = None,
) -> tuple[Generator, Space, float]:
    """Check the input, build the training AnnData and run the method's train callable.

    ``labels``: the labels the caller will generate, if known; a method that trains one model per
    label (:attr:`MethodSpec.per_label`) then trains only those (``model_kwargs["labels"]``).
    """
    if adata.isbacked and not spec.backed:
        backed = [name for name, other in _REGISTRY.items() if other.backed]
        raise ScaugInputError(
            f"method {spec.name!r} trains in memory and adata is backed: load it with adata.to_memory(), "
            f"or use a method that trains from the file ({', '.join(backed)})"
        )
    if spec.per_label and labels and "labels" not in (model_kwargs or {}):
        model_kwargs = {**(model_kwargs or {}), "labels": list(labels)}
    # model_kwargs={"space": "continuous"} keeps log-normalised values as they are, on purpose
    count_route = spec.kind == "deep" and (model_kwargs or {}).get("space") != "continuous"
    train_adata, space = training_data(
        adata, labels_key=labels_key, layer=layer, key=key, count_route=count_route
    )
    if spec.kind == "resampling" and train_kwargs:
        raise ScaugInputError(
            f"method {spec.name!r} is not trained; it takes no train_kwargs ({list(train_kwargs)})"
        )
    start = time.perf_counter()
    gen = spec.train(
        train_adata,
        labels_key=labels_key,
        random_state=random_state,
        model_kwargs=dict(model_kwargs or {}),
        train_kwargs=dict(train_kwargs or {}),
    )
    seconds = time.perf_counter() - start
    logger.info("trained %s on %d cells in %.1f s", spec.name, train_adata.n_obs, seconds)
    return gen, space, seconds


def real_label_counts(adata: AnnData, labels_key: str, key: str) -> pd.Series:
    """Real (not synthetic), labelled cells per label, as methods train on and balancing counts them."""
    check_adata(adata, allow_backed=True)
    labels = check_labels(adata, labels_key)
    counts = labels[_provenance.real_mask(adata, key)].dropna().value_counts(sort=False)
    counts = counts[counts > 0]
    counts.index = counts.index.astype(str)
    return counts


def training_data(
    adata: AnnData, *, labels_key: str, layer: str | None, key: str, count_route: bool = False
) -> tuple[AnnData, Space]:
    """The cells a method learns from: real, labelled; the modelled matrix in ``.X``.

    With ``count_route`` (deep generators), log-normalised values whose counts can be recovered
    are replaced by those counts (space ``"log_counts"``; see :mod:`scaug._spaces`). The matrix is
    not copied when every cell is used; methods must not modify it. A backed AnnData gives its
    ``X`` on disk (:func:`backed_training_data`).
    """
    check_adata(adata, allow_backed=True)
    if adata.isbacked:
        return backed_training_data(adata, labels_key=labels_key, layer=layer, key=key)
    labels = check_labels(adata, labels_key)
    use = _provenance.real_mask(adata, key) & labels.notna().to_numpy()
    n_unlabelled = int(labels.isna().sum())
    if n_unlabelled:
        logger.warning(
            "%d cells have no %r label: they are kept as real cells but not used to train or generate",
            n_unlabelled,
            labels_key,
        )
    space = detect_space(adata, layer)
    matrix = get_matrix(adata, space.layer)
    if not use.all():
        matrix = matrix[use]
    obs = pd.DataFrame(
        {labels_key: labels[use].cat.remove_unused_categories().to_numpy()}, index=adata.obs_names[use]
    )
    found = log_counts_space(space, matrix, obs[labels_key].astype(str).to_numpy()) if count_route else None
    if found is not None:
        space, matrix = found
        logger.info("%s holds log1p of scaled counts: modelling the recovered counts", space.slot)
    obs[labels_key] = obs[labels_key].astype("category")
    train = ad.AnnData(X=matrix, obs=obs, var=pd.DataFrame(index=adata.var_names.copy()))
    train.uns["scaug_space"] = "counts" if space.kind == "log_counts" else space.kind
    return train, space


def backed_training_data(
    adata: AnnData, *, labels_key: str, layer: str | None, key: str
) -> tuple[AnnData, Space]:
    """The training AnnData of a backed AnnData: its ``X`` on disk (not loaded), the labels in memory.

    Every cell of the file is used and ``X`` is modelled as it is (counts, or a continuous space):
    finding the counts behind log-normalised values needs the whole matrix in memory.
    """
    if resolve_layer(adata, layer) is not None:
        raise ScaugInputError(
            "a backed AnnData trains from adata.X on disk (anndata holds the layers of a backed file in "
            "memory): write the matrix to model to X of the file, or load it with adata.to_memory()"
        )
    labels = check_labels(adata, labels_key)
    unused = ~(_provenance.real_mask(adata, key) & labels.notna().to_numpy())
    if unused.any():
        raise ScaugInputError(
            f"training from a backed AnnData uses every cell of the file, but {int(unused.sum())} cells are "
            f"synthetic or have no {labels_key!r} label: write a file without them"
        )
    space = detect_space(adata, None)
    obs = pd.DataFrame({labels_key: labels.astype(str).astype("category").to_numpy()}, index=adata.obs_names)
    train = ad.AnnData(X=adata.X, obs=obs, var=pd.DataFrame(index=adata.var_names.copy()))
    train.uns["scaug_space"] = space.kind
    return train, space
