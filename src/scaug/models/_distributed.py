"""Several processes through Lightning's DDP strategies, for the training plans with two optimizers.

scvi-tools' trainer passes ``strategy="ddp"`` (and ``devices``, ``num_nodes``) to Lightning, and its
data splitter then gives every process its own share of each epoch's minibatches. What a plan with
manual optimisation of two networks (a GAN's generator and critic, ACTIVA's encoder and decoder)
adds is here: DDP must look for parameters without a gradient (each optimizer's backward pass
leaves the other network's parameters out), every process needs its own random stream (the same
seed on every rank draws the same noise, so the extra processes would add no new fakes), and a
decision to stop (a diverged loss) must be taken by all processes together, or the others wait
forever in the next gradient all-reduce.
"""

from __future__ import annotations

import torch
from lightning.pytorch.strategies import DDPStrategy
from scvi import settings
from scvi.model._utils import use_distributed_sampler

from .._validation import ScaugInputError

#: Lightning's names of the DDP strategies, and the same strategy with the search for parameters that
#: took no part in a backward pass switched on.
_FIND_UNUSED = {
    name: f"{name}_find_unused_parameters_true" for name in ("ddp", "ddp_spawn", "ddp_fork", "ddp_notebook")
}


def two_optimizer_strategy(strategy):
    """The DDP ``strategy`` that a plan with two optimizers needs (unused parameters searched).

    Other strategies are returned unchanged; a :class:`~lightning.pytorch.strategies.DDPStrategy`
    instance must have been made with ``find_unused_parameters=True``.

    Examples
    --------
    >>> two_optimizer_strategy("ddp")
    'ddp_find_unused_parameters_true'
    >>> two_optimizer_strategy("auto")
    'auto'
    """
    if isinstance(strategy, str):
        return _FIND_UNUSED.get(strategy, strategy)
    if isinstance(strategy, DDPStrategy) and not strategy._ddp_kwargs.get("find_unused_parameters"):
        raise ScaugInputError(
            "each of this model's two optimizers leaves the other network without gradients: "
            "use DDPStrategy(find_unused_parameters=True) or strategy='ddp'"
        )
    return strategy


def n_processes(strategy, accelerator: str, devices, num_nodes: int = 1) -> int:
    """How many processes Lightning will train in (1 without a DDP strategy).

    Examples
    --------
    >>> n_processes("ddp", "cpu", 2)
    2
    >>> n_processes(None, "cpu", 2)
    1
    """
    if strategy is None or not use_distributed_sampler(strategy):
        return 1
    if isinstance(devices, list | tuple):
        n = len(devices)
    elif isinstance(devices, int) and devices > 0:
        n = devices
    elif isinstance(devices, str) and devices.isdigit():
        n = int(devices)
    elif str(accelerator) in ("auto", "gpu", "cuda") and torch.cuda.is_available():
        n = torch.cuda.device_count()
    else:  # "auto" or -1 on the CPU: Lightning trains in one process
        n = 1
    return max(1, n) * int(num_nodes)


def seed_rank(trainer) -> None:
    """Give each process its own torch random stream (seed + rank) when there are several."""
    if trainer.world_size > 1:
        torch.manual_seed(int(settings.seed or 0) + trainer.global_rank)


def all_finite(trainer, loss: torch.Tensor) -> bool:
    """Whether ``loss`` is finite on every process (a collective call under DDP)."""
    finite = bool(torch.isfinite(loss))
    if trainer is None or trainer.world_size == 1:
        return finite
    return bool(trainer.strategy.reduce_boolean_decision(finite, all=True))
