"""Paper recipes for ``tools/reproduce.py``: one module per paper (``tools/recipes/<paper>.py``).

Each module defines ``run(data_root, mode, work_dir, extra, seeds) -> str`` (see :mod:`recipes.common`).
"""
