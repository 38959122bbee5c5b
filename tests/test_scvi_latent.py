from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from scipy import sparse

import scaug
from scaug.models.scvi import SCVIPPC, SCVILatent, label_regions, smoothed_draws

QUIET = {"enable_progress_bar": False}

pytestmark = pytest.mark.usefixtures("one_thread")


def _data() -> sc.AnnData:
    """300 simulated cells of 3 well-separated types, with a 2-cell label ("pair") taken from type_2."""
    adata = scaug.datasets.simulate(
        300, 60, 3, program_size=0.3, fold_change=4.0, imbalance=0.5, random_state=0
    )
    labels = adata.obs["cell_type"].astype(str).to_numpy().copy()
    labels[np.flatnonzero(labels == "type_2")[:2]] = "pair"
    adata.obs["cell_type"] = pd.Categorical(labels)
    return adata


@pytest.fixture(scope="module")
def data() -> sc.AnnData:
    return _data()


@pytest.fixture(scope="module")
def model(data) -> SCVILatent:
    torch.set_num_threads(1)
    return scaug.tl.train_generator(
        data, "scvi", labels_key="cell_type", max_epochs=100, random_state=0, train_kwargs=QUIET
    )


def test_label_regions_shrink_small_labels_towards_the_pooled_scatter():
    rng = np.random.default_rng(0)
    wide = rng.normal(0, [3.0, 0.5], size=(400, 2))
    narrow = rng.normal(10, [0.5, 3.0], size=(400, 2))
    one = np.array([[-20.0, 5.0]])
    means = np.vstack([wide, narrow, one])
    codes = np.repeat([0, 1, 2], [400, 400, 1])
    variances = np.full_like(means, 0.01)
    centres, covs = label_regions(means, variances, codes, 4, prior_cells=2)
    np.testing.assert_allclose(centres[2], [-20.0, 5.0])
    # A big label keeps (nearly) its own shape; the 1-cell label takes the pooled one.
    np.testing.assert_allclose(np.diag(covs[0]), [9.0, 0.25], rtol=0.15)
    np.testing.assert_allclose(np.diag(covs[1]), [0.25, 9.0], rtol=0.15)
    pooled = (np.cov(wide.T) + np.cov(narrow.T)) / 2
    np.testing.assert_allclose(covs[2], pooled + 0.01 * np.eye(2), rtol=1e-6)
    # Posterior variances add to the scatter; a label without cells has no region.
    assert np.isnan(centres[3]).all()
    assert np.isnan(covs[3]).all()


def test_smoothed_draws_keep_the_labels_scatter_and_fill_between_its_cells():
    rng = np.random.default_rng(0)
    cells = rng.normal(0, [2.0, 0.5], size=(6, 2))  # the posterior means of a label's cells
    centre = cells.mean(axis=0)
    scatter = np.cov(cells.T)
    sources = rng.integers(0, 6, 200_000)
    n = len(sources)
    args = (cells[sources], np.zeros((n, 2)), np.tile(centre, (n, 1)))
    factor = np.tile(np.linalg.cholesky(scatter), (n, 1, 1))
    # The kernel moves draws off the cells, but the variance correction keeps the label's scatter
    # (of the 6 cells, ddof 0, plus the kernel's share): without it the spread would be 1 + h^2 wider.
    z = smoothed_draws(*args, factor, bandwidth=1.0, rng=rng)
    expected = (np.cov(cells.T, ddof=0) + scatter) / 2
    np.testing.assert_allclose(np.cov(z.T), expected, rtol=0.03, atol=0.01)
    np.testing.assert_allclose(z.mean(axis=0), centre, atol=0.02)
    assert np.min(np.abs(z[:, None, :] - cells[None]).sum(axis=2), axis=1).min() > 0
    # Bandwidth 0: each draw is its cell's posterior (here a point: the cell itself).
    exact = smoothed_draws(*args, factor, bandwidth=0.0, rng=rng)
    np.testing.assert_allclose(exact, cells[sources])


def test_registered_as_a_deep_method_that_needs_one_cell():
    spec = scaug.methods().loc["scvi"]
    assert spec["kind"] == "deep"
    assert spec["min_cells"] == 1


def test_generates_each_label_as_counts_inside_its_own_region(model, data):
    request = {"type_0": 60, "type_1": 60, "type_2": 60, "pair": 30}
    x, labels = model.sample(request, random_state=0)
    assert isinstance(model, SCVILatent)
    assert model.method == "scvi"
    assert sparse.isspmatrix_csr(x)
    assert x.shape == (210, data.n_vars)
    assert list(labels) == [lab for lab, n in request.items() for _ in range(n)]
    assert np.array_equal(x.data, np.round(x.data)) and (x.data >= 0).all()
    # A classifier trained on the real cells' log-normalised expression (pair → type_2, its
    # origin) gives most synthetic cells their own label: the latent stays in the label's region.
    real = sc.pp.log1p(sc.pp.normalize_total(data, target_sum=1e4, copy=True), copy=True)
    synthetic = sc.AnnData(x)
    sc.pp.normalize_total(synthetic, target_sum=1e4)
    sc.pp.log1p(synthetic)
    from sklearn.neighbors import KNeighborsClassifier

    truth = real.obs["cell_type"].astype(str).replace({"pair": "type_2"})
    knn = KNeighborsClassifier(15).fit(np.asarray(real.X.todense()), truth)
    called = knn.predict(np.asarray(synthetic.X.todense()))
    expected = pd.Series(labels).replace({"pair": "type_2"}).to_numpy()
    assert (called == expected).mean() > 0.85


def test_cells_are_not_copies_of_the_two_source_cells(model, data):
    x, _ = model.sample({"pair": 20}, random_state=1)
    pair = data.X[np.flatnonzero(data.obs["cell_type"] == "pair")].toarray()
    drawn = x.toarray()
    for cell in pair:
        assert not (drawn == cell).all(axis=1).any()
    # Latents are drawn from a region, not the two posteriors: the 20 cells differ between them.
    assert len({row.tobytes() for row in drawn}) == 20


def test_sampling_is_seeded_and_prior_cells_matters(model):
    request = {"type_1": 6, "pair": 6}
    a, _ = model.sample(request, random_state=3)
    torch.manual_seed(11)
    expected = torch.rand(3)
    torch.manual_seed(11)
    b, _ = model.sample(request, random_state=3)
    assert torch.equal(torch.rand(3), expected)
    assert (a != b).nnz == 0
    assert (a != model.sample(request, random_state=4)[0]).nnz > 0
    assert (a != model.sample(request, random_state=3, prior_cells=1000)[0]).nnz > 0
    assert (a != model.sample(request, random_state=3, bandwidth=1.0)[0]).nnz > 0


def test_one_gaussian_per_label_is_offered(model, data):
    x, labels = model.sample({"type_0": 5, "pair": 5}, random_state=0, latent="gaussian")
    assert x.shape == (10, data.n_vars)
    assert list(labels) == ["type_0"] * 5 + ["pair"] * 5
    assert np.array_equal(x.data, np.round(x.data))


@pytest.mark.parametrize(
    ("options", "message"),
    [({"latent": "prior"}, "latent must be"), ({"bandwidth": -1.0}, "bandwidth must be")],
)
def test_bad_sampling_options_are_refused_in_one_line(model, options, message):
    with pytest.raises(scaug.ScaugInputError, match=message):
        model.sample({"type_0": 2}, **options)


def test_save_and_load_model_give_the_same_cells(model, tmp_path):
    model.save(tmp_path / "scvi", overwrite=True)
    torch.load(tmp_path / "scvi" / "model.pt", weights_only=True)
    loaded = scaug.models.load_model(str(tmp_path / "scvi"))
    assert type(loaded) is SCVILatent
    request = {"type_2": 4, "pair": 3}
    x, _ = model.sample(request, random_state=5)
    assert (loaded.sample(request, random_state=5)[0] != x).nnz == 0


def test_augment_marks_the_cells_as_scvi(data):
    out = scaug.tl.augment(
        data,
        "scvi",
        labels_key="cell_type",
        n_cells={"pair": 5},
        random_state=0,
        train_kwargs={"max_epochs": 2, **QUIET},
    )
    synthetic = out[out.obs["scaug_synthetic"].astype(bool)]
    assert synthetic.n_obs == 5
    assert set(synthetic.obs["scaug_method"].astype(str)) == {"scvi"}
    assert out[: data.n_obs].X.nnz == data.X.nnz


def test_ppc_and_latent_models_share_training():
    assert issubclass(SCVILatent, SCVIPPC)
