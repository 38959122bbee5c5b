"""Training is seeded by random_state alone and leaves the caller's random state alone (issue 17)."""

from __future__ import annotations

import os
import random

import numpy as np
import pytest
import scvi
import torch

import scaug

pytestmark = pytest.mark.usefixtures("one_thread")


def _reset() -> None:
    random.seed(3)
    np.random.seed(3)  # noqa: NPY002 - the legacy global generator is what must stay untouched
    torch.manual_seed(3)


def _draws() -> tuple[float, float, float]:
    return random.random(), float(np.random.random()), float(torch.rand(1))  # noqa: NPY002


def _train(adata, method: str):
    quiet = {"enable_progress_bar": False}
    return scaug.tl.train_generator(
        adata, method, labels_key="cell_type", max_epochs=1, random_state=11, train_kwargs=quiet
    )


@pytest.mark.parametrize("method", ["cscgan", "scvi_ppc", "scvi"])
def test_training_leaves_global_random_state_and_scvi_seed_alone(method):
    adata = scaug.datasets.simulate(200, 30, 3, random_state=0)
    scvi.settings.seed = 5
    environment = os.environ.get("PL_GLOBAL_SEED")
    _reset()
    expected = _draws()
    _reset()
    model = _train(adata, method)
    assert _draws() == expected
    assert scvi.settings.seed == 5
    assert os.environ.get("PL_GLOBAL_SEED") == environment
    again = _train(adata, method)
    request = {"type_0": 5, "type_2": 5}
    assert (model.sample(request, random_state=0)[0] != again.sample(request, random_state=0)[0]).nnz == 0
