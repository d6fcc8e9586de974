"""The deterministic procedural world: articulated stick-figure actors, props, distractors, camera.

Everything is a function of time computed for all frames at once (arrays over T). An action class is
a :class:`Motion`: what the figure's limbs, body and position do over time, and which prop it uses.
Several classes differ only in time (walking vs running at the same stride, sitting down vs standing
up, climbing up vs down, cartwheels one way or the other), so a single frame cannot tell them apart
and flow or frame stacks can.

Coordinates: world pixels, x right, y down. The camera maps world to image by subtracting its offset
(:attr:`Scene.camera`). A figure's size ``h`` is its standing height in pixels.

Skeleton joints (index order of ``Actor.joints``)::

    0 hip  1 neck  2 head  3 l_elbow  4 l_hand  5 r_elbow  6 r_hand  7 l_knee  8 l_foot  9 r_knee  10 r_foot
"""

from __future__ import annotations

import colorsys
from dataclasses import dataclass, field
from typing import List, Optional, Sequence, Tuple

import numpy as np

HIP, NECK, HEAD, L_ELBOW, L_HAND, R_ELBOW, R_HAND, L_KNEE, L_FOOT, R_KNEE, R_FOOT = range(11)
SEGMENTS: Tuple[Tuple[int, int], ...] = (
    (HIP, NECK), (NECK, L_ELBOW), (L_ELBOW, L_HAND), (NECK, R_ELBOW), (R_ELBOW, R_HAND),
    (HIP, L_KNEE), (L_KNEE, L_FOOT), (HIP, R_KNEE), (R_KNEE, R_FOOT),
)  # fmt: skip
# Limb lengths in figure heights: torso, neck->head centre, upper arm, forearm, thigh, shin.
TORSO, HEADOFF, UPPER, FORE, THIGH, SHIN = 0.30, 0.11, 0.16, 0.15, 0.24, 0.24
HEAD_R = 0.085

PROP_KINDS = (
    "ball", "stick", "pole", "box", "board", "bike", "horse", "dog", "rope", "bar", "trampoline", "stairs",
)  # fmt: skip


@dataclass(frozen=True)
class Motion:
    """A motion program. Speeds in figure heights per second; angles in radians; frequencies in Hz.

    legs: still | swing | pedal | kick | crouch | tuck | climb | sit_down | stand_up | glide | lunge | wide
    arms: down | swing | wave | clap | windmill | strike | forward | up | climb | dribble | brush | golf |
          bow | gun | pour | raise | hang | throw | gesture | shake | side
    hop: none | periodic | once (a single jump in the middle of the action)
    fall: none | down | up (tilt to / from lying over the action)
    prop: '' or '<kind>:<how>', how in hand | bounce | foot | thrown | kicked | stick | under | follow |
          rope | bar | ground | push | pick | put | caught
    move: 'forward' (along the facing direction) or 'backward' (moonwalk: same pose, opposite travel)
    """

    vx: float = 0.0
    vy: float = 0.0
    legs: str = "still"
    leg_amp: float = 0.5
    leg_freq: float = 1.5
    arms: str = "down"
    arm_amp: float = 0.6
    arm_freq: float = 1.5
    hop: str = "none"
    hop_amp: float = 0.0
    hop_freq: float = 1.0
    lean: float = 0.0
    spin: float = 0.0
    flip: float = 0.0
    fall: str = "none"
    prop: str = ""
    move: str = "forward"
    group: int = 1
    pair: str = ""


def smoothstep(u: np.ndarray) -> np.ndarray:
    u = np.clip(u, 0.0, 1.0)
    return u * u * (3 - 2 * u)


@dataclass
class Pose:
    """Joint angles over time, all [T]: angles from the downward vertical, positive = forward."""

    lean: np.ndarray
    sa_l: np.ndarray
    ea_l: np.ndarray
    sa_r: np.ndarray
    ea_r: np.ndarray
    ha_l: np.ndarray
    ka_l: np.ndarray
    ha_r: np.ndarray
    ka_r: np.ndarray
    rot: np.ndarray
    hop: np.ndarray
    dx: np.ndarray  # extra forward offset (lunges), figure heights


def idle_pose(t: np.ndarray, phase: float) -> Pose:
    """Standing with a slight sway. t: [T] seconds."""
    z = np.zeros_like(t)
    sway = 0.04 * np.sin(2 * np.pi * 0.4 * t + phase)
    return Pose(sway, z + 0.12, z + 0.2, z - 0.12, z + 0.2, z + 0.06, z, z - 0.06, z, z, z, z)


def motion_pose(m: Motion, t: np.ndarray, u: np.ndarray, phase: float) -> Pose:
    """Pose of motion ``m`` at action times ``t`` [T] (s) with progress ``u`` [T] in [0, 1]."""
    p = idle_pose(t, phase)
    wl = 2 * np.pi * m.leg_freq * t + phase
    wa = 2 * np.pi * m.arm_freq * t + phase
    s = np.sin(wl)
    a = m.leg_amp
    p.lean = p.lean + m.lean
    # hop first: tucking legs depends on it
    if m.hop == "periodic":
        p.hop = m.hop_amp * np.abs(np.sin(np.pi * m.hop_freq * t + phase))
    elif m.hop == "once":
        p.hop = m.hop_amp * np.sin(np.pi * np.clip((u - 0.45) / 0.35, 0, 1))
    legs = m.legs
    if legs == "swing":
        p.ha_l, p.ha_r = a * s, -a * s
        p.ka_l, p.ka_r = 1.3 * a * np.maximum(0, -s), 1.3 * a * np.maximum(0, s)
    elif legs == "pedal":
        p.ha_l, p.ha_r = 1.0 + 0.4 * s, 1.0 - 0.4 * s
        p.ka_l, p.ka_r = 1.2 + 0.5 * np.cos(wl), 1.2 - 0.5 * np.cos(wl)
    elif legs == "kick":
        k = a * np.maximum(0, np.sin(wl)) ** 3
        p.ha_r, p.ka_r = 2.2 * k, 0.4 * k
    elif legs == "crouch":
        k = a * (0.5 - 0.5 * np.cos(wl))
        p.ha_l = p.ha_r = k
        p.ka_l = p.ka_r = 2 * k
        p.lean = p.lean + 0.5 * k
    elif legs == "tuck":
        k = 1.4 * p.hop / max(m.hop_amp, 1e-6)
        p.ha_l, p.ha_r, p.ka_l, p.ka_r = k, 0.8 * k, 1.6 * k, 1.4 * k
    elif legs == "climb":
        p.ha_l, p.ha_r = 0.6 + 0.5 * s, 0.6 - 0.5 * s
        p.ka_l, p.ka_r = 0.9 + 0.6 * s, 0.9 - 0.6 * s
    elif legs in ("sit_down", "stand_up"):
        k = smoothstep(u if legs == "sit_down" else 1 - u) * (np.pi / 2)
        p.ha_l = p.ha_r = k
        p.ka_l = p.ka_r = k
        p.lean = p.lean - 0.15 * k
    elif legs == "glide":
        p.ha_l, p.ha_r, p.ka_l, p.ka_r = p.ha_l + 0.25, p.ha_r - 0.25, p.ka_l + 0.35, p.ka_r + 0.35
        p.lean = p.lean + 0.25 + 0.1 * np.sin(wl)
    elif legs == "lunge":
        p.ha_l, p.ha_r, p.ka_l = p.ha_l - 0.45, p.ha_r + 0.45 + 0.2 * np.maximum(0, s), p.ka_l + 0.3
        p.dx = 0.25 * np.maximum(0, s) ** 2
    elif legs == "wide":
        p.ha_l, p.ha_r = p.ha_l - 0.3, p.ha_r + 0.3
    arms = m.arms
    sa = np.sin(wa)
    if arms == "swing":
        p.sa_l, p.sa_r = -m.arm_amp * s, m.arm_amp * s
        p.ea_l = p.ea_r = 0.4 + 0 * s
    elif arms == "wave":
        p.sa_r, p.ea_r = 2.7 + 0 * s, m.arm_amp * sa
    elif arms == "clap":
        p.sa_l = p.sa_r = 1.3 + m.arm_amp * sa
        p.ea_l = p.ea_r = 0.3 + 0 * s
    elif arms == "windmill":
        p.sa_r, p.ea_r = wa, 0.0 * s
    elif arms in ("strike", "throw"):
        c = np.mod(m.arm_freq * t + phase / (2 * np.pi), 1.0) if arms == "strike" else u
        p.sa_r = 2.9 - 3.2 * smoothstep((c - 0.35) / 0.3) + 0.3 * smoothstep(c / 0.35)
        p.ea_r = 0.6 * (1 - smoothstep((c - 0.35) / 0.3))
    elif arms == "forward":
        p.sa_l = p.sa_r = 1.45 + 0 * s
        p.ea_l = p.ea_r = 0.15 + 0 * s
    elif arms == "up":
        p.sa_l, p.sa_r = 2.8 + 0.1 * sa, 2.9 - 0.1 * sa
        p.ea_l = p.ea_r = 0.1 + 0 * s
    elif arms == "climb":
        p.sa_l, p.sa_r = 2.7 + 0.35 * sa, 2.7 - 0.35 * sa
        p.ea_l, p.ea_r = 0.3 + 0.3 * sa, 0.3 - 0.3 * sa
    elif arms == "dribble":
        p.sa_r, p.ea_r = 0.9 + 0 * s, 0.3 + 0.5 * (0.5 + 0.5 * sa)
    elif arms == "brush":
        p.sa_r, p.ea_r = 2.3 + 0 * s, 1.9 + 0.45 * sa
    elif arms == "golf":
        g = m.arm_amp * np.sin(wa)
        p.sa_l = p.sa_r = g
        p.ea_l = p.ea_r = 0.1 + 0 * s
        p.lean = p.lean + 0.35
    elif arms == "bow":
        draw = smoothstep(np.mod(m.arm_freq * t, 1.0) / 0.7)
        p.sa_l, p.ea_l = 1.57 + 0 * s, 0 * s
        p.sa_r, p.ea_r = 1.57 - 0.3 * draw, 2.4 * draw
    elif arms == "gun":
        recoil = np.exp(-8 * np.mod(m.arm_freq * t, 1.0))
        p.sa_r, p.ea_r = 1.57 + 0.35 * recoil, 0 * s
        p.sa_l, p.ea_l = 1.45 + 0 * s, 0.3 + 0 * s
    elif arms == "pour":
        p.sa_r, p.ea_r = 1.2 + 0.5 * smoothstep(u), 0.3 + 0 * s
    elif arms == "raise":
        p.sa_r, p.ea_r = 0.3 + 2.3 * smoothstep(u), 0.2 + 0 * s
    elif arms == "hang":
        p.sa_l = p.sa_r = np.pi + 0 * s
        p.ea_l = p.ea_r = 1.2 * p.hop / max(m.hop_amp, 1e-6)
    elif arms == "gesture":
        p.sa_r, p.ea_r = 0.8 + 0.2 * sa, 0.6 + 0.5 * np.sin(2.3 * wa)
    elif arms == "shake":
        p.sa_r, p.ea_r = 1.3 + 0.15 * np.sin(2 * wa), 0.2 + 0 * s
    elif arms == "side":
        p.sa_l, p.sa_r = 1.9 + 0 * s, 1.9 + 0 * s
    if m.fall != "none":
        k = smoothstep(u if m.fall == "down" else 1 - u)
        p.rot = p.rot - k * (np.pi / 2)
    if m.spin:
        p.rot = p.rot + 2 * np.pi * m.spin * t
    return p


def pose_joints(p: Pose, facing: np.ndarray) -> np.ndarray:
    """Joint positions relative to the ground point below the hip, y up, in figure heights.

    p: Pose with [T] arrays; facing: [T] in {-1, +1}. Returns [T, 11, 2]. The lowest point of the body
    rests at height ``p.hop`` (so rotated or fallen figures lie on the ground).
    """
    T = len(p.lean)
    j = np.zeros((T, 11, 2))

    def unit(angle: np.ndarray) -> np.ndarray:  # angle from the downward vertical
        return np.stack([np.sin(angle), -np.cos(angle)], axis=-1)

    j[:, NECK] = -unit(p.lean) * TORSO
    j[:, HEAD] = j[:, NECK] - unit(p.lean) * HEADOFF
    j[:, L_ELBOW] = j[:, NECK] + unit(p.sa_l) * UPPER
    j[:, L_HAND] = j[:, L_ELBOW] + unit(p.sa_l + p.ea_l) * FORE
    j[:, R_ELBOW] = j[:, NECK] + unit(p.sa_r) * UPPER
    j[:, R_HAND] = j[:, R_ELBOW] + unit(p.sa_r + p.ea_r) * FORE
    j[:, L_KNEE] = unit(p.ha_l) * THIGH
    j[:, L_FOOT] = j[:, L_KNEE] + unit(p.ha_l - p.ka_l) * SHIN
    j[:, R_KNEE] = unit(p.ha_r) * THIGH
    j[:, R_FOOT] = j[:, R_KNEE] + unit(p.ha_r - p.ka_r) * SHIN
    j[:, :, 0] += p.dx[:, None]
    j[:, :, 0] *= facing[:, None]
    c, s = np.cos(p.rot * facing), np.sin(p.rot * facing)
    x, y = j[:, :, 0].copy(), j[:, :, 1].copy()
    j[:, :, 0] = c[:, None] * x - s[:, None] * y
    j[:, :, 1] = s[:, None] * x + c[:, None] * y
    low = np.minimum(j[:, :, 1].min(axis=1), j[:, HEAD, 1] - HEAD_R)
    j[:, :, 1] += (p.hop - low)[:, None]
    return j


@dataclass
class Actor:
    """One figure over the scene's T frames. joints: [T, 11, 2] world px; h: [T] px; present: [T] bool
    (drawn at all); labels: per frame a tuple of action names (empty = no annotated action)."""

    joints: np.ndarray
    h: np.ndarray
    present: np.ndarray
    body_colour: Tuple[int, int, int]
    head_colour: Tuple[int, int, int]
    labels: List[Tuple[str, ...]]
    person_id: int = 0
    facing: Optional[np.ndarray] = None

    @property
    def thickness(self) -> np.ndarray:
        return np.maximum(2, np.round(0.06 * self.h)).astype(np.int64)


@dataclass
class Prop:
    """An object over T frames: state [T, 4] = (x, y, size, angle) in world px / radians; present [T]."""

    kind: str
    state: np.ndarray
    present: np.ndarray
    colour: Tuple[int, int, int]
    owner: int = -1  # index of the actor using it, -1 for a distractor


Palette = Tuple[Tuple[int, int, int], Tuple[int, int, int]]


def class_palette(label: int, num_classes: int) -> Palette:
    """The place of class ``label``: a sky and a ground colour (RGB). Hues are spread evenly over pairs of
    classes; the two classes of a pair differ in the sky's brightness and the ground's hue."""
    pairs = max((num_classes + 1) // 2, 1)
    hue, odd = (label // 2) / pairs, label % 2
    sky = colorsys.hsv_to_rgb(hue, 0.45, 0.65 if odd else 0.95)
    ground = colorsys.hsv_to_rgb((hue + (2 / 3 if odd else 1 / 3)) % 1.0, 0.6, 0.55)
    return (tuple(int(round(255 * c)) for c in sky), tuple(int(round(255 * c)) for c in ground))  # type: ignore


@dataclass
class Scene:
    """A rendered-to-be scene. camera: [T, 2] int world offset of the image's top-left pixel."""

    width: int
    height: int
    fps: float
    actors: List[Actor]
    props: List[Prop]
    occluders: List[Tuple[Tuple[int, int, int, int], Tuple[int, int, int]]]  # world x1,y1,x2,y2 ; colour
    camera: np.ndarray
    background_seed: int
    background_size: Tuple[int, int]  # (h, w) of the world texture
    cuts: List[int] = field(default_factory=list)  # frame indices where a shot starts (AVA)
    background_palette: Optional[Palette] = None  # (sky RGB, ground RGB) of a class's place, else random

    @property
    def num_frames(self) -> int:
        return len(self.camera)


def random_colour(rng: np.random.Generator, lo: int = 30, hi: int = 230) -> Tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, size=3))  # type: ignore[return-value]


def simulate_actor(
    m: Motion,
    t: np.ndarray,
    t0: float,
    t1: float,
    x0: float,
    ground: float,
    h: float,
    direction: int,
    rng: np.random.Generator,
    label: Sequence[str] = (),
) -> Tuple[Actor, np.ndarray]:
    """Simulate one figure doing ``m`` during [t0, t1) s and idling outside it.

    t: [T] frame times (s); x0: world x of the hip at t0; ground: world y of the feet line at t0;
    h: height in px; direction: +1 right, -1 left. Returns the Actor and its facing [T].
    """
    phase = float(rng.uniform(0, 2 * np.pi))
    active = (t >= t0) & (t < t1)
    ta = np.clip(t, t0, t1) - t0
    u = ta / max(t1 - t0, 1e-6)
    pose = motion_pose(m, ta, u, phase)
    idle = idle_pose(t, phase)
    for name in pose.__dataclass_fields__:
        setattr(pose, name, np.where(active, getattr(pose, name), getattr(idle, name)))
    if m.fall != "none":  # lying stays lying after the fall (and before getting up)
        k = smoothstep(u if m.fall == "down" else 1 - u)
        pose.rot = np.where(active, pose.rot, -k * np.pi / 2)
    travel = direction * (-1 if m.move == "backward" else 1)
    facing = np.full(len(t), float(direction))
    if m.flip:
        facing = facing * np.where(np.cos(np.pi * m.flip * ta) >= 0, 1.0, -1.0)
    local = pose_joints(pose, facing)
    x = x0 + travel * m.vx * h * ta
    y = ground + m.vy * h * ta
    joints = np.empty_like(local)
    joints[:, :, 0] = x[:, None] + local[:, :, 0] * h
    joints[:, :, 1] = y[:, None] - local[:, :, 1] * h
    labels = [tuple(label) if a else () for a in active]
    actor = Actor(
        joints=joints, h=np.full(len(t), float(h)), present=np.ones(len(t), bool),
        body_colour=random_colour(rng), head_colour=random_colour(rng, 120, 250), labels=labels, facing=facing,
    )
    return actor, facing


def attach_prop(
    kind_how: str, actor: Actor, m: Motion, t: np.ndarray, t0: float, t1: float, ground: np.ndarray,
    rng: np.random.Generator, owner: int,
) -> Prop:
    """Build the prop named by ``Motion.prop`` ('<kind>:<how>') following ``actor``.

    ground: [T] world y of the floor under the actor. Props the actor stands on (``under``) lift the
    actor by the prop's height (the actor's joints are shifted in place).
    """
    kind, how = kind_how.split(":")
    T = len(t)
    h = actor.h
    j = actor.joints
    facing = actor.facing if actor.facing is not None else np.ones(T)
    st = np.zeros((T, 4))
    u = np.clip((t - t0) / max(t1 - t0, 1e-6), 0, 1)
    size = {"ball": 0.07, "stick": 0.45, "pole": 0.9, "box": 0.22, "board": 0.55, "bike": 0.6, "horse": 0.8,
            "dog": 0.3, "rope": 1.0, "bar": 0.5, "trampoline": 0.8, "stairs": 0.6}[kind]
    st[:, 2] = size * h
    rh, rf = j[:, R_HAND], j[:, R_FOOT]
    if how == "hand":
        st[:, :2] = rh
    elif how == "bounce":
        w = np.abs(np.sin(np.pi * m.arm_freq * (t - t0)))
        st[:, 0] = rh[:, 0]
        st[:, 1] = rh[:, 1] + (ground - st[:, 2] - rh[:, 1]) * (1 - w)
    elif how == "foot":
        w = np.abs(np.sin(np.pi * m.leg_freq * (t - t0)))
        st[:, 0] = rf[:, 0] + facing * 0.05 * h
        st[:, 1] = rf[:, 1] - st[:, 2] - 0.45 * h * w
    elif how in ("thrown", "kicked"):
        src = rh if how == "thrown" else rf
        rel = 0.55
        k = np.searchsorted(u, rel)
        k = min(k, T - 1)
        dt = np.maximum(0.0, t - t[k])
        st[:, :2] = src
        vx = facing[k] * (2.5 if how == "thrown" else 1.8) * h[k]
        vy = (-1.2 if how == "thrown" else 0.0) * h[k]
        g = 3.0 * h[k]
        fy = np.minimum(src[k, 1] + vy * dt + 0.5 * g * dt * dt, ground - st[:, 2])
        st[:, 0] = np.where(u >= rel, src[k, 0] + vx * dt, src[:, 0])
        st[:, 1] = np.where(u >= rel, fy, src[:, 1] - (st[:, 2] if how == "kicked" else 0))
    elif how == "caught":  # flies in from the front, ends in the hands
        st[:, :2] = rh
        k = smoothstep(u / 0.6)
        st[:, 0] = rh[:, 0] + facing * (1 - k) * 2.5 * h
        st[:, 1] = rh[:, 1] - (1 - k) * 0.6 * h * np.sin(np.pi * k + 0.5)
    elif how == "stick":
        fore = j[:, R_HAND] - j[:, R_ELBOW]
        st[:, :2] = rh
        st[:, 3] = np.arctan2(fore[:, 1], fore[:, 0])
    elif how == "pole":
        st[:, :2] = rh
        st[:, 3] = np.where(facing > 0, -0.15, np.pi + 0.15)
    elif how == "under":
        lift = {"board": 0.08, "bike": 0.35, "horse": 0.55}.get(kind, 0.08) * h
        actor.joints[:, :, 1] -= lift[:, None]
        st[:, 0] = j[:, HIP, 0]
        st[:, 1] = np.maximum(j[:, L_FOOT, 1], j[:, R_FOOT, 1]) + lift * (0.5 if kind != "board" else 0.3)
        st[:, 3] = np.where(facing > 0, 0.0, np.pi)
    elif how == "follow":
        st[:, 0] = j[:, HIP, 0] + facing * 0.6 * h
        st[:, 1] = ground - 0.12 * h - 0.03 * h * np.abs(np.sin(2 * np.pi * 2 * t))
        st[:, 3] = np.where(facing > 0, 0.0, np.pi)
    elif how in ("rope", "bar"):
        if how == "rope":
            st[:, 0] = j[0, R_HAND, 0]
            st[:, 1] = ground
        else:
            st[:, 0] = j[0, HIP, 0]
            st[:, 1] = np.min(j[:, [L_HAND, R_HAND], 1], axis=(0, 1))
    elif how == "ground":
        st[:, 0] = j[0, HIP, 0]
        st[:, 1] = ground
        if kind == "trampoline":
            st[:, 1] = ground + 0.02 * h
    elif how == "push":
        st[:, 0] = rh[:, 0] + facing * 0.5 * st[:, 2]
        st[:, 1] = ground - 0.4 * st[:, 2]
    elif how in ("pick", "put"):
        k = smoothstep((u - 0.35) / 0.5) if how == "pick" else 1 - smoothstep((u - 0.15) / 0.5)
        floor = ground - 0.4 * st[:, 2]
        st[:, 0] = rh[:, 0]
        st[:, 1] = floor + k * (rh[:, 1] - floor)
    else:
        raise ValueError(f"unknown prop placement {how!r}")
    return Prop(kind=kind, state=st, present=np.ones(T, bool), colour=random_colour(rng), owner=owner)


@dataclass
class Camera:
    """Camera path parameters: pan speed (px/s) and jitter amplitude (px)."""

    pan: Tuple[float, float] = (0.0, 0.0)
    jitter: float = 0.0


def camera_path(T: int, fps: float, cam: Camera, rng: np.random.Generator, margin: int) -> np.ndarray:
    """Integer camera offsets [T, 2] (x, y) inside [0, 2 * margin]: smooth pan plus smoothed jitter."""
    t = np.arange(T) / fps
    pan = np.stack([cam.pan[0] * t, cam.pan[1] * t], axis=1)
    noise = rng.normal(0, 1, size=(T + 4, 2))
    kernel = np.ones(5) / 5
    smooth = np.stack([np.convolve(noise[:, k], kernel, mode="valid") for k in range(2)], axis=1)[:T]
    off = margin + pan - pan.mean(axis=0) + cam.jitter * smooth * np.sqrt(5)
    return np.clip(np.round(off), 0, 2 * margin).astype(np.int64)


def distractors(
    rng: np.random.Generator, n: int, world_w: int, world_h: int, t: np.ndarray, h: float
) -> List[Prop]:
    """Props no actor uses: boxes and balls at rest or drifting slowly."""
    out = []
    for _ in range(n):
        kind = str(rng.choice(["box", "ball", "stick", "board"]))
        st = np.zeros((len(t), 4))
        st[:, 0] = rng.uniform(0, world_w) + rng.uniform(-15, 15) * t
        st[:, 1] = rng.uniform(0.35 * world_h, world_h) + rng.uniform(-5, 5) * t
        st[:, 2] = h * {"box": 0.25, "ball": 0.1, "stick": 0.5, "board": 0.5}[kind] * rng.uniform(0.6, 1.4)
        st[:, 3] = rng.uniform(0, np.pi) + rng.uniform(-0.5, 0.5) * t
        out.append(Prop(kind, st, np.ones(len(t), bool), random_colour(rng)))
    return out
