"""Load a saved scaug model without knowing its class."""

from __future__ import annotations

import logging
import os

from .._validation import ScaugInputError

#: Saved model class names and the subpackage of scaug.models that holds each.
_MODELS = {"CSCGAN": "cscgan", "SCGAN": "cscgan", "GARAGE": "garage", "SCVIPPC": "scvi"}


def load_model(dir_path: str, *, accelerator: str = "auto", device: int | str = "auto"):
    """Load a model saved with ``model.save(dir_path)`` (any class in :mod:`scaug.models`).

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
    import importlib

    import torch

    path = os.path.join(dir_path, "model.pt")
    if not os.path.isfile(path):
        raise ScaugInputError(
            f"{dir_path} holds no saved scaug model (no model.pt); save one with `scaug train`"
        )
    saved = torch.load(path, map_location="cpu", weights_only=False)
    name = saved.get("attr_dict", {}).get("registry_", {}).get("model_name")
    if name not in _MODELS:
        raise ScaugInputError(f"{dir_path} holds a {name!r} model, which is not a scaug model")
    cls = getattr(importlib.import_module(f".{_MODELS[name]}", __package__), name)
    # scvi-tools logs "File <dir>/model.pt already downloaded" for every local load: nothing is downloaded.
    download_logger = logging.getLogger("scvi.data._download")
    level = download_logger.level
    download_logger.setLevel(logging.WARNING)
    try:
        return cls.load(dir_path, adata=False, accelerator=accelerator, device=device)
    finally:
        download_logger.setLevel(level)
