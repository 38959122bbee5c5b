"""Sphinx configuration (cookiecutter-scverse layout): myst-nb pages and tutorials, autosummary API pages.

Build: ``make docs`` (``sphinx-build -W --keep-going``). The tutorials under ``tutorials/`` are MyST
notebooks without outputs; they are executed on every build (cached by their code in
``_build/.jupyter_cache``; ``SCAUG_DOCS_EXECUTE=force`` re-runs them all, ``off`` skips them) and a
failing cell fails the build. Nothing is downloaded: no intersphinx, and the tutorials use data
bundled with scanpy (``pbmc68k_reduced``) or simulated by scaug, so they also build without
``../shared/data``.
"""

import os
import sys
from importlib.metadata import version as _version
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "extensions"))
# The tutorials find the repository (R/read_scaug_h5ad.R, benchmarks/) through this variable:
# they run in a temporary directory so that the files they write stay out of the source tree.
os.environ.setdefault("SCAUG_REPO", str(HERE.parent))
# numba (in the highly-variable-gene ranking) sets the OpenMP thread count that torch shares to its own
# (every core), overriding OMP_NUM_THREADS for the trainings that follow; keep the two in step.
if "OMP_NUM_THREADS" in os.environ:
    os.environ.setdefault("NUMBA_NUM_THREADS", os.environ["OMP_NUM_THREADS"])

project = "scaug"
author = "scaug developers"
copyright = "2026, scaug developers"
release = _version("scaug")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",
    "sphinx.ext.mathjax",
    "sphinx_copybutton",
    "typed_returns",  # docs/extensions: Returns sections in prose (scanpy style)
]

templates_path = ["_templates"]
exclude_patterns = ["_build", "jupyter_execute", "**.ipynb_checkpoints", "Thumbs.db", ".DS_Store"]
source_suffix = {".rst": "restructuredtext", ".md": "myst-nb", ".ipynb": "myst-nb"}

# API pages: one page per public function or class, generated into generated/ (not committed)
autosummary_generate = True
autodoc_member_order = "bysource"
autosummary_context = {}  # filled below: "scaug_members", the class template's member lists
autodoc_default_options = {"show-inheritance": False}
napoleon_google_docstring = False
napoleon_numpy_docstring = True
napoleon_include_init_with_doc = False
napoleon_use_rtype = True  # having a separate entry generally helps readability
napoleon_use_param = True
napoleon_use_ivar = True  # class attributes as a field list; the template documents each one once
typehints_defaults = "braces"
always_document_param_types = True

# No intersphinx: the docs build must not reach the network (no inventories are fetched).

# MyST and the executed tutorials
myst_enable_extensions = ["colon_fence", "dollarmath", "amsmath", "deflist"]
myst_heading_anchors = 3
nb_execution_mode = os.environ.get("SCAUG_DOCS_EXECUTE", "cache")
# Seconds per cell, a guard against hangs: compare_methods trains four methods in one cell (a few
# minutes on 2 idle cores; it passed 900 s once when the cores were shared with other jobs).
nb_execution_timeout = 1800
nb_execution_raise_on_error = True  # a broken tutorial fails the build
nb_execution_show_tb = True
nb_execution_in_temp = True  # files a tutorial writes (h5ad, png) go to a temporary directory
nb_merge_streams = True

# HTML
html_theme = "sphinx_book_theme"
html_title = "scaug"
html_static_path = []
html_theme_options = {
    "repository_url": "https://github.com/scverse/scaug",
    "use_repository_button": True,
    "path_to_docs": "docs/",
    "navigation_with_keys": False,
}
html_show_sphinx = False
pygments_style = "default"


def _module_doc_comment(app, what, name, obj, options, lines):
    """Document a re-exported constant by its ``#:`` comment where it is defined.

    autodoc reads ``#:`` comments only in the module a name is documented under (``scaug.metrics``),
    not where it is defined (``scaug.metrics._controls``); without this, ``CONTROLS`` would show
    ``dict``'s docstring.
    """
    from sphinx.pycode import ModuleAnalyzer

    if what not in ("data", "attribute") or getattr(type(obj), "__doc__", None) is None:
        return
    if obj.__doc__ != type(obj).__doc__:
        return  # the object has a docstring of its own
    modname, _, attr = name.rpartition(".")
    package = modname.split(".")[0]
    for module_name, module in list(sys.modules.items()):
        if not module_name.startswith(package + ".") or getattr(module, attr, None) is not obj:
            continue
        try:
            comment = ModuleAnalyzer.for_module(module_name).find_attr_docs().get(("", attr))
        except Exception:  # a module without source: try the next
            continue
        if comment:
            lines[:] = list(comment)
            return
    lines[:] = []


def scaug_members(fullname: str, kind: str) -> list[str]:
    """Public methods (``kind="methods"``) or properties (``"attributes"``) a class gets from scaug.

    Members inherited from scaug's own base classes are listed (``CSCGAN.train`` comes from
    ``GANModelBase``); those of scvi-tools, Lightning or torch are not (they are documented there).
    """
    import importlib
    import inspect

    module_name, _, attr = fullname.rpartition(".")
    while True:
        try:
            owner = importlib.import_module(module_name)
            break
        except ImportError:
            module_name, _, head = module_name.rpartition(".")
            attr = f"{head}.{attr}"
    cls = owner
    for part in attr.split("."):
        cls = getattr(cls, part)
    names = []
    for name in dir(cls):
        if name.startswith("_"):
            continue
        defining = next((k for k in cls.__mro__ if name in vars(k)), None)
        if defining is None or not defining.__module__.startswith("scaug"):
            continue
        raw = vars(defining)[name]
        is_method = inspect.isfunction(raw) or isinstance(raw, classmethod | staticmethod)
        is_property = isinstance(raw, property) or type(raw).__name__ == "cached_property"
        if (kind == "methods" and is_method) or (kind == "attributes" and is_property):
            names.append(name)
    return names


#: Public modules; each name in their ``__all__`` has an API page (tests/test_docs.py checks api.md).
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


def _class_members() -> dict[str, dict[str, list[str]]]:
    """``{"scaug.models.CSCGAN": {"methods": [...], "attributes": [...]}, ...}`` for every public class."""
    import importlib
    import inspect

    table = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in getattr(module, "__all__", []):
            obj = getattr(module, name)
            if inspect.isclass(obj):
                table[f"{module_name}.{name}"] = {
                    kind: scaug_members(f"{module_name}.{name}", kind) for kind in ("methods", "attributes")
                }
    return table


autosummary_context["scaug_members"] = _class_members()


def setup(app):
    app.connect("autodoc-process-docstring", _module_doc_comment)
