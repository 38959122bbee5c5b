"""Generation streamed to an .h5ad file: the same cells as in memory, written block by block."""

from __future__ import annotations

import tracemalloc

import anndata as ad
import h5py
import mudata as md
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse

import scaug
from scaug._chunked_h5ad import ChunkedH5AD
from scaug._validation import ScaugInputError

QUIET = {"enable_progress_bar": False}


@pytest.fixture(scope="module")
def cscgan():
    adata = scaug.datasets.simulate(600, 300, 3, random_state=0)
    return scaug.tl.train_generator(
        adata, "cscgan", labels_key="cell_type", random_state=0, train_kwargs={"max_steps": 5, **QUIET}
    )


def test_streamed_cells_are_the_cells_generated_in_memory(cscgan, tmp_path):
    # 5,000 cells of one label: three blocks of sample_chunks' default 2,048
    request = {"type_1": 5_000, "type_0": 300}
    mem = scaug.tl.generate(cscgan, request, random_state=3)
    disk = scaug.tl.generate(cscgan, request, random_state=3, out=tmp_path / "syn.h5ad")
    assert disk.isbacked and disk.n_obs == mem.n_obs == 5_300
    back = ad.read_h5ad(tmp_path / "syn.h5ad")
    assert sparse.issparse(back.X) and (back.X != mem.X).nnz == 0
    pd.testing.assert_frame_equal(back.obs, mem.obs)
    assert back.uns["scaug"]["runs"].keys() == mem.uns["scaug"]["runs"].keys()
    run = next(iter(mem.uns["scaug"]["runs"]))
    mem_record, disk_record = mem.uns["scaug"]["runs"][run], back.uns["scaug"]["runs"][run]
    assert disk_record["method"] == "cscgan" and disk_record["random_state"] == 3
    pd.testing.assert_frame_equal(
        pd.DataFrame(disk_record["counts"]), pd.DataFrame(mem_record["counts"]), check_dtype=False
    )


def _peak_bytes(call) -> int:
    """Peak of the memory numpy and Python allocate while ``call()`` runs (torch's own is not traced)."""
    tracemalloc.start()
    try:
        call()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streaming_memory_does_not_grow_with_the_number_of_cells(cscgan, tmp_path):
    def streamed(n):
        return lambda: scaug.tl.generate(cscgan, {"type_2": n}, out=tmp_path / f"{n}.h5ad")

    few, many = _peak_bytes(streamed(10_000)), _peak_bytes(streamed(40_000))
    in_memory = _peak_bytes(lambda: scaug.tl.generate(cscgan, {"type_2": 40_000}))
    assert ad.read_h5ad(tmp_path / "40000.h5ad", backed="r").n_obs == 40_000
    # four times the cells: in memory at least three times the peak, streamed the same blocks (and obs)
    assert in_memory > 3 * few
    assert many < 1.25 * few


def test_every_slot_is_streamed_from_a_log_normalised_input(tmp_path):
    adata = scaug.datasets.simulate(300, 60, 3, random_state=0)
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata)
    sc.pp.log1p(adata)
    kw = {"method": "smote", "labels_key": "cell_type", "random_state": 0}
    mem = scaug.tl.generate(adata, {"type_2": 40}, **kw)
    back = scaug.tl.generate(adata, {"type_2": 40}, **kw, out=tmp_path / "log.h5ad").to_memory()
    assert list(back.layers) == ["counts"]
    assert abs(back.X - mem.X).max() == 0 and (back.layers["counts"] != mem.layers["counts"]).nnz == 0


def test_a_failed_generation_leaves_no_file(tmp_path):
    class Failing:
        method, counts, params, history = "failing", True, {}, None
        var_names = pd.Index(["g0", "g1"])
        labels = ("a",)
        label_counts = pd.Series({"a": 10})

        def sample(self, n_per_label, *, random_state=0):
            raise AssertionError("sample_chunks is used when there is one")

        def sample_chunks(self, n_per_label, *, random_state=0):
            yield sparse.csr_matrix(np.ones((2, 2), dtype=np.float32)), np.array(["a", "a"], dtype=object)
            raise RuntimeError("generator broke")

    path = tmp_path / "broken.h5ad"
    with pytest.raises(RuntimeError, match="generator broke"):
        scaug.tl.generate(Failing(), {"a": 4}, out=path)
    assert not path.exists()


def test_bad_out_is_a_clear_error(tmp_path):
    adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
    kw = {"method": "smote", "labels_key": "cell_type"}
    with pytest.raises(ScaugInputError, match=r"out='.*cells.csv': expected an \.h5ad file name"):
        scaug.tl.generate(adata, 10, **kw, out=tmp_path / "cells.csv")
    with pytest.raises(ScaugInputError, match=r"directory '.*missing' does not exist"):
        scaug.tl.generate(adata, 10, **kw, out=tmp_path / "missing" / "cells.h5ad")
    with pytest.raises(
        ScaugInputError, match=r"out= writes one AnnData .* pass its modality \(mdata\['rna'\]\)"
    ):
        scaug.tl.generate(md.MuData({"rna": adata}), 10, **kw, mod="rna", out=tmp_path / "cells.h5ad")


def test_chunked_writer_checks_its_blocks(tmp_path):
    with ChunkedH5AD(tmp_path / "x.h5ad", n_vars=3, layers=("counts",)) as out:
        with pytest.raises(ValueError, match="expected"):
            out.append({None: sparse.csr_matrix((1, 3))})
        with pytest.raises(ValueError, match="different numbers of rows"):
            out.append({None: sparse.csr_matrix((1, 3)), "counts": sparse.csr_matrix((2, 3))})
        out.append({None: sparse.csr_matrix(np.eye(3)), "counts": sparse.csr_matrix(np.eye(3))})
        with pytest.raises(ValueError, match="obs x var is 2 x 3, the matrices 3 x 3"):
            out.finish(obs=pd.DataFrame(index=["a", "b"]), var=pd.DataFrame(index=list("xyz")))
        out.finish(obs=pd.DataFrame(index=list("abc")), var=pd.DataFrame(index=list("xyz")))
    back = ad.read_h5ad(tmp_path / "x.h5ad")
    assert back.layers["counts"].toarray().tolist() == np.eye(3).tolist()
    # row pointers that hold more than 2**31 entries, in chunks large enough to read a file fast
    with h5py.File(tmp_path / "x.h5ad", "r") as f:
        for group in (f["X"], f["layers"]["counts"]):
            assert group["indptr"].dtype == np.int64
            assert all(group[name].chunks[0] >= 2**16 for name in ("data", "indices", "indptr"))


def test_simulate_writes_the_same_cells_to_disk_block_by_block(tmp_path):
    kw = {"n_cells": 2_500, "n_genes": 80, "n_labels": 3, "chunk_size": 1_000, "random_state": 4}
    mem = scaug.datasets.simulate(**kw)
    disk = scaug.datasets.simulate(**kw, out=tmp_path / "sim.h5ad")
    assert disk.isbacked and disk.shape == (2_500, 80)
    back = disk.to_memory()
    assert (back.X != mem.X).nnz == 0
    pd.testing.assert_frame_equal(back.obs, mem.obs)
    assert np.array_equal(back.varm["true_profile"], mem.varm["true_profile"])
    assert back.uns["simulation"] == mem.uns["simulation"]
    # the file trains a model like the data in memory
    assert scaug.tl.generate(back, {"type_2": 10}, method="smote", labels_key="cell_type").n_obs == 10
