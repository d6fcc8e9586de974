"""What every command line shares: boolean flags, markdown tables, and running one step of a recipe
with its full output in a log file and a live progress line on the console.

Errors on bad input go through :mod:`core.errors` (one line, exit 2).
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, Callable, Mapping, Optional, Sequence, TextIO, Union

__all__ = ["ArgumentParser", "str2bool", "markdown_table", "run_command", "CommandError", "format_duration"]

_TRUE = frozenset(("yes", "true", "t", "y", "1", "on"))
_FALSE = frozenset(("no", "false", "f", "n", "0", "off"))


class ArgumentParser(argparse.ArgumentParser):
    """argparse with one-line usage errors: ``error: <message> (see <prog> --help)`` on stderr, exit 2,
    like every other bad-input error of the project (:mod:`core.errors`)."""

    def error(self, message: str):  # type: ignore[override]
        self.exit(2, f"error: {message} (see {self.prog} --help)\n")


def str2bool(v: Union[str, bool, int]) -> bool:
    """argparse ``type`` for boolean flags written as values (``--batch_norm true``).

    Accepts yes/no, true/false, t/f, y/n, 1/0, on/off in any case; anything else is an
    ``argparse.ArgumentTypeError`` (argparse turns it into a usage error, exit 2), never a silent False.
    """
    if isinstance(v, bool):
        return v
    s = str(v).strip().lower()
    if s in _TRUE:
        return True
    if s in _FALSE:
        return False
    raise argparse.ArgumentTypeError(f"expected a boolean (true/false, yes/no, 1/0), got {v!r}")


def _cell(v: Any, digits: int) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return "-" if v != v else f"{v:.{digits}f}"
    return str(v)


def markdown_table(
    header: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    title: str = "",
    digits: int = 1,
    align: Optional[str] = None,
) -> str:
    """A GitHub markdown table, ending with a newline.

    Cells: str as is, float with ``digits`` decimals (NaN and None as ``-``), anything else ``str()``.
    ``align``: one character per column, ``l`` or ``r``; default left for the first column, right
    for the others (numbers). A ``title`` becomes a paragraph above the table.
    """
    n = len(header)
    align = align or "l" + "r" * (n - 1)
    if len(align) != n:
        raise ValueError(f"align has {len(align)} characters for {n} columns")
    lines = [f"{title}", ""] if title else []
    lines.append("| " + " | ".join(map(str, header)) + " |")
    lines.append("|" + "|".join("---" if a == "l" else "---:" for a in align) + "|")
    for r in rows:
        if len(r) != n:
            raise ValueError(f"row {list(r)!r} has {len(r)} cells for {n} columns")
        lines.append("| " + " | ".join(_cell(v, digits) for v in r) + " |")
    return "\n".join(lines) + "\n"


def format_duration(seconds: float) -> str:
    """``3725`` -> ``1:02:05``; ``65`` -> ``1:05``."""
    s = int(round(max(0.0, seconds)))
    h, rem = divmod(s, 3600)
    m, s = divmod(rem, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


class CommandError(RuntimeError):
    """A recipe step exited non-zero. ``str()`` holds the command, the exit status and the log's tail."""

    def __init__(self, cmd: Sequence[str], returncode: int, log_path: Optional[Path], tail: str):
        self.cmd, self.returncode, self.log_path, self.tail = list(cmd), returncode, log_path, tail
        where = f"; last lines of {log_path}:\n{tail}" if log_path else f":\n{tail}"
        super().__init__(f"{' '.join(self.cmd)} failed (exit {returncode}){where}")


# A line worth showing as progress: a done/total counter, an ETA, a loss, or a tqdm bar.
_PROGRESS = re.compile(r"\b\d+\s*/\s*\d+\b|\beta\b|loss\b|\d+%\|", re.IGNORECASE)
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class _Status:
    """One console line that follows a child's progress: rewritten in place on a terminal, printed at
    most every ``every`` seconds elsewhere (CI logs, ``| tee``)."""

    def __init__(self, stream: TextIO, label: str, every: float):
        self.stream, self.label, self.every = stream, label, every
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.last_print = 0.0
        self.pending = ""
        self.shown = False

    def update(self, line: str) -> None:
        self.pending = line
        now = time.monotonic()
        if self.tty:
            width = max(20, _terminal_width() - 1)
            text = f"{self.label}{line}"[:width]
            self.stream.write("\r" + text.ljust(width))
            self.stream.flush()
            self.shown = True
        elif now - self.last_print >= self.every:
            self.stream.write(f"{self.label}{line}\n")
            self.stream.flush()
            self.last_print = now
            self.pending = ""

    def close(self) -> None:
        if self.tty and self.shown:
            self.stream.write("\n")
        elif self.pending:
            self.stream.write(f"{self.label}{self.pending}\n")
        self.stream.flush()


def _terminal_width() -> int:
    try:
        return os.get_terminal_size(sys.stdout.fileno()).columns
    except (OSError, ValueError):
        return 100


def run_command(
    cmd: Sequence[Union[str, os.PathLike]],
    *,
    log_path: Optional[Union[str, os.PathLike]] = None,
    cwd: Optional[Union[str, os.PathLike]] = None,
    env: Optional[Mapping[str, str]] = None,
    label: str = "",
    echo: bool = True,
    progress_every: float = 20.0,
    is_progress: Callable[[str], bool] = lambda line: bool(_PROGRESS.search(line)),
    stream: Optional[TextIO] = None,
) -> float:
    """Run ``cmd``; return its wall time in seconds; raise :class:`CommandError` if it exits non-zero.

    Every byte the command prints (stdout and stderr) is appended to ``log_path``. On ``stream``
    (default stdout) the command line is echoed once, then its progress lines (``[i/total]``
    counters, ETAs, losses, tqdm bars) are shown as one live status line, and a closing line gives
    the wall time. Without ``log_path`` the command inherits this process's stdout and stderr.
    """
    stream = stream or sys.stdout
    argv = [os.fspath(c) for c in cmd]
    shown = " ".join(Path(a).name if i == 0 and os.sep in a else a for i, a in enumerate(argv))
    if echo:
        stream.write(f"{label}$ {shown}\n")
        stream.flush()
    child_env = dict(os.environ if env is None else env)
    child_env.setdefault("PYTHONUNBUFFERED", "1")
    start = time.monotonic()
    if log_path is None:
        stream.flush()
        proc = subprocess.run(argv, cwd=cwd, env=child_env)
        if proc.returncode:
            raise CommandError(argv, proc.returncode, None, "(output above)")
        return time.monotonic() - start
    log = Path(log_path)
    log.parent.mkdir(parents=True, exist_ok=True)
    status = _Status(stream, label + "  ", progress_every) if echo else None
    tail: list = []
    with open(log, "ab") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=child_env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        assert proc.stdout is not None
        buf = b""
        while True:
            chunk = proc.stdout.read1(65536) if hasattr(proc.stdout, "read1") else proc.stdout.read(65536)
            if not chunk:
                break
            out.write(chunk)
            out.flush()
            buf += chunk
            # tqdm rewrites its bar with \r: treat \r like a line end
            parts = re.split(rb"[\r\n]", buf)
            buf = parts.pop()
            for raw in parts:
                line = _ANSI.sub("", raw.decode("utf-8", "replace")).strip()
                if not line:
                    continue
                tail.append(line)
                del tail[:-15]
                if status is not None and is_progress(line):
                    status.update(line)
        proc.wait()
    if status is not None:
        status.close()
    elapsed = time.monotonic() - start
    if proc.returncode:
        raise CommandError(argv, proc.returncode, log, "\n".join(tail))
    if echo:
        stream.write(f"{label}  done in {format_duration(elapsed)} (log {log})\n")
        stream.flush()
    return elapsed
