"""The downsampling experiment of scGAN (Marouf et al. 2020): does augmenting a rare type help find it?

One label (the *target*) is downsampled in the training data to a few cells, a method generates new
cells of it from that training data alone, and a balanced random forest trained on the augmented
training data has to find the target among held-out cells it never saw. The conditions at every
rate: no augmentation, each method, and the removed real cells put back (the ceiling a perfect
generator approaches).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from .._validation import ScaugInputError, check_adata, check_labels

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("scaug")

#: The condition without augmentation and the one with the removed real cells put back.
NONE, REAL = "none", "real_cells"
RATES = (0.1, 0.05, 0.02, 0.01, 0.005)
COLUMNS = ["seed", "rate", "n_kept", "n_removed", "method", "metric", "value", "status"]


def downsampling(
    adata: AnnData,
    labels_key: str,
    target: str,
    methods: Sequence[str] = ("smote", "cscgan"),
    *,
    rates: Sequence[float] = RATES,
    n_kept: Sequence[int] | None = None,
    min_kept: int = 2,
    seeds: Sequence[int] = (0, 1, 2),
    test_size: float = 0.2,
    n_synthetic: int | None = None,
    layer: str | None = None,
    n_pcs: int = 50,
    n_top_genes: int = 2000,
    n_estimators: int = 500,
    model_kwargs: Mapping[str, dict] | None = None,
    train_kwargs: Mapping[str, dict] | None = None,
    progress: bool = True,
) -> pd.DataFrame:
    """Downsample one label, augment it back, and score a target-vs-rest classifier on held-out cells.

    Per seed: a stratified held-out test set (``test_size`` of the labelled cells); the target's
    training cells in a random order, of which the first ``n`` are kept at each rate, so the kept
    subsets are nested (the cells kept at 1 % are among those kept at 2 %). At each rate the
    training set is the kept target cells plus every other training cell; each method generates
    target cells from that training set only (:func:`scaug.tl.generate`); an evaluation embedding
    (:func:`scaug.metrics.fit_embedding`) is fitted on that training set's real cells, and
    synthetic and test cells are projected into it. A balanced random forest (imbalanced-learn)
    learns target vs rest on the training set plus the synthetic cells and is scored on the test
    cells.

    Parameters
    ----------
    adata
        Cells x genes with labels (counts preferred); unlabelled cells are not used.
    labels_key
        ``obs`` column with the labels.
    target
        The label to downsample.
    methods
        Registered method names (:func:`scaug.methods`) that generate the target.
    rates
        Fractions of the target's training cells to keep; each keeps at least ``min_kept`` cells,
        and rates that keep the same number of cells are run once (under the largest rate).
    n_kept
        Numbers of target cells to keep instead of ``rates``.
    min_kept
        Fewest target cells kept at any rate.
    seeds
        One repetition per seed (split, subsets, training and forest).
    test_size
        Fraction of the labelled cells held out (stratified by label).
    n_synthetic
        Synthetic target cells per method and rate; default the number of removed cells, so that
        a method's condition and the ceiling add the same number of cells.
    layer
        Layer to model and evaluate (default ``"counts"`` if present, else ``.X``).
    n_pcs, n_top_genes
        Size of the evaluation embedding the forest works in.
    n_estimators
        Trees of the balanced random forest.
    model_kwargs, train_kwargs
        Per method: ``{method: {...}}``, passed to :func:`scaug.tl.generate`.
    progress
        Show a progress bar over seeds, rates and conditions.

    Returns
    -------
    Tidy table with columns ``seed``, ``rate``, ``n_kept``, ``n_removed``, ``method`` (a method name,
    ``"none"`` or ``"real_cells"``), ``metric``, ``value``, ``status`` (``"ok"`` or the one-line
    reason a method could not run). Metrics: ``f1``, ``precision``, ``recall`` of the target on the
    test cells, ``n_synthetic``, ``memorisation_ratio`` (synthetic target cells' median distance to
    the closest training cell over the held-out target cells'; ≪ 1 means copies) and
    ``train_seconds`` (training and generation).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(600, 100, 3, random_state=0)
    >>> table = scaug.bench.downsampling(
    ...     adata, "cell_type", "type_1", ["smote"], n_kept=[5], seeds=[0], n_estimators=50, progress=False
    ... )
    >>> sorted(table["method"].unique())
    ['none', 'real_cells', 'smote']
    """
    from .._registry import get_method

    check_adata(adata)
    labels = check_labels(adata, labels_key)
    if target not in set(labels.dropna()):
        raise ScaugInputError(f"target {target!r} is not a label of obs[{labels_key!r}]")
    for method in methods:
        get_method(method)  # unknown names fail before anything is trained
    if not 0 < test_size < 1:
        raise ScaugInputError(f"test_size must be in (0, 1), got {test_size}")
    model_kwargs, train_kwargs = dict(model_kwargs or {}), dict(train_kwargs or {})
    unknown = sorted((set(model_kwargs) | set(train_kwargs)) - set(methods))
    if unknown:
        raise ScaugInputError(f"model_kwargs/train_kwargs name methods not in methods: {unknown}")

    labelled = adata[labels.notna().to_numpy()]
    steps = plan(
        labels[labels.notna()].astype(str).to_numpy(),
        target,
        seeds=seeds,
        rates=rates,
        n_kept=n_kept,
        min_kept=min_kept,
        test_size=test_size,
    )
    bar = tqdm(total=len(steps) * (len(methods) + 2), desc="downsampling", disable=not progress)
    tables = []
    for step in steps:
        rows = _one_rate(
            labelled,
            step,
            labels_key=labels_key,
            target=target,
            methods=methods,
            n_synthetic=len(step.removed) if n_synthetic is None else int(n_synthetic),
            layer=layer,
            n_pcs=n_pcs,
            n_top_genes=n_top_genes,
            n_estimators=n_estimators,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
            bar=bar,
        )
        rows[["seed", "rate", "n_kept", "n_removed"]] = (
            step.seed,
            step.rate,
            len(step.kept),
            len(step.removed),
        )
        tables.append(rows[COLUMNS])
    bar.close()
    return pd.concat(tables, ignore_index=True)


@dataclass(frozen=True)
class Step:
    """The cells of one rate of one seed (row indices of the labelled cells).

    Attributes
    ----------
    seed, rate
        The repetition and the fraction of the target's training cells kept.
    train
        Every training cell of this step: the kept target cells and the other labels' training cells.
    test
        Held-out cells (all labels); never trained on, generated from or fitted on.
    kept, removed
        The target's training cells kept (part of ``train``) and removed (the ceiling puts them back).
    """

    seed: int
    rate: float
    train: np.ndarray
    test: np.ndarray
    kept: np.ndarray
    removed: np.ndarray


def plan(
    labels: np.ndarray,
    target: str,
    *,
    seeds: Sequence[int],
    rates: Sequence[float] = RATES,
    n_kept: Sequence[int] | None = None,
    min_kept: int = 2,
    test_size: float = 0.2,
) -> list[Step]:
    """The cells of every seed and rate of :func:`downsampling`, largest rate first within a seed.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array(["a"] * 200 + ["b"] * 100)
    >>> steps = plan(labels, "b", seeds=[0], n_kept=[10, 3])
    >>> [len(s.kept) for s in steps], bool(set(steps[1].kept) <= set(steps[0].kept))
    ([10, 3], True)
    """
    steps = []
    for seed in seeds:
        train, test, order = split_cells(labels, target, seed=seed, test_size=test_size)
        others = np.setdiff1d(train, order)
        for rate, k in kept_sizes(len(order), rates=rates, n_kept=n_kept, min_kept=min_kept):
            kept = np.sort(order[:k])
            steps.append(Step(seed, rate, np.union1d(others, kept), test, kept, np.sort(order[k:])))
    return steps


def split_cells(
    labels: np.ndarray, target: str, *, seed: int, test_size: float
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Stratified train/test cell indices and the target's training cells in a random order.

    Keeping the first ``k`` cells of the order gives nested subsets across rates.

    Examples
    --------
    >>> import numpy as np
    >>> labels = np.array(["a"] * 20 + ["b"] * 10)
    >>> train, test, order = split_cells(labels, "b", seed=0, test_size=0.2)
    >>> len(test), len(order), bool(set(order) <= set(train))
    (6, 8, True)
    """
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(labels))
    train, test = train_test_split(idx, test_size=test_size, stratify=labels, random_state=seed)
    target_train = np.sort(train[labels[train] == target])
    order = np.random.default_rng(seed).permutation(target_train)
    return np.sort(train), np.sort(test), order


def kept_sizes(
    n_target: int, *, rates: Sequence[float], n_kept: Sequence[int] | None, min_kept: int
) -> list[tuple[float, int]]:
    """``(rate, cells kept)`` pairs, largest first; rates keeping the same number run once.

    Examples
    --------
    >>> kept_sizes(274, rates=(0.1, 0.05, 0.02, 0.01, 0.005), n_kept=None, min_kept=2)
    [(0.1, 27), (0.05, 14), (0.02, 5), (0.01, 3), (0.005, 2)]
    >>> kept_sizes(123, rates=(0.01, 0.005), n_kept=None, min_kept=2)
    [(0.01, 2)]
    """
    if min_kept < 1:
        raise ScaugInputError(f"min_kept must be at least 1, got {min_kept}")
    if n_kept is not None:
        sizes = [(k / n_target, int(k)) for k in n_kept]
    else:
        if any(not 0 < r < 1 for r in rates):
            raise ScaugInputError(f"rates must be in (0, 1), got {list(rates)}")
        sizes = [(float(r), max(min_kept, round(r * n_target))) for r in rates]
    bad = [k for _, k in sizes if not 1 <= k < n_target]
    if bad:
        raise ScaugInputError(
            f"cannot keep {bad} of the target's {n_target} training cells (need 1 <= kept < {n_target})"
        )
    out: dict[int, float] = {}
    for rate, k in sorted(sizes, key=lambda s: -s[1]):
        out.setdefault(k, round(rate, 6))
    return [(rate, k) for k, rate in out.items()]


def _one_rate(
    labelled: AnnData,
    step: Step,
    *,
    labels_key: str,
    target: str,
    methods: Sequence[str],
    n_synthetic: int,
    layer: str | None,
    n_pcs: int,
    n_top_genes: int,
    n_estimators: int,
    model_kwargs: Mapping[str, dict],
    train_kwargs: Mapping[str, dict],
    bar: tqdm,
) -> pd.DataFrame:
    """Every condition at one rate of one seed."""
    from ..metrics import fit_embedding
    from ..tl import generate

    seed = step.seed
    train_adata = labelled[step.train].copy()
    embedding = fit_embedding(
        train_adata, layer=layer, n_pcs=n_pcs, n_top_genes=n_top_genes, random_state=seed
    )
    x_train = embedding.transform(train_adata)
    y_train = train_adata.obs[labels_key].astype(str).to_numpy() == target
    test_adata = labelled[step.test]
    x_test = embedding.transform(test_adata)
    y_test = test_adata.obs[labels_key].astype(str).to_numpy() == target

    def score(name: str, extra: np.ndarray, seconds: float = np.nan, status: str = "ok") -> pd.DataFrame:
        values = classify(x_train, y_train, extra, x_test, y_test, n_estimators=n_estimators, seed=seed)
        values["n_synthetic"] = len(extra)
        values["memorisation_ratio"] = _memorisation(x_train, extra, x_test[y_test])
        values["train_seconds"] = seconds
        bar.update()
        return _rows(name, values, status)

    tables = [score(NONE, x_train[:0])]
    for method in methods:
        start = time.perf_counter()
        try:
            syn = generate(
                train_adata,
                {target: n_synthetic},
                method=method,
                labels_key=labels_key,
                layer=layer,
                random_state=seed,
                model_kwargs=model_kwargs.get(method),
                train_kwargs=train_kwargs.get(method),
            )
        except ScaugInputError as err:
            logger.warning(
                "downsampling: %s refused %d kept %r cells: %s", method, y_train.sum(), target, err
            )
            tables.append(_rows(method, {}, str(err)))
            bar.update()
            continue
        seconds = time.perf_counter() - start
        tables.append(score(method, embedding.transform(syn), seconds))
    tables.append(score(REAL, embedding.transform(labelled[step.removed])))
    return pd.concat(tables, ignore_index=True)


def classify(
    x_train: np.ndarray,
    y_train: np.ndarray,
    extra: np.ndarray,
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    n_estimators: int,
    seed: int,
) -> dict[str, float]:
    """F1, precision and recall of a balanced random forest (target vs rest) on the test cells.

    ``extra`` are additional target cells (synthetic, or the removed real cells) for training.
    """
    from imblearn.ensemble import BalancedRandomForestClassifier
    from sklearn.metrics import f1_score, precision_score, recall_score

    x = np.concatenate([x_train, extra])
    y = np.concatenate([y_train, np.ones(len(extra), dtype=bool)])
    forest = BalancedRandomForestClassifier(
        n_estimators=n_estimators,
        sampling_strategy="all",
        replacement=True,
        bootstrap=False,
        random_state=seed,
    ).fit(x, y)
    pred = forest.predict(x_test)
    return {
        "f1": f1_score(y_test, pred, zero_division=0.0),
        "precision": precision_score(y_test, pred, zero_division=0.0),
        "recall": recall_score(y_test, pred, zero_division=0.0),
    }


def _memorisation(x_train: np.ndarray, synthetic: np.ndarray, heldout: np.ndarray) -> float:
    from ..metrics import memorisation

    if len(synthetic) == 0:
        return np.nan
    table = memorisation(x_train, synthetic, heldout).set_index("metric")["value"]
    return float(table["memorisation_ratio"])


def _rows(method: str, values: Mapping[str, float], status: str = "ok") -> pd.DataFrame:
    metrics = ["f1", "precision", "recall", "n_synthetic", "memorisation_ratio", "train_seconds"]
    return pd.DataFrame(
        {
            "method": method,
            "metric": metrics,
            "value": [float(values.get(m, np.nan)) for m in metrics],
            "status": status,
        }
    )
