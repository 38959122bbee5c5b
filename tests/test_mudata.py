import json
import logging

import anndata as ad
import matplotlib
import mudata as md
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import scaug
from scaug import ScaugInputError
from scaug.cli import main

# mudata 0.3 announces on every update() that 0.4 will stop pulling columns; both settings are tested
pytestmark = pytest.mark.filterwarnings("ignore:From 0.4 .update():FutureWarning")


def make_mdata(n_cells: int = 600) -> md.MuData:
    """rna counts from simulate, a 6-protein "prot" modality for the same cells, global annotations."""
    rna = scaug.datasets.simulate(n_cells, 100, 4, imbalance=0.05, random_state=0)
    rng = np.random.default_rng(1)
    prot = ad.AnnData(
        rng.poisson(5, (n_cells, 6)).astype(np.float32),
        obs=pd.DataFrame(
            {"cell_type": rna.obs["cell_type"].copy(), "adt_total": rng.normal(100, 5, n_cells)},
            index=rna.obs_names.copy(),
        ),
        var=pd.DataFrame(index=[f"CD{i}" for i in range(6)]),
    )
    mdata = md.MuData({"rna": rna, "prot": prot})
    mdata.obs["donor"] = rng.integers(0, 3, n_cells).astype(float)
    mdata.obsm["X_joint"] = rng.normal(size=(n_cells, 2))
    mdata.obsm["clone"] = rng.integers(0, 5, (n_cells, 1))  # integer: update() alone cannot pad it
    mdata.obsp["connectivities"] = sparse.identity(n_cells, format="csr")
    mdata.uns["study"] = "toy"
    return mdata


@pytest.fixture(params=[None, False], ids=["pull_on_update=None", "pull_on_update=False"])
def pull(request):
    """mudata 0.3's default (update() pulls modality columns) and 0.4's (it does not)."""
    with md.set_options(pull_on_update=request.param):
        yield request.param


def same_matrix(a, b) -> bool:
    if sparse.issparse(a) != sparse.issparse(b):
        return False
    if sparse.issparse(a):
        a, b = a.tocsr(), b.tocsr()
        return (
            a.dtype == b.dtype
            and np.array_equal(a.indptr, b.indptr)
            and np.array_equal(a.indices, b.indices)
            and np.array_equal(a.data, b.data)
        )
    return a.dtype == b.dtype and np.array_equal(a, b)


def assert_same_modality(a: ad.AnnData, b: ad.AnnData) -> None:
    assert list(a.obs_names) == list(b.obs_names)
    assert list(a.var_names) == list(b.var_names)
    assert same_matrix(a.X, b.X)
    pd.testing.assert_frame_equal(a.obs, b.obs)
    assert set(a.uns) == set(b.uns)


def snapshot(mdata: md.MuData) -> dict:
    """A deep copy of what a MuData holds (mdata.copy() itself fails on integer .obsm with mudata 0.4's update)."""
    return {
        "mod": {name: a.copy() for name, a in mdata.mod.items()},
        "obs": mdata.obs.copy(),
        "obsm": {k: np.array(v, copy=True) for k, v in mdata.obsm.items()},
        "obsp": list(mdata.obsp),
        "uns": dict(mdata.uns),
    }


def assert_unchanged(mdata: md.MuData, before: dict) -> None:
    assert list(mdata.mod) == list(before["mod"])
    for name, a in before["mod"].items():
        assert_same_modality(mdata[name], a)
    pd.testing.assert_frame_equal(mdata.obs, before["obs"])
    assert set(mdata.obsm) == set(before["obsm"])
    for name, value in before["obsm"].items():
        assert np.array_equal(mdata.obsm[name], value)
    assert list(mdata.obsp) == before["obsp"] and mdata.uns == before["uns"]


def test_augment_adds_synthetic_cells_to_one_modality_only(pull, caplog):
    mdata = make_mdata()
    if pull is False:  # mudata 0.4 style: the user pulls the columns they want
        mdata.pull_obs(columns=["cell_type"], mods=["rna"])
    before = snapshot(mdata)
    with caplog.at_level(logging.WARNING, logger="scaug"):
        aug = scaug.tl.augment(mdata, "smote", labels_key="cell_type", mod="rna")
    assert isinstance(aug, md.MuData)
    assert_unchanged(mdata, before)  # the input is untouched
    assert "scaug" not in mdata["rna"].uns

    # rna: the same result as augmenting the AnnData itself (real cells first, then synthetic ones)
    rna, n_real = aug["rna"], mdata["rna"].n_obs
    alone = scaug.tl.augment(mdata["rna"], "smote", labels_key="cell_type")
    assert same_matrix(rna.X, alone.X)
    pd.testing.assert_frame_equal(rna.obs, alone.obs)
    flag = rna.obs["scaug_synthetic"].to_numpy()
    n_syn = int(flag.sum())
    assert n_syn > 0 and rna.n_obs == n_real + n_syn and not flag[:n_real].any()
    assert same_matrix(rna.X[:n_real], mdata["rna"].X)
    assert (rna.obs.loc[flag, "scaug_method"] == "smote").all()
    assert list(rna.uns["scaug"]["runs"]) == ["smote-1"]

    # prot: the same cells, bit-identical, in memory of its own
    assert_same_modality(aug["prot"], before["mod"]["prot"])
    pd.testing.assert_frame_equal(aug["prot"].var, before["mod"]["prot"].var)
    assert not np.shares_memory(aug["prot"].X, mdata["prot"].X)

    # global obs after update(): provenance shown, the synthetic cells missing everywhere else
    syn_names = rna.obs_names[flag]
    assert aug.n_obs == mdata.n_obs + n_syn
    assert list(aug.obs_names[: mdata.n_obs]) == list(mdata.obs_names)
    shown = aug.obs["rna:scaug_synthetic"]
    assert shown.loc[syn_names].astype(bool).all() and not shown.drop(syn_names).astype(bool).any()
    assert (aug.obs.loc[syn_names, "rna:scaug_run"].astype(str) == "smote-1").all()
    assert aug.obs.loc[syn_names, "donor"].isna().all()
    assert aug.obs.drop(syn_names)["donor"].to_numpy(dtype=float).tolist() == mdata.obs["donor"].tolist()
    assert ("prot:adt_total" in aug.obs) == (pull is None)  # pulled by update() in mudata 0.3 only
    if pull is None:
        assert aug.obs.loc[syn_names, "prot:adt_total"].isna().all()
    # a column of rna that .obs shows is filled in for the synthetic cells too
    shown_labels = aug.obs.loc[syn_names, "rna:cell_type"].astype(str)
    assert shown_labels.tolist() == rna.obs.loc[syn_names, "cell_type"].astype(str).tolist()
    in_prot = pd.Series(np.ravel(aug.obsm["prot"]), index=aug.obs_names)
    assert not in_prot[syn_names].any() and in_prot.drop(syn_names).all()
    assert np.isnan(aug.obsm["X_joint"][mdata.n_obs :]).all()
    assert np.array_equal(aug.obsm["X_joint"][: mdata.n_obs], mdata.obsm["X_joint"])
    assert np.isnan(aug.obsm["clone"][mdata.n_obs :]).all()
    assert np.array_equal(aug.obsm["clone"][: mdata.n_obs], mdata.obsm["clone"])
    assert "connectivities" not in aug.obsp
    assert "mdata.obsp ['connectivities'] dropped" in caplog.text
    assert aug.uns["study"] == "toy"


def test_h5mu_round_trip_keeps_flag_counts_and_record(pull, tmp_path):
    mdata = make_mdata()
    aug = scaug.tl.augment(mdata, "smote", labels_key="cell_type", mod="rna")
    path = tmp_path / "aug.h5mu"
    aug.write_h5mu(path)
    back = md.read_h5mu(path)
    assert back.n_obs == aug.n_obs
    pd.testing.assert_frame_equal(back["rna"].obs, aug["rna"].obs)
    assert same_matrix(back["rna"].X, aug["rna"].X)
    syn = back["rna"][back["rna"].obs["scaug_synthetic"].to_numpy()].X
    assert syn.shape[0] > 0 and np.array_equal(syn.data, np.floor(syn.data))  # integer counts
    assert np.array_equal(
        back.obs["rna:scaug_synthetic"].to_numpy(dtype=bool),
        aug.obs["rna:scaug_synthetic"].to_numpy(dtype=bool),
    )
    record = back["rna"].uns["scaug"]["runs"]["smote-1"]
    pd.testing.assert_frame_equal(record["counts"], aug["rna"].uns["scaug"]["runs"]["smote-1"]["counts"])
    assert_same_modality(back["prot"], mdata["prot"])


def test_generate_returns_a_mudata_of_the_modality(pull):
    mdata = make_mdata()
    syn = scaug.tl.generate(mdata, {"type_3": 30}, method="smote", labels_key="cell_type", mod="rna")
    alone = scaug.tl.generate(mdata["rna"], {"type_3": 30}, method="smote", labels_key="cell_type")
    assert isinstance(syn, md.MuData) and list(syn.mod) == ["rna"]
    assert syn.n_obs == syn["rna"].n_obs == 30
    assert same_matrix(syn["rna"].X, alone.X)
    pd.testing.assert_frame_equal(syn["rna"].obs, alone.obs)
    assert syn.obs["rna:scaug_synthetic"].astype(bool).all()
    assert "scaug" in syn["rna"].uns and "scaug" not in syn.uns


def test_fidelity_with_a_held_out_mudata_writes_into_the_modality(tmp_path):
    matplotlib.use("Agg")
    mdata = make_mdata(900)
    train, heldout = mdata[:600].copy(), mdata[600:].copy()
    aug = scaug.tl.augment(train, "smote", labels_key="cell_type", mod="rna")
    metrics = ["mmd", "prdc"]
    table = scaug.tl.fidelity(aug, reference=heldout, metrics=metrics, mod="rna")
    entry = aug["rna"].uns["scaug_fidelity"]
    assert "scaug_fidelity" not in aug.uns
    assert json.loads(entry["params"])["reference"] == "given"
    # the same numbers as on the modality's AnnData with the held-out modality
    expected = scaug.tl.fidelity(aug["rna"].copy(), reference=heldout["rna"], metrics=metrics)
    pd.testing.assert_frame_equal(table, expected)
    fig = scaug.pl.fidelity(aug, mod="rna", show=False)
    assert fig is not None and len(fig.axes) > 0
    # every panel reads the modality's results, as on the modality's AnnData
    for panel in (scaug.pl.fidelity_scores, scaug.pl.fidelity_library_size, scaug.pl.fidelity_sparsity):
        on_mudata, on_modality = panel(aug, mod="rna", show=False), panel(aug["rna"], show=False)
        assert [t.get_text() for t in on_mudata.get_xticklabels()] == [
            t.get_text() for t in on_modality.get_xticklabels()
        ]
        assert len(on_mudata.patches) == len(on_modality.patches) > 0
    # a MuData reference needs mod too
    with pytest.raises(ScaugInputError, match=r"reference is a MuData: pass mod="):
        scaug.tl.fidelity(aug["rna"], reference=heldout, metrics=metrics)


def _augment(data, **kw):
    return scaug.tl.augment(data, "smote", labels_key="cell_type", **kw)


def _generate(data, **kw):
    return scaug.tl.generate(data, 5, method="smote", labels_key="cell_type", **kw)


def _pl_fidelity(data, **kw):
    return scaug.pl.fidelity(data, show=False, **kw)


def _pl_fidelity_umap(data, **kw):
    return scaug.pl.fidelity_umap(data, show=False, **kw)


CALLS = {
    "augment": _augment,
    "generate": _generate,
    "fidelity": scaug.tl.fidelity,
    "pl.fidelity": _pl_fidelity,
    "pl.fidelity_umap": _pl_fidelity_umap,
}


@pytest.mark.parametrize("call", CALLS)
def test_missing_modality_is_a_clear_error(call):
    mdata = make_mdata(300)
    with pytest.raises(ScaugInputError, match=r"has no modality 'atac' \(modalities: 'rna', 'prot'\)"):
        CALLS[call](mdata, mod="atac")


@pytest.mark.parametrize("call", CALLS)
def test_mudata_without_mod_lists_the_modalities(call):
    mdata = make_mdata(300)
    with pytest.raises(ScaugInputError, match=r"is a MuData: pass mod=.*\(modalities: 'rna', 'prot'\)"):
        CALLS[call](mdata)


@pytest.mark.parametrize("call", CALLS)
def test_mod_with_an_anndata_is_an_error(call):
    adata = make_mdata(300)["rna"]
    with pytest.raises(
        ScaugInputError, match=r"mod='rna' names a modality of a MuData, but .* is not a MuData \(AnnData\)"
    ):
        CALLS[call](adata, mod="rna")


def test_synthetic_names_never_join_cells_of_another_modality(pull):
    aug = make_mdata()
    aug = _augment(aug, mod="rna")
    # prot's first run would name its cells as rna's: one global cell for mudata
    with pytest.raises(ScaugInputError, match=r"already name cells of modality 'rna'.*key_added="):
        _augment(aug, mod="prot")
    both = _augment(aug, mod="prot", key_added="scaug_prot")
    n_prot = int(both["prot"].obs["scaug_prot_synthetic"].sum())
    assert n_prot > 0 and both.n_obs == aug.n_obs + n_prot
    assert_same_modality(both["rna"], aug["rna"])


def test_cli_augment_h5mu_with_mod(tmp_path, capsys):
    path, out = tmp_path / "in.h5mu", tmp_path / "aug.h5mu"
    mdata = make_mdata()
    mdata.write_h5mu(path)
    args = ["augment", "-i", str(path), "--labels-key", "cell_type", "-m", "smote"]
    assert main([*args, "-o", str(out), "--mod", "rna"]) == 0
    assert "synthetic" in capsys.readouterr().out
    back = md.read_h5mu(out)
    assert back["rna"].obs["scaug_synthetic"].sum() > 0
    assert_same_modality(back["prot"], mdata["prot"])

    assert main([*args, "-o", str(tmp_path / "x.h5mu")]) == 2
    assert "pass --mod" in capsys.readouterr().err and not (tmp_path / "x.h5mu").exists()
    assert main([*args, "-o", str(tmp_path / "x.h5ad"), "--mod", "rna"]) == 2
    assert "expected a .h5mu file" in capsys.readouterr().err and not (tmp_path / "x.h5ad").exists()


def test_cli_fidelity_h5mu_with_mod(tmp_path, capsys):
    matplotlib.use("Agg")
    mdata = make_mdata(900)
    aug = scaug.tl.augment(mdata[:600].copy(), "smote", labels_key="cell_type", mod="rna")
    paths = {name: tmp_path / f"{name}.h5mu" for name in ("aug", "heldout", "out")}
    aug.write_h5mu(paths["aug"])
    mdata[600:].copy().write_h5mu(paths["heldout"])
    report = tmp_path / "report.png"
    args = ["fidelity", "-i", str(paths["aug"]), "--reference", str(paths["heldout"]), "--mod", "rna"]
    assert main([*args, "-r", str(report), "-o", str(paths["out"]), "--metrics", "mmd,prdc"]) == 0
    assert "wrote" in capsys.readouterr().out and report.stat().st_size > 0
    back = md.read_h5mu(paths["out"])
    assert json.loads(back["rna"].uns["scaug_fidelity"]["params"])["reference"] == "given"
    assert "scaug_fidelity" not in back.uns
