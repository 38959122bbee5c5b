"""The fidelity dashboard and its panels: scanpy conventions, and that they draw the stored results."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import scaug


@pytest.fixture(scope="module")
def evaluated():
    adata = scaug.datasets.simulate(1000, 150, 3, imbalance=0.15, random_state=3)
    order = np.random.default_rng(0).permutation(adata.n_obs)
    train, heldout = adata[np.sort(order[:700])].copy(), adata[np.sort(order[700:])].copy()
    aug = scaug.tl.augment(train, "smote", labels_key="cell_type")
    scaug.tl.fidelity(aug, reference=heldout)
    return aug


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_dashboard_returns_figure_and_saves(evaluated, tmp_path):
    path = tmp_path / "dash.png"
    fig = scaug.pl.fidelity(evaluated, show=False, save=str(path))
    assert isinstance(fig, matplotlib.figure.Figure)
    assert len(fig.axes) >= 8  # summary + 7 panels (+ colour bar)
    assert path.stat().st_size > 50_000
    title = fig.axes[0].texts[0].get_text()
    assert "smote-1" in title


def test_save_suffix_goes_to_figdir(evaluated, tmp_path):
    import scanpy as sc

    old, sc.settings.figdir = sc.settings.figdir, tmp_path
    try:
        scaug.pl.fidelity_scores(evaluated, show=False, save="_x.png")
    finally:
        sc.settings.figdir = old
    assert (tmp_path / "scaug_fidelity_scores_x.png").exists()


def test_umap_panel_draws_every_stored_cell(evaluated):
    cells = evaluated.uns["scaug_fidelity"]["cells"]
    ax = scaug.pl.fidelity_umap(evaluated, color="origin", show=False)
    n_points = sum(len(c.get_offsets()) for c in ax.collections)
    assert n_points == len(cells)
    _, ax2 = plt.subplots()
    assert scaug.pl.fidelity_umap(evaluated, color="label", ax=ax2, show=False) is ax2


def test_scores_panel_one_bar_group_per_generated_label(evaluated):
    ax = scaug.pl.fidelity_scores(evaluated, show=False)
    syn = evaluated.obs["scaug_synthetic"].to_numpy()
    labels = set(evaluated.obs.loc[syn, "cell_type"].astype(str))
    ticks = [t.get_text().split("  ")[0] for t in ax.get_yticklabels()]
    assert ticks[0] == "all" and set(ticks[1:]) == labels
    bars = [p for p in ax.patches if isinstance(p, matplotlib.patches.Rectangle)]
    assert len(bars) == 4 * len(ticks)
    assert all(0 <= b.get_width() <= 1 for b in bars)


def test_correlation_panel_real_above_synthetic_below(evaluated):
    ax = scaug.pl.fidelity_correlation(evaluated, show=False)
    shown = ax.images[0].get_array()
    corr = evaluated.uns["scaug_fidelity"]["correlation"]["smote-1"]
    n = shown.shape[0]
    upper, lower = np.triu_indices(n, 1), np.tril_indices(n, -1)
    np.testing.assert_allclose(shown[upper], corr["real"][:n, :n][upper])
    np.testing.assert_allclose(shown[lower], corr["synthetic"][:n, :n][lower])


@pytest.mark.parametrize("panel", ["fidelity_rem", "fidelity_library_size", "fidelity_sparsity"])
def test_distribution_panels_return_axes(evaluated, panel):
    ax = getattr(scaug.pl, panel)(evaluated, show=False)
    assert isinstance(ax, matplotlib.axes.Axes)
    assert ax.get_title()


def test_missing_results_and_metrics(evaluated, sim):
    with pytest.raises(scaug.ScaugInputError, match=r"run scaug\.tl\.fidelity"):
        scaug.pl.fidelity(sim, show=False)
    with pytest.raises(scaug.ScaugInputError, match="run 'nope' was not evaluated"):
        scaug.pl.fidelity_rem(evaluated, run="nope", show=False)
    partial = evaluated.copy()
    scaug.tl.fidelity(partial, metrics=["prdc"], key_added="partial")
    with pytest.raises(scaug.ScaugInputError, match="no UMAP"):
        scaug.pl.fidelity_umap(partial, key="partial", show=False)
    # the dashboard still draws, saying what was not computed
    fig = scaug.pl.fidelity(partial, key="partial", show=False)
    texts = " ".join(" ".join(t.get_text().split()) for ax in fig.axes for t in ax.texts)
    assert "no UMAP" in texts and "no correlations" in texts
