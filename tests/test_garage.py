from __future__ import annotations

import json
import logging

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch

import scaug
import scaug.cli
from scaug.models.garage import (
    GARAGE,
    GarageModule,
    RarePrioritySplitter,
    SeedSelector,
    rare_priority_weights,
)
from scaug.models.garage._gat import GATClassifier, class_weights, holdout_mask
from scaug.models.garage._gat_trainingplan import fit_gat
from scaug.models.garage._graph import cell_embedding, edge_index, knn_graph
from scaug.models.garage._seeds import attention_scores, received_attention, seed_quota

FAST = {"max_epochs": 15, "patience": 5, "n_pcs": 10, "n_hidden": 8, "n_heads": 2}


pytestmark = pytest.mark.usefixtures("one_thread")


def _planted_graph() -> tuple[torch.Tensor, int, int]:
    """A hub (node 0) with 20 leaves, a node P with 3 neighbours, and a ring of 30 nodes."""
    hub, leaves = 0, range(1, 21)
    planted, qs = 21, range(22, 25)
    ring = list(range(25, 55))
    pairs = [(hub, v) for v in leaves] + [(planted, v) for v in qs]
    pairs += [(ring[i], ring[(i + 1) % len(ring)]) for i in range(len(ring))]
    src, dst = zip(*pairs, strict=True)
    edges = torch.tensor([src + dst, dst + src])
    return edges, hub, planted


def test_received_attention_uses_the_coefficients_not_the_degree():
    edges, hub, planted = _planted_graph()
    n = 55
    alpha = torch.full((edges.shape[1], 2), 0.01)
    alpha[edges[0] == planted] = 1.0  # every neighbour of P pays all its attention to P
    received = received_attention(edges, alpha, n)
    degree = np.bincount(edges[0].numpy(), minlength=n)
    assert degree.argmax() == hub  # a degree-based score would pick the hub ...
    assert received.argmax() == planted  # ... the attention picks P
    assert received[planted] == pytest.approx(3.0)


def test_received_attention_ignores_self_loops_and_averages_heads():
    edges = torch.tensor([[0, 1, 1], [0, 0, 1]])
    alpha = torch.tensor([[1.0, 1.0], [0.2, 0.6], [1.0, 1.0]])
    np.testing.assert_allclose(received_attention(edges, alpha, 2), [0.0, 0.4], rtol=1e-6)


def _set(param: torch.nn.Parameter, values) -> None:
    with torch.no_grad():
        param.copy_(torch.as_tensor(values, dtype=torch.float32).reshape(param.shape))


def test_planted_gat_attention_makes_the_top_seed():
    """A GAT whose attention goes to P ranks P first although the hub has 7x its degree."""
    edges, hub, planted = _planted_graph()
    x = torch.zeros(55, 2)
    x[planted, 0] = 10.0  # sources with a large channel 0 attract attention ...
    x[hub, 1] = -10.0  # ... a negative channel 1 repels it
    net = GATClassifier(2, 2, n_hidden=2, n_heads=1, dropout=0.0)
    for conv, att in [(net.conv1, [5.0, 5.0]), (net.conv2, [5.0, 50.0])]:
        _set(conv.lin.weight, torch.eye(2))
        _set(conv.res.weight, torch.eye(2))
        _set(conv.att_src, att)
        _set(conv.att_dst, [0.0, 0.0])
        _set(conv.bias, [0.0, 0.0])
    with torch.no_grad():
        codes = net(x, edges)["logits"].argmax(1).numpy()
    scores = attention_scores(net, x, edges, codes)
    assert scores["score"].idxmax() == planted
    assert scores.loc[planted, "attention"] == pytest.approx(3.0, abs=1e-3)
    assert scores.loc[hub, "attention"] < 0.01
    assert (scores["confidence"] >= 0.5).all()


def test_seed_quota_boosts_rare_labels_and_keeps_tiny_ones_whole():
    counts = pd.Series({"big": 1000, "mid": 200, "rare": 40, "tiny": 3})
    rare = counts < 0.05 * counts.sum()
    quota = seed_quota(counts, rare, fraction=0.1, rare_boost=3.0, min_seeds=5)
    assert quota.to_dict() == {"big": 100, "mid": 20, "rare": 12, "tiny": 3}
    no_priority = seed_quota(counts, rare, fraction=0.1, rare_boost=1.0, min_seeds=5)
    assert no_priority["rare"] == 5


def test_graph_is_sparse_and_linear_in_cells():
    rng = np.random.default_rng(0)
    per_cell = []
    for n in (300, 1200):
        graph = knn_graph(rng.normal(size=(n, 8)).astype(np.float32), n_neighbors=10)
        assert graph.format == "csr"
        assert graph.diagonal().sum() == 0
        assert (graph != graph.T).nnz == 0
        per_cell.append(graph.nnz / n)
    assert all(10 <= p <= 20 for p in per_cell)  # k..2k neighbours after symmetrisation, at any n
    assert per_cell[1] < 1.2 * per_cell[0]


def test_cell_embedding_does_not_modify_input(sim):
    before = sim.X.copy()
    emb = cell_embedding(sim.X, counts=True, n_pcs=10)
    assert emb.shape == (sim.n_obs, 10)
    assert (before != sim.X).nnz == 0
    assert edge_index(knn_graph(emb)).shape[0] == 2


@pytest.fixture
def fitted(sim):
    return SeedSelector(**FAST).fit(sim.X, sim.obs["cell_type"], random_state=0, progress_bar=False)


def test_selector_seeds_are_the_top_scored_cells_and_meet_quotas(fitted, sim):
    seeds, scores = fitted.seeds_, fitted.scores_
    counts = sim.obs["cell_type"].value_counts()
    assert bool(fitted.rare_["type_3"])  # 19 of 600 cells
    assert fitted.quota_["type_3"] == 6  # ceil(0.1 * 3 * 19)
    assert (seeds["label"].value_counts().reindex(fitted.quota_.index) == fitted.quota_).all()
    assert fitted.quota_["type_3"] / counts["type_3"] > fitted.quota_["type_0"] / counts["type_0"]
    for label, group in scores.groupby("label", observed=True):
        chosen = seeds[seeds["label"] == label]
        assert chosen["score"].min() >= group.drop(chosen.index)["score"].max()
    np.testing.assert_allclose(scores["score"], scores["attention"] * scores["confidence"], rtol=1e-6)
    assert seeds.index.isin(sim.obs_names).all()
    assert (
        sim.obs.loc[seeds.index, "cell_type"].astype(str).to_numpy() == seeds["label"].astype(str).to_numpy()
    ).all()
    assert fitted.embedding_.shape == (sim.n_obs, 16)


def test_selector_scores_come_from_the_networks_attention(fitted):
    x, edges = torch.from_numpy(fitted.features_), edge_index(fitted.graph_)
    with torch.no_grad():
        out = fitted.network_(x, edges)
    expected = np.mean([received_attention(e, a, x.shape[0]) for e, a in out["attention"]], axis=0)
    np.testing.assert_allclose(fitted.scores_["attention"], expected, rtol=1e-5)
    degree = np.asarray((fitted.graph_ > 0).sum(axis=0)).ravel()
    assert not np.allclose(fitted.scores_["attention"], degree / degree.mean() * expected.mean(), rtol=0.05)


def test_selector_is_reproducible(fitted, sim):
    again = SeedSelector(**FAST).fit(sim.X, sim.obs["cell_type"], random_state=0, progress_bar=False)
    pd.testing.assert_frame_equal(fitted.seeds_, again.seeds_)
    other = SeedSelector(**FAST).fit(sim.X, sim.obs["cell_type"], random_state=1, progress_bar=False)
    assert not np.allclose(fitted.scores_["score"], other.scores_["score"])


def test_tiny_labels_are_all_seeds_with_a_clear_warning(sim, caplog):
    labels = sim.obs["cell_type"].astype(str).to_numpy().copy()
    labels[np.flatnonzero(labels == "type_3")[:2]] = "tiny"
    with caplog.at_level(logging.WARNING, logger="scaug"):
        sel = SeedSelector(**FAST).fit(sim.X, pd.Series(labels, index=sim.obs_names), progress_bar=False)
    assert "'tiny' (2 cells, 2 seeds)" in caplog.text
    assert "none is held out" in caplog.text
    tiny = sel.seeds_[sel.seeds_["label"] == "tiny"]
    assert sorted(tiny.index) == sorted(sim.obs_names[labels == "tiny"])


def test_selector_refuses_bad_input(sim):
    with pytest.raises(scaug.ScaugInputError, match="at least 2"):
        SeedSelector(**FAST).fit(sim.X, ["a"] * sim.n_obs, progress_bar=False)
    with pytest.raises(scaug.ScaugInputError, match="labels for"):
        SeedSelector(**FAST).fit(sim.X, ["a", "b"], progress_bar=False)
    with pytest.raises(scaug.ScaugInputError, match="rare_fraction"):
        SeedSelector(rare_fraction=2.0)


# -- stage 2: the seeded GAN -------------------------------------------------------------------

TINY_GAN = {
    "n_latent": 8,
    "n_hidden_generator": [32],
    "n_hidden_critic": [32],
    "seed_kwargs": {**FAST, "n_hidden": 4, "n_heads": 2},
}


def test_generator_input_carries_seed_embeddings_of_the_requested_label():
    module = GarageModule(
        20,
        3,
        n_seed_input=4,
        seeded_fraction=0.5,
        seed_noise=0.0,
        n_latent=8,
        n_hidden_generator=(16,),
        n_hidden_critic=(16,),
    )
    emb = torch.arange(5 * 4, dtype=torch.float32).reshape(5, 4) + 1  # no zero rows
    codes = torch.tensor([2, 0, 1, 0, 2])
    module.set_seeds(emb, codes)
    labels = torch.tensor([0] * 400 + [2] * 400)
    z = module.latent(labels, torch.Generator().manual_seed(0))
    assert z.shape == (800, 8 + 4 + 1)
    seeded = z[:, -1].bool()
    assert 0.4 < seeded.float().mean() < 0.6
    seed_part = z[:, 8:12]
    assert (seed_part[~seeded] == 0).all()
    for row, label in zip(seed_part[seeded], labels[seeded], strict=True):
        match = (emb == row).all(dim=1).nonzero().ravel()
        assert len(match) == 1
        assert codes[match[0]] == label  # a seed of the requested label, never of another
    torch.testing.assert_close(z, module.latent(labels, torch.Generator().manual_seed(0)))
    # seeds for label 2 only: label 0 gets plain noise inputs, label 2 keeps its seeded half
    module.set_seeds(emb, codes, torch.tensor([False, False, True]))
    z = module.latent(labels, torch.Generator().manual_seed(0))
    assert (z[:400, 8:] == 0).all() and 0.4 < z[400:, -1].mean() < 0.6
    module.seeded_fraction = 0.0
    assert (module.latent(labels)[:, 8:] == 0).all()


def test_module_loads_a_state_saved_before_seeded_labels():
    kwargs = {"n_seed_input": 4, "n_hidden_generator": (16,), "n_hidden_critic": (16,)}
    old = GarageModule(20, 3, **kwargs)
    old.set_seeds(torch.randn(3, 4), torch.tensor([0, 1, 2]))
    state = {k: v for k, v in old.state_dict().items() if k != "seeded_labels"}
    new = GarageModule(20, 3, **kwargs)
    new.seeded_labels = torch.tensor([True, False, False])
    new.load_state_dict(state)
    assert new.seeded_labels.tolist() == [True, True, True]
    torch.testing.assert_close(new.seed_embeddings, old.seed_embeddings)


def test_critic_scores_label_and_seeded_flag_and_fakes_follow_the_real_flags():
    torch.manual_seed(0)
    module = GarageModule(
        20,
        3,
        n_seed_input=4,
        seeded_fraction=0.5,
        n_latent=8,
        n_hidden_generator=(16,),
        n_hidden_critic=(16,),
    )
    module.set_seeds(torch.randn(3, 4), torch.tensor([0, 1, 2]), torch.tensor([True, True, False]))
    assert module.critic.projection.num_embeddings == 6
    labels = torch.tensor([0, 1, 2] * 200)
    tensors = {"X": torch.poisson(torch.full((600, 20), 3.0)), "labels": labels[:, None]}
    inf = module.inference(**module._get_inference_input(tensors))
    seeded = inf["seeded"]
    # real cells get seeded flags as the fakes do: about half of labels 0 and 1, none of label 2
    assert 0.4 < seeded[labels < 2].float().mean() < 0.6 and not seeded[labels == 2].any()
    torch.testing.assert_close(inf["critic_labels"], labels + 3 * seeded.long())
    assert torch.equal(inf["labels"], labels)
    # each fake carries a seed exactly when its real counterpart was flagged
    z = module.latent(labels, seeded=seeded)
    assert torch.equal(z[:, -1].bool(), seeded)
    gen = module.generative(**module._get_generative_input(tensors, inf))
    assert gen["x"].shape == (600, 20)
    # the flag changes the critic's score once its projection rows for the two flags differ
    with torch.no_grad():
        module.critic.projection.weight.normal_()
    x = module.normalize(tensors["X"][:5])
    lib = tensors["X"][:5].sum(1)
    assert not torch.allclose(module.score(x, labels[:5], lib), module.score(x, labels[:5] + 3, lib))


def test_module_loads_a_critic_saved_before_it_saw_the_seeded_flag():
    kwargs = {"n_seed_input": 4, "n_hidden_generator": (16,), "n_hidden_critic": (16,)}
    module = GarageModule(20, 3, **kwargs)
    module.set_seeds(torch.randn(3, 4), torch.tensor([0, 1, 2]))
    state = module.state_dict()
    blind = torch.randn(3, 16)
    state["critic.projection.weight"] = blind  # one projection row per label, as critics were saved then
    new = GarageModule(20, 3, **kwargs)
    new.load_state_dict(state)
    x, lib = torch.rand(4, 20), torch.full((4,), 1000.0)
    labels = torch.tensor([0, 1, 2, 1])
    torch.testing.assert_close(new.score(x, labels, lib), new.score(x, labels + 3, lib))
    torch.testing.assert_close(new.critic.projection.weight[:3], blind)


def test_module_refuses_a_label_without_seed():
    module = GarageModule(20, 3, n_seed_input=4, n_hidden_generator=(16,), n_hidden_critic=(16,))
    with pytest.raises(ValueError, match="no seed"):
        module.set_seeds(torch.zeros(2, 4), torch.tensor([0, 1]))


def test_rare_priority_sampling_shows_the_critic_rare_cells(sim):
    sim.obs["cell_type"] = sim.obs["cell_type"].astype(str)
    GARAGE.setup_anndata(sim, labels_key="cell_type")
    labels = sim.obs["cell_type"].to_numpy()
    rare = pd.Series({"type_3": True})
    weights = rare_priority_weights(labels, rare, rare_sampling=5.0)
    share = {}
    manager = GARAGE._get_most_recent_anndata_manager(sim)
    for name, w in [("weighted", weights), ("uniform", np.ones(len(labels)))]:
        splitter = RarePrioritySplitter(
            manager, cell_weights=w, train_size=1.0, batch_size=100, drop_last=True
        )
        splitter.setup()
        codes = np.concatenate(
            [b["labels"].numpy().ravel() for _ in range(5) for b in splitter.train_dataloader()]
        )
        type3 = list(manager.get_state_registry("labels")["categorical_mapping"]).index("type_3")
        share[name] = np.mean(codes == type3)
    expected = 19 * 5 / (581 + 19 * 5)
    assert share["weighted"] == pytest.approx(expected, abs=0.04)
    assert share["uniform"] == pytest.approx(19 / 600, abs=0.02)


@pytest.fixture
def garage(sim):
    sim.obs["cell_type"] = sim.obs["cell_type"].astype(str)
    return scaug.tl.train_generator(
        sim,
        "garage",
        labels_key="cell_type",
        random_state=0,
        model_kwargs=TINY_GAN,
        train_kwargs={"max_steps": 10, "enable_progress_bar": False},
    )


def test_garage_generates_counts_for_requested_labels(garage, sim):
    X, labels = garage.sample({"type_3": 30, "type_0": 10}, random_state=0)
    assert X.shape == (40, sim.n_vars)
    assert sorted(set(labels)) == ["type_0", "type_3"]
    assert (X.data == np.round(X.data)).all() and (X.data >= 0).all()
    seeds = garage.seeds_
    assert set(seeds["label"]) == set(garage.labels)
    assert len(garage.module.seed_embeddings) == len(seeds)
    assert garage.rare_labels_ == ["type_3"]
    assert garage.params["seeded_fraction"] == 1.0
    assert garage.params["generator_steps"] == 10
    assert garage.module.seeded_labels.all()


def test_garage_can_seed_rare_labels_only(sim):
    sim.obs["cell_type"] = sim.obs["cell_type"].astype(str)
    scaug.models.GARAGE.setup_anndata(sim, labels_key="cell_type")
    model = scaug.models.GARAGE(sim, seeded_labels="rare", seed_kwargs=TINY_GAN["seed_kwargs"])
    seeded = [lab for lab, on in zip(model.labels, model.module.seeded_labels.tolist(), strict=True) if on]
    assert seeded == model.rare_labels_ == ["type_3"]


def test_garage_save_load_keeps_both_stages(garage, sim, tmp_path, monkeypatch):
    garage.save(tmp_path / "m", overwrite=True)
    torch.load(tmp_path / "m" / "model.pt", weights_only=True)  # tensors and plain values only
    monkeypatch.setattr(GARAGE, "select_seeds", lambda *a, **k: pytest.fail("stage 1 re-ran on load"))
    with_data = GARAGE.load(tmp_path / "m", adata=sim)
    pd.testing.assert_frame_equal(with_data.seeds_, garage.seeds_)
    loaded = GARAGE.load(tmp_path / "m")
    pd.testing.assert_frame_equal(loaded.seeds_, garage.seeds_)
    torch.testing.assert_close(loaded.module.seed_embeddings, garage.module.seed_embeddings)
    for key, value in garage.module.seed_network.state_dict().items():
        torch.testing.assert_close(loaded.module.seed_network.state_dict()[key], value)
    a, _ = garage.sample({"type_3": 20}, random_state=3)
    b, _ = loaded.sample({"type_3": 20}, random_state=3)
    assert (a != b).nnz == 0
    syn = scaug.tl.generate(loaded, {"type_3": 20}, labels_key="cell_type", random_state=3)
    assert (a != syn.X).nnz == 0
    assert (syn.obs["cell_type"] == "type_3").all()


def test_garage_augment_and_cli_give_the_same_cells(sim, tmp_path):
    """Registered as ``garage``: tl.augment and the CLI train and generate reproducibly."""
    sim.obs["cell_type"] = sim.obs["cell_type"].astype(str)
    train_kwargs = {"max_steps": 5, "enable_progress_bar": False}
    before = sim.copy()
    aug = scaug.tl.augment(
        sim,
        "garage",
        labels_key="cell_type",
        n_cells={"type_3": 15},
        random_state=1,
        model_kwargs=TINY_GAN,
        train_kwargs=train_kwargs,
    )
    assert (before.X != sim.X).nnz == 0
    assert sim.obs.equals(before.obs)
    assert int(aug.obs["scaug_synthetic"].sum()) == 15
    assert set(aug.obs.loc[aug.obs["scaug_synthetic"], "scaug_method"]) == {"garage"}

    sim.write_h5ad(tmp_path / "in.h5ad")
    rc = scaug.cli.main(
        [
            "augment",
            "-i", str(tmp_path / "in.h5ad"),
            "-o", str(tmp_path / "out.h5ad"),
            "--labels-key", "cell_type",
            "--method", "garage",
            "--n-cells", "type_3=15",
            "--random-state", "1",
            "--model-kwargs", json.dumps(TINY_GAN),
            "--train-kwargs", json.dumps(train_kwargs),
        ]
    )  # fmt: skip
    assert rc == 0
    out = ad.read_h5ad(tmp_path / "out.h5ad")
    assert (out.X != aug.X).nnz == 0


def test_garage_bad_options_are_one_line_errors(sim):
    with pytest.raises(scaug.ScaugInputError, match="seeded_fraction"):
        scaug.tl.train_generator(sim, "garage", labels_key="cell_type", model_kwargs={"seeded_fraction": 2})
    with pytest.raises(scaug.ScaugInputError, match="seeded_labels"):
        scaug.tl.train_generator(sim, "garage", labels_key="cell_type", model_kwargs={"seeded_labels": "few"})
    with pytest.raises(scaug.ScaugInputError, match="min_seeds"):
        scaug.tl.train_generator(
            sim, "garage", labels_key="cell_type", model_kwargs={"seed_kwargs": {"min_seeds": 0}}
        )


def test_gat_trains_through_lightning_keeps_the_best_epoch_and_the_callers_seed():
    sim = scaug.datasets.simulate(300, 60, 3, random_state=0)
    x = torch.from_numpy(cell_embedding(sim.X, counts=True, n_pcs=10))
    edges = edge_index(knn_graph(x.numpy(), n_neighbors=10))
    codes = sim.obs["cell_type"].cat.codes.to_numpy()
    held = holdout_mask(codes, fraction=0.2, min_cells=5, rng=np.random.default_rng(0))
    weights = class_weights(np.bincount(codes), np.zeros(3, dtype=bool), rare_weight=1.0)
    torch.manual_seed(123)
    state = torch.random.get_rng_state()

    def run():
        return fit_gat(
            x,
            edges,
            codes,
            weights,
            held_out=held,
            max_epochs=200,
            patience=5,
            random_state=7,
            progress_bar=False,
            accelerator="cpu",
        )

    fit = run()
    assert torch.equal(torch.random.get_rng_state(), state)  # seeded locally, global stream untouched
    history = fit.history
    assert len(history) < 200  # early stopping ended it
    assert len(history) - 1 - fit.best_epoch == 5  # ... patience epochs after the best one
    assert history["validation_loss"].idxmin() == fit.best_epoch
    # The returned network holds the best epoch's weights: it reproduces that epoch's held-out loss.
    with torch.no_grad():
        logits = fit.network(x, edges)["logits"][torch.from_numpy(held)]
    loss = torch.nn.functional.cross_entropy(logits, torch.from_numpy(codes[held]).long(), weight=weights)
    assert float(loss) == pytest.approx(history.loc[fit.best_epoch, "validation_loss"], rel=1e-5)
    again = run()
    assert all(
        torch.equal(a, b)
        for a, b in zip(fit.network.state_dict().values(), again.network.state_dict().values(), strict=True)
    )
