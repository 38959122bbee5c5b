"""Docstring fragments the plotting functions share, and the decorator that puts them in place."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import TypeVar

F = TypeVar("F", bound=Callable)

doc_adata = """\
adata
    AnnData (or MuData, with ``mod``) with results of :func:`scaug.tl.fidelity`."""

doc_key_run = """\
key
    ``uns`` key of the results.
run
    Run to plot (default: the first evaluated run)."""

doc_results = f"{doc_adata}\n{doc_key_run}"

doc_mod = """\
mod
    With a MuData (required then): the modality :func:`scaug.tl.fidelity` evaluated."""

doc_show_save = """\
show, save
    As in scanpy: show the figure; save it (``True``, a file-name suffix, or a path)."""

doc_ax_show_save = """\
ax, show, save
    As in scanpy: axes to draw into (default: a new figure); show the figure; save it (``True``,
    a file-name suffix, or a path)."""

doc_returns_axes = """\
Returns
-------
The axes if ``show`` is ``False``."""

# a whole line, so that braces elsewhere in a docstring (dicts in examples, set notation) stay as written
_PLACEHOLDER = re.compile(r"^([ \t]*)\{([A-Za-z_]\w*)\}[ \t]*$", re.MULTILINE)


def doc_params(**fragments: str) -> Callable[[F], F]:
    r"""Replace each docstring line that is only ``{name}`` by the fragment ``name``, indented as that line.

    Unlike ``str.format`` on the whole docstring (scanpy's ``_doc_params``), other braces are left alone.

    Parameters
    ----------
    **fragments
        Docstring text without indentation, by the name its placeholder line uses.

    Returns
    -------
    A decorator that rewrites the ``__doc__`` of the object it decorates and returns the object.

    Raises
    ------
    KeyError
        A placeholder names no fragment (a typo would otherwise stand in the rendered help).

    Examples
    --------
    >>> import inspect
    >>> @doc_params(doc_key="key\n    ``uns`` key of the results.")
    ... def f(key):
    ...     '''Do f with {key: value} pairs.
    ...
    ...     {doc_key}
    ...     '''
    >>> print(inspect.getdoc(f))
    Do f with {key: value} pairs.
    <BLANKLINE>
    key
        ``uns`` key of the results.
    """

    def fill(match: re.Match) -> str:
        indent, name = match.groups()
        if name not in fragments:
            raise KeyError(f"docstring placeholder {{{name}}} names no fragment; given: {sorted(fragments)}")
        # blank fragment lines stay empty: indenting them would leave trailing white space in the help
        return "\n".join(indent + line if line.strip() else "" for line in fragments[name].splitlines())

    def decorate(obj: F) -> F:
        if obj.__doc__ is not None:  # None under ``python -OO``
            obj.__doc__ = _PLACEHOLDER.sub(fill, obj.__doc__)
        return obj

    return decorate
