"""Seed one training run without changing the caller's random state."""

from __future__ import annotations

import os
import random
from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np

# Environment variables that seeding scvi-tools (Lightning's seed_everything) sets or extends.
_ENVIRONMENT = ("PL_GLOBAL_SEED", "PL_SEED_WORKERS", "XLA_FLAGS")


@contextmanager
def seeded(random_state: int) -> Iterator[None]:
    """Set ``scvi.settings.seed`` for the block, then put every global random state back.

    scvi-tools models read their seed from ``scvi.settings.seed``, and setting it re-seeds Python's,
    numpy's and torch's global generators: inside the block training is reproducible, and after it
    the caller's random streams, scvi-tools' seed and the environment are as they were.

    Examples
    --------
    >>> import torch
    >>> _ = torch.manual_seed(1)
    >>> with seeded(7):
    ...     inside = torch.rand(1)  # the same in every run
    >>> after = torch.rand(1)
    >>> _ = torch.manual_seed(1)
    >>> bool(after == torch.rand(1))  # as if the block had not run
    True
    """
    import scvi
    import torch

    # numpy's legacy global generator is what seed_everything re-seeds: it is the state to keep.
    states = (random.getstate(), np.random.get_state(), torch.random.get_rng_state())  # noqa: NPY002
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    cudnn = (torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark)
    environment = {name: os.environ.get(name) for name in _ENVIRONMENT}
    previous = scvi.settings.seed
    scvi.settings.seed = random_state
    try:
        yield
    finally:
        # Not through the setter: it would re-seed every generator with the old seed.
        scvi.settings._seed = previous
        random.setstate(states[0])
        np.random.set_state(states[1])  # noqa: NPY002
        torch.random.set_rng_state(states[2])
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)
        torch.backends.cudnn.deterministic, torch.backends.cudnn.benchmark = cudnn
        for name, value in environment.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
