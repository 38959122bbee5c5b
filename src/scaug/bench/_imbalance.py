"""The comparison study's protocol (Zheng et al. 2025): ways of handling class imbalance, one classifier.

Every condition trains the same MLP (:class:`~scaug.bench._classifier.MLPClassifier`: genes -> 128
-> 64 -> labels) in 5-fold stratified cross-validation and is scored on the held-out fold. The
conditions differ only in what the classifier is trained on, or how:

* data level: nothing (``"none"``), random undersampling (``"random_undersample"``), and every
  registered scaug method (``"random_oversample"``, ``"smote"``, ``"cscgan"``, ``"garage"``, ...)
  generating minority cells from the training fold;
* algorithm level: weighted cross-entropy (``"weighted_ce_balanced"``,
  ``"weighted_ce_effective_number"``);
* ``"hybrid"``: pool-based active learning with SMOTE and logit adjustment (see :func:`imbalance`).

Everything a condition learns from comes from the training fold: the genes and their scaling
(:func:`scaug.metrics.fit_embedding` on the fold's real cells), the generators, the resampling.
The held-out cells are projected into that space and only ever classified.
"""

from __future__ import annotations

import logging
import time
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .. import _provenance
from .._registry import get_method
from .._validation import ScaugInputError, check_adata, check_labels
from ..metrics._utils import ALL

if TYPE_CHECKING:
    from anndata import AnnData

    from ..metrics import EvaluationEmbedding

logger = logging.getLogger("scaug")

NONE = "none"
UNDERSAMPLE = "random_undersample"
#: weighted cross-entropy conditions -> scheme of :func:`scaug.tl.class_weights`
WEIGHTED = {"weighted_ce_balanced": "balanced", "weighted_ce_effective_number": "effective_number"}
HYBRID = "hybrid"
#: Conditions that are not registry methods (their names are kept apart from the registry's).
CONDITIONS = (NONE, UNDERSAMPLE, *WEIGHTED, HYBRID)
#: The study's nine methods (its GAN and VAE are ``"gan"`` and ``"vae"``), then scaug's deep
#: generators; any registered method name can be added to ``methods``.
DEFAULT_METHODS = (
    NONE,
    UNDERSAMPLE,
    "random_oversample",
    "smote",
    *WEIGHTED,
    HYBRID,
    "gan",
    "vae",
    "cscgan",
    "scgan",
    "garage",
)
#: Settings of the hybrid condition (``hybrid_kwargs`` overrides them).
HYBRID_DEFAULTS = {
    "initial_fraction": 0.2,
    "min_initial": 5,
    "query_fraction": 0.1,
    "n_rounds": 3,
    "tau": 1.0,
}
EFFECTIVE_NUMBER_BETA = 0.9999
OK = "ok"
COLUMNS = ["method", "fold", "metric", "label", "predicted", "value", "status"]


def imbalance(
    adata: AnnData,
    labels_key: str,
    methods: Sequence[str] = DEFAULT_METHODS,
    *,
    n_folds: int = 5,
    n_top_genes: int = 2000,
    minority_threshold: int = 20,
    minority_fraction: float = 0.3,
    epochs: int = 100,
    batch_size: int = 128,
    lr: float = 1e-3,
    layer: str | None = None,
    model_kwargs: Mapping | None = None,
    train_kwargs: Mapping | None = None,
    hybrid_kwargs: Mapping | None = None,
    random_state: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Compare ways of handling class imbalance in cell-type classification (Zheng et al. 2025).

    Protocol: stratified ``n_folds``-fold cross-validation over the labelled real cells. Per fold,
    the training fold's real cells define the features (:func:`scaug.metrics.fit_embedding`:
    ``n_top_genes`` highly variable genes, log-normalised and scaled with the training cells'
    statistics; synthetic and test cells are transformed unchanged). Per condition, the MLP of the
    study (genes -> 128 -> 64 -> labels, ReLU, Adam, ``epochs`` epochs, batches of ``batch_size``)
    is trained on the condition's training set, with the same initialisation seed for every
    condition of a fold, and scored on the test fold.

    The minority rule, the same for every method that adds cells: labels with fewer than
    ``minority_threshold`` training cells are brought up to ``floor(minority_fraction x`` the largest
    label's training cells) (:func:`minority_targets`).

    Conditions (``methods``):

    * ``"none"``: the training fold as it is.
    * ``"random_undersample"``: every label cut to the smallest label's size
      (:func:`scaug.pp.resample`).
    * any registered method (:func:`scaug.methods`, e.g. ``"random_oversample"``, ``"smote"``,
      the study's ``"gan"`` and ``"vae"``, ``"cscgan"``, ``"scgan"``, ``"garage"``):
      :func:`scaug.tl.augment` on the training fold with ``n_cells`` from the minority rule;
      generators are trained on the fold's cells (``"gan"``: one GAN per minority label). They work in
      the data's own space (counts: SMOTE interpolates counts, rounded stochastically), and their
      cells are transformed into the features like every other cell.
    * ``"weighted_ce_balanced"``, ``"weighted_ce_effective_number"``: the training fold, with the
      loss weighted per label by :func:`scaug.tl.class_weights` (``beta = 0.9999``).
    * ``"hybrid"``: active learning + SMOTE + logit adjustment (the study's "Active + Logit"). The
      training fold is the unlabelled pool whose labels an annotator reveals on request. Start from
      a stratified ``initial_fraction`` of the fold (at least ``min_initial`` cells per label, or
      all of a smaller label); then ``n_rounds`` times: SMOTE the labelled cells with the minority
      rule (applied to the labelled cells' counts), train the MLP with the logit-adjusted loss
      (``tau x log(prior)`` added to the logits, the prior being the label frequencies of that
      training set; Menon et al. 2021), and query the ``query_fraction x`` fold-size pool cells
      with the smallest margin between the two most probable labels (margin sampling; ties in a
      seeded random order). The final classifier is trained the same way on the labelled cells
      after the last query plus their SMOTE cells. With the defaults the annotation budget is 50 %
      of the fold: the hybrid learns from fewer real labels than the other conditions, by design.
      ``hybrid_kwargs`` overrides :data:`HYBRID_DEFAULTS`.

    A condition that refuses a fold (a :class:`scaug.ScaugInputError`, e.g. a label with fewer
    training cells than a generator needs) gives NaN rows whose ``status`` holds the reason.

    Parameters
    ----------
    adata
        Cells x genes with labels, counts preferred (``layers["counts"]`` or integer ``.X``).
        Unlabelled cells and cells flagged synthetic in ``obs["scaug_synthetic"]`` are not used.
    labels_key
        ``obs`` column with the labels.
    methods
        Conditions (:data:`CONDITIONS`) and registered method names, in the order to run them.
    n_folds
        Folds of the stratified cross-validation.
    n_top_genes
        Highly variable genes the classifier sees.
    minority_threshold, minority_fraction
        The minority rule (see above).
    epochs, batch_size, lr
        Training of the MLP.
    layer
        Layer with the expression (default ``"counts"`` if present, else ``.X``).
    model_kwargs, train_kwargs
        Options of the generators: a ``{method: {...}}`` dict when every key is a registered
        method name, otherwise one dict passed to every trained (non-resampling) method. The
        hybrid's SMOTE takes the options given for ``"smote"``.
    hybrid_kwargs
        Overrides of :data:`HYBRID_DEFAULTS` (``initial_fraction``, ``min_initial``,
        ``query_fraction``, ``n_rounds``, ``tau``).
    random_state
        Seed of the folds, the resampling, the generators and the classifiers. The same seed gives
        the same table apart from the ``*_seconds`` rows (on CPU, with the same number of threads).
    progress
        Show a progress bar over folds and conditions.

    Returns
    -------
    Tidy table, one row per value, with columns:

    ``method``
        The condition.
    ``fold``
        Fold number (0-based).
    ``metric``
        ``"macro_f1"`` and ``"accuracy"`` (label ``"all"``); ``"f1"`` per label (labels in the test
        fold or predicted); ``"n_test"``, ``"n_train"`` (real training cells) and
        ``"n_synthetic"`` (added cells) per label; ``"class_weight"`` per label (weighted
        conditions); ``"augment_seconds"`` (building the training set: resampling, generator
        training and sampling, the hybrid's query rounds) and ``"train_seconds"`` (fitting the
        final classifier), label ``"all"``; ``"confusion"``: number of test cells of true ``label``
        predicted as ``predicted``, every pair of labels.
    ``label``
        A label, or ``"all"``.
    ``predicted``
        The predicted label of ``"confusion"`` rows; ``None`` otherwise.
    ``value``
        The value (NaN when the condition refused the fold).
    ``status``
        ``"ok"``, or the one-line reason the condition refused the fold.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(400, 100, 3, imbalance=0.1, random_state=0)
    >>> table = scaug.bench.imbalance(
    ...     adata, "cell_type", ["none", "smote"], n_folds=3, epochs=5, progress=False
    ... )
    >>> scaug.bench.summarise("imbalance", table).columns.tolist()[:2]
    ['macro_f1_mean', 'macro_f1_std']
    """
    check_adata(adata)
    labels = check_labels(adata, labels_key)
    methods = _check_methods(methods)
    _check_int("n_folds", n_folds, 2)
    _check_int("minority_threshold", minority_threshold, 0)
    _check_int("random_state", random_state, 0)
    if not 0 < minority_fraction <= 1:
        raise ScaugInputError(f"minority_fraction must be in (0, 1], got {minority_fraction!r}")
    hybrid = _hybrid_settings(hybrid_kwargs)
    if not adata.obs_names.is_unique:
        raise ScaugInputError("adata.obs_names must be unique (call adata.obs_names_make_unique())")

    use = labels.notna().to_numpy() & _provenance.real_mask(adata, "scaug")
    if (n_syn := int((~_provenance.real_mask(adata, "scaug")).sum())) > 0:
        logger.warning("imbalance: %d synthetic cells (obs['scaug_synthetic']) are not used", n_syn)
    cells = adata[use]
    y = labels[use].astype(str).to_numpy(dtype=object)
    counts = pd.Series(y).value_counts()
    classes = sorted(counts.index, key=lambda lab: (-counts[lab], lab))
    if len(classes) < 2:
        raise ScaugInputError(f"obs[{labels_key!r}] has {len(classes)} label; classification needs 2")
    folds = stratified_folds(y, n_folds, random_state=random_state)

    context = _Settings(
        labels_key=labels_key,
        classes=classes,
        layer=layer,
        n_top_genes=n_top_genes,
        minority_threshold=minority_threshold,
        minority_fraction=minority_fraction,
        classifier={"epochs": epochs, "batch_size": batch_size, "lr": lr},
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
        hybrid=hybrid,
    )
    from ._classifier import keep_torch_threads

    bar = tqdm(total=len(folds) * len(methods), desc="imbalance", disable=not progress)
    tables = []
    for k, (train, test) in enumerate(folds):
        with keep_torch_threads():
            fold = _prepare_fold(cells, y, train, test, seed=fold_seed(random_state, k), settings=context)
        for method in methods:
            bar.set_postfix_str(f"fold {k + 1}/{len(folds)} {method}", refresh=False)
            rows = _run_condition(method, fold, context)
            rows.insert(1, "fold", k)
            tables.append(rows)
            bar.update()
    bar.close()
    return pd.concat(tables, ignore_index=True)[COLUMNS]


def summarise(table: pd.DataFrame) -> pd.DataFrame:
    """Mean and standard deviation over folds of macro-F1 and accuracy per method, best first.

    Parameters
    ----------
    table
        The result of :func:`imbalance`.

    Returns
    -------
    One row per method (index ``method``): ``macro_f1_mean``, ``macro_f1_std``, ``accuracy_mean``,
    ``accuracy_std``, ``n_folds`` (folds the method ran) and ``n_refused`` (folds it refused),
    sorted by ``macro_f1_mean`` (descending; methods that never ran last).

    Examples
    --------
    >>> import pandas as pd
    >>> t = pd.DataFrame({"method": ["a", "a", "b", "b"], "fold": [0, 1, 0, 1], "metric": "macro_f1",
    ...                   "label": "all", "value": [0.5, 0.7, 0.9, 0.9], "status": "ok"})
    >>> summarise(t)["macro_f1_mean"].round(2).to_dict()
    {'b': 0.9, 'a': 0.6}
    """
    missing = {"method", "fold", "metric", "value", "status"} - set(table.columns)
    if missing:
        raise ScaugInputError(f"not a scaug.bench.imbalance table: columns {sorted(missing)} are missing")
    order = list(pd.unique(table["method"]))
    out = pd.DataFrame(index=pd.Index(order, name="method"))
    for metric in ("macro_f1", "accuracy"):
        values = table[table["metric"] == metric].groupby("method", sort=False)["value"]
        out[f"{metric}_mean"] = values.mean()
        out[f"{metric}_std"] = values.std()
    runs = table[table["metric"] == "macro_f1"].groupby("method", sort=False)
    out["n_folds"] = runs["value"].count().reindex(order).fillna(0).astype(int)
    out["n_refused"] = runs["status"].agg(lambda s: int((s != OK).sum())).reindex(order).fillna(0).astype(int)
    return out.sort_values("macro_f1_mean", ascending=False, na_position="last", kind="stable")


def minority_targets(counts: pd.Series, *, threshold: int = 20, fraction: float = 0.3) -> dict[str, int]:
    """Cells to add per label under the study's minority rule.

    Labels with fewer than ``threshold`` cells are brought up to ``floor(fraction x`` the largest
    label); labels already at or above that get nothing.

    Parameters
    ----------
    counts
        Training cells per label.
    threshold
        Labels with fewer cells are minorities.
    fraction
        Target size as a fraction of the largest label.

    Returns
    -------
    ``{label: cells to add}`` for the labels that get cells, in the order of ``counts``.

    Examples
    --------
    >>> import pandas as pd
    >>> minority_targets(pd.Series({"B": 400, "DC": 25, "Mk": 12, "pDC": 3}))
    {'Mk': 108, 'pDC': 117}
    """
    if counts.empty:
        return {}
    # the small epsilon keeps e.g. 0.3 x 1000 at 300 despite floating point
    goal = int(np.floor(fraction * int(counts.max()) + 1e-9))
    return {str(lab): goal - int(n) for lab, n in counts.items() if 0 < n < threshold and n < goal}


def stratified_folds(
    labels: np.ndarray, n_folds: int, *, random_state: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """``(train, test)`` cell indices of a shuffled stratified ``n_folds``-fold split.

    The test folds are disjoint and together cover every cell.

    Examples
    --------
    >>> import numpy as np
    >>> folds = stratified_folds(np.array(["a"] * 8 + ["b"] * 4), 4, random_state=0)
    >>> sorted(np.concatenate([test for _, test in folds]).tolist()) == list(range(12))
    True
    """
    from sklearn.model_selection import StratifiedKFold

    labels = np.asarray(labels)
    counts = pd.Series(labels).value_counts()
    if len(labels) < n_folds:
        raise ScaugInputError(f"{n_folds} folds need at least {n_folds} labelled cells, got {len(labels)}")
    small = counts[counts < n_folds]
    if len(small):
        logger.warning(
            "imbalance: labels with fewer cells than folds (%s) are missing from some test folds",
            ", ".join(f"{lab!r} ({n})" for lab, n in small.items()),
        )
    splitter = StratifiedKFold(n_splits=n_folds, shuffle=True, random_state=random_state)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="The least populated class", category=UserWarning)
        try:
            return [(np.sort(tr), np.sort(te)) for tr, te in splitter.split(np.zeros(len(labels)), labels)]
        except ValueError as err:
            raise ScaugInputError(f"cannot split into {n_folds} stratified folds: {err}") from None


def fold_seed(random_state: int, fold: int) -> int:
    """The seed of one fold (shared by its conditions, so that they differ only by condition).

    Examples
    --------
    >>> fold_seed(0, 1) == fold_seed(0, 1) != fold_seed(0, 2)
    True
    """
    return int(np.random.SeedSequence([random_state, fold]).generate_state(1)[0] % (2**31 - 1))


def initial_selection(labels: np.ndarray, *, fraction: float, min_per_label: int, rng) -> np.ndarray:
    """The hybrid's first labelled cells: a stratified random ``fraction`` of each label.

    Each label contributes ``max(ceil(fraction x n), min_per_label)`` cells, or all of them if it has
    fewer.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array(["a"] * 50 + ["b"] * 3)
    >>> picked = initial_selection(labels, fraction=0.2, min_per_label=5, rng=np.random.default_rng(0))
    >>> int((labels[picked] == "a").sum()), int((labels[picked] == "b").sum())
    (10, 3)
    """
    picked = []
    for lab in pd.unique(labels):
        own = np.flatnonzero(labels == lab)
        n = min(len(own), max(int(np.ceil(fraction * len(own))), min_per_label))
        picked.append(rng.choice(own, size=n, replace=False))
    return np.sort(np.concatenate(picked))


def margin_query(proba: np.ndarray, n: int, rng) -> np.ndarray:
    """Rows of the ``n`` least certain cells: smallest gap between the two most probable labels.

    Ties are broken in a seeded random order.

    Examples
    --------
    >>> import numpy as np
    >>> proba = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])
    >>> margin_query(proba, 2, np.random.default_rng(0)).tolist()
    [1, 2]
    """
    top2 = np.sort(proba, axis=1)[:, -2:]
    margin = top2[:, 1] - top2[:, 0]
    return np.lexsort((rng.permutation(len(margin)), margin))[:n]


# --- one fold -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Settings:
    labels_key: str
    classes: list[str]
    layer: str | None
    n_top_genes: int
    minority_threshold: int
    minority_fraction: float
    classifier: dict
    model_kwargs: Mapping | None
    train_kwargs: Mapping | None
    hybrid: dict


@dataclass
class _Fold:
    train: AnnData
    embedding: EvaluationEmbedding
    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    seed: int


@dataclass
class _TrainingSet:
    """What a condition trains the classifier on, and how."""

    x: np.ndarray
    y: np.ndarray
    n_train: pd.Series
    n_synthetic: pd.Series
    class_weight: pd.Series | None = None
    tau: float = 0.0


def _prepare_fold(
    cells: AnnData, y: np.ndarray, train: np.ndarray, test: np.ndarray, *, seed: int, settings: _Settings
) -> _Fold:
    """The training fold as AnnData, and both folds in the features fitted on the training fold."""
    from ..metrics import fit_embedding

    train_adata = cells[train].copy()
    embedding = fit_embedding(
        train_adata, layer=settings.layer, n_top_genes=settings.n_top_genes, random_state=seed
    )
    return _Fold(
        train=train_adata,
        embedding=embedding,
        x_train=embedding.scaled(train_adata),
        y_train=y[train],
        x_test=embedding.scaled(cells[test]),
        y_test=y[test],
        seed=seed,
    )


def _run_condition(method: str, fold: _Fold, settings: _Settings) -> pd.DataFrame:
    """Build the condition's training set, train the classifier, score it on the test fold."""
    from ._classifier import MLPClassifier, keep_torch_threads

    start = time.perf_counter()
    try:
        with keep_torch_threads():
            data = _training_set(method, fold, settings)
    except ScaugInputError as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        logger.warning("imbalance: %s refused a fold: %s", method, reason)
        return _refused_rows(method, fold.y_test, settings.classes, reason)
    augment_seconds = time.perf_counter() - start
    start = time.perf_counter()
    clf = MLPClassifier(
        settings.classes,
        **settings.classifier,
        class_weight=data.class_weight,
        tau=data.tau,
        random_state=fold.seed,
    ).fit(data.x, data.y)
    predicted = clf.predict(fold.x_test)
    train_seconds = time.perf_counter() - start
    return score_rows(
        method,
        fold.y_test,
        predicted,
        settings.classes,
        data,
        seconds={"augment_seconds": augment_seconds, "train_seconds": train_seconds},
    )


def _training_set(method: str, fold: _Fold, settings: _Settings) -> _TrainingSet:
    if method == NONE:
        return _real_set(fold.x_train, fold.y_train, settings.classes)
    if method in WEIGHTED:
        from ..tl._class_weights import class_weights_from_counts

        data = _real_set(fold.x_train, fold.y_train, settings.classes)
        present = data.n_train[data.n_train > 0]
        data.class_weight = class_weights_from_counts(
            present, scheme=WEIGHTED[method], beta=EFFECTIVE_NUMBER_BETA
        ).reindex(settings.classes, fill_value=0.0)
        return data
    if method == UNDERSAMPLE:
        from ..pp import resample

        small = resample(
            fold.train, UNDERSAMPLE, labels_key=settings.labels_key, target="min", random_state=fold.seed
        )
        rows = np.sort(fold.train.obs_names.get_indexer(small.obs_names))
        return _real_set(fold.x_train[rows], fold.y_train[rows], settings.classes)
    if method == HYBRID:
        return _hybrid(fold, settings)
    return _augmented_set(method, np.arange(fold.train.n_obs), fold, settings, seed=fold.seed)


def _real_set(x: np.ndarray, y: np.ndarray, classes: list[str]) -> _TrainingSet:
    n = pd.Series(y).value_counts().reindex(classes, fill_value=0).astype(int)
    return _TrainingSet(x=x, y=y, n_train=n, n_synthetic=pd.Series(0, index=classes))


def _augmented_set(
    method: str, rows: np.ndarray, fold: _Fold, settings: _Settings, *, seed: int
) -> _TrainingSet:
    """Cells ``rows`` of the training fold plus the cells ``method`` adds under the minority rule."""
    from ..tl import augment
    from ._classifier import keep_torch_threads

    spec = get_method(method)
    y_real = fold.y_train[rows]
    data = _real_set(fold.x_train[rows], y_real, settings.classes)
    wanted = minority_targets(
        data.n_train[data.n_train > 0],
        threshold=settings.minority_threshold,
        fraction=settings.minority_fraction,
    )
    if not wanted:
        logger.info(
            "imbalance: no label below %d training cells; %s adds nothing",
            settings.minority_threshold,
            method,
        )
        return data
    subset = fold.train if len(rows) == fold.train.n_obs else fold.train[rows].copy()
    with keep_torch_threads():
        aug = augment(
            subset,
            method,
            labels_key=settings.labels_key,
            n_cells=wanted,
            layer=settings.layer,
            random_state=seed,
            model_kwargs=_options(settings.model_kwargs, spec),
            train_kwargs=_options(settings.train_kwargs, spec),
        )
    syn = aug[subset.n_obs :]
    y_syn = syn.obs[settings.labels_key].astype(str).to_numpy(dtype=object)
    data.x = np.concatenate([data.x, fold.embedding.scaled(syn)])
    data.y = np.concatenate([y_real, y_syn])
    data.n_synthetic = pd.Series(y_syn).value_counts().reindex(settings.classes, fill_value=0).astype(int)
    return data


def _hybrid(fold: _Fold, settings: _Settings) -> _TrainingSet:
    """Active learning from the training fold as pool, SMOTE on the labelled cells, logit adjustment."""
    from ._classifier import MLPClassifier

    h = settings.hybrid
    rng = np.random.default_rng(fold.seed)
    n = fold.train.n_obs
    labelled = initial_selection(
        fold.y_train, fraction=h["initial_fraction"], min_per_label=h["min_initial"], rng=rng
    )
    query_size = max(1, round(h["query_fraction"] * n))
    for r in range(h["n_rounds"]):
        pool = np.setdiff1d(np.arange(n), labelled)
        if len(pool) == 0:
            break
        data = _augmented_set("smote", labelled, fold, settings, seed=fold.seed + r)
        clf = MLPClassifier(settings.classes, **settings.classifier, tau=h["tau"], random_state=fold.seed + r)
        proba = clf.fit(data.x, data.y).predict_proba(fold.x_train[pool])
        labelled = np.union1d(labelled, pool[margin_query(proba, query_size, rng)])
    data = _augmented_set("smote", labelled, fold, settings, seed=fold.seed + h["n_rounds"])
    data.tau = h["tau"]
    return data


# --- rows -----------------------------------------------------------------------------------------


def score_rows(
    method: str,
    y_test: np.ndarray,
    predicted: np.ndarray,
    classes: list[str],
    data: _TrainingSet,
    *,
    seconds: Mapping[str, float],
) -> pd.DataFrame:
    """The table rows of one condition on one fold (without the ``fold`` column)."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score

    seen = set(y_test) | set(predicted)
    scored = [c for c in classes if c in seen]
    per_label = f1_score(y_test, predicted, labels=scored, average=None, zero_division=0.0)
    rows = [
        ("macro_f1", ALL, None, float(np.mean(per_label))),
        ("accuracy", ALL, None, float(accuracy_score(y_test, predicted))),
    ]
    rows += [("f1", lab, None, float(v)) for lab, v in zip(scored, per_label, strict=True)]
    n_test = pd.Series(y_test).value_counts().reindex(classes, fill_value=0)
    rows += [("n_test", lab, None, float(n_test[lab])) for lab in classes]
    rows += [("n_train", lab, None, float(data.n_train[lab])) for lab in classes]
    rows += [("n_synthetic", lab, None, float(data.n_synthetic[lab])) for lab in classes]
    if data.class_weight is not None:
        rows += [("class_weight", lab, None, float(data.class_weight[lab])) for lab in classes]
    rows += [(name, ALL, None, float(value)) for name, value in seconds.items()]
    matrix = confusion_matrix(y_test, predicted, labels=classes)
    rows += [
        ("confusion", true, pred, float(matrix[i, j]))
        for i, true in enumerate(classes)
        for j, pred in enumerate(classes)
    ]
    out = pd.DataFrame(rows, columns=["metric", "label", "predicted", "value"])
    out.insert(0, "method", method)
    out["status"] = OK
    return out


def _refused_rows(method: str, y_test: np.ndarray, classes: list[str], reason: str) -> pd.DataFrame:
    present = [c for c in classes if c in set(y_test)]
    rows = [("macro_f1", ALL), ("accuracy", ALL), *[("f1", lab) for lab in present]]
    out = pd.DataFrame(rows, columns=["metric", "label"])
    out.insert(0, "method", method)
    out["predicted"] = None
    out["value"] = np.nan
    out["status"] = reason
    return out


# --- input checks ---------------------------------------------------------------------------------


def _check_methods(methods: Sequence[str]) -> list[str]:
    from .._registry import methods as registered

    if isinstance(methods, str):
        methods = [methods]
    methods = list(dict.fromkeys(methods))
    if not methods:
        raise ScaugInputError("methods is empty; name at least one condition or registered method")
    known = set(registered().index)
    for name in methods:
        if not isinstance(name, str):
            raise ScaugInputError(f"methods must be names (strings), got {name!r}")
        if name in CONDITIONS and name in known:
            raise ScaugInputError(
                f"{name!r} is both a benchmark condition and a registered method; register the method under another name"
            )
        if name not in CONDITIONS and name not in known:
            raise ScaugInputError(
                f"unknown method {name!r}; conditions: {', '.join(CONDITIONS)}; "
                f"registered methods: {', '.join(sorted(known))}"
            )
    return methods


def _check_int(name: str, value, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ScaugInputError(f"{name} must be an integer >= {minimum}, got {value!r}")


def _hybrid_settings(overrides: Mapping | None) -> dict:
    settings = dict(HYBRID_DEFAULTS)
    unknown = sorted(set(overrides or {}) - set(settings))
    if unknown:
        raise ScaugInputError(f"unknown hybrid_kwargs {unknown}; known: {sorted(settings)}")
    settings.update(overrides or {})
    for name in ("initial_fraction", "query_fraction"):
        if not 0 < settings[name] <= 1:
            raise ScaugInputError(f"hybrid_kwargs[{name!r}] must be in (0, 1], got {settings[name]!r}")
    _check_int("hybrid_kwargs['n_rounds']", settings["n_rounds"], 0)
    _check_int("hybrid_kwargs['min_initial']", settings["min_initial"], 1)
    if not settings["tau"] >= 0:
        raise ScaugInputError(f"hybrid_kwargs['tau'] must be >= 0, got {settings['tau']!r}")
    return settings


def _options(options: Mapping | None, spec) -> dict | None:
    """A method's model_kwargs/train_kwargs: per method, or shared by every trained method."""
    if not options:
        return None
    from .._registry import methods as registered

    if set(options) <= set(registered().index):
        return options.get(spec.name)
    return None if spec.kind == "resampling" else dict(options)
