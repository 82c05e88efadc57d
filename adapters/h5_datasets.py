"""HDF5 weight files read through h5py from their dataset headers only: names, dims, dtypes, never data.

Shared by the Keras file adapter (a saved model's weights, layer by layer: `adapters.keras_store`)
and the `.weights.h5` checkpoint reader; importing it does not import Keras.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Dataset:
    """One weight as HDF5 stores it: its path in the file, dims, dtype name and size in bytes."""

    path: str
    shape: tuple[int, ...]
    dtype: str
    nbytes: int


def datasets(group: Any) -> list[Dataset]:
    """Every dataset under `group`, in the file's (alphabetical) order, from its header only."""
    import h5py

    found: list[Dataset] = []

    def visit(path: str, item: Any) -> None:
        if isinstance(item, h5py.Dataset):
            found.append(dataset(path, item))

    group.visititems(visit)
    return found


def dataset(path: str, item: Any) -> Dataset:
    """One h5py dataset's header as a `Dataset`; Keras marks bfloat16 (stored opaque) in a `dtype` attribute."""
    shape = tuple(int(d) for d in item.shape)
    dtype = str(item.dtype)
    if item.dtype.kind == "V":
        marked = item.attrs.get("dtype")
        dtype = marked.decode() if isinstance(marked, bytes) else str(marked or dtype)
    return Dataset(path, shape, dtype, int(item.dtype.itemsize) * _numel(shape))


def _numel(shape: tuple[int, ...]) -> int:
    n = 1
    for d in shape:
        n *= d
    return n

