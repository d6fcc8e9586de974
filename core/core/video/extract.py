"""Frame extraction to numbered JPEGs and 2-second segment cropping around keyframes.

Frame-rate conversion follows FFmpeg's ``fps`` filter (what ``ffmpeg -r R`` applies to an output):
input frame ``i`` at time ``t_i`` lands on output slot ``round(R * (t_i - t_0))`` (half away from
zero); output slot ``k`` shows the latest input frame whose slot is ``<= k``; the output covers
``round(R * (t_last - t_0 + 1/fps_in))`` slots, i.e. the input's duration. Frames are dropped or
repeated accordingly.
"""

from __future__ import annotations

import math
import os
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator, Tuple, Union

import numpy as np

from core.errors import DataError
from core.io import atomic_write_bytes
from core.video.batch import is_complete_dir, publish_dir, staging_dir
from core.video.decode import FRAME_FILE_RE, _timed, open_video, write_video
from core.video.images import encode_image, encode_mjpeg

PathLike = Union[str, "os.PathLike[str]"]

# The original (gurkirt/2D-kinectics) extracted frames with `ffmpeg -qscale:v 15`: FFmpeg's MJPEG
# encoder then quantises every block with the MPEG-1 intra matrix x 15/8, for luma and chroma alike.
# The IJG/OpenCV quality whose output has the same PSNR as that, measured on 320x240 multi-scale
# noise images, is 29..35 depending on the image; we use 32. Pass qscale=15 instead to encode with FFmpeg's own MJPEG encoder (via PyAV).
FFMPEG_QSCALE15_QUALITY = 32


def _round_half_up(x: Fraction) -> int:
    return math.floor(x + Fraction(1, 2))


def _exact(t: float) -> Fraction:
    """A float time as the fraction it stands for (``0.3`` -> 3/10, not 0.2999...): pts * time_base
    is rational with a small denominator, and exact halves must round the same way every time."""
    return Fraction(t).limit_denominator(1_000_000)


def resample_slots(times: Iterable[float], fps_out: float, fps_in: float) -> np.ndarray:
    """Which input frame each output frame shows when converting to ``fps_out``.

    ``times`` are the input frame times (seconds, increasing); returns int [K] input indices."""
    times = list(times)
    if not times:
        return np.zeros(0, np.int64)
    rate = Fraction(fps_out).limit_denominator(1_000_000)
    t0 = _exact(times[0])
    slots = np.array([_round_half_up((_exact(t) - t0) * rate) for t in times])
    total = _round_half_up(
        (_exact(times[-1]) - t0 + 1 / Fraction(fps_in).limit_denominator(1_000_000)) * rate
    )
    return np.searchsorted(slots, np.arange(max(total, 1)), side="right") - 1


def resample(
    timed_frames: Iterable[Tuple[float, np.ndarray]], fps_out: float, fps_in: float
) -> Iterator[np.ndarray]:
    """Streaming version of :func:`resample_slots`: yields the output frames from
    ``(time, frame)`` pairs, holding one frame in memory."""
    rate = Fraction(fps_out).limit_denominator(1_000_000)
    frame_dur = 1 / Fraction(fps_in).limit_denominator(1_000_000)
    t0 = held = t_last = None
    next_slot = 0
    for t, frame in timed_frames:
        ft = _exact(t)
        if t0 is None:
            t0 = ft
        slot = _round_half_up((ft - t0) * rate)
        if held is not None:
            while next_slot < slot:  # the held frame fills every slot before this frame's
                yield held
                next_slot += 1
        held, t_last = frame, ft
    if held is None:
        return
    total = max(_round_half_up((t_last - t0 + frame_dur) * rate), 1)
    while next_slot < total:
        yield held
        next_slot += 1


def _frame_name(pattern: str, number: int) -> str:
    name = pattern % number
    if not FRAME_FILE_RE.match(name):
        raise ValueError(f"pattern {pattern!r} gives {name!r}; expected digits + .jpg/.png like %05d.jpg")
    return name


def extract_frames(
    video: PathLike,
    out_dir: PathLike,
    fps: float | None = None,
    quality: int = FFMPEG_QSCALE15_QUALITY,
    pattern: str = "%05d.jpg",
    start_number: int = 1,
    qscale: int | None = None,
    backend: str = "pyav",
) -> int:
    """Write the frames of ``video`` to ``out_dir/00001.jpg, 00002.jpg, ...``; return their count.

    ``fps``: output rate, frames dropped/repeated as ``ffmpeg -r fps`` would (None: every decoded
    frame). ``quality``: OpenCV JPEG quality; the default matches ``ffmpeg -qscale:v 15`` of the
    original (see :data:`FFMPEG_QSCALE15_QUALITY`). ``qscale``: when given, encode with FFmpeg's
    MJPEG encoder at that qscale instead (slower, the original's exact quantisation tables).

    Resumable: frames are written into a hidden staging folder that is renamed to ``out_dir`` when
    complete, so an existing non-empty ``out_dir`` is taken as done and left alone. A corrupt or
    truncated video raises DataError naming it and leaves no ``out_dir``.
    """
    out_dir = Path(out_dir)
    ext = os.path.splitext(_frame_name(pattern, start_number))[1]
    if is_complete_dir(out_dir):
        return sum(1 for e in os.scandir(out_dir) if FRAME_FILE_RE.match(e.name))
    if qscale is not None and ext.lower() not in (".jpg", ".jpeg"):
        raise ValueError("qscale applies to JPEG output only")
    tmp = staging_dir(out_dir)
    n = 0
    try:
        with open_video(video, backend) as reader:
            timed = _timed(reader, None, None, check=True)
            frames = resample(timed, fps, reader.fps) if fps else (f for _, f in timed)
            for frame in frames:
                path = tmp / _frame_name(pattern, start_number + n)
                if qscale is not None:
                    path.write_bytes(encode_mjpeg(frame, qscale))
                else:
                    path.write_bytes(encode_image(frame, ext, quality))
                n += 1
    except BaseException:
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)
        raise
    publish_dir(tmp, out_dir)
    return n


def frame_at(video: PathLike, sec: float, backend: str = "pyav") -> np.ndarray:
    """The first frame at or after ``sec`` (what ``ffmpeg -ss sec -i video -frames:v 1`` gives):
    RGB uint8 [H,W,3]. DataError if the video ends before ``sec``."""
    with open_video(video, backend) as reader:
        for _, frame in reader.frames(sec, None):
            return frame
    raise DataError(video, f"no frame at or after {sec:g} s")


def crop_segment(
    video: PathLike,
    out_path: PathLike,
    center_sec: float,
    duration: float = 2.0,
    keyframe_path: PathLike | None = None,
    codec: str = "libx264",
    quality: int = 95,
    backend: str = "pyav",
) -> int:
    """Cut the ``duration``-second clip centred on ``center_sec`` (frames with
    ``center - duration/2 <= t < center + duration/2``) into ``out_path`` at the source frame rate,
    every frame a keyframe (ACAM's ``ffmpeg -ss t-1 -t 2 -g 1``). Optionally also save the frame at
    ``center_sec`` (first frame at or after it) as a JPEG at ``keyframe_path``. Both writes are
    atomic. Returns the clip's frame count; DataError when the range holds no frame.
    """
    start = max(0.0, center_sec - duration / 2.0)
    with open_video(video, backend) as reader:
        fps = reader.fps
        frames, times = [], []
        for t, frame in _timed(reader, start, center_sec + duration / 2.0, check=False):
            frames.append(frame)
            times.append(t)
    if not frames:
        raise DataError(video, f"no frames in the {duration:g} s segment around {center_sec:g} s")
    if keyframe_path is not None:
        later = np.flatnonzero(np.asarray(times) >= center_sec - 1e-6)
        if later.size == 0:
            raise DataError(video, f"no frame at or after {center_sec:g} s")
        atomic_write_bytes(keyframe_path, encode_image(frames[later[0]], ".jpg", quality))
    write_video(out_path, np.stack(frames), fps, codec=codec, gop_size=1)
    return len(frames)
