"""Turn ``n_cells`` (int, {label: n} or "balance") into a number of synthetic cells per label."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from ._validation import ScaugInputError

logger = logging.getLogger("scaug")

NCells = int | Mapping[str, int] | str


class Targets(dict):
    """``{label: n}`` cells to generate, and ``skipped``: labels a rule left out.

    ``skipped`` maps each label that ``"balance"`` or an int would have generated, but that has fewer
    training cells than the method needs, to the one-line reason (also logged and recorded in the
    run's provenance).
    """

    def __init__(self, wanted: Mapping[str, int], skipped: Mapping[str, str] | None = None):
        super().__init__(wanted)
        self.skipped = dict(skipped or {})


def resolve_targets(
    label_counts: pd.Series,
    n_cells: NCells,
    *,
    target: int | str | None = None,
    min_cells: int = 1,
    method: str = "",
) -> dict[str, int]:
    """Number of synthetic cells to generate per label.

    Parameters
    ----------
    label_counts
        Training cells per label (index: label as string).
    n_cells
        * ``int``: that many cells in total, spread in proportion to label frequency;
        * ``{label: n}``: exactly ``n`` cells of each named label;
        * ``"balance"``: bring every label below ``target`` up to ``target``.
    target
        For ``"balance"``: an int, or ``"median"`` (default), ``"mean"`` or ``"max"`` of the label sizes.
    min_cells
        Fewest training cells the method needs to generate a label. One rule for every form of
        ``n_cells``: a label named in a dict is an error if it is smaller (you asked for it); a label
        that ``"balance"`` or an int would fill is skipped, with a warning that names it and the
        methods that can learn it, unless that leaves nothing to generate (then the same error).
    method
        Method name, for messages.

    Returns
    -------
    :class:`Targets`: ``{label: n}`` for every label with ``n > 0``, in the order of
    ``label_counts``, and the skipped labels with their reasons in ``.skipped``.

    Examples
    --------
    >>> import pandas as pd
    >>> resolve_targets(pd.Series({"B": 100, "Mk": 10, "DC": 30}), "balance")
    {'Mk': 20}
    """
    label_counts = label_counts.astype(int)
    if isinstance(n_cells, str):
        if n_cells != "balance":
            raise ScaugInputError(
                f"n_cells must be an int, a {{label: n}} dict or 'balance', got {n_cells!r}"
            )
        goal = _balance_target(label_counts, target)
        wanted = {lab: goal - int(n) for lab, n in label_counts.items() if n < goal}
        by_rule = True
    elif isinstance(n_cells, Mapping):
        if target is not None:
            raise ScaugInputError("target= only applies to n_cells='balance'")
        unknown = [lab for lab in n_cells if str(lab) not in label_counts.index]
        if unknown:
            raise ScaugInputError(
                f"n_cells names unknown labels {unknown}; known labels: {list(label_counts.index)}"
            )
        wanted = {}
        for lab, n in n_cells.items():
            if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
                raise ScaugInputError(f"n_cells[{lab!r}] must be a non-negative integer, got {n!r}")
            wanted[str(lab)] = int(n)
        by_rule = False
    elif isinstance(n_cells, int | np.integer) and not isinstance(n_cells, bool):
        if n_cells < 0:
            raise ScaugInputError(f"n_cells must be non-negative, got {n_cells}")
        if target is not None:
            raise ScaugInputError("target= only applies to n_cells='balance'")
        wanted = _proportional(label_counts, int(n_cells))
        by_rule = True
    else:
        raise ScaugInputError(f"n_cells must be an int, a {{label: n}} dict or 'balance', got {n_cells!r}")

    wanted = {lab: n for lab, n in wanted.items() if n > 0}
    too_small = {lab: int(label_counts[lab]) for lab in wanted if label_counts[lab] < min_cells}
    if too_small:
        listing = ", ".join(f"{lab!r} ({n} cells)" for lab, n in too_small.items())
        problem = (
            f"method {method!r} needs at least {min_cells} training cells per label; too few in {listing}"
        )
        hint = _few_shot_methods(min(too_small.values()))
        if not by_rule or len(too_small) == len(wanted):
            raise ScaugInputError(f"{problem} (generate other labels with an n_cells dict, or use {hint})")
        logger.warning("%s: those labels are skipped (for them, use %s)", problem, hint)
        reason = f"fewer training cells than the {min_cells} that {method!r} needs"
        skipped = {lab: f"{n} training cells, {reason}" for lab, n in too_small.items()}
        if not isinstance(n_cells, str):  # an int total is kept: spread over the labels that remain
            wanted = _proportional(label_counts.drop(list(too_small)), int(n_cells))
    else:
        skipped = {}
    kept = {lab: wanted[lab] for lab in label_counts.index if wanted.get(lab, 0) > 0 and lab not in skipped}
    return Targets(kept, skipped)


def _balance_target(label_counts: pd.Series, target: int | str | None) -> int:
    if target is None or target == "median":
        return int(np.ceil(label_counts.median()))
    if target == "mean":
        return int(np.ceil(label_counts.mean()))
    if target == "max":
        return int(label_counts.max())
    if isinstance(target, int | np.integer) and not isinstance(target, bool) and target > 0:
        return int(target)
    raise ScaugInputError(f"target must be a positive int, 'median', 'mean' or 'max', got {target!r}")


def _proportional(label_counts: pd.Series, total: int) -> dict[str, int]:
    """Split ``total`` by label frequency (largest remainder, so the parts add up to ``total``)."""
    if total == 0 or label_counts.sum() == 0:
        return {}
    share = label_counts / label_counts.sum() * total
    base = np.floor(share).astype(int)
    remainder = total - int(base.sum())
    order = np.argsort(-(share - base).to_numpy(), kind="stable")[:remainder]
    base.iloc[order] += 1
    return {lab: int(n) for lab, n in base.items()}


def _few_shot_methods(n_cells: int) -> str:
    """Registered generators that learn labels of ``n_cells`` cells (copies excluded), for messages."""
    from ._registry import methods

    table = methods()
    able = table.index[(table["min_cells"] <= n_cells) & (table.index != "random_oversample")].tolist()
    return "a method that learns from fewer cells: " + ", ".join(able) if able else "random_oversample"
