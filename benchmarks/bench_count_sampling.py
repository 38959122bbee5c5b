"""How far do count sampling and unmodelled genes alone move real cells from real cells?

A perfect generator would reproduce the library-normalised profiles of real cells. This script
takes real cells the evaluation embedding never saw and turns them into "synthetic" cells the way
the GAN's output is turned into counts, then scores them against held-out real cells with the
random-forest AUC of ``scaug.metrics`` (0.5: indistinguishable). It isolates the cost of each
step of ``GANModelBase._to_output``:

- rescale a cell's profile to the library size of another cell of its label, then draw counts by
  Poisson sampling or by stochastic rounding (``count_sampler="poisson"`` / ``"round"``);
- keep only the ``n_top_genes`` most variable genes and draw the other detected genes from the
  label's mean profile (``background=True``), for several ``n_top_genes``.

Split: 80/20 stratified (seed 0) as in bench_cscgan.py; the 80 % is halved (seed 1): the embedding
is fitted on one half, the other half is the source of the "synthetic" cells.

    python benchmarks/bench_count_sampling.py --dataset pbmc3k  # appends to results/count_sampling.csv
"""

from __future__ import annotations

import argparse
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
from bench_cscgan import DATA, DATASETS, ROOT, split
from scipy import sparse
from sklearn.model_selection import train_test_split

import scaug
from scaug._genes import select_genes
from scaug.models._counts import mean_profiles, sample_from_profiles


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--repeats", type=int, default=3, help="random-forest seeds averaged")
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "count_sampling.csv"))
    args = parser.parse_args()
    file, key = DATASETS[args.dataset]
    train, heldout = split(ad.read_h5ad(DATA / file), key)
    a, b = train_test_split(
        np.arange(train.n_obs), test_size=0.5, stratify=train.obs[key].astype(str), random_state=1
    )
    fitted, source = train[np.sort(a)].copy(), train[np.sort(b)].copy()
    embedding = scaug.metrics.fit_embedding(fitted, n_pcs=50)
    reference = embedding.transform(heldout)
    rng = np.random.default_rng(0)

    def auc(matrix) -> float:
        cells = ad.AnnData(sparse.csr_matrix(matrix, dtype=np.float32), var=train.var)
        coords = embedding.transform(cells)
        tables = [
            scaug.metrics.classifier_auc(reference, coords, random_state=seed) for seed in range(args.repeats)
        ]
        values = [table.set_index("label")["value"]["all"] for table in tables]
        return round(float(np.mean(values)), 3)

    X = sparse.csr_matrix(source.X)
    dense = X.toarray()
    labels = source.obs[key].astype(str).to_numpy()
    library = dense.sum(axis=1)
    other = np.empty_like(library)
    for lab in np.unique(labels):
        rows = np.flatnonzero(labels == lab)
        other[rows] = library[rng.choice(rows, len(rows))]
    expected = dense / library[:, None] * other[:, None]
    floor = np.floor(expected)
    rows = [
        ("real cells as they are", auc(X)),
        ("profile x other library, Poisson", auc(rng.poisson(expected))),
        (
            "profile x other library, stochastic rounding",
            auc(floor + (rng.random(expected.shape) < expected - floor)),
        ),
    ]
    detected = np.asarray((X != 0).sum(axis=0)).ravel() >= 3
    order = sorted(set(labels))
    codes = pd.Index(order).get_indexer(labels)
    for n_top in (1000, 2000, 3000):
        modelled = select_genes(X, counts=True, min_cells=3, n_top_genes=n_top)
        background = detected & ~modelled
        out = np.zeros_like(dense)
        out[:, modelled] = dense[:, modelled]
        totals = np.asarray(X[:, background].sum(axis=1)).ravel().astype(np.int64)
        profiles = mean_profiles(X[:, background], labels, order)
        out[:, background] = sample_from_profiles(profiles, codes, totals, rng).toarray()
        rows.append((f"{n_top} HVGs real, other genes from the label's mean profile", auc(out)))
    table = pd.DataFrame(rows, columns=["cells", "auc"])
    print(f"{args.dataset}: {source.n_obs} source cells vs {heldout.n_obs} held-out cells")
    print(table.to_string(index=False))
    table.insert(0, "dataset", args.dataset)
    out = Path(args.out)
    table.to_csv(out, mode="a", header=not out.exists(), index=False)


if __name__ == "__main__":
    main()
