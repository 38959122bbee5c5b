"""Load a saved scaug model without knowing its class."""

from __future__ import annotations

import importlib

from .._validation import ScaugInputError
from ._files import read_model_file

#: Saved model class names and the subpackage of scaug.models that holds each.
_MODELS = {
    "ACTIVA": "activa",
    "CSCGAN": "cscgan",
    "SCGAN": "scgan",
    "GARAGE": "garage",
    "SCVIPPC": "scvi",
    "SCVILatent": "scvi",
    "StudyGAN": "study",
    "StudyVAE": "study",
}


def load_model(dir_path: str, *, accelerator: str = "auto", device: int | str = "auto"):
    """Load a model saved with ``model.save(dir_path)`` (any class in :mod:`scaug.models`).

    Model files hold tensors and plain values only and are read with torch's restricted unpickler
    (``weights_only=True``), so loading a model someone sent you cannot run code.

    Parameters
    ----------
    dir_path
        Directory written by ``save``.
    accelerator, device
        Where to put the model (``"auto"``: a GPU when there is one).

    Returns
    -------
    The trained model, ready to ``sample`` (no AnnData needed).

    Examples
    --------
    >>> import scaug
    >>> adata = scaug.datasets.simulate(200, 30, 2, random_state=0)
    >>> model = scaug.tl.train_generator(
    ...     adata, "cscgan", labels_key="cell_type", max_epochs=1, train_kwargs={"enable_progress_bar": False}
    ... )
    >>> import tempfile
    >>> path = tempfile.mkdtemp()
    >>> model.save(path, overwrite=True)
    >>> loaded = scaug.models.load_model(path)
    >>> loaded.method
    'cscgan'
    """
    saved = read_model_file(dir_path)
    name = saved["attr_dict"].get("registry_", {}).get("model_name")
    if name not in _MODELS:
        raise ScaugInputError(f"{dir_path} holds a {name!r} model, which is not a scaug model")
    cls = getattr(importlib.import_module(f".{_MODELS[name]}", __package__), name)
    return cls._from_saved(saved, dir_path, False, accelerator, device)
