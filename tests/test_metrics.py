"""Correctness of the fidelity metrics: controls that would fail if a metric were wrong."""

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scaug
from scaug.metrics import compare
from scaug.metrics._warnings import verdict

FAST = ["classifier_auc", "mmd", "prdc", "rem", "label_fidelity", "memorisation"]


def value(table: pd.DataFrame, metric: str, label: str = "all") -> float:
    hit = table[(table["metric"] == metric) & (table["label"] == label)]["value"]
    assert len(hit) == 1, f"{metric}/{label} not in table"
    return float(hit.iloc[0])


def split(adata, fractions, seed=0):
    """Disjoint random parts of adata (copies), stratified by nothing."""
    order = np.random.default_rng(seed).permutation(adata.n_obs)
    bounds = np.cumsum([0, *(int(f * adata.n_obs) for f in fractions)])
    return [adata[np.sort(order[a:b])].copy() for a, b in itertools.pairwise(bounds)]


def shuffle_genes(adata, seed=0):
    """Each gene's values permuted across cells: same marginals, no co-expression left."""
    rng = np.random.default_rng(seed)
    X = adata.X.toarray() if sparse.issparse(adata.X) else np.array(adata.X)
    X = np.take_along_axis(X, rng.random(X.shape).argsort(axis=0), axis=0)
    out = adata.copy()
    out.X = sparse.csr_matrix(X)
    return out


def label_means(train, labels_key, n_per_label):
    """Every synthetic cell is its label's mean training profile (collapse)."""
    blocks, labels = [], []
    for label in train.obs[labels_key].cat.categories:
        rows = (train.obs[labels_key] == label).to_numpy()
        if not rows.any():
            continue
        mean = np.asarray(train.X[rows].mean(axis=0)).ravel()
        blocks.append(np.tile(mean, (n_per_label, 1)))
        labels += [label] * n_per_label
    out = scaug.datasets.simulate(
        len(labels), train.n_vars, 2, random_state=0
    )  # a shell with the right shape
    out.X = sparse.csr_matrix(np.vstack(blocks).astype(np.float32))
    out.var_names = train.var_names
    out.obs = pd.DataFrame(
        {labels_key: pd.Categorical(labels)}, index=[f"mean-{i}" for i in range(len(labels))]
    )
    return out


def noisy_copies(train, seed=0, scale=0.05):
    """Training cells with a little multiplicative noise."""
    rng = np.random.default_rng(seed)
    out = train.copy()
    X = sparse.csr_matrix(out.X, dtype=np.float32, copy=True)
    X.data *= np.exp(rng.normal(0, scale, X.data.shape)).astype(np.float32)
    out.X = X
    out.obs_names = [f"copy-{i}" for i in range(out.n_obs)]
    return out


@pytest.fixture(scope="module")
def sim_parts():
    adata = scaug.datasets.simulate(2400, 300, 4, imbalance=0.1, random_state=1)
    return split(adata, [0.5, 0.25, 0.25])


# -- pure functions on arrays ---------------------------------------------------------------


def test_classifier_auc_separable_and_not():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 5)), rng.normal(size=(300, 5))
    assert 0.4 < value(scaug.metrics.classifier_auc(a, b), "classifier_auc") < 0.6
    assert value(scaug.metrics.classifier_auc(a, b + 3), "classifier_auc") > 0.99


def test_mmd_control_and_shift():
    rng = np.random.default_rng(0)
    ref = rng.normal(size=(600, 4))
    same = scaug.metrics.mmd(ref, rng.normal(size=(300, 4)))
    shifted = scaug.metrics.mmd(ref, rng.normal(0.5, 1, size=(300, 4)))
    assert abs(value(same, "mmd")) < 0.02 and abs(value(same, "mmd_control")) < 0.02
    assert value(shifted, "mmd") > 5 * max(abs(value(shifted, "mmd_control")), 0.01)


def test_scgan_bandwidths_from_25th_neighbour():
    x = np.arange(100, dtype=float)[:, None]  # on a line: 25th neighbour at distance 12 or 13 (ends: 25)
    sigmas = scaug.metrics._mmd.scgan_bandwidths(x)
    m = np.median([np.sort(np.abs(x - xi).ravel())[25] for xi in x])
    np.testing.assert_allclose(sigmas, [m / 2, m, 2 * m])


def test_wasserstein_exact_matches_1d_closed_form():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(400, 1)), rng.normal(2, 1, size=(400, 1))
    t = scaug.metrics.wasserstein(a, b)
    # W2 between N(0,1) and N(2,1) is 2; on finite samples a little more
    assert 1.8 < value(t, "wasserstein") < 2.4
    assert value(t, "wasserstein_control") < 0.5
    assert value(t, "sliced_wasserstein") > 3 * value(t, "sliced_wasserstein_control")


def test_prdc_naeem_definitions_on_toy_points():
    real = np.array([[0.0], [1.0], [2.0], [3.0]])
    # k=1: every real ball has radius 1. Synthetic: one point inside three balls, one far away.
    syn = np.array([[1.5], [10.0]])
    got = scaug.metrics.prdc(real, syn, n_neighbors=1).set_index("metric")["value"]
    assert got["precision"] == 0.5  # 1.5 is in balls of 1 and 2 (|d| <= 1); 10 in none
    assert got["density"] == pytest.approx((2 + 0) / (1 * 2))
    assert got["coverage"] == 0.5  # balls of 1 and 2 contain a synthetic cell
    # synthetic balls (k=1 among synthetic): radius 8.5 each -> every real cell inside
    assert got["recall"] == 1.0


def test_prdc_label_without_synthetic_cells_is_dropped():
    rng = np.random.default_rng(0)
    real = np.r_[rng.normal(0, 1, (100, 3)), rng.normal(6, 1, (30, 3))]
    labels = np.r_[["a"] * 100, ["b"] * 30]
    t = scaug.metrics.prdc(real, real[:100] + 0.01, real_labels=labels, synthetic_labels=labels[:100])
    assert value(t, "recall", "b") == 0 and value(t, "coverage", "b") == 0
    assert np.isnan(value(t, "precision", "b"))
    assert value(t, "coverage", "a") > 0.9


def test_rem_flags_identical_errors():
    rng = np.random.default_rng(0)
    t = scaug.metrics.rem(rng.gamma(2, size=400), rng.gamma(2, size=300))
    assert value(t, "rem_ks") < 0.15 and 0.7 < value(t, "rem_spread") < 1.4
    collapsed = scaug.metrics.rem(rng.gamma(2, size=400), np.full(50, 0.2))
    assert value(collapsed, "rem_spread") == 0 and value(collapsed, "rem_shift") < -0.5


def test_balanced_knn_recognises_rare_label_plain_knn_does_not():
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    # a 15-cell label next to (not apart from) a 1,500-cell label
    big, rare = rng.normal(0, 1, (1500, 5)), rng.normal(0.8, 0.5, (15, 5))
    X, y = np.r_[big, rare], np.r_[["big"] * 1500, ["rare"] * 15]
    new_rare, new_big = rng.normal(0.8, 0.5, (200, 5)), rng.normal(0, 1, (500, 5))
    plain = (KNeighborsClassifier(15).fit(X, y).predict(new_rare) == "rare").mean()
    model = scaug.metrics.BalancedKNN(15).fit(X, y)
    assert plain < 0.1
    assert (model.predict(new_rare) == "rare").mean() > 0.8
    assert (model.predict(new_big) == "big").mean() > 0.8  # at a modest cost to the large label


def test_memorisation_ratio_copies_vs_new():
    rng = np.random.default_rng(0)
    train = rng.normal(size=(500, 10))
    new = scaug.metrics.memorisation(train, rng.normal(size=(200, 10)), rng.normal(size=(200, 10)))
    copies = scaug.metrics.memorisation(
        train, train[:200] + rng.normal(0, 0.01, (200, 10)), rng.normal(size=(200, 10))
    )
    assert 0.8 < value(new, "memorisation_ratio") < 1.25
    assert value(copies, "memorisation_ratio") < 0.05 and value(copies, "copy_fraction") > 0.9


def test_correlation_discrepancy():
    c = np.array([[1, 0.9, -0.5], [0.9, 1, 0.0], [-0.5, 0.0, 1]])
    assert scaug.metrics.correlation_discrepancy(c, c) == 0
    assert scaug.metrics.correlation_discrepancy(c, np.eye(3)) == pytest.approx((0.9 + 0.5 + 0.0) / 3)


def test_warnings_rules():
    table = pd.DataFrame(
        [
            # collapsed: narrow REM, covers nothing -> collapsed, not also dropped
            ("rem_spread", "a", 0.05),
            ("recall", "a", 0.0),
            ("coverage", "a", 0.02),
            ("precision", "a", 0.9),
            # dropped: wide enough, covers nothing
            ("rem_spread", "b", 0.9),
            ("recall", "b", 0.01),
            ("coverage", "b", 0.0),
            ("precision", "b", 0.1),
            # fine, but memorised
            ("rem_spread", "c", 1.0),
            ("recall", "c", 0.8),
            ("coverage", "c", 0.9),
            ("precision", "c", 0.8),
            ("memorisation_ratio", "c", 0.1),
            ("memorisation_ratio", "all", 0.2),
        ],
        columns=["metric", "label", "value"],
    )
    w = scaug.metrics.fidelity_warnings(table, {"a": 10, "b": 10, "c": 10}, ["a", "b", "c", "d"])
    assert set(map(tuple, w[["label", "kind"]].to_numpy())) == {
        ("a", "collapsed"),
        ("b", "dropped"),
        ("c", "memorised"),
        ("d", "dropped"),
    }  # the overall memorised warning is explained by label c
    assert all("np.str_" not in m for m in w["message"])


def _table(values: dict) -> pd.DataFrame:
    return pd.DataFrame(
        [(metric, label, value) for (metric, label), value in values.items()],
        columns=["metric", "label", "value"],
    )


def test_warnings_for_density_smoothing_library_manifold_and_correlations():
    """Each measured failure has its warning, and the same numbers from real cells raise none."""
    good = {
        ("precision", "a"): 0.9,
        ("recall", "a"): 0.8,
        ("coverage", "a"): 0.9,
        ("rem_spread", "a"): 1.0,
        ("rem_ks", "a"): 0.1,
        ("rem_shift", "a"): 0.02,
        ("sparsity_real", "a"): 0.67,
        ("sparsity_synthetic", "a"): 0.66,
        ("sparsity_ks", "a"): 0.1,
        ("library_size_ks", "a"): 0.1,
        ("correlation_discrepancy", "all"): 0.05,
        ("correlation_discrepancy_control", "all"): 0.04,
        ("classifier_auc", "all"): 0.52,
        ("classifier_auc_sd", "all"): 0.03,
        ("classifier_auc_cells", "all"): 300,
    }
    sizes = {"a": 200, "all": 300}
    none = scaug.metrics.fidelity_warnings(_table(good), {"a": 200, "all": 300}, ["a"], sizes)
    assert none.empty
    bad = {
        **good,
        ("precision", "a"): 0.2,
        ("rem_ks", "a"): 0.9,
        ("rem_shift", "a"): -0.6,
        ("sparsity_synthetic", "a"): 0.36,
        ("sparsity_ks", "a"): 1.0,
        ("library_size_ks", "a"): 0.8,
        ("correlation_discrepancy", "all"): 0.2,
        ("classifier_auc_cells", "all"): 40,
    }
    w = scaug.metrics.fidelity_warnings(_table(bad), {"a": 200, "all": 300}, ["a"], sizes)
    assert w["kind"].tolist() == [
        "off-manifold",
        "smoothed",
        "sparsity",
        "library size",
        "correlations",
        "underpowered",
    ]  # worst first
    messages = dict(zip(w["kind"], w["message"], strict=True))
    assert "denser than real cells: 36% zero genes per cell vs 67%" in messages["sparsity"]
    assert "smoothed" in messages["smoothed"] and "40 cells per side" in messages["underpowered"]
    assert verdict(w).startswith("'a' cells lie off the real cells (+5 more warnings")


def test_small_samples_do_not_raise_distribution_warnings():
    """The same large statistics from 4 real cells are noise: no warning (real-vs-real: 4 dendritic cells)."""
    table = _table(
        {
            ("precision", "a"): 1.0,
            ("recall", "a"): 0.0,
            ("coverage", "a"): 1.0,
            ("rem_spread", "a"): 0.2,
            ("rem_ks", "a"): 0.5,
            ("rem_shift", "a"): -0.3,
            ("library_size_ks", "a"): 0.5,
            ("sparsity_real", "a"): 0.95,
            ("sparsity_synthetic", "a"): 0.89,
            ("sparsity_ks", "a"): 0.75,
        }
    )
    assert scaug.metrics.fidelity_warnings(table, {"a": 4}, ["a"], {"a": 4}).empty
    # with 200 cells a side the same values are significant
    kinds = set(scaug.metrics.fidelity_warnings(table, {"a": 200}, ["a"], {"a": 200})["kind"])
    assert kinds == {"collapsed", "smoothed", "sparsity", "library size"}


def test_verdict_says_every_check_passed_only_without_warnings():
    empty = pd.DataFrame(columns=["label", "kind", "message"])
    assert verdict(empty).startswith("every check passed")
    one = pd.DataFrame([("all", "underpowered", "")], columns=["label", "kind", "message"])
    assert verdict(one) == "the two-sample AUC has too few cells to tell"
    two = pd.DataFrame([("a", "sparsity", ""), ("b", "sparsity", "")], columns=["label", "kind", "message"])
    assert verdict(two) == "'a' cells and 1 more label(s) have the wrong sparsity (+1 more warning)"


def test_classifier_auc_reports_its_spread_and_size():
    rng = np.random.default_rng(0)
    small = scaug.metrics.classifier_auc(rng.normal(size=(40, 5)), rng.normal(size=(40, 5)))
    large = scaug.metrics.classifier_auc(rng.normal(size=(600, 5)), rng.normal(size=(600, 5)))
    assert value(small, "classifier_auc_cells") == 40 and value(large, "classifier_auc_cells") == 600
    # the fold spread shrinks with the number of cells (1/sqrt(n)); 0 would mean no spread was measured
    assert 0 < value(large, "classifier_auc_sd") < value(small, "classifier_auc_sd")


def test_embedding_fitted_on_real_only_and_projects(sim_parts):
    train, ref, _ = sim_parts
    emb = scaug.metrics.fit_embedding(train, n_pcs=20, n_top_genes=100)
    assert emb.counts and emb.n_pcs == 20 and len(emb.genes) == 100
    z = emb.transform(ref)
    assert z.shape == (ref.n_obs, 20)
    # projecting the training cells reproduces the PCA fit: mean 0 per component
    np.testing.assert_allclose(emb.transform(train).mean(axis=0), 0, atol=1e-3)
    # log-normalised input is used as is (not normalised again)
    logged = train.copy()
    logged.X = scaug.metrics.log_normalise(train.X, counts=True)
    assert not scaug.metrics.fit_embedding(logged, n_pcs=5).counts


def test_highly_variable_genes_match_scanpy_seurat_flavour(sim_parts):
    import anndata as ad
    import scanpy as sc

    train, _, _ = sim_parts
    expr = scaug.metrics.log_normalise(train.X, counts=True)
    ours = scaug.metrics.highly_variable_genes(expr, train.var_names, n_top_genes=100)
    filtered = ad.AnnData(expr, var=train.var.copy())
    sc.pp.filter_genes(filtered, min_cells=3)
    hvg = sc.pp.highly_variable_genes(filtered, n_top_genes=100, flavor="seurat", inplace=False)
    assert list(ours) == list(filtered.var_names[hvg["highly_variable"].to_numpy()])
    # a gene seen in two cells only never competes, however variable
    X = train.X.toarray()
    X[:, 0] = 0
    X[:2, 0] = 500
    expr = scaug.metrics.log_normalise(sparse.csr_matrix(X), counts=True)
    genes = scaug.metrics.highly_variable_genes(expr, train.var_names, n_top_genes=train.n_vars)
    assert train.var_names[0] not in genes
    assert train.var_names[0] in scaug.metrics.highly_variable_genes(
        expr, train.var_names, n_top_genes=train.n_vars, min_cells=2
    )


def test_embedding_bad_input(sim_parts):
    train, ref, _ = sim_parts
    emb = scaug.metrics.fit_embedding(train, n_pcs=5)
    with pytest.raises(scaug.ScaugInputError, match="genes of the evaluation embedding are missing"):
        emb.transform(ref[:, :10])
    with pytest.raises(scaug.ScaugInputError, match="at least 3"):
        scaug.metrics.fit_embedding(train[:2])
    with_layer = train.copy()
    with_layer.layers["counts"] = with_layer.X.copy()
    emb = scaug.metrics.fit_embedding(with_layer, n_pcs=5)
    assert emb.layer == "counts"
    with pytest.raises(scaug.ScaugInputError, match=r"no layers\['counts'\]"):
        emb.transform(ref)


# -- controls on simulated data ------------------------------------------------------------


def test_sim_real_vs_real_looks_real(sim_parts):
    train, ref, other = sim_parts
    res = compare(train, ref, other, labels_key="cell_type", metrics=FAST)
    t = res.table
    assert 0.4 < value(t, "classifier_auc") < 0.6
    assert value(t, "mmd") < value(t, "mmd_control") + 0.01
    assert value(t, "memorisation_ratio") > 0.8
    assert value(t, "label_fidelity") > 0.8
    assert res.warnings.empty


def test_sim_gene_shuffled_is_recognised(sim_parts):
    train, ref, other = sim_parts
    t = compare(
        train, ref, shuffle_genes(other), labels_key="cell_type", metrics=["classifier_auc", "mmd"]
    ).table
    # simulated genes are independent given the label, so shuffled cells differ only in mixing the
    # label programmes: recognisable, but less than shuffled real cells (> 0.95 on PBMC 3k below).
    # The largest label dominates the shuffled pool, so its shuffled cells look most like it.
    assert value(t, "classifier_auc") > 0.8
    assert value(t, "classifier_auc", "type_0") > 0.85
    for label in ["type_1", "type_2"]:
        assert value(t, "classifier_auc", label) > 0.95
    assert value(t, "mmd") > max(3 * abs(value(t, "mmd_control")), 0.005)


def test_sim_missing_label_is_dropped_with_warning(sim_parts):
    train, ref, other = sim_parts
    missing = other[(other.obs["cell_type"] != "type_3").to_numpy()].copy()
    res = compare(train, ref, missing, labels_key="cell_type", metrics=["prdc"])
    assert value(res.table, "recall", "type_3") == 0 and value(res.table, "coverage", "type_3") == 0
    assert ((res.warnings["label"] == "type_3") & (res.warnings["kind"] == "dropped")).any()
    # present but wrong: the type_1 cells are really type_0 cells. In 50 PCs of weakly separated
    # simulated labels the k-NN balls of a small label are wide, so PRDC alone misses it; label
    # fidelity does not.
    labels = other.obs["cell_type"].astype(str).to_numpy().copy()
    keep = labels != "type_1"
    labels[labels == "type_0"] = "type_1"
    wrong = other[keep].copy()
    wrong.obs["cell_type"] = pd.Categorical(labels[keep])
    res = compare(
        train, ref, wrong, labels_key="cell_type", metrics=["prdc", "label_fidelity"], labels=["type_1"]
    )
    assert (
        value(res.table, "label_fidelity", "type_1")
        < 0.1
        < 0.8
        < value(res.table, "label_fidelity_ceiling", "type_1")
    )
    assert value(res.table, "coverage", "type_1") < 0.6
    assert ((res.warnings["label"] == "type_1") & (res.warnings["kind"] == "dropped")).any()


def test_sim_noisy_copies_are_memorised(sim_parts):
    train, ref, _ = sim_parts
    res = compare(train, ref, noisy_copies(train), labels_key="cell_type", metrics=["memorisation"])
    assert value(res.table, "memorisation_ratio") < 0.3
    assert (res.warnings["kind"] == "memorised").any()


def test_sim_label_means_are_collapsed(sim_parts):
    train, ref, _ = sim_parts
    res = compare(
        train, ref, label_means(train, "cell_type", 50), labels_key="cell_type", metrics=["prdc", "rem"]
    )
    for label in ["type_0", "type_1", "type_2", "type_3"]:
        assert value(res.table, "recall", label) < 0.1
        assert value(res.table, "rem_spread", label) < 0.1
        assert value(res.table, "rem_shift", label) < -0.3
    collapsed = set(res.warnings.loc[res.warnings["kind"] == "collapsed", "label"])
    assert {"type_0", "type_1", "type_2", "type_3"} <= collapsed


def test_compare_deterministic(sim_parts):
    train, ref, other = sim_parts
    # the metrics that draw random numbers (tl.fidelity's test covers the others)
    metrics = ["classifier_auc", "mmd", "wasserstein", "prdc"]
    a = compare(train, ref, other, labels_key="cell_type", metrics=metrics, random_state=3).table
    b = compare(train, ref, other, labels_key="cell_type", metrics=metrics, random_state=3).table
    pd.testing.assert_frame_equal(a, b)


def test_compare_bad_input(sim_parts):
    train, ref, other = sim_parts
    with pytest.raises(scaug.ScaugInputError, match="unknown metrics"):
        compare(train, ref, other, labels_key="cell_type", metrics=["nope"])
    with pytest.raises(scaug.ScaugInputError, match="train: labels_key 'nope'"):
        compare(train, ref, other, labels_key="nope")
    with pytest.raises(scaug.ScaugInputError, match="lacks 290 genes"):
        compare(train, ref[:, :10], other, labels_key="cell_type", metrics=["prdc"])


# -- controls on PBMC 3k ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def pbmc_parts(_pbmc3k):
    """PBMC 3k labelled cells, genes seen in at least 10 cells; train 50 % / reference 25 % / other 25 %,
    stratified so that every label (Megakaryocytes: 15 cells) is on every side."""
    adata = _pbmc3k[_pbmc3k.obs["louvain"].notna().to_numpy()]
    adata = adata[:, np.asarray((adata.X > 0).sum(axis=0)).ravel() >= 10].copy()
    rng = np.random.default_rng(0)
    part = np.empty(adata.n_obs, dtype=int)
    for label in adata.obs["louvain"].cat.categories:
        idx = rng.permutation(np.flatnonzero((adata.obs["louvain"] == label).to_numpy()))
        part[idx] = np.arange(len(idx)) * 4 // len(idx)  # quarters: 0, 1 -> train, 2 -> reference, 3 -> other
    return adata[part <= 1].copy(), adata[part == 2].copy(), adata[part == 3].copy()


@pytest.mark.integration
def test_pbmc3k_real_split_vs_shuffled(pbmc_parts):
    train, ref, other = pbmc_parts
    emb = scaug.metrics.fit_embedding(train)
    z_ref, z_other, z_shuffled = (emb.transform(a) for a in (ref, other, shuffle_genes(other)))
    real = pd.concat([scaug.metrics.classifier_auc(z_ref, z_other), scaug.metrics.mmd(z_ref, z_other)])
    assert 0.4 < value(real, "classifier_auc") < 0.6
    assert value(real, "mmd") < value(real, "mmd_control") + 0.01
    shuffled = pd.concat(
        [scaug.metrics.classifier_auc(z_ref, z_shuffled), scaug.metrics.mmd(z_ref, z_shuffled)]
    )
    assert value(shuffled, "classifier_auc") > 0.95
    assert value(shuffled, "mmd") > 10 * max(abs(value(shuffled, "mmd_control")), 0.005)


@pytest.mark.integration
def test_pbmc3k_embedding_fit_cells_are_not_exchangeable(pbmc_parts):
    """Why the comparison sets must be out-of-sample: fitted cells vs new cells are told apart."""
    train, ref, _ = pbmc_parts
    emb = scaug.metrics.fit_embedding(train[:400])
    t = scaug.metrics.classifier_auc(emb.transform(train[:400]), emb.transform(ref[:400]))
    assert value(t, "classifier_auc") > 0.75


@pytest.mark.integration
def test_pbmc3k_copies_of_rare_label_score_high_label_fidelity(pbmc_parts):
    train, ref, _ = pbmc_parts
    mk = train[(train.obs["louvain"] == "Megakaryocytes").to_numpy()]
    assert mk.n_obs < 15
    syn = noisy_copies(mk, scale=0.1)
    res = compare(
        train,
        ref,
        syn,
        labels_key="louvain",
        metrics=["label_fidelity", "memorisation"],
        labels=["Megakaryocytes"],
    )
    assert value(res.table, "label_fidelity", "Megakaryocytes") > 0.9
    assert value(res.table, "label_fidelity_ceiling", "Megakaryocytes") > 0.5
    assert value(res.table, "memorisation_ratio", "Megakaryocytes") < 0.5
    assert (res.warnings["kind"] == "memorised").any()


@pytest.mark.integration
def test_pbmc3k_missing_label_and_collapse(pbmc_parts):
    train, ref, other = pbmc_parts
    missing = other[(other.obs["louvain"] != "B cells").to_numpy()].copy()
    res = compare(train, ref, missing, labels_key="louvain", metrics=["prdc"])
    assert value(res.table, "coverage", "B cells") == 0
    assert ((res.warnings["label"] == "B cells") & (res.warnings["kind"] == "dropped")).any()
    means = label_means(train, "louvain", 30)
    res = compare(train, ref, means, labels_key="louvain", metrics=["prdc", "rem"])
    for label in ["CD4 T cells", "B cells", "CD14+ Monocytes"]:
        assert value(res.table, "recall", label) < 0.1
        assert value(res.table, "rem_spread", label) < 0.2
    assert {"CD4 T cells", "B cells"} <= set(res.warnings.loc[res.warnings["kind"] == "collapsed", "label"])


@pytest.fixture(scope="module")
def controls():
    """Simulated counts: training cells, a held-out reference and held-out cells spoilt each way."""
    # well-separated labels, so that doublets of two labels lie between clusters
    adata = scaug.datasets.simulate(1_200, 200, 3, program_size=0.2, fold_change=4.0, random_state=0)
    train, reference, held = adata[:600].copy(), adata[600:900].copy(), adata[900:].copy()
    return train, reference, scaug.metrics.bad_controls(train, held, "cell_type", random_state=0)


def test_bad_controls_refuse_unknown_labels(controls):
    train, reference, _ = controls
    with pytest.raises(scaug.ScaugInputError, match=r"not a column of train\.obs"):
        scaug.metrics.bad_controls(train, reference, "missing")
    with pytest.raises(scaug.ScaugInputError, match="no training cells"):
        scaug.metrics.bad_controls(train[train.obs["cell_type"] != "type_0"], reference, "cell_type")


@pytest.mark.parametrize("control", ["real", *scaug.metrics.CONTROLS])
def test_each_bad_control_is_caught_and_real_cells_raise_nothing(controls, control):
    train, reference, spoilt = controls
    metrics = ["classifier_auc", "prdc", "rem", "label_fidelity", "memorisation", "marginals", "correlation"]
    res = compare(train, reference, spoilt[control], labels_key="cell_type", metrics=metrics)
    kinds = set(res.warnings["kind"])
    if control == "real":
        assert kinds == set()
    else:
        assert kinds & set(scaug.metrics.CONTROLS[control]), kinds


class _Replay:
    """A generator that returns given cells: the spoilt controls, through augment and fidelity."""

    method, counts, params, history = "replay", True, {}, None

    def __init__(self, train, cells):
        self.var_names = train.var_names
        self.label_counts = train.obs["cell_type"].astype(str).value_counts(sort=False)
        self.labels = list(self.label_counts.index)
        self.cells = cells

    def sample(self, n_per_label, *, random_state=0):
        labels = self.cells.obs["cell_type"].astype(str).to_numpy()
        rows = np.concatenate([np.flatnonzero(labels == lab)[:n] for lab, n in n_per_label.items()])
        return self.cells.X[rows], labels[rows]


def test_headline_names_the_worst_finding_never_all_good_beside_a_failure(controls):
    """The dashboard title and CLI summary state the worst warning; "every check passed" only without one."""
    from scaug._summaries import fidelity_summary
    from scaug.pl._dashboard import summary_text

    train, reference, spoilt = controls
    for control in ("real", "dense", "copied"):
        replay = _Replay(train, spoilt[control])
        aug = scaug.tl.augment(train, replay, labels_key="cell_type", n_cells={"type_0": 80, "type_1": 80})
        scaug.tl.fidelity(aug, reference=reference, metrics=["prdc", "rem", "memorisation", "marginals"])
        entry = aug.uns["scaug_fidelity"]
        title = summary_text(entry, "replay-1")[0]
        warned = len(entry["warnings"]) > 0
        assert warned == (control != "real"), entry["warnings"]
        assert ("every check passed" in title) == (not warned)
        assert title.split(": ", 1)[1] in fidelity_summary(entry)  # the CLI prints the same verdict
        if control == "copied":
            assert "look memorised" in title
        if control == "dense":
            assert "sparsity" in set(entry["warnings"]["kind"])
