import numpy as np
import pytest

import scaug


def test_simulate_counts_labels_and_imbalance():
    adata = scaug.datasets.simulate(3_000, 200, 5, imbalance=1 / 150, random_state=1)
    assert adata.shape == (3_000, 200)
    data = adata.X.data
    assert np.array_equal(data, np.floor(data)) and data.min() > 0
    sizes = adata.obs["cell_type"].value_counts()
    assert sizes.max() / sizes.min() == pytest.approx(150, rel=0.35)
    # label programmes are visible in the counts: each label's mean profile correlates best with its own truth
    profile = adata.varm["true_profile"]
    for i, name in enumerate(adata.obs["cell_type"].cat.categories):
        cells = adata[adata.obs["cell_type"] == name].X
        mean = np.asarray(cells.sum(axis=0)).ravel()
        corr = [np.corrcoef(np.log1p(mean), np.log1p(profile[:, j] * 1e5))[0, 1] for j in range(5)]
        assert int(np.argmax(corr)) == i


def test_simulate_reproducible_and_seed_dependent():
    a = scaug.datasets.simulate(300, 50, 3, random_state=3)
    b = scaug.datasets.simulate(300, 50, 3, random_state=3)
    c = scaug.datasets.simulate(300, 50, 3, random_state=4)
    assert (a.X != b.X).nnz == 0
    assert (a.X != c.X).nnz > 0


def test_simulate_library_size_varies_and_dropout():
    adata = scaug.datasets.simulate(1_000, 300, 2, library_sd=0.5, random_state=0)
    lib = np.asarray(adata.X.sum(axis=1)).ravel()
    assert lib.std() / lib.mean() > 0.3
    assert 0.05 < 1 - adata.X.nnz / np.prod(adata.shape) < 0.99


@pytest.mark.parametrize("kwargs", [{"imbalance": 0}, {"n_cells": 2, "n_labels": 3}])
def test_simulate_bad_input(kwargs):
    with pytest.raises(scaug.ScaugInputError):
        scaug.datasets.simulate(**{"n_cells": 100, "n_genes": 10, "n_labels": 2, **kwargs})
