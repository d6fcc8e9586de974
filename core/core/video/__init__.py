"""Video I/O, frame extraction, segment cropping and optical flow.

Everything is importable from here::

    from core.video import read_video, write_video, extract_frames, video_flow, flow_to_image

- :mod:`core.video.decode`: backends ("pyav" default, "opencv", "frames" folders), ``read_video``,
  ``iter_frames``, ``check_video``, ``write_video``.
- :mod:`core.video.images`: ``read_image``, ``write_jpeg``, ``write_image``, ``encode_mjpeg``.
- :mod:`core.video.extract`: ``extract_frames`` (fps re-sampling like ``ffmpeg -r``), ``crop_segment``,
  ``frame_at``.
- :mod:`core.video.flow`: ``farneback_flow``, ``tvl1_flow``, ``video_flow``, ``flow_to_image``,
  ``image_to_flow``, ``flow_folder``.
- :mod:`core.video.batch`: the process pool and staging folders the tools use.
"""

from core.video.decode import (
    BACKENDS,
    VIDEO_EXTENSIONS,
    check_video,
    iter_frames,
    iter_timed_frames,
    list_frame_files,
    open_video,
    read_video,
    write_video,
)
from core.video.extract import (
    FFMPEG_QSCALE15_QUALITY,
    crop_segment,
    extract_frames,
    frame_at,
    resample,
    resample_slots,
)
from core.video.flow import (
    FARNEBACK_DEFAULTS,
    TVL1_DEFAULTS,
    farneback_flow,
    flow_folder,
    flow_to_image,
    image_to_flow,
    to_gray,
    tvl1_available,
    tvl1_flow,
    video_flow,
)
from core.video.images import encode_image, encode_mjpeg, read_image, write_image, write_jpeg

__all__ = [
    "BACKENDS",
    "VIDEO_EXTENSIONS",
    "FARNEBACK_DEFAULTS",
    "TVL1_DEFAULTS",
    "FFMPEG_QSCALE15_QUALITY",
    "check_video",
    "crop_segment",
    "encode_image",
    "encode_mjpeg",
    "extract_frames",
    "farneback_flow",
    "flow_folder",
    "flow_to_image",
    "frame_at",
    "image_to_flow",
    "iter_frames",
    "iter_timed_frames",
    "list_frame_files",
    "open_video",
    "read_image",
    "read_video",
    "resample",
    "resample_slots",
    "to_gray",
    "tvl1_available",
    "tvl1_flow",
    "video_flow",
    "write_image",
    "write_jpeg",
    "write_video",
]
