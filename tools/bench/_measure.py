"""Shared by the benchmarks that time whole commands (not a benchmark itself: `make bench` skips `_*.py`)."""

from __future__ import annotations

import os
import subprocess
import time
from typing import Dict, List, Optional, Tuple


def run_measured(cmd: List[str], env: Optional[Dict[str, str]] = None) -> Tuple[float, float, float]:
    """Run a command in a child process -> (wall s, CPU s, peak RSS MB) of that child alone."""
    t = time.perf_counter()
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=env)
    _, status, usage = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t
    err = p.stderr.read().decode()
    p.stderr.close()
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{err}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024
