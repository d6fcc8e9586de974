"""What every recipe shares: the run modes, running a step with live progress, seeds statistics and
the claims table that ends every reproduction.

A recipe module ``tools/recipes/<paper>.py`` defines::

    def run(data_root: Optional[str], mode: str, work_dir: str, extra: List[str], seeds: Optional[List[int]]) -> str

``mode`` is ``quick`` (the demo: minutes on a CPU), ``claims`` (the paper's central claims on synthetic
data in at most an hour on 2 CPU cores) or ``full`` (the paper's own schedule, for real data and GPUs).
``seeds`` (``--seeds 0,1,2``) overrides the recipe's own seeds (None: the recipe's default, one seed for
``quick``, at least three for ``claims`` wherever a seed moves a number by more than a claim's margin).
It trains every row of the paper's table, evaluates, writes ``table.md`` and ``claims.md`` under
``work_dir`` (atomically, through :func:`finish`) and returns the text to print.
"""

from __future__ import annotations

import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence, Tuple, Union

from core.cli import markdown_table, run_command
from core.io import atomic_write_text

MODES = ("quick", "claims", "full")
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Claim:
    """One row of a claims table: what the paper claims, what it reports, what was measured here."""

    claim: str
    paper: str
    measured: str
    holds: Optional[bool]  # None: not measured in this run


def claims_markdown(claims: Sequence[Claim], title: str = "Claims") -> str:
    rows = [(c.claim, c.paper, c.measured, "n/a" if c.holds is None else ("yes" if c.holds else "no"))
            for c in claims]
    return markdown_table(["claim", "paper", "measured here", "holds"], rows, title=title, align="llll")


def mean_std(values: Sequence[float]) -> Tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    vals = [float(v) for v in values]
    if not vals:
        return math.nan, math.nan
    m = sum(vals) / len(vals)
    if len(vals) == 1:
        return m, 0.0
    return m, math.sqrt(sum((v - m) ** 2 for v in vals) / (len(vals) - 1))


def fmt_mean_std(values: Sequence[float], digits: int = 1) -> str:
    """``[55.7, 57.1, 54.0]`` -> ``55.6 ± 1.6 (3 seeds)``; one value -> ``55.7 (1 seed)``."""
    m, s = mean_std(values)
    n = len(values)
    if n == 1:
        return f"{m:.{digits}f} (1 seed)"
    return f"{m:.{digits}f} ± {s:.{digits}f} ({n} seeds)"


def run_step(script: Union[str, os.PathLike], args: Sequence[object], log_path: Union[str, os.PathLike],
             *, label: str = "", cwd: Optional[Union[str, os.PathLike]] = None) -> float:
    """Run ``python SCRIPT ARGS`` (a path relative to the repository root, e.g. ``amtnet/train.py``)
    with its output in ``log_path`` and its progress on the console; returns the wall time."""
    path = Path(script)
    if not path.is_absolute():
        path = REPO / path
    return run_command([sys.executable, str(path), *map(str, args)], log_path=log_path, label=label,
                       cwd=cwd or path.parent)


def finish(work_dir: Union[str, os.PathLike], table: str, claims: Sequence[Claim]) -> str:
    """Write ``table.md`` and ``claims.md`` under ``work_dir`` atomically; return both, for printing."""
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    claims_text = claims_markdown(claims)
    atomic_write_text(work / "table.md", table)
    atomic_write_text(work / "claims.md", claims_text)
    return table.rstrip("\n") + "\n\n" + claims_text
