"""What the video tools share: folder-level atomic outputs (fill a hidden staging folder, then rename),
and the process pool of :mod:`core.parallel` (re-exported here)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from core.parallel import JobResult, run_jobs

__all__ = ["JobResult", "run_jobs", "staging_dir", "publish_dir", "is_complete_dir"]


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
