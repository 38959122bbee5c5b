"""GARAGE vs cscGAN on rare labels, with an ablation (no seeds / no rare priority / full GARAGE).

Protocol (issue 5): 80/20 stratified split of the labelled cells (seed 0); every variant is trained
on the same 80 % with the same budget (``--train-kwargs``, default cscGAN's default number of
generator steps) and ``random_state``, then scored with ``scaug.metrics.compare`` against the
held-out 20 %:

- overall: ``n = training cells`` synthetic cells spread by label frequency -> classifier AUC,
  label fidelity, memorisation ratio (all labels);
- rare labels (< 5 % of the training cells, GARAGE's default threshold): ``--n-rare`` synthetic
  cells per rare label -> per-label coverage, precision, label fidelity (kNN label agreement),
  memorisation ratio, classifier AUC.

Targets: for every rare label GARAGE's coverage and label fidelity >= cscGAN's, memorisation ratio
>= 0.8, overall AUC <= cscGAN + 0.03, training (both stages) < 15 min on 2 cores for pbmc3k.

    python benchmarks/bench_garage.py --dataset pbmc3k paul15 [--variants cscgan garage ...]
        [--model-kwargs '{"n_top_genes": 2000}'] [--train-kwargs '{"max_steps": 1000}'] [--seeds 0]
        [--threads N] [--out benchmarks/results/garage.csv]

Timings: wall-clock on whatever else the machine runs (the load average is recorded per row) and
the CPU time of this process, which contention inflates much less.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from bench_cscgan import DATA, DATASETS, ROOT, split

import scaug

METRICS = ["classifier_auc", "prdc", "label_fidelity", "memorisation"]
RARE_FRACTION = 0.05
VARIANTS = {
    "cscgan": ("cscgan", {}),
    # GARAGE's plumbing with both of its ideas off: should score as cscGAN does
    "garage_control": ("garage", {"seeded_fraction": 0.0, "rare_sampling": 1.0}),
    "garage_no_seeds": ("garage", {"seeded_fraction": 0.0}),
    "garage_no_rare_priority": (
        "garage",
        {"rare_sampling": 1.0, "seed_kwargs": {"rare_weight": 1.0, "rare_seed_boost": 1.0}},
    ),
    # seeds for rare labels only; the others are generated from noise, as by cscGAN
    "garage_rare_seeds": ("garage", {"seeded_labels": "rare"}),
    # half the inputs seeded, half noise only (the default before every input carried a seed)
    "garage_half_seeded": ("garage", {"seeded_fraction": 0.5}),
    "garage": ("garage", {}),
}
PER_LABEL = ["coverage", "precision", "label_fidelity", "memorisation_ratio", "classifier_auc"]


def metric_table(train, heldout, syn, labels_key, embedding, labels=None) -> pd.DataFrame:
    res = scaug.metrics.compare(
        train, heldout, syn, labels_key=labels_key, metrics=METRICS, embedding=embedding, labels=labels
    )
    return res.table.pivot_table(index="metric", columns="label", values="value")


def run_variant(name, dataset, train, heldout, labels_key, embedding, rare, args, seed) -> list[dict]:
    method, variant_kwargs = VARIANTS[name]
    model_kwargs = {**args.model_kwargs, **variant_kwargs}
    start, cpu_start = time.perf_counter(), time.process_time()
    model = scaug.tl.train_generator(
        train,
        method,
        labels_key=labels_key,
        random_state=seed,
        model_kwargs=model_kwargs,
        train_kwargs={"enable_progress_bar": False, **args.train_kwargs},
    )
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    overall = scaug.tl.generate(model, train.n_obs, labels_key=labels_key, random_state=seed)
    v_all = metric_table(train, heldout, overall, labels_key, embedding)
    per_rare = scaug.tl.generate(
        model, dict.fromkeys(rare, args.n_rare), labels_key=labels_key, random_state=seed
    )
    v_rare = metric_table(train, heldout, per_rare, labels_key, embedding, labels=rare)
    common = {
        "dataset": dataset,
        "variant": name,
        "seed": seed,
        "model_kwargs": json.dumps(model_kwargs),
        "train_kwargs": json.dumps(args.train_kwargs),
        "generator_steps": model.params.get("generator_steps"),
        "train_seconds": round(seconds, 1),
        "train_cpu_seconds": round(cpu_seconds, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        "torch_threads": torch.get_num_threads(),
    }
    rows = [
        {
            **common,
            "label": "all",
            "n_train": train.n_obs,
            "auc": v_all.loc["classifier_auc", "all"],
            "label_fidelity": v_all.loc["label_fidelity", "all"],
            "memorisation_ratio": v_all.loc["memorisation_ratio", "all"],
            "copy_fraction": v_all.loc["copy_fraction", "all"],
        }
    ]
    counts = train.obs[labels_key].astype(str).value_counts()
    for lab in rare:
        rows.append(
            {
                **common,
                "label": lab,
                "n_train": int(counts[lab]),
                **{
                    m: v_rare.loc[m, lab] if (m in v_rare.index and lab in v_rare.columns) else np.nan
                    for m in PER_LABEL
                },
                "auc": v_rare.loc["classifier_auc", lab] if lab in v_rare.columns else np.nan,
            }
        )
    return rows


def run(dataset: str, args) -> pd.DataFrame:
    file, labels_key = DATASETS[dataset]
    train, heldout = split(ad.read_h5ad(DATA / file), labels_key)
    counts = train.obs[labels_key].astype(str).value_counts()
    rare = sorted(counts.index[counts < RARE_FRACTION * counts.sum()])
    print(f"{dataset}: {train.n_obs} training cells; rare labels {dict(counts[rare])}", flush=True)
    embedding = scaug.metrics.fit_embedding(train, n_pcs=50)
    rows = []
    for seed in args.seeds:
        for name in args.variants:
            new = run_variant(name, dataset, train, heldout, labels_key, embedding, rare, args, seed)
            print(
                pd.DataFrame(new).drop(columns=["model_kwargs", "train_kwargs"]).to_string(index=False),
                flush=True,
            )
            rows += new
            _append(pd.DataFrame(new), Path(args.out))
    return pd.DataFrame(rows)


def _append(df: pd.DataFrame, out: Path) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    df.round(3).to_csv(out, mode="a", header=not out.exists(), index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", nargs="+", choices=sorted(DATASETS), default=["pbmc3k", "paul15"])
    parser.add_argument(
        "--variants",
        nargs="+",
        choices=list(VARIANTS),
        default=["cscgan", "garage_no_seeds", "garage_no_rare_priority", "garage"],
    )
    parser.add_argument(
        "--model-kwargs", type=json.loads, default={}, help="options of every variant's model"
    )
    parser.add_argument(
        "--train-kwargs", type=json.loads, default={}, help="training budget of every variant"
    )
    parser.add_argument(
        "--n-rare", type=int, default=100, help="synthetic cells per rare label for per-label scores"
    )
    parser.add_argument("--seeds", nargs="+", type=int, default=[0])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "garage.csv"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    for dataset in args.dataset:
        run(dataset, args)


if __name__ == "__main__":
    main()
