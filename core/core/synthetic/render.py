"""OpenCV/numpy rendering of a :class:`~core.synthetic.world.Scene`.

Each frame: the world texture cropped at the camera offset, distractor props, the actors (far to
near) with their props, then occluders. Alongside the RGB frame an id mask records which entity owns
each visible pixel: 0 background, ``k + 1`` actor k, ``PROP_ID + j`` prop j, ``-1`` an occluder.

Ground-truth boxes come from the renderer too: each actor and prop is also drawn alone on an empty
canvas, and its box is the bounding rectangle of those pixels (the amodal box: occluders and other
actors do not shrink it, the image border does). Boxes are 0-based inclusive pixel indices
``x1, y1, x2, y2``; NaN where the entity has no pixel in the frame.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Tuple

import cv2
import numpy as np

from core.synthetic.world import HEAD, HEAD_R, SEGMENTS, Actor, Palette, Prop, Scene

PROP_ID = 1000
_SHIFT = 4  # sub-pixel bits for cv2 drawing
_ONE = 1 << _SHIFT
_BEHIND = {"bike", "horse", "board", "trampoline", "rope", "bar", "dog"}


def _pt(x: float, y: float) -> Tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


def background_texture(seed: int, size: Tuple[int, int], palette: Optional[Palette] = None) -> np.ndarray:
    """A textured world backdrop [H, W, 3] uint8: sky/ground gradient, blobs, block shapes, grain.

    ``palette`` (sky RGB, ground RGB) fixes the gradient's two colours up to +-20 per channel (a place:
    a class's scene); without it they are random."""
    rng = np.random.default_rng(seed)
    H, W = size
    top, bottom = rng.integers(60, 220, size=3), rng.integers(30, 180, size=3)
    if palette is not None:  # same draws as without a palette, so the rest of the texture is unchanged
        top = np.clip(np.asarray(palette[0]) + (top - 140) // 4, 0, 255)
        bottom = np.clip(np.asarray(palette[1]) + (bottom - 105) // 4, 0, 255)
    horizon = int(H * rng.uniform(0.3, 0.55))
    ramp = np.clip((np.arange(H) - horizon) / 8.0, 0, 1)[:, None]
    img = (top[None, :] * (1 - ramp) + bottom[None, :] * ramp)[:, None, :] * np.ones((1, W, 1))
    low = rng.uniform(-35, 35, size=(max(2, H // 24), max(2, W // 24), 3))
    img += cv2.resize(low, (W, H), interpolation=cv2.INTER_CUBIC)
    img = np.clip(img, 0, 255).astype(np.uint8)
    for _ in range(int(rng.integers(6, 14))):  # buildings, trees, stripes
        c = tuple(int(v) for v in rng.integers(20, 235, size=3))
        x, w = int(rng.integers(0, W)), int(rng.integers(8, max(9, W // 6)))
        if rng.random() < 0.6:
            y1 = int(rng.integers(0, horizon + 1))
            cv2.rectangle(img, (x, y1), (x + w, horizon + 2), c, -1)
        else:
            cv2.circle(img, (x, int(rng.integers(0, H))), w // 2 + 2, c, -1)
    for k in range(int(rng.integers(3, 8))):  # ground stripes: make camera motion visible in flow
        y = horizon + int((H - horizon) * (k + 1) / 9)
        cv2.line(img, (0, y), (W, y + int(rng.integers(-20, 20))), tuple(int(v) for v in rng.integers(0, 255, 3)), 1)
    grain = rng.normal(0, 6, size=(H, W, 1))
    return np.clip(img + grain, 0, 255).astype(np.uint8)


def draw_actor(img: np.ndarray, actor: Actor, f: int, offset: np.ndarray, colour=None, head_colour=None) -> None:
    """Draw actor ``actor`` at frame ``f`` onto ``img`` (RGB or single channel) shifted by -offset."""
    j = actor.joints[f] - offset[None, :]
    th = int(actor.thickness[f])
    col = actor.body_colour if colour is None else colour
    hcol = actor.head_colour if head_colour is None else head_colour
    for a, b in SEGMENTS:
        cv2.line(img, _pt(*j[a]), _pt(*j[b]), col, th, cv2.LINE_8, _SHIFT)
    r = max(2.0, HEAD_R * actor.h[f])
    cv2.circle(img, _pt(*j[HEAD]), int(round(r * _ONE)), hcol, -1, cv2.LINE_8, _SHIFT)


def draw_prop(img: np.ndarray, prop: Prop, f: int, offset: np.ndarray, colour=None) -> None:
    """Draw prop ``prop`` at frame ``f`` onto ``img`` shifted by -offset."""
    x, y, s, a = prop.state[f]
    x, y = x - offset[0], y - offset[1]
    col = prop.colour if colour is None else colour
    th = max(2, int(round(0.06 * s))) if prop.kind in ("stick", "pole", "rope", "bar") else max(2, int(round(0.05 * s)))
    if prop.kind in ("stick", "pole"):
        back = 0.3 if prop.kind == "pole" else 0.0
        d = np.array([np.cos(a), np.sin(a)])
        p1, p2 = np.array([x, y]) - back * s * d, np.array([x, y]) + (1 - back) * s * d
        cv2.line(img, _pt(*p1), _pt(*p2), col, max(2, int(round(0.02 * s / (0.9 if back else 0.45)))), cv2.LINE_8, _SHIFT)
    elif prop.kind == "ball":
        cv2.circle(img, _pt(x, y), int(round(max(2.0, s) * _ONE)), col, -1, cv2.LINE_8, _SHIFT)
    elif prop.kind in ("box", "board", "trampoline"):
        hh = {"box": 0.8, "board": 0.12, "trampoline": 0.1}[prop.kind] * s
        ang = a if prop.kind != "trampoline" else 0.0
        pts = cv2.boxPoints(((float(x), float(y)), (float(s), float(max(hh, 2.0))), float(np.degrees(ang))))
        cv2.fillConvexPoly(img, np.round(pts * _ONE).astype(np.int32), col, cv2.LINE_8, _SHIFT)
        if prop.kind == "trampoline":
            for sx in (-0.4, 0.4):
                cv2.line(img, _pt(x + sx * s, y), _pt(x + sx * s, y + 0.15 * s), col, th, cv2.LINE_8, _SHIFT)
    elif prop.kind == "bike":
        r = 0.28 * s
        dx = 0.35 * s
        for sx in (-dx, dx):
            cv2.circle(img, _pt(x + sx, y), int(round(r * _ONE)), col, th, cv2.LINE_8, _SHIFT)
        cv2.line(img, _pt(x - dx, y), _pt(x, y - 0.3 * s), col, th, cv2.LINE_8, _SHIFT)
        cv2.line(img, _pt(x + dx, y), _pt(x, y - 0.3 * s), col, th, cv2.LINE_8, _SHIFT)
    elif prop.kind in ("horse", "dog"):
        d = 1.0 if np.cos(a) >= 0 else -1.0
        body_y = y - (0.1 if prop.kind == "horse" else 0.0) * s
        leg = 0.34 * s if prop.kind == "horse" else 0.2 * s
        cv2.ellipse(img, _pt(x, body_y), (int(0.45 * s * _ONE), int(0.18 * s * _ONE)), 0, 0, 360, col, -1,
                    cv2.LINE_8, _SHIFT)
        for sx in (-0.3, -0.15, 0.2, 0.32):
            cv2.line(img, _pt(x + sx * s, body_y), _pt(x + sx * s, body_y + 0.1 * s + leg), col, th, cv2.LINE_8, _SHIFT)
        cv2.line(img, _pt(x + d * 0.4 * s, body_y), _pt(x + d * 0.55 * s, body_y - 0.3 * s), col, 2 * th,
                 cv2.LINE_8, _SHIFT)
        cv2.circle(img, _pt(x + d * 0.6 * s, body_y - 0.32 * s), int(0.1 * s * _ONE), col, -1, cv2.LINE_8, _SHIFT)
    elif prop.kind == "rope":
        cv2.line(img, _pt(x, -10.0 - offset[1]), _pt(x, y), col, th, cv2.LINE_8, _SHIFT)
    elif prop.kind == "bar":
        cv2.line(img, _pt(x - s / 2, y), _pt(x + s / 2, y), col, th, cv2.LINE_8, _SHIFT)
    else:
        raise ValueError(f"unknown prop kind {prop.kind!r}")


def _bbox(canvas: np.ndarray) -> np.ndarray:
    x, y, w, h = cv2.boundingRect(canvas)
    if w == 0 or h == 0:
        return np.full(4, np.nan)
    return np.array([x, y, x + w - 1, y + h - 1], dtype=np.float64)


@dataclass
class Rendered:
    """frames [T, H, W, 3] uint8 RGB; ids [T, H, W] int16; actor_boxes [A, T, 4]; prop_boxes [P, T, 4]
    (0-based inclusive x1, y1, x2, y2, NaN when absent); area [A, T] an actor's pixels inside the
    image; visible [A, T] the fraction of those not hidden by anything drawn in front of it."""

    frames: np.ndarray
    ids: np.ndarray
    actor_boxes: np.ndarray
    prop_boxes: np.ndarray
    area: np.ndarray
    visible: np.ndarray


def render_scene(scene: Scene, texture: Optional[np.ndarray] = None) -> Rendered:
    """Render every frame of ``scene`` with its id mask and amodal boxes."""
    if texture is None:
        texture = background_texture(scene.background_seed, scene.background_size, scene.background_palette)
    T, H, W = scene.num_frames, scene.height, scene.width
    A, P = len(scene.actors), len(scene.props)
    frames = np.empty((T, H, W, 3), np.uint8)
    ids = np.empty((T, H, W), np.int16)
    actor_boxes = np.full((A, T, 4), np.nan)
    prop_boxes = np.full((P, T, 4), np.nan)
    area = np.zeros((A, T))
    canvas = np.zeros((H, W), np.uint8)
    ground_y = np.array([a.joints[:, :, 1].max(axis=1) for a in scene.actors]) if A else np.zeros((0, T))
    for f in range(T):
        off = scene.camera[f].astype(np.float64)
        ox, oy = int(off[0]), int(off[1])
        img = np.ascontiguousarray(texture[oy:oy + H, ox:ox + W])
        idm = np.zeros((H, W), np.int16)
        for p, prop in enumerate(scene.props):
            if not prop.present[f]:
                continue
            canvas[:] = 0
            draw_prop(canvas, prop, f, off, 255)
            prop_boxes[p, f] = _bbox(canvas)
            if prop.owner < 0:
                draw_prop(img, prop, f, off)
                draw_prop(idm, prop, f, off, PROP_ID + p)
        order = np.argsort(ground_y[:, f], kind="stable") if A else []
        for k in order:
            actor = scene.actors[k]
            if not actor.present[f]:
                continue
            owned = [p for p, prop in enumerate(scene.props) if prop.owner == k and prop.present[f]]
            for p in owned:
                if scene.props[p].kind in _BEHIND:
                    draw_prop(img, scene.props[p], f, off)
                    draw_prop(idm, scene.props[p], f, off, PROP_ID + p)
            canvas[:] = 0
            draw_actor(canvas, actor, f, off, 255, 255)
            actor_boxes[k, f] = _bbox(canvas)
            area[k, f] = cv2.countNonZero(canvas)
            draw_actor(img, actor, f, off)
            draw_actor(idm, actor, f, off, int(k + 1), int(k + 1))
            for p in owned:
                if scene.props[p].kind not in _BEHIND:
                    draw_prop(img, scene.props[p], f, off)
                    draw_prop(idm, scene.props[p], f, off, PROP_ID + p)
        for (x1, y1, x2, y2), col in scene.occluders:
            cv2.rectangle(img, (x1 - ox, y1 - oy), (x2 - ox, y2 - oy), col, -1)
            cv2.rectangle(idm, (x1 - ox, y1 - oy), (x2 - ox, y2 - oy), -1, -1)
        frames[f] = img
        ids[f] = idm
    counts = np.zeros((A, T))
    if A:
        for f in range(T):
            c = np.bincount(np.clip(ids[f].ravel(), 0, A + 1).astype(np.int64), minlength=A + 2)
            counts[:, f] = c[1:A + 1]
    visible = np.divide(counts, area, out=np.zeros_like(counts), where=area > 0)
    return Rendered(frames, ids, actor_boxes, prop_boxes, area, visible)
