import itertools

import numpy as np
import pandas as pd
import pytest

import scaug
from scaug._registry import _REGISTRY, get_method
from scaug.bench._downsampling import kept_sizes, plan

FAST = {"seeds": [0], "n_estimators": 50, "n_pcs": 10, "n_top_genes": 100, "progress": False}


@pytest.fixture(scope="module")
def data():
    """900 cells x 150 genes, 3 labels; type_1 has 288 cells (230 for training)."""
    return scaug.datasets.simulate(900, 150, 3, imbalance=0.5, fold_change=3.0, random_state=0)


@pytest.fixture
def spy():
    """A method that records the cells it trains on and the labels it is asked for (SMOTE inside)."""
    seen = []
    smote = get_method("smote").train

    def train(adata, **kwargs):
        gen = smote(adata, **kwargs)
        seen.append({"cells": set(adata.obs_names), "counts": adata.obs["cell_type"].value_counts()})
        return gen

    scaug.register_method("spy", train, min_cells=2, overwrite=True)
    yield seen
    _REGISTRY.pop("spy", None)


def test_plan_keeps_nested_subsets_and_never_touches_test_cells():
    labels = np.array(["a"] * 500 + ["b"] * 120 + ["c"] * 80)
    steps = plan(labels, "b", seeds=[0, 1], rates=(0.2, 0.1, 0.05, 0.01), min_kept=2)
    assert [len(s.kept) for s in steps] == [19, 10, 5, 2] * 2
    for seed in (0, 1):
        mine = [s for s in steps if s.seed == seed]
        target_train = set(mine[0].kept) | set(mine[0].removed)
        for big, small in itertools.pairwise(mine):
            assert set(small.kept) < set(big.kept)  # nested
        for s in mine:
            assert not set(s.test) & (set(s.train) | set(s.removed))  # test cells stay out
            assert set(s.kept) | set(s.removed) == target_train  # the ceiling puts back removed cells only
            assert not set(s.kept) & set(s.removed)
            assert (labels[s.removed] == "b").all() and (labels[s.kept] == "b").all()
            others = set(np.flatnonzero(labels != "b")) - set(s.test)
            assert set(s.train) == others | set(s.kept)
    # a stratified split: every label in the test set in proportion
    test = labels[steps[0].test]
    assert (pd.Series(test).value_counts() / len(test)).round(2).to_dict() == {
        "a": 0.71,
        "b": 0.17,
        "c": 0.11,
    }
    assert not np.array_equal(steps[0].test, steps[4].test)  # each seed has its own split


def test_kept_sizes_run_each_number_once():
    assert kept_sizes(123, rates=(0.1, 0.05, 0.02, 0.01, 0.005), n_kept=None, min_kept=2) == [
        (0.1, 12),
        (0.05, 6),
        (0.02, 2),
    ]
    with pytest.raises(scaug.ScaugInputError, match="cannot keep"):
        kept_sizes(10, rates=(0.5,), n_kept=[10], min_kept=2)
    with pytest.raises(scaug.ScaugInputError, match="rates must be in"):
        kept_sizes(10, rates=(1.5,), n_kept=None, min_kept=2)


def test_no_test_cell_reaches_generation(data, spy):
    table = scaug.bench.downsampling(data, "cell_type", "type_1", ["spy"], n_kept=[20, 4], **FAST)
    steps = plan(data.obs["cell_type"].astype(str).to_numpy(), "type_1", seeds=[0], n_kept=[20, 4])
    assert len(spy) == 2
    for step, call in zip(steps, spy, strict=True):
        assert call["cells"] == set(data.obs_names[step.train])
        assert not call["cells"] & set(data.obs_names[step.test])
        assert call["counts"]["type_1"] == len(step.kept)
    assert set(table["method"]) == {"none", "spy", "real_cells"}


def test_scores_and_the_ceiling(data):
    table = scaug.bench.downsampling(data, "cell_type", "type_1", ["smote"], n_kept=[3], **FAST)
    v = table.pivot_table(index="method", columns="metric", values="value")
    n_train = round(0.8 * (data.obs["cell_type"] == "type_1").sum())
    assert v.loc["real_cells", "n_synthetic"] == n_train - 3
    assert v.loc["smote", "n_synthetic"] == n_train - 3
    assert v.loc["none", "n_synthetic"] == 0 and np.isnan(v.loc["none", "memorisation_ratio"])
    assert v.loc["real_cells", "f1"] > v.loc["none", "f1"] + 0.1  # its own cells help find the type
    # real held-out-like cells put back are not copies; SMOTE's interpolations between 3 cells are
    assert v.loc["smote", "memorisation_ratio"] < 0.7
    assert 0.8 < v.loc["real_cells", "memorisation_ratio"] < 1.25
    assert (table["status"] == "ok").all()
    assert set(table.columns) == {
        "seed",
        "rate",
        "n_kept",
        "n_removed",
        "method",
        "metric",
        "value",
        "status",
    }


def test_a_method_that_refuses_gives_nan_and_a_reason(data):
    table = scaug.bench.downsampling(data, "cell_type", "type_1", ["smote"], n_kept=[1], **FAST)
    refused = table[table["method"] == "smote"]
    assert refused["value"].isna().all()
    assert refused["status"].str.contains("needs at least 2 training cells").all()
    assert (table.loc[table["method"] == "none", "status"] == "ok").all()


def test_same_seed_same_table(data):
    kwargs = {"n_kept": [5], **FAST}
    first = scaug.bench.downsampling(data, "cell_type", "type_1", ["smote"], **kwargs)
    second = scaug.bench.downsampling(data, "cell_type", "type_1", ["smote"], **kwargs)
    keep = first["metric"] != "train_seconds"
    pd.testing.assert_frame_equal(first[keep], second[keep])


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"target": "nope"}, "is not a label"),
        ({"methods": ["nope"]}, "unknown method"),
        ({"test_size": 1.5}, "test_size"),
        ({"train_kwargs": {"cscgan": {}}}, "not in methods"),
    ],
)
def test_bad_input_is_one_line(data, kwargs, match):
    args = {"target": "type_1", "methods": ["smote"], **kwargs}
    with pytest.raises(scaug.ScaugInputError, match=match):
        scaug.bench.downsampling(data, "cell_type", args.pop("target"), args.pop("methods"), **args, **FAST)


def test_plot_and_summary(data, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    table = scaug.bench.downsampling(data, "cell_type", "type_1", ["smote"], n_kept=[10, 3], **FAST)
    ax = scaug.pl.downsampling(table, show=False)
    assert ax.get_xlabel() == "target cells kept for training"
    assert {t.get_text() for t in ax.get_legend().get_texts()} >= {"smote", "no augmentation"}
    scaug.pl.downsampling(table, show=False, save=str(tmp_path / "ds.png"))
    assert (tmp_path / "ds.png").stat().st_size > 0
    summary = scaug.bench.summarise("downsampling", table)
    assert summary.index.get_level_values("n_kept").tolist() == [10, 10, 10, 3, 3, 3]
    with pytest.raises(scaug.ScaugInputError, match="metric"):
        scaug.pl.downsampling(table, metric="auc", show=False)
