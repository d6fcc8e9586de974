"""One error type for bad input files, and the CLI wrapper that turns it into one line and exit 2."""

from __future__ import annotations

import functools
import sys
from typing import Callable, Optional, TypeVar

F = TypeVar("F", bound=Callable[..., object])


class DataError(ValueError):
    """Bad input data. The message names the file, the row or key, and what was expected.

    ``DataError(message)`` with one argument rebuilds an error from its message alone, which is how
    torch's DataLoader re-raises an error from a worker process: the worker's traceback is dropped and
    the original one-line message kept.
    """

    def __init__(self, path: object, what: Optional[str] = None, row: Optional[object] = None):
        if what is None:
            message = str(path).rstrip()
            if "Traceback" in message:  # "Caught DataError in DataLoader worker process 0. ... DataError: msg"
                message = message.splitlines()[-1].split("DataError: ", 1)[-1]
            self.path, self.row, self.what = message.split(": ", 1)[0], None, message
            super().__init__(message)
            return
        self.path = str(path)
        self.row = row
        self.what = what
        where = self.path if row is None else f"{self.path}: {row}"
        super().__init__(f"{where}: {what}")

    def __reduce__(self):  # keep it picklable, so it crosses process-pool boundaries intact
        if self.what == str(self):
            return (type(self), (str(self),))
        return (type(self), (self.path, self.what, self.row))


def cli_errors(main: F) -> F:
    """Decorate a CLI ``main``: a DataError, a missing file or a bad value prints ``error: ...``
    on one line to stderr and exits with status 2 instead of a traceback."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except DataError as e:
            print(f"error: {e}", file=sys.stderr)
            sys.exit(2)
        except FileNotFoundError as e:
            name = e.filename if e.filename is not None else str(e)
            print(f"error: {name}: file not found", file=sys.stderr)
            sys.exit(2)
        except KeyboardInterrupt:
            print("interrupted", file=sys.stderr)
            sys.exit(130)

    return wrapper  # type: ignore[return-value]
