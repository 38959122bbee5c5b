"""scGAN / cscGAN: small, fast checks on simulated data (a few generator steps, tiny networks)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pytest
import torch
from scipy import sparse

import scaug
from scaug.cli import main
from scaug.models import CSCGAN, SCGAN
from scaug.models._counts import (
    RowStack,
    dense_draw_csr,
    generator_on,
    poisson_csr,
    sample_counts,
    sample_from_profiles,
)
from scaug.models._gan import LSN, GANModule, GANTrainingError, ProjectionCritic

SMALL = {"n_latent": 8, "n_hidden_generator": (16,), "n_hidden_critic": (16,), "n_top_genes": 40}
QUICK = {"max_steps": 3, "batch_size": 64, "enable_progress_bar": False}


@pytest.fixture
def sim_sparse(sim):
    """``sim`` with one gene detected in 2 cells only (not modelled) and CSR counts."""
    X = sim.X.toarray() if sparse.issparse(sim.X) else np.array(sim.X)
    X[:, 0] = 0
    X[:2, 0] = 5
    out = sim.copy()
    out.X = sparse.csr_matrix(X.astype(np.float32))
    return out


def _train(adata, method="cscgan", random_state=0, model_kwargs=None, **train_kwargs):
    return scaug.tl.train_generator(
        adata,
        method,
        labels_key="cell_type",
        random_state=random_state,
        model_kwargs={**SMALL, **(model_kwargs or {})},
        train_kwargs={**QUICK, **train_kwargs},
    )


@pytest.fixture(scope="module")
def trained():
    adata = scaug.datasets.simulate(600, 100, 4, imbalance=0.05, random_state=0)
    X = adata.X.toarray() if sparse.issparse(adata.X) else np.array(adata.X)
    X[:, 0] = 0
    X[:2, 0] = 5
    adata.X = sparse.csr_matrix(X.astype(np.float32))
    return adata, _train(adata)


def test_layers():
    x = torch.randn(6, 9)
    for activation in ("softmax", "relu"):
        out = LSN(50.0, activation=activation)(x)
        assert torch.allclose(out.sum(1), torch.full((6,), 50.0)) and (out >= 0).all()
    # softmax leaves every gene a share (sporadic expression can be learnt), ReLU zeroes some
    assert (LSN(50.0)(x) > 0).all() and (LSN(50.0, activation="relu")(x) == 0).any()
    assert torch.equal(LSN(None)(x), torch.relu(x))
    critic = ProjectionCritic(9, n_hidden=(4,), n_labels=3)
    x = torch.rand(2, 9)
    # the label projection starts at zero: equal scores for any label until trained
    assert torch.allclose(critic(x, torch.tensor([0, 0])), critic(x, torch.tensor([2, 1])))


def test_counted_draws_counts_with_a_straight_through_gradient():
    module = GANModule(30, 2, n_hidden_generator=(8,), n_hidden_critic=(8,), library_size=1e4)
    profiles = (torch.rand(50, 30) * 2).softmax(dim=1).mul(1e4).requires_grad_(True)
    library = torch.full((50,), 400.0)
    for sampler, draw in [
        ("poisson", torch.poisson),
        ("round", lambda e: torch.floor(e) + (torch.rand_like(e) < e - torch.floor(e)).float()),
    ]:
        torch.manual_seed(0)
        out = module.counted(profiles, library, sampler=sampler)
        torch.manual_seed(0)
        counts = draw(profiles.detach() * 400 / 1e4)
        # the critic sees the drawn counts, normalised like real cells ...
        assert torch.allclose(out, counts / counts.sum(1, keepdim=True) * 1e4)
        # ... and the generator gets the gradient of the profile itself
        (grad,) = torch.autograd.grad(out.sum(), profiles)
        assert torch.equal(grad, torch.ones_like(grad))


def test_library_conditioning():
    module = GANModule(30, 2, n_hidden_generator=(8,), n_hidden_critic=(8,), n_latent=4)
    module.set_library_sizes(np.array([500.0, 1000.0, 2000.0]))
    assert torch.allclose(module.log_library[0], torch.tensor(np.log([500.0, 1000.0, 2000.0]).mean()).float())
    module.eval()
    labels, z = torch.tensor([0, 0]), torch.randn(1, 4).repeat(2, 1)
    # the same noise at another library size gives another profile, and the critic sees the size too
    x = module.generate(labels, z=z, library=torch.tensor([300.0, 3000.0]))
    assert not torch.allclose(x[0], x[1])
    torch.nn.init.normal_(module.critic.features[0].weight)
    same = x[:1].repeat(2, 1)
    assert not torch.allclose(*module.score(same, labels, torch.tensor([300.0, 3000.0])))
    with pytest.raises(ValueError, match="pass library="):
        module.generate(labels)
    # the published, unconditioned generator takes noise only
    plain = GANModule(30, 2, n_hidden_generator=(8,), n_hidden_critic=(8,), condition_on_library=False)
    assert plain.generate(labels).shape == (2, 30)


def test_row_stack_matches_vstack():
    rng = np.random.default_rng(0)
    blocks = [
        sparse.random(n, 40, density=0.2, format="csr", dtype=np.float32, random_state=i)
        for i, n in enumerate([5, 0, 17, 3])
    ]
    for block in blocks:
        block.sort_indices()
    stack = RowStack(sum(b.shape[0] for b in blocks) + 4, 40)  # room for more rows than come
    for block in blocks:
        stack.append(block)
    out = stack.tocsr()
    expected = sparse.vstack(blocks, format="csr")
    assert out.shape == expected.shape and (out != expected).nnz == 0 and out.has_sorted_indices
    with pytest.raises(ValueError, match="more than"):
        RowStack(2, 40).append(sparse.csr_matrix(rng.random((3, 40))))


def test_poisson_csr_is_poisson():
    # one rate per column, from far below one (decided by 16 random bits) past direct_rate
    lam = np.array([0.0, 1e-6, 0.01, 0.2, 0.9, 2.5, 3.0, 7.0, 50.0], dtype=np.float32)
    n = 40_000
    X = poisson_csr(np.tile(lam, (n, 1)), np.random.default_rng(0), block_rows=3000)
    assert X.has_sorted_indices and np.array_equal(X.data, np.round(X.data)) and (X.data > 0).all()
    dense = X.toarray()
    assert dense[:, 0].sum() == 0 and dense[:, 1].sum() <= 3  # expected 0.04 counts
    se = np.sqrt(lam / n)
    assert (np.abs(dense.mean(0) - lam) <= 5 * se + 1e-9).all()
    assert (np.abs(dense.var(0) - lam)[3:] <= 0.05 * lam[3:]).all()
    for k in (0, 1, 2):
        expected = np.exp(-lam.astype(np.float64)) * lam**k / np.prod(np.arange(1, k + 1))
        observed = (dense == k).mean(0)
        assert (np.abs(observed - expected) <= 5 * np.sqrt(expected * (1 - expected) / n) + 1e-9).all(), k
    # small rates, where most of a cell's genes are, with the power to see a bias of 10 %
    small = poisson_csr(np.tile(np.float32([0.01, 0.001]), (400_000, 1)), np.random.default_rng(1))
    assert (np.abs(small.sum(0).A1 - [4000, 400]) <= 5 * np.sqrt([4000, 400])).all()
    # the same counts whatever the number of threads; another seed, other counts
    rates = np.random.default_rng(1).gamma(0.3, 2.0, size=(1500, 300)).astype(np.float32)
    one = poisson_csr(rates, np.random.default_rng(3), n_threads=1)
    two = poisson_csr(rates, np.random.default_rng(3), n_threads=2)
    assert (one != two).nnz == 0
    assert (one != poisson_csr(rates, np.random.default_rng(4))).nnz > 0


def test_counts_drawn_on_the_profiles_device_come_back_sparse_and_seeded():
    # the path a GPU takes (Poisson draws with torch, only non-zero counts to the CPU), run on the CPU
    rates = torch.as_tensor(np.random.default_rng(0).gamma(0.3, 2.0, size=(2000, 50)), dtype=torch.float32)
    rates[:, 7] = 0
    X = dense_draw_csr(rates, "poisson", torch.Generator().manual_seed(0))
    assert X.has_sorted_indices and X[:, 7].nnz == 0 and np.array_equal(X.data, np.round(X.data))
    assert np.abs(X.toarray().mean(0) - rates.numpy().mean(0)).max() < 0.15
    assert (dense_draw_csr(rates, "poisson", torch.Generator().manual_seed(0)) != X).nnz == 0
    # a generator for another device is seeded by one draw from the caller's generator: same seed, same generator
    cpu = torch.device("cpu")
    same = [generator_on(cpu, np.random.default_rng(5)).initial_seed() for _ in range(2)]
    assert same[0] == same[1] != generator_on(cpu, np.random.default_rng(6)).initial_seed()
    rng = torch.Generator().manual_seed(1)
    assert generator_on(cpu, rng) is rng


def test_count_sampling_matches_library_sizes():
    profiles = torch.rand(200, 30)
    profiles[:, 3] = 0
    library = np.full(200, 1000.0)
    counts = sample_counts(profiles, library, sampler="multinomial", rng=np.random.default_rng(0))
    assert (counts.sum(axis=1).A1 == 1000).all()
    poisson = sample_counts(profiles, library, sampler="poisson", rng=np.random.default_rng(0))
    assert abs(poisson.sum(axis=1).A1.mean() - 1000) < 20 and poisson[:, 3].nnz == 0
    assert np.array_equal(poisson.data, np.round(poisson.data))
    # rounding moves each of the 29 expressed genes by less than one count, and is unbiased
    rounded = sample_counts(profiles, library, rng=torch.Generator().manual_seed(0))
    expected = (profiles / profiles.sum(1, keepdim=True) * 1000).numpy()
    assert np.abs(rounded.toarray() - expected).max() < 1 and rounded[:, 3].nnz == 0
    assert (np.abs(rounded.sum(axis=1).A1 - 1000) < 29).all()
    assert abs(rounded.toarray().mean(0) - expected.mean(0)).max() < 0.1
    assert rounded.has_sorted_indices and np.array_equal(rounded.data, np.round(rounded.data))
    # background genes: Poisson counts around each label's profile, from dense and tail genes alike
    rng = np.random.default_rng(1)
    p = rng.random((3, 400)) ** 8  # a few high genes (drawn densely) and a long tail
    p[:, 5] = 0
    p /= p.sum(1, keepdims=True)
    rows, totals = rng.integers(0, 3, 3000), rng.integers(0, 300, 3000)
    totals[:10] = 0
    bg = sample_from_profiles(p, rows, totals, rng)
    assert bg.has_canonical_format and bg[:10].nnz == 0 and bg[:, 5].nnz == 0
    assert np.array_equal(bg.data, np.round(bg.data))
    sums = bg.sum(axis=1).A1
    assert abs(sums.sum() / totals.sum() - 1) < 0.01 and abs(np.var(sums - totals) / totals.mean() - 1) < 0.15
    dense = p.max(0) * np.median(totals) >= 2.0
    assert dense.sum() > 5 and (~dense).sum() > 5  # both paths are exercised
    for r in range(3):
        observed = bg[rows == r].sum(axis=0).A1
        assert np.abs(observed / observed.sum() - p[r]).max() < 0.01


def test_cscgan_samples_counts_of_requested_labels(trained):
    adata, model = trained
    X, labels = model.sample({"type_3": 7, "type_0": 5}, random_state=1)
    assert X.shape == (12, adata.n_vars)
    assert labels.tolist() == ["type_3"] * 7 + ["type_0"] * 5
    assert np.array_equal(X.data, np.round(X.data)) and X.data.min() > 0
    assert X[:, 0].nnz == 0  # detected in 2 cells: not modelled, zero
    assert model.var_names.equals(adata.var_names) and model.counts
    assert len(model.modelled_genes) == 40 and len(model.background_genes_) == 59
    assert model.params["generator_steps"] == 3
    assert isinstance(scaug.Generator, type) and isinstance(model, scaug.Generator)


def test_max_steps_counts_generator_steps(trained):
    _, model = trained
    plan = model.trainer.lightning_module
    assert plan.generator_steps == 3 and plan.critic_steps == 3 * plan.n_critic
    assert model.trainer.global_step == 3 * (plan.n_critic + 1)  # Lightning counts both optimizers
    assert {"wasserstein_train", "critic_loss_train", "generator_loss_train"} <= set(model.history.columns)


def test_same_seed_same_cells(sim):
    a = _train(sim, random_state=3)
    b = _train(sim, random_state=3)
    x = a.sample({"type_1": 20}, random_state=5)[0]
    assert (x != b.sample({"type_1": 20}, random_state=5)[0]).nnz == 0
    assert (x != a.sample({"type_1": 20}, random_state=6)[0]).nnz > 0


def test_save_load_round_trip(trained, tmp_path):
    _, model = trained
    model.save(tmp_path / "m", overwrite=True)
    torch.load(tmp_path / "m" / "model.pt", weights_only=True)  # tensors and plain values only
    loaded = scaug.models.load_model(str(tmp_path / "m"))
    assert type(loaded) is CSCGAN and loaded.labels == model.labels
    x1, l1 = model.sample({"type_2": 15}, random_state=2)
    x2, l2 = loaded.sample({"type_2": 15}, random_state=2)
    assert (x1 != x2).nnz == 0 and (l1 == l2).all()
    critic_keys = [k for k in loaded.module.state_dict() if k.startswith("critic.")]
    assert critic_keys  # the critic is saved with the generator


def test_augment_and_generate_with_cscgan(sim, trained):
    aug = scaug.tl.augment(
        sim, "cscgan", labels_key="cell_type", model_kwargs=SMALL, train_kwargs=QUICK, random_state=0
    )
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    assert syn.n_obs > 0 and (aug.obs.loc[syn.obs_names, "scaug_method"] == "cscgan").all()
    assert np.array_equal(aug[: sim.n_obs].X.toarray(), sim.X.toarray() if sparse.issparse(sim.X) else sim.X)
    model = trained[1]
    out = scaug.tl.generate(model, {"type_3": 9}, labels_key="cell_type")
    assert out.n_obs == 9 and (out.obs["cell_type"] == "type_3").all()
    again = scaug.tl.augment(sim, model, labels_key="cell_type", n_cells={"type_0": 4})
    assert again.obs["scaug_synthetic"].sum() == 4


def test_scgan_labels_generated_cells(sim):
    model = _train(sim, "scgan")
    X, labels = model.sample({"type_0": 10, "type_3": 3}, random_state=0)
    assert X.shape[0] == len(labels) <= 13
    assert set(labels) <= {"type_0", "type_3"} and (labels == "type_0").sum() <= 10
    assert scaug.methods().loc["scgan", "conditional"] == False  # noqa: E712


def test_continuous_space_round_trip(sim):
    logn = sim.copy()
    X = logn.X.toarray() if sparse.issparse(logn.X) else np.array(logn.X, dtype=np.float64)
    logn.X = sparse.csr_matrix(np.log1p(X / X.sum(1, keepdims=True) * 1e4).astype(np.float32))
    # by default the counts behind log1p(normalize_total) are recovered and modelled ...
    assert _train(logn, max_steps=2).space == "counts"
    # ... unless the log values are to be modelled as they are
    model = _train(logn, model_kwargs={"space": "continuous"})
    assert not model.counts and model.space == "continuous"
    X, _ = model.sample({"type_1": 10}, random_state=0)
    assert X.min() >= 0 and not np.array_equal(X.data, np.round(X.data))


def test_normalized_output(sim):
    model = _train(sim, model_kwargs={"output": "normalized"})
    X, _ = model.sample({"type_1": 5}, random_state=0)
    assert not model.counts and np.allclose(X.sum(axis=1).A1, 20_000, rtol=1e-4)


def test_published_preset(sim):
    model = scaug.tl.train_generator(
        sim, "cscgan", labels_key="cell_type", model_kwargs={"preset": "published"}, train_kwargs=QUICK
    )
    assert model.params["n_hidden_generator"] == [256, 512, 1024] and model.params["n_critic"] == 5
    assert len(model.modelled_genes) == sim.n_vars  # every gene of sim is detected in >= 3 cells
    # scGAN as published: ReLU output, no library conditioning, the critic scores profiles directly
    assert model.params["output_activation"] == "relu" and not model.module.condition_on_library
    assert model.params["count_noise"] == "off" and model.trainer.lightning_module.count_noise is None


def test_early_stopping_monitors_validation_wasserstein(sim):
    model = _train(sim, max_steps=None, max_epochs=2, early_stopping=True, early_stopping_patience=1)
    assert "wasserstein_validation" in model.history.columns


def test_nan_loss_stops_with_clear_error(sim):
    CSCGAN.setup_anndata(sim, labels_key="cell_type")
    model = CSCGAN(sim, **SMALL)
    with torch.no_grad():
        model.module.critic.output.weight.fill_(float("nan"))
    with pytest.raises(GANTrainingError, match="critic loss became nan"):
        model.train(**QUICK)


def test_divergence_keeps_the_last_good_weights(sim):
    import lightning.pytorch as pl

    class Diverge(pl.Callback):
        """Poison the critic after the fourth generator step, as a diverging run would."""

        def on_train_batch_end(self, trainer, plan, *args):
            if plan.generator_steps == 4:
                with torch.no_grad():
                    plan.module.critic.output.weight.fill_(float("inf"))

    CSCGAN.setup_anndata(sim, labels_key="cell_type")
    model = CSCGAN(sim, **SMALL)
    with pytest.raises(GANTrainingError, match="holds its weights of generator step 4"):
        model.train(**{**QUICK, "max_steps": 10}, plan_kwargs={"checkpoint_every": 2}, callbacks=[Diverge()])
    assert all(torch.isfinite(p).all() for p in model.module.parameters())
    X, _ = model.sample({"type_0": 20}, random_state=0)
    assert np.isfinite(X.toarray()).all()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_kwargs": {"n_hidden": 3}}, "unknown model_kwargs"),
        ({"model_kwargs": {"preset": "slow"}}, "unknown preset"),
        ({"model_kwargs": {"output": "probabilities"}}, "output must be"),
        ({"train_kwargs": {"max_stepz": 3}}, "unknown train_kwargs"),
    ],
)
def test_bad_options(sim, kwargs, message):
    with pytest.raises(scaug.ScaugInputError, match=message):
        scaug.tl.train_generator(sim, "cscgan", labels_key="cell_type", **kwargs)


def test_bad_input(trained, tmp_path, sim):
    _, model = trained
    with pytest.raises(scaug.ScaugInputError, match="unknown labels"):
        model.sample({"nope": 3})
    with pytest.raises(scaug.ScaugInputError, match="no saved scaug model"):
        scaug.models.load_model(str(tmp_path))
    unlabelled = sim.copy()
    unlabelled.obs["cell_type"] = unlabelled.obs["cell_type"].astype(object)
    unlabelled.obs.iloc[0, unlabelled.obs.columns.get_loc("cell_type")] = None
    with pytest.raises(scaug.ScaugInputError, match="missing labels"):
        SCGAN.setup_anndata(unlabelled, labels_key="cell_type")


def test_cli_train_then_augment_and_generate_with_model(sim, tmp_path, capsys):
    data = tmp_path / "sim.h5ad"
    sim.write_h5ad(data)
    model_dir = tmp_path / "model"
    kwargs = [
        "--model-kwargs",
        '{"n_latent": 8, "n_hidden_generator": [16], "n_hidden_critic": [16]}',
        "--train-kwargs",
        '{"max_steps": 2, "enable_progress_bar": false}',
    ]
    assert main(["train", "-i", str(data), "-o", str(model_dir), "--labels-key", "cell_type", *kwargs]) == 0
    assert main(["train", "-i", str(data), "-o", str(model_dir), "--labels-key", "cell_type"]) == 2
    assert "already exists" in capsys.readouterr().err
    out = tmp_path / "aug.h5ad"
    assert (
        main(
            [
                "augment",
                "-i",
                str(data),
                "-o",
                str(out),
                "--labels-key",
                "cell_type",
                "--model",
                str(model_dir),
            ]
        )
        == 0
    )
    assert set(ad.read_h5ad(out).obs["scaug_method"]) == {"real", "cscgan"}
    syn = tmp_path / "syn.h5ad"
    assert (
        main(
            [
                "generate",
                "-o",
                str(syn),
                "--labels-key",
                "cell_type",
                "--model",
                str(model_dir),
                "--n-cells",
                "type_2=6",
            ]
        )
        == 0
    )
    assert ad.read_h5ad(syn).n_obs == 6
    assert (
        main(
            ["train", "-i", str(data), "-o", str(tmp_path / "s"), "--labels-key", "cell_type", "-m", "smote"]
        )
        == 2
    )
