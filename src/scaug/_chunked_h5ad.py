"""An .h5ad file written block by block of cells, so that memory does not grow with the number of cells.

Built on anndata's on-disk elements: each matrix is a CSR dataset that blocks of rows are appended
to (``anndata.io.sparse_dataset(...).append``); ``obs``, ``var`` and ``uns`` are written once the
last block is in. The result reads with ``anndata.read_h5ad`` (also ``backed="r"``) like any file
written by ``AnnData.write_h5ad``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import h5py
import numpy as np
from anndata.io import sparse_dataset, write_elem
from scipy import sparse

from ._validation import ScaugInputError

if TYPE_CHECKING:
    from collections.abc import Mapping

    import pandas as pd


CHUNK_ENTRIES = 2**18


class ChunkedH5AD:
    """Write an .h5ad file block by block of cells: CSR rows of ``X`` and layers, then the annotations.

    Use as a context manager: the file is complete after :meth:`finish`; if anything fails before,
    the partial file is removed (a half-written file must not pass for a result).

    Parameters
    ----------
    path
        The ``.h5ad`` file to write (replaced if it exists).
    n_vars
        Number of genes (columns of every matrix).
    layers
        Names of the layers written besides ``X``.
    dtype
        Data type of the stored values.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd, tempfile
    >>> from scipy import sparse
    >>> path = tempfile.mkdtemp() + "/cells.h5ad"
    >>> with ChunkedH5AD(path, n_vars=3) as out:
    ...     for start in (0, 2):
    ...         out.append({None: sparse.csr_matrix(np.full((2, 3), start, dtype=np.float32))})
    ...     out.finish(obs=pd.DataFrame(index=list("abcd")), var=pd.DataFrame(index=list("xyz")))
    >>> ad.read_h5ad(path).X.toarray()[:, 0].tolist()
    [0.0, 0.0, 2.0, 2.0]
    """

    def __init__(self, path: str | Path, *, n_vars: int, layers: tuple[str, ...] = (), dtype=np.float32):
        self.path = Path(path)
        if self.path.suffix != ".h5ad":
            raise ScaugInputError(f"out={str(path)!r}: expected an .h5ad file name")
        if not self.path.parent.is_dir():
            raise ScaugInputError(f"out={str(path)!r}: directory {str(self.path.parent)!r} does not exist")
        self.n_vars, self.dtype, self.n_obs = int(n_vars), dtype, 0
        self.file = h5py.File(self.path, "w")
        # 64-bit row pointers (a large file passes 2**31 entries) and chunks of 2**18 entries: an empty
        # dataset's automatic chunks are tiny (1 entry for the row pointers), and millions of chunks
        # make reading the file slow and its chunk index large
        storage = {"chunks": (CHUNK_ENTRIES,)}
        self.file.create_group("layers")
        self.file["layers"].attrs.update({"encoding-type": "dict", "encoding-version": "0.1.0"})
        groups = {None: self.file, **{name: self.file["layers"] for name in layers}}
        for name, parent in groups.items():
            key = "X" if name is None else name
            write_elem(parent, key, sparse.csr_matrix((0, self.n_vars), dtype=dtype), dataset_kwargs=storage)
            # scipy stores the empty matrix's row pointers as int32: replaced by int64 ones
            del parent[key]["indptr"]
            parent[key].create_dataset("indptr", data=np.zeros(1, np.int64), maxshape=(None,), **storage)
        self.matrices = {None: sparse_dataset(self.file["X"])}
        self.matrices.update({name: sparse_dataset(self.file["layers"][name]) for name in layers})
        self.finished = False

    def append(self, blocks: Mapping[str | None, sparse.spmatrix]) -> None:
        """Append the same cells' rows to ``X`` (key ``None``) and to every layer."""
        if set(blocks) != set(self.matrices):
            raise ValueError(
                f"blocks for {sorted(map(str, blocks))}, expected {sorted(map(str, self.matrices))}"
            )
        n_rows = {block.shape[0] for block in blocks.values()}
        if len(n_rows) != 1:
            raise ValueError(f"blocks of different numbers of rows: {sorted(n_rows)}")
        for name, block in blocks.items():
            self.matrices[name].append(sparse.csr_matrix(block, dtype=self.dtype))
        self.n_obs += n_rows.pop()

    def finish(
        self,
        *,
        obs: pd.DataFrame,
        var: pd.DataFrame,
        uns: Mapping | None = None,
        varm: Mapping[str, np.ndarray] | None = None,
    ) -> None:
        """Write the annotations (``obs`` has a row per appended cell) and close the file."""
        if len(obs) != self.n_obs or len(var) != self.n_vars:
            raise ValueError(
                f"obs x var is {len(obs)} x {len(var)}, the matrices {self.n_obs} x {self.n_vars}"
            )
        write_elem(self.file, "obs", obs)
        write_elem(self.file, "var", var)
        write_elem(self.file, "uns", dict(uns or {}))
        write_elem(self.file, "varm", dict(varm or {}))
        for name in ("obsm", "obsp", "varp"):
            write_elem(self.file, name, {})
        # what anndata's own writer marks an h5ad file with
        self.file.attrs["encoding-type"] = "anndata"
        self.file.attrs["encoding-version"] = "0.1.0"
        self.file.close()
        self.finished = True

    def __enter__(self) -> ChunkedH5AD:
        return self

    def __exit__(self, *exc) -> None:
        if not self.finished:
            self.file.close()
            self.path.unlink(missing_ok=True)
