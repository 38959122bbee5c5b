"""Training from a backed AnnData: statistics in blocks of rows, minibatches read in contiguous blocks."""

from __future__ import annotations

import tracemalloc

import anndata as ad
import numpy as np
import pytest
import scanpy as sc
from scipy import sparse

import scaug
from scaug._genes import highly_variable_genes, select_genes
from scaug._spaces import log_normalise
from scaug._validation import ScaugInputError
from scaug.models._blocks_loader import BlockBatchSampler, BlockDataset

TRAIN = {"labels_key": "cell_type", "random_state": 0}
QUIET = {"enable_progress_bar": False}


def _scanpy_choice(matrix, var_names, n_top_genes):
    """The genes scanpy's seurat flavour picks among genes detected in 3 cells (the reference)."""
    detected = np.flatnonzero(np.asarray((matrix != 0).sum(axis=0)).ravel() >= 3)
    expr = sparse.csr_matrix(
        log_normalise(matrix[:, detected], counts=True, target_sum=None), dtype=np.float32
    )
    table = sc.pp.highly_variable_genes(
        ad.AnnData(expr), n_top_genes=n_top_genes, flavor="seurat", inplace=False
    )
    return set(var_names[detected[table["highly_variable"].to_numpy()]])


@pytest.mark.parametrize("n_top_genes", [100, 1000])
def test_variable_genes_from_block_moments_are_scanpys(pbmc3k, n_top_genes):
    X = sparse.csr_matrix(pbmc3k.X)
    mask = select_genes(X, counts=True, min_cells=3, n_top_genes=n_top_genes)
    assert mask.sum() == n_top_genes
    assert set(pbmc3k.var_names[mask]) == _scanpy_choice(X, pbmc3k.var_names, n_top_genes)
    # the evaluation embedding's ranking (on log-normalised values) is scanpy's too
    expr = log_normalise(X, counts=True)
    detected = np.flatnonzero(np.asarray((expr != 0).sum(axis=0)).ravel() >= 3)
    table = sc.pp.highly_variable_genes(
        ad.AnnData(sparse.csr_matrix(expr[:, detected], dtype=np.float32)),
        n_top_genes=n_top_genes,
        flavor="seurat",
        inplace=False,
    )
    expected = set(pbmc3k.var_names[detected[table["highly_variable"].to_numpy()]])
    assert set(highly_variable_genes(expr, pbmc3k.var_names, n_top_genes=n_top_genes)) == expected


@pytest.fixture(scope="module")
def backed_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("backed") / "cells.h5ad"
    adata = scaug.datasets.simulate(5_000, 300, 4, imbalance=0.2, random_state=0, chunk_size=1_000, out=path)
    adata.file.close()
    return path


def test_backed_training_has_the_statistics_of_training_in_memory(backed_file):
    backed = ad.read_h5ad(backed_file, backed="r")
    obs_before = backed.obs.copy()
    kw = {**TRAIN, "model_kwargs": {"n_top_genes": 120}, "train_kwargs": {"max_steps": 5, **QUIET}}
    on_disk = scaug.tl.train_generator(backed, "cscgan", **kw)
    in_memory = scaug.tl.train_generator(backed.to_memory(), "cscgan", **kw)
    assert list(on_disk.modelled_genes) == list(in_memory.modelled_genes)
    assert len(on_disk.modelled_genes) == 120
    assert on_disk.label_counts.equals(in_memory.label_counts)
    for label, sizes in in_memory.library_sizes_.items():
        assert np.array_equal(on_disk.library_sizes_[label], sizes)
    assert np.allclose(on_disk.background_profiles_, in_memory.background_profiles_, rtol=1e-6, atol=1e-9)
    assert on_disk.background_genes_ == in_memory.background_genes_
    # the user's AnnData is untouched and still backed
    assert backed.isbacked and backed.obs.equals(obs_before)
    syn = scaug.tl.generate(on_disk, {"type_3": 50}, random_state=0)
    assert syn.n_obs == 50 and np.array_equal(syn.X.data, np.round(syn.X.data))


def test_backed_training_does_not_load_the_matrix(backed_file, monkeypatch):
    # passes over the file in blocks of 500 rows, minibatches from windows of 2 x 256 rows
    monkeypatch.setattr(scaug._blocks, "BLOCK_ROWS", 500)
    backed = ad.read_h5ad(backed_file, backed="r")
    matrix_bytes = backed.to_memory().X.data.nbytes * 2  # values and column indices
    kw = {
        **TRAIN,
        "train_kwargs": {
            "max_steps": 10,
            "datasplitter_kwargs": {"block_rows": 256, "blocks_per_window": 2},
            **QUIET,
        },
    }
    tracemalloc.start()
    scaug.tl.train_generator(backed, "cscgan", **kw)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    # in memory, the matrix alone would be matrix_bytes
    assert peak < matrix_bytes / 2


def test_block_batches_visit_every_cell_once_per_epoch():
    sampler = BlockBatchSampler(1_000, 64, shuffle=True, block_rows=100, blocks_per_window=3, seed=0)
    epochs = []
    for _ in range(2):
        batches = list(sampler)
        positions = np.concatenate([b.positions for b in batches])
        assert sorted(positions.tolist()) == list(range(1_000))
        # each minibatch comes from the blocks of its window only
        assert all(set(b.positions // 100) <= set(b.window) for b in batches)
        epochs.append(positions)
    assert not np.array_equal(*epochs)
    assert len(sampler) == sum(1 for _ in sampler)
    dropped = BlockBatchSampler(1_000, 64, shuffle=True, drop_last=True, block_rows=100, blocks_per_window=3)
    assert all(len(b.positions) == 64 for b in dropped) and len(dropped) == sum(1 for _ in dropped)


def test_block_dataset_serves_the_registered_rows(backed_file):
    backed = ad.read_h5ad(backed_file, backed="r")
    in_memory = backed.to_memory().X
    rows = np.arange(0, 5_000, 3)  # a split with holes, as after a validation split
    labels = np.arange(5_000) % 4
    dataset = BlockDataset(backed.X, labels, rows, block_rows=200)
    sampler = BlockBatchSampler(len(rows), 50, shuffle=True, block_rows=200, blocks_per_window=2, seed=1)
    for batch in list(sampler)[:20]:
        out = dataset[batch]
        expected = in_memory[rows[batch.positions]].toarray()
        assert out["X"].dtype == np.float32 and np.array_equal(out["X"], expected)
        assert out["labels"].shape == (len(batch.positions), 1)
        assert np.array_equal(out["labels"].ravel(), labels[rows[batch.positions]])


def test_backed_input_errors_say_what_to_do(backed_file):
    backed = ad.read_h5ad(backed_file, backed="r")
    with pytest.raises(
        ScaugInputError, match=r"method 'smote' trains in memory and adata is backed: .*\(cscgan\)"
    ):
        scaug.tl.train_generator(backed, "smote", **TRAIN)
    with pytest.raises(
        ScaugInputError, match=r"is backed .*scaug.tl.generate\(model, n, out='synthetic.h5ad'\)"
    ):
        scaug.tl.augment(backed, "cscgan", labels_key="cell_type")
    unlabelled = ad.read_h5ad(backed_file, backed="r")
    unlabelled.obs["cell_type"] = unlabelled.obs["cell_type"].cat.add_categories([]).astype(object)
    unlabelled.obs.iloc[:3, unlabelled.obs.columns.get_loc("cell_type")] = np.nan
    with pytest.raises(
        ScaugInputError, match=r"uses every cell of the file, but 3 cells are synthetic or have no"
    ):
        scaug.tl.train_generator(unlabelled, "cscgan", **TRAIN)
    with pytest.raises(ScaugInputError, match=r"ddp"):
        scaug.tl.train_generator(backed, "cscgan", **TRAIN, train_kwargs={"strategy": "ddp", **QUIET})


def test_cli_trains_from_the_file_and_streams_the_cells(backed_file, tmp_path, capsys):
    from scaug.cli import main

    out = tmp_path / "syn.h5ad"
    args = ["generate", "-i", str(backed_file), "-o", str(out), "--labels-key", "cell_type", "--backed"]
    quick = ["--train-kwargs", '{"max_steps": 3, "enable_progress_bar": false}', "--n-cells", "type_3=30"]
    assert main([*args, "-m", "cscgan", *quick]) == 0
    syn = ad.read_h5ad(out)
    assert syn.n_obs == 30 and syn.obs["scaug_method"].unique().tolist() == ["cscgan"]
    assert main([*args, "-m", "smote", "--n-cells", "type_3=30"]) == 2
    assert "trains in memory and adata is backed" in capsys.readouterr().err
