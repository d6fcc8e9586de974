"""Safe loading of dataset pickles and checkpoints, and atomic writes.

Dataset annotation pickles (``pyannot.pkl``, ACT ``*-GT.pkl``) are read with a restricted unpickler
that only rebuilds builtin containers/scalars and numpy arrays: a pickle that names any other global
(``os.system``, ``builtins.eval``, ...) is refused before anything runs. Python-2 pickles are decoded
with ``latin1`` (the encoding numpy needs for their array buffers).
"""

from __future__ import annotations

import _compat_pickle
import contextlib
import io
import json
import os
import pickle
import tempfile
from pathlib import Path
from typing import IO, Any, Iterator, Union

from core.errors import DataError

PathLike = Union[str, "os.PathLike[str]"]

# (module, name) pairs a dataset pickle may reference. Everything else is refused.
_ALLOWED_GLOBALS = {
    ("builtins", "dict"),
    ("builtins", "list"),
    ("builtins", "tuple"),
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "str"),
    ("builtins", "bytes"),
    ("builtins", "bytearray"),
    ("builtins", "int"),
    ("builtins", "float"),
    ("builtins", "complex"),
    ("builtins", "bool"),
    ("builtins", "slice"),
    ("builtins", "range"),
    ("collections", "OrderedDict"),
    ("collections", "defaultdict"),
    ("_codecs", "encode"),  # used by protocol-2 pickles of bytes
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
}


class UnsafePickleError(DataError):
    """The pickle references a global outside the allow-list."""


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, file: IO[bytes], path: str):
        super().__init__(file, encoding="latin1")
        self._path = path

    def find_class(self, module: str, name: str) -> Any:
        # Python-2 names (``__builtin__.set``, ``copy_reg``...) are checked under their Python-3 names.
        if (module, name) in _compat_pickle.NAME_MAPPING:
            module, name = _compat_pickle.NAME_MAPPING[(module, name)]
        module = _compat_pickle.IMPORT_MAPPING.get(module, module)
        if (module, name) in _ALLOWED_GLOBALS:
            return super().find_class(module, name)
        raise UnsafePickleError(
            self._path, f"refusing to unpickle global '{module}.{name}' (only builtins and numpy arrays allowed)"
        )


def safe_load_pickle(path: PathLike) -> Any:
    """Load a dataset pickle (builtins and numpy arrays only). Raises DataError on anything else."""
    path = str(path)
    with open(path, "rb") as f:
        data = f.read()
    return safe_loads_pickle(data, path)


def safe_loads_pickle(data: bytes, path: str = "<bytes>") -> Any:
    try:
        return _RestrictedUnpickler(io.BytesIO(data), path).load()
    except DataError:
        raise
    except Exception as e:  # truncated or corrupt stream
        raise DataError(path, f"not a readable pickle ({type(e).__name__}: {e})") from None


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "w", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success fsync and rename it over ``path``.

    A crash mid-write leaves the old file (or no file), never a truncated one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: PathLike, text: str) -> None:
    with atomic_open(path, "w", encoding="utf-8") as f:
        f.write(text)


def atomic_write_bytes(path: PathLike, data: bytes) -> None:
    with atomic_open(path, "wb") as f:
        f.write(data)


def read_text(path: PathLike) -> str:
    """A UTF-8 text file's contents; a file that is not UTF-8 text is a :class:`DataError` naming it."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise DataError(path, f"not a UTF-8 text file (byte {e.start})") from None


def read_json(path: PathLike) -> Any:
    """Parse a JSON file; a file that is not UTF-8 JSON is a :class:`DataError` naming it and the line."""
    path = str(path)
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except json.JSONDecodeError as e:
        raise DataError(path, f"not valid JSON ({e.msg})", f"line {e.lineno}") from None
    except UnicodeDecodeError as e:
        raise DataError(path, f"not a UTF-8 text file (byte {e.start}): expected JSON") from None


def atomic_write_json(path: PathLike, obj: Any, indent: int | None = 2) -> None:
    atomic_write_text(path, json.dumps(obj, indent=indent) + "\n")


def dump_pickle(path: PathLike, obj: Any, protocol: int = 2) -> None:
    """Write a dataset pickle atomically (protocol 2 by default, readable by Python 2 tools too)."""
    with atomic_open(path, "wb") as f:
        pickle.dump(obj, f, protocol=protocol)


def torch_save_atomic(obj: Any, path: PathLike) -> None:
    import torch

    with atomic_open(path, "wb") as f:
        torch.save(obj, f)


def load_weights(path: PathLike, map_location: Any = "cpu") -> Any:
    """``torch.load`` with ``weights_only=True``: tensors, containers and primitive types only."""
    import torch

    path = str(path)
    if not os.path.exists(path):
        raise FileNotFoundError(2, "No such file", path)
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except Exception as e:
        raise DataError(path, f"not a loadable weights-only checkpoint ({type(e).__name__}: {str(e).splitlines()[0]})") from None
