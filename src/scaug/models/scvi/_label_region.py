"""A label's region of a latent space: its cells' posteriors, as one Gaussian or smoothed."""

from __future__ import annotations

import numpy as np


def label_regions(
    means: np.ndarray,
    variances: np.ndarray,
    codes: np.ndarray,
    n_labels: int,
    *,
    prior_cells: float,
    posterior_noise: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Centre and covariance of each label's latent region.

    A label's region is its cells' aggregate posterior, summarised as one Gaussian: the centre is
    the mean of its cells' posterior means, the covariance the scatter of those means plus their
    average posterior variance. A label of a few cells cannot estimate a scatter, so it borrows
    the shape of the others: its scatter is shrunk towards the scatter pooled over all labels,

    .. math::
        \Sigma_k = w_k C_k + (1 - w_k) C_\text{pooled} + \operatorname{diag}(\bar v_k),
        \qquad w_k = \frac{n_k - 1}{n_k - 1 + \kappa},

    with :math:`C_k` the label's scatter of posterior means (ddof 1), :math:`C_\text{pooled}` the
    within-label scatter pooled over all labels, :math:`\bar v_k` its cells' mean posterior
    variance and :math:`\kappa` = ``prior_cells`` (as in a normal-inverse-Wishart prior of
    :math:`\kappa` cells). A 1-cell label gets the pooled shape around its one cell; a label of
    many more than :math:`\kappa` cells keeps its own.

    Parameters
    ----------
    means, variances
        Posterior means and variances of the training cells, cells x latent dimensions.
    codes
        Label code (``0 .. n_labels - 1``) of each cell.
    n_labels
        Number of labels.
    prior_cells
        Weight :math:`\kappa` of the pooled scatter, in cells.
    posterior_noise
        Add the mean posterior variance :math:`\bar v_k`; ``False``: the shrunk scatter of the
        posterior means alone (the kernel shape of :func:`smoothed_draws`).

    Returns
    -------
    ``(centres, covariances)``: labels x dims and labels x dims x dims; labels without cells get
    NaN.

    Examples
    --------
    >>> import numpy as np
    >>> means = np.array([[0.0, 0.0], [2.0, 0.0], [0.0, 2.0], [10.0, 10.0]])
    >>> centres, covs = label_regions(means, np.zeros_like(means), np.array([0, 0, 0, 1]), 2, prior_cells=2)
    >>> centres[1].tolist(), bool(np.allclose(covs[1], np.cov(means[:3].T)))
    ([10.0, 10.0], True)
    """
    n_dims = means.shape[1]
    centres = np.full((n_labels, n_dims), np.nan)
    scatters = np.zeros((n_labels, n_dims, n_dims))
    noise = np.zeros((n_labels, n_dims))
    sizes = np.bincount(codes, minlength=n_labels)
    for k in np.flatnonzero(sizes):
        cells = codes == k
        centres[k] = means[cells].mean(axis=0)
        noise[k] = variances[cells].mean(axis=0)
        if sizes[k] > 1:
            scatters[k] = np.cov(means[cells], rowvar=False, ddof=1).reshape(n_dims, n_dims)
    degrees = np.clip(sizes - 1, 0, None).astype(np.float64)
    if degrees.sum() > 0:
        pooled = np.einsum("k,kij->ij", degrees, scatters) / degrees.sum()
    else:
        pooled = np.zeros((n_dims, n_dims))
    weights = degrees / (degrees + prior_cells)
    covariances = weights[:, None, None] * scatters + (1 - weights)[:, None, None] * pooled
    if posterior_noise:
        covariances += noise[:, :, None] * np.eye(n_dims)
    covariances[sizes == 0] = np.nan
    return centres, covariances


def smoothed_draws(
    means: np.ndarray,
    variances: np.ndarray,
    centres: np.ndarray,
    factors: np.ndarray,
    *,
    bandwidth: float,
    rng: np.random.Generator,
) -> np.ndarray:
    r"""One latent per source cell from its label's aggregate posterior, smoothed by a kernel.

    A label's aggregate posterior is the mixture of its cells' posteriors
    :math:`\mathcal N(m_j, \operatorname{diag} v_j)`: unlike one Gaussian over the label, it keeps
    the label's shape (a bent trajectory, a label beside another). Drawing from it alone stays
    within each cell's posterior; a kernel of the label's scatter, scaled by the bandwidth
    :math:`h`, lets draws fill the space between the cells. The offset from the label's centre is
    shrunk by :math:`1/\sqrt{1 + h^2}` so that the kernel does not widen the label (Silverman's
    smoothed bootstrap with variance correction):

    .. math::
        z = c_k + \frac{m_j - c_k + h L_k \varepsilon}{\sqrt{1 + h^2}}
        + \sqrt{v_j} \odot \varepsilon', \qquad \varepsilon, \varepsilon' \sim \mathcal N(0, I),

    with :math:`c_k` the label's centre and :math:`L_k L_k^\top` its scatter of posterior means,
    shrunk towards the pooled one for a label of few cells
    (:func:`label_regions` with ``posterior_noise=False``).

    Parameters
    ----------
    means, variances
        Posterior mean and variance of each source cell (cells x dims).
    centres, factors
        Centre (cells x dims) and Cholesky factor of the scatter (cells x dims x dims) of each
        source cell's label.
    bandwidth
        :math:`h`: 0 draws from the cells' posteriors only; large values approach one Gaussian
        per label (:func:`label_regions`).
    rng
        Random generator.

    Returns
    -------
    Latents, cells x dims.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> z = smoothed_draws(np.ones((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2, 2)), bandwidth=1.0, rng=rng)
    >>> np.round(z[0], 3).tolist()
    [0.707, 0.707]
    """
    shrink = 1.0 / np.sqrt(1.0 + bandwidth**2)
    kernel = np.einsum("nij,nj->ni", factors, rng.standard_normal(means.shape))
    posterior = np.sqrt(variances) * rng.standard_normal(means.shape)
    return centres + shrink * (means - centres + bandwidth * kernel) + posterior
