"""Single images: RGB reads and atomic JPEG/PNG writes (OpenCV underneath, which is BGR), and
FFmpeg's own MJPEG encoder for byte-faithful ``ffmpeg -qscale:v Q`` frames."""

from __future__ import annotations

import os
from fractions import Fraction
from pathlib import Path
from typing import Union

import numpy as np

from core.errors import DataError
from core.io import atomic_write_bytes

PathLike = Union[str, "os.PathLike[str]"]


def read_image(path: PathLike) -> np.ndarray:
    """Read an image file as RGB uint8 [H,W,3] (grey files are expanded to 3 channels)."""
    import cv2

    path = str(path)
    try:
        data = np.fromfile(path, dtype=np.uint8)
    except FileNotFoundError:
        raise DataError(path, "image file not found") from None
    except OSError as e:
        raise DataError(path, f"cannot read image ({e.strerror})") from None
    bgr = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if bgr is None:
        raise DataError(path, "not a decodable image")
    return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)


def encode_image(rgb: np.ndarray, ext: str = ".jpg", quality: int = 95) -> bytes:
    """Encode RGB uint8 [H,W,3] as ``ext`` (.jpg/.jpeg with IJG ``quality`` 1-100, or .png)."""
    import cv2

    rgb = np.asarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H,W,3] RGB, got {rgb.dtype} {rgb.shape}")
    ext = ext.lower()
    if ext in (".jpg", ".jpeg"):
        params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
    elif ext == ".png":
        params = []
    else:
        raise ValueError(f"unsupported image extension {ext!r} (use .jpg or .png)")
    ok, buf = cv2.imencode(ext, np.ascontiguousarray(rgb[..., ::-1]), params)
    if not ok:
        raise ValueError(f"OpenCV could not encode a {rgb.shape} image as {ext}")
    return buf.tobytes()


def write_image(path: PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Write RGB uint8 [H,W,3] atomically; the format follows the extension (.jpg/.jpeg/.png)."""
    atomic_write_bytes(path, encode_image(rgb, Path(path).suffix, quality))


def write_jpeg(path: PathLike, rgb: np.ndarray, quality: int = 95) -> None:
    """Write RGB uint8 [H,W,3] as a JPEG of IJG ``quality`` (95 = OpenCV's ``imwrite`` default),
    atomically."""
    atomic_write_bytes(path, encode_image(rgb, ".jpg", quality))


def encode_mjpeg(rgb: np.ndarray, qscale: int = 15) -> bytes:
    """Encode RGB uint8 [H,W,3] to a JPEG with FFmpeg's MJPEG encoder at a fixed ``qscale``
    (2 best .. 31 worst), as ``ffmpeg -qscale:v Q frame.jpg`` does: one quantisation table for luma
    and chroma, the MPEG-1 intra matrix scaled by Q/8, full-range 4:2:0."""
    import av

    rgb = np.ascontiguousarray(rgb)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f"expected uint8 [H,W,3] RGB, got {rgb.dtype} {rgb.shape}")
    if not 1 <= qscale <= 31:
        raise ValueError(f"qscale must be in 1..31, got {qscale}")
    ctx = av.CodecContext.create("mjpeg", "w")
    ctx.width, ctx.height = rgb.shape[1], rgb.shape[0]
    ctx.pix_fmt = "yuvj420p"
    ctx.time_base = Fraction(1, 25)
    # qmin = qmax = Q pins the quantiser the way -qscale:v does on the command line.
    ctx.options = {
        "qmin": str(qscale),
        "qmax": str(qscale),
        "flags": "+qscale",
        "global_quality": str(qscale * 118),
    }
    ctx.open()
    frame = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuvj420p")
    packets = ctx.encode(frame) + ctx.encode(None)
    return b"".join(bytes(p) for p in packets)
