"""The comparison study's imbalance protocol (Zheng et al. 2025; issue 13) on real and simulated data.

``scaug.bench.imbalance``: 5-fold stratified cross-validation, the study's MLP (HVGs -> 128 -> 64 ->
labels), every way of handling imbalance applied to the training folds only; macro-F1, accuracy,
per-label F1 and confusion matrices on the test folds. ``--dataset simulated`` is the study's
setting: ``scaug.datasets.simulate`` with 9 labels at 143 : 1 and 1,500 genes. Rows are appended to
``benchmarks/results/imbalance.csv`` with the dataset and labels key.

    python benchmarks/bench_imbalance.py --dataset simulated|pbmc3k|paul15 [--labels-key KEY]
        [--methods none random_undersample ... gan vae cscgan scvi_ppc] [--folds 5] [--threads 1]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import anndata as ad
import torch
from bench_cscgan import DATA, DATASETS, ROOT, _append

import scaug

METHODS = [
    "none",
    "random_undersample",
    "random_oversample",
    "smote",
    "weighted_ce_balanced",
    "weighted_ce_effective_number",
    "hybrid",
    "gan",
    "vae",
    "cscgan",
    "scvi_ppc",
]


def load(dataset: str, labels_key: str | None) -> tuple[ad.AnnData, str]:
    if dataset == "simulated":
        # 9 labels, the largest 143 times the smallest, 1,500 genes (the study's strongest imbalance)
        adata = scaug.datasets.simulate(5_000, 1_500, 9, imbalance=1 / 143, random_state=0)
        return adata, "cell_type"
    file, key = DATASETS[dataset]
    return ad.read_h5ad(DATA / file), labels_key or key


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=["simulated", *sorted(DATASETS)], default="simulated")
    parser.add_argument("--labels-key", default=None, help="default: the dataset's usual labels")
    parser.add_argument("--methods", nargs="+", default=METHODS)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "imbalance.csv"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    adata, labels_key = load(args.dataset, args.labels_key)
    deep = [
        m for m in args.methods if m in scaug.methods().index and scaug.methods().loc[m, "kind"] == "deep"
    ]
    table = scaug.bench.imbalance(
        adata,
        labels_key,
        args.methods,
        n_folds=args.folds,
        n_top_genes=min(2000, adata.n_vars),
        train_kwargs={m: {"enable_progress_bar": False} for m in deep},
    )
    table.insert(0, "labels_key", labels_key)
    table.insert(0, "dataset", args.dataset)
    table["torch_threads"] = torch.get_num_threads()
    table["load_avg_1min"] = round(os.getloadavg()[0], 2)
    _append(table, Path(args.out))
    print(scaug.bench.summarise("imbalance", table).round(3).to_string())


if __name__ == "__main__":
    main()
