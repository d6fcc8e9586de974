"""Action tubes: per-frame filtering, online linking (ROAD), Viterbi trimming, two-stream fusion,
AMTNet micro-tube linking, and the file formats around them (frame detections, TUBES.json).

The pipeline of gurkirt/realtime-action-detection's ``online-tubes`` MATLAB code, vectorised::

    dets = detfile.read_detections(path)                      # per frame: boxes + full score vectors
    paths = link_video(dets.frames(), dets.num_classes)       # dofilter + incremental linking
    tubes = trim_paths(paths, dets.video, alpha=5)            # Viterbi labelling, cutting, scoring
    tubes_json.write_tubes("TUBES.json", tubes)
"""

from .filtering import dofilter, grouped_nms, nms_candidates, normalized_to_pixels, prefilter
from .linking import OnlineLinker, greedy_assign, link_video
from .trimming import temporal_labels, trim_paths, viterbi
from .types import ActionPaths, Candidates, Tube

__all__ = [
    "ActionPaths", "Candidates", "OnlineLinker", "Tube", "dofilter", "greedy_assign", "grouped_nms",
    "link_video", "nms_candidates", "normalized_to_pixels", "prefilter", "temporal_labels", "trim_paths",
    "viterbi",
]
