"""The comparison study's simple generators, ``gan`` and ``vae``: small, fast checks on simulated data."""

from __future__ import annotations

import inspect
import json

import numpy as np
import pandas as pd
import pytest
import scanpy as sc
import torch
from scipy import sparse
from scvi import REGISTRY_KEYS
from scvi.model.base import UnsupervisedTrainingMixin
from torch import nn

import scaug
from scaug import ScaugInputError
from scaug.models.study import (
    BCEGANTrainingPlan,
    LabelBatchSampler,
    MinMaxScaling,
    StudyGAN,
    StudyGANModule,
    StudyVAE,
    StudyVAEModule,
)

QUIET = {"enable_progress_bar": False}
# Few epochs of small networks: seconds per model.
SMALL = {
    "gan": {"n_hidden_generator": (32, 64), "n_hidden_discriminator": (64, 32), "n_noise": 16},
    "vae": {"n_hidden": (64, 32), "n_latent": 8},
}
MODELS = {"gan": StudyGAN, "vae": StudyVAE}
REQUEST = {"type_0": 4, "type_1": 3, "five": 6, "pair": 5}

pytestmark = pytest.mark.usefixtures("one_thread")


def _data() -> sc.AnnData:
    """300 simulated cells with a 5-cell label ("five"), a 2-cell label ("pair") and a gene in 2 cells."""
    adata = scaug.datasets.simulate(300, 60, 3, random_state=0)
    labels = adata.obs["cell_type"].astype(str).to_numpy().copy()
    type_2 = np.flatnonzero(labels == "type_2")
    labels[type_2[:5]] = "five"
    labels[type_2[5:7]] = "pair"
    adata.obs["cell_type"] = pd.Categorical(labels)
    x = adata.X.toarray()
    x[:, 0] = 0
    x[10:12, 0] = 4
    adata.X = sparse.csr_matrix(x, dtype=np.float32)
    return adata


def _train(method, adata=None, *, random_state=0, model_kwargs=None, **train_kwargs):
    return scaug.tl.train_generator(
        _data() if adata is None else adata,
        method,
        labels_key="cell_type",
        random_state=random_state,
        model_kwargs={**SMALL[method], **(model_kwargs or {})},
        train_kwargs={"max_epochs": 3, "batch_size": 32, **QUIET, **train_kwargs},
    )


@pytest.fixture(scope="module")
def models() -> dict:
    torch.set_num_threads(1)
    return {method: _train(method) for method in MODELS}


def _is_integer(x: sparse.csr_matrix) -> bool:
    return bool(np.array_equal(x.data, np.round(x.data)) and (x.data >= 0).all())


def _layers(net: nn.Sequential) -> list[tuple]:
    return [
        (type(m).__name__, m.in_features, m.out_features) if isinstance(m, nn.Linear) else type(m).__name__
        for m in net
    ]


def test_registered_as_the_studys_deep_methods():
    table = scaug.methods()
    for method in MODELS:
        assert table.loc[method, "kind"] == "deep"
        assert table.loc[method, "min_cells"] == 1
        assert "Zheng et al. 2025" in table.loc[method, "reference"]
    assert scaug._registry.get_method("gan").per_label
    assert not scaug._registry.get_method("vae").per_label


def test_gan_architecture_is_the_studys():
    """Noise 100 -> 256 -> 512 -> genes (tanh), genes -> 512 -> 256 -> 1 (sigmoid), BCE, Adam 1e-4, 200 epochs."""
    module = StudyGANModule(37, 4, pair_labels=[3, 1])
    assert len(module.generators) == len(module.discriminators) == 2
    assert _layers(module.generators[0]) == [
        ("Linear", 100, 256),
        "LeakyReLU",
        ("Linear", 256, 512),
        "LeakyReLU",
        ("Linear", 512, 37),
        "Tanh",
    ]
    assert _layers(module.discriminators[1]) == [
        ("Linear", 37, 512),
        "LeakyReLU",
        ("Linear", 512, 256),
        "LeakyReLU",
        ("Linear", 256, 1),
        "Sigmoid",
    ]
    # BCE: -log D(real) - log(1 - D(real)) for the discriminator, -log D(fake) for the generator
    real, fake = torch.rand(6, 37) * 2 - 1, torch.rand(5, 37) * 2 - 1
    d = module.discriminators[1]
    expected = -torch.log(d(real)).mean() - torch.log(1 - d(fake)).mean()
    assert torch.allclose(module.discriminator_loss(real, fake, 1).loss, expected)
    assert torch.allclose(module.generator_loss(fake, 1), -torch.log(d(fake)).mean())
    assert inspect.signature(StudyGAN.train).parameters["max_epochs"].default == 200
    optimizers = BCEGANTrainingPlan(module, lr=StudyGAN._default_lr).configure_optimizers()
    assert len(optimizers) == 4
    assert all(type(o) is torch.optim.Adam and o.param_groups[0]["lr"] == 1e-4 for o in optimizers)
    # the defaults of the model trained through the registry are the study's
    model = scaug.tl.train_generator(
        _data(),
        "gan",
        labels_key="cell_type",
        max_epochs=1,
        model_kwargs={"labels": ["pair"]},
        train_kwargs=QUIET,
    )
    assert _layers(model.module.generators[0])[0] == ("Linear", 100, 256)
    assert _layers(model.module.generators[0])[-2:] == [("Linear", 512, len(model.modelled_genes)), "Tanh"]
    assert model.params["lr"] == 1e-4
    assert all(o.param_groups[0]["lr"] == 1e-4 for o in model.trainer.optimizers)


def test_each_label_generates_with_its_own_pair():
    module = StudyGANModule(3, 3, pair_labels=[2, 0], n_noise=2, n_hidden_generator=(4,))
    for k, net in enumerate(module.generators):
        for layer in net:
            if isinstance(layer, nn.Linear):
                nn.init.zeros_(layer.weight)
                nn.init.zeros_(layer.bias)
        nn.init.constant_(net[-2].bias, 0.5 * (k + 1))
    out = module.generate(torch.tensor([0, 2, 0]))
    assert torch.allclose(out[:, 0], torch.tanh(torch.tensor([1.0, 0.5, 1.0])))
    with pytest.raises(ValueError, match="without a generator"):
        module.generate(torch.tensor([1]))


def test_gan_minibatches_hold_one_label_and_only_labels_with_a_pair(monkeypatch):
    seen = []
    step = BCEGANTrainingPlan.training_step

    def recording(self, batch, batch_idx):
        seen.append(batch[REGISTRY_KEYS.LABELS_KEY].ravel().long().tolist())
        return step(self, batch, batch_idx)

    monkeypatch.setattr(BCEGANTrainingPlan, "training_step", recording)
    model = _train("gan", model_kwargs={"labels": ["five", "type_1"]}, max_epochs=2, batch_size=16)
    codes = {model.labels.index("five"), model.labels.index("type_1")}
    assert all(len(set(batch)) == 1 and batch[0] in codes for batch in seen)
    assert len(model.module.generators) == 2
    # every cell of those labels once per epoch, in batches of at most 16
    n_cells = int(model.label_counts["five"] + model.label_counts["type_1"])
    assert sum(len(b) for b in seen) == 2 * n_cells
    assert max(len(b) for b in seen) == 16
    assert model.pair_labels == ["five", "type_1"]


def test_label_batches_cover_each_group_once_per_epoch():
    groups = [np.arange(7), np.arange(7, 10), np.array([], dtype=int)]
    sampler = LabelBatchSampler(groups, 3, torch.Generator().manual_seed(0))
    first, second = list(sampler), list(sampler)
    assert len(first) == len(sampler) == 4
    for epoch in (first, second):
        assert sorted(i for batch in epoch for i in batch) == list(range(10))
        assert all(set(b) <= set(range(7)) or set(b) <= set(range(7, 10)) for b in epoch)
    assert first != second  # a new order every epoch


def test_scaling_maps_training_cells_onto_minus_one_to_one_and_back():
    adata = _data()
    scaling = MinMaxScaling(5, gene_index=[1, 2, 3, 4, 5])
    scaling.fit(adata.X)
    x = torch.as_tensor(adata.X.toarray())
    scaled = scaling(x)
    assert torch.allclose(scaled.min(dim=0).values, torch.full((5,), -1.0))
    assert torch.allclose(scaled.max(dim=0).values, torch.ones(5))
    log_normalised = torch.log1p(x / x.sum(dim=1, keepdim=True) * 1e4)[:, 1:6]
    assert torch.allclose(scaling.inverse(scaled), log_normalised, atol=1e-4)
    assert torch.allclose(scaling.profiles(scaled), torch.expm1(log_normalised), rtol=1e-3, atol=1e-3)
    # generated values beyond the range are clipped into the training range
    assert torch.allclose(scaling.inverse(torch.full((1, 5), 3.0)), scaling.upper)


@pytest.mark.parametrize("method", list(MODELS))
def test_generates_every_requested_label_as_integer_counts(models, method):
    model = models[method]
    data = _data()
    x, labels = model.sample(REQUEST, random_state=0)
    assert isinstance(model, MODELS[method])
    assert sparse.isspmatrix_csr(x)
    assert x.shape == (sum(REQUEST.values()), data.n_vars)
    assert list(labels) == [lab for lab, n in REQUEST.items() for _ in range(n)]
    assert _is_integer(x)
    assert (np.asarray(x.sum(axis=1)).ravel() > 0).all()
    assert model.method == method and model.counts
    assert model.var_names.equals(data.var_names)
    assert model.label_counts["five"] == 5 and model.label_counts["pair"] == 2
    # the gene in 2 cells is not modelled, and zero in every synthetic cell
    assert list(model.modelled_genes) == list(data.var_names[1:])
    assert x[:, 0].nnz == 0
    history = model.history
    assert len(history) == 3
    loss = "generator_loss_train" if method == "gan" else "elbo_train"
    assert np.isfinite(history[loss].astype(float)).all()


@pytest.mark.parametrize("method", list(MODELS))
def test_save_and_load_give_the_same_cells(models, method, tmp_path):
    model = models[method]
    model.save(tmp_path / method, overwrite=True)
    torch.load(tmp_path / method / "model.pt", weights_only=True)  # tensors and plain values only
    loaded = scaug.models.load_model(str(tmp_path / method))
    assert type(loaded) is MODELS[method]
    assert loaded.params == model.params
    assert loaded.labels == model.labels
    pd.testing.assert_series_equal(loaded.label_counts, model.label_counts)
    x, labels = model.sample(REQUEST, random_state=5)
    y, labels_loaded = loaded.sample(REQUEST, random_state=5)
    assert (x != y).nnz == 0
    assert list(labels) == list(labels_loaded)
    assert (x != model.sample(REQUEST, random_state=6)[0]).nnz > 0
    again = MODELS[method].load(str(tmp_path / method), adata=False)
    assert (again.sample(REQUEST, random_state=5)[0] != x).nnz == 0


@pytest.mark.parametrize("method", list(MODELS))
def test_training_is_reproducible_on_cpu(method):
    request = {"type_0": 5, "five": 3}
    first = _train(method, max_epochs=2).sample(request, random_state=0)[0]
    again = _train(method, max_epochs=2).sample(request, random_state=0)[0]
    other = _train(method, random_state=1, max_epochs=2).sample(request, random_state=0)[0]
    assert (first != again).nnz == 0
    assert (first != other).nnz > 0


def test_augment_trains_a_gan_only_for_the_labels_it_generates(tmp_path):
    data = _data()
    before = data.copy()
    aug = scaug.tl.augment(
        data,
        "gan",
        labels_key="cell_type",
        n_cells={"five": 7, "pair": 4},
        model_kwargs=SMALL["gan"],
        train_kwargs={"max_epochs": 2, **QUIET},
    )
    assert (data.X != before.X).nnz == 0
    syn = aug[aug.obs["scaug_synthetic"].to_numpy()]
    assert syn.obs["cell_type"].value_counts().to_dict() == {"five": 7, "pair": 4}
    assert _is_integer(sparse.csr_matrix(syn.X))
    run = next(iter(aug.uns["scaug"]["runs"].values()))
    assert run["method"] == "gan"
    assert '"labels": ["five", "pair"]' in run["params"]
    aug.write_h5ad(tmp_path / "aug.h5ad")
    # a GAN trained for some labels refuses the others in one line
    gen = _train("gan", model_kwargs={"labels": ["five"]}, max_epochs=1)
    with pytest.raises(ScaugInputError, match=r"no generator for labels \['type_0'\]") as err:
        scaug.tl.generate(gen, {"type_0": 3})
    assert "\n" not in str(err.value)


def test_vae_cells_are_close_to_their_own_label():
    """Nearest real-label centroid in log-normalised space: a label mix-up in the conditioning would fail."""
    adata = scaug.datasets.simulate(
        300, 60, 3, imbalance=1.0, program_size=0.3, fold_change=6, random_state=0
    )
    gen = _train("vae", adata, model_kwargs={"n_hidden": (512, 256), "n_latent": 32}, max_epochs=10)

    def log_normalised(x):
        x = np.asarray(x.toarray() if sparse.issparse(x) else x, dtype=np.float64)
        return np.log1p(x / np.maximum(x.sum(axis=1, keepdims=True), 1) * 1e4)

    names = sorted(gen.labels)
    real, real_labels = log_normalised(adata.X), adata.obs["cell_type"].astype(str).to_numpy()
    centroids = np.stack([real[real_labels == lab].mean(axis=0) for lab in names])
    x, labels = gen.sample({lab: 30 for lab in names}, random_state=0)
    syn = log_normalised(x)
    nearest = np.asarray(names)[((syn[:, None, :] - centroids[None]) ** 2).sum(axis=-1).argmin(axis=1)]
    for lab in names:
        assert (nearest[labels == lab] == lab).mean() >= 0.8


def test_vae_architecture_and_plain_elbo():
    module = StudyVAEModule(37, 3)
    assert _layers(module.encoder) == [
        ("Linear", 40, 512),
        "LeakyReLU",
        ("Linear", 512, 256),
        "LeakyReLU",
        ("Linear", 256, 64),
    ]
    assert _layers(module.decoder) == [
        ("Linear", 35, 256),
        "LeakyReLU",
        ("Linear", 256, 512),
        "LeakyReLU",
        ("Linear", 512, 37),
        "Tanh",
    ]
    assert StudyVAE._plan_defaults["n_epochs_kl_warmup"] is None


def test_continuous_space_stays_continuous():
    data = _data()
    sc.pp.normalize_total(data)
    sc.pp.log1p(data)
    gen = _train("vae", data, model_kwargs={"space": "continuous"}, max_epochs=2)
    assert not gen.counts
    x, _ = gen.sample({"type_1": 20, "pair": 5}, random_state=0)
    dense = x.toarray()
    assert not np.array_equal(dense, np.round(dense))
    real = data.X.toarray()
    modelled = data.var_names.get_indexer(gen.modelled_genes)
    assert (dense[:, modelled] >= real[:, modelled].min(axis=0) - 1e-5).all()
    assert (dense[:, modelled] <= real[:, modelled].max(axis=0) + 1e-5).all()


def test_imbalance_benchmark_runs_the_study_generators():
    adata = scaug.datasets.simulate(400, 80, 3, imbalance=0.03, random_state=0)
    table = scaug.bench.imbalance(
        adata,
        "cell_type",
        ["gan", "vae"],
        n_folds=2,
        n_top_genes=40,
        epochs=2,
        progress=False,
        model_kwargs={m: SMALL[m] for m in MODELS},
        train_kwargs={m: {"max_epochs": 2, **QUIET} for m in MODELS},
    )
    assert (table["status"] == "ok").all()
    added = table[(table["metric"] == "n_synthetic") & (table["value"] > 0)]
    assert set(added["method"]) == {"gan", "vae"}
    assert set(added["label"]) == {"type_2"}


class _Trained(AssertionError):
    pass


@pytest.mark.parametrize("method", list(MODELS))
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"model_kwargs": {"n_hiden": (4,)}}, r"unknown model_kwargs.*n_hiden"),
        ({"model_kwargs": {"count_sampler": "binomial"}}, "count_sampler"),
        ({"train_kwargs": {"max_epoch": 2}}, r"unknown train_kwargs.*max_epoch"),
        ({"labels_key": "celltype"}, "celltype"),
    ],
)
def test_bad_input_is_a_one_line_error_before_training(monkeypatch, method, kwargs, match):
    def never(*args, **kwargs):
        raise _Trained

    monkeypatch.setattr(MODELS[method], "train", never)
    kwargs = {"labels_key": "cell_type", **kwargs}
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.train_generator(_data(), method, **kwargs)
    assert "\n" not in str(err.value)


@pytest.mark.parametrize(
    ("method", "model_kwargs", "match"),
    [
        ("gan", {"labels": ["type_9"]}, r"labels must name labels of the data"),
        ("gan", {"labels": []}, r"labels must name labels of the data"),
        ("gan", {"n_noise": 0}, "n_noise must be a positive integer"),
        ("gan", {"n_hidden_generator": (256, -1)}, "n_hidden_generator"),
        ("vae", {"n_latent": 2.5}, "n_latent must be a positive integer"),
        ("vae", {"n_hidden": 512}, "n_hidden must be a non-empty sequence"),
    ],
)
def test_bad_options_are_refused_before_training(monkeypatch, method, model_kwargs, match):
    def never(*args, **kwargs):
        raise _Trained

    monkeypatch.setattr(MODELS[method], "train", never)
    with pytest.raises(ScaugInputError, match=match) as err:
        scaug.tl.train_generator(_data(), method, labels_key="cell_type", model_kwargs=model_kwargs)
    assert "\n" not in str(err.value)


def test_bad_training_options_are_refused_before_lightning(monkeypatch):
    data = _data()
    StudyVAE.setup_anndata(data, labels_key="cell_type")
    model = StudyVAE(data, **SMALL["vae"])

    def never(*args, **kwargs):
        raise _Trained

    monkeypatch.setattr(UnsupervisedTrainingMixin, "train", never)
    for options in ({"max_epochs": 0}, {"batch_size": 1.5}):
        with pytest.raises(ScaugInputError, match="must be a positive integer"):
            model.train(**options)


@pytest.mark.parametrize("method", list(MODELS))
def test_command_line_trains_saves_and_generates(method, tmp_path, capsys):
    from scaug.cli import main

    data = tmp_path / "data.h5ad"
    _data().write_h5ad(data)
    model_dir, out = tmp_path / "model", tmp_path / "syn.h5ad"
    train = ["train", "-i", str(data), "-o", str(model_dir), "--labels-key", "cell_type", "-m", method]
    options = ["--model-kwargs", json.dumps(SMALL[method]), "--train-kwargs", json.dumps(QUIET)]
    assert main([*train, "--max-epochs", "1", *options]) == 0
    generate = ["generate", "--model", str(model_dir), "-o", str(out), "--labels-key", "cell_type"]
    assert main([*generate, "--n-cells", "five=4,pair=3"]) == 0
    syn = sc.read_h5ad(out)
    assert syn.obs["cell_type"].value_counts().to_dict() == {"five": 4, "pair": 3}
    assert _is_integer(sparse.csr_matrix(syn.X))
    assert main(["methods"]) == 0
    assert method in capsys.readouterr().out
