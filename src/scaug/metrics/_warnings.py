"""Plain-language warnings from a fidelity table: dropped, collapsed and memorised labels."""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ALL

DROPPED_BELOW = 0.1  # recall and coverage under this: the synthetic cells miss the real label
MISLABELLED_BELOW, CEILING_ABOVE = 0.2, 0.5  # label fidelity, where real cells of the label are recognised
COLLAPSED_SPREAD_BELOW = 0.3  # REM interquartile range, synthetic over real
COLLAPSED_RECALL_BELOW, COLLAPSED_PRECISION_ABOVE = 0.2, 0.5
MEMORISED_BELOW = 0.3  # median distance-to-training ratio, synthetic over held-out real (SMOTE: ~0.5)

WARNING_COLUMNS = ["label", "kind", "message"]


def fidelity_warnings(table: pd.DataFrame, n_synthetic: dict[str, int], labels: list[str]) -> pd.DataFrame:
    """One row (label, kind, message) per label that looks dropped, collapsed or memorised.

    *Dropped*: no synthetic cells, or recall and coverage both below 0.1, or label fidelity below
    0.2 where the classifier recognises over half of the real cells of the label. *Collapsed*:
    REM spread below 0.3, or recall below 0.2 at precision above 0.5 (a collapsed label is not also
    called dropped). *Memorised*: median distance-to-training ratio below 0.3 (SMOTE sits near
    0.5, exact copies at 0). An overall (``"all"``) warning is kept only when no label explains it.

    Parameters
    ----------
    table
        Tidy fidelity table (metric, label, value).
    n_synthetic
        Synthetic cells per label.
    labels
        Labels that were meant to be generated.

    Examples
    --------
    >>> import pandas as pd, scaug
    >>> t = pd.DataFrame({"metric": ["memorisation_ratio"], "label": ["B"], "value": [0.1]})
    >>> scaug.metrics.fidelity_warnings(t, {"B": 50}, ["B"])["kind"].tolist()
    ['memorised']
    """
    value = table.pivot_table(index="label", columns="metric", values="value", aggfunc="first", dropna=False)

    def get(label: str, metric: str) -> float:
        try:
            return float(value.loc[label, metric])
        except KeyError:
            return np.nan

    out = []
    for label in [ALL, *(str(lab) for lab in labels)]:
        if label != ALL and n_synthetic.get(label, 0) == 0:
            out.append((label, "dropped", f"{label!r}: no synthetic cells were generated for this label"))
            continue
        stats = {m: get(label, m) for m in _USED}
        name = "all synthetic cells" if label == ALL else f"synthetic {label!r} cells"
        collapsed = _collapsed(name, stats)
        # a collapsed label covers few real cells too; "collapsed" is then the diagnosis
        dropped = None if collapsed else _dropped(name, label, stats)
        memorised = _memorised(name, stats)
        out += [
            (label, kind, msg)
            for kind, msg in (("dropped", dropped), ("collapsed", collapsed), ("memorised", memorised))
            if msg
        ]
    out = pd.DataFrame(out, columns=WARNING_COLUMNS)
    # an overall warning only adds news when no single label explains it
    per_label = set(out.loc[out["label"] != ALL, "kind"])
    return out[(out["label"] != ALL) | ~out["kind"].isin(per_label)].reset_index(drop=True)


_USED = (
    "recall",
    "coverage",
    "precision",
    "rem_spread",
    "memorisation_ratio",
    "label_fidelity",
    "label_fidelity_ceiling",
)


def _collapsed(name: str, s: dict[str, float]) -> str | None:
    if s["rem_spread"] < COLLAPSED_SPREAD_BELOW:
        return (
            f"{name} are far less varied than real ones (REM spread {s['rem_spread']:.2f}, recall "
            f"{s['recall']:.0%} at precision {s['precision']:.0%}): the label looks collapsed onto a few profiles"
        )
    if s["recall"] < COLLAPSED_RECALL_BELOW and s["precision"] > COLLAPSED_PRECISION_ABOVE:
        return (
            f"{name} look real (precision {s['precision']:.0%}) but reproduce little of the real variety "
            f"(recall {s['recall']:.0%}): the label looks collapsed onto a few profiles"
        )
    return None


def _dropped(name: str, label: str, s: dict[str, float]) -> str | None:
    if s["recall"] < DROPPED_BELOW and s["coverage"] < DROPPED_BELOW:
        return (
            f"{name} cover only {s['coverage']:.0%} of the real ones (recall {s['recall']:.0%}): "
            "the label looks dropped — the generator does not reproduce these cells"
        )
    if (
        label != ALL
        and s["label_fidelity"] < MISLABELLED_BELOW
        and s["label_fidelity_ceiling"] > CEILING_ABOVE
    ):
        return (
            f"only {s['label_fidelity']:.0%} of {name} are recognised as {label!r} by a classifier that "
            f"recognises {s['label_fidelity_ceiling']:.0%} of real ones: the label looks dropped — the generator "
            "makes other cells under its name"
        )
    return None


def _memorised(name: str, s: dict[str, float]) -> str | None:
    ratio = s["memorisation_ratio"]
    if not ratio < MEMORISED_BELOW:
        return None
    closer = "sit on" if ratio < 0.01 else f"lie {1 / ratio:.0f}x closer to"
    return (
        f"{name} {closer} training cells, compared with held-out real cells (distance ratio {ratio:.2f}): "
        "they look memorised (near-copies of training cells)"
    )
