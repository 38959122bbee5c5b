from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from scipy import sparse

import scaug
from scaug import ScaugInputError
from scaug.models.scvi import SCVIPPC

QUIET = {"enable_progress_bar": False}
# Genes 0, 1 and 2 are detected in 0, 1 and 2 cells (not modelled), gene 3 in 3 cells (modelled).
RARE_GENES = {0: 0, 1: 1, 2: 2, 3: 3}


pytestmark = pytest.mark.usefixtures("one_thread")


def _data() -> sc.AnnData:
    """300 simulated cells with a 1-cell label ("solo"), a 2-cell label ("pair") and rare genes."""
    adata = scaug.datasets.simulate(300, 60, 3, random_state=0)
    labels = adata.obs["cell_type"].astype(str).to_numpy().copy()
    type_2 = np.flatnonzero(labels == "type_2")
    labels[type_2[0]] = "solo"
    labels[type_2[1:3]] = "pair"
    adata.obs["cell_type"] = pd.Categorical(labels)
    x = adata.X.toarray()
    for gene, n_cells in RARE_GENES.items():
        x[:, gene] = 0
        x[10 : 10 + n_cells, gene] = 4
    adata.X = sparse.csr_matrix(x, dtype=np.float32)
    return adata


@pytest.fixture(scope="module")
def data() -> sc.AnnData:
    return _data()


@pytest.fixture(scope="module")
def model(data) -> SCVIPPC:
    torch.set_num_threads(1)
    return scaug.tl.train_generator(
        data, "scvi_ppc", labels_key="cell_type", max_epochs=3, random_state=0, train_kwargs=QUIET
    )


def _is_integer(x: sparse.csr_matrix) -> bool:
    return bool(np.array_equal(x.data, np.round(x.data)) and (x.data >= 0).all())


def test_registered_as_a_deep_method_that_needs_one_cell():
    spec = scaug.methods().loc["scvi_ppc"]
    assert spec["kind"] == "deep"
    assert spec["min_cells"] == 1
    assert "posterior_predictive_sample" in spec["reference"]


def test_generates_every_label_including_one_and_two_cell_labels(model, data):
    request = {"type_0": 4, "type_1": 3, "type_2": 5, "solo": 6, "pair": 5}
    x, labels = model.sample(request, random_state=0)
    assert sparse.isspmatrix_csr(x)
    assert x.shape == (23, data.n_vars)
    assert list(labels) == [lab for lab, n in request.items() for _ in range(n)]
    assert _is_integer(x)
    assert x.sum() > 0
    assert model.method == "scvi_ppc"
    assert model.counts
    assert model.var_names.equals(data.var_names)
    assert set(model.labels) == {"type_0", "type_1", "type_2", "solo", "pair"}
    assert model.label_counts["solo"] == 1
    assert model.label_counts["pair"] == 2
    # Genes in fewer than 3 training cells are not modelled and are zero in every synthetic cell.
    assert list(model.modelled_genes) == list(data.var_names[3:])
    assert model.adata.n_vars == data.n_vars - 3
    assert x[:, :3].nnz == 0


def test_source_cells_cycle_through_the_label(model):
    rng = np.random.default_rng(0)
    codes = np.asarray(model.adata.obs["cell_type"].astype(str))
    pair = model._source_cells("pair", 5, rng)
    assert (codes[pair] == "pair").all()
    assert sorted(np.unique(pair, return_counts=True)[1]) == [2, 3]
    n_type_1 = int(model.label_counts["type_1"])
    type_1 = model._source_cells("type_1", 2 * n_type_1, rng)
    assert (codes[type_1] == "type_1").all()
    assert set(np.unique(type_1, return_counts=True)[1]) == {2}
    assert len(set(model._source_cells("solo", 4, rng))) == 1


def test_sampling_is_seeded_and_leaves_the_global_rng_alone(model):
    request = {"type_1": 6, "pair": 4}
    a, _ = model.sample(request, random_state=3)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    b, _ = model.sample(request, random_state=3)
    assert torch.equal(torch.rand(3), expected)
    c, _ = model.sample(request, random_state=4)
    assert (a != b).nnz == 0
    assert (a != c).nnz > 0


def test_chunks_give_the_requested_cells(model, data):
    x, labels = model.sample({"type_0": 9, "solo": 4}, random_state=0, chunk_size=4)
    assert x.shape == (13, data.n_vars)
    assert list(labels) == ["type_0"] * 9 + ["solo"] * 4
    assert _is_integer(x)


def test_training_is_reproducible():
    data = _data()
    request = {"type_0": 5, "solo": 3}

    def cells(seed):
        gen = scaug.tl.train_generator(
            data, "scvi_ppc", labels_key="cell_type", max_epochs=2, random_state=seed, train_kwargs=QUIET
        )
        return gen.sample(request, random_state=0)[0]

    first, again, other = cells(0), cells(0), cells(1)
    assert (first != again).nnz == 0
    assert (first != other).nnz > 0


def test_save_and_load_model_give_the_same_cells(model, tmp_path):
    model.save(tmp_path / "ppc", overwrite=True)
    torch.load(tmp_path / "ppc" / "model.pt", weights_only=True)  # tensors and plain values only
    loaded = scaug.models.load_model(str(tmp_path / "ppc"))
    assert isinstance(loaded, SCVIPPC)
    assert loaded.var_names.equals(model.var_names)
    assert loaded.labels == model.labels
    pd.testing.assert_series_equal(loaded.label_counts, model.label_counts)
    assert loaded.params == model.params
    request = {"type_2": 4, "solo": 3, "pair": 2}
    x, labels = model.sample(request, random_state=5)
    y, labels_loaded = loaded.sample(request, random_state=5)
    assert (x != y).nnz == 0
    assert list(labels) == list(labels_loaded)
    again = SCVIPPC.load(str(tmp_path / "ppc"))
    assert (again.sample(request, random_state=5)[0] != x).nnz == 0


def test_load_without_saved_cells_is_refused(model, tmp_path):
    model.save(tmp_path / "bare", overwrite=True, save_anndata=False)
    with pytest.raises(ScaugInputError, match="no training cells"):
        scaug.models.load_model(str(tmp_path / "bare"))


def test_augment_adds_counts_and_leaves_the_input_untouched(tmp_path):
    data = _data()
    before = data.copy()
    aug = scaug.tl.augment(data, "scvi_ppc", labels_key="cell_type", train_kwargs={"max_epochs": 2, **QUIET})
    assert (data.X != before.X).nnz == 0
    pd.testing.assert_frame_equal(data.obs, before.obs)
    assert list(data.uns) == list(before.uns)
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    counts = syn.obs["cell_type"].value_counts()
    # "balance" brings every label up to the median label size, the 1- and 2-cell labels included.
    median = int(data.obs["cell_type"].value_counts().median())
    assert counts["solo"] == median - 1
    assert counts["pair"] == median - 2
    assert _is_integer(sparse.csr_matrix(syn.X))
    assert not [k for k in aug.uns if k.startswith("_scvi")]
    assert not [c for c in aug.obs.columns if c.startswith("_scvi")]
    run = next(iter(aug.uns["scaug"]["runs"].values()))
    assert run["method"] == "scvi_ppc"
    aug.write_h5ad(tmp_path / "aug.h5ad")
    assert sc.read_h5ad(tmp_path / "aug.h5ad").n_obs == aug.n_obs


def test_continuous_input_is_refused_before_training(monkeypatch):
    def never(*args, **kwargs):
        raise AssertionError("scVI was trained on continuous input")

    monkeypatch.setattr(SCVIPPC, "train", never)
    lognorm = _data()
    sc.pp.normalize_total(lognorm)
    sc.pp.log1p(lognorm)
    with pytest.raises(ScaugInputError, match=r"counts.*layer=") as err:
        scaug.tl.augment(lognorm, "scvi_ppc", labels_key="cell_type")
    assert "\n" not in str(err.value)
    with pytest.raises(ScaugInputError, match="counts"):
        SCVIPPC.setup_anndata(lognorm, labels_key="cell_type")
    # The counts in a layer are what to pass.
    lognorm.layers["raw"] = _data().X
    SCVIPPC.setup_anndata(lognorm, labels_key="cell_type", layer="raw")


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_kwargs": {"n_latnet": 4}}, r"unknown model_kwargs.*n_latnet"),
        ({"model_kwargs": {"n_input": 4}}, r"unknown model_kwargs.*n_input"),
        ({"model_kwargs": {"gene_likelihood": "normal"}}, "gene_likelihood"),
        ({"train_kwargs": {"max_epoch": 2}}, r"unknown train_kwargs.*max_epoch"),
    ],
)
def test_bad_options_are_one_line_errors(data, kwargs, match):
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.train_generator(data, "scvi_ppc", labels_key="cell_type", **kwargs)
    assert "\n" not in str(err.value)


def test_unknown_label_is_refused(model):
    with pytest.raises(ScaugInputError, match="unknown labels"):
        model.sample({"type_9": 3})


def _log_normalised(x) -> np.ndarray:
    x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float64)
    return np.log1p(x / np.maximum(x.sum(axis=1, keepdims=True), 1) * 1e4)


def test_synthetic_cells_are_close_to_their_own_label():
    """Nearest real-label centroid in log-normalised space: a label mix-up would fail this."""
    # Balanced labels with strong programmes, so that a few seconds of training separate them.
    adata = scaug.datasets.simulate(
        300, 60, 3, imbalance=1.0, program_size=0.3, fold_change=6, random_state=0
    )
    gen = scaug.tl.train_generator(
        adata,
        "scvi_ppc",
        labels_key="cell_type",
        max_epochs=10,
        batch_size=32,
        random_state=0,
        train_kwargs=QUIET,
    )
    names = sorted(gen.labels)
    real, real_labels = _log_normalised(adata.X), adata.obs["cell_type"].astype(str).to_numpy()
    centroids = np.stack([real[real_labels == lab].mean(axis=0) for lab in names])
    x, labels = gen.sample({lab: 30 for lab in names}, random_state=0)
    syn = _log_normalised(x)
    nearest = np.asarray(names)[((syn[:, None, :] - centroids[None]) ** 2).sum(axis=-1).argmin(axis=1)]
    assert (nearest == labels).mean() >= 0.75
    for lab in names:
        assert (nearest[labels == lab] == lab).mean() >= 0.5
