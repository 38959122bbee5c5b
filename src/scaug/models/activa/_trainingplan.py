"""ACTIVA's training plan: a VAE warm-up, then introspective steps of encoder and decoder, and a classifier."""

from __future__ import annotations

import torch
from scvi import REGISTRY_KEYS
from scvi.train import TrainingPlan
from torch.nn import functional as F

from .._distributed import all_finite, seed_rank
from ._module import ACTIVAModule, cell_type_loss, decoder_loss, encoder_loss, kl_divergence


class ACTIVATrainingError(RuntimeError):
    """Introspective training diverged (a loss became NaN or infinite)."""


class IntrospectiveTrainingPlan(TrainingPlan):
    """Train an :class:`ACTIVAModule` as ACTIVA does (Heydari et al. 2021; IntroVAE, Huang et al. 2018).

    Manual optimisation of three Adam optimizers (encoder, decoder, classifier), as scvi-tools'
    :class:`~scvi.train.AdversarialTrainingPlan`. Every minibatch of real cells makes

    1. one classifier step (cross-entropy on the real cells' labels), in every epoch;
    2. during the first ``warmup_epochs`` epochs, one plain VAE step of encoder and decoder
       (reconstruction + ``L_REG``);
    3. afterwards, one encoder step on :func:`encoder_loss` and one decoder step on
       :func:`decoder_loss` (eq. 3-4), with reconstructions ``x_r`` of the minibatch and as many
       decoded prior draws ``x_p``.

    The classifier is frozen in the encoder and decoder steps: its cell-type loss
    (:func:`cell_type_loss`) is a fixed judge of whether a reconstruction kept its cell's type.

    Parameters
    ----------
    module
        The ACTIVA module.
    lr
        Learning rate of encoder and decoder.
    betas
        Adam's betas.
    warmup_epochs
        Epochs of plain VAE training before the introspective phase.
    margin
        The margin ``m`` of the encoder's hinge.
    alpha1, alpha2
        Weights of the adversarial terms and of reconstruction + cell-type loss.
    reconstruction_weight
        Factor of ``L_AE`` (:meth:`ACTIVAModule.reconstruction_loss`) everywhere (warm-up
        included). For the squared error of scaled values it is ``1 / (2 sigma^2)`` of a Gaussian
        likelihood with noise ``sigma`` in the scaled space: the paper's squared error (of counts
        per 20,000) is large by itself; in [-1, 1] it is not, and with weight 1 the KL term wins
        and the latent goes unused (posterior collapse). The profile decoder's negative binomial
        likelihood is in nats of whole cells and needs no factor (1).
    count_noise
        Counts data: every loss sees decoded cells after counts are drawn from them at the
        library sizes of the minibatch's real cells, as sampling outputs them
        (:meth:`ACTIVAModule.seen`, gradient straight through; scaug's addition, as cscGAN's
        critic does). The encoder then judges fakes as they will be output, not by the
        smoothness of expected values. ``False``: the decoder's values themselves (the paper).
    classifier_lr, classifier_weight_decay
        The classifier's Adam (ACTINN: weight decay 0.005).

    Examples
    --------
    >>> module = ACTIVAModule(50, 3, n_latent=4, n_hidden=(16,))
    >>> plan = IntrospectiveTrainingPlan(module, margin=10.0)
    >>> [len(o.param_groups[0]["params"]) for o in plan.configure_optimizers()]
    [4, 5, 8]
    """

    def __init__(
        self,
        module: ACTIVAModule,
        *,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        warmup_epochs: int = 10,
        margin: float = 110.0,
        alpha1: float = 1.0,
        alpha2: float = 0.5,
        reconstruction_weight: float = 1.0,
        count_noise: bool = True,
        classifier_lr: float = 1e-3,
        classifier_weight_decay: float = 0.005,
    ):
        super().__init__(module, lr=lr)
        self.betas = tuple(betas)
        self.warmup_epochs = int(warmup_epochs)
        self.margin = float(margin)
        self.alpha1 = float(alpha1)
        self.alpha2 = float(alpha2)
        self.reconstruction_weight = float(reconstruction_weight)
        self.count_noise = bool(count_noise)
        self.classifier_lr = classifier_lr
        self.classifier_weight_decay = classifier_weight_decay
        self.automatic_optimization = False

    def configure_optimizers(self):
        """Adam for the encoder and the decoder, Adam with weight decay for the classifier."""
        m = self.module
        return [
            torch.optim.Adam(m.encoder.parameters(), lr=self.lr, betas=self.betas),
            torch.optim.Adam(m.decoder.parameters(), lr=self.lr, betas=self.betas),
            torch.optim.Adam(
                m.classifier.parameters(), lr=self.classifier_lr, weight_decay=self.classifier_weight_decay
            ),
        ]

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """A classifier step, then a VAE step (warm-up) or an encoder and a decoder step."""
        opt_encoder, opt_decoder, opt_classifier = self.optimizers()
        counts = batch[REGISTRY_KEYS.X_KEY]
        x = self.module.scaling(counts)
        labels = batch[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long()
        metrics = {"classifier_loss": self._step(opt_classifier, self.classifier_loss, x, labels)}
        if self.current_epoch < self.warmup_epochs:
            metrics.update(self._vae_step(opt_encoder, opt_decoder, x, counts))
        else:
            metrics.update(self._introspective_steps(opt_encoder, opt_decoder, x, counts))
        self.log_dict(
            {f"{k}_train": v.detach() for k, v in metrics.items()},
            on_epoch=True,
            on_step=False,
            prog_bar=True,
            batch_size=len(x),
            sync_dist=self.use_sync_dist,
        )

    def classifier_loss(self, x: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """Cross-entropy of the classifier on scaled real cells."""
        return F.cross_entropy(self.module.classifier(x), labels)

    def _step(self, optimizer, loss_fn, *args) -> torch.Tensor:
        """One step of ``optimizer`` on ``loss_fn(*args)``, the other networks frozen."""
        self.toggle_optimizer(optimizer)
        loss = loss_fn(*args)
        self._check_finite(loss)
        optimizer.zero_grad()
        self.manual_backward(loss)
        optimizer.step()
        self.untoggle_optimizer(optimizer)
        return loss

    def _seen(self, decoded: torch.Tensor, counts: torch.Tensor) -> torch.Tensor:
        """Decoded cells as the encoder sees real ones, at the minibatch's library sizes (with counting noise: ``count_noise``)."""
        library = self.module.library(counts) if self.module.scaling.log_normalise else None
        return self.module.seen(decoded, library, noise=self.count_noise)

    def _reconstruction(self, decoded, seen, x, counts) -> torch.Tensor:
        return self.reconstruction_weight * self.module.reconstruction_loss(decoded, seen, x, counts)

    def _vae_step(
        self, opt_encoder, opt_decoder, x: torch.Tensor, counts: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        mean, log_var = self.module.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        decoded = self.module.decode(z)
        reconstruction = self._reconstruction(decoded, self._seen(decoded, counts), x, counts)
        kl = kl_divergence(mean, log_var)
        loss = (reconstruction + kl).mean()
        self._check_finite(loss)
        opt_encoder.zero_grad()
        opt_decoder.zero_grad()
        self.manual_backward(loss)
        opt_encoder.step()
        opt_decoder.step()
        return {"reconstruction_loss": reconstruction.mean(), "kl_real": kl.mean(), "elbo": loss}

    def _introspective_steps(
        self, opt_encoder, opt_decoder, x: torch.Tensor, counts: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        m = self.module
        weights = {"alpha1": self.alpha1, "alpha2": self.alpha2}
        target = m.classifier(x).detach()
        z_prior = torch.randn(len(x), m.n_latent, device=x.device)

        def terms(z: torch.Tensor, detach_fakes: bool):
            decoded = m.decode(z)
            reconstructed, generated = self._seen(decoded, counts), self._seen(m.decode(z_prior), counts)
            if detach_fakes:  # the encoder judges the fakes; it does not make them
                reconstructed_in, generated_in = reconstructed.detach(), generated.detach()
            else:
                reconstructed_in, generated_in = reconstructed, generated
            return (
                m.kl(reconstructed_in),
                m.kl(generated_in),
                self._reconstruction(decoded, reconstructed, x, counts),
                cell_type_loss(m.classifier(reconstructed), target),
            )

        self.toggle_optimizer(opt_encoder)
        mean, log_var = m.encode(x)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        kl_real = kl_divergence(mean, log_var)
        kl_rec, kl_gen, reconstruction, cell_type = terms(z, detach_fakes=True)
        loss_encoder = encoder_loss(
            kl_real, kl_rec, kl_gen, reconstruction, cell_type, margin=self.margin, **weights
        )
        self._check_finite(loss_encoder)
        opt_encoder.zero_grad()
        self.manual_backward(loss_encoder)
        opt_encoder.step()
        self.untoggle_optimizer(opt_encoder)

        # The decoder's gradient reaches it through the (frozen, just updated) encoder's KL of its cells.
        self.toggle_optimizer(opt_decoder)
        kl_rec_g, kl_gen_g, reconstruction_g, cell_type_g = terms(z.detach(), detach_fakes=False)
        loss_decoder = decoder_loss(kl_rec_g, kl_gen_g, reconstruction_g, cell_type_g, **weights)
        self._check_finite(loss_decoder)
        opt_decoder.zero_grad()
        self.manual_backward(loss_decoder)
        opt_decoder.step()
        self.untoggle_optimizer(opt_decoder)
        return {
            "encoder_loss": loss_encoder,
            "decoder_loss": loss_decoder,
            "reconstruction_loss": reconstruction.mean(),
            "cell_type_loss": cell_type.mean(),
            "kl_real": kl_real.mean(),
            "kl_reconstructed": kl_rec.mean(),
            "kl_generated": kl_gen.mean(),
        }

    def on_train_start(self) -> None:
        """Training mode, also when training resumes after sampling (eval mode)."""
        self.module.train()
        seed_rank(self.trainer)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """The VAE loss and the classifier's loss on held-out cells."""
        inference = self.module.inference(batch[REGISTRY_KEYS.X_KEY])
        out = self.module.loss(batch, inference, self.module.generative(inference["z"]))
        labels = batch[REGISTRY_KEYS.LABELS_KEY].reshape(-1).long()
        self.log_dict(
            {
                "elbo_validation": out.loss,
                "classifier_loss_validation": self.classifier_loss(inference["x"], labels),
            },
            on_epoch=True,
            batch_size=out.n_obs_minibatch,
            sync_dist=self.use_sync_dist,
        )

    def _check_finite(self, loss: torch.Tensor) -> None:
        if not all_finite(self._trainer, loss):
            value = loss.item() if not torch.isfinite(loss) else "non-finite on another process"
            raise ACTIVATrainingError(
                f"a loss became {value} in epoch {self.current_epoch}; training diverged: "
                "lower lr or raise the margin"
            )
