"""What the video tools share: a process pool with a progress bar that collects one-line errors
instead of stopping, and folder-level atomic outputs (fill a hidden staging folder, then rename)."""

from __future__ import annotations

import os
import shutil
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, List, Sequence

from core.errors import DataError


@dataclass
class JobResult:
    item: Any
    value: Any = None
    error: str | None = None  # one line, naming the file, when the job failed


def _one_line(item: Any, e: BaseException) -> str:
    if isinstance(e, DataError):
        return str(e)
    return f"{item}: {type(e).__name__}: {' '.join(str(e).split())}"


def _call(fn: Callable[[Any], Any], item: Any) -> JobResult:
    try:
        return JobResult(item, fn(item))
    except Exception as e:  # reported per item; one bad video must not stop thousands of others
        return JobResult(item, error=_one_line(item, e))


def _init_worker() -> None:
    import cv2

    cv2.setNumThreads(1)  # the pool is the parallelism; nested OpenCV threads only contend


def run_jobs(
    fn: Callable[[Any], Any],
    items: Sequence[Any],
    workers: int = 1,
    desc: str | None = None,
    progress: bool = True,
) -> List[JobResult]:
    """Apply ``fn`` to every item, in ``workers`` processes (1 = in this process), with a tqdm bar.
    ``fn`` must be a module-level function (picklable). Results come back in input order."""
    from tqdm import tqdm

    items = list(items)
    bar = tqdm(
        total=len(items), desc=desc, unit="item", disable=None if progress else True, dynamic_ncols=True
    )
    results: List[JobResult | None] = [None] * len(items)
    try:
        if workers <= 1 or len(items) <= 1:
            for i, item in enumerate(items):
                results[i] = _call(fn, item)
                bar.update()
        else:
            with ProcessPoolExecutor(max_workers=workers, initializer=_init_worker) as pool:
                futures = {pool.submit(_call, fn, item): i for i, item in enumerate(items)}
                for fut in as_completed(futures):
                    results[futures[fut]] = fut.result()
                    bar.update()
    finally:
        bar.close()
    return results  # type: ignore[return-value]


def staging_dir(out_dir: Path) -> Path:
    """An empty hidden sibling of ``out_dir`` to fill before :func:`publish_dir`. Readers that skip
    dot-names (the original C++ ``listdir`` did) never see it; a stale one is cleared."""
    out_dir = Path(out_dir)
    tmp = out_dir.parent / f".{out_dir.name}.partial"
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    return tmp


def publish_dir(tmp: Path, out_dir: Path) -> None:
    """Rename a filled staging folder to ``out_dir`` (absent or empty): the folder appears whole."""
    out_dir = Path(out_dir)
    if out_dir.is_dir() and not any(out_dir.iterdir()):
        out_dir.rmdir()
    os.replace(tmp, out_dir)


def is_complete_dir(out_dir: Path) -> bool:
    """True when ``out_dir`` exists and holds something: outputs published by :func:`publish_dir`
    are complete by construction."""
    out_dir = Path(out_dir)
    return out_dir.is_dir() and any(out_dir.iterdir())
