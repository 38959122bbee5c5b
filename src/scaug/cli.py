"""The ``scaug`` command line: augmentation over h5ad files.

Every subcommand prints one clear line and exits non-zero on bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

def _n_cells(value: str):
    """``balance``, an int, or ``label=n,label=n`` (or a JSON object)."""
    if value == "balance":
        return value
    if value.lstrip("-").isdigit():
        return int(value)
    if value.startswith("{"):
        return json.loads(value)
    out = {}
    for part in value.split(","):
        label, sep, n = part.rpartition("=")
        if not sep or not n.strip().lstrip("-").isdigit():
            raise argparse.ArgumentTypeError(f"n_cells must be 'balance', an int or 'label=n,...', got {value!r}")
        out[label] = int(n)
    return out


def _json_dict(value: str) -> dict:
    try:
        out = json.loads(value)
    except json.JSONDecodeError as err:
        raise argparse.ArgumentTypeError(f"not a JSON object: {value!r} ({err.msg})") from None
    if not isinstance(out, dict):
        raise argparse.ArgumentTypeError(f"not a JSON object: {value!r}")
    return out


def _add_common(p: argparse.ArgumentParser, *, output: bool = True) -> None:
    p.add_argument("--input", "-i", required=True, help="input .h5ad file")
    if output:
        p.add_argument("--output", "-o", required=True, help="output .h5ad file")
    p.add_argument("--labels-key", required=True, help="obs column with the cell-type labels")
    p.add_argument("--method", "-m", default="smote", help="method name (see `scaug methods`)")
    p.add_argument("--layer", default=None, help="layer to model (default: 'counts' if present, else X)")
    p.add_argument("--n-cells", type=_n_cells, default="balance", help="'balance' (default), an int, or 'label=n,label=n'")
    p.add_argument("--target", default=None, help="for balance: an int, 'median' (default), 'mean' or 'max'")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--model-kwargs", type=_json_dict, default=None, help="JSON object of model options")
    p.add_argument("--train-kwargs", type=_json_dict, default=None, help="JSON object of training options")


def _target(value: str | None):
    return int(value) if value is not None and value.isdigit() else value


def _read(path: str):
    import anndata as ad

    from ._validation import ScaugInputError

    try:
        return ad.read_h5ad(path)
    except (OSError, FileNotFoundError) as err:
        raise ScaugInputError(f"cannot read {path}: {err}") from None


def _methods_args(p):
    p.add_argument("--full", action="store_true", help="show every column")


def _methods_run(args) -> int:
    import pandas as pd

    from ._registry import methods

    table = methods()
    if not args.full:
        table = table[["kind", "conditional", "min_cells", "description"]]
    with pd.option_context("display.max_colwidth", 80, "display.width", 200):
        print(table.to_string())
    return 0


def _augment_args(p):
    _add_common(p)
    p.add_argument("--key-added", default="scaug", help="provenance key (default 'scaug')")


def _augment_run(args) -> int:
    from .tl import augment

    adata = _read(args.input)
    out = augment(
        adata,
        args.method,
        labels_key=args.labels_key,
        n_cells=args.n_cells,
        target=_target(args.target),
        layer=args.layer,
        random_state=args.random_state,
        key_added=args.key_added,
        model_kwargs=args.model_kwargs,
        train_kwargs=args.train_kwargs,
    )
    out.write_h5ad(args.output)
    print(_summary(out, args.labels_key, args.key_added))
    print(f"wrote {args.output} ({out.n_obs} cells)")
    return 0


def _generate_args(p):
    _add_common(p)
    p.add_argument("--key", default="scaug", help="provenance key (default 'scaug')")


def _generate_run(args) -> int:
    from .tl import generate

    adata = _read(args.input)
    syn = generate(
        adata,
        args.n_cells,
        method=args.method,
        labels_key=args.labels_key,
        layer=args.layer,
        target=_target(args.target),
        random_state=args.random_state,
        key=args.key,
        model_kwargs=args.model_kwargs,
        train_kwargs=args.train_kwargs,
    )
    syn.write_h5ad(args.output)
    print(f"wrote {args.output} ({syn.n_obs} synthetic cells)")
    return 0


def _demo_args(p):
    p.add_argument("--output", "-o", default="scaug_demo.h5ad", help="augmented .h5ad (default scaug_demo.h5ad)")
    p.add_argument("--method", "-m", default=None, help="method (default: the demo's default)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")


def _demo_run(args) -> int:
    from ._demo import run_demo

    print(run_demo(output=args.output, method=args.method, random_state=args.random_state))
    return 0


def _summary(adata, labels_key: str, key: str) -> str:
    """Per-label table: real cells, synthetic cells, total."""
    import pandas as pd

    flag = adata.obs[f"{key}_synthetic"].to_numpy(dtype=bool)
    labels = adata.obs[labels_key].astype(str)
    table = pd.DataFrame(
        {
            "real": labels[~flag].value_counts(),
            "synthetic": labels[flag].value_counts(),
        }
    ).fillna(0).astype(int)
    table = table[table.index != "nan"]
    table["total"] = table["real"] + table["synthetic"]
    return table.sort_values("real", ascending=False).to_string()


# name -> (add arguments, run, help)
_COMMANDS: dict[str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]] = {
    "methods": (_methods_args, _methods_run, "list the registered generation methods"),
    "augment": (_augment_args, _augment_run, "add synthetic cells to an h5ad file (real cells unchanged)"),
    "generate": (_generate_args, _generate_run, "write synthetic cells only to an h5ad file"),
    "demo": (_demo_args, _demo_run, "augment the rare cell types of scanpy's pbmc68k_reduced (offline)"),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``scaug`` command."""
    from importlib.metadata import version

    parser = argparse.ArgumentParser(prog="scaug", description="Synthetic single-cell RNA-seq for data augmentation.")
    parser.add_argument("--version", action="version", version=f"scaug {version('scaug')}")
    parser.add_argument("--verbose", "-v", action="store_true", help="log progress details")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (add_arguments, _, help_text) in _COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``scaug`` command."""
    from ._validation import ScaugInputError

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING, format="scaug: %(message)s")
    try:
        return _COMMANDS[args.command][1](args)
    except ScaugInputError as err:
        print(f"scaug {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
