from __future__ import annotations

import logging
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .. import _provenance
from .._chunked_h5ad import ChunkedH5AD
from .._generator import Generator
from .._registry import MethodSpec, get_method
from .._rowstack import RowStack
from .._spaces import Space, Transform, get_matrix, recognise_transform
from .._targets import NCells, resolve_targets
from .._validation import ScaugInputError, check_memory, output_bytes
from ._mudata import modality
from ._train import fit_method, real_label_counts

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

logger = logging.getLogger("scaug")


def generate(
    model_or_adata: Generator | AnnData | MuData,
    n_cells: NCells,
    *,
    method: str | None = None,
    labels_key: str | None = None,
    layer: str | None = None,
    target: int | str | None = None,
    random_state: int = 0,
    key_added: str = "scaug",
    model_kwargs: dict | None = None,
    train_kwargs: dict | None = None,
    mod: str | None = None,
    out: str | Path | None = None,
) -> AnnData | MuData:
    """Generate synthetic cells only, in memory or streamed to an .h5ad file.

    Parameters
    ----------
    model_or_adata
        A trained generator (from :func:`scaug.tl.train_generator`), or an AnnData to train ``method`` on
        (backed, ``backed="r"``, for a method that trains from the file, such as ``"cscgan"``),
        or a MuData, with ``mod`` naming the modality to train on.
    n_cells
        An int (spread by label frequency), a ``{label: n}`` dict, or ``"balance"``; labels too small
        for the method as in :func:`scaug.tl.augment`.
    method
        Method to train when an AnnData is given (default ``"cscgan"``).
    labels_key
        ``obs`` column with the labels (required with an AnnData; names the label column of the output).
    layer
        Layer to model when an AnnData is given; default ``"counts"`` if present, else ``.X``.
    target
        Target size per label for ``n_cells="balance"`` (default: median label size).
    random_state
        Seed for training and sampling.
    key_added
        Provenance key of the obs columns and of ``uns[key_added]`` (as in :func:`scaug.tl.augment`).
    model_kwargs, train_kwargs
        Passed to the method when training.
    mod
        With a MuData (required then; an error otherwise): the modality to train on, e.g. ``"rna"``.
    out
        An ``.h5ad`` file to write the cells to as they are made, block by block (sparse matrices),
        so that memory does not grow with the number of cells; the cells are those generated in
        memory for the same seed. Generators with ``sample_chunks`` (cscgan, scgan, gan, vae,
        activa) stream; the others make their cells at once and write them in one block.

    Returns
    -------
    AnnData of synthetic cells: the generated matrix in the modelled slot (and in every other slot of
    the input that is a recognised transform of it), labels in ``obs[labels_key]``, provenance in
    ``obs[f"{key_added}_*"]`` and ``uns[key_added]["runs"]``. With ``out``: that file, opened
    read-only with ``backed="r"`` (``.to_memory()`` loads it).

    For a MuData, a MuData in, a MuData out: one modality ``mod`` holding that AnnData (the synthetic
    cells have no other modality), ``obs[f"{mod}:{key_added}_synthetic"]`` in its global ``.obs``.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(300, 50, 3, random_state=0)
    >>> syn = scaug.tl.generate(adata, {"type_2": 20}, method="smote", labels_key="cell_type")
    >>> syn.n_obs
    20
    >>> import mudata as md
    >>> syn = scaug.tl.generate(
    ...     md.MuData({"rna": adata}), {"type_2": 20}, method="smote", labels_key="cell_type", mod="rna"
    ... )
    >>> syn["rna"].n_obs
    20
    >>> import tempfile
    >>> path = tempfile.mkdtemp() + "/synthetic.h5ad"
    >>> syn = scaug.tl.generate(adata, {"type_2": 20}, method="smote", labels_key="cell_type", out=path)
    >>> syn.isbacked, syn.n_obs
    (True, 20)
    """
    source = modality(model_or_adata, mod, what="model_or_adata")
    if out is not None and source.mdata is not None:
        raise ScaugInputError(
            "out= writes one AnnData to an .h5ad file; for a MuData pass its modality "
            f"(mdata[{mod!r}]) or generate in memory and call write_h5mu"
        )
    model_or_adata = source.data
    if isinstance(model_or_adata, ad.AnnData):
        method = "cscgan" if method is None else method
        spec = get_method(method)
        # Before training: a label too small for the method must not cost a training run first.
        n_per_label = resolve_targets(
            real_label_counts(model_or_adata, labels_key, key_added),  # type: ignore[arg-type]
            n_cells,
            target=target,
            min_cells=spec.min_cells,
            method=spec.name,
        )
        if out is None and not model_or_adata.isbacked:
            check_output_fits(model_or_adata, n_per_label, with_real=False)
        gen, space, seconds = fit_method(
            model_or_adata,
            spec,
            labels_key=labels_key,  # type: ignore[arg-type]
            layer=layer,
            key=key_added,
            random_state=random_state,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
            labels=[lab for lab, n in n_per_label.items() if n > 0],
        )
        # a backed AnnData trains from X on disk: the synthetic cells have that one matrix
        transforms = {} if model_or_adata.isbacked else slot_transforms(model_or_adata, space)
    else:
        gen = check_generator(model_or_adata)
        if method is not None and method != gen.method:
            raise ScaugInputError(f"method={method!r} does not match the given {gen.method!r} generator")
        spec = _spec_of(gen)
        labels_key = labels_key or "label"
        space = Space(layer, "counts" if gen.counts else "continuous")
        transforms, seconds = {}, 0.0
        n_per_label = resolve_targets(
            gen.label_counts, n_cells, target=target, min_cells=spec.min_cells, method=spec.name
        )
        n_new = int(sum(n_per_label.values()))
        # Without the training data the density is unknown: a row pointer and an obs row per cell
        # is a lower bound, which refuses only requests that cannot fit (obs is held also with out=).
        check_memory(n_new * 80.0, what=f"an output of {n_new:,} cells", estimate="at least")
    run_id = _provenance.new_run_id(None, key_added, spec.name)
    syn = sample_adata(
        gen,
        spec,
        n_per_label,
        skipped=n_per_label.skipped,
        space=space,
        transforms=transforms,
        labels_key=labels_key,  # type: ignore[arg-type]
        key=key_added,
        run_id=run_id,
        random_state=random_state,
        seconds_train=seconds,
        out=out,
    )
    return source.alone(syn, key=key_added)


def check_generator(gen) -> Generator:
    """Check an object passed as a trained generator."""
    missing = [
        a
        for a in ("method", "var_names", "labels", "counts", "params", "label_counts", "sample")
        if not hasattr(gen, a)
    ]
    if missing:
        raise ScaugInputError(
            f"expected a method name or a trained generator, got {type(gen).__name__} (missing {missing})"
        )
    return gen


def _spec_of(gen: Generator) -> MethodSpec:
    try:
        return get_method(gen.method)
    except ScaugInputError:  # a generator of an unregistered method: generic requirements
        return MethodSpec(gen.method, train=lambda *a, **k: gen)


def slot_transforms(adata: AnnData, space: Space) -> dict[str | None, Transform]:
    """For each slot other than the modelled one: the transform that derives it, or an error."""
    source = get_matrix(adata, space.layer)
    slots: list[str | None] = [None, *adata.layers.keys()]
    out = {}
    for slot in slots:
        if slot == space.layer:
            continue
        matrix = get_matrix(adata, slot)
        if matrix is None:
            continue
        transform = recognise_transform(source, matrix)
        if transform is None:
            name = "adata.X" if slot is None else f"adata.layers[{slot!r}]"
            raise ScaugInputError(
                f"{name} is not a transform scaug can repeat for synthetic cells (identity, normalize_total, "
                f"log1p, log1p(normalize_total)) of the modelled {space.slot}; drop it or model it with layer="
            )
        out[slot] = transform
    return out


def check_output_fits(adata: AnnData, n_per_label: dict[str, int], *, with_real: bool) -> None:
    """Refuse a request whose output (every slot of ``adata``, for the new cells) cannot fit in memory."""
    n_new = int(sum(n_per_label.values()))
    n_rows = n_new + (adata.n_obs if with_real else 0)
    needed = output_bytes([adata.X, *adata.layers.values()], n_rows)
    check_memory(needed, what=f"an output of {n_rows:,} cells x {adata.n_vars:,} genes")


def sample_adata(
    gen: Generator,
    spec: MethodSpec,
    n_per_label: Mapping[str, int],
    *,
    skipped: Mapping[str, str] | None = None,
    space: Space,
    transforms: Mapping[str | None, Transform],
    labels_key: str,
    key: str,
    run_id: str,
    random_state: int,
    seconds_train: float,
    dtype=np.float32,
    as_sparse: bool = True,
    out: str | Path | None = None,
) -> AnnData:
    """Sample from a generator and wrap the cells in an AnnData with provenance.

    Cells come in blocks (:func:`generated_blocks`), each mapped back to the source space and
    given every slot. They are stacked in memory, or, with ``out``, appended to that .h5ad file,
    which is returned opened ``backed="r"`` (sparse matrices only). ``skipped`` (label -> reason,
    from :func:`~scaug._targets.resolve_targets`) goes into the run record.
    """
    unknown = [lab for lab in n_per_label if lab not in set(gen.labels)]
    if unknown:
        raise ScaugInputError(
            f"the {gen.method} generator cannot generate labels {unknown} (it knows {gen.labels})"
        )
    slots = [None, *(slot for slot in (space.layer, *transforms) if slot is not None)]
    n_max = int(sum(n_per_label.values()))
    start = time.perf_counter()
    sink = (
        _MemoryBlocks(slots, n_max, len(gen.var_names), dtype)
        if out is None
        else ChunkedH5AD(out, n_vars=len(gen.var_names), layers=tuple(slots[1:]), dtype=dtype)
    )
    with sink:
        labels = []
        # a stream of its own, so that the cells drawn do not depend on whether they are mapped back
        rng = np.random.default_rng([random_state, 1])
        for matrix, block_labels in generated_blocks(
            gen, n_per_label, random_state, streamed=out is not None
        ):
            block_labels = np.asarray(block_labels, dtype=object)
            matrix = sparse.csr_matrix(space.to_source(matrix, block_labels, rng), dtype=dtype)
            sink.append(slot_blocks(matrix, space, transforms, dtype))
            labels.append(block_labels)
        labels = np.concatenate([np.array([], dtype=object), *labels])
        seconds = time.perf_counter() - start
        short = {lab: n - int((labels == lab).sum()) for lab, n in n_per_label.items()}
        for lab, n in short.items():
            if n > 0:
                logger.warning("%s generated %d fewer %r cells than asked for", spec.name, n, lab)
        obs = _provenance_obs(labels, labels_key=labels_key, key=key, run_id=run_id, method=spec.name)
        var = pd.DataFrame(index=gen.var_names.copy())
        record = _provenance.run_record(
            method=spec.name,
            params=dict(gen.params),
            deep=spec.kind == "deep",
            random_state=random_state,
            labels_key=labels_key,
            layer=space.layer,
            space=space.kind,
            counts=_provenance.counts_table(gen.label_counts, dict(n_per_label), labels),
            seconds_train=seconds_train,
            seconds_generate=seconds,
            history=getattr(gen, "history", None),
        )
        if skipped:
            record["skipped"] = dict(skipped)
        uns: dict = {}
        _provenance.add_run(uns, key, run_id, record)
        if out is None:
            matrices = sink.matrices(as_sparse=as_sparse)
            return ad.AnnData(X=matrices.pop(None), obs=obs, var=var, uns=uns, layers=matrices)
        sink.finish(obs=obs, var=var, uns=uns)
    # The written obs (a name per cell) goes before the file's obs is read back in.
    del obs, labels
    return ad.read_h5ad(out, backed="r")


def generated_blocks(
    gen: Generator, n_per_label: Mapping[str, int], random_state: int, *, streamed: bool = False
) -> Iterator[tuple[object, np.ndarray]]:
    """The generator's cells as ``(matrix, labels)`` blocks: its ``sample_chunks`` if it has one, else one block."""
    chunks = getattr(gen, "sample_chunks", None)
    if chunks is not None:
        yield from chunks(dict(n_per_label), random_state=random_state)
        return
    if streamed:
        logger.info("%s makes all its cells at once: they are written to the file in one block", gen.method)
    yield gen.sample(dict(n_per_label), random_state=random_state)


def slot_blocks(
    matrix: sparse.csr_matrix, space: Space, transforms: Mapping[str | None, Transform], dtype
) -> dict[str | None, sparse.csr_matrix]:
    """A block of generated cells in every slot: the modelled one and those derived from it.

    ``X`` (key ``None``) holds the modelled matrix when nothing else derives it.
    """
    blocks: dict[str | None, sparse.csr_matrix] = {space.layer: matrix}
    for slot, transform in transforms.items():
        blocks[slot] = sparse.csr_matrix(transform.apply(matrix), dtype=dtype)
    if None not in blocks:
        blocks[None] = matrix.copy()
    return blocks


class _MemoryBlocks:
    """Blocks of each slot stacked in memory (the counterpart of :class:`~scaug._chunked_h5ad.ChunkedH5AD`)."""

    def __init__(self, slots: list[str | None], n_rows: int, n_vars: int, dtype):
        self.stacks = {slot: RowStack(n_rows, n_vars, dtype=dtype) for slot in slots}

    def append(self, blocks: Mapping[str | None, sparse.csr_matrix]) -> None:
        for slot, block in blocks.items():
            self.stacks[slot].append(block)

    def matrices(self, *, as_sparse: bool) -> dict[str | None, object]:
        out = {slot: stack.tocsr() for slot, stack in self.stacks.items()}
        return out if as_sparse else {slot: matrix.toarray() for slot, matrix in out.items()}

    def __enter__(self) -> _MemoryBlocks:
        return self

    def __exit__(self, *exc) -> None:
        pass


def _provenance_obs(
    labels: np.ndarray, *, labels_key: str, key: str, run_id: str, method: str
) -> pd.DataFrame:
    """``obs`` of synthetic cells: their label, the synthetic flag, method and run (names from ``key``)."""
    flag, method_col, run_col = _provenance.columns(key)
    return pd.DataFrame(
        {
            labels_key: pd.Categorical(labels),
            flag: np.ones(len(labels), dtype=bool),
            method_col: _constant(method, len(labels)),
            run_col: _constant(run_id, len(labels)),
        },
        index=pd.Index([f"{key}-{run_id}-{i}" for i in range(len(labels))]),
    )


def _constant(value: str, n: int) -> pd.Categorical:
    """A categorical column of ``n`` times ``value`` (codes only: no list of ``n`` strings)."""
    return pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[value])
