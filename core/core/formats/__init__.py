"""Readers and writers of every dataset's real annotation files, one module per family.

- ``ucf24``: UCF101-24 / JHMDB-21 ``pyannot.pkl`` (gurkirt's corrected annotations) and split lists.
- ``act``: the ACT detector's ``UCF101v2-GT.pkl`` / ``JHMDB-GT.pkl`` and the conversion to and from pyannot.
- ``ava``: AVA csv (ground truth, detections, person boxes), label-map pbtxt (both flavours), exclusions.
- ``kinetics``: Kinetics csv files and the per-video annotation json of the two-stream repository.
- ``sth``: Something-Something v1 csv, v2 json and TSM-style list files.
- ``stage_h5``: STAGE actor (one h5 per keyframe) and object (one h5 file) feature layouts.

Each reader validates what it reads and raises :class:`core.errors.DataError` naming the file, the row
or key and what was expected. Index conventions are written in each function's docstring.
"""
