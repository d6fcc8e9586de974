"""Shared pytest set-up: keep torch to the 2 cores of CI and make runs deterministic."""

import os
import sys
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "2")
# the recipes (tools/recipes/<paper>.py) are imported as `recipes.<paper>`, as tools/reproduce.py does;
# test-only generators as `fixtures.<module>` (tests/fixtures/)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

torch.set_num_threads(2)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(0)
