"""Fuzzing the public entry points (issue 15): any input gives a valid result or one ScaugInputError.

Random shapes, sparsity formats, dtypes, label layouts (missing labels in every spelling, tiny
labels, one label), corrupt values (NaN, inf, negative, non-integer) and requests. Whatever
happens, the input AnnData is left exactly as it was.
"""

from __future__ import annotations

import warnings

import anndata as ad
import numpy as np
import pandas as pd
import pytest
import torch
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from scipy import sparse

import scaug
from scaug import ScaugInputError

FUZZ = settings(
    max_examples=100,
    deadline=None,
    derandomize=True,  # the same cases in every run: CI failures reproduce
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
CLASSICAL = ["smote", "random_oversample", "borderline_smote", "adasyn"]
LABEL_VALUES = ["a", "b", "c", "d", "nan", "", "None", None, np.nan]


@st.composite
def adatas(draw, n_vars: int | None = None) -> ad.AnnData:
    n_obs = draw(st.integers(1, 40))
    n_vars = draw(st.integers(1, 12)) if n_vars is None else n_vars
    seed = draw(st.integers(0, 2**16))
    rng = np.random.default_rng(seed)
    x = rng.poisson(draw(st.sampled_from([0.05, 1.0, 5.0])), size=(n_obs, n_vars)).astype(np.float64)
    corruption = (
        "none" if rng.random() < 0.6 else draw(st.sampled_from(["nan", "inf", "negative", "fraction", "log"]))
    )
    if corruption == "log":
        x = np.log1p(x / np.maximum(x.sum(axis=1, keepdims=True), 1) * 1e4)
    elif corruption != "none":
        value = {"nan": np.nan, "inf": np.inf, "negative": -1.0, "fraction": 0.5}[corruption]
        x[draw(st.integers(0, n_obs - 1)), draw(st.integers(0, n_vars - 1))] = value
    dtype = draw(
        st.sampled_from([np.float32, np.float64, np.int64] if corruption == "none" else [np.float32])
    )
    x = x.astype(dtype)
    fmt = draw(st.sampled_from(["dense", "csr", "csc"]))
    matrix = x if fmt == "dense" else getattr(sparse, f"{fmt}_matrix")(x)
    # Rare layouts by the drawn seed: hypothesis favours the ends of a sampled list, not its weights.
    if rng.random() < 0.15:  # every spelling of a missing label
        labels = draw(st.lists(st.sampled_from(LABEL_VALUES), min_size=n_obs, max_size=n_obs))
    else:
        labels = draw(st.lists(st.sampled_from(LABEL_VALUES[:4]), min_size=n_obs, max_size=n_obs))
    obs = pd.DataFrame({"cell_type": labels})
    if draw(st.booleans()):
        obs["cell_type"] = obs["cell_type"].astype("category")
    obs_names = [f"cell{i}" for i in range(n_obs)]
    if n_obs > 1 and rng.random() < 0.1:
        obs_names[-1] = obs_names[0]
    obs.index = obs_names
    adata = ad.AnnData(matrix, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(n_vars)]))
    if draw(st.booleans()):
        adata.obsm["frame"] = pd.DataFrame({"u": rng.normal(size=n_obs)}, index=adata.obs_names)
    if draw(st.booleans()):
        adata.layers["counts"] = matrix.copy()
    return adata


def _snapshot(adata: ad.AnnData) -> dict:
    def dense(m):
        return m.toarray() if sparse.issparse(m) else np.asarray(m).copy()

    return {
        "X": dense(adata.X),
        "format": type(adata.X),
        "dtype": adata.X.dtype,
        "obs": adata.obs.copy(),
        "obs_names": adata.obs_names.copy(),
        "var_names": adata.var_names.copy(),
        "layers": {k: dense(v) for k, v in adata.layers.items()},
        "obsm": {k: v.copy() for k, v in adata.obsm.items()},
        "uns": sorted(adata.uns.keys()),
    }


def _assert_unchanged(adata: ad.AnnData, before: dict) -> None:
    after = _snapshot(adata)
    np.testing.assert_array_equal(after["X"], before["X"])
    assert after["format"] is before["format"] and after["dtype"] == before["dtype"]
    pd.testing.assert_frame_equal(after["obs"], before["obs"])
    assert after["obs_names"].equals(before["obs_names"]) and after["var_names"].equals(before["var_names"])
    assert after["layers"].keys() == before["layers"].keys()
    for key, value in before["layers"].items():
        np.testing.assert_array_equal(after["layers"][key], value)
    for key, value in before["obsm"].items():
        pd.testing.assert_frame_equal(after["obsm"][key], value)
    assert after["uns"] == before["uns"]


def _dense(m) -> np.ndarray:
    return m.toarray() if sparse.issparse(m) else np.asarray(m)


def _check_augmented(out: ad.AnnData, adata: ad.AnnData) -> None:
    n = adata.n_obs
    assert out.n_obs >= n and out.var_names.equals(adata.var_names)
    # Real cells first, bit-identical; the rest synthetic.
    np.testing.assert_array_equal(_dense(out.X[:n]), _dense(adata.X))
    assert list(out.obs_names[:n]) == list(adata.obs_names)
    flags = out.obs["scaug_synthetic"].to_numpy()
    assert not flags[:n].any() and flags[n:].all()
    assert out.obs_names.is_unique
    assert np.isfinite(_dense(out.X[n:])).all()


valid_requests = st.one_of(
    st.just("balance"),
    st.integers(1, 60),
    st.dictionaries(st.sampled_from(["a", "b", "c"]), st.integers(0, 30), min_size=1, max_size=3),
)
bad_requests = st.one_of(
    st.integers(-3, 0),
    st.booleans(),
    st.floats(-1, 10) | st.just(float("nan")),
    st.dictionaries(st.sampled_from(["a", "zz", ""]), st.integers(-2, 30), max_size=2),
    st.sampled_from(["many", 10**12]),
)
n_requests = st.one_of(valid_requests, valid_requests, valid_requests, bad_requests)


def _augment_valid_or_refused(adata: ad.AnnData, method, n_cells) -> None:
    """``augment`` returns a valid result or refuses with one ``ScaugInputError``; nothing else."""
    try:
        out = scaug.tl.augment(adata, method, labels_key="cell_type", n_cells=n_cells, random_state=0)
    except ScaugInputError as error:
        event("refused", str(error).split(":")[0][:40])
    else:
        event("valid")
        _check_augmented(out, adata)


@pytest.fixture(autouse=True)
def _quiet():
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


@FUZZ
@given(adata=adatas(), method=st.sampled_from(CLASSICAL), n_cells=n_requests)
def test_augment_is_valid_or_refuses(adata, method, n_cells):
    before = _snapshot(adata)
    _augment_valid_or_refused(adata, method, n_cells)
    _assert_unchanged(adata, before)


@FUZZ
@given(adata=adatas(), method=st.sampled_from(CLASSICAL), n_cells=n_requests)
def test_generate_is_valid_or_refuses(adata, method, n_cells):
    before = _snapshot(adata)
    try:
        syn = scaug.tl.generate(adata, n_cells, method=method, labels_key="cell_type", random_state=0)
    except ScaugInputError as error:
        event("refused", str(error).split(":")[0][:40])
    else:
        event("valid")
        assert syn.obs["scaug_synthetic"].all() and syn.var_names.equals(adata.var_names)
        assert np.isfinite(_dense(syn.X)).all()
        assert set(syn.obs["cell_type"].astype(str)) <= set(adata.obs["cell_type"].dropna().astype(str))
    _assert_unchanged(adata, before)


@FUZZ
@given(adata=adatas(), target=st.one_of(st.sampled_from(["min", "median", "max"]), st.integers(-1, 30)))
def test_resample_is_valid_or_refuses(adata, target):
    before = _snapshot(adata)
    try:
        out = scaug.pp.resample(adata, labels_key="cell_type", target=target, random_state=0)
    except ScaugInputError as error:
        event("refused", str(error).split(":")[0][:40])
    else:
        event("valid")
        assert out.n_obs <= adata.n_obs and out.obs_names.isin(adata.obs_names).all()
        rows = adata.obs_names.get_indexer(out.obs_names)
        np.testing.assert_array_equal(_dense(out.X), _dense(adata.X)[rows])
    _assert_unchanged(adata, before)


@pytest.fixture(scope="module")
def cscgan():
    adata = scaug.datasets.simulate(150, 12, 3, random_state=0)
    adata.var_names = [f"g{j}" for j in range(12)]
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    model = scaug.tl.train_generator(
        adata, "cscgan", labels_key="cell_type", max_epochs=1, train_kwargs={"enable_progress_bar": False}
    )
    torch.set_num_threads(before)
    return model


@FUZZ
@given(adata=adatas(n_vars=12) | adatas(), n_cells=n_requests)
def test_a_trained_generator_is_valid_or_refuses(cscgan, adata, n_cells):
    before = _snapshot(adata)
    try:
        syn = scaug.tl.generate(cscgan, n_cells, random_state=0)
    except ScaugInputError as error:
        event("refused", str(error).split(":")[0][:40])
    else:
        event("valid")
        assert syn.obs["scaug_synthetic"].all()
        x = _dense(syn.X)
        assert np.isfinite(x).all() and (x >= 0).all() and (x == np.round(x)).all()
    _augment_valid_or_refused(adata, cscgan, n_cells)
    _assert_unchanged(adata, before)
