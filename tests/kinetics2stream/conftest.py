"""A tiny synthetic Kinetics (3 classes, 1 train + 1 val clip each), written and prepared once per session."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def tiny_kinetics(tmp_path_factory) -> Path:
    """Root for ``--root``: ``<root>/kinetics/{rgb-images, farneback-images, hfiles/Annots_400.json}``;
    the raw clips and csv files are in ``<root>/videos``."""
    from core.synthetic.datasets import write_dataset

    root = tmp_path_factory.mktemp("k2s")
    write_dataset("kinetics", root / "videos", "tiny", 0, 1)
    subprocess.run([sys.executable, str(REPO / "tools" / "prepare_kinetics.py"), "--videos", str(root / "videos"),
                    "--csv_dir", str(root / "videos"), "--out", str(root / "kinetics"), "--workers", "2"],
                   check=True, capture_output=True)
    return root
