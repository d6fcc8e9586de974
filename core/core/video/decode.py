"""Video decoding and encoding behind one interface, with three backends.

``pyav`` (default, always installed) decodes with FFmpeg's libraries through PyAV; ``opencv`` uses
``cv2.VideoCapture``; ``frames`` reads a folder of numbered images (``00001.jpg``, ``00002.jpg``, ...
or ``.png``), the layout every dataset here stores its RGB and flow frames in.

Frame times are seconds from the start of the file (the container's start time is subtracted, as
``ffmpeg -ss`` does). A range ``[start_sec, end_sec)`` keeps the frames whose time ``t`` satisfies
``start_sec <= t < end_sec``.

Decoding failures never escape as FFmpeg/OpenCV exceptions: a missing, unreadable, corrupt or
truncated file raises :class:`core.errors.DataError` whose one-line message names the file.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
import warnings
from contextlib import suppress
from fractions import Fraction
from pathlib import Path
from typing import Dict, Iterator, List, Tuple, Union

import numpy as np

from core.errors import DataError

PathLike = Union[str, "os.PathLike[str]"]

BACKENDS = ("pyav", "opencv", "frames")
VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".flv", ".3gp", ".ogv")
FRAME_FILE_RE = re.compile(r"^(\d+)\.(jpg|jpeg|png)$", re.IGNORECASE)

# Times within this many seconds are the same instant (float rounding of pts * time_base).
_TIME_EPS = 1e-6

_CONTAINER_FORMATS = {
    ".mp4": "mp4",
    ".m4v": "mp4",
    ".mov": "mov",
    ".mkv": "matroska",
    ".webm": "webm",
    ".avi": "avi",
}


def _short(e: BaseException) -> str:
    """An exception as a short phrase (FFmpeg errors without their errno and repeated file name)."""
    msg = getattr(e, "strerror", None) or str(e)
    return " ".join(str(msg).split()) or type(e).__name__


def _truncation_tolerance(fps: float) -> float:
    """Seconds a decoded stream may fall short of the container's duration before it counts as
    truncated: audio tracks and rounding make the two differ slightly in valid files."""
    return max(0.5, 3.0 / fps) if fps > 0 else 0.5


class VideoReader:
    """An open video. ``fps`` (float), ``declared_frames`` (frame count the container claims, 0 when
    unknown), ``duration`` (seconds the container claims, None when unknown), ``path``.

    Use as a context manager; :meth:`frames` yields ``(time_sec, rgb uint8 [H,W,3])``.
    """

    path: str
    fps: float
    declared_frames: int
    duration: float | None

    def frames(
        self, start_sec: float | None = None, end_sec: float | None = None
    ) -> Iterator[Tuple[float, np.ndarray]]:
        raise NotImplementedError

    def close(self) -> None:
        pass

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class PyAVReader(VideoReader):
    def __init__(self, path: PathLike):
        import av

        self.path = str(path)
        if not os.path.exists(self.path):
            raise DataError(self.path, "video file not found")
        try:
            self._container = av.open(self.path)
        except (av.FFmpegError, OSError, UnicodeDecodeError) as e:
            raise DataError(self.path, f"cannot open video ({_short(e)})") from None
        if not self._container.streams.video:
            self._container.close()
            raise DataError(self.path, "no video stream")
        self._stream = self._container.streams.video[0]
        self._stream.thread_type = "AUTO"
        rate = self._stream.average_rate or self._stream.guessed_rate or self._stream.base_rate
        if not rate:
            self._container.close()
            raise DataError(self.path, "video stream has no frame rate")
        self.fps = float(rate)
        self.declared_frames = int(self._stream.frames or 0)
        tb = self._stream.time_base
        self._t0 = self._container.start_time / 1e6 if self._container.start_time is not None else 0.0
        if self._stream.duration is not None and tb is not None:
            self.duration = float(self._stream.duration * tb)
        elif self._container.duration is not None:
            self.duration = self._container.duration / 1e6
        else:
            self.duration = None

    def frames(self, start_sec=None, end_sec=None):
        import av

        stream, tb = self._stream, self._stream.time_base
        if start_sec is not None and start_sec > 0 and tb is not None:
            # Seek to the keyframe at or before start, then decode forward and drop early frames.
            with suppress(av.FFmpegError):
                self._container.seek(int((start_sec + self._t0) / tb), stream=stream, backward=True)
        n, t = 0, None
        decoder = self._container.decode(stream)
        while True:
            try:
                frame = next(decoder)
            except StopIteration:
                return
            except (av.FFmpegError, OSError) as e:
                raise DataError(self.path, f"decoding failed after {n} frames ({_short(e)})") from None
            if frame.pts is not None and tb is not None:
                t = float(frame.pts * tb) - self._t0
            else:
                t = 0.0 if t is None else t + 1.0 / self.fps
            n += 1
            if start_sec is not None and t < start_sec - _TIME_EPS:
                continue
            if end_sec is not None and t >= end_sec - _TIME_EPS:
                return
            yield t, frame.to_ndarray(format="rgb24")

    def close(self):
        self._container.close()


class OpenCVReader(VideoReader):
    def __init__(self, path: PathLike):
        import cv2

        self.path = str(path)
        if not os.path.exists(self.path):
            raise DataError(self.path, "video file not found")
        self._cap = cv2.VideoCapture(self.path)
        if not self._cap.isOpened():
            raise DataError(self.path, "cannot open video (OpenCV VideoCapture failed)")
        self.fps = float(self._cap.get(cv2.CAP_PROP_FPS) or 0.0)
        if not self.fps > 0:
            self._cap.release()
            raise DataError(self.path, "video stream has no frame rate")
        self.declared_frames = max(0, int(self._cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0))
        self.duration = self.declared_frames / self.fps if self.declared_frames else None

    def frames(self, start_sec=None, end_sec=None):
        import cv2

        first = 0
        if start_sec is not None and start_sec > 0:
            first = math.ceil(start_sec * self.fps - _TIME_EPS)
            self._cap.set(cv2.CAP_PROP_POS_FRAMES, first)
        i = first
        while True:
            ok, bgr = self._cap.read()
            if not ok:
                return
            t = i / self.fps
            i += 1
            if end_sec is not None and t >= end_sec - _TIME_EPS:
                return
            yield t, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self):
        self._cap.release()


def list_frame_files(folder: PathLike) -> List[Path]:
    """The numbered image files of a frame folder in frame order. Numbers must be consecutive
    (a gap is a DataError naming the first missing file); the first may be 0 or 1 or any number."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "frame folder not found")
    numbered = []
    for entry in os.scandir(folder):
        m = FRAME_FILE_RE.match(entry.name)
        if m and entry.is_file():
            numbered.append((int(m.group(1)), entry.name))
    if not numbered:
        raise DataError(folder, "no numbered frame images (expected 00001.jpg, 00002.jpg, ...)")
    numbered.sort()
    nums = np.array([n for n, _ in numbered])
    if len(set(nums.tolist())) != len(nums):
        raise DataError(folder, "two frame files share a number")
    gaps = np.flatnonzero(np.diff(nums) != 1)
    if gaps.size:
        width = len(numbered[gaps[0]][1].split(".")[0])
        ext = numbered[gaps[0]][1].split(".")[-1]
        raise DataError(folder, f"missing frame {nums[gaps[0]] + 1:0{width}d}.{ext}")
    return [folder / name for _, name in numbered]


class FramesReader(VideoReader):
    """A folder of numbered images. The folder carries no frame rate: pass ``fps`` to use times
    (``start_sec``/``end_sec``); without it ``fps`` is 0.0 and frame ``k`` has time ``k``."""

    def __init__(self, path: PathLike, fps: float | None = None):
        self.path = str(path)
        self._files = list_frame_files(path)
        self.fps = float(fps) if fps else 0.0
        self.declared_frames = len(self._files)
        self.duration = len(self._files) / self.fps if self.fps else None

    def frames(self, start_sec=None, end_sec=None):
        from core.video.images import read_image

        if (start_sec is not None or end_sec is not None) and not self.fps:
            raise ValueError(f"{self.path}: a frame folder needs fps= to select a time range")
        step = 1.0 / self.fps if self.fps else 1.0
        first = 0 if start_sec is None else max(0, math.ceil(start_sec / step - _TIME_EPS))
        shape = None
        for k in range(first, len(self._files)):
            t = k * step
            if end_sec is not None and t >= end_sec - _TIME_EPS:
                return
            img = read_image(self._files[k])
            if shape is None:
                shape = img.shape
            elif img.shape != shape:
                raise DataError(
                    self._files[k], f"frame size {img.shape[:2]} differs from the first frame's {shape[:2]}"
                )
            yield t, img


def open_video(path: PathLike, backend: str = "pyav", fps: float | None = None) -> VideoReader:
    """Open ``path`` with ``backend`` ("pyav", "opencv" or "frames"). ``fps`` is only used by
    "frames" (a folder has no rate of its own)."""
    if backend == "pyav":
        return PyAVReader(path)
    if backend == "opencv":
        return OpenCVReader(path)
    if backend == "frames":
        return FramesReader(path, fps)
    raise ValueError(f"unknown video backend {backend!r}; choose one of {', '.join(BACKENDS)}")


def _check_complete(reader: VideoReader, n: int, last_t: float | None, exact_count: bool) -> None:
    """Raise DataError when fewer frames were decoded than the container promises."""
    if n == 0:
        raise DataError(reader.path, "no decodable video frames")
    if reader.declared_frames > 0:
        missing = reader.declared_frames - n
        allowed = 0 if exact_count else max(2, int(_truncation_tolerance(reader.fps) * reader.fps))
        if missing > allowed:
            raise DataError(reader.path, f"truncated: decoded {n} of {reader.declared_frames} frames")
    if reader.duration is not None and last_t is not None and reader.fps > 0:
        end = last_t + 1.0 / reader.fps
        if reader.duration - end > _truncation_tolerance(reader.fps):
            raise DataError(
                reader.path, f"truncated: frames end at {end:.2f} s of a {reader.duration:.2f} s video"
            )


def _timed(reader: VideoReader, start_sec, end_sec, check: bool) -> Iterator[Tuple[float, np.ndarray]]:
    n, last_t = 0, None
    for t, frame in reader.frames(start_sec, end_sec):
        n, last_t = n + 1, t
        yield t, frame
    if check and start_sec is None and end_sec is None and not isinstance(reader, FramesReader):
        _check_complete(reader, n, last_t, exact_count=isinstance(reader, PyAVReader))


def iter_timed_frames(
    path: PathLike,
    backend: str = "pyav",
    start_sec: float | None = None,
    end_sec: float | None = None,
    fps: float | None = None,
) -> Iterator[Tuple[float, np.ndarray]]:
    """Yield ``(time_sec, rgb uint8 [H,W,3])``. A full read (no range) of a video file also checks
    that it was not truncated (see :func:`check_video`)."""
    with open_video(path, backend, fps) as reader:
        yield from _timed(reader, start_sec, end_sec, check=True)


def iter_frames(
    path: PathLike,
    backend: str = "pyav",
    start_sec: float | None = None,
    end_sec: float | None = None,
    fps: float | None = None,
) -> Iterator[np.ndarray]:
    """Yield the frames of a video (or frame folder) as RGB uint8 [H,W,3]."""
    for _, frame in iter_timed_frames(path, backend, start_sec, end_sec, fps):
        yield frame


def read_video(
    path: PathLike,
    backend: str = "pyav",
    start_sec: float | None = None,
    end_sec: float | None = None,
    fps: float | None = None,
) -> Tuple[np.ndarray, float]:
    """Decode a whole video, or the frames with ``start_sec <= t < end_sec``.

    Returns ``(frames uint8 [T,H,W,3] RGB, fps)``. ``fps`` is the stream's average frame rate
    (for "frames", the ``fps`` argument, or 0.0 when not given). A missing, corrupt or truncated
    video raises DataError naming the file; an empty range gives a DataError too.
    """
    with open_video(path, backend, fps) as reader:
        frames = [frame for _, frame in _timed(reader, start_sec, end_sec, check=True)]
        rate = reader.fps
    if not frames:
        raise DataError(path, f"no video frames in [{start_sec}, {end_sec}) s")
    return np.stack(frames), rate


def check_video(path: PathLike, backend: str = "pyav") -> int:
    """Decode every frame of ``path``; return the frame count, or raise DataError (undecodable,
    decoding error mid-stream, or fewer frames/seconds than the container declares)."""
    n = 0
    for _ in iter_timed_frames(path, backend):
        n += 1
    return n


def _encoder_available(codec: str) -> bool:
    import av

    try:
        av.codec.Codec(codec, "w")
        return True
    except Exception:
        return False


# Encoder options used unless the caller overrides them. mpeg4's default 200 kb/s rate control
# smears small synthetic frames; capping the quantiser keeps it close to libx264's default quality.
_DEFAULT_OPTIONS: Dict[str, Dict[str, str]] = {"mpeg4": {"qmax": "4"}}


def write_video(
    path: PathLike,
    frames: np.ndarray,
    fps: float,
    codec: str = "libx264",
    gop_size: int | None = None,
    options: Dict[str, str] | None = None,
) -> str:
    """Encode ``frames`` (uint8 [T,H,W,3] RGB) to ``path`` at ``fps`` with PyAV. Returns the codec
    used.

    The container comes from the extension (.mp4, .mkv, .webm, .avi, .mov). When this PyAV build
    lacks libx264, ``codec="libx264"`` falls back to ``mpeg4`` with a warning (PyAV's wheels ship
    libx264, but distribution builds may not). Pixel format is yuv420p; libx264/vp9 switch to
    yuv444p for odd sizes, which 4:2:0 cannot hold. ``gop_size=1`` makes every frame a keyframe.
    ``options`` are FFmpeg encoder options, e.g. ``{"crf": "18"}``. The file is written to a
    temporary name in the same folder and renamed, so a crash never leaves a partial video.
    """
    import av

    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8 or len(frames) == 0:
        raise ValueError(
            f"write_video expects uint8 [T,H,W,3] with T >= 1, got {frames.dtype} {frames.shape}"
        )
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in _CONTAINER_FORMATS:
        raise ValueError(
            f"{path}: unsupported video extension {ext!r}; use one of {sorted(_CONTAINER_FORMATS)}"
        )
    if not _encoder_available(codec):
        if codec == "libx264" and _encoder_available("mpeg4"):
            warnings.warn("this PyAV build has no libx264 encoder; writing mpeg4 instead", stacklevel=2)
            codec = "mpeg4"
        else:
            raise ValueError(f"this PyAV build has no {codec!r} encoder")
    _, height, width, _ = frames.shape
    pix_fmt = "yuv420p"
    if (height % 2 or width % 2) and codec in ("libx264", "libvpx-vp9"):
        pix_fmt = "yuv444p"
    rate = Fraction(fps).limit_denominator(1001)
    opts = dict(_DEFAULT_OPTIONS.get(codec, {}))
    opts.update(options or {})

    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=ext, dir=path.parent)
    os.close(fd)
    try:
        with av.open(tmp, "w", format=_CONTAINER_FORMATS[ext]) as container:
            stream = container.add_stream(codec, rate=rate, options=opts)
            stream.width, stream.height, stream.pix_fmt = width, height, pix_fmt
            if gop_size is not None:
                stream.codec_context.gop_size = gop_size
            time_base = 1 / rate
            for i, rgb in enumerate(frames):
                frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(rgb), format="rgb24")
                frame.pts, frame.time_base = i, time_base
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        with suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return codec
