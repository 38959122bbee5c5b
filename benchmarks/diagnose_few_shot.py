"""Where do cscGAN's few-shot cells land? One seed of the downsampling benchmark with 2 kept cells.

Trains cscGAN on the seed's training set (the target kept to 2 cells, as in
``scaug.bench.downsampling``), generates as many target cells as were removed and reports, in the
evaluation PCA fitted on the real training cells: the forest's F1/precision/recall (as the
benchmark scores them), the memorisation ratio, the labels a kNN on all real training cells gives
the synthetic cells, their spread and their centroid's distance to the held-out target cells',
beside two references: the removed real cells (the ceiling) and copies of the two kept cells (what
a generator that reproduced them would score: when they are atypical of their type, following them
more closely makes the augmentation worse, not better).

Measured with it (paul15 Neutrophils, seed 0, 1 thread): removed cells F1 0.621, copies of the kept
cells 0.000 (their centroid 18.1 from the held-out cells'), cscGAN's shift fit 0.207 (10.3). Two
closer fits were tried and dropped: per-gene output offsets within ±1/2/3 (F1 0.000, centroid
11.6-15.1) and noise anchors found by inverting the generator on the kept cells (0.05-0.20).

    python benchmarks/diagnose_few_shot.py --dataset pbmc3k --target "NK cells" --seed 0 [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import anndata as ad
import numpy as np
import torch
from bench_cscgan import DATA, DATASETS
from sklearn.neighbors import KNeighborsClassifier

import scaug
from scaug.bench._downsampling import _memorisation, classify, plan
from scaug.metrics import fit_embedding


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--target", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    file, key = DATASETS[args.dataset]
    adata = ad.read_h5ad(DATA / file)
    labels = adata.obs[key].astype(str).to_numpy()
    step = plan(labels, args.target, seeds=[args.seed], n_kept=[2])[0]
    train, test = adata[step.train].copy(), adata[step.test]
    emb = fit_embedding(train, n_pcs=50, n_top_genes=2000, random_state=args.seed)
    x_train, x_test = emb.transform(train), emb.transform(test)
    y_train = train.obs[key].astype(str).to_numpy() == args.target
    y_test = test.obs[key].astype(str).to_numpy() == args.target
    everything = adata[np.union1d(step.train, step.removed)]  # the truth, for the kNN only
    knn = KNeighborsClassifier(15).fit(emb.transform(everything), everything.obs[key].astype(str).to_numpy())
    held = x_test[y_test]

    def report(name: str, syn: np.ndarray) -> None:
        f = classify(x_train, y_train, syn, x_test, y_test, n_estimators=500, seed=args.seed)
        called, n = np.unique(knn.predict(syn), return_counts=True)
        top = sorted(zip(called, n / n.sum(), strict=True), key=lambda t: -t[1])[:3]
        spread = np.linalg.norm(syn - syn.mean(0), axis=1).mean()
        print(
            f"{name:24s} F1 {f['f1']:.3f} P {f['precision']:.3f} R {f['recall']:.3f} "
            f"memorisation {_memorisation(x_train, syn, held):.2f} | kNN {', '.join(f'{a} {b:.2f}' for a, b in top)} "
            f"| spread {spread:.2f} (held-out {np.linalg.norm(held - held.mean(0), axis=1).mean():.2f}) "
            f"| centroid to held-out {np.linalg.norm(syn.mean(0) - held.mean(0)):.2f}",
            flush=True,
        )

    report("removed real cells", emb.transform(adata[step.removed]))
    start = time.perf_counter()
    model = scaug.tl.train_generator(
        train, "cscgan", labels_key=key, random_state=args.seed, train_kwargs={"enable_progress_bar": False}
    )
    print(f"cscGAN trained in {time.perf_counter() - start:.0f} s", flush=True)
    n = len(step.removed)
    print(f"few-shot loss after training: {model.params['few_shot_loss']}", flush=True)
    report(
        "cscgan (shift fit)",
        emb.transform(scaug.tl.generate(model, {args.target: n}, random_state=args.seed)),
    )
    kept = train[(train.obs[key].astype(str) == args.target).to_numpy()]
    report("copies of the kept cells", emb.transform(kept[np.arange(n) % kept.n_obs]))


if __name__ == "__main__":
    main()
