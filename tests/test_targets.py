import pandas as pd
import pytest

from scaug import ScaugInputError
from scaug._targets import resolve_targets

COUNTS = pd.Series({"B": 100, "T": 60, "DC": 30, "Mk": 3})


def test_balance_brings_small_labels_to_median():
    assert resolve_targets(COUNTS, "balance") == {"DC": 15, "Mk": 42}


@pytest.mark.parametrize(
    ("target", "expected"), [(80, {"T": 20, "DC": 50, "Mk": 77}), ("max", {"T": 40, "DC": 70, "Mk": 97})]
)
def test_balance_target(target, expected):
    assert resolve_targets(COUNTS, "balance", target=target) == expected


def test_int_spreads_by_frequency_and_adds_up():
    out = resolve_targets(COUNTS, 97)
    assert sum(out.values()) == 97
    assert out["B"] > out["T"] > out["DC"] >= out["Mk"]


def test_dict_exact_and_zero_dropped():
    assert resolve_targets(COUNTS, {"Mk": 10, "B": 0}) == {"Mk": 10}


def test_min_cells_one_rule():
    """A label named in a dict is an error; a label a rule would fill is skipped, with its reason."""
    with pytest.raises(ScaugInputError, match=r"'Mk' \(3 cells\)"):
        resolve_targets(COUNTS, {"Mk": 10, "DC": 5}, min_cells=5, method="x")
    balanced = resolve_targets(COUNTS, "balance", min_cells=5, method="x")
    assert balanced == {"DC": 15} and list(balanced.skipped) == ["Mk"]
    assert "3 training cells" in balanced.skipped["Mk"] and "5" in balanced.skipped["Mk"]
    total = resolve_targets(COUNTS, 100, min_cells=5, method="x")
    assert sum(total.values()) == 100 and "Mk" not in total and list(total.skipped) == ["Mk"]
    assert resolve_targets(COUNTS, "balance").skipped == {}


def test_nothing_left_to_generate_is_an_error():
    with pytest.raises(ScaugInputError, match=r"'Mk' \(3 cells\)"):
        resolve_targets(COUNTS, "balance", target=50, min_cells=40, method="x")


def test_int_skips_labels_too_small_to_learn():
    assert "Mk" not in resolve_targets(COUNTS, 50, min_cells=5)


@pytest.mark.parametrize(
    ("n_cells", "match"),
    [
        ({"Nope": 3}, "unknown labels"),
        ({"B": -1}, "non-negative"),
        (-5, "non-negative"),
        ("lots", "balance"),
        (2.5, "balance"),
    ],
)
def test_bad_n_cells(n_cells, match):
    with pytest.raises(ScaugInputError, match=match):
        resolve_targets(COUNTS, n_cells)


def test_bad_target():
    with pytest.raises(ScaugInputError, match="target"):
        resolve_targets(COUNTS, "balance", target=-3)
