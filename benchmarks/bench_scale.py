"""Scale: a large simulated dataset written block by block, generation streamed to disk vs in memory.

    python benchmarks/bench_scale.py --workdir /tmp/scale [--cells 10000 100000 1000000] [--genes 2000]
        [--threads 1] [--train-steps 300] [--parts simulate train generate] [--tag NAME]
        [--out benchmarks/results/scale.csv]

1. ``simulate(..., out=)`` writes the largest ``--cells`` dataset to ``WORKDIR/sim.h5ad`` (kept
   for later runs): seconds and peak resident memory.
2. cscGAN (defaults, ``--train-steps`` generator steps) is trained in memory on the file's first
   20,000 cells and saved in ``WORKDIR/model``; then on the first ``--train-cells`` cells in memory,
   and from the whole file opened ``backed="r"``: the seconds of the passes over the data (gene
   selection, library sizes), the training seconds per 1,000 steps and the peak memory.
3. For each ``--cells`` size, the model generates that many cells (spread by label frequency) in
   memory and streamed to ``WORKDIR/gen.h5ad`` (``tl.generate(..., out=)``): seconds, cells/s, peak
   resident memory and the resident memory before generating (the imports and the model).

Every measurement runs in a fresh process, so that each peak is its own. Wall-clock: run it on an
otherwise idle machine (the load average is recorded). Cost vs size is summarised by the exponent
of a power law fitted to seconds vs cells (1 = linear).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
TRAIN_CELLS = 20_000


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def one(args) -> dict:
    """One measurement in this process (``--one``), returned as a row."""
    import torch

    import scaug

    torch.set_num_threads(args.threads)
    workdir = Path(args.workdir)
    row = {"part": args.one, "n_genes": args.genes, "torch_threads": args.threads}
    if args.one == "simulate":
        start = time.perf_counter()
        adata = scaug.datasets.simulate(
            args.n,
            args.genes,
            10,
            imbalance=0.05,
            mean_library_size=2_000,
            random_state=0,
            out=workdir / "sim.h5ad",
        )
        row.update(mode="disk", n_cells=adata.n_obs, seconds=time.perf_counter() - start)
        row["file_mb"] = (workdir / "sim.h5ad").stat().st_size / 2**20
    elif args.one == "train":
        import anndata as ad

        from scaug._seeding import seeded
        from scaug.tl._train import training_data

        adata = ad.read_h5ad(workdir / "sim.h5ad", backed="r")
        if args.mode == "memory":
            adata = adata[: args.n].to_memory()
        row["rss_before_mb"] = peak_rss_mb()
        with seeded(0):
            # the steps of train_generator, timed apart: passes over the data, then the training loop
            train, _ = training_data(adata, labels_key="cell_type", layer=None, key="scaug", count_route=True)
            scaug.models.CSCGAN.setup_anndata(train, labels_key="cell_type")
            start = time.perf_counter()
            model = scaug.models.CSCGAN(train)
            setup = time.perf_counter() - start
            model.train(max_steps=args.train_steps, enable_progress_bar=False)
            seconds = time.perf_counter() - start - setup
        row.update(mode=args.mode, n_cells=adata.n_obs, seconds=seconds, seconds_setup=setup)
        row.update(steps=args.train_steps, seconds_per_1k_steps=seconds / args.train_steps * 1000)
        row["n_modelled_genes"] = len(model.modelled_genes)
        if args.mode == "memory" and args.n == TRAIN_CELLS and not (workdir / "model").exists():
            model.save(str(workdir / "model"))
    else:  # generate
        model = scaug.models.load_model(str(workdir / "model"))
        row["rss_before_mb"] = peak_rss_mb()
        out = workdir / "gen.h5ad" if args.mode == "disk" else None
        start = time.perf_counter()
        syn = scaug.tl.generate(model, args.n, random_state=0, out=out)
        seconds = time.perf_counter() - start
        row.update(mode=args.mode, n_cells=syn.n_obs, seconds=seconds, cells_per_s=syn.n_obs / seconds)
        if out is not None:
            row["file_mb"] = out.stat().st_size / 2**20
    row["peak_rss_mb"] = peak_rss_mb()
    return row


def run_one(args, part: str, n: int, mode: str = "") -> dict:
    command = [
        sys.executable,
        __file__,
        "--one",
        part,
        "--n",
        str(n),
        "--mode",
        mode or "memory",
        "--workdir",
        args.workdir,
        "--genes",
        str(args.genes),
        "--threads",
        str(args.threads),
        "--train-steps",
        str(args.train_steps),
    ]
    done = subprocess.run(command, check=True, capture_output=True, text=True)
    row = json.loads(done.stdout.strip().splitlines()[-1])
    row["load_avg_1min"] = round(os.getloadavg()[0], 2)
    print(json.dumps(row), flush=True)
    return row


def exponent(table: pd.DataFrame) -> float:
    """Slope of log(seconds) on log(cells): 1 for a cost linear in the number of cells."""
    return float(np.polyfit(np.log(table["n_cells"]), np.log(table["seconds"]), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workdir", default="/tmp/scaug_scale")
    parser.add_argument("--cells", nargs="+", type=int, default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--train-cells", nargs="+", type=int, default=[10_000, 100_000])
    parser.add_argument("--genes", type=int, default=2_000)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--train-steps", type=int, default=300)
    parser.add_argument(
        "--parts",
        nargs="+",
        default=["simulate", "train", "generate"],
        choices=["simulate", "train", "generate"],
    )
    parser.add_argument("--tag", default="default")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "scale.csv"))
    parser.add_argument("--one", choices=["simulate", "train", "generate"], help=argparse.SUPPRESS)
    parser.add_argument("--n", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--mode", choices=["memory", "disk"], default="memory", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args)))
        return
    Path(args.workdir).mkdir(parents=True, exist_ok=True)
    rows = []
    # The data file and the model are made when missing, whatever --parts says: the others need them.
    if not (Path(args.workdir) / "sim.h5ad").exists():
        rows.append(run_one(args, "simulate", max(args.cells)))
    if not (Path(args.workdir) / "model").exists():
        rows.append(run_one(args, "train", TRAIN_CELLS))
    if "train" in args.parts:
        rows += [run_one(args, "train", n) for n in args.train_cells]
        rows.append(run_one(args, "train", max(args.cells), "disk"))
    if "generate" in args.parts:
        for n in args.cells:
            rows += [run_one(args, "generate", n, mode) for mode in ("memory", "disk")]
    table = pd.DataFrame(rows).assign(tag=args.tag)
    for mode, part in table[table["part"] == "generate"].groupby("mode"):
        print(f"generation in {mode}: seconds ~ cells^{exponent(part):.2f}")
    out = Path(args.out)
    if out.exists():  # rows of another --parts have other columns: align them by name
        table = pd.concat([pd.read_csv(out), table], ignore_index=True)
    table.to_csv(out, index=False)


if __name__ == "__main__":
    main()
