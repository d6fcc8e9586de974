"""Metric logging: console lines with ETA and smoothed values (or a tqdm bar), one JSON line per log
step in ``log.txt``, and scalars to tensorboardX (``tensorboard/``) or, optionally, visdom.

The shape is torchvision's ``references/*/utils.py`` ``MetricLogger`` / ``SmoothedValue``::

    logger = make_metric_logger(output_dir, args.logger, resume_step=start_iter)
    logger.add_meter("lr", SmoothedValue(window_size=1, fmt="{value:.6f}"))
    for it, epoch, (x, y) in logger.log_every(resume_batches(loader, start, max_iters), print_freq=20,
                                               header="train", total=max_iters - start, start_step=start):
        ...
        logger.update(loss=loss, lr=optimizer.param_groups[0]["lr"])

Only the main process prints and writes. visdom is imported lazily and is never fatal: when it is
not installed or its server is down, the first failure warns once and visdom logging stops.
"""

from __future__ import annotations

import datetime
import json
import math
import os
import sys
import time
import warnings
from collections import defaultdict, deque
from pathlib import Path
from typing import Any, Dict, Iterable, Iterator, List, Optional, TextIO, TypeVar

import torch

from core.io import atomic_open
from core.train.args import LOGGER_CHOICES
from core.train.distributed import all_reduce_sum, is_dist_avail_and_initialized, is_main_process

__all__ = [
    "LoggerBackendWarning",
    "SmoothedValue",
    "ScalarWriter",
    "JsonLinesWriter",
    "TensorboardWriter",
    "VisdomWriter",
    "MetricLogger",
    "make_writers",
    "make_metric_logger",
    "read_log",
]

T = TypeVar("T")


class LoggerBackendWarning(UserWarning):
    """An optional logging backend (tensorboardX, visdom) is unavailable; logging goes on without it."""


class SmoothedValue:
    """A series of values with a sliding-window median/average and the global average."""

    def __init__(self, window_size: int = 20, fmt: Optional[str] = None):
        self.deque: deque = deque(maxlen=window_size)
        self.total = 0.0
        self.count = 0
        self.fmt = fmt or "{median:.4f} ({global_avg:.4f})"

    def update(self, value: float, n: int = 1) -> None:
        self.deque.append(float(value))
        self.count += n
        self.total += float(value) * n

    def synchronize_between_processes(self) -> None:
        """Sum ``count`` and ``total`` over ranks (the window stays local)."""
        if not is_dist_avail_and_initialized():
            return
        self.count, self.total = all_reduce_sum([float(self.count), self.total])
        self.count = int(self.count)

    @property
    def median(self) -> float:
        return float(torch.tensor(list(self.deque)).median().item()) if self.deque else math.nan

    @property
    def avg(self) -> float:
        return sum(self.deque) / len(self.deque) if self.deque else math.nan

    @property
    def global_avg(self) -> float:
        return self.total / self.count if self.count else math.nan

    @property
    def max(self) -> float:
        return max(self.deque) if self.deque else math.nan

    @property
    def value(self) -> float:
        return self.deque[-1] if self.deque else math.nan

    def __str__(self) -> str:
        return self.fmt.format(
            median=self.median, avg=self.avg, global_avg=self.global_avg, max=self.max, value=self.value
        )


class ScalarWriter:
    """Receives ``{name: value}`` at a global step."""

    def write(self, step: int, scalars: Dict[str, float]) -> None:
        raise NotImplementedError

    def close(self) -> None:
        pass


def _json_number(v: float) -> Optional[float]:
    return v if math.isfinite(v) else None


class JsonLinesWriter(ScalarWriter):
    """Appends ``{"step": step, **scalars}`` as one line to ``path`` (``log.txt``).

    Each line is one ``write`` of a complete line followed by a flush, so a crash can lose at most
    the last line (which :func:`read_log` skips). With ``resume_step=k`` the existing file is
    first rewritten atomically without the lines of steps after ``k``, which the interrupted run
    logged past its last checkpoint and the resumed run will log again.
    """

    def __init__(self, path: os.PathLike | str, resume_step: Optional[int] = None):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if resume_step is not None and self.path.exists():
            keep = [r for r in read_log(self.path) if not (isinstance(r.get("step"), int) and r["step"] > resume_step)]
            with atomic_open(self.path, "w", encoding="utf-8") as f:
                for r in keep:
                    f.write(json.dumps(r) + "\n")

    def write(self, step: int, scalars: Dict[str, float]) -> None:
        record: Dict[str, Any] = {"step": int(step)}
        for k, v in scalars.items():
            record[k] = _json_number(float(v)) if isinstance(v, (int, float)) else v
        line = json.dumps(record) + "\n"
        with open(self.path, "a", encoding="utf-8") as f:
            f.write(line)
            f.flush()


def read_log(path: os.PathLike | str) -> List[Dict[str, Any]]:
    """The records of a ``log.txt``; a truncated or corrupt line (a crash mid-write) is skipped."""
    records = []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line:
                continue
            try:
                rec = json.loads(line)
            except json.JSONDecodeError:
                continue
            if isinstance(rec, dict):
                records.append(rec)
    return records


class TensorboardWriter(ScalarWriter):
    """tensorboardX ``SummaryWriter`` on ``logdir``; on resume, events after ``resume_step`` are
    purged. If tensorboardX cannot be imported, warns once and does nothing."""

    def __init__(self, logdir: os.PathLike | str, resume_step: Optional[int] = None):
        self.writer = None
        try:
            from tensorboardX import SummaryWriter
        except ImportError as e:
            warnings.warn(f"tensorboardX unavailable ({e}); not writing tensorboard events", LoggerBackendWarning,
                          stacklevel=2)
            return
        purge = None if resume_step is None else int(resume_step) + 1
        self.writer = SummaryWriter(str(logdir), purge_step=purge)

    def write(self, step: int, scalars: Dict[str, float]) -> None:
        if self.writer is None:
            return
        for k, v in scalars.items():
            if isinstance(v, (int, float)) and math.isfinite(v):
                self.writer.add_scalar(k, v, int(step))
        self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.writer = None


class VisdomWriter(ScalarWriter):
    """One visdom line plot per scalar. Never fatal: if ``visdom`` is not installed, the server does
    not answer, or a later call fails, it warns once and turns itself off."""

    def __init__(self, server: str = "http://localhost", port: int = 8097, env: str = "main"):
        self.viz: Any = None
        self._windows: set = set()
        self._warned = False
        try:
            import visdom  # optional dependency
        except ImportError as e:
            self._disable(f"visdom is not installed ({e})")
            return
        try:
            viz = visdom.Visdom(server=server, port=port, env=env or "main", raise_exceptions=True,
                                use_incoming_socket=False)
            if hasattr(viz, "check_connection") and not viz.check_connection():
                raise ConnectionError("no answer")
        except Exception as e:  # any failure to reach the server
            self._disable(f"visdom server {server}:{port} unreachable ({type(e).__name__}: {e})")
            return
        self.viz = viz

    def _disable(self, why: str) -> None:
        self.viz = None
        if not self._warned:
            self._warned = True
            warnings.warn(f"{why}; continuing without visdom", LoggerBackendWarning, stacklevel=3)

    def write(self, step: int, scalars: Dict[str, float]) -> None:
        if self.viz is None:
            return
        try:
            import numpy as np

            for k, v in scalars.items():
                if not (isinstance(v, (int, float)) and math.isfinite(v)):
                    continue
                self.viz.line(
                    X=np.array([step]), Y=np.array([v]), win=k, opts={"title": k},
                    update="append" if k in self._windows else None,
                )
                self._windows.add(k)
        except Exception as e:  # server went away mid-run
            self._disable(f"visdom call failed ({type(e).__name__}: {e})")


def make_writers(
    output_dir: Optional[os.PathLike | str],
    backend: str = "tensorboard",
    *,
    resume_step: Optional[int] = None,
    log_name: str = "log.txt",
    visdom_server: str = "http://localhost",
    visdom_port: int = 8097,
    visdom_env: str = "",
) -> List[ScalarWriter]:
    """The writers of the main process: ``log.txt`` (always, when ``output_dir`` is given) plus
    ``tensorboard/`` or visdom per ``backend`` (``tensorboard|visdom|none``). Other ranks: none."""
    if backend not in LOGGER_CHOICES:
        raise ValueError(f"unknown logger {backend!r} (choose from {', '.join(LOGGER_CHOICES)})")
    if not is_main_process():
        return []
    writers: List[ScalarWriter] = []
    if output_dir is not None:
        writers.append(JsonLinesWriter(Path(output_dir) / log_name, resume_step=resume_step))
    if backend == "tensorboard" and output_dir is not None:
        writers.append(TensorboardWriter(Path(output_dir) / "tensorboard", resume_step=resume_step))
    elif backend == "visdom":
        env = visdom_env or (Path(output_dir).name if output_dir is not None else "main")
        writers.append(VisdomWriter(visdom_server, visdom_port, env))
    return writers


class MetricLogger:
    """Named :class:`SmoothedValue` meters, printed and written every ``print_freq`` steps.

    ``stream`` receives console lines (main process only; ``None`` silences them). With
    ``use_tqdm`` a progress bar replaces the console lines (meters shown as its postfix).
    Scalars written per log step: every meter's window average, plus ``time`` / ``data`` (seconds
    per iteration / waiting for data), ``eta_seconds`` and any ``extra`` given to
    :meth:`log_every`.
    """

    def __init__(
        self,
        writers: Optional[List[ScalarWriter]] = None,
        delimiter: str = "  ",
        use_tqdm: bool = False,
        stream: Optional[TextIO] = sys.stdout,
        window_size: int = 20,
    ):
        self.meters: Dict[str, SmoothedValue] = defaultdict(lambda: SmoothedValue(window_size))
        self.writers = list(writers or [])
        self.delimiter = delimiter
        self.use_tqdm = use_tqdm
        self.main = is_main_process()
        self.stream = stream if self.main else None

    def update(self, **kwargs: Any) -> None:
        """Add one value per named meter (tensors via ``.item()``; ``None`` ignored)."""
        for k, v in kwargs.items():
            if v is None:
                continue
            if isinstance(v, torch.Tensor):
                v = v.item()
            if not isinstance(v, (int, float)):
                raise TypeError(f"meter {k!r}: expected a number or a one-element tensor, got {type(v).__name__}")
            self.meters[k].update(float(v))

    def add_meter(self, name: str, meter: SmoothedValue) -> None:
        self.meters[name] = meter

    def __getattr__(self, attr: str) -> SmoothedValue:
        meters = self.__dict__.get("meters")
        if meters is not None and attr in meters:
            return meters[attr]
        raise AttributeError(f"{type(self).__name__} has no attribute or meter {attr!r}")

    def __str__(self) -> str:
        return self.delimiter.join(f"{name}: {meter}" for name, meter in self.meters.items())

    def synchronize_between_processes(self) -> None:
        for meter in self.meters.values():
            meter.synchronize_between_processes()

    def scalars(self) -> Dict[str, float]:
        """Current window average of every meter."""
        return {name: meter.avg for name, meter in self.meters.items()}

    def write(self, step: int, extra: Optional[Dict[str, float]] = None) -> None:
        """Send the meters (and ``extra``) at ``step`` to every writer."""
        scalars = self.scalars()
        if extra:
            scalars.update(extra)
        for w in self.writers:
            w.write(step, scalars)

    def print(self, msg: str) -> None:
        if self.stream is not None:
            print(msg, file=self.stream, flush=True)

    def log_every(
        self,
        iterable: Iterable[T],
        print_freq: int,
        header: str = "",
        *,
        total: Optional[int] = None,
        start_step: int = 0,
        extra: Optional[Dict[str, float]] = None,
    ) -> Iterator[T]:
        """Yield the items of ``iterable``; after the item that completes global step ``s``
        (``s = start_step + i + 1``) print and write when ``s % print_freq == 0`` or it is the
        last item. Stop early by shortening the iterable, not with ``break`` (a ``break`` skips
        the log of the step it leaves)."""
        if print_freq <= 0:
            raise ValueError(f"print_freq must be positive, got {print_freq}")
        if total is None:
            total = len(iterable) if hasattr(iterable, "__len__") else None  # type: ignore[arg-type]
        iter_time = SmoothedValue(fmt="{avg:.4f}")
        data_time = SmoothedValue(fmt="{avg:.4f}")
        bar = None
        if self.use_tqdm and self.main:
            try:
                from tqdm import tqdm
            except ImportError:
                warnings.warn("tqdm is not installed; printing log lines instead", LoggerBackendWarning, stacklevel=2)
                self.use_tqdm = False
            else:
                bar = tqdm(total=total, desc=header or None, dynamic_ncols=True, file=self.stream or sys.stderr)
        width = len(str(total)) if total else 1
        start = time.time()
        end = time.time()
        i = -1
        try:
            for i, obj in enumerate(iterable):
                data_time.update(time.time() - end)
                yield obj
                iter_time.update(time.time() - end)
                step = start_step + i + 1
                if bar is not None:
                    bar.update(1)
                last = total is not None and i == total - 1
                if step % print_freq == 0 or last:
                    eta = iter_time.global_avg * (total - i - 1) if total is not None else math.nan
                    timing = {"time": iter_time.avg, "data": data_time.avg}
                    if total is not None:
                        timing["eta_seconds"] = eta
                    self.write(step, {**timing, **(extra or {})})
                    if bar is not None:
                        bar.set_postfix_str(str(self), refresh=False)
                    else:
                        self.print(self._line(header, i, total, width, eta, iter_time, data_time, step))
                end = time.time()
        finally:
            if bar is not None:
                bar.close()
        if i >= 0 and self.main:
            elapsed = time.time() - start
            self.print(f"{header} Total time: {datetime.timedelta(seconds=int(elapsed))} "
                       f"({elapsed / (i + 1):.4f} s / it)")

    def _line(self, header: str, i: int, total: Optional[int], width: int, eta: float,
              iter_time: SmoothedValue, data_time: SmoothedValue, step: int) -> str:
        parts = [header] if header else []
        parts.append(f"[{i + 1:>{width}}/{total}]" if total is not None else f"[{i + 1}]")
        parts.append(f"step: {step}")
        if math.isfinite(eta):
            parts.append(f"eta: {datetime.timedelta(seconds=int(eta))}")
        parts.append(str(self))
        parts.append(f"time: {iter_time}")
        parts.append(f"data: {data_time}")
        if torch.cuda.is_available() and torch.cuda.is_initialized():
            parts.append(f"max mem: {torch.cuda.max_memory_allocated() / 2**20:.0f}")
        return self.delimiter.join(parts)

    def close(self) -> None:
        for w in self.writers:
            w.close()

    def __enter__(self) -> MetricLogger:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


def make_metric_logger(
    output_dir: Optional[os.PathLike | str],
    backend: str = "tensorboard",
    *,
    resume_step: Optional[int] = None,
    use_tqdm: bool = False,
    visdom_server: str = "http://localhost",
    visdom_port: int = 8097,
    visdom_env: str = "",
    stream: Optional[TextIO] = sys.stdout,
    log_name: str = "log.txt",
) -> MetricLogger:
    """A :class:`MetricLogger` writing ``log.txt`` and the ``--logger`` backend under ``output_dir``
    (pass ``resume_step`` = the resumed iteration so lines past it are dropped from ``log.txt``)."""
    writers = make_writers(
        output_dir, backend, resume_step=resume_step, log_name=log_name,
        visdom_server=visdom_server, visdom_port=visdom_port, visdom_env=visdom_env,
    )
    return MetricLogger(writers, use_tqdm=use_tqdm, stream=stream)
