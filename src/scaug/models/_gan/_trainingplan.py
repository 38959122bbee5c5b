"""WGAN-GP training plan: manual optimisation of a critic and a generator (two optimizers)."""

from __future__ import annotations

from typing import Literal

import torch
from scvi.module.base import LossOutput
from scvi.train import TrainingPlan

from .._distributed import all_finite, seed_rank
from ._module import GANModule


class GANTrainingError(RuntimeError):
    """Adversarial training diverged (a loss became NaN or infinite)."""


class WGANGPTrainingPlan(TrainingPlan):
    """Train a :class:`GANModule` with the Wasserstein loss and a gradient penalty (Gulrajani et al.).

    A :class:`scvi.train.TrainingPlan` with manual optimisation of two optimizers, as scvi-tools'
    :class:`~scvi.train.AdversarialTrainingPlan`: the training and validation steps and the
    optimizers are the GAN's; scvi-tools' trainer sets the training-set sizes and DDP logging
    (``use_sync_dist``) as for its own models. Under DDP (several processes, see
    :mod:`scaug.models._distributed`) every process draws its own noise and a diverged loss on
    any process stops all of them.

    Every minibatch of real cells makes one critic step; every ``n_critic``-th minibatch is
    followed by one generator step on a fake batch with the same labels (and library sizes).
    Learning rates decay by ``lr_decay`` every ``lr_decay_steps`` generator steps.

    Lightning's ``trainer.global_step`` counts every optimizer step (critic and generator); this plan
    counts generator steps in :attr:`generator_steps` and logs them, and the model converts a
    ``max_steps`` in generator steps to optimizer steps.

    Parameters
    ----------
    module
        The GAN module.
    lr
        Learning rate of the generator and the critic.
    betas
        Adam betas (scGAN: 0.5, 0.9).
    amsgrad
        Use the AMSGrad variant of Adam (scGAN does).
    n_critic
        Critic steps per generator step.
    penalty
        Weight of the gradient penalty (λ).
    lr_decay, lr_decay_steps
        Multiply the learning rates by ``lr_decay`` every ``lr_decay_steps`` generator steps
        (continuously).
    count_noise
        Counts data: draw each generated cell's counts at the library size of its real partner in
        the minibatch (``"poisson"`` or ``"round"``, see :meth:`GANModule.counted`) before the
        critic scores it, so that the critic compares cells as sampling will output them;
        ``None`` (published scGAN): score the generated profiles themselves.
    checkpoint_every
        Keep a copy of the module's weights every ``checkpoint_every`` generator steps; if a loss
        becomes NaN or infinite, the module is put back to the last copy before
        :class:`GANTrainingError` is raised, so the model never generates NaN.

    Examples
    --------
    >>> module = GANModule(50, 3, n_hidden_generator=(32,), n_hidden_critic=(32,))
    >>> plan = WGANGPTrainingPlan(module, n_critic=5)
    >>> plan.optimizer_steps_per_generator_step
    6
    """

    def __init__(
        self,
        module: GANModule,
        *,
        lr: float = 1e-4,
        betas: tuple[float, float] = (0.5, 0.9),
        amsgrad: bool = True,
        n_critic: int = 5,
        penalty: float = 10.0,
        lr_decay: float = 0.95,
        lr_decay_steps: int = 1000,
        count_noise: Literal["poisson", "round"] | None = None,
        checkpoint_every: int = 100,
    ):
        super().__init__(module, lr=lr)
        self.betas = tuple(betas)
        self.amsgrad = amsgrad
        self.n_critic = int(n_critic)
        self.penalty = penalty
        self.lr_decay = lr_decay
        self.lr_decay_steps = lr_decay_steps
        if count_noise not in (None, "poisson", "round"):
            raise ValueError(f"count_noise must be None, 'poisson' or 'round', got {count_noise!r}")
        self.count_noise = count_noise
        self.automatic_optimization = False
        # Buffers, not ints: Lightning hands a forked or spawned training's state back to the main
        # process through the state dict ("ddp_notebook", "ddp_spawn").
        self.register_buffer("_steps", torch.zeros(2, dtype=torch.long))
        self.checkpoint_every = int(checkpoint_every)
        self._last_good: tuple[int, dict[str, torch.Tensor]] | None = None

    @property
    def critic_steps(self) -> int:
        """Critic steps done."""
        return int(self._steps[0])

    @critic_steps.setter
    def critic_steps(self, value: int) -> None:
        self._steps[0] = value

    @property
    def generator_steps(self) -> int:
        """Generator steps done."""
        return int(self._steps[1])

    @generator_steps.setter
    def generator_steps(self, value: int) -> None:
        self._steps[1] = value

    @property
    def optimizer_steps_per_generator_step(self) -> int:
        """Optimizer steps (as counted by ``trainer.global_step``) per generator step."""
        return self.n_critic + 1

    def configure_optimizers(self):
        """AMSGrad for the generator and the critic, with exponential learning-rate decay."""
        opts = [
            torch.optim.Adam(net.parameters(), lr=self.lr, betas=self.betas, amsgrad=self.amsgrad)
            for net in (self.module.generator, self.module.critic)
        ]
        decay = lambda step: self.lr_decay ** (step / self.lr_decay_steps)  # noqa: E731
        self._schedulers = [torch.optim.lr_scheduler.LambdaLR(opt, decay) for opt in opts]
        return opts

    def critic_loss(self, batch: dict[str, torch.Tensor]) -> LossOutput:
        """Critic loss (:meth:`GANModule.loss`) on a minibatch of real cells and as many fakes."""
        inference_outputs = self.module.inference(**self.module._get_inference_input(batch))
        with torch.no_grad():
            generative_outputs = {"x": self.fakes(batch, inference_outputs)}
        return self.module.loss(batch, inference_outputs, generative_outputs, penalty=self.penalty)

    def generator_loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Generator loss: minus the critic's score of fakes for the minibatch's labels and library sizes."""
        inference_outputs = self.module.inference(**self.module._get_inference_input(batch))
        fake = self.fakes(batch, inference_outputs)
        return -self.module.score(
            fake, inference_outputs["critic_labels"], inference_outputs["library"]
        ).mean()

    def fakes(
        self, batch: dict[str, torch.Tensor], inference_outputs: dict[str, torch.Tensor]
    ) -> torch.Tensor:
        """One generated cell per real cell of the minibatch, drawn as counts with ``count_noise``."""
        fake = self.module.generative(**self.module._get_generative_input(batch, inference_outputs))["x"]
        if self.count_noise is None:
            return fake
        return self.module.counted(fake, inference_outputs["library"], sampler=self.count_noise)

    def training_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """One critic step; after every ``n_critic``-th critic step, one generator step."""
        opt_generator, opt_critic = self.optimizers()
        self.toggle_optimizer(opt_critic)
        out = self.critic_loss(batch)
        self._check_finite("critic", out.loss)
        opt_critic.zero_grad()
        self.manual_backward(out.loss)
        opt_critic.step()
        self.untoggle_optimizer(opt_critic)
        self.critic_steps += 1
        self._log_losses(out, "train")

        if self.critic_steps % self.n_critic:
            return
        self.toggle_optimizer(opt_generator)
        loss = self.generator_loss(batch)
        self._check_finite("generator", loss)
        opt_generator.zero_grad()
        self.manual_backward(loss)
        opt_generator.step()
        self.untoggle_optimizer(opt_generator)
        for scheduler in self._schedulers:
            scheduler.step()
        self.generator_steps += 1
        if self.generator_steps % self.checkpoint_every == 0:
            self._keep_weights()
        self.log(
            "generator_loss_train",
            loss.detach(),
            on_epoch=True,
            on_step=False,
            batch_size=out.n_obs_minibatch,
            sync_dist=self.use_sync_dist,
        )

    def on_train_start(self) -> None:
        """Batch norm in training mode, also when training resumes after sampling (eval mode)."""
        self.module.train()
        self._keep_weights()
        seed_rank(self.trainer)

    def on_train_epoch_end(self) -> None:
        """Log the generator steps done so far (the x axis that matters for a GAN)."""
        # The same count on every process: nothing to reduce.
        self.log("generator_steps", float(self.generator_steps), prog_bar=True)

    def validation_step(self, batch: dict[str, torch.Tensor], batch_idx: int) -> None:
        """Critic loss and Wasserstein estimate on held-out real cells (no optimizer step)."""
        # The gradient penalty differentiates the critic: leave Lightning's inference mode.
        with torch.inference_mode(False), torch.enable_grad():
            out = self.critic_loss({k: v.clone() for k, v in batch.items()})
        self._log_losses(out, "validation")

    def _log_losses(self, out: LossOutput, split: str) -> None:
        metrics = {"critic_loss": out.loss, **out.extra_metrics}
        self.log_dict(
            {f"{k}_{split}": v.detach() for k, v in metrics.items()},
            on_epoch=True,
            on_step=False,
            prog_bar=split == "train",
            batch_size=out.n_obs_minibatch,
            sync_dist=self.use_sync_dist,
        )

    def _keep_weights(self) -> None:
        weights = {k: v.detach().clone() for k, v in self.module.state_dict().items()}
        if all(torch.isfinite(v).all() for v in weights.values() if v.is_floating_point()):
            self._last_good = (self.generator_steps, weights)

    def _check_finite(self, which: str, loss: torch.Tensor) -> None:
        if all_finite(self._trainer, loss):
            return
        restored = ""
        if self._last_good is not None:
            step, weights = self._last_good
            self.module.load_state_dict(weights)
            restored = f"; the model holds its weights of generator step {step}"
        value = loss.item() if not torch.isfinite(loss) else "non-finite on another process"
        raise GANTrainingError(
            f"the {which} loss became {value} at generator step {self.generator_steps}; "
            f"training diverged: lower lr or use fewer modelled genes{restored}"
        )
