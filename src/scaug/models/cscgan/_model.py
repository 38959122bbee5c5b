"""cscGAN (Marouf et al. 2020): the label-conditional scGAN."""

from __future__ import annotations

from .._gan import GANModelBase


class CSCGAN(GANModelBase):
    """Conditional scGAN (Marouf et al. 2020): generates cells of any requested label.

    A Wasserstein GAN with gradient penalty whose generator (batch norm + ReLU layers, LSN output)
    is conditioned on the label by conditional batch norm and whose critic scores cells with a
    per-label projection. Counts out: each synthetic cell's library size is drawn from its label's
    training library sizes and counts are drawn from the generated profile.

    The defaults are tuned for CPU (minutes on a laptop) and depart from the paper where the
    held-out benchmark (``benchmarks/bench_cscgan.py``) showed it pays: a softmax LSN, a generator
    that also sees the cell's library size, and training through the counting noise (the critic
    compares Poisson-drawn synthetic counts with real counts). The published architecture and
    optimiser are in :data:`scaug.models.cscgan.PUBLISHED`.

    Parameters
    ----------
    adata
        AnnData registered with :meth:`setup_anndata`.
    registry
        Registry of a saved model (used by :meth:`load`).
    n_latent
        Noise dimension.
    n_hidden_generator, n_hidden_critic
        Hidden layer widths (published: 256-512-1024 and 1024-512-256).
    library_size
        Row sum of the normalised profiles the GAN learns (scGAN: 20,000).
    log_critic_input
        Critic scores ``log1p`` of profiles (the published critic scores them directly).
    min_cells
        Genes expressed in fewer training cells are not modelled (zero in samples).
    n_top_genes
        The networks model this many highly variable genes (all detected genes with ``None``);
        2,000, as in scanpy's and Seurat's usual analysis, so downstream HVGs are modelled genes.
    background
        Counts only: the other genes detected in ``min_cells`` cells are drawn from their label's
        mean profile, so that library sizes and their split between genes stay realistic (which
        library-size normalisation downstream relies on); ``False``: they are zero in samples.
    modelled_genes
        Explicit genes to model (overrides ``min_cells``/``n_top_genes``).
    space
        ``"counts"`` or ``"continuous"`` (e.g. log-normalised values, modelled as they are);
        default from ``adata.uns["scaug_space"]``, else integer values mean counts. Through
        :func:`scaug.tl.augment` and friends, log-normalised values with recoverable counts are
        modelled as those counts unless ``model_kwargs={"space": "continuous"}``.
    output
        ``"counts"``: integer counts; ``"normalized"``: profiles summing to ``library_size``.
    count_sampler
        How counts are drawn from a generated profile scaled to the cell's library size (see
        :func:`~scaug.models.sample_counts`): ``"poisson"`` (default), ``"round"``
        (stochastic rounding, for a generator trained without count noise, which then learns the
        counting noise itself) or ``"multinomial"`` (exact library sizes). Training draws the same
        noise (``train(count_noise=True)``), so the critic judges what :meth:`sample` returns.
    output_activation
        LSN output non-linearity: ``"softmax"`` (default; every modelled gene keeps a positive
        expected count, as a Poisson-sampled cell needs) or ``"relu"`` (published; whole genes
        can collapse to exact zeros in a label).
    condition_on_library
        Counts only: the generator also sees the log library size of the cell it makes (drawn
        from the label's training cells), so depth-dependent profiles (e.g. more detected genes in
        deeper cells) are reproduced.
    few_shot_cells
        Labels with fewer training cells than this (down to a single cell) are learnt few-shot:
        after adversarial training, only their conditional batch-norm shifts are fitted so that
        their generated cells have the denoised mean expression of their real cells (along the
        training cells' main axes of variation, plus genes that stand out of the counting noise),
        while the variation stays what the generator learnt from all labels (:meth:`fit_few_shot`);
        their library sizes are centred on their cells' with the spread of the other labels.
        ``0``: off.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> scaug.models.CSCGAN.setup_anndata(adata, labels_key="cell_type")
    >>> model = scaug.models.CSCGAN(adata)
    >>> model.train(max_steps=5, enable_progress_bar=False)
    >>> X, labels = model.sample({"type_2": 20}, random_state=0)
    """

    _conditional = True
    _method = "cscgan"
