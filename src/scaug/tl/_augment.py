from __future__ import annotations

import copy
import logging
from typing import TYPE_CHECKING

import anndata as ad
import numpy as np
import pandas as pd
from scipy import sparse

from .. import _provenance
from .._generator import Generator
from .._registry import get_method
from .._spaces import detect_space, get_matrix
from .._targets import NCells, resolve_targets
from .._validation import ScaugInputError, check_adata
from ._generate import _spec_of, check_generator, check_output_fits, sample_adata, slot_transforms
from ._mudata import modality
from ._train import fit_method, real_label_counts, training_data

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

logger = logging.getLogger("scaug")


def augment(
    adata: AnnData | MuData,
    method: str | Generator = "cscgan",
    *,
    labels_key: str,
    n_cells: NCells = "balance",
    target: int | str | None = None,
    layer: str | None = None,
    random_state: int = 0,
    key_added: str = "scaug",
    model_kwargs: dict | None = None,
    train_kwargs: dict | None = None,
    mod: str | None = None,
) -> AnnData | MuData:
    """Return ``adata`` plus synthetic cells, marked and recorded.

    Real cells are unchanged (bit-identical ``.X``, layers and obs values); synthetic cells are
    appended in the input's space and slots. The input is never modified: AnnData cannot grow in
    place, so a new object is returned.

    Parameters
    ----------
    adata
        Cells x genes with labels; raw counts (``layers["counts"]`` or integer ``.X``, preferred) or
        log-normalised data. Or a MuData, with ``mod`` naming the modality to augment.
    method
        A registered method name (see :func:`scaug.methods`) or a generator trained with
        :func:`scaug.tl.train_generator` on data with the same genes.
    labels_key
        ``obs`` column with the labels. Cells without a label stay as real cells but are not used.
    n_cells
        ``"balance"`` (default): bring every label below ``target`` up to it; an int: that many cells
        spread by label frequency; a ``{label: n}`` dict: exactly those. A label with fewer training
        cells than the method needs is an error when the dict names it; ``"balance"`` and an int skip
        it with a warning, and the run record lists it under ``"skipped"`` with the reason.
    target
        For ``"balance"``: an int, or ``"median"`` (default), ``"mean"``, ``"max"`` of the label sizes.
    layer
        Layer to model; default ``"counts"`` if present, else ``.X``.
    random_state
        Seed for training and sampling; the same seed gives the same output on CPU.
    key_added
        Provenance key: ``obs[f"{key_added}_synthetic"]``, ``obs[f"{key_added}_method"]``,
        ``obs[f"{key_added}_run"]`` and ``uns[key_added]["runs"][run_id]``. Calling ``augment`` again
        on the result appends a run; only real cells are trained on and counted for balancing.
    model_kwargs, train_kwargs
        Options of the method's model and training.
    mod
        With a MuData (required then; an error with an AnnData): the modality to augment, e.g. ``"rna"``.

    Returns
    -------
    A new AnnData: the real cells, then the synthetic cells. ``.obsm`` entries are NaN for synthetic
    cells; ``.obsp`` (cell graphs) and ``.raw`` are not carried over (recompute them).

    For a MuData, a new MuData: modality ``mod`` augmented as above (provenance in its ``.obs`` and
    ``.uns``), every other modality a bit-identical copy without the synthetic cells, and the global
    ``.obs`` updated (``update()``): the synthetic cells are missing (NaN) in the other modalities'
    and the global columns, and ``obs[f"{mod}:{key_added}_synthetic"]`` marks them. Global ``.obsm``
    is padded with NaN, global ``.obsp`` dropped.

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(600, 100, 4, imbalance=0.05, random_state=0)
    >>> aug = scaug.tl.augment(adata, "smote", labels_key="cell_type")
    >>> bool(aug.obs["scaug_synthetic"].sum() > 0)
    True

    A MuData: the synthetic cells go into one modality; the others keep their cells.

    >>> import anndata as ad
    >>> import mudata as md
    >>> prot = ad.AnnData(adata.X[:, :5].toarray(), obs=adata.obs[[]])  # a toy 5-protein modality
    >>> mdata = md.MuData({"rna": adata, "prot": prot})
    >>> aug = scaug.tl.augment(mdata, "smote", labels_key="cell_type", mod="rna")
    >>> aug["rna"].n_obs > aug["prot"].n_obs == adata.n_obs
    True
    """
    source = modality(adata, mod)
    adata = source.data
    # the result holds the real cells too: a backed file cannot be returned augmented
    check_adata(adata)
    counts = real_label_counts(adata, labels_key, key_added)
    if isinstance(method, str):
        spec = get_method(method)
        # Before training: a label too small for the method must not cost a training run first.
        n_per_label = resolve_targets(
            counts, n_cells, target=target, min_cells=spec.min_cells, method=spec.name
        )
        check_output_fits(adata, n_per_label, with_real=True)
        gen, space, seconds = fit_method(
            adata,
            spec,
            labels_key=labels_key,
            layer=layer,
            key=key_added,
            random_state=random_state,
            model_kwargs=model_kwargs,
            train_kwargs=train_kwargs,
            labels=[lab for lab, n in n_per_label.items() if n > 0],
        )
    else:
        gen = check_generator(method)
        spec, seconds = _spec_of(gen), 0.0
        if model_kwargs or train_kwargs:
            raise ScaugInputError(
                "model_kwargs/train_kwargs apply when training; this generator is already trained"
            )
        if not gen.var_names.equals(adata.var_names):
            raise ScaugInputError(
                f"the generator was trained on {len(gen.var_names)} genes that differ from adata's "
                f"{adata.n_vars} var_names (same genes in the same order are required)"
            )
        space = detect_space(adata, layer)
        if gen.counts and space.kind == "continuous":  # a counts model of log counts: map back
            _, space = training_data(
                adata, labels_key=labels_key, layer=layer, key=key_added, count_route=True
            )
        if gen.counts != (space.kind in ("counts", "log_counts")):
            raise ScaugInputError(
                f"the generator produces {'counts' if gen.counts else 'continuous values'} but adata {space.slot} "
                f"holds {space.kind}; pass the matching layer="
            )
        n_per_label = resolve_targets(
            counts, n_cells, target=target, min_cells=spec.min_cells, method=spec.name
        )
        check_output_fits(adata, n_per_label, with_real=True)
    transforms = slot_transforms(adata, space)
    run_id = _provenance.new_run_id(adata, key_added, spec.name)
    reference = get_matrix(adata, space.layer)
    syn = sample_adata(
        gen,
        spec,
        n_per_label,
        skipped=n_per_label.skipped,
        space=space,
        transforms=transforms,
        labels_key=labels_key,
        key=key_added,
        run_id=run_id,
        random_state=random_state,
        seconds_train=seconds,
        dtype=reference.dtype,
        as_sparse=sparse.issparse(reference),
    )
    out = concatenate(adata, syn, key=key_added)
    logger.info("added %d synthetic cells (%s run %s)", syn.n_obs, spec.name, run_id)
    return source.replaced(out, key=key_added)


def concatenate(adata: AnnData, syn: AnnData, *, key: str) -> AnnData:
    """Real cells of ``adata`` (untouched) followed by the synthetic cells ``syn``."""
    if adata.raw is not None:
        logger.warning("adata.raw is not carried over to the augmented object (synthetic cells have none)")
    if len(adata.obsp):
        logger.warning(
            "obsp %s dropped: cell graphs must be recomputed with the synthetic cells", list(adata.obsp)
        )
    X = _stack(adata.X, syn.X)
    layers = {name: _stack(adata.layers[name], syn.layers[name]) for name in adata.layers}
    obsm = {}
    for name, value in adata.obsm.items():
        stacked = _stack_nan(value, syn.obs_names)
        if stacked is None:
            logger.warning(
                "obsm[%r] (%s) dropped: it cannot be padded for synthetic cells", name, type(value).__name__
            )
        else:
            obsm[name] = stacked
    out = ad.AnnData(
        X=X,
        obs=_concat_obs(adata.obs, syn.obs, key),
        var=adata.var.copy(),
        uns=copy.deepcopy(dict(adata.uns)),
        obsm=obsm,
        varm={k: v.copy() for k, v in adata.varm.items()},
        varp={k: v.copy() for k, v in adata.varp.items()},
        layers=layers,
    )
    for run_id, record in syn.uns[key]["runs"].items():
        _provenance.add_run(out.uns, key, run_id, record)
    return out


def _stack(real, synthetic):
    if real is None:
        return None
    if sparse.issparse(real):
        return sparse.vstack([real, sparse.csr_matrix(synthetic, dtype=real.dtype)], format=real.format)
    synthetic = synthetic.toarray() if sparse.issparse(synthetic) else synthetic
    return np.vstack([np.asarray(real), np.asarray(synthetic, dtype=real.dtype)])


def _stack_nan(value, new_names: pd.Index):
    """``value`` (an obsm entry) with NaN rows for the new cells, or None if it cannot hold NaN."""
    n_new = len(new_names)
    if isinstance(value, pd.DataFrame):
        index = value.index.append(new_names)
        return pd.DataFrame({col: _pad(value[col], n_new) for col in value.columns}, index=index)
    if sparse.issparse(value) or not np.issubdtype(np.asarray(value).dtype, np.number):
        return None
    value = np.asarray(value)
    pad = np.full((n_new, *value.shape[1:]), np.nan, dtype=np.result_type(value.dtype, np.float32))
    return np.concatenate([value.astype(pad.dtype, copy=False), pad])


def _concat_obs(real: pd.DataFrame, syn: pd.DataFrame, key: str) -> pd.DataFrame:
    """Obs of real then synthetic cells; real values keep their dtype wherever pandas can hold a gap."""
    flag, method_col, run_col = _provenance.columns(key)
    index = real.index.append(syn.index)
    if not index.is_unique:
        raise ScaugInputError("adata.obs_names must be unique (call adata.obs_names_make_unique())")
    out = {}
    for col in dict.fromkeys([*real.columns, *syn.columns]):
        if col == flag:
            old = real[col].to_numpy(dtype=bool) if col in real else np.zeros(len(real), dtype=bool)
            out[col] = np.concatenate([old, np.ones(len(syn), dtype=bool)])
        elif col in (method_col, run_col):
            old = (
                real[col].astype(str).to_numpy() if col in real else np.full(len(real), "real", dtype=object)
            )
            out[col] = pd.Categorical(
                np.concatenate([old.astype(object), syn[col].astype(str).to_numpy(dtype=object)])
            )
        elif col in syn and col in real:  # the labels column
            values = pd.Series(real[col], copy=False)
            # the input's category order is kept, so uns[f"{col}_colors"] still matches
            known = (
                values.cat.categories
                if isinstance(values.dtype, pd.CategoricalDtype)
                else values.dropna().unique()
            )
            cats = pd.Index(pd.Index(known).astype(str)).append(pd.Index(syn[col].cat.categories))
            as_str = values.astype(object).where(values.isna(), values.astype(str))
            out[col] = pd.Categorical(
                np.concatenate([as_str.to_numpy(dtype=object), syn[col].to_numpy(dtype=object)]),
                categories=cats.unique(),
            )
        else:
            out[col] = _pad(real[col], len(syn))
    return pd.DataFrame(out, index=index)


def _pad(values: pd.Series, n: int):
    """Extend a real obs column by ``n`` missing values without changing the real values."""
    dtype = values.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return pd.Categorical(
            np.concatenate([values.to_numpy(dtype=object), [np.nan] * n]), categories=dtype.categories
        )
    if pd.api.types.is_bool_dtype(dtype):
        return pd.array(np.concatenate([values.to_numpy(dtype=object), [pd.NA] * n]), dtype="boolean")
    if pd.api.types.is_integer_dtype(dtype):
        return pd.array(np.concatenate([values.to_numpy(dtype=object), [pd.NA] * n]), dtype="Int64")
    if pd.api.types.is_float_dtype(dtype):
        return np.concatenate([values.to_numpy(), np.full(n, np.nan, dtype=dtype)])
    return pd.Categorical(np.concatenate([values.astype(object).to_numpy(), [np.nan] * n]))
