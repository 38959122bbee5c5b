"""The imbalance benchmark: no leakage, the minority rule, refusals, determinism, the table and its plot."""

import inspect

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
import torch

import scaug
from scaug import ScaugInputError
from scaug._registry import _REGISTRY
from scaug.bench._classifier import MLPClassifier
from scaug.bench._imbalance import (
    COLUMNS,
    CONDITIONS,
    DEFAULT_METHODS,
    imbalance,
    margin_query,
    minority_targets,
    stratified_folds,
    summarise,
)
from scaug.resample._imblearn import train_random_oversample
from scaug.tl._class_weights import class_weights_from_counts

FAST = {"n_folds": 3, "epochs": 3, "n_top_genes": 50, "progress": False}


@pytest.fixture(scope="module")
def small():
    """300 cells x 60 genes; type_2 has 21 cells, so 14 in a training fold (a minority at 20)."""
    return scaug.datasets.simulate(300, 60, 3, imbalance=0.1, random_state=0)


@pytest.fixture(scope="module")
def table(small):
    methods = ["none", "random_undersample", "random_oversample", "smote", *CONDITIONS[2:]]
    return imbalance(small, "cell_type", methods, **FAST)


@pytest.fixture
def spy_method():
    """Register methods under test names and remove them afterwards (the registry is global)."""
    added = []

    def register(name, train, **kwargs):
        scaug.register_method(name, train, overwrite=True, **kwargs)
        added.append(name)

    yield register
    for name in added:
        _REGISTRY.pop(name, None)


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _without_timings(table):
    return table[~table["metric"].str.endswith("_seconds")].reset_index(drop=True)


def test_no_test_cell_reaches_generation_or_features(small, spy_method, monkeypatch):
    events = []

    def spy_train(adata, **kwargs):
        events.append(("spy", set(adata.obs_names)))
        return train_random_oversample(adata, **kwargs)

    spy_method("spy", spy_train)
    fit_embedding, augment = scaug.metrics.fit_embedding, scaug.tl.augment
    resample = scaug.pp.resample

    def fit_spy(adata, **kwargs):
        events.append(("features", set(adata.obs_names)))
        return fit_embedding(adata, **kwargs)

    def augment_spy(adata, *args, **kwargs):
        events.append(("augment", set(adata.obs_names)))
        return augment(adata, *args, **kwargs)

    def resample_spy(adata, *args, **kwargs):
        events.append(("resample", set(adata.obs_names)))
        return resample(adata, *args, **kwargs)

    monkeypatch.setattr(scaug.metrics, "fit_embedding", fit_spy)
    monkeypatch.setattr(scaug.tl, "augment", augment_spy)
    monkeypatch.setattr(scaug.pp, "resample", resample_spy)
    out = imbalance(small, "cell_type", ["spy", "random_undersample", "hybrid"], random_state=3, **FAST)

    # each fold begins with the feature fit; split the recorded calls by fold
    per_fold = []
    for kind, names in events:
        if kind == "features":
            per_fold.append([])
        per_fold[-1].append((kind, names))
    assert len(per_fold) == 3
    all_cells = set(small.obs_names)
    tests = []
    for calls in per_fold:
        train = calls[0][1]
        tests.append(all_cells - train)
        kinds = [kind for kind, _ in calls]
        assert {"spy", "augment", "resample"} <= set(kinds)
        assert kinds.count("augment") >= 2  # the spy and the hybrid's SMOTE rounds
        assert next(names for kind, names in calls if kind == "spy") == train  # the whole training fold
        for _, names in calls:
            assert names <= train
            assert not names & tests[-1]
    # the test folds are disjoint and cover every labelled cell
    assert sum(len(t) for t in tests) == small.n_obs
    assert set().union(*tests) == all_cells
    # and they are the test cells the table was scored on
    n_test = out[(out["metric"] == "n_test") & (out["method"] == "spy")].groupby("fold")["value"].sum()
    assert n_test.tolist() == [len(t) for t in tests]


def test_minority_rule():
    counts = pd.Series({"B": 400, "DC": 25, "Mk": 12, "pDC": 3, "tiny_but_enough": 119})
    # below 20 -> floor(0.3 x 400) = 120
    assert minority_targets(counts) == {"Mk": 108, "pDC": 117}
    assert minority_targets(counts, threshold=30) == {"DC": 95, "Mk": 108, "pDC": 117}
    assert minority_targets(counts, fraction=0.5) == {"Mk": 188, "pDC": 197}
    # a minority already at the goal gets nothing
    assert minority_targets(pd.Series({"a": 40, "b": 10})) == {"b": 2}
    assert minority_targets(pd.Series({"a": 30, "b": 10})) == {}


def test_table_follows_the_minority_rule(table):
    sizes = table[table["metric"].isin(["n_train", "n_synthetic"])]
    for method in ["random_oversample", "smote"]:
        for fold in range(3):
            rows = sizes[(sizes["method"] == method) & (sizes["fold"] == fold)]
            n_train = rows[rows["metric"] == "n_train"].set_index("label")["value"].astype(int)
            n_syn = rows[rows["metric"] == "n_synthetic"].set_index("label")["value"].astype(int)
            expected = minority_targets(n_train)
            assert expected == {"type_2": int(0.3 * n_train.max()) - n_train["type_2"]}
            assert n_syn[n_syn > 0].to_dict() == expected
    none = sizes[(sizes["method"] == "none") & (sizes["metric"] == "n_synthetic")]
    assert (none["value"] == 0).all()
    under = sizes[(sizes["method"] == "random_undersample") & (sizes["metric"] == "n_train")]
    assert under.groupby("fold")["value"].nunique().eq(1).all()  # every label cut to the smallest


def test_table_columns_and_metrics(table, small):
    assert list(table.columns) == COLUMNS
    assert set(table["metric"]) == {
        "macro_f1",
        "accuracy",
        "f1",
        "n_test",
        "n_train",
        "n_synthetic",
        "class_weight",
        "augment_seconds",
        "train_seconds",
        "confusion",
    }
    assert (table["status"] == "ok").all()
    assert table["predicted"].notna().eq(table["metric"] == "confusion").all()
    overall = table[table["metric"].isin(["macro_f1", "accuracy"])]
    assert (overall["label"] == "all").all() and overall["value"].between(0, 1).all()
    # macro-F1 is the mean of the per-label F1 of the same fold
    f1 = table[table["metric"] == "f1"].groupby(["method", "fold"])["value"].mean()
    macro = table[table["metric"] == "macro_f1"].set_index(["method", "fold"])["value"]
    assert np.allclose(f1.sort_index(), macro.sort_index())
    # the confusion matrix counts every test cell once, its diagonal gives the accuracy
    conf = table[table["metric"] == "confusion"]
    assert (conf.groupby(["method", "fold"])["value"].sum() == small.n_obs / 3).all()
    hits = conf[conf["label"] == conf["predicted"]].groupby(["method", "fold"])["value"].sum()
    accuracy = table[table["metric"] == "accuracy"].set_index(["method", "fold"])["value"]
    assert np.allclose((hits / (small.n_obs / 3)).sort_index(), accuracy.sort_index())


def test_weighted_conditions_carry_their_weights(table):
    for method, scheme in [
        ("weighted_ce_balanced", "balanced"),
        ("weighted_ce_effective_number", "effective_number"),
    ]:
        rows = table[(table["method"] == method) & (table["fold"] == 0)]
        n_train = rows[rows["metric"] == "n_train"].set_index("label")["value"]
        weights = rows[rows["metric"] == "class_weight"].set_index("label")["value"]
        expected = class_weights_from_counts(n_train, scheme=scheme, beta=0.9999)
        assert weights.to_dict() == pytest.approx(expected.to_dict())
    assert "class_weight" not in set(table.loc[table["method"] == "none", "metric"])


def test_hybrid_learns_from_part_of_the_fold(table):
    sizes = table[(table["fold"] == 0) & (table["metric"] == "n_train")]
    hybrid = sizes[sizes["method"] == "hybrid"].set_index("label")["value"]
    none = sizes[sizes["method"] == "none"].set_index("label")["value"]
    # default budget: 20 % stratified start + 3 rounds of 10 % of the fold
    assert hybrid.sum() == pytest.approx(0.2 * none.sum() + 3 * round(0.1 * none.sum()), abs=3)
    assert (hybrid >= np.minimum(none, 5)).all()


def test_refused_method_gives_nan_and_status(small, spy_method):
    spy_method("needy", train_random_oversample, min_cells=1_000)
    out = imbalance(small, "cell_type", ["none", "needy"], **FAST)
    refused = out[out["method"] == "needy"]
    assert refused["value"].isna().all()
    assert set(refused["metric"]) == {"macro_f1", "accuracy", "f1"}
    reason = refused["status"].unique()
    assert len(reason) == 1 and "needs at least 1000 training cells" in reason[0] and "\n" not in reason[0]
    assert (out.loc[out["method"] == "none", "status"] == "ok").all()
    summary = summarise(out)
    assert summary.index.tolist() == ["none", "needy"]
    assert summary.loc["needy", ["n_folds", "n_refused"]].tolist() == [0, 3]


def test_same_random_state_same_table(small):
    kwargs = {"methods": ["none", "smote", "hybrid"], **FAST}
    first = imbalance(small, "cell_type", random_state=1, **kwargs)
    second = imbalance(small, "cell_type", random_state=1, **kwargs)
    pd.testing.assert_frame_equal(_without_timings(first), _without_timings(second))
    other = imbalance(small, "cell_type", random_state=2, **kwargs)
    assert not _without_timings(first).equals(_without_timings(other))


def test_summarise_sorts_by_macro_f1(table):
    summary = summarise(table)
    assert summary.columns.tolist() == [
        "macro_f1_mean",
        "macro_f1_std",
        "accuracy_mean",
        "accuracy_std",
        "n_folds",
        "n_refused",
    ]
    assert summary["macro_f1_mean"].is_monotonic_decreasing
    assert (summary["n_folds"] == 3).all()


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"methods": ["nope"]}, "unknown method 'nope'"),
        ({"methods": []}, "methods is empty"),
        ({"n_folds": 1}, "n_folds must be an integer >= 2"),
        ({"minority_fraction": 0}, "minority_fraction"),
        ({"hybrid_kwargs": {"budget": 1}}, "unknown hybrid_kwargs"),
    ],
)
def test_bad_input_is_one_line(small, kwargs, match):
    kwargs = {"methods": ["none"], **FAST, **kwargs}
    with pytest.raises(ScaugInputError, match=match) as err:
        imbalance(small, "cell_type", **kwargs)
    assert "\n" not in str(err.value)


def test_condition_names_stay_apart_from_the_registry(small, spy_method):
    assert not set(CONDITIONS) & set(scaug.methods().index)
    assert set(DEFAULT_METHODS) - set(CONDITIONS) <= set(scaug.methods().index)
    spy_method("hybrid", train_random_oversample)
    with pytest.raises(ScaugInputError, match="both a benchmark condition and a registered method"):
        imbalance(small, "cell_type", ["hybrid"], **FAST)


def test_generator_options_reach_trained_methods_only(small, spy_method):
    seen = []

    def spy_train(adata, *, train_kwargs, **kwargs):
        seen.append(train_kwargs)
        return train_random_oversample(adata, train_kwargs={}, **kwargs)

    spy_method("spy", spy_train)
    flat = imbalance(small, "cell_type", ["smote", "spy"], train_kwargs={"max_steps": 5}, **FAST)
    assert (flat["status"] == "ok").all()  # smote, which takes no train_kwargs, did not get them
    assert seen == [{"max_steps": 5}] * 3
    seen.clear()
    imbalance(small, "cell_type", ["smote", "spy"], train_kwargs={"spy": {"max_steps": 7}}, **FAST)
    assert seen == [{"max_steps": 7}] * 3


def test_stratified_folds_partition_the_cells():
    labels = np.array(["a"] * 30 + ["b"] * 9 + ["c"] * 3)
    folds = stratified_folds(labels, 3, random_state=0)
    tests = [test for _, test in folds]
    assert np.array_equal(np.sort(np.concatenate(tests)), np.arange(len(labels)))
    for train, test in folds:
        assert not set(train) & set(test)
        assert (labels[test] == "c").sum() == 1


def test_margin_query_picks_the_least_certain():
    proba = np.array([[0.98, 0.01, 0.01], [0.4, 0.35, 0.25], [0.6, 0.3, 0.1], [0.5, 0.5, 0.0]])
    assert margin_query(proba, 2, np.random.default_rng(0)).tolist() == [3, 1]


def test_classifier_is_seeded_and_leaves_torch_rng_alone():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(90, 8)).astype(np.float32)
    y = np.array(["a", "b", "c"])[rng.integers(0, 3, 90)]
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    first = MLPClassifier(["a", "b", "c"], epochs=3, random_state=5).fit(x, y)
    assert torch.equal(torch.rand(3), expected)
    second = MLPClassifier(["a", "b", "c"], epochs=3, random_state=5).fit(x, y)
    assert np.array_equal(first.decision_function(x), second.decision_function(x))
    third = MLPClassifier(["a", "b", "c"], epochs=3, random_state=6).fit(x, y)
    assert not np.array_equal(first.decision_function(x), third.decision_function(x))


def test_classifier_weights_and_logit_adjustment_favour_the_rare_label():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(0, 1, (190, 4)), rng.normal(0.7, 1, (10, 4))]).astype(np.float32)
    y = np.array(["big"] * 190 + ["rare"] * 10)
    kwargs = {"epochs": 30, "random_state": 0}
    plain = (MLPClassifier(["big", "rare"], **kwargs).fit(x, y).predict(x) == "rare").sum()
    weighted = MLPClassifier(["big", "rare"], class_weight={"big": 1.0, "rare": 19.0}, **kwargs).fit(x, y)
    adjusted = MLPClassifier(["big", "rare"], tau=1.0, **kwargs).fit(x, y)
    assert (weighted.predict(x) == "rare").sum() > plain
    assert (adjusted.predict(x) == "rare").sum() > plain
    assert adjusted.predict_proba(x).sum(axis=1) == pytest.approx(np.ones(len(x)))


@pytest.mark.parametrize("protocol", ["downsampling", "imbalance", "speed"])
def test_quick_settings_fit_the_api(protocol):
    settings = scaug.bench.quick_settings(protocol)
    assert set(settings) <= set(inspect.signature(getattr(scaug.bench, protocol)).parameters)
    settings["methods"].append("changed")
    assert "changed" not in scaug.bench.quick_settings(protocol)["methods"]  # a fresh dict each call


def test_plot_returns_two_axes_and_saves(table, tmp_path):
    path = tmp_path / "imbalance.png"
    axes = scaug.pl.imbalance(table, show=False, save=str(path))
    assert len(axes) == 2
    bars, heatmap = axes
    assert [t.get_text() for t in bars.get_yticklabels()] == list(summarise(table).index)
    assert [t.get_text().split(" (")[0] for t in heatmap.get_xticklabels()] == ["type_0", "type_1", "type_2"]
    assert path.stat().st_size > 10_000


def test_plot_into_given_axes(table):
    _, given = plt.subplots(1, 2)
    axes = scaug.pl.imbalance(table, ax=given, show=False)
    assert list(axes) == list(given)
    with pytest.raises(ScaugInputError, match="two axes"):
        scaug.pl.imbalance(table, ax=[given[0]], show=False)
