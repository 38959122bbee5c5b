"""Where do cscGAN's few-shot cells land? One seed of the downsampling benchmark with 2 kept cells.

Trains cscGAN once on the seed's training set (the target kept to 2 cells, as in
``scaug.bench.downsampling``), then fits the few-shot label both ways from the same trained state
and generates as many target cells as were removed: to the denoised mean of the two cells (the
default: the part of their mean along the training cells' top 10 principal axes, and genes whose
difference stands out of the counting noise) and to their plain mean (the fit before). Reported in the evaluation PCA fitted on the real training
cells: the forest's F1/precision/recall (as the benchmark scores them), the memorisation ratio,
the labels a kNN on all real training cells gives the synthetic cells, their spread and their
centroid's distance to the held-out target cells', beside two references: the removed real cells
(the ceiling) and copies of the two kept cells (what a generator that reproduced them would score:
when they are atypical of their type, following them more closely makes the augmentation worse,
not better). Rows are appended to ``benchmarks/results/few_shot_fit.csv``; ``--save`` keeps the
trained model (before the fits) and ``--load`` scores a saved one again without training.

Tried earlier on paul15 Neutrophils, seed 0, and dropped: per-gene output offsets within
±1/2/3 log fold changes after the fit (F1 0.000) and noise anchors found by inverting the
generator on the kept cells (0.05-0.20).

    python benchmarks/diagnose_few_shot.py --dataset pbmc3k --target "NK cells" --seed 0 [--threads 2]
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

import anndata as ad
import numpy as np
import pandas as pd
import torch
from bench_cscgan import DATA, DATASETS, ROOT, _append
from sklearn.neighbors import KNeighborsClassifier

import scaug
from scaug.bench._downsampling import _memorisation, classify, plan
from scaug.metrics import fit_embedding
from scaug.tl._train import training_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="pbmc3k")
    parser.add_argument("--target", required=True)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--max-steps", type=int, default=None, help="generator steps (default: cscGAN's)")
    parser.add_argument(
        "--save", default=None, help="directory to save the trained model in (before the fits)"
    )
    parser.add_argument(
        "--load", default=None, help="a model saved with --save: fit and score it, no training"
    )
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "few_shot_fit.csv"))
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
    rows = []

    def report(name: str, syn: np.ndarray) -> None:
        f = classify(x_train, y_train, syn, x_test, y_test, n_estimators=500, seed=args.seed)
        called, n = np.unique(knn.predict(syn), return_counts=True)
        top = sorted(zip(called, n / n.sum(), strict=True), key=lambda t: -t[1])[:3]
        row = {
            "condition": name,
            **{k: f[k] for k in ("f1", "precision", "recall")},
            "memorisation_ratio": _memorisation(x_train, syn, held),
            "knn_target": float((knn.predict(syn) == args.target).mean()),
            "spread": np.linalg.norm(syn - syn.mean(0), axis=1).mean(),
            "centroid_to_heldout": np.linalg.norm(syn.mean(0) - held.mean(0)),
        }
        rows.append(row)
        print(
            f"{name:24s} F1 {f['f1']:.3f} P {f['precision']:.3f} R {f['recall']:.3f} "
            f"memorisation {row['memorisation_ratio']:.2f} | kNN {', '.join(f'{a} {b:.2f}' for a, b in top)} "
            f"| spread {row['spread']:.2f} (held-out {np.linalg.norm(held - held.mean(0), axis=1).mean():.2f}) "
            f"| centroid to held-out {row['centroid_to_heldout']:.2f}",
            flush=True,
        )

    report("removed real cells", emb.transform(adata[step.removed]))
    seconds = float("nan")
    if args.load:
        # the matrix the model trained on: the counts as training_data gives them
        matrix, _ = training_data(train, labels_key=key, layer=None, key="scaug", count_route=True)
        model = scaug.models.CSCGAN.load(args.load, adata=matrix)
    else:
        # train without the fit at the end, so that both fits start from the same trained state
        fit_few_shot = scaug.models.CSCGAN.fit_few_shot
        scaug.models.CSCGAN.fit_few_shot = lambda self, *a, **k: None
        start = time.perf_counter()
        try:
            model = scaug.tl.train_generator(
                train,
                "cscgan",
                labels_key=key,
                random_state=args.seed,
                train_kwargs={
                    "enable_progress_bar": False,
                    **({"max_steps": args.max_steps} if args.max_steps else {}),
                },
            )
        finally:
            scaug.models.CSCGAN.fit_few_shot = fit_few_shot
        seconds = time.perf_counter() - start
        print(f"cscGAN trained in {seconds:.0f} s", flush=True)
        if args.save:
            model.save(args.save, overwrite=True)
    trained = copy.deepcopy(model.module.state_dict())
    n = len(step.removed)
    for name, components in [("cscgan denoised mean", 10), ("cscgan plain mean", None)]:
        model.module.load_state_dict(trained)
        model.fit_few_shot(n_components=components)
        report(name, emb.transform(scaug.tl.generate(model, {args.target: n}, random_state=args.seed)))
    kept = train[(train.obs[key].astype(str) == args.target).to_numpy()]
    report("copies of the kept cells", emb.transform(kept[np.arange(n) % kept.n_obs]))
    table = pd.DataFrame(rows)
    for column, value in [
        ("n_kept", 2),
        ("seed", args.seed),
        ("target", args.target),
        ("dataset", args.dataset),
    ]:
        table.insert(0, column, value)
    table["train_seconds"] = seconds
    table["torch_threads"] = torch.get_num_threads()
    table["load_avg_1min"] = round(os.getloadavg()[0], 2)
    _append(table, Path(args.out))


if __name__ == "__main__":
    main()
