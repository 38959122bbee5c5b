"""Generation speed and working memory of a trained cscGAN (``model.sample``), apart from training.

Times ``model.sample`` for ``--n`` cells spread by label frequency, over all genes and over the
modelled genes only (issue 4's target: >= 20,000 cells/s for 2,000 modelled genes on 2 cores), at
each ``--chunk-sizes``, best of ``--repeats``; and the working memory beyond the result for 20k and
100k cells (it must not grow with the number of cells). ``--model DIR`` loads a saved model; when
``DIR`` does not exist, the default cscGAN is first trained on the 80 % split of ``--dataset``
(seed 0, as in bench_cscgan.py) and saved there.

    python benchmarks/bench_generation.py --model runs/cscgan_pbmc3k [--dataset pbmc3k] [--threads 2]
        [--chunk-sizes 1024 4096] [--n 20000] [--repeats 3] [--out benchmarks/results/generation.csv]

Timings are wall-clock: run it on an otherwise idle machine (the load average is recorded).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

import anndata as ad
import pandas as pd
import torch
from bench_cscgan import DATA, DATASETS, ROOT, _append, generation_scores, split

import scaug


def trained_model(path: Path, dataset: str):
    """The model saved at ``path``; the default cscGAN trained on ``dataset``'s 80 % split if there is none."""
    if not path.exists():
        file, labels_key = DATASETS[dataset]
        train, _ = split(ad.read_h5ad(DATA / file), labels_key)
        model = scaug.tl.train_generator(train, "cscgan", labels_key=labels_key, random_state=0)
        model.save(str(path))
    return scaug.models.load_model(str(path))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="saved model directory (trained there if missing)")
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--chunk-sizes", nargs="+", type=int, default=[4096])
    parser.add_argument("--n", type=int, default=20_000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tag", default="default")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "generation.csv"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model = trained_model(Path(args.model), args.dataset)
    rows = []
    for chunk_size in args.chunk_sizes:
        rows.append(
            {
                "tag": args.tag,
                "dataset": args.dataset,
                "n_modelled_genes": len(model.modelled_genes),
                "n_genes": len(model.var_names_),
                "torch_threads": torch.get_num_threads(),
                "chunk_size": chunk_size,
                **generation_scores(model, args.n, args.repeats, chunk_size=chunk_size),
                "load_avg_1min": round(os.getloadavg()[0], 2),
            }
        )
        print(pd.Series(rows[-1]).to_string(), flush=True)
    _append(pd.DataFrame(rows), Path(args.out))


if __name__ == "__main__":
    main()
