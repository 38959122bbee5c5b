"""Calibrate the fidelity report's warnings (issue 14): no false alarm on real cells, every bad control caught.

Per seed: an 80/20 stratified split of the labelled cells; the held-out 20 % is split in two
halves (stratified), one the reference, the other presented to ``scaug.metrics.compare`` as
"synthetic" cells. Real-vs-real, every warning is a false alarm. The same "synthetic" half is then
spoilt in one way at a time, and the warning meant for that failure must fire:

- ``dense``: a third of the zero entries set to 1 (the over-dense output issue 14 reports);
- ``smoothed``: each cell replaced by the mean of its 15 nearest same-label training cells,
  scaled to its own library size and rounded (no cell-specific variation);
- ``library``: every count multiplied by 3;
- ``copied``: random training cells of the same labels (exact copies);
- ``doublets``: each cell's counts added to those of a training cell of another label, thinned
  back to half (cells between clusters, off the real manifold).

Rows (dataset, seed, control, label, kind) go to ``benchmarks/results/warning_calibration.csv``;
the summary prints, per control, the share of splits in which each kind fired.

    python benchmarks/calibrate_warnings.py --dataset pbmc3k [--seeds 0 1 2 3 4]
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
from sklearn.neighbors import NearestNeighbors

import scaug

METRICS = ["classifier_auc", "prdc", "rem", "label_fidelity", "memorisation", "marginals", "correlation"]
EXPECTED = {  # the warning meant for each failure (or a worse diagnosis of it)
    "dense": ("sparsity",),
    "smoothed": ("smoothed",),
    "library": ("library size",),
    "copied": ("memorised",),
    "doublets": ("off-manifold", "dropped"),
}


def controls(train: ad.AnnData, fake: ad.AnnData, labels_key: str, rng: np.random.Generator) -> dict:
    """The real "synthetic" half, and each spoilt version of it."""
    X = np.asarray(fake.X.toarray() if sparse.issparse(fake.X) else fake.X, dtype=np.float64)
    T = np.asarray(train.X.toarray() if sparse.issparse(train.X) else train.X, dtype=np.float64)
    labels, train_labels = fake.obs[labels_key].to_numpy(), train.obs[labels_key].to_numpy()

    dense = X.copy()
    dense[(dense == 0) & (rng.random(dense.shape) < 1 / 3)] = 1

    smoothed = np.empty_like(X)
    log_t = np.log1p(T / T.sum(1, keepdims=True) * 1e4)
    log_x = np.log1p(X / X.sum(1, keepdims=True) * 1e4)
    for lab in np.unique(labels):
        pool, rows = np.flatnonzero(train_labels == lab), np.flatnonzero(labels == lab)
        nn = NearestNeighbors(n_neighbors=min(15, len(pool))).fit(log_t[pool])
        _, idx = nn.kneighbors(log_x[rows])
        profile = T[pool][idx].sum(1)
        smoothed[rows] = np.round(profile / profile.sum(1, keepdims=True) * X[rows].sum(1, keepdims=True))

    copied = np.empty_like(X)
    for lab in np.unique(labels):
        rows = np.flatnonzero(labels == lab)
        copied[rows] = T[rng.choice(np.flatnonzero(train_labels == lab), len(rows))]

    partner = np.array([rng.choice(np.flatnonzero(train_labels != lab)) for lab in labels])
    doublets = rng.binomial((X + T[partner]).astype(np.int64), 0.5).astype(np.float64)
    out = {"real": X, "dense": dense, "smoothed": smoothed, "library": X * 3, "copied": copied}
    out["doublets"] = doublets
    return {
        name: ad.AnnData(sparse.csr_matrix(m), obs=fake.obs.copy(), var=fake.var) for name, m in out.items()
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "warning_calibration.csv"))
    args = parser.parse_args()
    file, labels_key = DATASETS[args.dataset]
    adata = ad.read_h5ad(DATA / file)
    adata.obs[labels_key] = adata.obs[labels_key].astype(str)
    rows = []
    for seed in args.seeds:
        train, heldout = split(adata, labels_key, seed)
        idx = np.arange(heldout.n_obs)
        counts = heldout.obs[labels_key].value_counts()
        # labels with one held-out cell cannot be split in two: both halves need a cell to stratify
        strat = heldout.obs[labels_key].where(heldout.obs[labels_key].map(counts) >= 2, "rare").to_numpy()
        ref_idx, fake_idx = train_test_split(idx, test_size=0.5, stratify=strat, random_state=seed)
        reference, fake = heldout[np.sort(ref_idx)].copy(), heldout[np.sort(fake_idx)].copy()
        embedding = scaug.metrics.fit_embedding(train, random_state=seed)
        rng = np.random.default_rng(seed)
        for name, syn in controls(train, fake, labels_key, rng).items():
            res = scaug.metrics.compare(
                train,
                reference,
                syn,
                labels_key=labels_key,
                metrics=METRICS,
                embedding=embedding,
                random_state=seed,
            )
            fired = res.warnings[["label", "kind"]].assign(dataset=args.dataset, seed=seed, control=name)
            if fired.empty:
                fired = pd.DataFrame(
                    [{"dataset": args.dataset, "seed": seed, "control": name, "label": "", "kind": ""}]
                )
            rows.append(fired)
            values = res.table.set_index(["metric", "label"])["value"]
            print(
                f"seed {seed} {name:12s} warnings: {sorted(set(res.warnings['kind']))}  "
                f"AUC {values.get(('classifier_auc', 'all'), np.nan):.2f}",
                flush=True,
            )
    table = pd.concat(rows, ignore_index=True)[["dataset", "seed", "control", "label", "kind"]]
    out = Path(args.out)
    table.to_csv(out, mode="a", header=not out.exists(), index=False)
    fired = table[table["kind"] != ""].groupby(["control", "kind"])["seed"].nunique() / len(args.seeds)
    print("\nshare of splits in which each kind fired:\n" + fired.round(2).to_string())
    for control, kinds in EXPECTED.items():
        part = table[table["control"] == control]
        caught = part["kind"].isin(kinds).groupby(part["seed"]).any()
        print(f"{control}: {' or '.join(kinds)} caught in {caught.mean():.0%} of splits")
    real = table[table["control"] == "real"]
    print(
        f"real vs real: a false alarm in {(real['kind'] != '').groupby(real['seed']).any().mean():.0%} of splits"
    )


if __name__ == "__main__":
    main()
