"""Seconds and peak memory of the full fidelity report (``tl.fidelity`` + ``pl.fidelity``).

For n = 2,500 / 5,000 / 10,000: ``simulate(3n cells, 2,000 genes, 8 labels)`` is split into n real
training cells (the augmented object's real cells), n synthetic cells (real cells marked as one
synthetic run, so that every metric has a known answer) and n held-out real cells (``reference=``).
Every metric is computed, plus the dashboard PNG. Target: n = 10,000 in < 60 s on 2 cores with
< 4 GB peak memory, and cost growing linearly in n (metrics that are quadratic subsample).

Each size runs in a fresh process, so that ``peak_rss_gb`` (the process's maximum resident set,
data included) belongs to that size alone and the first call's import/JIT cost is counted as a user
would pay it. The machine may be shared: the 1-minute load average is recorded with each row, and
``cpu_seconds_metrics`` (CPU time of the process) is what the metrics cost whatever else runs.

    python benchmarks/bench_fidelity.py [--sizes 2500 5000 10000] [--out benchmarks/results/fidelity.csv]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
N_GENES = 2_000


def build(n: int):
    """An augmented AnnData (n real + n 'synthetic' cells) and n held-out real cells."""
    import anndata as ad
    import numpy as np

    import scaug

    adata = scaug.datasets.simulate(3 * n, N_GENES, 8, imbalance=0.05, random_state=0)
    part = np.arange(adata.n_obs) % 3  # simulate() shuffles labels already
    real, syn, heldout = (adata[part == k].copy() for k in range(3))
    syn.obs_names = [f"scaug-bench-1-{i}" for i in range(syn.n_obs)]
    aug = ad.concat([real, syn], merge="same")
    flag = np.r_[np.zeros(real.n_obs, bool), np.ones(syn.n_obs, bool)]
    aug.obs["scaug_synthetic"] = flag
    aug.obs["scaug_method"] = pd.Categorical(np.where(flag, "bench", "real"))
    aug.obs["scaug_run"] = pd.Categorical(np.where(flag, "bench-1", "real"))
    aug.uns["scaug"] = {"runs": {"bench-1": {"labels_key": "cell_type", "layer": "X"}}}
    return aug, heldout


def cpu_seconds() -> float:
    """User + system CPU time of this process (all threads): robust to other jobs on the machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(n: int) -> dict:
    import matplotlib

    matplotlib.use("Agg")
    import scaug

    aug, heldout = build(n)
    rss_data = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    start, cpu = time.perf_counter(), cpu_seconds()
    table = scaug.tl.fidelity(aug, reference=heldout, random_state=0)
    seconds_metrics, cpu_metrics = time.perf_counter() - start, cpu_seconds() - cpu
    with tempfile.TemporaryDirectory() as tmp:
        start = time.perf_counter()
        scaug.pl.fidelity(aug, show=False, save=str(Path(tmp) / "report.png"))
        seconds_plot = time.perf_counter() - start
    steps = aug.uns["scaug_fidelity"]["seconds"].groupby("step")["seconds"].sum().round(2).to_dict()
    values = table.set_index(["metric", "label"])["value"]
    return {
        "n_per_set": n,
        "n_genes": N_GENES,
        "seconds_total": round(seconds_metrics + seconds_plot, 2),
        "seconds_metrics": round(seconds_metrics, 2),
        "seconds_plot": round(seconds_plot, 2),
        "cpu_seconds_metrics": round(cpu_metrics, 2),
        "peak_rss_gb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2),
        "rss_after_data_gb": round(rss_data, 2),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "classifier_auc": round(values["classifier_auc", "all"], 3),
        "memorisation_ratio": round(values["memorisation_ratio", "all"], 3),
        "n_warnings": len(aug.uns["scaug_fidelity"]["warnings"]),
        "steps": json.dumps(steps),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", nargs="+", type=int, default=[2_500, 5_000, 10_000])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "fidelity.csv"))
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(child(args.child)))
        return
    rows = []
    for n in args.sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child", str(n)], check=True, capture_output=True, text=True
        ).stdout
        rows.append(json.loads(out.strip().splitlines()[-1]))
        print(pd.DataFrame(rows[-1:]).drop(columns="steps").to_string(index=False), flush=True)
    table = pd.DataFrame(rows)
    small = table["n_per_set"].min()
    base = table.loc[table["n_per_set"] == small, "seconds_metrics"].iloc[0]
    # linear cost: seconds per cell stay flat; fixed costs (imports, UMAP of <= 3,000 cells) make it fall
    table["seconds_metrics_vs_smallest"] = (table["seconds_metrics"] / base).round(2)
    table["size_vs_smallest"] = table["n_per_set"] / small
    print(table.drop(columns="steps").to_string(index=False))
    print(table[["n_per_set", "steps"]].to_string(index=False))
    table.to_csv(args.out, index=False)


if __name__ == "__main__":
    main()
