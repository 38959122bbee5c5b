"""The ``scaug`` command line: augmentation over h5ad files (and h5mu files, with ``--mod``).

Every subcommand prints one clear line and exits non-zero on bad input.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Callable, Sequence

from ._summaries import fidelity_summary, label_table


def _n_cells(value: str):
    """``balance``, an int, or ``label=n,label=n`` (or a JSON object)."""
    if value == "balance":
        return value
    if isinstance(_int_or_text(value), int):
        return int(value)
    if value.startswith("{"):
        return json.loads(value)
    out = {}
    for part in value.split(","):
        label, sep, n = part.rpartition("=")
        if not sep or not isinstance(_int_or_text(n), int):
            raise argparse.ArgumentTypeError(
                f"n_cells must be 'balance', an int or 'label=n,...', got {value!r}"
            )
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


def _add_common(p: argparse.ArgumentParser, *, output: bool = True, input_required: bool = True) -> None:
    p.add_argument("--input", "-i", required=input_required, help="input .h5ad file (or .h5mu with --mod)")
    if output:
        p.add_argument("--output", "-o", required=True, help="output .h5ad file (.h5mu for a .h5mu input)")
    _mod_arg(p)
    p.add_argument("--labels-key", required=True, help="obs column with the cell-type labels")
    p.add_argument("--method", "-m", default="smote", help="method name (see `scaug methods`)")
    p.add_argument("--layer", default=None, help="layer to model (default: 'counts' if present, else X)")
    p.add_argument(
        "--n-cells",
        type=_n_cells,
        default="balance",
        help="'balance' (default), an int, or 'label=n,label=n'",
    )
    p.add_argument("--target", default=None, help="for balance: an int, 'median' (default), 'mean' or 'max'")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--model-kwargs", type=_json_dict, default=None, help="JSON object of model options")
    p.add_argument("--train-kwargs", type=_json_dict, default=None, help="JSON object of training options")


def _target(value: str | None):
    """An int, or a name (``median``, ``mean``, ``max``) that scaug checks."""
    return None if value is None else _int_or_text(value)


def _int_or_text(value: str):
    return int(value) if value.strip().lstrip("-").isdigit() else value


def _mod_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mod", default=None, help="with a .h5mu file: the modality to use (e.g. rna)")


def _read(path: str, mod: str | None = None, *, backed: bool = False):
    """An AnnData from .h5ad (``backed``: opened read-only, X left on disk), or a MuData from .h5mu."""
    from ._validation import ScaugInputError

    if backed and str(path).endswith(".h5mu"):
        raise ScaugInputError(f"--backed reads X of an .h5ad file on disk; {path} is a MuData (.h5mu)")
    try:
        if str(path).endswith(".h5mu"):
            import mudata

            data = mudata.read_h5mu(path)
            if mod is None:
                raise ScaugInputError(
                    f"{path} holds a MuData: pass --mod, the modality to use (modalities: "
                    f"{', '.join(map(repr, data.mod))})"
                )
            return data
        import anndata as ad

        return ad.read_h5ad(path, backed="r" if backed else None)
    except (OSError, FileNotFoundError) as err:
        raise ScaugInputError(f"cannot read {path}: {err}") from None


def _check_output(args) -> None:
    """Refuse, before any work, an output file whose format is not the input's (.h5mu for .h5mu)."""
    from ._validation import ScaugInputError

    mu_in = args.input is not None and str(args.input).endswith(".h5mu")
    if mu_in != str(args.output).endswith(".h5mu"):
        expected = ".h5mu" if mu_in else ".h5ad"
        raise ScaugInputError(
            f"--output {args.output}: expected a {expected} file (a MuData goes to .h5mu, an AnnData to .h5ad)"
        )


def _write(data, path: str) -> None:
    from .tl._mudata import is_mudata

    if is_mudata(data):
        data.write_h5mu(path)
    else:
        data.write_h5ad(path)


def _modality(data, mod: str | None):
    """The AnnData of ``data`` (the modality ``mod`` of a MuData), for the printed summaries."""
    from .tl._mudata import modality

    return modality(data, mod).data


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


def _model_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--model", default=None, help="directory of a saved model (`scaug train`) to use instead of training"
    )


def _load_model(path: str):
    from .models import load_model

    return load_model(path)


def _augment_args(p):
    _add_common(p)
    _model_arg(p)
    p.add_argument("--key-added", default="scaug", help="provenance key (default 'scaug')")


def _refuse_ddp(args) -> None:
    """Training in several processes writes one model: ``scaug train``, then ``--model``."""
    from ._validation import ScaugInputError

    strategy = (args.train_kwargs or {}).get("strategy", "")
    if "ddp" in str(strategy):
        raise ScaugInputError(
            f"strategy {strategy!r} trains in several processes: do it with `scaug train`, which "
            "saves one model, then pass that model with --model"
        )


def _first_process(model) -> bool:
    """Whether this is the first of the processes a DDP training ran in (or the only one)."""
    trainer = getattr(model, "trainer", None)
    return trainer is None or trainer.global_rank == 0


def _augment_run(args) -> int:
    from .tl import augment

    _check_output(args)
    _refuse_ddp(args)
    adata = _read(args.input, args.mod)
    out = augment(
        adata,
        _load_model(args.model) if args.model else args.method,
        labels_key=args.labels_key,
        n_cells=args.n_cells,
        target=_target(args.target),
        layer=args.layer,
        random_state=args.random_state,
        key_added=args.key_added,
        model_kwargs=args.model_kwargs,
        train_kwargs=args.train_kwargs,
        mod=args.mod,
    )
    _write(out, args.output)
    out = _modality(out, args.mod)
    print(label_table(out, args.labels_key, args.key_added))
    print(f"wrote {args.output} ({out.n_obs} cells{'' if args.mod is None else ' in ' + args.mod})")
    return 0


def _generate_args(p):
    _add_common(p, input_required=False)
    _model_arg(p)
    _backed_arg(p)
    p.add_argument("--key-added", default="scaug", help="provenance key (default 'scaug')")


def _generate_run(args) -> int:
    from ._validation import ScaugInputError
    from .tl import generate

    if (args.input is None) == (args.model is None):
        raise ScaugInputError("pass either --input (data to train on) or --model (a saved model)")
    _check_output(args)
    _refuse_ddp(args)
    # An .h5ad is written block by block as the cells are made; a MuData goes to .h5mu at the end.
    streamed = not str(args.output).endswith(".h5mu")
    syn = generate(
        _load_model(args.model) if args.model else _read(args.input, args.mod, backed=args.backed),
        args.n_cells,
        method=None if args.model else args.method,
        labels_key=args.labels_key,
        layer=args.layer,
        target=_target(args.target),
        random_state=args.random_state,
        key_added=args.key_added,
        model_kwargs=args.model_kwargs,
        train_kwargs=args.train_kwargs,
        mod=args.mod,
        out=args.output if streamed else None,
    )
    if not streamed:
        _write(syn, args.output)
    print(f"wrote {args.output} ({_modality(syn, args.mod).n_obs} synthetic cells)")
    return 0


def _train_args(p):
    p.add_argument("--input", "-i", required=True, help="input .h5ad file")
    p.add_argument("--output", "-o", required=True, help="directory to save the trained model in")
    p.add_argument("--labels-key", required=True, help="obs column with the cell-type labels")
    p.add_argument(
        "--method", "-m", default="cscgan", help="deep method name (default cscgan; see `scaug methods`)"
    )
    p.add_argument("--layer", default=None, help="layer to model (default: 'counts' if present, else X)")
    p.add_argument("--max-epochs", type=int, default=None, help="training epochs (default: the method's)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--model-kwargs", type=_json_dict, default=None, help="JSON object of model options")
    p.add_argument("--train-kwargs", type=_json_dict, default=None, help="JSON object of training options")
    p.add_argument("--overwrite", action="store_true", help="replace an existing model directory")
    _backed_arg(p)


def _backed_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--backed",
        action="store_true",
        help="train from X on disk without loading it (methods that can: cscgan)",
    )


def _train_run(args) -> int:
    import os

    from ._registry import get_method
    from ._validation import ScaugInputError
    from .tl import train_generator

    if get_method(args.method).kind != "deep":
        raise ScaugInputError(
            f"method {args.method!r} has no trained model to save; use a deep method (e.g. cscgan)"
        )
    if os.path.exists(args.output) and not args.overwrite:
        raise ScaugInputError(f"{args.output} already exists; pass --overwrite to replace it")
    model = train_generator(
        _read(args.input, backed=args.backed),
        args.method,
        labels_key=args.labels_key,
        layer=args.layer,
        max_epochs=args.max_epochs,
        random_state=args.random_state,
        model_kwargs=args.model_kwargs,
        train_kwargs=args.train_kwargs,
    )
    if not _first_process(model):  # DDP: every process trained the same model; the first saves it
        return 0
    model.save(args.output, overwrite=args.overwrite)
    print(f"saved {args.method} model to {args.output} (use it with --model {args.output})")
    return 0


def _fidelity_args(p):
    p.add_argument(
        "--input", "-i", required=True, help="augmented .h5ad file (from `scaug augment`; .h5mu with --mod)"
    )
    p.add_argument(
        "--reference",
        default=None,
        help="held-out real cells (.h5ad, or .h5mu) the generator never saw: the honest setting",
    )
    _mod_arg(p)
    p.add_argument("--report", "-r", default="fidelity_report.png", help="dashboard figure (.png/.pdf/.svg)")
    p.add_argument(
        "--table", default=None, help="CSV of the metric table (default: the report name with .csv)"
    )
    p.add_argument(
        "--output", "-o", default=None, help="also write the input with the results in .uns (same format)"
    )
    p.add_argument("--key", default="scaug", help="provenance key (default 'scaug')")
    p.add_argument(
        "--run", default=None, help="run to evaluate (default: every run; the report shows the first)"
    )
    p.add_argument("--labels-key", default=None, help="label column (default: the one recorded by augment)")
    p.add_argument("--metrics", default=None, help="comma-separated subset of the metrics (default: all)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")


def _fidelity_run(args) -> int:
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")  # files only; no display needed

    from . import pl
    from .tl import fidelity

    if args.output:
        _check_output(args)
    adata = _read(args.input, args.mod)
    reference = _read(args.reference, args.mod) if args.reference else None
    table = fidelity(
        adata,
        key=args.key,
        reference=reference,
        metrics=args.metrics.split(",") if args.metrics else None,
        run=args.run,
        labels_key=args.labels_key,
        random_state=args.random_state,
        mod=args.mod,
    )
    csv = Path(args.table) if args.table else Path(args.report).with_suffix(".csv")
    table.to_csv(csv, index=False)
    pl.fidelity(adata, run=args.run, show=False, save=str(Path(args.report).resolve()), mod=args.mod)
    if args.output:
        _write(adata, args.output)
    print(fidelity_summary(_modality(adata, args.mod).uns["scaug_fidelity"]))
    print(f"wrote {args.report} and {csv}" + (f" and {args.output}" if args.output else ""))
    return 0


def _demo_args(p):
    p.add_argument(
        "--output", "-o", default="scaug_demo.h5ad", help="augmented .h5ad (default scaug_demo.h5ad)"
    )
    p.add_argument("--method", "-m", default=None, help="method (default: the demo's default)")
    p.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
    p.add_argument("--report", default=None, help="fidelity dashboard (default: <output>_fidelity.png)")


def _demo_run(args) -> int:
    from ._demo import run_demo

    print(
        run_demo(output=args.output, method=args.method, random_state=args.random_state, report=args.report)
    )
    return 0


def _bench_args(p):
    sub = p.add_subparsers(dest="protocol", required=True, metavar="PROTOCOL")
    for name, help_text in _BENCH_HELP.items():
        q = sub.add_parser(name, help=help_text, description=help_text)
        q.add_argument("--output", "-o", required=True, help="CSV of the tidy result table")
        q.add_argument("--figure", default=None, help="also draw the result (.png/.pdf/.svg)")
        q.add_argument(
            "--quick", action="store_true", help="small settings on simulated data (tests, docs; minutes)"
        )
        q.add_argument("--methods", "-m", nargs="+", default=None, help="registered method names")
        q.add_argument("--random-state", type=int, default=0, help="seed (default 0)")
        q.add_argument(
            "--train-kwargs",
            type=_json_dict,
            default=None,
            help='JSON object {method: {options}} passed to training, e.g. \'{"cscgan": {"max_steps": 500}}\'',
        )
        if name == "speed":
            q.add_argument("--sizes", nargs="+", type=int, default=None, help="numbers of training cells")
            continue
        q.add_argument(
            "--input", "-i", default=None, help="input .h5ad file (default with --quick: simulated)"
        )
        q.add_argument("--labels-key", default=None, help="obs column with the cell-type labels")
        q.add_argument("--layer", default=None, help="layer to model (default: 'counts' if present, else X)")
        if name == "downsampling":
            q.add_argument("--target", default=None, help="the label to downsample")
            q.add_argument("--n-kept", nargs="+", type=int, default=None, help="target cells to keep")
            q.add_argument("--rates", nargs="+", type=float, default=None, help="fractions to keep")
            q.add_argument("--seeds", nargs="+", type=int, default=None, help="repetitions (default 0 1 2)")
        else:
            q.add_argument("--folds", type=int, default=None, help="cross-validation folds (default 5)")


_BENCH_HELP = {
    "downsampling": "downsample one label, augment it, score a target-vs-rest forest on held-out cells",
    "imbalance": "the comparison study's protocol: MLP classifier, 5-fold CV, macro-F1 per method",
    "speed": "training time, generation cells/s, fidelity time and peak memory vs data size",
}


def _bench_run(args) -> int:
    from pathlib import Path

    from . import bench
    from ._validation import ScaugInputError

    if args.protocol != "speed" and args.input is None and not args.quick:
        raise ScaugInputError("pass --input data.h5ad (or --quick for simulated data)")
    kwargs = bench.quick_settings(args.protocol) if args.quick else {}
    if args.protocol != "speed" and args.input is not None:
        if args.labels_key is None:
            raise ScaugInputError("--labels-key is required with --input")
        kwargs.update(adata=_read(args.input), labels_key=args.labels_key, layer=args.layer)
    options = {
        "methods": args.methods,
        "train_kwargs": args.train_kwargs,
        **{k: getattr(args, k, None) for k in ("target", "n_kept", "rates", "seeds", "sizes")},
    }
    if args.protocol == "imbalance":
        options.update(n_folds=args.folds, random_state=args.random_state)
    elif args.protocol == "speed":
        options.update(random_state=args.random_state)
    kwargs.update({k: v for k, v in options.items() if v is not None})
    if args.protocol == "downsampling" and "target" not in kwargs:
        raise ScaugInputError("--target is required: the label to downsample")
    table = getattr(bench, args.protocol)(**kwargs)
    table.to_csv(args.output, index=False)
    print(bench.summarise(args.protocol, table).to_string())
    written = [args.output]
    if args.figure:
        import matplotlib

        matplotlib.use("Agg")
        from . import pl

        plot = getattr(pl, args.protocol, None)
        if plot is None:
            raise ScaugInputError(f"no figure for the {args.protocol} benchmark")
        plot(table, show=False, save=str(Path(args.figure).resolve()))
        written.append(args.figure)
    print(f"wrote {' and '.join(written)}")
    return 0


# name -> (add arguments, run, help)
_COMMANDS: dict[
    str, tuple[Callable[[argparse.ArgumentParser], None], Callable[[argparse.Namespace], int], str]
] = {
    "methods": (_methods_args, _methods_run, "list the registered generation methods"),
    "train": (_train_args, _train_run, "train a deep generator on an h5ad file and save it to a directory"),
    "augment": (_augment_args, _augment_run, "add synthetic cells to an h5ad file (real cells unchanged)"),
    "generate": (_generate_args, _generate_run, "write synthetic cells only to an h5ad file"),
    "fidelity": (
        _fidelity_args,
        _fidelity_run,
        "report how realistic the synthetic cells are (PNG dashboard + CSV)",
    ),
    "bench": (_bench_args, _bench_run, "run a benchmark: downsampling, imbalance or speed (tidy CSV)"),
    "demo": (
        _demo_args,
        _demo_run,
        "augment the rare cell types of scanpy's pbmc68k_reduced and report fidelity (offline)",
    ),
}


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``scaug`` command."""
    from importlib.metadata import version

    parser = argparse.ArgumentParser(
        prog="scaug", description="Synthetic single-cell RNA-seq for data augmentation."
    )
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
    # Only scaug's own logger: a root handler would print every Lightning message a second time.
    logger = logging.getLogger("scaug")
    if not any(getattr(h, "scaug_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("scaug: %(message)s"))
        handler.scaug_cli = True
        logger.addHandler(handler)
    logger.setLevel(logging.INFO if args.verbose else logging.WARNING)
    try:
        return _COMMANDS[args.command][1](args)
    except ScaugInputError as err:
        print(f"scaug {args.command}: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
