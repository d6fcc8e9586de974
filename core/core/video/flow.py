"""Dense optical flow and its 8-bit JPEG quantisation, as gurkirt/optical-flow computed them.

Flow for frame ``t`` goes from frame ``t`` to ``t+1``; the last frame reuses the pair ``(t-1, t)``.
Frames are converted to grey first. The stored image has, per pixel and with ``s = 128 // bound``
(integer division: 16 for the default bound 8),

    R = x*s + 128,   G = y*s + 128,   B = sqrt(x^2 + y^2)*s + 128,

clipped to [0, 255] and rounded half-to-even (``cvRound``), computed in float32 like the original.
So |x|, |y| < 8 survive with a rounding error of at most 1/32 pixel (before JPEG loss).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Union

import numpy as np

from core.errors import DataError

PathLike = Union[str, "os.PathLike[str]"]

# OpenCV-CUDA FarnebackOpticalFlow defaults used by the original (method 1).
FARNEBACK_DEFAULTS = dict(
    pyr_scale=0.5, levels=5, winsize=13, iterations=10, poly_n=5, poly_sigma=1.1, flags=0
)
# The original's cuda::OpticalFlowDual_TVL1::create(0.25, 0.15, 0.3, 5, 5, 0.01, 300, 0.8, 0.0). The
# CPU implementation splits its 300 iterations into outer x inner = 10 x 30 (its defaults).
TVL1_DEFAULTS = dict(
    tau=0.25,
    lambda_=0.15,
    theta=0.3,
    nscales=5,
    warps=5,
    epsilon=0.01,
    inner_iterations=30,
    outer_iterations=10,
    scale_step=0.8,
    gamma=0.0,
)
METHODS = ("farneback", "tvl1")


def _check_pair(prev_gray: np.ndarray, next_gray: np.ndarray) -> None:
    if prev_gray.ndim != 2 or prev_gray.shape != next_gray.shape:
        raise ValueError(
            f"expected two grey images of one shape [H,W], got {prev_gray.shape} and {next_gray.shape}"
        )


def farneback_flow(prev_gray: np.ndarray, next_gray: np.ndarray, **params) -> np.ndarray:
    """Farneback flow between two uint8 [H,W] grey images -> float32 [H,W,2] (x, y) in pixels.
    ``params`` override :data:`FARNEBACK_DEFAULTS` (names of ``cv2.calcOpticalFlowFarneback``)."""
    import cv2

    _check_pair(prev_gray, next_gray)
    p = {**FARNEBACK_DEFAULTS, **params}
    return cv2.calcOpticalFlowFarneback(prev_gray, next_gray, None, **p)


def _tvl1_factory():
    import cv2

    optflow = getattr(cv2, "optflow", None)
    if optflow is not None and hasattr(optflow, "DualTVL1OpticalFlow_create"):
        return optflow.DualTVL1OpticalFlow_create
    if hasattr(cv2, "DualTVL1OpticalFlow_create"):  # OpenCV 3.x main modules
        return cv2.DualTVL1OpticalFlow_create
    raise RuntimeError(tvl1_missing_message())


def tvl1_missing_message() -> str:
    import cv2

    return (
        "TV-L1 optical flow needs OpenCV's contrib module cv2.optflow, which this OpenCV "
        f"({cv2.__version__}) lacks: install opencv-contrib-python-headless (instead of "
        "opencv-python-headless) or use method 'farneback'"
    )


def tvl1_available() -> bool:
    try:
        _tvl1_factory()
        return True
    except RuntimeError:
        return False


def tvl1_flow(prev_gray: np.ndarray, next_gray: np.ndarray, **params) -> np.ndarray:
    """Dual TV-L1 flow (``cv2.optflow``, opencv-contrib only) -> float32 [H,W,2]. ``params``
    override :data:`TVL1_DEFAULTS`. Raises RuntimeError naming the package when unavailable."""
    _check_pair(prev_gray, next_gray)
    unknown = set(params) - set(TVL1_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown TV-L1 parameters {sorted(unknown)}; known: {list(TVL1_DEFAULTS)}")
    p = {**TVL1_DEFAULTS, **params}
    # Positional: the binding's keyword for inner iterations is misspelt ("innnerIterations").
    algo = _tvl1_factory()(*(p[k] for k in TVL1_DEFAULTS))
    return algo.calc(prev_gray, next_gray, None)


_FLOW_FUNCS = {"farneback": farneback_flow, "tvl1": tvl1_flow}


def _flow_fn(method: str):
    try:
        return _FLOW_FUNCS[method]
    except KeyError:
        raise ValueError(f"unknown flow method {method!r}; choose one of {', '.join(METHODS)}") from None


def to_gray(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 [H,W,3] -> grey uint8 [H,W] (ITU-R 601 weights, as OpenCV's imread(GRAYSCALE))."""
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY)


def video_flow(frames: np.ndarray, method: str = "farneback", **params) -> np.ndarray:
    """Flow of every frame: frames uint8 [T,H,W,3] RGB (T >= 2) -> float32 [T,H,W,2].
    ``flow[t]`` is from frame t to t+1; ``flow[T-1]`` repeats the pair (T-2, T-1)."""
    frames = np.asarray(frames)
    if frames.ndim != 4 or len(frames) < 2:
        raise ValueError(f"video_flow needs [T,H,W,3] frames with T >= 2, got shape {frames.shape}")
    fn = _flow_fn(method)
    gray = [to_gray(f) for f in frames]
    out = np.empty(frames.shape[:3] + (2,), np.float32)
    for t in range(len(frames) - 1):
        out[t] = fn(gray[t], gray[t + 1], **params)
    out[-1] = out[-2]
    return out


def _scale(bound: int) -> int:
    if int(bound) != bound or not 1 <= bound <= 128:
        raise ValueError(f"bound must be an integer in 1..128, got {bound}")
    return 128 // int(bound)


def flow_to_image(flow: np.ndarray, bound: int = 8) -> np.ndarray:
    """Quantise flow float [...,H,W,2] (x, y) to uint8 [...,H,W,3] RGB = (x, y, magnitude), each
    ``v * (128 // bound) + 128`` clipped to [0, 255] and rounded half-to-even."""
    flow = np.asarray(flow, dtype=np.float32)
    if flow.shape[-1] != 2:
        raise ValueError(f"flow must end in 2 channels (x, y), got shape {flow.shape}")
    s = np.float32(_scale(bound))
    x, y = flow[..., 0], flow[..., 1]
    mag = np.sqrt(x * x + y * y)
    img = np.stack([x * s, y * s, mag * s], axis=-1) + np.float32(128)
    return np.rint(np.clip(img, 0, 255)).astype(np.uint8)


def image_to_flow(img: np.ndarray, bound: int = 8) -> np.ndarray:
    """Inverse of :func:`flow_to_image`: uint8 [...,H,W,3] RGB -> float32 [...,H,W,2] (x, y) in
    pixels, ``(channel - 128) / (128 // bound)``. The magnitude channel is ignored."""
    img = np.asarray(img)
    if img.shape[-1] < 2:
        raise ValueError(f"flow image must have the x and y channels, got shape {img.shape}")
    return (img[..., :2].astype(np.float32) - np.float32(128)) / np.float32(_scale(bound))


def flow_folder(
    frames_dir: PathLike,
    out_dir: PathLike,
    method: str = "farneback",
    bound: int = 8,
    quality: int = 95,
    **params,
) -> int:
    """Flow images for a folder of numbered frames, written to ``out_dir`` under the same file
    names (JPEG at ``quality``, 95 = the original's ``imwrite`` default; .png inputs give PNGs).

    Resumable at folder level: the images are written into a hidden staging folder renamed to
    ``out_dir`` at the end, so an existing non-empty ``out_dir`` is complete and is skipped.
    Returns the number of flow images in ``out_dir``.
    """
    from core.video.batch import publish_dir, staging_dir
    from core.video.decode import list_frame_files
    from core.video.images import read_image, write_image

    frames_dir, out_dir = Path(frames_dir), Path(out_dir)
    fn = _flow_fn(method)
    files = list_frame_files(frames_dir)
    if out_dir.is_dir() and any(out_dir.iterdir()):
        return sum(1 for f in files if (out_dir / f.name).exists())
    if len(files) < 2:
        raise DataError(frames_dir, f"optical flow needs at least 2 frames, found {len(files)}")
    tmp = staging_dir(out_dir)
    prev = to_gray(read_image(files[0]))
    img = None
    for t in range(1, len(files)):
        nxt = to_gray(read_image(files[t]))
        if nxt.shape != prev.shape:
            raise DataError(
                files[t], f"frame size {nxt.shape} differs from the previous frame's {prev.shape}"
            )
        img = flow_to_image(fn(prev, nxt, **params), bound)
        write_image(tmp / files[t - 1].name, img, quality)
        prev = nxt
    write_image(tmp / files[-1].name, img, quality)  # last frame: the (T-2, T-1) pair again
    publish_dir(tmp, out_dir)
    return len(files)
