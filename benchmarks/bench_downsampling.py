"""scGAN's downsampling experiment on the real data (issue 13): does augmenting a rare type help find it?

``scaug.bench.downsampling`` per dataset and target: a stratified 20 % test set per seed, the
target's training cells downsampled (nested subsets) to each rate (at least 2 cells kept), each
method generating the target from that training set alone, a balanced random forest (target vs
rest) in an evaluation embedding fitted on the real training cells, F1 on the test cells; beside
no augmentation and the removed real cells put back (the ceiling). Rows are appended to
``benchmarks/results/downsampling.csv`` with the dataset, target, torch threads and load.

    python benchmarks/bench_downsampling.py --dataset pbmc3k --target "B cells" [--methods smote cscgan scvi_ppc]
        [--seeds 0 1 2] [--threads 1] [--out benchmarks/results/downsampling.csv]
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import anndata as ad
import torch
from bench_cscgan import DATA, DATASETS, ROOT, _append

import scaug


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--target", required=True)
    parser.add_argument("--methods", nargs="+", default=["smote", "cscgan", "scvi_ppc"])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--rates", nargs="+", type=float, default=list(scaug.bench._downsampling.RATES))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "downsampling.csv"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    file, labels_key = DATASETS[args.dataset]
    adata = ad.read_h5ad(DATA / file)
    quiet = {
        m: {"enable_progress_bar": False} for m in args.methods if scaug.methods().loc[m, "kind"] == "deep"
    }
    for seed in args.seeds:  # one seed at a time, so that an interrupted run keeps the finished seeds
        table = scaug.bench.downsampling(
            adata, labels_key, args.target, args.methods, rates=args.rates, seeds=[seed], train_kwargs=quiet
        )
        table.insert(0, "target", args.target)
        table.insert(0, "dataset", args.dataset)
        table["torch_threads"] = torch.get_num_threads()
        table["load_avg_1min"] = round(os.getloadavg()[0], 2)
        _append(table, Path(args.out))
        print(scaug.bench.summarise("downsampling", table).round(3).to_string(), flush=True)


if __name__ == "__main__":
    main()
