"""Cost of scaug against data size: training time, generation throughput, fidelity report, memory."""

from __future__ import annotations

import importlib
import multiprocessing
import resource
import sys
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor

import pandas as pd
from tqdm.auto import tqdm

from .._validation import ScaugInputError

COLUMNS = ["n_cells", "n_genes", "method", "stage", "metric", "value"]


def speed(
    methods: Sequence[str] = ("smote", "cscgan"),
    *,
    sizes: Sequence[int] = (2_000, 10_000),
    n_genes: int = 2_000,
    n_labels: int = 8,
    n_generate: int = 10_000,
    fidelity_cells: int = 2_000,
    model_kwargs: Mapping[str, dict] | None = None,
    train_kwargs: Mapping[str, dict] | None = None,
    random_state: int = 0,
    progress: bool = True,
) -> pd.DataFrame:
    """Time and memory of training, generation and the fidelity report on simulated data of each size.

    For each size and method, a fresh Python process simulates ``n_cells x n_genes`` counts with
    ``n_labels`` labels (:func:`scaug.datasets.simulate`, imbalance 1:20), trains the method
    (:func:`scaug.tl.train_generator`), generates ``n_generate`` cells spread by label frequency
    (:func:`scaug.tl.generate`) and reports the fidelity of ``fidelity_cells`` synthetic cells
    against as many held-out simulated cells (:func:`scaug.tl.fidelity`). Seconds are wall-clock
    on whatever else the machine runs. Memory is the process's peak resident set size after each
    stage (so it only grows from stage to stage), next to the size after simulating the data; a
    fresh process per method keeps one method's memory out of the next one's figures.

    Parameters
    ----------
    methods
        Registered method names.
    sizes
        Numbers of training cells.
    n_genes, n_labels
        Shape of the simulated data.
    n_generate
        Cells generated for the throughput measurement.
    fidelity_cells
        Synthetic (and held-out real) cells in the timed fidelity report.
    model_kwargs, train_kwargs
        Per method: ``{method: {...}}`` (e.g. ``{"cscgan": {"max_steps": 200}}`` to time a fixed
        number of steps; ``seconds_per_step`` is reported when the model records its steps).
    random_state
        Seed of the simulation, training and sampling.
    progress
        Show a progress bar.

    Returns
    -------
    Tidy table with columns ``n_cells``, ``n_genes``, ``method``, ``stage`` (``"data"``,
    ``"train"``, ``"generate"``, ``"fidelity"``), ``metric`` (``"seconds"``, ``"peak_rss_mb"``,
    ``"cells_per_s"``, ``"seconds_per_step"``) and ``value``.

    Examples
    --------
    >>> import scaug
    >>> table = scaug.bench.speed(["smote"], sizes=[300], n_genes=100, n_generate=500, fidelity_cells=100, progress=False)
    >>> sorted(table["stage"].unique())
    ['data', 'fidelity', 'generate', 'train']
    """
    from .._registry import get_method

    for method in methods:
        get_method(method)
    if any(int(n) < 2 * n_labels for n in sizes):
        raise ScaugInputError(f"every size must hold at least 2 cells per label ({2 * n_labels})")
    model_kwargs, train_kwargs = dict(model_kwargs or {}), dict(train_kwargs or {})
    tables = []
    bar = tqdm(total=len(sizes) * len(methods), desc="speed", disable=not progress)
    # "spawn": a forked child would inherit the parent's memory and its torch/OpenMP state.
    with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
        for n_cells in sizes:
            for method in methods:
                job = pool.submit(
                    _costs_by_reference(),
                    method,
                    n_cells=int(n_cells),
                    n_genes=n_genes,
                    n_labels=n_labels,
                    n_generate=n_generate,
                    fidelity_cells=fidelity_cells,
                    model_kwargs=model_kwargs.get(method),
                    train_kwargs=train_kwargs.get(method),
                    random_state=random_state,
                )
                tables.append(job.result().assign(n_cells=int(n_cells), n_genes=n_genes, method=method))
                bar.update()
    bar.close()
    return pd.concat(tables, ignore_index=True)[COLUMNS]


def costs(
    method: str,
    *,
    n_cells: int,
    n_genes: int,
    n_labels: int,
    n_generate: int,
    fidelity_cells: int,
    model_kwargs: dict | None,
    train_kwargs: dict | None,
    random_state: int,
) -> pd.DataFrame:
    """``(stage, metric, value)`` rows of one method on one simulated dataset (run in a fresh process)."""
    from .. import datasets, tl

    data = datasets.simulate(
        n_cells + fidelity_cells, n_genes, n_labels, imbalance=0.05, random_state=random_state
    )
    train, heldout = data[:n_cells].copy(), data[n_cells:].copy()
    del data
    rows = [("data", "peak_rss_mb", peak_rss_mb())]
    start = time.perf_counter()
    gen = tl.train_generator(
        train,
        method,
        labels_key="cell_type",
        random_state=random_state,
        model_kwargs=model_kwargs,
        train_kwargs=train_kwargs,
    )
    seconds = time.perf_counter() - start
    rows += [("train", "seconds", seconds), ("train", "peak_rss_mb", peak_rss_mb())]
    steps = getattr(gen, "params", {}).get("generator_steps")
    if steps:
        rows.append(("train", "seconds_per_step", seconds / steps))
    start = time.perf_counter()
    syn = tl.generate(gen, n_generate, labels_key="cell_type", random_state=random_state)
    seconds = time.perf_counter() - start
    rows += [
        ("generate", "seconds", seconds),
        ("generate", "cells_per_s", syn.n_obs / max(seconds, 1e-9)),
        ("generate", "peak_rss_mb", peak_rss_mb()),
    ]
    del syn
    aug = tl.augment(train, gen, labels_key="cell_type", n_cells=fidelity_cells, random_state=random_state)
    start = time.perf_counter()
    tl.fidelity(aug, reference=heldout, random_state=random_state)
    rows += [
        ("fidelity", "seconds", time.perf_counter() - start),
        ("fidelity", "peak_rss_mb", peak_rss_mb()),
    ]
    return pd.DataFrame(rows, columns=["stage", "metric", "value"])


def _costs_by_reference():
    """:func:`costs` as ``sys.modules`` holds it: the child process pickles it by its module and name."""
    return importlib.import_module(__name__).costs


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KB on Linux
