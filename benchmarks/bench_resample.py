"""Seconds and peak memory of ``augment(method="smote", n_cells="balance")``.

Cases: PBMC 3k with all 32,738 genes (../shared/data/pbmc3k_counts.h5ad) and
``simulate(100_000 cells, 2_000 genes)``. Target: the 100k case in < 60 s on 2 cores with peak
memory < 3x the input matrix. Peak memory is measured with tracemalloc (numpy and scipy buffers are
traced): ``peak_new_mb`` is what the call allocates at most (the output, which holds a copy of the
real cells since AnnData cannot grow in place, included); ``peak_over_input`` is
(input + peak_new) / input, the whole footprint relative to the input matrix.

    python benchmarks/bench_resample.py [--methods smote random_oversample] [--out benchmarks/results/resample.csv]
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from pathlib import Path

import anndata as ad
import pandas as pd

import scaug

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"


def matrix_bytes(X) -> int:
    return X.data.nbytes + X.indices.nbytes + X.indptr.nbytes


def measure(name: str, adata: ad.AnnData, labels_key: str, method: str) -> dict:
    scaug.tl.augment(adata[:200].copy(), method, labels_key=labels_key, n_cells={})  # warm imports
    tracemalloc.start()
    start = time.perf_counter()
    aug = scaug.tl.augment(adata, method, labels_key=labels_key, n_cells="balance", random_state=0)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    n_new = int(aug.obs["scaug_synthetic"].sum())
    out_bytes = matrix_bytes(aug.X)
    del aug
    return {
        "case": name,
        "method": method,
        "n_cells": adata.n_obs,
        "n_genes": adata.n_vars,
        "n_synthetic": n_new,
        "seconds": round(seconds, 2),
        "input_mb": round(matrix_bytes(adata.X) / 2**20, 1),
        "output_mb": round(out_bytes / 2**20, 1),
        "peak_new_mb": round(peak / 2**20, 1),
        "peak_over_input": round(1 + peak / matrix_bytes(adata.X), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--methods", nargs="+", default=["smote"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "resample.csv"))
    args = parser.parse_args()
    cases = []
    if (DATA / "pbmc3k_counts.h5ad").exists():
        cases.append(("pbmc3k (all genes)", ad.read_h5ad(DATA / "pbmc3k_counts.h5ad"), "louvain"))
    cases.append(
        (
            "simulate 100k x 2k",
            scaug.datasets.simulate(100_000, 2_000, 10, imbalance=0.01, random_state=0),
            "cell_type",
        )
    )
    rows = [measure(name, adata, key, method) for name, adata, key in cases for method in args.methods]
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
