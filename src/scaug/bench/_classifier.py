"""The comparison study's cell-type classifier: a two-hidden-layer MLP in plain torch.

Zheng et al. 2025 classify cells with genes -> 128 -> 64 -> classes (ReLU), Adam at 1e-3, 100
epochs, batches of 128. Two options carry the algorithm-level ways of handling imbalance: per-class
loss weights (weighted cross-entropy) and logit adjustment (Menon et al. 2021, *Long-tail learning
via logit adjustment*: ``tau * log(prior)`` is added to the logits in the loss only, and the plain
logits predict, which targets the balanced error).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from .._validation import ScaugInputError

#: log(0) for a label absent from the training cells would be -inf; this floor keeps the loss finite.
PRIOR_FLOOR = 1e-12


@contextmanager
def keep_torch_threads() -> Iterator[None]:
    """Restore torch's intra-op thread count on exit.

    numba's OpenMP threading layer (scanpy's highly variable genes) shares libgomp with torch and
    sets its thread count to numba's, overriding a caller's ``torch.set_num_threads``; on a busy
    machine the extra threads make the small MLP many times slower.
    """
    threads = torch.get_num_threads()
    try:
        yield
    finally:
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


class MLP(nn.Module):
    """Fully connected ReLU network: ``n_features -> hidden... -> n_classes`` (logits).

    Parameters
    ----------
    n_features
        Input features (genes).
    n_classes
        Output logits.
    hidden
        Widths of the hidden layers.
    """

    def __init__(self, n_features: int, n_classes: int, hidden: Sequence[int] = (128, 64)):
        super().__init__()
        layers: list[nn.Module] = []
        width = n_features
        for h in hidden:
            layers += [nn.Linear(width, int(h)), nn.ReLU()]
            width = int(h)
        layers.append(nn.Linear(width, n_classes))
        self.net = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits of ``x`` (cells x features)."""
        return self.net(x)


def logit_adjustment(prior: np.ndarray, tau: float) -> np.ndarray:
    """``tau * log(prior)``: what Menon et al.'s logit-adjusted loss adds to the logits.

    Examples
    --------
    >>> logit_adjustment(np.array([0.9, 0.1]), 1.0).round(3)
    array([-0.105, -2.303])
    """
    prior = np.asarray(prior, dtype=np.float64)
    return float(tau) * np.log(np.maximum(prior, PRIOR_FLOOR))


class MLPClassifier:
    """The study's MLP with a scikit-learn-like interface, seeded and deterministic on CPU.

    Parameters
    ----------
    classes
        All labels the network can predict (its output units, in this order); a label may be absent
        from the training cells.
    hidden
        Hidden layer widths.
    epochs, batch_size, lr
        Adam training: passes over the training cells, minibatch size, learning rate.
    class_weight
        Loss weight per label (``{label: weight}`` or a pandas Series; missing labels weigh 0), or
        ``None`` for plain cross-entropy.
    tau
        Logit adjustment strength; ``0`` (default) turns it off. The prior is the label frequency of
        the cells passed to :meth:`fit`.
    random_state
        Seed of the initialisation and of the minibatch order. Torch's global random state is forked,
        so the caller's stream is left as it was.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> x = np.concatenate([rng.normal(0, 1, (60, 5)), rng.normal(3, 1, (20, 5))]).astype(np.float32)
    >>> y = np.array(["a"] * 60 + ["b"] * 20)
    >>> clf = MLPClassifier(["a", "b"], epochs=20, random_state=0).fit(x, y)
    >>> float((clf.predict(x) == y).mean()) > 0.9
    True
    """

    def __init__(
        self,
        classes: Sequence[str],
        *,
        hidden: Sequence[int] = (128, 64),
        epochs: int = 100,
        batch_size: int = 128,
        lr: float = 1e-3,
        class_weight=None,
        tau: float = 0.0,
        random_state: int = 0,
    ):
        self.classes = np.asarray([str(c) for c in classes], dtype=object)
        if len(self.classes) < 2 or len(set(self.classes)) != len(self.classes):
            raise ScaugInputError(
                f"the classifier needs at least 2 distinct classes, got {list(self.classes)}"
            )
        for name, value in [("epochs", epochs), ("batch_size", batch_size)]:
            if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < 1:
                raise ScaugInputError(f"{name} must be a positive integer, got {value!r}")
        if not lr > 0:
            raise ScaugInputError(f"lr must be positive, got {lr!r}")
        self.hidden = tuple(int(h) for h in hidden)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), float(lr)
        self.class_weight = class_weight
        self.tau = float(tau)
        self.random_state = int(random_state)
        self.model_: MLP | None = None
        self.loss_: list[float] = []

    def _codes(self, y) -> np.ndarray:
        index = {c: i for i, c in enumerate(self.classes)}
        try:
            return np.fromiter((index[str(v)] for v in y), dtype=np.int64, count=len(y))
        except KeyError as err:
            raise ScaugInputError(f"label {err.args[0]!r} is not among the classifier's classes") from None

    def _weights(self) -> torch.Tensor | None:
        if self.class_weight is None:
            return None
        weights = dict(
            self.class_weight.items() if hasattr(self.class_weight, "items") else self.class_weight
        )
        values = np.array([float(weights.get(c, 0.0)) for c in self.classes], dtype=np.float32)
        if not np.isfinite(values).all() or (values < 0).any():
            raise ScaugInputError("class weights must be finite and non-negative")
        return torch.from_numpy(values)

    def fit(self, x: np.ndarray, y) -> MLPClassifier:
        """Train on ``x`` (cells x features) with labels ``y``; returns ``self``."""
        x = np.ascontiguousarray(x, dtype=np.float32)
        codes = self._codes(y)
        if x.ndim != 2 or len(x) != len(codes) or len(x) == 0:
            raise ScaugInputError(
                f"x must be cells x features matching y, got {x.shape} and {len(codes)} labels"
            )
        weight = self._weights()
        prior = np.bincount(codes, minlength=len(self.classes)) / len(codes)
        shift = torch.from_numpy(logit_adjustment(prior, self.tau).astype(np.float32)) if self.tau else None
        features, targets = torch.from_numpy(x), torch.from_numpy(codes)
        self.loss_ = []
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.random_state)
            model = MLP(x.shape[1], len(self.classes), self.hidden)
            order = torch.Generator().manual_seed(self.random_state)
            optimiser = torch.optim.Adam(model.parameters(), lr=self.lr)
            model.train()
            for _ in range(self.epochs):
                total = 0.0
                for batch in torch.randperm(len(codes), generator=order).split(self.batch_size):
                    logits = model(features[batch])
                    if shift is not None:
                        logits = logits + shift
                    loss = F.cross_entropy(logits, targets[batch], weight=weight)
                    optimiser.zero_grad()
                    loss.backward()
                    optimiser.step()
                    total += loss.item() * len(batch)
                self.loss_.append(total / len(codes))
        model.eval()
        self.model_ = model
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Plain (unadjusted) logits, cells x classes."""
        if self.model_ is None:
            raise ScaugInputError("the classifier is not fitted; call fit first")
        with torch.no_grad():
            return self.model_(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))).numpy()

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Softmax of the plain logits, cells x classes."""
        logits = self.decision_function(x)
        logits = logits - logits.max(axis=1, keepdims=True)
        p = np.exp(logits)
        return p / p.sum(axis=1, keepdims=True)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Most likely label of each cell (from the plain logits)."""
        return self.classes[self.decision_function(x).argmax(axis=1)]
