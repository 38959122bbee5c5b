"""scaug.tl.fidelity on augmented AnnData, and the `scaug fidelity` command."""

import json

import anndata as ad
import numpy as np
import pandas as pd
import pytest

import scaug
from scaug.cli import main

FAST = ["classifier_auc", "prdc", "rem", "label_fidelity", "memorisation", "marginals", "correlation"]


@pytest.fixture(scope="module")
def augmented():
    """Two runs (SMOTE, random oversampling) on 70 % of a simulated dataset; the rest is held out."""
    adata = scaug.datasets.simulate(1400, 200, 4, imbalance=0.1, random_state=2)
    order = np.random.default_rng(0).permutation(adata.n_obs)
    train, heldout = adata[np.sort(order[:1000])].copy(), adata[np.sort(order[1000:])].copy()
    aug = scaug.tl.augment(train, "smote", labels_key="cell_type", random_state=0)
    aug = scaug.tl.augment(aug, "random_oversample", labels_key="cell_type", random_state=0)
    return aug, heldout


def test_fidelity_per_run_with_reference(augmented, caplog):
    aug, heldout = augmented
    aug = aug.copy()
    before, heldout_before = aug.copy(), heldout.copy()
    table = scaug.tl.fidelity(aug, reference=heldout, metrics=FAST)
    assert list(table.columns) == ["run", "metric", "label", "value"]
    assert set(table["run"]) == {"smote-1", "random_oversample-2"}
    # per label: only the labels the run generated (balance: the ones below the median)
    generated = set(aug.obs.loc[aug.obs["scaug_synthetic"], "cell_type"].astype(str))
    assert set(table.loc[table["metric"] == "coverage", "label"]) == generated | {"all"}
    v = table.set_index(["run", "metric", "label"])["value"]
    # copies of training cells are memorised, SMOTE interpolations much less so
    assert v["random_oversample-2", "memorisation_ratio", "all"] < 0.05
    assert v["smote-1", "memorisation_ratio", "all"] > 0.3
    warnings = aug.uns["scaug_fidelity"]["warnings"]
    memorised = warnings[warnings["kind"] == "memorised"]
    assert set(memorised["run"]) == {"random_oversample-2"}
    assert "look memorised" in caplog.text
    # real cells and obs unchanged; only uns gained the results
    pd.testing.assert_frame_equal(aug.obs, before.obs)
    assert (aug.X != before.X).nnz == 0
    assert (heldout.X != heldout_before.X).nnz == 0 and heldout.uns.keys() == heldout_before.uns.keys()
    pd.testing.assert_frame_equal(heldout.obs, heldout_before.obs)
    assert json.loads(aug.uns["scaug_fidelity"]["params"])["reference"] == "given"


def test_fidelity_without_reference_splits_and_says_so(augmented, caplog):
    aug = augmented[0].copy()
    table = scaug.tl.fidelity(aug, metrics=["classifier_auc", "memorisation"], run="smote-1")
    assert set(table["run"]) == {"smote-1"}
    notes = list(aug.uns["scaug_fidelity"]["notes"])
    assert any("no held-out reference" in n for n in notes)
    assert "pass reference=" in caplog.text
    assert json.loads(aug.uns["scaug_fidelity"]["params"])["reference"] == "split"


def test_fidelity_uns_survives_h5ad(augmented, tmp_path):
    aug, heldout = augmented
    aug = aug.copy()
    scaug.tl.fidelity(aug, reference=heldout, metrics=FAST, key_added="fid")
    path = tmp_path / "aug.h5ad"
    aug.write_h5ad(path)
    back = ad.read_h5ad(path).uns["fid"]
    pd.testing.assert_frame_equal(back["table"], aug.uns["fid"]["table"], check_categorical=False)
    pd.testing.assert_frame_equal(back["warnings"], aug.uns["fid"]["warnings"], check_dtype=False)
    assert list(back["cells"].columns) == list(aug.uns["fid"]["cells"].columns)
    np.testing.assert_allclose(
        back["correlation"]["smote-1"]["real"], aug.uns["fid"]["correlation"]["smote-1"]["real"]
    )


def test_fidelity_deterministic(augmented):
    # without a reference the real cells are split at random: the split must follow the seed too
    aug = augmented[0]
    metrics = ["classifier_auc", "prdc", "memorisation"]
    a = scaug.tl.fidelity(aug.copy(), metrics=metrics, random_state=5)
    b = scaug.tl.fidelity(aug.copy(), metrics=metrics, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    c = scaug.tl.fidelity(aug.copy(), metrics=metrics, random_state=6)
    assert not np.allclose(a["value"], c["value"], equal_nan=True)


def test_fidelity_bad_input(augmented, sim):
    aug, heldout = augmented
    with pytest.raises(scaug.ScaugInputError, match="no synthetic cells"):
        scaug.tl.fidelity(sim)
    with pytest.raises(scaug.ScaugInputError, match="run \\['nope'\\] has no synthetic cells"):
        scaug.tl.fidelity(aug.copy(), run="nope")
    with pytest.raises(scaug.ScaugInputError, match="unknown metrics"):
        scaug.tl.fidelity(aug.copy(), reference=heldout, metrics=["auc"])
    with pytest.raises(scaug.ScaugInputError, match="reference has no obs column 'cell_type'"):
        scaug.tl.fidelity(aug.copy(), reference=ad.AnnData(heldout.X, var=heldout.var))
    with pytest.raises(scaug.ScaugInputError, match="reference lacks 150 genes"):
        scaug.tl.fidelity(aug.copy(), reference=heldout[:, :50].copy(), metrics=["prdc"])
    with pytest.raises(scaug.ScaugInputError, match="must be an AnnData"):
        scaug.tl.fidelity(aug.X)


def test_cli_fidelity_writes_report_and_csv(augmented, tmp_path, capsys):
    aug, heldout = augmented
    aug_path, ref_path = tmp_path / "aug.h5ad", tmp_path / "heldout.h5ad"
    aug.write_h5ad(aug_path)
    heldout.write_h5ad(ref_path)
    report = tmp_path / "report.png"
    code = main(
        [
            "fidelity",
            "-i",
            str(aug_path),
            "--reference",
            str(ref_path),
            "--report",
            str(report),
            "--metrics",
            "prdc,label_fidelity,memorisation,rem",
            "--run",
            "random_oversample-2",
        ]
    )
    assert code == 0
    assert report.stat().st_size > 10_000
    table = pd.read_csv(tmp_path / "report.csv")
    assert set(table["run"]) == {"random_oversample-2"} and {"coverage", "memorisation_ratio"} <= set(
        table["metric"]
    )
    out = capsys.readouterr().out
    assert "look memorised" in out and "wrote" in out


def test_cli_fidelity_bad_input(tmp_path, capsys):
    code = main(["fidelity", "-i", str(tmp_path / "missing.h5ad")])
    assert code == 2
    assert "cannot read" in capsys.readouterr().err
