"""Process pools for the data tools: one place that knows how to start workers safely.

Workers start from a ``forkserver`` (``spawn`` where that is missing): forking a parent that already runs
OpenCV, FFmpeg or torch threads can deadlock the child. Each worker limits OpenCV and torch to one thread,
since the pool itself is the parallelism. Functions passed in must be module-level (picklable).
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Iterator, List, Optional, Sequence

from core.errors import DataError


@dataclass
class JobResult:
    item: Any
    value: Any = None
    error: Optional[str] = None  # one line, naming the file, when the job failed
    exc: Optional[DataError] = None  # the DataError itself, when that is what failed


def _one_line(item: Any, e: BaseException) -> str:
    if isinstance(e, DataError):
        return str(e)
    return f"{item}: {type(e).__name__}: {' '.join(str(e).split())}"


def _call(fn: Callable[[Any], Any], item: Any) -> JobResult:
    try:
        return JobResult(item, fn(item))
    except Exception as e:  # reported per item; one bad video must not stop thousands of others
        return JobResult(item, error=_one_line(item, e), exc=e if isinstance(e, DataError) else None)


def _init_worker() -> None:
    import cv2
    import torch

    cv2.setNumThreads(1)
    torch.set_num_threads(1)


def _context() -> multiprocessing.context.BaseContext:
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


def _iter_results(fn: Callable[[Any], Any], items: List[Any], workers: int) -> Iterator[JobResult]:
    if workers <= 1 or len(items) <= 1:
        for item in items:
            yield _call(fn, item)
        return
    with ProcessPoolExecutor(max_workers=workers, mp_context=_context(), initializer=_init_worker) as pool:
        yield from pool.map(_call, [fn] * len(items), items)


def run_jobs(fn: Callable[[Any], Any], items: Sequence[Any], workers: int = 1, desc: Optional[str] = None,
             progress: bool = True) -> List[JobResult]:
    """Apply ``fn`` to every item in ``workers`` processes (1 = in this process), with a tqdm bar.
    Failures are collected as one-line errors, not raised. Results come back in input order."""
    from tqdm import tqdm

    items = list(items)
    out: List[JobResult] = []
    with tqdm(total=len(items), desc=desc, unit="item", disable=None if progress else True, dynamic_ncols=True) as bar:
        for r in _iter_results(fn, items, workers):
            out.append(r)
            bar.update()
    return out


def map_jobs(fn: Callable[[Any], Any], items: Sequence[Any], workers: int = 1, desc: Optional[str] = None,
             progress: bool = False) -> List[Any]:
    """Like :func:`run_jobs` but returns the values, raising the first failure as a one-line DataError."""
    results = run_jobs(fn, items, workers, desc, progress)
    for r in results:
        if r.exc is not None:
            raise r.exc
        if r.error is not None:
            raise DataError(desc or "job", r.error)
    return [r.value for r in results]
