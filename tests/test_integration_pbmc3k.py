"""SMOTE on the real PBMC 3k counts (all 32,738 genes): the foundation's promises on real data."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scaug

pytestmark = pytest.mark.integration


def test_smote_balance_pbmc3k(pbmc3k, tmp_path):
    before = pbmc3k.copy()
    aug = scaug.tl.augment(pbmc3k, "smote", labels_key="louvain", random_state=0)
    # input untouched, real cells bit-identical
    assert (pbmc3k.X != before.X).nnz == 0
    real = aug[: pbmc3k.n_obs]
    assert list(real.obs_names) == list(pbmc3k.obs_names)
    assert np.array_equal(real.X.data, pbmc3k.X.data) and np.array_equal(real.X.indices, pbmc3k.X.indices)
    # NaN-labelled cells kept as real cells
    assert real.obs["louvain"].isna().sum() == pbmc3k.obs["louvain"].isna().sum() == 62
    # balanced to the median label size with integer counts
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    counts = pbmc3k.obs["louvain"].value_counts()
    target = int(np.ceil(counts.median()))
    total = aug.obs["louvain"].value_counts()
    for label, n in counts.items():
        assert total[label] == max(n, target)
    assert np.array_equal(syn.X.data, np.floor(syn.X.data))
    assert syn.X.nnz / np.prod(syn.shape) < 0.2  # still sparse
    # provenance survives h5ad
    path = tmp_path / "aug.h5ad"
    aug.write_h5ad(path)
    back = ad.read_h5ad(path)
    pd.testing.assert_frame_equal(back.obs, aug.obs)
    pd.testing.assert_frame_equal(
        back.uns["scaug"]["runs"]["smote-1"]["counts"], aug.uns["scaug"]["runs"]["smote-1"]["counts"]
    )


def test_smote_pbmc3k_reproducible(pbmc3k):
    sub = pbmc3k[:, :3000].copy()
    a = scaug.tl.augment(sub, "smote", labels_key="louvain", n_cells={"Megakaryocytes": 50}, random_state=7)
    b = scaug.tl.augment(sub, "smote", labels_key="louvain", n_cells={"Megakaryocytes": 50}, random_state=7)
    assert (a.X != b.X).nnz == 0
    assert list(a.obs_names) == list(b.obs_names)


def test_cli_exit_codes_on_pbmc3k(pbmc3k, tmp_path):
    from scaug.cli import main

    path = tmp_path / "pbmc.h5ad"
    pbmc3k[:, :2000].copy().write_h5ad(path)
    out = tmp_path / "aug.h5ad"
    assert main(["augment", "-i", str(path), "-o", str(out), "--labels-key", "louvain", "-m", "smote"]) == 0
    assert ad.read_h5ad(out).obs["scaug_synthetic"].any()
    assert main(["augment", "-i", str(path), "-o", str(out), "--labels-key", "cell_type"]) == 2
