"""Sphinx configuration (cookiecutter-scverse style): myst-nb pages, autodoc with numpy docstrings."""

from importlib.metadata import version

project = "scaug"
author = "scaug developers"
copyright = "2026, scaug developers"
release = version("scaug")

extensions = [
    "myst_nb",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx_autodoc_typehints",
]
autosummary_generate = True
autodoc_member_order = "bysource"
napoleon_google_docstring = False
napoleon_numpy_docstring = True
myst_enable_extensions = ["colon_fence", "dollarmath"]
nb_execution_mode = "off"  # tutorials are executed by hand; the docs build never downloads data
source_suffix = {".md": "myst-nb", ".ipynb": "myst-nb"}
exclude_patterns = ["_build"]
html_theme = "sphinx_book_theme"
html_title = "scaug"
