"""A label's region of scVI's latent space: a Gaussian fitted to its cells' posteriors."""

from __future__ import annotations

import numpy as np


def label_regions(
    means: np.ndarray, variances: np.ndarray, codes: np.ndarray, n_labels: int, *, prior_cells: float
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
    covariances = (
        weights[:, None, None] * scatters
        + (1 - weights)[:, None, None] * pooled
        + noise[:, :, None] * np.eye(n_dims)
    )
    covariances[sizes == 0] = np.nan
    return centres, covariances
