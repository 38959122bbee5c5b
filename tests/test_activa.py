"""ACTIVA (``activa``): introspective loss terms, label regions, both generation modes, files, seeds."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from scipy import sparse

import scaug
from scaug import ScaugInputError
from scaug.models.activa import (
    ACTIVA,
    PAPER,
    ACTIVAModule,
    IntrospectiveTrainingPlan,
    decoder_loss,
    encoder_loss,
    kl_divergence,
)

QUIET = {"enable_progress_bar": False}
SMALL = {"n_hidden": (64, 32), "n_latent": 8}
REQUEST = {"type_0": 4, "type_1": 3, "five": 6, "pair": 5, "one": 3}

pytestmark = pytest.mark.usefixtures("one_thread")


def _data() -> sc.AnnData:
    """300 simulated cells with labels of 5 ("five"), 2 ("pair") and 1 ("one") cells."""
    adata = scaug.datasets.simulate(300, 60, 3, random_state=0)
    labels = adata.obs["cell_type"].astype(str).to_numpy().copy()
    type_2 = np.flatnonzero(labels == "type_2")
    labels[type_2[:5]] = "five"
    labels[type_2[5:7]] = "pair"
    labels[type_2[7]] = "one"
    adata.obs["cell_type"] = pd.Categorical(labels)
    return adata


def _train(adata=None, *, random_state=0, model_kwargs=None, **train_kwargs):
    return scaug.tl.train_generator(
        _data() if adata is None else adata,
        "activa",
        labels_key="cell_type",
        random_state=random_state,
        model_kwargs={**SMALL, **(model_kwargs or {})},
        train_kwargs={
            "max_epochs": 4,
            "warmup_epochs": 2,
            "batch_size": 32,
            "margin": 10.0,
            **QUIET,
            **train_kwargs,
        },
    )


@pytest.fixture(scope="module")
def model() -> ACTIVA:
    torch.set_num_threads(1)
    return _train()


def _is_integer(x: sparse.csr_matrix) -> bool:
    return bool(np.array_equal(x.data, np.round(x.data)) and (x.data >= 0).all())


def test_registered_as_a_deep_method():
    row = scaug.methods().loc["activa"]
    assert row["kind"] == "deep"
    assert row["min_cells"] == 1
    assert row["conditional"]
    assert "Heydari et al. 2021" in row["reference"]


def test_encoder_loss_has_the_margin_hinge():
    """Eq. 3: a fake whose KL is past the margin adds nothing, one below it adds m - KL."""
    zero = torch.zeros(2)
    kl_real = torch.tensor([1.0, 2.0])
    past = torch.tensor([150.0, 120.0])
    below = torch.tensor([100.0, 60.0])
    weights = {"margin": 110.0, "alpha1": 1.0, "alpha2": 0.5}
    # both fakes past the margin: only the real cells' KL
    assert torch.isclose(encoder_loss(kl_real, past, past, zero, zero, **weights), kl_real.mean())
    # reconstructions below it: (110 - 100 + 110 - 60) / 2 = 30 more
    loss = encoder_loss(kl_real, below, past, zero, zero, **weights)
    assert torch.isclose(loss, kl_real.mean() + 30.0)
    # alpha1 scales the hinge, alpha2 the reconstruction and cell-type losses
    rec, ct = torch.tensor([4.0, 8.0]), torch.tensor([2.0, 2.0])
    loss = encoder_loss(kl_real, below, below, rec, ct, margin=110.0, alpha1=2.0, alpha2=0.5)
    assert torch.isclose(loss, kl_real.mean() + 2.0 * 60.0 + 0.5 * 8.0)
    # the hinge's gradient: -alpha1 below the margin, zero past it
    kl_fake = torch.tensor([100.0, 150.0], requires_grad=True)
    encoder_loss(kl_real, kl_fake, past, zero, zero, **weights).backward()
    assert kl_fake.grad.tolist() == [-0.5, 0.0]


def test_decoder_loss_is_eq_4():
    kl_rec, kl_gen = torch.tensor([3.0, 5.0]), torch.tensor([7.0, 1.0])
    rec, ct = torch.tensor([10.0, 20.0]), torch.tensor([1.0, 3.0])
    loss = decoder_loss(kl_rec, kl_gen, rec, ct, alpha1=1.0, alpha2=0.5)
    assert torch.isclose(loss, torch.tensor((3 + 7 + 5 + 1) / 2 + 0.5 * (11 + 23) / 2))
    assert torch.isclose(kl_divergence(torch.tensor([[1.0, 0.0]]), torch.zeros(1, 2)), torch.tensor(0.5))


def test_decoder_step_reaches_the_decoder_through_the_encoder_and_leaves_the_encoder():
    torch.manual_seed(0)
    module = ACTIVAModule(20, 3, n_latent=4, n_hidden=(16,), log_normalise=False)
    plan = IntrospectiveTrainingPlan(module, margin=5.0, count_noise=False)
    x = torch.rand(8, 20) * 2 - 1
    z = torch.randn(8, 4)
    for p in module.encoder.parameters():
        p.requires_grad_(False)
    generated = module.decoder(z)
    loss = decoder_loss(
        module.kl(generated),
        module.kl(generated),
        (generated - x).pow(2).sum(1),
        torch.zeros(8),
        alpha1=1,
        alpha2=0,
    )
    loss.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in module.decoder.parameters())
    assert all(p.grad is None for p in module.encoder.parameters())
    assert plan.alpha2 == 0.5


def test_profile_decoder_loss_is_the_negative_binomial_likelihood_of_the_counts():
    from scvi.distributions import NegativeBinomial

    torch.manual_seed(0)
    module = ACTIVAModule(5, 2, n_latent=3, n_hidden=(8,), gene_index=[0, 2, 3, 5, 6])
    with torch.no_grad():
        module.decoder.log_dispersion.copy_(torch.linspace(-1, 2, 5))
    counts = torch.poisson(torch.full((4, 7), 3.0))
    decoded = module.decode(torch.randn(4, 3))
    modelled = counts[:, [0, 2, 3, 5, 6]]
    means = decoded.exp() * modelled.sum(dim=1, keepdim=True)
    theta = torch.linspace(-1, 2, 5).exp()
    expected = -NegativeBinomial(mu=means, theta=theta).log_prob(modelled).sum(dim=1)
    loss = module.reconstruction_loss(decoded, None, None, counts)
    assert torch.allclose(loss, expected)
    # and not the multinomial of the profile alone (dispersion matters)
    assert not torch.allclose(loss, -(modelled * decoded).sum(dim=1))


def test_profile_counts_are_overdispersed_as_the_decoder_learnt():
    """Sampling multiplies profiles by gamma noise of mean 1 and variance 1 / theta (negative binomial counts)."""
    module = ACTIVAModule(3, 2, n_latent=2, n_hidden=(4,))
    with torch.no_grad():
        module.decoder.log_dispersion.copy_(torch.log(torch.tensor([0.5, 2.0, 50.0])))
    noise = module.decoder.gamma_noise(200_000, torch.Generator().manual_seed(0))
    assert torch.allclose(noise.mean(0), torch.ones(3), atol=0.02)
    assert torch.allclose(noise.var(0), torch.tensor([2.0, 0.5, 0.02]), rtol=0.05)
    again = module.decoder.gamma_noise(5, torch.Generator().manual_seed(0))
    assert torch.equal(again, module.decoder.gamma_noise(5, torch.Generator().manual_seed(0)))


def test_smoothed_and_gaussian_latents_keep_the_label_and_differ(model):
    gaussian = model.sample({"type_1": 30}, random_state=0)[0]
    smoothed = model.sample({"type_1": 30}, random_state=0, latent="smoothed")[0]
    assert (smoothed != gaussian).nnz > 0
    assert _is_integer(smoothed)
    module = model.module
    assert int(module.component_counts[model.labels.index("one")]) == 1
    assert int(module.component_counts[model.labels.index("five")]) == 5
    with pytest.raises(ScaugInputError, match="latent must be"):
        model.sample({"type_1": 3}, latent="prior")
    with pytest.raises(ScaugInputError, match="bandwidth must be"):
        model.sample({"type_1": 3}, bandwidth=-0.1)


def test_paper_preset():
    assert PAPER["model"] == {"n_latent": 128, "n_hidden": (1024, 512, 256), "decoder_output": "scaled"}
    train = PAPER["train"]
    assert (train["lr"], train["betas"], train["batch_size"]) == (2e-4, (0.9, 0.999), 128)
    assert (train["margin"], train["alpha1"], train["alpha2"], train["warmup_epochs"]) == (
        110.0,
        1.0,
        0.5,
        10,
    )
    optimizers = IntrospectiveTrainingPlan(ACTIVAModule(30, 2), lr=2e-4).configure_optimizers()
    assert [type(o) for o in optimizers] == [torch.optim.Adam] * 3
    assert optimizers[0].param_groups[0]["lr"] == 2e-4
    assert optimizers[0].param_groups[0]["betas"] == (0.9, 0.999)
    # the preset reaches the model and the plan
    paper = scaug.tl.train_generator(
        _data(),
        "activa",
        labels_key="cell_type",
        model_kwargs={"preset": "paper", "n_hidden": (32,)},
        train_kwargs={"max_epochs": 1, **QUIET},
    )
    assert paper.module.n_latent == 128
    assert paper.module.output == "scaled"
    assert paper.params["margin"] == 110.0 and paper.params["lr"] == 2e-4
    assert paper.params["count_noise"] is False


def test_generates_every_label_as_integer_counts(model):
    data = _data()
    x, labels = model.sample(REQUEST, random_state=0)
    assert sparse.isspmatrix_csr(x)
    assert x.shape == (sum(REQUEST.values()), data.n_vars)
    assert list(labels) == [lab for lab, n in REQUEST.items() for _ in range(n)]
    assert _is_integer(x)
    assert model.counts and model.method == "activa"
    assert model.label_counts["five"] == 5 and model.label_counts["one"] == 1
    history = model.history
    assert len(history["classifier_loss_train"]) == 4
    assert np.isfinite(history["encoder_loss_train"].astype(float).dropna()).all()
    assert history["elbo_train"].astype(float).notna().sum() == 2  # warm-up epochs


def test_few_cell_labels_get_regions_borrowed_from_the_others(model):
    """A 1-cell label's region is centred on its cell's posterior, with the pooled shape."""
    module = model.module
    one = model.labels.index("one")
    cell = np.flatnonzero(model.adata.obs["cell_type"].to_numpy() == "one")
    x = module.scaling(torch.as_tensor(model.adata.X[cell].toarray()))
    with torch.no_grad():
        mean, _ = module.encode(x)
    assert torch.allclose(module.region_centres[one], mean[0], atol=1e-5)
    covariance = module.region_factors[one] @ module.region_factors[one].T
    assert torch.linalg.eigvalsh(covariance).min() > 0
    z = module.region_latent(torch.full((2000,), one), torch.Generator().manual_seed(0))
    assert torch.allclose(z.mean(0), mean[0], atol=0.2)


def test_filter_and_region_generation_both_give_the_label():
    """Two well-separated labels: the classifier recognises generated counts of either mode as their label."""
    adata = scaug.datasets.simulate(
        300, 60, 2, imbalance=1.0, program_size=0.3, fold_change=6, random_state=0
    )
    # Labels separated in the latent: enough steps for the likelihood to outweigh the KL term.
    gen = _train(adata, max_epochs=60, warmup_epochs=10)
    module = gen.module
    for lab in gen.labels:
        code = gen.labels.index(lab)
        for generation in ("region", "filter"):
            x, labels = gen.sample({lab: 40}, random_state=0, generation=generation)
            assert x.shape[0] == 40 and set(labels) == {lab}
            with torch.no_grad():
                predicted = module.classifier(module.scaling(torch.as_tensor(x.toarray()))).argmax(1)
            share = (predicted == code).float().mean().item()
            # Filtering judges one count draw of a cell and outputs another: borderline draws of
            # the prior can change label in between; the label's region does not have them.
            assert share >= (0.9 if generation == "region" else 0.55), (lab, generation, share)


def test_filter_refuses_a_label_the_classifier_never_predicts(model):
    with pytest.raises(ScaugInputError, match=r"generation='filter'.*use generation='region'") as err:
        model.sample({"one": 5}, random_state=0, generation="filter", max_draws=2)
    assert "\n" not in str(err.value)


def test_save_and_load_give_the_same_cells(model, tmp_path):
    model.save(tmp_path / "activa", overwrite=True)
    torch.load(tmp_path / "activa" / "model.pt", weights_only=True)
    loaded = scaug.models.load_model(str(tmp_path / "activa"))
    assert type(loaded) is ACTIVA
    assert loaded.params == model.params
    x = model.sample(REQUEST, random_state=5)[0]
    assert (x != loaded.sample(REQUEST, random_state=5)[0]).nnz == 0
    assert (x != model.sample(REQUEST, random_state=6)[0]).nnz > 0
    assert torch.equal(loaded.module.region_factors, model.module.region_factors)


def test_training_is_reproducible_on_cpu():
    request = {"type_0": 5, "pair": 3, "one": 2}
    first = _train(max_epochs=3).sample(request, random_state=0)[0]
    again = _train(max_epochs=3).sample(request, random_state=0)[0]
    other = _train(random_state=1, max_epochs=3).sample(request, random_state=0)[0]
    assert (first != again).nnz == 0
    assert (first != other).nnz > 0


def test_continuous_space_stays_continuous():
    data = _data()
    sc.pp.normalize_total(data)
    sc.pp.log1p(data)
    gen = _train(data, model_kwargs={"space": "continuous"}, max_epochs=3)
    assert not gen.counts
    dense = gen.sample({"type_1": 10, "one": 5}, random_state=0)[0].toarray()
    assert not np.array_equal(dense, np.round(dense))


class _Trained(AssertionError):
    pass


@pytest.mark.parametrize(
    ("model_kwargs", "train_kwargs", "match"),
    [
        ({"preset": "gpu"}, {}, "unknown preset 'gpu'"),
        ({"n_latent": 0}, {}, "n_latent must be a positive integer"),
        ({"generation": "reject"}, {}, "generation must be 'region' or 'filter'"),
        ({"prior_cells": -1}, {}, "prior_cells must be a positive number"),
        ({"decoder_output": "counts"}, {}, "output must be 'profile' .* or 'scaled'"),
        ({"n_hiden": (4,)}, {}, r"unknown model_kwargs.*n_hiden"),
        ({}, {"margin": -1.0}, "margin must be a non-negative number"),
        ({}, {"warmup_epochs": 1.5}, "warmup_epochs must be a non-negative integer"),
        ({}, {"max_epoch": 2}, r"unknown train_kwargs.*max_epoch"),
    ],
)
def test_bad_options_are_one_line_errors(monkeypatch, model_kwargs, train_kwargs, match):
    def lightning(*args, **kwargs):
        raise _Trained

    # Past the option checks, training would start: stop there.
    monkeypatch.setattr(scaug.models.study.StudyModelBase, "train", lightning)
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.train_generator(
            _data(), "activa", labels_key="cell_type", model_kwargs=model_kwargs, train_kwargs=train_kwargs
        )
    assert "\n" not in str(err.value)
