"""Figures and README tables from the committed downsampling, imbalance and generator results.

    python benchmarks/plot_results.py   # writes benchmarks/results/*.png, prints Markdown tables

One figure per (dataset, target) of ``downsampling.csv`` (``scaug.pl.downsampling``: F1 against
the target cells kept, mean over seeds with the seeds' range, the removed real cells dashed) and per
dataset of ``imbalance.csv`` (``scaug.pl.imbalance``: macro-F1 bars and per-label F1 heatmap). The
generators side by side: the rows of ``cscgan.csv`` tagged ``generators`` (``bench_cscgan.py
--tag generators``), mean over their seeds. The scale rows of ``scale.csv`` (``bench_scale.py``).
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
from bench_cscgan import ROOT

import scaug

RESULTS = ROOT / "benchmarks" / "results"


def _markdown(frame: pd.DataFrame) -> str:
    """A pipe table (pandas' to_markdown needs tabulate, which scaug does not depend on)."""
    frame = frame.reset_index()
    lines = ["| " + " | ".join(map(str, frame.columns)) + " |", "|" + "---|" * frame.shape[1]]
    lines += ["| " + " | ".join(map(str, row)) + " |" for row in frame.itertuples(index=False)]
    return "\n".join(lines)


def _slug(*parts: str) -> str:
    return "_".join(str(p).replace(" ", "_").replace("/", "_") for p in parts)


def downsampling() -> None:
    path = RESULTS / "downsampling.csv"
    if not path.exists():
        return
    table = pd.read_csv(path)
    for (dataset, target), part in table.groupby(["dataset", "target"], sort=False):
        scaug.pl.downsampling(
            part, show=False, save=str(RESULTS / f"downsampling_{_slug(dataset, target)}.png")
        )
        summary = scaug.bench.summarise("downsampling", part)
        cell = summary.apply(
            lambda r: (
                f"{r['f1']:.3f} ± {r['f1_sd']:.3f}"
                + (f" ({r['memorisation_ratio']:.2f})" if pd.notna(r["memorisation_ratio"]) else "")
            ),
            axis=1,
        )
        wide = cell.unstack("method")
        wide.insert(0, "seeds", summary["seeds"].groupby(level="n_kept").min())
        print(f"\n{dataset}, target {target!r}: F1 mean ± sd over seeds (memorisation ratio)\n")
        print(_markdown(wide.sort_index(ascending=False)))


def imbalance() -> None:
    path = RESULTS / "imbalance.csv"
    if not path.exists():
        return
    table = pd.read_csv(path)
    for dataset, part in table.groupby("dataset", sort=False):
        scaug.pl.imbalance(part, show=False, save=str(RESULTS / f"imbalance_{_slug(dataset)}.png"))
        summary = scaug.bench.summarise("imbalance", part)
        print(f"\n{dataset}: macro-F1 and accuracy, mean ± sd over folds\n")
        print(
            _markdown(
                pd.DataFrame(
                    {
                        "macro-F1": summary.apply(
                            lambda r: f"{r['macro_f1_mean']:.3f} ± {r['macro_f1_std']:.3f}", axis=1
                        ),
                        "accuracy": summary.apply(
                            lambda r: f"{r['accuracy_mean']:.3f} ± {r['accuracy_std']:.3f}", axis=1
                        ),
                        "folds": summary["n_folds"],
                    }
                )
            )
        )


#: Columns of the generator table: (heading, column of cscgan.csv, format).
GENERATOR_COLUMNS = [
    ("AUC (0.5 ideal)", "auc", "{:.3f}"),
    ("MMD", "mmd", "{:.4f}"),
    ("memorisation", "memorisation_ratio", "{:.2f}"),
    ("worst label fidelity / ceiling (labels ≥ 10 cells)", "min_label_fidelity_rel_10", "{:.2f}"),
    ("rarest label coverage", "rarest_coverage", "{:.2f}"),
    ("rarest label fidelity", "rarest_label_fidelity", "{:.2f}"),
    ("training s", "train_seconds", "{:.0f}"),
    ("cells/s", "gen_cells_per_s", "{:,.0f}"),
]


def generators() -> None:
    path = RESULTS / "cscgan.csv"
    if not path.exists():
        return
    table = pd.read_csv(path)
    table = table[table["tag"] == "generators"]
    # A row scored with other sampling options of the same model is its own line (e.g. "activa latent=gaussian").
    options = table.get("sample_kwargs", pd.Series(index=table.index, dtype=object)).fillna("{}")
    suffix = options.map(lambda o: " ".join(f"{k}={v}" for k, v in json.loads(o).items()))
    table = table.assign(method=(table["method"] + " " + suffix).str.strip())
    for dataset, part in table.groupby("dataset", sort=False):
        grouped = part.groupby("method", sort=False)
        means, sds = grouped[[c for _, c, _ in GENERATOR_COLUMNS]].mean(), grouped["auc"].std()
        out = pd.DataFrame(index=means.index)
        out["seeds"] = grouped["seed"].apply(lambda s: ", ".join(map(str, sorted(s))))
        for heading, column, fmt in GENERATOR_COLUMNS:
            out[heading] = means[column].map(lambda v, fmt=fmt: "—" if pd.isna(v) else fmt.format(v))
        out["AUC (0.5 ideal)"] += sds.map(lambda v: "" if pd.isna(v) else f" ± {v:.3f}")
        rarest = part["rarest_label"].iloc[0]
        print(f"\n{dataset} (rarest label {rarest}): mean over seeds, 1 torch thread\n")
        print(_markdown(out.sort_values("AUC (0.5 ideal)")))


def scale() -> None:
    """``bench_scale.py``'s rows: training and generation in memory and on disk, and cost vs size."""
    path = RESULTS / "scale.csv"
    if not path.exists():
        return
    # A part measured again (another --tag) replaces the earlier rows.
    table = pd.read_csv(path).drop_duplicates(["part", "mode", "n_cells"], keep="last")
    train = table[table["part"] == "train"].assign(
        **{"cells": lambda t: t["n_cells"].map("{:,}".format)},
    )
    out = train.set_index(["mode", "cells"])[["seconds_setup", "seconds_per_1k_steps", "peak_rss_mb"]].round(
        0
    )
    print("\ntraining (cscGAN, 2,000 genes):\n")
    print(_markdown(out.astype(int)))
    gen = table[table["part"] == "generate"]
    out = gen.assign(cells=gen["n_cells"].map("{:,}".format)).set_index(["mode", "cells"])
    out = out[["seconds", "cells_per_s", "rss_before_mb", "peak_rss_mb"]].round(0).astype(int)
    print("\ngeneration (cscGAN, 2,000 genes):\n")
    print(_markdown(out))
    for mode, part in gen.groupby("mode"):
        slope = np.polyfit(np.log(part["n_cells"]), np.log(part["seconds"]), 1)[0]
        print(f"generation {mode}: seconds ~ cells^{slope:.2f}")


def ddp() -> None:
    """``bench_ddp.py``'s rows: one process vs two (DDP) on the same data and budget, mean and sd over seeds."""
    path = RESULTS / "ddp.csv"
    if not path.exists():
        return
    table = pd.read_csv(path)
    columns = ["auc", "memorisation_ratio", "label_fidelity", "train_seconds"]
    print("\ncscGAN in one process vs two (DDP):\n")
    out = table.groupby("mode")[columns].agg(["mean", "std"]).round(3)
    out.columns = [" ".join(column) for column in out.columns]
    print(_markdown(out))
    paired = table.pivot(index="seed", columns="mode", values="auc")
    print("AUC, DDP minus one process, per seed:", (paired["ddp"] - paired["single"]).round(3).tolist())


if __name__ == "__main__":
    downsampling()
    imbalance()
    generators()
    scale()
    ddp()
