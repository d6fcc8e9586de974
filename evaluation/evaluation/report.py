"""Console tables and JSON-safe numbers shared by the evaluation CLIs."""

from __future__ import annotations

import math
from typing import Any, Iterable, Sequence


def nan_to_none(obj: Any) -> Any:
    """Replace NaN floats (classes without ground truth) by None so the JSON stays valid."""
    if isinstance(obj, float):
        return None if math.isnan(obj) else obj
    if isinstance(obj, dict):
        return {k: nan_to_none(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [nan_to_none(v) for v in obj]
    return obj


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return "n/a" if math.isnan(v) else f"{100 * v:.2f}"
    return str(v)


def print_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Print rows as aligned columns; floats as percentages with 2 decimals, NaN as n/a."""
    cells = [list(map(str, header))] + [[_fmt(v) for v in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    for j, r in enumerate(cells):
        print("  ".join(c.ljust(w) if i < len(r) - 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths))))
        if j == 0:
            print("  ".join("-" * w for w in widths))
