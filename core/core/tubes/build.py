"""Tubes from detection files: the one entry point the detectors' test scripts and ``tools/build_tubes.py`` use.

Per video: frame detections (``delta == 0``) go through per-frame candidates (``dofilter``, or a two-stream
fusion with the flow stream's file), online incremental linking and Viterbi trimming (ROAD's ``online-tubes``);
micro-tube detections (AMTNet, ``delta > 0``) are linked with :mod:`core.tubes.microtubes` and trimmed the same
way.
"""

from __future__ import annotations

import os
from typing import List, Optional, Sequence

from core.errors import DataError
from core.parallel import map_jobs

from .detfile import list_detection_files, read_detections, video_path
from .fusion import FUSE_IOU, fuse_frame
from .linking import GAP, IOU_THRESH, OnlineLinker
from .microtubes import link_microtubes
from .trimming import ALPHA, MIN_NUM_FRAMES, TOP_K, trim_paths
from .types import Tube

FUSIONS = ("none", "mean", "union", "boost")


def build_video_tubes(path: str, flow_path: Optional[str] = None, fusion: str = "none", alpha: float = ALPHA,
                      iou_thresh: float = IOU_THRESH, gap: int = GAP, min_num_frames: int = MIN_NUM_FRAMES,
                      topk: int = TOP_K, fuse_iou: float = FUSE_IOU, matlab_quirk: bool = False) -> List[Tube]:
    """Tubes of one video from its detection file (and the flow stream's, for a fusion).

    ``fusion``: none, or mean / union / boost of this (RGB) stream's frame candidates with ``flow_path``'s.
    ``iou_thresh`` and ``gap``: linking; ``alpha``, ``min_num_frames``, ``topk``: trimming and scoring;
    ``fuse_iou`` and ``matlab_quirk``: boost fusion (see :mod:`core.tubes.fusion`).
    """
    if fusion not in FUSIONS:
        raise ValueError(f"fusion must be one of {FUSIONS}, got {fusion!r}")
    det = read_detections(path)
    if det.delta > 0:
        if fusion != "none":
            raise DataError(path, "two-stream fusion of micro-tube detections is not supported (fuse in the network)")
        paths = link_microtubes(det, iou_thresh=iou_thresh, gap=gap)
        return trim_paths(paths, det.video, alpha, min_num_frames, topk)
    linker = OnlineLinker(det.num_classes, iou_thresh, gap)
    if fusion == "none":
        for t in range(1, det.num_frames + 1):
            linker.update(*det.frame(t))
    else:
        if flow_path is None:
            raise DataError(path, f"fusion '{fusion}' needs the flow stream's detections")
        flow = read_detections(flow_path)
        if flow.video != det.video or flow.num_frames != det.num_frames or flow.num_classes != det.num_classes:
            raise DataError(flow_path, f"expected video '{det.video}' with {det.num_frames} frames and "
                            f"{det.num_classes} classes like {path}, got '{flow.video}', {flow.num_frames}, "
                            f"{flow.num_classes}")
        for t in range(1, det.num_frames + 1):
            try:
                cand = fuse_frame(fusion, det.frame(t), flow.frame(t), det.frame_priors(t), flow.frame_priors(t),
                                  fuse_iou=fuse_iou, matlab_quirk=matlab_quirk)
            except ValueError as e:
                raise DataError(flow_path, str(e), f"frame {t}") from None
            linker.update_candidates(cand)
    return trim_paths(linker.finish(), det.video, alpha, min_num_frames, topk)


def _work(job):
    path, flow_path, kwargs = job
    return build_video_tubes(path, flow_path, **kwargs)


def build_tubes(detections: str, flow_detections: Optional[str] = None, fusion: str = "none",
                videos: Optional[Sequence[str]] = None, workers: int = 0, progress: bool = False,
                **kwargs) -> List[Tube]:
    """Tubes of every video under ``detections`` (or of ``videos``, in that order), concatenated.

    ``kwargs`` go to :func:`build_video_tubes`; ``workers`` > 0 spreads the videos over processes.
    """
    if videos is None:
        files = list_detection_files(detections)
    else:
        files = [(v, video_path(detections, v)) for v in videos]
        missing = [str(p) for _, p in files if not p.exists()]
        if missing:
            raise DataError(missing[0], f"no detection file for this video ({len(missing)} missing in all)")
    jobs = []
    for video, p in files:
        flow_path = None
        if fusion != "none":
            if flow_detections is None:
                raise DataError(detections, f"fusion '{fusion}' needs the flow stream's detections")
            flow_path = str(video_path(flow_detections, video))
            if not os.path.exists(flow_path):
                raise DataError(flow_path, "no flow detection file for this video")
        jobs.append((str(p), flow_path, dict(fusion=fusion, **kwargs)))
    tubes: List[Tube] = []
    for result in map_jobs(_work, jobs, workers, desc="tubes", progress=progress):
        tubes.extend(result)
    return tubes
