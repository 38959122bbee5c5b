"""The API reference (docs/api.md) lists every public name, so that nothing public goes undocumented."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
# The public modules: each name in their __all__ must have an entry (docs/conf.py has the same list).
PUBLIC_MODULES = [
    "scaug",
    "scaug.tl",
    "scaug.pp",
    "scaug.pl",
    "scaug.metrics",
    "scaug.bench",
    "scaug.models",
    "scaug.models.cscgan",
    "scaug.models.scgan",
    "scaug.models.garage",
    "scaug.models.scvi",
    "scaug.models.activa",
    "scaug.datasets",
    "scaug.resample",
]


def _entries() -> list[str]:
    """Full names of the autosummary entries of api.md (its currentmodule is scaug)."""
    entries = []
    for block in re.findall(r"\.\. autosummary::\n((?:   .*\n|\n)*)", API.read_text()):
        entries += [f"scaug.{line.strip()}" for line in block.splitlines() if line.strip()[:1].isalpha()]
    return entries


def _resolve(full: str):
    """The object a dotted name points to (module attributes included)."""
    module_name, _, attr = full.rpartition(".")
    while True:
        try:
            obj = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attr = f"{head}.{attr}"
    for part in attr.split("."):
        obj = getattr(obj, part)  # an AttributeError names a stale entry
    return obj


def test_api_entries_exist():
    assert len(_entries()) > 50
    for full in _entries():
        _resolve(full)


@pytest.mark.parametrize("module_name", PUBLIC_MODULES)
def test_api_lists_every_public_name(module_name):
    documented = [_resolve(full) for full in _entries()]
    module = importlib.import_module(module_name)
    missing = [
        f"{module_name}.{name}"
        for name in module.__all__
        if type(getattr(module, name)).__name__ != "module"  # subpackages are checked on their own
        and not any(getattr(module, name) is obj for obj in documented)  # re-exports count once
    ]
    assert not missing, f"add to docs/api.md: {missing}"
