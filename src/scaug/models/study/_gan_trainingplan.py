"""Training plan of the study's GANs: binary cross-entropy, Adam, one optimizer pair per label."""

from __future__ import annotations

import torch
from scvi.train import TrainingPlan

from ._gan_module import StudyGANModule


class BCEGANTrainingPlan(TrainingPlan):
    """Train every pair of a :class:`StudyGANModule` with the original GAN loss (Goodfellow et al. 2014).

    A :class:`scvi.train.TrainingPlan` with manual optimisation, as scvi-tools'
    :class:`~scvi.train.AdversarialTrainingPlan`: each pair has its own Adam optimizers (generator
    and discriminator, as two separately trained networks would). A minibatch makes, for the pair
    of each label in it (one, with :class:`LabelBatchSplitter`), one discriminator step (BCE, real
    cells labelled 1, as many generated cells labelled 0) and then one generator step on the same
    generated cells labelled 1. Cells of labels without a pair are skipped.

    Parameters
    ----------
    module
        The GAN module.
    lr
        Learning rate of every optimizer (study: 1e-4).
    betas
        Adam's betas (PyTorch's defaults; the study gives no others).

    Examples
    --------
    >>> module = StudyGANModule(50, 3, pair_labels=[0, 2])
    >>> len(BCEGANTrainingPlan(module).configure_optimizers())
    4
    """

    def __init__(
        self, module: StudyGANModule, *, lr: float = 1e-4, betas: tuple[float, float] = (0.9, 0.999)
    ):
        super().__init__(module, lr=lr)
        self.betas = tuple(betas)
        self.automatic_optimization = False

    def configure_optimizers(self) -> list[torch.optim.Optimizer]:
        """Adam for each generator, then Adam for each discriminator (in the order of the pairs)."""
        nets = [*self.module.generators, *self.module.discriminators]
        return [torch.optim.Adam(net.parameters(), lr=self.lr, betas=self.betas) for net in nets]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """A discriminator step, then a generator step, for the pair of each label of the minibatch."""
        optimizers = self.optimizers()
        n_pairs = len(self.module.generators)
        inference_outputs = self.module.inference(**self.module._get_inference_input(batch))
        real = inference_outputs["x"]
        pairs = self.module.pairs(inference_outputs["labels"])
        for k in torch.unique(pairs[pairs >= 0]).tolist():
            rows = pairs == k
            opt_generator, opt_discriminator = optimizers[k], optimizers[n_pairs + k]
            z = self.module.latent(pairs[rows])
            fake = self.module.generators[k](z)
            out = self.module.discriminator_loss(real[rows], fake.detach(), k)
            opt_discriminator.zero_grad()
            self.manual_backward(out.loss)
            opt_discriminator.step()
            # Against the discriminator just updated, as in the usual GAN training loop.
            loss = self.module.generator_loss(fake, k)
            opt_generator.zero_grad()
            self.manual_backward(loss)
            opt_generator.step()
            self._log_losses(out.loss, loss, out.extra_metrics, int(rows.sum()))

    def _log_losses(
        self, d_loss: torch.Tensor, g_loss: torch.Tensor, extra: dict[str, torch.Tensor], n: int
    ) -> None:
        metrics = {"discriminator_loss": d_loss, "generator_loss": g_loss, **extra}
        self.log_dict(
            {f"{k}_train": v.detach() for k, v in metrics.items()},
            on_epoch=True,
            on_step=False,
            prog_bar=True,
            batch_size=n,
            sync_dist=self.use_sync_dist,
        )
