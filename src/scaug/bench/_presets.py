"""Small settings of every benchmark (``scaug bench ... --quick``) and their one-table summaries."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .._validation import ScaugInputError

PROTOCOLS = ("downsampling", "imbalance", "speed")


def quick_settings(protocol: str) -> dict:
    """Keyword arguments of a benchmark that run in a few minutes on 2 CPU cores, on simulated data.

    The GANs train for a few hundred steps only: the quick settings check that the protocol runs
    end to end, they do not measure what the methods can do.

    Examples
    --------
    >>> import scaug
    >>> sorted(scaug.bench.quick_settings("downsampling"))[:3]
    ['adata', 'labels_key', 'methods']
    """
    from .. import datasets

    if protocol == "downsampling":
        return {
            "adata": datasets.simulate(1_200, 300, 4, imbalance=0.2, fold_change=3.0, random_state=0),
            "labels_key": "cell_type",
            "target": "type_2",
            "methods": ["smote", "cscgan"],
            "n_kept": [10, 2],
            "seeds": [0],
            "n_estimators": 200,
            "train_kwargs": {"cscgan": {"max_steps": 300, "enable_progress_bar": False}},
        }
    if protocol == "imbalance":
        return {
            "adata": datasets.simulate(1_500, 400, 6, imbalance=0.02, random_state=0),
            "labels_key": "cell_type",
            "methods": ["none", "random_oversample", "smote", "weighted_ce_balanced", "hybrid", "cscgan"],
            "n_folds": 3,
            "n_top_genes": 400,
            "epochs": 20,
            "train_kwargs": {
                "cscgan": {"max_steps": 100, "enable_progress_bar": False},
                # the study's schedule (200 epochs): the GAN takes seconds per fold, the VAE under a minute
                "gan": {"enable_progress_bar": False},
                "vae": {"enable_progress_bar": False},
            },
        }
    if protocol == "speed":
        return {
            "methods": ["smote", "cscgan"],
            "sizes": [500, 2_000],
            "n_genes": 500,
            "n_generate": 5_000,
            "fidelity_cells": 300,
            "train_kwargs": {"cscgan": {"max_steps": 100, "enable_progress_bar": False}},
        }
    raise ScaugInputError(f"unknown benchmark {protocol!r}; use one of {list(PROTOCOLS)}")


def summarise(protocol: str, table: pd.DataFrame) -> pd.DataFrame:
    """The benchmark's table in one screen: means (and spread) over seeds or folds.

    Examples
    --------
    >>> import pandas as pd, scaug
    >>> t = pd.DataFrame({"seed": [0, 1], "rate": 0.1, "n_kept": 5, "n_removed": 40, "method": "none",
    ...                   "metric": "f1", "value": [0.2, 0.4], "status": "ok"})
    >>> scaug.bench.summarise("downsampling", t).round(2).to_dict("list")
    {'f1': [0.3], 'f1_sd': [0.14], 'memorisation_ratio': [nan], 'seeds': [2]}
    """
    if protocol == "downsampling":
        keep = table["metric"].isin(["f1", "memorisation_ratio"])
        grouped = table[keep].groupby(["n_kept", "method", "metric"], sort=False)["value"]
        stats = grouped.agg(["mean", "std"]).unstack("metric")
        out = pd.DataFrame(
            {
                "f1": stats[("mean", "f1")],
                "f1_sd": stats[("std", "f1")],
                "memorisation_ratio": stats.get(("mean", "memorisation_ratio"), np.nan),
                "seeds": table[table["metric"] == "f1"]
                .groupby(["n_kept", "method"], sort=False)["seed"]
                .nunique(),
            }
        )
        return out.sort_index(level="n_kept", ascending=False, sort_remaining=False)
    if protocol == "imbalance":
        from ._imbalance import summarise as summarise_imbalance

        return summarise_imbalance(table)
    if protocol == "speed":
        return table.pivot_table(
            index=["method", "n_cells"], columns=["stage", "metric"], values="value", aggfunc="first"
        )
    raise ScaugInputError(f"unknown benchmark {protocol!r}; use one of {list(PROTOCOLS)}")
