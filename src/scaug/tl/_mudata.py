"""MuData in and out: the tools work on one modality's AnnData; the result goes back into a MuData.

``mudata`` is imported only when a MuData is passed (and then it is loaded already), so that
``import scaug`` stays fast and AnnData users never load it.
"""

from __future__ import annotations

import copy
import logging
import sys
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pandas as pd

from .. import _provenance
from .._validation import ScaugInputError

if TYPE_CHECKING:
    from anndata import AnnData
    from mudata import MuData

logger = logging.getLogger("scaug")


def is_mudata(data) -> bool:
    """Whether ``data`` is a MuData (without importing mudata: a MuData means it is loaded)."""
    mudata = sys.modules.get("mudata")
    return mudata is not None and isinstance(data, mudata.MuData)


@dataclass(frozen=True)
class Modality:
    """What a tool works on (``data``: an AnnData, or a generator) and the MuData it came from, if any."""

    data: Any
    mdata: MuData | None = None
    mod: str | None = None

    def replaced(self, new: AnnData, *, key: str) -> AnnData | MuData:
        """``new`` for an AnnData input; for a MuData, a new MuData with modality ``mod`` replaced by ``new``.

        ``new`` holds the modality's cells plus new (synthetic) ones. The other modalities are
        copied (bit-identical, sharing no memory with the input), global ``.obs``, ``.var``,
        ``.uns``, ``.varm`` and ``.varp`` are copied, and ``update()`` adds the new cells to ``.obs``
        with missing values in every column they have no value for.
        """
        if self.mdata is None:
            return new
        import mudata

        from ._augment import _stack_nan  # augment imports this module: import when used

        mdata, mod = self.mdata, self.mod
        added = new.obs_names[~new.obs_names.isin(self.data.obs_names)]
        for name, other in mdata.mod.items():
            # the same name in two modalities is one cell for mudata: a synthetic cell must not join a real one
            if name != mod and other.obs_names.isin(added).any():
                raise ScaugInputError(
                    f"synthetic cell names such as {added[0]!r} already name cells of modality {name!r} "
                    f"(augmented earlier with the same key): pass another key_added="
                )
        if len(mdata.obsp):
            logger.warning(
                "mdata.obsp %s dropped: cell graphs must be recomputed with the synthetic cells",
                list(mdata.obsp),
            )
        # A new MuData, as augment returns a new AnnData: the other modalities are copied, so that
        # nothing done to the result reaches the input. Provenance stays in the modality (.obs, .uns).
        mods = {name: new if name == mod else other.copy() for name, other in mdata.mod.items()}
        # the global entries without the per-modality masks, which update() rebuilds
        varm, varp, obsm = (
            {k: v for k, v in m.items() if k not in mdata.mod} for m in (mdata.varm, mdata.varp, mdata.obsm)
        )
        out = mudata.MuData(
            mods,
            obs=mdata.obs.copy(),
            var=mdata.var.copy(),
            uns=copy.deepcopy(dict(mdata.uns)),
            varm={k: v.copy() for k, v in varm.items()},
            varp={k: v.copy() for k, v in varp.items()},
            axis=mdata.axis,
        )
        # .obsm is padded here, as augment pads an AnnData's: update() fails on integer and DataFrame entries
        kept = out.obs_names[: mdata.n_obs].equals(mdata.obs_names)
        for name, value in obsm.items():
            padded = _stack_nan(value, out.obs_names[mdata.n_obs :]) if kept else None
            if padded is None:
                logger.warning("mdata.obsm[%r] dropped: it cannot be padded for synthetic cells", name)
            else:
                out.obsm[name] = padded
        show_provenance(out, mod, key)
        return out

    def alone(self, new: AnnData, *, key: str) -> AnnData | MuData:
        """``new`` for an AnnData (or generator) input; for a MuData, a MuData of one modality ``mod``: ``new``."""
        if self.mdata is None:
            return new
        import mudata

        # A MuData in, a MuData out (h5mu, and the name of the modality kept); the synthetic cells
        # exist in this one modality only, so it is the only one.
        out = mudata.MuData({self.mod: new})
        show_provenance(out, self.mod, key)
        return out


def modality(data, mod: str | None, *, what: str = "adata") -> Modality:
    """Unwrap ``data``: modality ``mod`` of a MuData (``mod`` required), or ``data`` itself (``mod`` must be None)."""
    if not is_mudata(data):
        if mod is not None:
            raise ScaugInputError(
                f"mod={mod!r} names a modality of a MuData, but {what} is not a MuData "
                f"({type(data).__name__}): drop mod= or pass the MuData"
            )
        return Modality(data)
    names = ", ".join(map(repr, data.mod))
    if mod is None:
        raise ScaugInputError(
            f"{what} is a MuData: pass mod=, the name of the modality to use (modalities: {names})"
        )
    if not isinstance(mod, str) or mod not in data.mod:
        raise ScaugInputError(f"{what} has no modality {mod!r} (modalities: {names})")
    return Modality(data.mod[mod], data, mod)


def show_provenance(mdata: MuData, mod: str, key: str) -> None:
    """Make sure ``mdata.obs`` shows the provenance columns of modality ``mod`` (``"rna:scaug_synthetic"``).

    mudata < 0.4 pulls every modality column into ``.obs`` on ``update()`` by default; with
    ``mudata.set_options(pull_on_update=False)`` (the default from 0.4) it pulls none. Then the
    provenance columns are pulled, and so are the columns of ``mod`` that ``.obs`` already mirrors
    (they would be missing for the new cells otherwise).
    """
    adata = mdata.mod[mod]
    present = [c for c in _provenance.columns(key) if c in adata.obs]
    if not present or f"{mod}:{present[0]}" in mdata.obs:
        return
    mirrored = [c for c in adata.obs if f"{mod}:{c}" in mdata.obs]
    with warnings.catch_warnings():
        # pull_obs renames columns of a selection copy in place (mudata 0.3.10): pandas warns, nothing is wrong
        warnings.simplefilter("ignore", pd.errors.SettingWithCopyWarning)
        mdata.pull_obs(columns=[*mirrored, *present], mods=[mod])
