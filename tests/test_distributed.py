"""Training in several processes through Lightning's DDP (2 CPU processes, gloo)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from lightning.pytorch.strategies import DDPStrategy

import scaug
from scaug._validation import ScaugInputError
from scaug.models._distributed import n_processes, two_optimizer_strategy

# Every process writes what it saw; the script is run as a file because Lightning's "ddp" starts the
# other processes by running the same command again.
SCRIPT = textwrap.dedent(
    """
    import hashlib, json, os, sys

    import lightning.pytorch as pl
    import numpy as np
    import torch

    import scaug

    class Probe(pl.Callback):
        # What each process trains on: its first minibatches' cells and the first noise it draws.
        def __init__(self):
            self.cells, self.noise = [], None

        def on_train_batch_start(self, trainer, plan, batch, batch_idx):
            if len(self.cells) < 4:
                self.cells.append(batch["X"].sum(1).tolist())
            if self.noise is None:
                state = torch.get_rng_state()
                self.noise = torch.randn(4).tolist()
                torch.set_rng_state(state)

    method, strategy = sys.argv[1], sys.argv[2]
    adata = scaug.datasets.simulate(400, 100, 3, random_state=0)
    probe = Probe()
    train_kwargs = {"max_steps": 12, "strategy": strategy, "callbacks": [probe], "enable_progress_bar": False}
    if method == "activa":
        train_kwargs = {**train_kwargs, "max_epochs": 3, "warmup_epochs": 1}
        del train_kwargs["max_steps"]
    model = scaug.tl.train_generator(
        adata, method, labels_key="cell_type", accelerator="cpu", devices=2, random_state=0,
        model_kwargs={"n_top_genes": 50}, train_kwargs=train_kwargs,
    )
    rank = int(os.environ.get("LOCAL_RANK", 0))
    weights = b"".join(p.detach().numpy().tobytes() for p in model.module.parameters())
    out = scaug.tl.generate(model, {"type_0": 20}, random_state=0)
    result = {
        "rank": rank,
        "weights": hashlib.sha1(weights).hexdigest(),
        "cells": probe.cells,
        "noise": probe.noise,
        "generator_steps": model.train_params_.get("generator_steps"),
        "processes": model.train_params_.get("processes"),
        "integer_counts": bool(np.all(out.X.data == np.round(out.X.data))),
        "n_generated": int(out.n_obs),
    }
    with open(f"rank{rank}.json", "w") as f:
        json.dump(result, f)
    """
)


def _run_ddp(tmp_path, method: str, strategy: str = "ddp") -> list[dict]:
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run = subprocess.run(
        [sys.executable, str(script), method, strategy],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    files = sorted(tmp_path.glob("rank*.json"))
    return [json.loads(f.read_text()) for f in files]


@pytest.mark.parametrize("method", ["cscgan", "activa"])
def test_ddp_two_cpu_processes(tmp_path, method):
    ranks = _run_ddp(tmp_path, method)
    assert [r["rank"] for r in ranks] == [0, 1]
    zero, one = ranks
    # One model: the gradient all-reduce keeps the processes' weights identical ...
    assert zero["weights"] == one["weights"]
    # ... trained on different minibatches with different noise in each process.
    assert zero["cells"] != one["cells"]
    assert zero["noise"] != one["noise"]
    for r in ranks:
        assert r["integer_counts"] and r["n_generated"] == 20
    if method == "cscgan":
        # max_steps counts generator steps, as in one process (epochs are half as long per process).
        assert zero["generator_steps"] == one["generator_steps"] == 12
        assert zero["processes"] == 2


def test_ddp_notebook_returns_the_trained_state_to_the_main_process(tmp_path):
    # "ddp_notebook" trains in forked processes: only the main process runs the rest of the script.
    (result,) = _run_ddp(tmp_path, "cscgan", "ddp_notebook")
    assert result["generator_steps"] == 12
    assert result["processes"] == 2


def test_cli_train_in_two_processes_saves_one_model(tmp_path):
    adata = scaug.datasets.simulate(400, 100, 3, random_state=0)
    adata.write_h5ad(tmp_path / "sim.h5ad")
    scaug_cli = Path(sys.executable).parent / "scaug"
    options = '{"strategy": "ddp", "devices": 2, "accelerator": "cpu", "max_steps": 5}'
    command = [str(scaug_cli), "train", "-i", "sim.h5ad", "-o", "model", "--labels-key", "cell_type"]
    run = subprocess.run(
        [*command, "-m", "cscgan", "--train-kwargs", options],
        cwd=tmp_path,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("saved cscgan model") == 1
    model = scaug.models.load_model(str(tmp_path / "model"))
    assert model.params["processes"] == 2 and model.params["generator_steps"] == 5


def test_two_optimizer_strategy():
    assert two_optimizer_strategy("ddp") == "ddp_find_unused_parameters_true"
    assert two_optimizer_strategy("ddp_spawn") == "ddp_spawn_find_unused_parameters_true"
    assert two_optimizer_strategy("ddp_find_unused_parameters_true") == "ddp_find_unused_parameters_true"
    assert two_optimizer_strategy("auto") == "auto"
    strategy = DDPStrategy(find_unused_parameters=True)
    assert two_optimizer_strategy(strategy) is strategy
    with pytest.raises(ScaugInputError, match="find_unused_parameters=True"):
        two_optimizer_strategy(DDPStrategy())


def test_n_processes():
    assert n_processes("ddp", "cpu", 2) == 2
    assert n_processes("ddp", "cpu", [0, 1, 2]) == 3
    assert n_processes("ddp", "cpu", "2", num_nodes=2) == 4
    assert n_processes("ddp", "cpu", "auto") == 1
    assert n_processes("auto", "cpu", 2) == 1
    assert n_processes(None, "cpu", 2) == 1


def test_study_gan_refuses_ddp():
    adata = scaug.datasets.simulate(200, 50, 3, random_state=0)
    with pytest.raises(ScaugInputError, match="gan trains in one process"):
        scaug.tl.train_generator(
            adata, "gan", labels_key="cell_type", train_kwargs={"strategy": "ddp", "max_epochs": 1}
        )
