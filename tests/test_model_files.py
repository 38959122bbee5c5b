"""Model files hold tensors and plain values only: loading one cannot run code (issue 15)."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline

import scaug
from scaug import ScaugInputError
from scaug.models._files import decode, encode
from scaug.models.scgan._labeller import fit_labeller, predict_labels

QUIET = {"enable_progress_bar": False}


pytestmark = pytest.mark.usefixtures("one_thread")


def _round_trip(obj, tmp_path):
    path = tmp_path / "obj.pt"
    torch.save(encode(obj), path)
    return decode(torch.load(path, weights_only=True))


def test_encode_round_trips_what_models_store(tmp_path):
    frame = pd.DataFrame(
        {
            "label": pd.Categorical(["a", "b", "a"], categories=["b", "a"]),
            "score": [0.5, 1.5, np.nan],
            "rank": np.array([1, 2, 3], dtype=np.int32),
            "name": ["u", "v", "w"],
        },
        index=pd.Index(["c1", "c2", "c3"], name="cell"),
    )
    obj = {
        "frame": frame,
        "history": pd.DataFrame({"loss": [1.0, 0.5]}),
        "series": pd.Series([3, 4], index=pd.Index(["x", "y"]), name="n"),
        "arrays": {np.str_("type_0"): np.arange(6, dtype=np.float32).reshape(2, 3)},
        "strings": np.array(["g1", "g2"]),
        "objects": np.array(["g1", None], dtype=object),
        "flags": np.array([True, False]),
        "big": np.array([2**40], dtype=np.uint64),
        "scalars": [np.float64(0.25), np.int64(7), np.str_("s"), None, True],
        "shape": (128, 256),
    }
    out = _round_trip(obj, tmp_path)
    pd.testing.assert_frame_equal(out["frame"], frame)
    pd.testing.assert_frame_equal(out["history"], obj["history"])
    pd.testing.assert_series_equal(out["series"], obj["series"])
    np.testing.assert_array_equal(out["arrays"]["type_0"], obj["arrays"]["type_0"])
    assert out["arrays"]["type_0"].dtype == np.float32
    for key in ("strings", "objects", "flags", "big"):
        np.testing.assert_array_equal(out[key], obj[key])
        assert out[key].dtype == obj[key].dtype
    assert out["scalars"] == [0.25, 7, "s", None, True]
    assert all(type(v) in (float, int, str, type(None), bool) for v in out["scalars"])
    assert out["shape"] == (128, 256)


@pytest.mark.parametrize(
    ("obj", "message"),
    [
        ({"estimator": LogisticRegression()}, r"model\.estimator: cannot store a sklearn"),
        ({"when": np.array(["2020-01-01"], dtype="datetime64[D]")}, "dtype datetime64"),
        ({1: "one"}, "non-string key 1"),
        ({"cells": {1, 2}}, r"model\.cells: cannot store a builtins\.set"),
    ],
)
def test_encode_refuses_what_torch_could_only_pickle(obj, message):
    with pytest.raises(TypeError, match=message):
        encode(obj)


@pytest.mark.parametrize("n_labels", [2, 3])
def test_labeller_as_arrays_predicts_as_the_fitted_pipeline(n_labels):
    rng = np.random.default_rng(0)
    centres = rng.gamma(2.0, 2.0, size=(n_labels, 40))
    labels = np.repeat([f"t{i}" for i in range(n_labels)], 30)
    x = rng.poisson(centres[np.repeat(np.arange(n_labels), 30)] * 3).astype(float)
    labeller = fit_labeller(x, labels, log_normalize=False)
    pipeline = make_pipeline(
        PCA(n_components=40, random_state=0), LogisticRegression(max_iter=500, class_weight="balanced")
    ).fit(x, labels)
    fresh = rng.poisson(centres[rng.integers(0, n_labels, 200)] * 3).astype(float)
    np.testing.assert_array_equal(predict_labels(labeller, fresh), pipeline.predict(fresh))


def test_scgan_with_its_labeller_loads_with_weights_only_and_samples_the_same(tmp_path):
    # The other models' round trips are in their own test files (with the same weights_only check).
    adata = scaug.datasets.simulate(200, 30, 3, random_state=0)
    model = scaug.tl.train_generator(adata, "scgan", labels_key="cell_type", max_epochs=1, train_kwargs=QUIET)
    model.save(tmp_path / "m", overwrite=True)
    saved = torch.load(tmp_path / "m" / "model.pt", weights_only=True)
    assert saved["format"] == "scaug-safe-1"
    loaded = scaug.models.load_model(str(tmp_path / "m"))
    assert type(loaded) is type(model)
    assert loaded.params == model.params
    x, labels = model.sample({"type_0": 5, "type_2": 3}, random_state=3)
    y, labels_loaded = loaded.sample({"type_0": 5, "type_2": 3}, random_state=3)
    assert (x != y).nnz == 0
    assert list(labels) == list(labels_loaded)


class _RunsCode:
    """What a malicious pickle does: call a function (here: create a file) when unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def test_a_pickled_model_file_is_refused_without_running_it(tmp_path):
    marker = tmp_path / "ran"
    os.makedirs(tmp_path / "m")
    torch.save({"attr_dict": {"payload": _RunsCode(marker)}}, tmp_path / "m" / "model.pt")
    assert not marker.exists()
    with pytest.raises(ScaugInputError, match="pickled Python objects"):
        scaug.models.load_model(str(tmp_path / "m"))
    with pytest.raises(ScaugInputError, match="pickled Python objects"):
        scaug.models.CSCGAN.load(str(tmp_path / "m"))
    assert not marker.exists()


def test_a_model_of_another_class_is_refused(tmp_path):
    adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
    model = scaug.tl.train_generator(
        adata, "cscgan", labels_key="cell_type", max_epochs=1, train_kwargs=QUIET
    )
    model.save(tmp_path / "m", overwrite=True)
    with pytest.raises(ScaugInputError, match="holds a 'CSCGAN' model, not a GARAGE"):
        scaug.models.GARAGE.load(str(tmp_path / "m"))
    with pytest.raises(ScaugInputError, match="already exists"):
        model.save(tmp_path / "m")
    with pytest.raises(ScaugInputError, match="genes differ"):
        scaug.models.CSCGAN.load(str(tmp_path / "m"), adata=adata[:, :20].copy())
