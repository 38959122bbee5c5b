"""Plain-language warnings from a fidelity table: every failure the report measures, worst first.

Each check compares a synthetic label with the held-out real cells of that label. Thresholds of
distribution tests combine an effect size with a significance level, so that they neither fire on
sampling noise between small real sets nor miss a large difference; they were calibrated on
real-vs-real controls (held-out real cells presented as synthetic) and on bad controls (dense,
smoothed, shifted and copied cells): ``benchmarks/calibrate_warnings.py``, results in
``benchmarks/results/warning_calibration.csv``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ._utils import ALL

DROPPED_BELOW = 0.1  # recall and coverage under this: the synthetic cells miss the real label
MISLABELLED_BELOW, CEILING_ABOVE = 0.2, 0.5  # label fidelity, where real cells of the label are recognised
COLLAPSED_SPREAD_BELOW = 0.3  # REM interquartile range, synthetic over real
COLLAPSED_RECALL_BELOW, COLLAPSED_PRECISION_ABOVE = 0.2, 0.5
MEMORISED_BELOW = 0.3  # median distance-to-training ratio, synthetic over held-out real (SMOTE: ~0.5)
SPARSITY_OFF_ABOVE = 0.05  # share of zero genes per cell, |synthetic - real| (issue 14's tolerance)
KS_EFFECT_ABOVE = 0.3  # KS statistic of library sizes / REM that counts as a separated distribution
KS_C_ALPHA = 1.949  # two-sample KS critical constant at alpha = 0.001
REM_SHIFT_ABOVE = 0.2  # |median synthetic REM / median real REM - 1|
OFF_MANIFOLD_BELOW = 0.5  # precision: share of synthetic cells inside the real cells' k-NN balls
CORRELATION_LOST_RATIO, CORRELATION_LOST_MARGIN = 2.0, 0.05  # discrepancy vs the real-vs-real control
MIN_CELLS = 5  # fewest cells per side for a per-label distribution check

# How bad each kind is, for the headline: the first kind present names the verdict.
SEVERITY = (
    "memorised",
    "dropped",
    "collapsed",
    "off-manifold",
    "smoothed",
    "sparsity",
    "library size",
    "correlations",
    "underpowered",
)

WARNING_COLUMNS = ["label", "kind", "message"]


def fidelity_warnings(
    table: pd.DataFrame,
    n_synthetic: dict[str, int],
    labels: list[str],
    n_reference: dict[str, int] | None = None,
) -> pd.DataFrame:
    """One row (label, kind, message) per failure the table shows, worst kind first.

    *Dropped*: no synthetic cells, or recall and coverage both below 0.1, or label fidelity below
    0.2 where the classifier recognises over half of the real cells of the label. *Collapsed*:
    REM spread below 0.3, or recall below 0.2 at precision above 0.5 (a collapsed label is not also
    called dropped). *Memorised*: median distance-to-training ratio below 0.3 (SMOTE sits near
    0.5, exact copies at 0). *Off-manifold*: precision below 0.5 (most synthetic cells outside the
    real cells' k-NN balls). *Smoothed*: REM distribution separated (KS above 0.3 and significant
    at 0.001) with the median error shifted by more than 20 % (down: smoothed, no cell-specific
    variation; up: noisier than real cells). *Sparsity*: mean share of zero genes per cell more
    than 0.05 from the real cells' (and the per-cell shares significantly different, KS at 0.001). *Library size*: log library sizes separated (KS as for REM).
    *Correlations*: marker-gene correlations over twice as far from the real ones as a real-vs-real
    control (and 0.05 further). *Underpowered*: the overall two-sample AUC compares fewer than
    :data:`~scaug.metrics._classifier.INFORMATIVE_CELLS` cells per side. An overall (``"all"``)
    warning is kept only when no label explains it.

    Parameters
    ----------
    table
        Tidy fidelity table (metric, label, value).
    n_synthetic
        Synthetic cells per label.
    labels
        Labels that were meant to be generated.
    n_reference
        Held-out real cells per label (``"all"``: overall), for the significance of KS-based checks;
        without it those checks use the effect size alone.

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

    n_reference = n_reference or {}
    out = []
    for label in [ALL, *(str(lab) for lab in labels)]:
        if label != ALL and n_synthetic.get(label, 0) == 0:  # (an "all" entry holds the overall count)
            out.append((label, "dropped", f"{label!r}: no synthetic cells were generated for this label"))
            continue
        stats = {m: get(label, m) for m in _USED}
        n_syn = n_synthetic.get(label, 0) if label != ALL else n_synthetic.get(ALL, sum(n_synthetic.values()))
        sizes = (n_reference.get(label, np.nan), n_syn)
        name = "all synthetic cells" if label == ALL else f"synthetic {label!r} cells"
        # k-NN balls and quartiles of fewer cells are noise (real-vs-real: 4 dendritic cells "collapsed")
        manifold = (
            stats if not min(sizes) < MIN_CELLS else {**stats, **dict.fromkeys(_NOISY_WHEN_FEW, np.nan)}
        )
        collapsed = _collapsed(name, manifold)
        # a collapsed label covers few real cells too; "collapsed" is then the diagnosis
        dropped = None if collapsed else _dropped(name, label, manifold)
        memorised = _memorised(name, stats)
        found = {
            "memorised": memorised,
            "dropped": dropped,
            "collapsed": collapsed,
            # dropped, collapsed and copied cells are off the held-out manifold too: no second warning
            "off-manifold": None if collapsed or dropped or memorised else _off_manifold(name, manifold),
            "smoothed": _rem_separated(name, stats, sizes),
            "sparsity": _sparsity(name, stats, sizes),
            "library size": _library_size(name, stats, sizes),
            "correlations": _correlations(stats) if label == ALL else None,
            "underpowered": _underpowered(stats) if label == ALL else None,
        }
        out += [(label, kind, msg) for kind, msg in found.items() if msg]
    out = pd.DataFrame(out, columns=WARNING_COLUMNS)
    # an overall warning only adds news when no single label explains it
    per_label = set(out.loc[out["label"] != ALL, "kind"])
    out = out[(out["label"] != ALL) | ~out["kind"].isin(per_label)]
    order = out["kind"].map({kind: i for i, kind in enumerate(SEVERITY)})
    return out.iloc[np.argsort(order.to_numpy(), kind="stable")].reset_index(drop=True)


def verdict(warnings: pd.DataFrame) -> str:
    """The headline of a set of warnings: the worst finding, or that every check passed.

    Examples
    --------
    >>> import pandas as pd
    >>> w = pd.DataFrame({"label": ["B", "all"], "kind": ["sparsity", "underpowered"], "message": ["", ""]})
    >>> verdict(w)
    "'B' cells have the wrong sparsity (+1 more warning)"
    >>> verdict(w.iloc[:0])
    'every check passed: no label looks dropped, collapsed, memorised, off-manifold, smoothed or mis-sized'
    """
    if warnings.empty:
        return "every check passed: no label looks dropped, collapsed, memorised, off-manifold, smoothed or mis-sized"
    order = warnings["kind"].map({kind: i for i, kind in enumerate(SEVERITY)}).fillna(len(SEVERITY))
    worst = warnings.iloc[int(np.argmin(order.to_numpy()))]
    kind, label = str(worst["kind"]), str(worst["label"])
    who = "synthetic cells" if label == ALL else f"{label!r} cells"
    labels = warnings.loc[warnings["kind"] == kind, "label"].nunique()
    if labels > 1:
        who = f"{who} and {labels - 1} more label(s)"
    text = _HEADLINE[kind].format(who=who)
    if len(warnings) > 1:
        more = len(warnings) - 1
        text += f" (+{more} more warning{'s' if more > 1 else ''})"
    return text


_HEADLINE = {
    "memorised": "{who} look memorised",
    "dropped": "{who} look dropped",
    "collapsed": "{who} look collapsed",
    "off-manifold": "{who} lie off the real cells",
    "smoothed": "{who} are smoothed (REM)",
    "sparsity": "{who} have the wrong sparsity",
    "library size": "{who} have the wrong library sizes",
    "correlations": "{who} lose marker correlations",
    "underpowered": "the two-sample AUC has too few cells to tell",
}


_USED = (
    "recall",
    "coverage",
    "precision",
    "rem_spread",
    "memorisation_ratio",
    "label_fidelity",
    "label_fidelity_ceiling",
    "rem_ks",
    "rem_shift",
    "sparsity_real",
    "sparsity_synthetic",
    "sparsity_ks",
    "library_size_ks",
    "library_size_real",
    "library_size_synthetic",
    "correlation_discrepancy",
    "correlation_discrepancy_control",
    "classifier_auc",
    "classifier_auc_sd",
    "classifier_auc_cells",
)


_NOISY_WHEN_FEW = ("precision", "recall", "coverage", "rem_spread")


def _separated(ks: float, sizes: tuple[float, float], effect: float = KS_EFFECT_ABOVE) -> bool:
    """A KS statistic that is both large and significant at 0.001 (when the sizes are known)."""
    n, m = sizes
    if not ks > effect:
        return False
    if not (np.isfinite(n) and np.isfinite(m)) or min(n, m) < 1:
        return True
    if min(n, m) < MIN_CELLS:
        return False
    return ks > KS_C_ALPHA * np.sqrt((n + m) / (n * m))


def _off_manifold(name: str, s: dict[str, float]) -> str | None:
    if not s["precision"] < OFF_MANIFOLD_BELOW:
        return None
    return (
        f"only {s['precision']:.0%} of {name} fall inside the real cells' neighbourhoods (precision): "
        "they lie off the real manifold"
    )


def _rem_separated(name: str, s: dict[str, float], sizes) -> str | None:
    shift = s["rem_shift"]
    if not (_separated(s["rem_ks"], sizes) and abs(shift) > REM_SHIFT_ABOVE):
        return None
    how = (
        "below the real ones: the cells look smoothed (no cell-specific variation)"
        if shift < 0
        else "above the real ones: the cells are noisier than real cells"
    )
    return f"{name}: PCA reconstruction errors (REM) sit {abs(shift):.0%} {how} (KS {s['rem_ks']:.2f})"


def _sparsity(name: str, s: dict[str, float], sizes) -> str | None:
    real, syn = s["sparsity_real"], s["sparsity_synthetic"]
    # a large mean difference that is also a significant one (7 real-vs-real paul15 megakaryocytes
    # differ by 0.06 by chance)
    if not (abs(syn - real) > SPARSITY_OFF_ABOVE and _separated(s["sparsity_ks"], sizes, effect=0.0)):
        return None
    how = "denser" if syn < real else "sparser"
    return f"{name} are {how} than real cells: {syn:.0%} zero genes per cell vs {real:.0%}"


def _library_size(name: str, s: dict[str, float], sizes) -> str | None:
    if not _separated(s["library_size_ks"], sizes):
        return None
    return (
        f"{name} have other library sizes than real cells: median {s['library_size_synthetic']:,.0f} vs "
        f"{s['library_size_real']:,.0f} (KS {s['library_size_ks']:.2f})"
    )


def _correlations(s: dict[str, float]) -> str | None:
    syn, control = s["correlation_discrepancy"], s["correlation_discrepancy_control"]
    if not (syn > CORRELATION_LOST_RATIO * control and syn > control + CORRELATION_LOST_MARGIN):
        return None
    return (
        f"marker-gene correlations of the synthetic cells differ from the real ones by {syn:.2f} on average, "
        f"{syn / control:.1f}x the difference between two sets of real cells ({control:.2f})"
    )


def _underpowered(s: dict[str, float]) -> str | None:
    from ._classifier import INFORMATIVE_CELLS

    n = s["classifier_auc_cells"]
    if not n < INFORMATIVE_CELLS:
        return None
    sd = s["classifier_auc_sd"]
    spread = f" ± {sd:.2f} over folds" if np.isfinite(sd) else ""
    return (
        f"the two-sample AUC ({s['classifier_auc']:.2f}{spread}) compares only {n:.0f} cells per side: "
        f"too few to tell moderately different cells apart; at least {INFORMATIVE_CELLS} held-out real and "
        "synthetic cells of the generated labels are needed for an informative value"
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
