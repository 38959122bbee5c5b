"""cscGAN trained in one process vs two (Lightning's DDP, gloo on the CPU): the same data and budget.

    python benchmarks/bench_ddp.py [--seeds 0 1 2] [--steps 1500] [--cells 8000] [--genes 1000]
        [--out benchmarks/results/ddp.csv]

Data: ``simulate(cells, genes, 6 labels)``, split 80/20 (stratified, seed 0) as in
``bench_cscgan.py``. Each run trains cscGAN (defaults) for ``--steps`` generator steps on the 80 %,
in a fresh process: ``single`` uses one process with 2 torch threads, ``ddp`` two processes with one
thread each (``strategy="ddp", devices=2, accelerator="cpu"``; each process takes its own minibatches
of 128 cells, so a DDP step sees 256 real cells). The first process then generates as many cells as
training cells and scores them against the held-out 20 % with ``bench_cscgan.score`` (AUC of a
random forest real vs synthetic, memorisation ratio, label fidelity). Target of issue 18: the DDP
AUC within 0.03 of the single-process AUC. Wall-clock: run on an otherwise idle machine.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def one(args) -> None:
    """One training run in this process (``--one``); the first process appends its row to ``--out``."""
    import torch
    from bench_cscgan import score, split

    import scaug

    torch.set_num_threads(2 if args.mode == "single" else 1)
    adata = scaug.datasets.simulate(args.cells, args.genes, 6, random_state=0)
    train, heldout = split(adata, "cell_type")
    train_kwargs = {"max_steps": args.steps}
    if args.mode == "ddp":
        train_kwargs.update(strategy="ddp", devices=2, accelerator="cpu")
    start = time.perf_counter()
    model = scaug.tl.train_generator(
        train, "cscgan", labels_key="cell_type", random_state=args.seed, train_kwargs=train_kwargs
    )
    seconds = time.perf_counter() - start
    if model.trainer.global_rank != 0:
        return
    embedding = scaug.metrics.fit_embedding(train, n_pcs=50)
    syn = scaug.tl.generate(model, train.n_obs, labels_key="cell_type", random_state=args.seed)
    row = {
        "mode": args.mode,
        "seed": args.seed,
        "processes": model.train_params_["processes"],
        "cells": args.cells,
        "genes": args.genes,
        "generator_steps": model.train_params_["generator_steps"],
        "real_cells_per_step": 128 * model.train_params_["processes"],
        "train_seconds": round(seconds, 1),
        "load_avg_1min": round(os.getloadavg()[0], 2),
        **score(train, heldout, syn, "cell_type", embedding),
    }
    print(json.dumps(row), flush=True)
    out = Path(args.out)
    table = pd.DataFrame([row])
    if out.exists():
        table = pd.concat([pd.read_csv(out), table], ignore_index=True)
    table.to_csv(out, index=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    parser.add_argument("--steps", type=int, default=1500)
    parser.add_argument("--cells", type=int, default=8000)
    parser.add_argument("--genes", type=int, default=1000)
    parser.add_argument("--modes", nargs="+", default=["single", "ddp"], choices=["single", "ddp"])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "ddp.csv"))
    parser.add_argument("--one", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["single", "ddp"], help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        one(args)
        return
    for seed in args.seeds:
        for mode in args.modes:
            # A fresh process per run; Lightning's "ddp" starts the second process by re-running it.
            command = [sys.executable, __file__, "--one", "--mode", mode, "--seed", str(seed)]
            command += ["--steps", str(args.steps), "--cells", str(args.cells), "--genes", str(args.genes)]
            subprocess.run([*command, "--out", args.out], check=True)
    table = pd.read_csv(args.out)
    print(table.groupby("mode")[["auc", "memorisation_ratio", "train_seconds"]].agg(["mean", "std"]))


if __name__ == "__main__":
    main()
