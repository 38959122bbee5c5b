"""Few-shot labels: conditioning fitted to a label's few cells, variation borrowed from the others.

A conditional GAN learns a label with a handful of cells badly either way: trained as it comes
(a 2-cell label is in one minibatch of eight) its conditional batch norm barely moves and many of
its "cells" look like the large labels; drawn often enough to be learnt, the critic sees the same
few cells again and again and the generator collapses onto them. After adversarial training, scaug
therefore fits only the *shift* of each few-shot label's conditional batch norm (one vector per
hidden layer) so that the mean expression of its generated cells, drawn as counts as the critic
sees them, matches a target from its real cells. Everything that makes cells vary — the noise, the
shared weights, the label's scale — stays as adversarial training left it, so the label's cells
vary as real cells do and cannot become copies of the few: the fit has one vector per layer to
move, not a cell to memorise.

The target is the few cells' mean *denoised*: of its difference from the average training cell,
the part along the main axes of variation of all training cells (their top principal components)
is kept, and elsewhere only genes whose difference stands out of the counting noise (more than
three standard errors of a mean of that many cells, from the labels' within-label spread). The
mean of two cells is mostly counting noise gene by gene, and fitted as it is it pulls the label
away from its type (on paul15's Neutrophils kept to 2 cells, copies of the two cells are further
from the held-out Neutrophils than any generator's cells); the main axes are where cell types
differ, and there the two cells' signal stands above the noise. The gene-wise test keeps a
programme of the label's own, which a label of two cells cannot put among the main axes.

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
    reference: torch.Tensor | None = None,
    reference_labels: np.ndarray | None = None,
    n_components: int = 10,
    steps: int = 300,
    lr: float = 1e-2,
    batch_size: int = 256,
    generator: torch.Generator | None = None,
    rng: np.random.Generator | None = None,
) -> float:
    """Fit the conditional batch-norm shifts of label ``code`` to the (denoised) mean of its real ``cells``.

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
    reference
        Training cells of all labels (same genes as ``cells``) whose top ``n_components`` principal
        components denoise the target (:func:`denoised_mean`); ``None`` fits the plain mean.
    reference_labels
        The label of each ``reference`` cell, for the within-label spread (needed with ``reference``).
    n_components
        Principal components of ``reference`` kept in the target.
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
    if reference is not None:
        if reference_labels is None or len(reference_labels) != len(reference):
            raise ValueError("reference_labels must give the label of each reference cell")
        reference = _critic_space(module, reference.to(device).float(), None)
        noise = within_label_sd(reference, np.asarray(reference_labels)) / len(cells) ** 0.5
        target = denoised_mean(target, reference, n_components, noise_sd=noise)
    labels = torch.full((batch_size,), code, dtype=torch.long, device=device)
    rng = rng or np.random.default_rng(0)
    try:
        for _ in range(int(steps)):
            size = None
            if library is not None:
                size = torch.as_tensor(rng.choice(library, batch_size), dtype=torch.float32, device=device)
            z = module.latent(labels, generator)
            fake = _critic_space(module, module.generate(labels, z=z, library=size), size, generator)
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


#: Standard errors by which a gene's residual must exceed the noise to stay in the few-shot target.
RESIDUAL_Z = 3.0


def denoised_mean(
    mean: torch.Tensor,
    reference: torch.Tensor,
    n_components: int,
    *,
    noise_sd: torch.Tensor | None = None,
    z: float = RESIDUAL_Z,
) -> torch.Tensor:
    """``mean`` with its deviation from ``reference``'s mean kept along the top principal components.

    ``reference`` is cells x genes; the result is ``reference.mean(0) + P (mean - reference.mean(0))``
    with ``P`` the projection onto its ``n_components`` leading principal axes (at most rank - 1),
    plus, for genes where ``mean`` differs from that by more than ``z * noise_sd`` (the standard
    error of ``mean`` per gene), the rest of the difference.

    Examples
    --------
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> axis = torch.zeros(50)
    >>> axis[:5] = 1.0
    >>> reference = torch.randn(500, 1, generator=g) * axis * 3 + torch.randn(500, 50, generator=g) * 0.1
    >>> mean = 2.0 * axis + torch.randn(50, generator=g)  # signal along the axis, noise in every gene
    >>> out = denoised_mean(mean, reference, 1)
    >>> float((out - 2.0 * axis).norm()) < 0.5 * float((mean - 2.0 * axis).norm())
    True
    """
    if n_components < 1:
        raise ValueError(f"n_components must be at least 1, got {n_components}")
    centre = reference.mean(0)
    # the singular vectors are unique up to sign, and the projection V V^T does not depend on it
    _, _, vt = torch.linalg.svd(reference - centre, full_matrices=False)
    axes = vt[: min(n_components, len(reference) - 1)]
    projected = centre + ((mean - centre) @ axes.T) @ axes
    if noise_sd is None:
        return projected
    residual = mean - projected
    return projected + residual * (residual.abs() > z * noise_sd)


def within_label_sd(x: torch.Tensor, labels: np.ndarray) -> torch.Tensor:
    """Per-gene standard deviation of ``x`` (cells x genes) around each cell's label mean, pooled.

    Labels with a single cell carry no within-label spread and are left out.

    Examples
    --------
    >>> import numpy as np, torch
    >>> x = torch.tensor([[0.0, 1.0], [2.0, 1.0], [10.0, 5.0], [12.0, 5.0], [7.0, 7.0]])
    >>> within_label_sd(x, np.array(["a", "a", "b", "b", "c"]))
    tensor([1., 0.])
    """
    parts = []
    for label in np.unique(labels):
        rows = torch.as_tensor(np.flatnonzero(labels == label), device=x.device)
        if len(rows) > 1:
            parts.append(x[rows] - x[rows].mean(0))
    if not parts:
        return torch.zeros(x.shape[1], dtype=x.dtype, device=x.device)
    return torch.cat(parts).pow(2).mean(0).sqrt()


def _critic_space(
    module: GANModule, x: torch.Tensor, library: torch.Tensor | None, rng: torch.Generator | None = None
) -> torch.Tensor:
    """Cells as the critic scores them: counts drawn (from ``rng``) and normalised, then log1p (counts data)."""
    if module.library_size is None:
        return x
    # Generated profiles (with a library size) go through the count draw, as in training.
    x = module.normalize(x) if library is None else module.counted(x, library, sampler="poisson", rng=rng)
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
