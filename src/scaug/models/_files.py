"""Model files that load with ``torch.load(weights_only=True)``: tensors and plain Python only.

scvi-tools pickles a model's attributes (numpy arrays, pandas frames, fitted estimators) into
``model.pt``, so loading a file runs whatever code its pickle names. scaug's models save their
attributes encoded as tensors, strings, numbers, lists and dicts instead (:func:`encode`), and
read them back with torch's restricted unpickler (:func:`read_model_file`), so a model file from
someone else cannot execute code. Files in scvi-tools' pickled format (including those of scaug's
pre-release versions) are refused.
"""

from __future__ import annotations

import os
import pickle
from typing import Any

import numpy as np
import pandas as pd

from .._validation import ScaugInputError

#: Marks a model file written by :class:`SafeFileMixin` (the version of its layout).
FORMAT = "scaug-safe-1"
MODEL_FILE = "model.pt"
ADATA_FILE = "adata.h5ad"
_TAG = "__scaug__"


def encode(obj: Any, where: str = "model") -> Any:
    """Encode ``obj`` into what ``torch.load(weights_only=True)`` reads: tensors, str, numbers, lists, dicts.

    numpy arrays, numpy scalars, tuples and pandas ``Index``/``Series``/``DataFrame`` become tagged
    dicts that :func:`decode` turns back into equal objects (same dtypes). Anything else is refused,
    so an unsafe object can never be written by accident.

    Examples
    --------
    >>> import numpy as np, pandas as pd
    >>> s = pd.Series([1.5, 2.0], index=["a", "b"], name="x")
    >>> pd.testing.assert_series_equal(decode(encode(s)), s)
    >>> decode(encode((np.arange(3), "y")))
    (array([0, 1, 2]), 'y')
    """
    import torch

    # Before the built-in types: numpy's str_ and float64 subclass them but pickle as numpy objects.
    if isinstance(obj, np.generic):
        return obj.item()
    if obj is None or isinstance(obj, bool | int | float | str):
        return obj
    if isinstance(obj, torch.Tensor):
        return obj.detach().cpu()
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "bif" or obj.dtype in (np.uint8, np.uint16):
            data = torch.from_numpy(obj.copy(order="C"))  # a copy: the array may be read-only
        elif obj.dtype.kind in "uUO":
            data = [encode(v, where) for v in obj.ravel().tolist()]
        else:
            raise TypeError(f"{where}: cannot store a numpy array of dtype {obj.dtype} in a safe model file")
        return {_TAG: "ndarray", "dtype": obj.dtype.str, "shape": list(obj.shape), "data": data}
    if isinstance(obj, tuple):
        return {_TAG: "tuple", "data": [encode(v, where) for v in obj]}
    if isinstance(obj, list):
        return [encode(v, where) for v in obj]
    if isinstance(obj, dict):
        bad = [k for k in obj if not isinstance(k, str)]
        if bad:
            raise TypeError(f"{where}: cannot store the non-string key {bad[0]!r} in a safe model file")
        if _TAG in obj:
            raise TypeError(f"{where}: the key {_TAG!r} is reserved")
        # str(): numpy's str_ keys (labels) would pickle as numpy objects.
        return {str(k): encode(v, f"{where}.{k}") for k, v in obj.items()}
    if isinstance(obj, pd.RangeIndex):
        return {_TAG: "range", "name": encode(obj.name, where), "data": [obj.start, obj.stop, obj.step]}
    if isinstance(obj, pd.Index) and not isinstance(obj, pd.MultiIndex):
        return {_TAG: "index", "name": encode(obj.name, where), "data": _encode_values(obj, where)}
    if isinstance(obj, pd.Series):
        return {
            _TAG: "series",
            "name": encode(obj.name, where),
            "index": encode(obj.index, where),
            "data": _encode_values(obj, where),
        }
    if isinstance(obj, pd.DataFrame):
        return {
            _TAG: "dataframe",
            "index": encode(obj.index, where),
            "columns": encode(obj.columns, where),
            "data": [_encode_values(obj.iloc[:, i], f"{where}[{c!r}]") for i, c in enumerate(obj.columns)],
        }
    raise TypeError(
        f"{where}: cannot store a {type(obj).__module__}.{type(obj).__name__} in a safe model file"
    )


def _encode_values(values: pd.Index | pd.Series, where: str) -> dict:
    """The values of a pandas object; categoricals as codes and categories."""
    values = pd.Index(values)
    if isinstance(values, pd.CategoricalIndex):
        return {
            _TAG: "categorical",
            "codes": encode(np.asarray(values.codes), where),
            "categories": encode(values.categories, where),
            "ordered": bool(values.ordered),
        }
    return encode(values.to_numpy(), where)


def decode(obj: Any) -> Any:
    """Invert :func:`encode`."""
    import torch

    if isinstance(obj, list):
        return [decode(v) for v in obj]
    if not isinstance(obj, dict):
        return obj
    kind = obj.get(_TAG)
    if kind is None:
        return {k: decode(v) for k, v in obj.items()}
    if kind == "ndarray":
        dtype = np.dtype(obj["dtype"])
        data = obj["data"]
        values = data.numpy() if isinstance(data, torch.Tensor) else decode(data)
        if dtype.kind == "O":
            out = np.empty(len(values), dtype=object)
            out[:] = values
        else:
            out = np.asarray(values, dtype=dtype)
        return out.reshape(obj["shape"])
    if kind == "tuple":
        return tuple(decode(v) for v in obj["data"])
    if kind == "categorical":
        return pd.Categorical.from_codes(
            decode(obj["codes"]), decode(obj["categories"]), ordered=obj["ordered"]
        )
    if kind == "range":
        return pd.RangeIndex(*obj["data"], name=obj["name"])
    if kind == "index":
        return pd.Index(decode(obj["data"]), name=obj["name"])
    if kind == "series":
        return pd.Series(decode(obj["data"]), index=decode(obj["index"]), name=obj["name"])
    if kind == "dataframe":
        columns = decode(obj["columns"])
        data = dict(zip(range(len(columns)), (decode(c) for c in obj["data"]), strict=True))
        frame = pd.DataFrame(data, index=decode(obj["index"]))
        frame.columns = columns
        return frame
    raise ScaugInputError(f"unknown entry {kind!r} in a model file: written by a newer scaug?")


def read_model_file(dir_path: str) -> dict:
    """Read ``model.pt`` of a saved model with torch's restricted unpickler; decoded, on the CPU.

    Parameters
    ----------
    dir_path
        Directory written by a model's ``save``.

    Returns
    -------
    ``{"model_state_dict", "var_names", "attr_dict"}`` as scvi-tools' own loader returns them.
    """
    import torch

    path = os.path.join(dir_path, MODEL_FILE)
    if not os.path.isfile(path):
        raise ScaugInputError(
            f"{dir_path} holds no saved scaug model (no {MODEL_FILE}); save one with `scaug train`"
        )
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError:
        raise ScaugInputError(
            f"{path} holds pickled Python objects, which would run code when loaded (a file of plain "
            "scvi-tools or of a pre-release scaug): scaug does not load it; train and save the model again"
        ) from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ScaugInputError(f"{path} is not a scaug model file")
    return {
        "model_state_dict": saved["model_state_dict"],
        "var_names": decode(saved["var_names"]),
        "attr_dict": decode(saved["attr_dict"]),
    }


class SafeFileMixin:
    """``save``/``load`` for scvi-tools models with :func:`read_model_file`'s safe format.

    Same directory layout and behaviour as :meth:`scvi.model.base.BaseModelClass.save`/``load``
    (``model.pt``, optionally ``adata.h5ad``); the attributes that end in ``_`` must be encodable
    by :func:`encode`.
    """

    def save(self, dir_path: str, *, overwrite: bool = False, save_anndata: bool = False) -> None:
        """Write the weights and settings to ``dir_path/model.pt`` (and the AnnData if asked).

        Parameters
        ----------
        dir_path
            Directory to write.
        overwrite
            Replace an existing directory.
        save_anndata
            Also write the registered AnnData as ``adata.h5ad``.
        """
        import torch

        if os.path.exists(dir_path) and not overwrite:
            raise ScaugInputError(f"{dir_path} already exists; pass overwrite=True to replace it")
        os.makedirs(dir_path, exist_ok=True)
        attributes = {name: value for name, value in self._get_user_attributes() if name.endswith("_")}
        saved = {
            "format": FORMAT,
            "model_state_dict": self.module.state_dict(),
            # The registered AnnData's genes (load checks a given AnnData against them).
            "var_names": encode(
                np.asarray(self.var_names_ if self.adata is None else self.adata.var_names, dtype=str)
            ),
            "attr_dict": encode(attributes, type(self).__name__),
        }
        if save_anndata:
            self.adata.write_h5ad(os.path.join(dir_path, ADATA_FILE))
        torch.save(saved, os.path.join(dir_path, MODEL_FILE))

    @classmethod
    def load(
        cls,
        dir_path: str,
        adata=None,
        accelerator: str = "auto",
        device: int | str = "auto",
    ):
        """Load a model written by :meth:`save`.

        Parameters
        ----------
        dir_path
            Directory written by :meth:`save`.
        adata
            AnnData with the training genes, to continue training or to sample what needs the
            cells; ``None``: the saved ``adata.h5ad`` when there is one; ``False``: no data.
        accelerator, device
            Where to put the model (``"auto"``: a GPU when there is one).

        Returns
        -------
        The trained model.
        """
        return cls._from_saved(read_model_file(dir_path), dir_path, adata, accelerator, device)

    @classmethod
    def _from_saved(cls, saved: dict, dir_path: str, adata, accelerator: str, device: int | str):
        """The model held by ``saved`` (what :func:`read_model_file` read from ``dir_path``)."""
        import anndata
        from scvi.model._utils import parse_device_args

        _, _, torch_device = parse_device_args(
            accelerator=accelerator, devices=device, return_device="torch", validate_single_device=True
        )
        attr_dict = dict(saved["attr_dict"])
        registry = attr_dict.pop("registry_")
        if registry.get("model_name") != cls.__name__:
            raise ScaugInputError(
                f"{dir_path} holds a {registry.get('model_name')!r} model, not a {cls.__name__}"
            )
        if adata is None:
            path = os.path.join(dir_path, ADATA_FILE)
            adata = anndata.read_h5ad(path) if os.path.isfile(path) else False
        if adata is not False:
            saved_genes = np.asarray(saved["var_names"]).astype(str)
            if not np.array_equal(adata.var_names.to_numpy().astype(str), saved_genes):
                raise ScaugInputError(
                    f"adata's genes differ from the {len(saved_genes)} genes the model was trained on"
                )
            cls.setup_anndata(adata, source_registry=registry, **registry["setup_args"])
        init_params = attr_dict.pop("init_params_")
        kwargs = {k: v for group in init_params["kwargs"].values() for k, v in group.items()}
        model = cls(
            adata if adata is not False else None, registry=registry, **init_params["non_kwargs"], **kwargs
        )
        for name, value in attr_dict.items():
            setattr(model, name, value)
        model.module.on_load(model)
        model.module.load_state_dict(saved["model_state_dict"])
        model.to_device(torch_device)
        model.module.eval()
        if adata is not False:
            model._validate_anndata(adata)
        return model
