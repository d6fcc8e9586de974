"""Action tubes: per-frame filtering, online linking (ROAD), Viterbi trimming, two-stream fusion,
AMTNet micro-tube linking, and the file formats around them (frame detections, TUBES.json).

The pipeline of gurkirt/realtime-action-detection's ``online-tubes`` MATLAB code, vectorised::

    dets = read_detections(path)                          # per frame: boxes + full score vectors
    paths = link_video(dets.frames(), dets.num_classes)   # dofilter + incremental linking
    tubes = trim_paths(paths, dets.video, alpha=5)        # Viterbi labelling, cutting, scoring
    write_tubes("TUBES.json", tubes)

``build_tubes`` / ``build_video_tubes`` run the whole pipeline on detection files (with every option).

Modules: ``build`` (detection files -> tubes), ``filtering`` (dofilter, prefilter), ``linking`` (OnlineLinker, link_video), ``trimming``
(viterbi, trim_paths), ``fusion`` (mean / union-set / boost), ``microtubes`` (AMTNet), ``detfile`` (the
detectors' per-video detection files), ``tubes_json`` (TUBES.json), ``types``.
"""

from .build import build_tubes, build_video_tubes
from .detfile import VideoDetections, read_detections, write_detections
from .filtering import dofilter, grouped_nms, nms_candidates, normalized_to_pixels, prefilter
from .fusion import boost_fusion, fuse_frame, mean_fusion, union_fusion
from .linking import OnlineLinker, greedy_assign, link_video
from .microtubes import MicroTubeLinker, densify, link_microtubes
from .trimming import temporal_labels, trim_paths, viterbi
from .tubes_json import read_tubes, write_tubes
from .types import ActionPaths, Candidates, Tube

__all__ = [
    "ActionPaths", "Candidates", "build_tubes", "build_video_tubes", "MicroTubeLinker", "OnlineLinker", "Tube", "VideoDetections", "boost_fusion",
    "densify", "dofilter", "fuse_frame", "greedy_assign", "grouped_nms", "link_microtubes", "link_video",
    "mean_fusion", "nms_candidates", "normalized_to_pixels", "prefilter", "read_detections", "read_tubes",
    "temporal_labels", "trim_paths", "union_fusion", "viterbi", "write_detections", "write_tubes",
]
