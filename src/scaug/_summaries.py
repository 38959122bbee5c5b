"""Plain-text summaries printed by the CLI and the demo."""

from __future__ import annotations

import json


def label_table(adata, labels_key: str, key: str) -> str:
    """Per-label table: real cells, synthetic cells, total."""
    import pandas as pd

    flag = adata.obs[f"{key}_synthetic"].to_numpy(dtype=bool)
    labels = adata.obs[labels_key].astype(str)
    table = (
        pd.DataFrame(
            {
                "real": labels[~flag].value_counts(),
                "synthetic": labels[flag].value_counts(),
            }
        )
        .fillna(0)
        .astype(int)
    )
    table = table[table.index != "nan"]
    table["total"] = table["real"] + table["synthetic"]
    return table.sort_values("real", ascending=False).to_string()


def fidelity_summary(entry: dict) -> str:
    """Headline numbers, warnings and notes of every evaluated run."""
    from .pl._dashboard import run_verdict, summary_lines

    lines = []
    for run in json.loads(entry["params"])["runs"]:
        numbers, warnings, notes = summary_lines(entry, run)
        lines += [
            f"run {run}: {run_verdict(entry, run)}",
            *(f"  {n}" for n in numbers),
            *(f"  {w}" for w in warnings),
        ]
    return "\n".join([*lines, *(f"note: {n}" for n in notes)])
