"""Shared fixtures. Real data lives in ../shared/data beside the checkout (never in the repo)."""

from __future__ import annotations

import os
from pathlib import Path

import anndata as ad
import pytest

import scaug

DATA_DIR = Path(os.environ.get("SCAUG_DATA_DIR", Path(__file__).resolve().parents[2] / "shared" / "data"))


def _read_shared(name: str) -> ad.AnnData:
    path = DATA_DIR / name
    if not path.exists():
        if os.environ.get("SCAUG_REQUIRE_DATA") == "1":
            pytest.fail(f"{path} is missing and SCAUG_REQUIRE_DATA=1")
        pytest.skip(f"{path} not found (set SCAUG_DATA_DIR)")
    return ad.read_h5ad(path)


@pytest.fixture(scope="session")
def _pbmc3k() -> ad.AnnData:
    return _read_shared("pbmc3k_counts.h5ad")


@pytest.fixture
def pbmc3k(_pbmc3k) -> ad.AnnData:
    """PBMC 3k raw counts (2,700 x 32,738, CSR float32), labels in obs['louvain'] (62 NaN)."""
    return _pbmc3k.copy()


@pytest.fixture(scope="session")
def _paul15() -> ad.AnnData:
    return _read_shared("paul15_counts.h5ad")


@pytest.fixture
def paul15(_paul15) -> ad.AnnData:
    """Paul15 raw counts (2,660 x 3,004), labels in obs['cell_type2']."""
    return _paul15.copy()


@pytest.fixture
def sim() -> ad.AnnData:
    """Small simulated counts: 600 cells x 100 genes, 4 labels (smallest 19 cells)."""
    return scaug.datasets.simulate(600, 100, 4, imbalance=0.05, random_state=0)


@pytest.fixture
def one_thread():
    """Torch on one thread: tiny networks are slower on two threads that share two busy cores."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
