"""Few-shot labels: conditioning fitted to a label's few cells, variation borrowed from the others.

A conditional GAN learns a label with a handful of cells badly either way: trained as it comes
(a 2-cell label is in one minibatch of eight) its conditional batch norm barely moves and many of
its "cells" look like the large labels; drawn often enough to be learnt, the critic sees the same
few cells again and again and the generator collapses onto them. After adversarial training, scaug
therefore fits only the *shift* of each few-shot label's conditional batch norm (one vector per
hidden layer) so that the mean expression of its generated cells, drawn as counts as the critic
sees them, matches the mean of its real cells. Everything that makes cells vary — the noise, the
shared weights, the label's scale — stays as adversarial training left it, so the label's cells
vary as real cells do and cannot become copies of the few: the fit has one vector per layer to
move, not a cell to memorise.

Library sizes of a few-shot label are borrowed the same way: centred on its cells' (log) library
sizes, with the spread of the well-populated labels.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import torch

from ._module import GANModule


def fit_label_shift(
    module: GANModule,
    code: int,
    cells: torch.Tensor,
    library: np.ndarray | None,
    *,
    steps: int = 300,
    lr: float = 1e-2,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    """Fit the conditional batch-norm shifts of label ``code`` to the mean of its real ``cells``.

    Parameters
    ----------
    module
        A trained conditional GAN module.
    code
        Label code to fit.
    cells
        The label's real training cells over the modelled genes (counts or the continuous space).
    library
        Library sizes (modelled genes) to generate at, drawn at random; ``None`` in a continuous space.
    steps, lr, batch_size
        Adam steps (at least 1), learning rate and generated cells per step.
    generator, rng
        Random streams of the noise and of the library sizes (and counts).

    Returns
    -------
    The final loss: mean squared difference of the mean (critic-space) expression per gene.

    Examples
    --------
    >>> import torch
    >>> m = GANModule(20, 2, n_hidden_generator=(16,), n_hidden_critic=(16,), library_size=None)
    >>> cells = torch.rand(2, 20) * 3
    >>> first = fit_label_shift(m, 1, cells, None, steps=1, generator=torch.Generator().manual_seed(0))
    >>> last = fit_label_shift(m, 1, cells, None, steps=200, generator=torch.Generator().manual_seed(0))
    >>> bool(last < first)
    True
    """
    if steps < 1:
        raise ValueError(f"steps must be at least 1, got {steps}")
    norms = module.generator.norms
    if not norms or not norms[0].n_labels:
        raise ValueError("only a label-conditional generator has a label conditioning to fit")
    was_training = module.training
    # Running batch-norm statistics: each generated cell depends on its own noise only.
    module.eval()
    frozen = {p: p.requires_grad for p in module.parameters()}
    for p in frozen:
        p.requires_grad_(False)
    shifts = [bn.shift.weight for bn in norms]
    for w in shifts:
        w.requires_grad_(True)
    opt = torch.optim.Adam(shifts, lr=lr)
    device = shifts[0].device
    target = _critic_space(module, cells.to(device).float(), None).mean(0)
    labels = torch.full((batch_size,), code, dtype=torch.long, device=device)
    rng = rng or np.random.default_rng(0)
    try:
        for _ in range(int(steps)):
            size = None
            if library is not None:
                size = torch.as_tensor(rng.choice(library, batch_size), dtype=torch.float32, device=device)
            z = module.latent(labels, generator)
            fake = _critic_space(module, module.generate(labels, z=z, library=size), size)
            loss = ((fake.mean(0) - target) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            for w in shifts:  # only this label's row moves
                keep = torch.zeros_like(w.grad)
                keep[code] = 1.0
                w.grad.mul_(keep)
            opt.step()
    finally:
        for p, flag in frozen.items():
            p.requires_grad_(flag)
        module.train(was_training)
    return float(loss.detach())


def _critic_space(module: GANModule, x: torch.Tensor, library: torch.Tensor | None) -> torch.Tensor:
    """Cells as the critic scores them: counts drawn and normalised, then log1p (counts data)."""
    if module.library_size is None:
        return x
    # Generated profiles (with a library size) go through the count draw, as in training.
    x = module.normalize(x) if library is None else module.counted(x, library, sampler="poisson")
    return torch.log1p(x) if module.critic.log_input else x


def borrow_library_sizes(
    library_sizes: Mapping[str, np.ndarray],
    small: list[str],
    *,
    n_draws: int = 1000,
    rng: np.random.Generator,
) -> dict[str, np.ndarray]:
    """Library sizes of few-shot labels: their cells' log mean, the well-populated labels' spread.

    ``library_sizes[label]`` holds one row per training cell (total counts of the modelled genes,
    then of the other genes). A label in ``small`` gets ``n_draws`` rows: a random cell of its
    own, scaled by ``exp(e)`` with ``e`` normal around the difference between the label's mean log
    library size and that cell's, with the pooled within-label standard deviation of the other labels.
    Other labels are returned unchanged.

    Examples
    --------
    >>> import numpy as np
    >>> sizes = {"big": np.exp(np.random.default_rng(0).normal(8, 0.5, (500, 1))), "tiny": np.array([[3000.0]])}
    >>> out = borrow_library_sizes(sizes, ["tiny"], rng=np.random.default_rng(1))
    >>> logs = np.log(out["tiny"][:, 0])
    >>> round(float(logs.std()), 1), bool(abs(logs.mean() - np.log(3000)) < 0.1)
    (0.5, True)
    """
    logs = {
        lab: np.log(np.maximum(np.asarray(s, dtype=np.float64).sum(axis=1), 1.0))
        for lab, s in library_sizes.items()
    }
    others = [logs[lab] - logs[lab].mean() for lab in logs if lab not in small and len(logs[lab]) > 1]
    pooled = np.concatenate(others) if others else np.concatenate([v - v.mean() for v in logs.values()])
    sd = float(np.sqrt(np.mean(pooled**2))) if len(pooled) else 0.0
    out = dict(library_sizes)
    for lab in small:
        rows = np.asarray(library_sizes[lab], dtype=np.float64)
        pick = rng.integers(0, len(rows), size=n_draws)
        shift = logs[lab].mean() - logs[lab][pick] + rng.normal(0.0, sd, size=n_draws)
        out[lab] = rows[pick] * np.exp(shift)[:, None]
    return out
