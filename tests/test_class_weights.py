"""Per-label loss weights: both schemes against their formulas, and the input checks."""

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from sklearn.utils.class_weight import compute_class_weight

import scaug
from scaug import ScaugInputError
from scaug.tl._class_weights import class_weights_from_counts

# 6 B cells, 3 T cells, 1 Mk cell and one unlabelled cell
LABELS = ["B"] * 6 + ["T"] * 3 + ["Mk"] + [None]
NAMES = [f"cell{i}" for i in range(len(LABELS))]


@pytest.fixture
def small():
    return ad.AnnData(
        np.ones((len(LABELS), 3), dtype=np.float32), obs=pd.DataFrame({"cell_type": LABELS}, index=NAMES)
    )


def test_balanced_matches_formula(small):
    w = scaug.tl.class_weights(small, "cell_type")
    # n_cells / (n_labels * n_label) with 10 labelled cells, 3 labels; the unlabelled cell is ignored
    assert w.to_dict() == pytest.approx({"B": 10 / 18, "Mk": 10 / 3, "T": 10 / 9})
    assert list(w.index) == ["B", "Mk", "T"]
    assert w.dtype == np.float64


def test_balanced_matches_sklearn(small):
    y = np.array([lab for lab in LABELS if lab is not None])
    expected = compute_class_weight("balanced", classes=np.array(["B", "Mk", "T"]), y=y)
    assert scaug.tl.class_weights(small, "cell_type").to_numpy() == pytest.approx(expected)


def test_effective_number_matches_formula(small):
    beta = 0.9
    w = scaug.tl.class_weights(small, "cell_type", scheme="effective_number", beta=beta)
    raw = {lab: (1 - beta) / (1 - beta**n) for lab, n in {"B": 6, "Mk": 1, "T": 3}.items()}
    total = sum(raw.values())
    assert w.to_dict() == pytest.approx({lab: v * 3 / total for lab, v in raw.items()})
    assert w.sum() == pytest.approx(3)
    assert w["Mk"] > w["T"] > w["B"]


def test_effective_number_limits():
    counts = pd.Series({"a": 1000, "b": 10})
    assert class_weights_from_counts(counts, scheme="effective_number", beta=0.0).tolist() == [1.0, 1.0]
    # beta -> 1: inverse frequency, normalised to sum to the number of labels
    near_one = class_weights_from_counts(counts, scheme="effective_number", beta=1 - 1e-9)
    inverse = (1 / counts) * 2 / (1 / counts).sum()
    assert near_one.to_numpy() == pytest.approx(inverse.to_numpy(), rel=1e-4)
    # the study's beta = 0.9999 sits between the two for these sizes
    default = class_weights_from_counts(counts, scheme="effective_number")
    assert 1 < default["b"] < near_one["b"]


def test_labels_of_any_dtype_become_strings():
    adata = ad.AnnData(np.ones((3, 2)), obs=pd.DataFrame({"cluster": [1, 1, 2]}, index=["a", "b", "c"]))
    assert scaug.tl.class_weights(adata, "cluster").index.tolist() == ["1", "2"]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"scheme": "inverse"}, "scheme must be one of"),
        ({"scheme": "effective_number", "beta": 1.0}, r"beta must be a number in \[0, 1\)"),
        ({"beta": -0.1}, "beta must be"),
        ({"beta": True}, "beta must be"),
        ({"beta": "0.9"}, "beta must be"),
    ],
)
def test_bad_options(small, kwargs, match):
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.class_weights(small, "cell_type", **kwargs)
    assert "\n" not in str(err.value)


def test_missing_column_and_empty_labels(small):
    with pytest.raises(ScaugInputError, match="not a column"):
        scaug.tl.class_weights(small, "nope")
    small.obs["none"] = np.nan
    with pytest.raises(ScaugInputError, match="no labels"):
        scaug.tl.class_weights(small, "none")


def test_pure_function_refuses_empty_labels():
    with pytest.raises(ScaugInputError, match="positive number of cells"):
        class_weights_from_counts(pd.Series({"a": 3, "b": 0}))
