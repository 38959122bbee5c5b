"""The Seurat hand-off: R/read_scaug_h5ad.R reads an augmented h5ad into Seurat and runs PCA.

Needs Rscript with the R packages Seurat and hdf5r (`make install-r`); skipped without them, failed
instead when SCAUG_REQUIRE_R=1 (CI), as SCAUG_REQUIRE_DATA does for the data files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import scanpy as sc
import scipy.sparse as sp

import scaug

SCRIPT = Path(__file__).resolve().parents[1] / "R" / "read_scaug_h5ad.R"
# R's BLAS on one thread: the tests share small machines
R_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}


def _r_problem() -> str | None:
    """Why R cannot run the hand-off here, or None when it can."""
    rscript = shutil.which("Rscript")
    if rscript is None:
        return "Rscript not found on PATH"
    probe = subprocess.run(
        [rscript, "-e", "suppressMessages({library(Seurat); library(hdf5r)})"],
        capture_output=True,
        text=True,
        timeout=300,
        env=R_ENV,
    )
    if probe.returncode != 0:
        last = (probe.stderr.strip().splitlines() or ["no output"])[-1]
        return f"R packages Seurat and hdf5r not loadable ({last})"
    return None


@pytest.fixture(scope="module")
def rscript() -> str:
    problem = _r_problem()
    if problem is not None:
        if os.environ.get("SCAUG_REQUIRE_R") == "1":
            pytest.fail(f"{problem} and SCAUG_REQUIRE_R=1 (make install-r)")
        pytest.skip(f"{problem} (make install-r)")
    return shutil.which("Rscript")


def _augmented(case: str):
    adata = scaug.datasets.simulate(300, 200, 3, imbalance=0.1, random_state=0)
    if case == "layers_counts_dense":  # counts in a dense layer, log-normalised .X
        adata.layers["counts"] = adata.X.toarray()
        sc.pp.normalize_total(adata)
        sc.pp.log1p(adata)
    aug = scaug.tl.augment(adata, "smote", labels_key="cell_type")
    if case == "X_csc":
        aug.X = sp.csc_matrix(aug.X)
    return aug


@pytest.mark.parametrize("case", ["X_csr", "X_csc", "layers_counts_dense"])
def test_seurat_reads_augmented_h5ad(rscript, tmp_path, case):
    aug = _augmented(case)
    path = tmp_path / f"{case}.h5ad"
    aug.write_h5ad(path)

    run = subprocess.run(
        [rscript, str(SCRIPT), str(path)], capture_output=True, text=True, timeout=600, env=R_ENV
    )
    assert run.returncode == 0, run.stderr
    summary = json.loads(run.stdout.strip().splitlines()[-1])

    source = "layers/counts" if "counts" in aug.layers else "X"
    counts = aug.layers["counts"] if source == "layers/counts" else aug.X
    counts = sp.csr_matrix(counts, dtype=np.float64)
    cell_totals = np.asarray(counts.sum(axis=1)).ravel()
    gene_totals = np.asarray(counts.sum(axis=0)).ravel()
    synthetic = aug.obs["scaug_synthetic"].to_numpy()

    assert summary["counts_source"] == source
    assert summary["n_cells"] == aug.n_obs
    assert summary["n_genes"] == aug.n_vars
    assert summary["n_synthetic"] == synthetic.sum() > 0
    assert summary["labels_key"] == "cell_type"
    labels = aug.obs["cell_type"]
    assert summary["label_counts"] == labels.value_counts().to_dict()
    assert summary["synthetic_label_counts"] == labels[synthetic].value_counts().to_dict()
    # the counts arrive unchanged, in order and genes x cells (weighted sums catch a transpose/shuffle)
    assert summary["total_counts"] == summary["h5ad_total_counts"] == counts.sum()
    assert summary["counts_match"] and summary["counts_integer"]
    assert summary["cell_weighted_total"] == (np.arange(1, aug.n_obs + 1) * cell_totals).sum()
    assert summary["gene_weighted_total"] == (np.arange(1, aug.n_vars + 1) * gene_totals).sum()
    classes = summary["meta_data_classes"]
    assert classes["cell_type"] == classes["scaug_method"] == classes["scaug_run"] == "factor"
    assert classes["scaug_synthetic"] == "logical"
    assert summary["pca_dims"] == [aug.n_obs, 30]
    assert summary["pca_cells_match"]
