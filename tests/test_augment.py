import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import scanpy as sc
from scipy import sparse

import scaug
from scaug import ScaugInputError


def assert_same_adata(a: ad.AnnData, b: ad.AnnData) -> None:
    """Bit-identical matrices, obs and uns keys (used to show the input was not modified)."""
    assert a.shape == b.shape
    if sparse.issparse(a.X):
        assert np.array_equal(a.X.indices, b.X.indices) and np.array_equal(a.X.indptr, b.X.indptr)
        assert np.array_equal(a.X.data, b.X.data, equal_nan=True)
    else:
        assert np.array_equal(a.X, b.X, equal_nan=True)
    pd.testing.assert_frame_equal(a.obs, b.obs)
    assert list(a.layers) == list(b.layers)
    assert set(a.uns) == set(b.uns)


def assert_real_cells_identical(adata: ad.AnnData, aug: ad.AnnData) -> None:
    n = adata.n_obs
    real = aug[:n].copy()
    assert list(real.obs_names) == list(adata.obs_names)
    for name, before in [("X", adata.X), *adata.layers.items()]:
        after = real.X if name == "X" else real.layers[name]
        assert type(after) is type(before)
        if sparse.issparse(before):
            before, after = before.tocsr(), after.tocsr()
            assert np.array_equal(before.indptr, after.indptr)
            assert np.array_equal(before.indices, after.indices)
            assert np.array_equal(before.data, after.data) and before.data.dtype == after.data.dtype
        else:
            assert np.array_equal(before, after) and before.dtype == after.dtype
    for col in adata.obs:
        after = pd.Series(real.obs[col].astype(object).to_numpy())
        assert after.equals(pd.Series(adata.obs[col].astype(object).to_numpy())), col


@pytest.mark.parametrize("method", ["random_oversample", "smote", "borderline_smote", "adasyn"])
def test_augment_balances_with_integer_counts(sim, method):
    before = sim.copy()
    aug = scaug.tl.augment(sim, method, labels_key="cell_type", random_state=0)
    assert_same_adata(sim, before)
    assert_real_cells_identical(sim, aug)
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    assert syn.n_obs > 0
    assert sparse.issparse(syn.X) and syn.X.dtype == sim.X.dtype
    assert np.array_equal(syn.X.data, np.floor(syn.X.data)) and syn.X.data.min() >= 0
    assert list(aug.var_names) == list(sim.var_names)
    counts = sim.obs["cell_type"].value_counts()
    target = int(np.ceil(counts.median()))
    syn_counts = syn.obs["cell_type"].value_counts()
    for label, n in counts.items():
        expected = max(target - n, 0)
        if method != "borderline_smote":  # may generate fewer when few cells are "in danger"
            assert syn_counts.get(label, 0) == expected


def test_smote_cells_lie_between_same_label_cells(sim):
    aug = scaug.tl.augment(sim, "smote", labels_key="cell_type", n_cells={"type_3": 200}, random_state=0)
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()].X.toarray()
    own = sim[sim.obs["cell_type"] == "type_3"].X.toarray()
    lo, hi = own.min(axis=0), own.max(axis=0)
    # interpolation (then rounding) stays within the label's range, up to the rounding step
    assert (syn >= np.floor(lo) - 1e-6).all() and (syn <= np.ceil(hi) + 1e-6).all()


def test_provenance_columns_names_and_record(sim):
    aug = scaug.tl.augment(sim, "smote", labels_key="cell_type", random_state=5)
    syn = aug.obs["scaug_synthetic"].to_numpy()
    assert aug.obs["scaug_synthetic"].dtype == bool
    assert (aug.obs.loc[~syn, "scaug_method"] == "real").all()
    assert (aug.obs.loc[syn, "scaug_method"] == "smote").all()
    assert (aug.obs.loc[syn, "scaug_run"] == "smote-1").all()
    assert aug.obs_names.is_unique
    assert aug.obs_names[syn][0] == "scaug-smote-1-0"
    record = aug.uns["scaug"]["runs"]["smote-1"]
    assert record["method"] == "smote" and record["random_state"] == 5
    assert record["labels_key"] == "cell_type" and record["layer"] == "X" and record["space"] == "counts"
    assert record["versions"]["scaug"] == scaug.__version__
    table = record["counts"].set_index("label")
    assert table["n_synthetic"].sum() == syn.sum()
    assert table.loc["type_0", "n_real"] == (sim.obs["cell_type"] == "type_0").sum()
    pd.Timestamp(record["created"])  # ISO time


def test_second_run_appends_and_trains_on_real_cells_only(sim):
    first = scaug.tl.augment(sim, "smote", labels_key="cell_type", random_state=0)
    second = scaug.tl.augment(first, "random_oversample", labels_key="cell_type", random_state=0)
    assert list(second.uns["scaug"]["runs"]) == ["smote-1", "random_oversample-2"]
    assert_real_cells_identical(first, second)
    runs = second.obs["scaug_run"].value_counts()
    # balancing counts real cells only, so both runs add the same number of cells
    assert runs["smote-1"] == runs["random_oversample-2"]
    # random oversampling copies real cells: every new cell equals a real (not synthetic) cell
    real = {tuple(r) for r in sim.X.toarray()}
    new = second[second.obs["scaug_run"] == "random_oversample-2"].X.toarray()
    assert all(tuple(r) in real for r in new)


def test_h5ad_round_trip_with_slash_and_plus_labels(tmp_path):
    pbmc = sc.datasets.pbmc68k_reduced().raw.to_adata()
    aug = scaug.tl.augment(pbmc, "smote", labels_key="bulk_labels", random_state=0)
    path = tmp_path / "aug.h5ad"
    aug.write_h5ad(path)
    back = ad.read_h5ad(path)
    pd.testing.assert_frame_equal(back.obs, aug.obs)
    before, after = aug.uns["scaug"]["runs"], back.uns["scaug"]["runs"]
    assert list(before) == list(after)
    for run in before:
        for field, value in before[run].items():
            if isinstance(value, pd.DataFrame):
                pd.testing.assert_frame_equal(after[run][field], value)
            else:
                assert after[run][field] == value, field
    assert "CD4+/CD25 T Reg" in set(after["smote-1"]["counts"]["label"])
    assert (back.X != aug.X).nnz == 0


def test_reproducible_and_seed_dependent(sim):
    a = scaug.tl.augment(sim, "smote", labels_key="cell_type", random_state=1)
    b = scaug.tl.augment(sim, "smote", labels_key="cell_type", random_state=1)
    c = scaug.tl.augment(sim, "smote", labels_key="cell_type", random_state=2)
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0


def test_counts_layer_modelled_and_log_x_derived(sim):
    adata = sim.copy()
    adata.layers["counts"] = adata.X.copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    aug = scaug.tl.augment(adata, "smote", labels_key="cell_type", random_state=0)
    assert_real_cells_identical(adata, aug)
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    counts = syn.layers["counts"]
    assert np.array_equal(counts.data, np.floor(counts.data))
    np.testing.assert_allclose(np.expm1(syn.X.toarray()).sum(axis=1), 1e4, rtol=1e-3)
    assert aug.uns["scaug"]["runs"]["smote-1"]["layer"] == "counts"


def test_lognormalised_input_stays_continuous():
    pbmc = sc.datasets.pbmc68k_reduced().raw.to_adata()
    aug = scaug.tl.augment(pbmc, "smote", labels_key="bulk_labels", random_state=0)
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()].X
    assert aug.uns["scaug"]["runs"]["smote-1"]["space"] == "continuous"
    assert not np.array_equal(syn.data, np.floor(syn.data))  # interpolated log values are not rounded


def test_lognormalised_counts_are_modelled_as_counts_by_deep_generators(sim):
    """log1p(normalize_total) input: a deep generator models the recovered counts, output in log space.

    Modelled as continuous values, the same cells came out twice as dense as real ones (issue 14).
    """
    adata = sim.copy()
    sc.pp.normalize_total(adata, target_sum=1e4)
    sc.pp.log1p(adata)
    aug = scaug.tl.augment(
        adata,
        "cscgan",
        labels_key="cell_type",
        n_cells={"type_0": 100, "type_3": 100},
        random_state=0,
        model_kwargs={"n_top_genes": None},
        train_kwargs={"max_steps": 200, "enable_progress_bar": False},
    )
    assert_real_cells_identical(adata, aug)
    assert aug.uns["scaug"]["runs"]["cscgan-1"]["space"] == "log_counts"
    syn = aug.obs["scaug_synthetic"].to_numpy()
    X = aug.X.toarray()
    # each synthetic cell is log1p of counts scaled per cell: its expm1 values are integer multiples
    recovered, _ = scaug._spaces.recover_counts(X[syn])
    assert recovered.nnz == np.count_nonzero(X[syn])
    # the real cells' normalised totals per label
    labels = aug.obs["cell_type"].astype(str).to_numpy()
    for label in ("type_0", "type_3"):
        real, fake = ~syn & (labels == label), syn & (labels == label)
        np.testing.assert_allclose(np.expm1(X[fake]).sum(axis=1), 1e4, rtol=1e-3)
        assert abs((X[fake] == 0).mean() - (X[real] == 0).mean()) < 0.05
    # resampling methods still interpolate the values they are given
    smote = scaug.tl.augment(adata, "smote", labels_key="cell_type", random_state=0)
    assert smote.uns["scaug"]["runs"]["smote-1"]["space"] == "continuous"


def test_recover_counts_refuses_values_that_are_not_log_counts():
    rng = np.random.default_rng(0)
    counts = rng.poisson(2.0, (50, 30))
    recovered, unit = scaug._spaces.recover_counts(np.log1p(counts))
    assert np.array_equal(recovered.toarray(), counts) and np.allclose(unit[counts.sum(1) > 0], 1)
    assert scaug._spaces.recover_counts(np.log1p(rng.gamma(2.0, 1.0, (50, 30)))) is None
    assert scaug._spaces.recover_counts(rng.normal(size=(50, 30))) is None  # scaled, negative


def test_dense_stays_dense_and_obsm_padded(sim):
    adata = sim.copy()
    adata.X = adata.X.toarray()
    adata.obsm["X_pca"] = np.ones((adata.n_obs, 3))
    aug = scaug.tl.augment(adata, "smote", labels_key="cell_type")
    assert isinstance(aug.X, np.ndarray)
    assert_real_cells_identical(adata, aug)
    syn = aug.obs["scaug_synthetic"].to_numpy()
    assert np.isnan(aug.obsm["X_pca"][syn]).all() and (aug.obsm["X_pca"][~syn] == 1).all()


def test_label_order_colours_and_obsm_frames_survive(sim, tmp_path):
    """Category order still matches uns colours; an obsm DataFrame is padded under the new names."""
    adata = sim.copy()
    order = list(adata.obs["cell_type"].cat.categories[::-1])
    adata.obs["cell_type"] = adata.obs["cell_type"].cat.reorder_categories(order)
    adata.uns["cell_type_colors"] = [f"#0000{i:02x}" for i in range(len(order))]
    x = np.arange(adata.n_obs, dtype=float)
    adata.obsm["meta"] = pd.DataFrame(
        {"x": x, "batch": ["a", "b"] * (adata.n_obs // 2)}, index=adata.obs_names
    )
    aug = scaug.tl.augment(adata, "smote", labels_key="cell_type")
    assert list(aug.obs["cell_type"].cat.categories) == order
    assert list(aug.uns["cell_type_colors"]) == list(adata.uns["cell_type_colors"])
    frame = aug.obsm["meta"]
    assert frame.index.equals(aug.obs_names)
    syn = aug.obs["scaug_synthetic"].to_numpy()
    assert (frame["x"].to_numpy()[~syn] == x).all() and frame.loc[syn].isna().all().all()
    aug.write_h5ad(tmp_path / "aug.h5ad")
    back = ad.read_h5ad(tmp_path / "aug.h5ad")
    assert (back.obsm["meta"]["batch"].astype(object)[~syn] == adata.obsm["meta"]["batch"]).all()


def test_unlabelled_cells_kept_but_not_used(sim, caplog):
    adata = sim.copy()
    labels = adata.obs["cell_type"].astype(object)
    labels.iloc[:10] = np.nan
    adata.obs["cell_type"] = labels.astype("category")
    X = adata.X.toarray()
    X[:10] = 999  # unmistakable: any synthetic cell drawn from an unlabelled one would show it
    adata.X = sparse.csr_matrix(X)
    with caplog.at_level(logging.WARNING, logger="scaug"):
        aug = scaug.tl.augment(adata, "random_oversample", labels_key="cell_type")
    assert "10 cells have no 'cell_type' label" in caplog.text
    assert_real_cells_identical(adata, aug)
    new = aug[aug.obs["scaug_synthetic"].to_numpy()]
    assert new.n_obs > 0 and new.obs["cell_type"].notna().all()
    assert not (new.X.toarray() == 999).all(axis=1).any()


@pytest.mark.parametrize("missing", ["nan", "", "None", "NA"])
def test_string_forms_of_missing_labels_are_missing(sim, missing, caplog):
    """A label column that went through astype(str) or a CSV keeps its missing values missing."""
    adata = _with_label(sim.copy(), slice(0, 10), missing)
    with caplog.at_level(logging.WARNING, logger="scaug"):
        aug = scaug.tl.augment(adata, "random_oversample", labels_key="cell_type")
    assert "10 cells have no 'cell_type' label" in caplog.text
    assert_real_cells_identical(adata, aug)
    new = aug.obs.loc[aug.obs["scaug_synthetic"].to_numpy(), "cell_type"]
    assert len(new) > 0 and missing not in set(new.astype(str))


def test_balance_skips_a_label_too_small_and_says_so(sim, caplog, tmp_path):
    """ "balance" fills what the method can learn; the one-cell label is named in the log and the record."""
    adata = _with_label(sim.copy(), [0], "lonely")
    with caplog.at_level(logging.WARNING, logger="scaug"):
        aug = scaug.tl.augment(adata, "smote", labels_key="cell_type")
    assert "'lonely' (1 cells)" in caplog.text and "skipped" in caplog.text
    new = aug.obs.loc[aug.obs["scaug_synthetic"].to_numpy(), "cell_type"].astype(str)
    assert len(new) > 0 and "lonely" not in set(new)
    aug.write_h5ad(tmp_path / "aug.h5ad")
    (record,) = ad.read_h5ad(tmp_path / "aug.h5ad").uns["scaug"]["runs"].values()
    assert list(record["skipped"]) == ["lonely"] and "1 training cells" in record["skipped"]["lonely"]


def test_trained_generator_reused_and_genes_checked(sim):
    gen = scaug.tl.train_generator(sim, "smote", labels_key="cell_type")
    aug = scaug.tl.augment(sim, gen, labels_key="cell_type", n_cells={"type_3": 7})
    assert aug.obs["scaug_synthetic"].sum() == 7
    with pytest.raises(ScaugInputError, match="differ"):
        scaug.tl.augment(sim[:, :50].copy(), gen, labels_key="cell_type")


def test_generate_returns_synthetic_only(sim):
    syn = scaug.tl.generate(sim, {"type_2": 11, "type_3": 4}, method="smote", labels_key="cell_type")
    assert syn.n_obs == 15 and syn.obs["scaug_synthetic"].all()
    assert syn.obs["cell_type"].value_counts().to_dict() == {"type_2": 11, "type_3": 4}
    gen = scaug.tl.train_generator(sim, "smote", labels_key="cell_type")
    assert scaug.tl.generate(gen, 30).n_obs == 30


def test_register_method_custom_generator(sim):
    class Means:
        method, counts, params, history = "label_means", False, {}, None

        def __init__(self, adata, labels_key):
            self.var_names = adata.var_names
            self.label_counts = adata.obs[labels_key].value_counts(sort=False)
            self.label_counts.index = self.label_counts.index.astype(str)
            self.labels = list(self.label_counts.index)
            self._means = {
                lab: np.asarray(adata[adata.obs[labels_key] == lab].X.mean(axis=0)).ravel()
                for lab in self.labels
            }

        def sample(self, n_per_label, *, random_state=0):
            labels = np.concatenate([[lab] * n for lab, n in n_per_label.items()])
            return np.vstack([self._means[lab] for lab in labels]), labels

    def train(adata, *, labels_key, random_state, model_kwargs, train_kwargs):
        return Means(adata, labels_key)

    scaug.register_method("label_means", train, description="test", overwrite=True)
    assert "label_means" in scaug.methods().index
    syn = scaug.tl.generate(sim, {"type_1": 3}, method="label_means", labels_key="cell_type")
    expected = np.asarray(sim[sim.obs["cell_type"] == "type_1"].X.mean(axis=0)).ravel()
    np.testing.assert_allclose(syn.X.toarray()[0], expected, rtol=1e-5)
    with pytest.raises(ScaugInputError, match="already registered"):
        scaug.register_method("label_means", train)


def test_resample_undersamples_and_records_dropped(sim):
    before = sim.copy()
    small = scaug.pp.resample(sim, labels_key="cell_type", target=40, random_state=0)
    assert_same_adata(sim, before)
    assert small.obs["cell_type"].value_counts().max() == 40
    record = small.uns["scaug"]["runs"]["random_undersample-1"]
    assert len(record["dropped"]) == sim.n_obs - small.n_obs
    assert set(record["dropped"]).isdisjoint(small.obs_names)
    kept = small.obs_names[0]
    assert (small[kept].X != sim[kept].X).nnz == 0
    with pytest.raises(ScaugInputError, match="oversampling"):
        scaug.pp.resample(sim, "smote", labels_key="cell_type")


# --- bad input: one clear error, input unchanged -------------------------------------------


def _with_label(adata, idx, value):
    labels = adata.obs["cell_type"].astype(object)
    labels.iloc[idx] = value
    adata.obs["cell_type"] = labels.astype("category")
    return adata


def _set_value(adata, value):
    X = adata.X.tocsr(copy=True)
    X.data[0] = value
    adata.X = X
    return adata


def _dup_genes(adata):
    names = adata.var_names.to_numpy().copy()
    names[1] = names[0]
    adata.var_names = names
    return adata


def _dup_cells(adata):
    names = adata.obs_names.to_numpy().copy()
    names[1] = names[0]
    adata.obs_names = names
    return adata


def _float_counts(adata):
    adata.layers["counts"] = adata.X.multiply(0.5).tocsr()
    return adata


def _odd_layer(adata):
    adata.layers["weird"] = sparse.csr_matrix(np.random.default_rng(0).random(adata.shape))
    return adata


BAD_INPUTS = {
    "unknown method": (lambda a: a, {"method": "gan9000"}, "unknown method 'gan9000'"),
    "missing labels_key": (lambda a: a, {"labels_key": "celltype"}, "not a column"),
    "all-NaN labels": (lambda a: _with_label(a, slice(None), np.nan), {}, "no labels"),
    "too few cells": (
        lambda a: _with_label(a, [0], "lonely"),
        {"n_cells": {"lonely": 5}},
        r"'lonely' \(1 cells\)",
    ),
    "NaN values": (lambda a: _set_value(a, np.nan), {}, "NaN or infinite"),
    "inf values": (lambda a: _set_value(a, np.inf), {}, "NaN or infinite"),
    "negative values": (lambda a: _set_value(a, -1.0), {}, "negative values"),
    "missing layer": (lambda a: a, {"layer": "spliced"}, "layer 'spliced'"),
    "unknown label in n_cells": (lambda a: a, {"n_cells": {"type_9": 3}}, "unknown labels"),
    "negative n_cells": (lambda a: a, {"n_cells": {"type_1": -3}}, "non-negative"),
    "empty": (lambda a: a[:0].copy(), {}, "empty"),
    "duplicate var_names": (_dup_genes, {}, "duplicate var_names"),
    "duplicate obs_names": (_dup_cells, {}, "duplicate obs_names"),
    "all labels missing as strings": (
        lambda a: _with_label(a, slice(None), ["nan", "", "None"] * (a.n_obs // 3) + ["NaN"] * (a.n_obs % 3)),
        {},
        "no labels",
    ),
    "unrecognised layer": (_odd_layer, {}, "not a transform"),
    "output too large for memory": (lambda a: a, {"n_cells": 10**10}, "GiB of memory available"),
    "non-integer counts layer": (_float_counts, {}, r"layers\['counts'\] holds non-integer values"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_one_clear_error_input_unchanged(sim, case):
    make, kwargs, match = BAD_INPUTS[case]
    adata = make(sim.copy())
    before = adata.copy()
    call = {"method": "smote", "labels_key": "cell_type", **kwargs}
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.augment(adata, **call)
    assert "\n" not in str(err.value)
    if adata.n_obs:
        assert_same_adata(adata, before)


def test_output_size_estimate_is_close(sim):
    """The memory check's estimate is within a factor of two of the real output's size."""
    from scaug._validation import output_bytes

    aug = scaug.tl.augment(sim, "smote", labels_key="cell_type", n_cells=3_000)
    X = aug.X
    actual = X.data.nbytes + X.indices.nbytes + X.indptr.nbytes
    estimate = output_bytes([sim.X], aug.n_obs)
    assert 0.5 < estimate / actual < 2


def test_backed_refused(sim, tmp_path):
    path = tmp_path / "sim.h5ad"
    sim.write_h5ad(path)
    backed = ad.read_h5ad(path, backed="r")
    with pytest.raises(ScaugInputError, match="backed"):
        scaug.tl.augment(backed, "smote", labels_key="cell_type")
    backed.file.close()
