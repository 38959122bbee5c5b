"""GARAGE stage 1: rank representative "seed" cells by the attention they receive on the cell graph.

A graph attention network learns to classify the labels on a sparse kNN graph, with class-balanced
loss and extra weight on rare labels. The seed score of a cell is the attention it *receives* from
its neighbours (taken from the attention coefficients the layers return, averaged over heads and the
two layers) times the network's confidence in the cell's true label. The public GARAGE code computed
this score from the ``edge_index`` tensor (i.e. from the graph's degrees), not from the attention;
:func:`received_attention` reads the coefficients themselves.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd
import torch

from ..._validation import ScaugInputError
from ._gat import GATClassifier, class_weights, holdout_mask
from ._gat_trainingplan import fit_gat
from ._graph import cell_embedding, edge_index, knn_graph

logger = logging.getLogger("scaug")

TINY_LABEL = 3


def received_attention(edges: torch.Tensor, attention: torch.Tensor, n_nodes: int) -> np.ndarray:
    """Attention each node receives from its neighbours, averaged over heads.

    Parameters
    ----------
    edges
        ``(2, n_edges)`` edges as returned by ``GATConv(..., return_attention_weights=True)``
        (row 0: source, row 1: target; the target's softmax runs over its incoming edges).
    attention
        ``(n_edges, n_heads)`` or ``(n_edges,)`` attention coefficients of those edges.
    n_nodes
        Number of nodes.

    Returns
    -------
    For every node, the sum over its neighbours of the attention they pay to it (self-loops excluded).

    Examples
    --------
    >>> import torch
    >>> edges = torch.tensor([[0, 0, 1], [1, 2, 2]])
    >>> received_attention(edges, torch.tensor([[1.0], [0.25], [0.75]]), 3)
    array([1.25, 0.75, 0.  ], dtype=float32)
    """
    alpha = attention.detach().float()
    if alpha.dim() == 2:
        alpha = alpha.mean(dim=1)
    src, dst = edges[0], edges[1]
    keep = src != dst
    out = torch.zeros(n_nodes, dtype=torch.float32).index_add_(0, src[keep], alpha[keep])
    return out.numpy()


def attention_scores(
    network: GATClassifier, x: torch.Tensor, edges: torch.Tensor, codes: np.ndarray
) -> pd.DataFrame:
    """Per cell: received attention (mean of the layers), confidence in the true label, and their product."""
    network.eval()
    with torch.no_grad():
        out = network(x, edges)
    received = np.mean([received_attention(e, a, x.shape[0]) for e, a in out["attention"]], axis=0)
    proba = torch.softmax(out["logits"], dim=1).numpy()
    confidence = proba[np.arange(len(codes)), codes]
    return pd.DataFrame({"attention": received, "confidence": confidence, "score": received * confidence})


def rare_labels(label_counts: pd.Series, rare_fraction: float) -> pd.Series:
    """Whether each label is rare: fewer than ``rare_fraction`` of all cells."""
    return label_counts < rare_fraction * label_counts.sum()


def seed_quota(
    label_counts: pd.Series,
    rare: pd.Series,
    *,
    fraction: float = 0.1,
    rare_boost: float = 3.0,
    min_seeds: int = 5,
) -> pd.Series:
    """Seeds per label: ``fraction`` of its cells (``x rare_boost`` for rare labels), at least ``min_seeds``.

    A label with at most ``min_seeds`` cells gets all of them.

    Examples
    --------
    >>> import pandas as pd
    >>> counts = pd.Series({"common": 1000, "rare": 30, "tiny": 2})
    >>> seed_quota(counts, counts < 50).to_dict()
    {'common': 100, 'rare': 9, 'tiny': 2}
    """
    boost = np.where(rare.reindex(label_counts.index).to_numpy(dtype=bool), rare_boost, 1.0)
    wanted = np.ceil(fraction * boost * label_counts.to_numpy() - 1e-9).astype(np.int64)
    quota = np.minimum(label_counts.to_numpy(), np.maximum(wanted, min_seeds))
    return pd.Series(quota, index=label_counts.index, dtype=np.int64)


def top_seeds(scores: np.ndarray, labels: np.ndarray, quota: pd.Series) -> np.ndarray:
    """Row indices of the ``quota[label]`` highest-scoring cells of every label (ties: first row wins)."""
    chosen = []
    for label, n in quota.items():
        rows = np.flatnonzero(labels == label)
        order = np.argsort(-scores[rows], kind="stable")
        chosen.append(rows[order[:n]])
    return np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)


class SeedSelector:
    """GARAGE stage 1: a graph attention classifier on a kNN cell graph that ranks seed cells.

    Parameters
    ----------
    n_neighbors
        Neighbours per cell in the kNN graph.
    n_pcs
        Principal components of the log-normalised data (the GAT's input and the graph's space).
    n_top_genes
        Highly variable genes the PCA uses (``None``: all).
    rare_fraction
        A label is rare when it has fewer than this fraction of the cells.
    rare_weight
        Extra loss weight of rare labels on top of the class-balanced weights (1: no priority).
    seed_fraction
        Fraction of a label's cells that become seeds.
    rare_seed_boost
        Multiplies ``seed_fraction`` for rare labels (1: no priority).
    min_seeds
        Fewest seeds per label (all cells of smaller labels).
    holdout_fraction
        Fraction of each label held out for early stopping (labels with fewer than 5 cells: none).
    n_hidden, n_heads, dropout, lr, max_epochs, patience
        Network and training options (see :func:`~scaug.models.garage._gat_trainingplan.fit_gat`).
    progress_bar
        Show Lightning's progress bar while the classifier trains.

    Attributes
    ----------
    seeds_
        The seeds: index = cell names, columns ``label``, ``score``, ``attention``, ``confidence``,
        ``rank`` (1 = best seed of its label), ``row`` (row in the training data), best first per label.
    scores_
        The same columns for every training cell.
    embedding_
        The GAT's hidden embedding of every training cell (first layer output).
    features_, graph_, network_
        The network's input (scaled PCA), the kNN graph and the trained network.
    quota_, rare_
        Seeds per label and which labels count as rare.
    history_
        One row per epoch of the classifier training.

    Examples
    --------
    >>> import scaug
    >>> from scaug.models.garage import SeedSelector
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> sel = SeedSelector(max_epochs=20).fit(adata.X, adata.obs["cell_type"], progress_bar=False)
    >>> bool(sel.seeds_.groupby("label", observed=True).size().min() >= 5)
    True
    """

    def __init__(
        self,
        *,
        n_neighbors: int = 15,
        n_pcs: int = 50,
        n_top_genes: int | None = 2000,
        rare_fraction: float = 0.05,
        rare_weight: float = 2.0,
        seed_fraction: float = 0.1,
        rare_seed_boost: float = 3.0,
        min_seeds: int = 5,
        holdout_fraction: float = 0.15,
        n_hidden: int = 16,
        n_heads: int = 4,
        dropout: float = 0.3,
        lr: float = 5e-3,
        max_epochs: int = 300,
        patience: int = 30,
        progress_bar: bool = True,
    ):
        if not 0 < rare_fraction < 1:
            raise ScaugInputError(f"rare_fraction must be in (0, 1), got {rare_fraction}")
        if not 0 < seed_fraction <= 1:
            raise ScaugInputError(f"seed_fraction must be in (0, 1], got {seed_fraction}")
        if rare_weight <= 0 or rare_seed_boost <= 0:
            raise ScaugInputError("rare_weight and rare_seed_boost must be positive")
        if min_seeds < 1:
            raise ScaugInputError(f"min_seeds must be at least 1, got {min_seeds}")
        self.params = {
            "n_neighbors": n_neighbors,
            "n_pcs": n_pcs,
            "n_top_genes": n_top_genes,
            "rare_fraction": rare_fraction,
            "rare_weight": rare_weight,
            "seed_fraction": seed_fraction,
            "rare_seed_boost": rare_seed_boost,
            "min_seeds": min_seeds,
            "holdout_fraction": holdout_fraction,
            "n_hidden": n_hidden,
            "n_heads": n_heads,
            "dropout": dropout,
            "lr": lr,
            "max_epochs": max_epochs,
            "patience": patience,
            "progress_bar": progress_bar,
        }

    def fit(
        self,
        matrix,
        labels: Sequence | pd.Series,
        *,
        counts: bool = True,
        obs_names: Sequence[str] | None = None,
        random_state: int = 0,
        progress_bar: bool | None = None,
        accelerator: str = "auto",
        devices: int | str = "auto",
    ) -> SeedSelector:
        """Build the graph, train the classifier and pick the seeds.

        Parameters
        ----------
        matrix
            Cells x genes (sparse or dense); never modified.
        labels
            Label of every cell (no missing values).
        counts
            Whether ``matrix`` holds raw counts (else log-normalised values).
        obs_names
            Cell names for :attr:`seeds_` (default: the index of ``labels`` if a Series, else row numbers).
        random_state
            Seed of the PCA, the graph search, the held-out split and the network.
        progress_bar
            Show a progress bar while training (default: the ``progress_bar`` option).
        accelerator, devices
            Where the classifier trains (Lightning's options; ``"auto"``: a GPU when there is one).

        Returns
        -------
        ``self``, fitted.
        """
        p = self.params
        if obs_names is None and isinstance(labels, pd.Series):
            obs_names = labels.index
        labels = pd.Series(np.asarray(labels, dtype=object)).astype(str)
        names = pd.Index(
            np.arange(len(labels)).astype(str) if obs_names is None else list(map(str, obs_names))
        )
        if len(labels) != matrix.shape[0]:
            raise ScaugInputError(f"{len(labels)} labels for {matrix.shape[0]} cells")
        categories = pd.Index(pd.unique(labels))
        if len(categories) < 2:
            raise ScaugInputError(
                f"GARAGE seed selection classifies labels and needs at least 2, got {list(categories)}"
            )
        codes = categories.get_indexer(labels)
        label_counts = pd.Series(np.bincount(codes, minlength=len(categories)), index=categories)
        self.rare_ = rare_labels(label_counts, p["rare_fraction"])
        self.quota_ = seed_quota(
            label_counts,
            self.rare_,
            fraction=p["seed_fraction"],
            rare_boost=p["rare_seed_boost"],
            min_seeds=p["min_seeds"],
        )
        _warn_tiny(label_counts, self.quota_)

        rng = np.random.default_rng(random_state)
        emb = cell_embedding(
            matrix, counts=counts, n_pcs=p["n_pcs"], n_top_genes=p["n_top_genes"], random_state=random_state
        )
        graph = knn_graph(emb, n_neighbors=p["n_neighbors"], random_state=random_state)
        x, edges = torch.from_numpy(emb), edge_index(graph)
        weights = class_weights(label_counts.to_numpy(), self.rare_.to_numpy(), rare_weight=p["rare_weight"])
        held = holdout_mask(codes, fraction=p["holdout_fraction"], min_cells=TINY_LABEL + 2, rng=rng)
        fit = fit_gat(
            x,
            edges,
            codes,
            weights,
            held_out=held,
            n_hidden=p["n_hidden"],
            n_heads=p["n_heads"],
            dropout=p["dropout"],
            lr=p["lr"],
            max_epochs=p["max_epochs"],
            patience=p["patience"],
            random_state=int(rng.integers(2**31 - 1)),
            progress_bar=p["progress_bar"] if progress_bar is None else progress_bar,
            accelerator=accelerator,
            devices=devices,
        )
        self.network_, self.history_, self.graph_, self.features_ = fit.network, fit.history, graph, emb
        self._set_scores(attention_scores(fit.network, x, edges, codes), labels.to_numpy(), names)
        with torch.no_grad():
            self.embedding_ = fit.network(x, edges)["embedding"].numpy()
        return self

    def _set_scores(self, scores: pd.DataFrame, labels: np.ndarray, names: pd.Index) -> None:
        """Store per-cell scores and pick the top ``quota_`` cells of every label as seeds."""
        scores = scores.set_axis(names)
        scores.insert(0, "label", pd.Categorical(labels, categories=list(self.quota_.index)))
        scores["row"] = np.arange(len(scores))
        scores["rank"] = (
            scores.groupby("label", observed=True)["score"].rank(ascending=False, method="first").astype(int)
        )
        self.scores_ = scores
        rows = top_seeds(scores["score"].to_numpy(), labels, self.quota_)
        self.seeds_ = scores.iloc[rows].copy()


def _warn_tiny(label_counts: pd.Series, quota: pd.Series) -> None:
    tiny = label_counts[label_counts <= TINY_LABEL]
    if len(tiny):
        listing = ", ".join(f"{lab!r} ({n} cells, {quota[lab]} seeds)" for lab, n in tiny.items())
        logger.warning(
            "GARAGE: labels %s have %d or fewer cells: none is held out for early stopping, and their "
            "synthetic cells can only vary around these few cells",
            listing,
            TINY_LABEL,
        )


__all__ = ["SeedSelector", "attention_scores", "received_attention", "seed_quota", "top_seeds"]
