"""SSD training augmentation applied identically to every image of a micro-tube sample.

ssd.pytorch's ``SSDAugmentation`` (sizes in pixels until the end): photometric distortion, expand
onto a mean-filled canvas, random IoU-constrained crop, horizontal mirror, resize to 300 x 300,
subtract the BGR means (104, 117, 123), then reverse the channel order (the network sees RGB order with
BGR means subtracted: the ssd.pytorch quirk every checkpoint was trained with).

AMTNet stacks all images of a sample (both frames, every stacked flow image, both streams) in one
array, so one draw of the random parameters applies to all of them, photometric jitter on flow
included, and the mirror does not negate the flow x channel. The crop's IoU constraint uses, per
micro-tube, the IoU with the crop averaged over its frames, and keeps a micro-tube only if its box
centres lie inside the crop in every frame.

Expand followed by crop is computed as one window into the (never materialised) expanded canvas, so a
4x expand of a 15-channel flow stack costs no more than the crop it ends in; the result is the same.
"""

from __future__ import annotations

import argparse
from typing import Optional, Tuple

import cv2
import numpy as np

from core.boxes import iou_aligned

MEANS = (104.0, 117.0, 123.0)
AUGMENT_STEPS = ("photometric", "expand", "crop", "mirror")
CROP_MODES = (None, 0.1, 0.3, 0.5, 0.7, 0.9, -np.inf)


def photometric_distort(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """images float32 [N, H, W, 3] BGR 0..255 -> same, one random draw for all N images."""
    img = images
    if rng.integers(2):
        img = img + np.float32(rng.uniform(-32, 32))
    contrast_first = bool(rng.integers(2))

    def contrast(x: np.ndarray) -> np.ndarray:
        return x * np.float32(rng.uniform(0.5, 1.5)) if rng.integers(2) else x

    if contrast_first:
        img = contrast(img)
    do_sat, sat = bool(rng.integers(2)), np.float32(rng.uniform(0.5, 1.5))
    do_hue, hue = bool(rng.integers(2)), np.float32(rng.uniform(-18.0, 18.0))
    if do_sat or do_hue:
        hsv = np.stack([cv2.cvtColor(np.ascontiguousarray(f), cv2.COLOR_BGR2HSV) for f in img.astype(np.float32)])
        if do_sat:
            hsv[..., 1] *= sat
        if do_hue:
            h = hsv[..., 0] + hue
            h[h > 360.0] -= 360.0
            h[h < 0.0] += 360.0
            hsv[..., 0] = h
        img = np.stack([cv2.cvtColor(f, cv2.COLOR_HSV2BGR) for f in hsv])
    if not contrast_first:
        img = contrast(img)
    if rng.integers(2):  # random channel swap (6 permutations)
        perms = ((0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0))
        img = img[..., list(perms[rng.integers(6)])]
    return np.ascontiguousarray(img, dtype=np.float32)


def _sample_crop(
    boxes: np.ndarray, width: int, height: int, rng: np.random.Generator
) -> Tuple[Optional[np.ndarray], np.ndarray]:
    """boxes [G, S, 4] pixels on a width x height canvas -> (crop rect [4] int or None for no crop,
    mask [G] of the micro-tubes kept)."""
    while True:
        mode = CROP_MODES[rng.integers(len(CROP_MODES))]
        if mode is None:
            return None, np.ones(len(boxes), dtype=bool)
        for _ in range(50):
            w = rng.uniform(0.3 * width, width)
            h = rng.uniform(0.3 * height, height)
            if h / w < 0.5 or h / w > 2:
                continue
            left = rng.uniform(0, width - w)
            top = rng.uniform(0, height - h)
            rect = np.array([int(left), int(top), int(left + w), int(top + h)])
            overlap = iou_aligned(boxes, rect).mean(axis=1)  # [G] mean over frames
            if overlap.min() < mode:
                continue
            centres = (boxes[..., :2] + boxes[..., 2:]) / 2.0  # [G, S, 2]
            inside = ((centres[..., 0] > rect[0]) & (centres[..., 1] > rect[1])
                      & (centres[..., 0] < rect[2]) & (centres[..., 1] < rect[3])).all(axis=1)
            if not inside.any():
                continue
            return rect, inside


def _window(images: np.ndarray, left: int, top: int, rect: np.ndarray, fill: np.ndarray) -> np.ndarray:
    """The rect [x0, y0, x1, y1] of the canvas that holds ``images`` at (left, top) on a ``fill`` background."""
    n, h, w, c = images.shape
    x0, y0, x1, y1 = (int(v) for v in rect)
    out = np.empty((n, y1 - y0, x1 - x0, c), dtype=np.float32)
    out[:] = fill
    # source region of the image that falls inside the window
    sx0, sy0 = max(x0 - left, 0), max(y0 - top, 0)
    sx1, sy1 = min(x1 - left, w), min(y1 - top, h)
    if sx1 > sx0 and sy1 > sy0:
        out[:, sy0 + top - y0:sy1 + top - y0, sx0 + left - x0:sx1 + left - x0] = images[:, sy0:sy1, sx0:sx1]
    return out


def finish(images: np.ndarray, size: int = 300, means=MEANS) -> np.ndarray:
    """Resize [N, H, W, 3] BGR to size x size (bilinear), subtract the BGR means, reverse channels
    -> float32 [N, 3, size, size] (the network's input layout)."""
    out = np.empty((images.shape[0], size, size, 3), dtype=np.float32)
    for i, f in enumerate(images):
        out[i] = cv2.resize(f, (size, size))
    out -= np.asarray(means, dtype=np.float32)
    return np.ascontiguousarray(out[..., ::-1].transpose(0, 3, 1, 2))


def parse_augment(text: str) -> Tuple[str, ...]:
    """'crop,mirror' -> ('crop', 'mirror'); 'none' or '' -> (). Unknown names: an argparse usage error
    naming them."""
    steps = tuple(s.strip() for s in text.split(",") if s.strip() and s.strip() != "none")
    bad = [s for s in steps if s not in AUGMENT_STEPS]
    if bad:
        raise argparse.ArgumentTypeError(f"unknown augmentation step(s) {bad}; expected a comma list of {', '.join(AUGMENT_STEPS)} or none")
    return steps


class MicroTubeAugmentation:
    """Training transform: (images float32 [N, H, W, 3] BGR, boxes [G, S, 4] normalised xyxy, labels [G])
    -> (images [N, 3, size, size], boxes [G', S, 4] normalised, labels [G'])."""

    def __init__(self, size: int = 300, means=MEANS, photometric: bool = True, expand: bool = True,
                 crop: bool = True, mirror: bool = True):
        self.size = size
        self.means = np.asarray(means, dtype=np.float32)
        self.photometric, self.expand, self.crop, self.mirror = photometric, expand, crop, mirror

    def __call__(self, images: np.ndarray, boxes: np.ndarray, labels: np.ndarray,
                 rng: Optional[np.random.Generator] = None):
        rng = rng if rng is not None else np.random.default_rng(np.random.randint(2**31))
        n, h, w, _ = images.shape
        boxes = boxes.astype(np.float64) * np.array([w, h, w, h])
        img = images.astype(np.float32, copy=False)
        if self.photometric:
            img = photometric_distort(img, rng)
        left = top = 0
        cw, ch = w, h
        if self.expand and rng.integers(2):
            ratio = rng.uniform(1, 4)
            left, top = int(rng.uniform(0, w * ratio - w)), int(rng.uniform(0, h * ratio - h))
            cw, ch = int(w * ratio), int(h * ratio)
            boxes = boxes + np.array([left, top, left, top])
        rect = None
        if self.crop:
            rect, keep = _sample_crop(boxes, cw, ch, rng)
            if rect is not None:
                boxes, labels = boxes[keep], labels[keep]
                boxes = np.concatenate([np.maximum(boxes[..., :2], rect[:2]), np.minimum(boxes[..., 2:], rect[2:])], -1)
                boxes = boxes - np.array([rect[0], rect[1], rect[0], rect[1]])
        if rect is None:
            rect = np.array([0, 0, cw, ch])
        if left or top or tuple(int(v) for v in rect) != (0, 0, w, h):
            img = _window(img, left, top, rect, self.means)
        out_h, out_w = img.shape[1:3]
        if self.mirror and rng.integers(2):
            img = img[:, :, ::-1]
            boxes = boxes.copy()
            boxes[..., [0, 2]] = out_w - boxes[..., [2, 0]]
        boxes = boxes / np.array([out_w, out_h, out_w, out_h])
        return finish(img, self.size, self.means), boxes.astype(np.float32), labels


class BaseTransform:
    """Test transform: resize to size x size, subtract the BGR means, reverse channels."""

    def __init__(self, size: int = 300, means=MEANS):
        self.size = size
        self.means = means

    def __call__(self, images: np.ndarray) -> np.ndarray:
        return finish(images.astype(np.float32, copy=False), self.size, self.means)
