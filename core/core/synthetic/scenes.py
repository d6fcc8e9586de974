"""Scene builders: a single-class action clip (UCF24, JHMDB, Kinetics, Something-Something) and an
AVA-style multi-actor video cut into shots, with interactions between actors and objects.

Every builder takes one integer seed and is deterministic; :func:`video_seed` derives a video's seed
from the dataset seed and the video's index, so results do not depend on how videos are spread over
worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

import numpy as np

from core.synthetic.actions import AVA_SOLO, ActionClass
from core.synthetic.render import Rendered, render_scene
from core.synthetic.world import (
    R_HAND,
    Actor,
    Camera,
    Motion,
    Palette,
    Prop,
    Scene,
    attach_prop,
    camera_path,
    distractors,
    random_colour,
    simulate_actor,
    smoothstep,
)


def video_seed(seed: int, index: int, stream: int = 0) -> int:
    """Seed of video ``index`` of a dataset generated with ``seed`` (independent of worker count)."""
    return int(np.random.SeedSequence([int(seed), int(index), int(stream)]).generate_state(1)[0])


@dataclass(frozen=True)
class ClipSpec:
    """Geometry and nuisance settings of a clip. pan: largest camera pan in px/s; jitter in px."""

    width: int = 320
    height: int = 240
    fps: float = 25.0
    num_frames: int = 40
    trimmed: bool = False  # the action spans the whole clip (else it may start late / end early)
    max_distractors: int = 3
    occluder_p: float = 0.3
    pan: float = 20.0
    jitter: float = 1.5
    margin: int = 32
    size: Tuple[float, float] = (0.38, 0.55)  # figure height as a fraction of the image height
    palette: Optional[Palette] = None  # sky / ground colours of the class's place (world.class_palette)


@dataclass
class Clip:
    """A rendered clip. tubes: (actor index, sf, ef) with 0-based sf and exclusive ef, the frames where
    the actor performs the clip's action and is in view."""

    scene: Scene
    rendered: Rendered
    label: int
    tubes: List[Tuple[int, int, int]]

    @property
    def num_frames(self) -> int:
        return len(self.rendered.frames)


def _longest_run(ok: np.ndarray) -> Tuple[int, int]:
    """Longest run of True in ok [T] -> (start, exclusive end); (0, 0) when none."""
    best, start = (0, 0), None
    for i, v in enumerate(list(ok) + [False]):
        if v and start is None:
            start = i
        elif not v and start is not None:
            if i - start > best[1] - best[0]:
                best = (start, i)
            start = None
    return best


def in_view(rendered: Rendered, k: int, min_fraction: float = 0.3) -> np.ndarray:
    """[T] bool: actor k has at least ``min_fraction`` of its largest in-image pixel count in the image
    and some pixel not hidden by what is drawn in front of it."""
    area = rendered.area[k]
    return (area >= min_fraction * max(area.max(), 1.0)) & (rendered.visible[k] > 0) & (area > 0)


def _reverse(rendered: Rendered) -> Rendered:
    return Rendered(
        rendered.frames[::-1].copy(), rendered.ids[::-1].copy(), rendered.actor_boxes[:, ::-1].copy(),
        rendered.prop_boxes[:, ::-1].copy(), rendered.area[:, ::-1].copy(), rendered.visible[:, ::-1].copy(),
    )


def _nuisance(rng: np.random.Generator, spec: ClipSpec, t: np.ndarray, h: float) -> Tuple[np.ndarray, list, list]:
    dur = len(t) / spec.fps
    pan_max = min(spec.pan, 1.5 * spec.margin / max(dur, 1e-6))
    cam = Camera(pan=(float(rng.uniform(-pan_max, pan_max)), float(rng.uniform(-0.2, 0.2) * pan_max)),
                 jitter=float(rng.uniform(0, spec.jitter)))
    camera = camera_path(len(t), spec.fps, cam, rng, spec.margin)
    W, H = spec.width + 2 * spec.margin, spec.height + 2 * spec.margin
    props = distractors(rng, int(rng.integers(0, spec.max_distractors + 1)), W, H, t, h)
    occluders = []
    if rng.random() < spec.occluder_p:
        x = int(rng.uniform(0.15, 0.85) * spec.width) + spec.margin
        w = max(3, int(0.05 * h))
        y1 = int(rng.uniform(-0.2, 0.4) * spec.height) + spec.margin
        occluders.append(((x, y1, x + w, H), random_colour(rng)))
    return camera, props, occluders


def build_clip(cls: ActionClass, label: int, seed: int, spec: ClipSpec) -> Clip:
    """Render one clip of class ``cls``: its actors (``motion.group``, or two facing each other for
    ``pair='face'``), their props, distractors, an occluder, a panning and shaking camera."""
    rng = np.random.default_rng(seed)
    m: Motion = cls.motion
    T = spec.num_frames
    t = np.arange(T) / spec.fps
    dur = T / spec.fps
    H, W, mg = spec.height, spec.width, spec.margin
    small = 0.75 if (m.vy or m.prop.startswith(("rope", "horse", "pole", "bar"))) else 1.0
    h = float(rng.uniform(*spec.size) * H * small)
    if spec.trimmed or rng.random() < 0.5:
        t0, t1 = 0.0, dur + 1.0
    else:
        t0 = float(rng.uniform(0, 0.3) * dur)
        t1 = float(t0 + rng.uniform(0.55, 0.95) * (dur - t0)) + 1e-6
    span = min(t1, dur) - t0
    direction = cls.direction or int(rng.choice([-1, 1]))
    travel = direction * (-1 if m.move == "backward" else 1)
    xmid = float(rng.uniform(0.35, 0.65) * W) + mg
    ground_mid = float(rng.uniform(0.8, 0.95) * H) + mg
    if m.vy < 0:
        ground_mid = float(rng.uniform(0.65, 0.8) * H) + mg
    x0 = xmid - travel * m.vx * h * span / 2
    g0 = ground_mid - m.vy * h * span / 2
    if m.vy > 0:  # falling/descending: start high enough to stay in view at the start
        g0 = max(g0, 0.9 * h + mg)
    n = 2 if m.pair == "face" else m.group
    actors: List[Actor] = []
    props: List[Prop] = []
    for k in range(n):
        if m.pair == "face":
            d = 1 if k == 0 else -1
            xk = xmid - d * 0.5 * h
        else:
            d = direction
            xk = x0 - travel * k * 0.7 * h
        actor, _ = simulate_actor(m, t, t0, t1, xk, g0, h, d, rng, label=(cls.name,))
        actors.append(actor)
        if m.prop:
            ground = g0 + m.vy * h * (np.clip(t, t0, t1) - t0)
            props.append(attach_prop(m.prop, actor, m, t, t0, t1, ground, rng, owner=k))
    camera, extra, occluders = _nuisance(rng, spec, t, h)
    scene = Scene(W, H, spec.fps, actors, props + extra, occluders, camera,
                  background_seed=int(rng.integers(2**31)), background_size=(H + 2 * mg, W + 2 * mg),
                  background_palette=spec.palette)
    rendered = render_scene(scene)
    if cls.reverse:
        rendered = _reverse(rendered)
        t0, t1 = max(0.0, dur - t1), dur - t0 + 1e-6
    active = (t >= t0) & (t < t1)
    tubes = []
    for k in range(n):
        sf, ef = _longest_run(in_view(rendered, k) & active)
        if ef - sf >= 2:
            tubes.append((k, sf, ef))
    return Clip(scene, rendered, label, tubes)


def build_trimmed_clip(cls: ActionClass, label: int, seed: int, spec: ClipSpec, attempts: int = 4) -> Clip:
    """A clip whose first actor is in view in every frame (JHMDB): render, then cut the clip to the
    actor's longest in-view run; retries with derived seeds if that run is under 70% of the clip."""
    best: Optional[Clip] = None
    best_len = -1
    for a in range(attempts):
        clip = build_clip(cls, label, video_seed(seed, a, 1) if a else seed, spec)
        sf, ef = next(((sf, ef) for k, sf, ef in clip.tubes if k == 0), (0, 0))
        if ef - sf > best_len:
            best, best_len = (_cut(clip, sf, ef) if ef > sf else clip), ef - sf
        if best_len >= 0.7 * spec.num_frames:
            break
    assert best is not None
    return best


def _cut(clip: Clip, sf: int, ef: int) -> Clip:
    r = clip.rendered
    rr = Rendered(r.frames[sf:ef], r.ids[sf:ef], r.actor_boxes[:, sf:ef], r.prop_boxes[:, sf:ef], r.area[:, sf:ef],
                  r.visible[:, sf:ef])
    tubes = [(k, max(a, sf) - sf, min(b, ef) - sf) for k, a, b in clip.tubes if min(b, ef) > max(a, sf)]
    return Clip(clip.scene, rr, clip.label, tubes)


# --------------------------------------------------------------------------------------------- AVA

@dataclass(frozen=True)
class AvaSpec:
    """An AVA-style video: 1 Hz keyframes ``first_ts .. first_ts + num_keyframes - 1`` (AVA's 902..1798
    numbering); frame 0 of the video is second ``start_ts`` (the usual cut of AVA movies at 900 s)."""

    width: int = 320
    height: int = 240
    fps: float = 30.0
    num_keyframes: int = 4
    first_ts: int = 902
    start_ts: int = 900
    cast: int = 5
    pan: float = 10.0
    jitter: float = 1.0
    margin: int = 32

    @property
    def duration(self) -> float:
        """Seconds covered: up to 1 s after the last keyframe (its 2 s clip) plus 1 s of slack."""
        return float(self.first_ts + self.num_keyframes + 1 - self.start_ts)

    def keyframe_index(self, ts: int) -> int:
        """0-based frame index of keyframe second ``ts`` in the video: round((ts - start_ts) * fps)."""
        return int(round((ts - self.start_ts) * self.fps))


@dataclass
class AvaVideo:
    """actors: one Actor per (person, shot); their labels are tuples of AVA action ids per frame."""

    scene: Scene
    rendered: Rendered
    spec: AvaSpec
    prop_names: List[str] = field(default_factory=list)


INTERACTIONS = ("talk", "give", "shake", "hit", "hug", "watch")


def _pair(kind: str) -> Tuple[Motion, Tuple[int, ...], Motion, Tuple[int, ...], float]:
    """(motion A, ids A, motion B, ids B, distance in figure heights) of a two-person interaction."""
    idle = Motion()
    if kind == "talk":
        return Motion(arms="gesture", arm_freq=1.3), (12, 79, 80), idle, (12, 74, 80), 0.75
    if kind == "give":
        return Motion(arms="forward"), (12, 65), Motion(arms="forward"), (12, 78), 0.8
    if kind == "shake":
        return Motion(arms="shake", arm_freq=1.5), (12, 68), Motion(arms="shake", arm_freq=1.5), (12, 68), 0.62
    if kind == "hit":
        return Motion(arms="strike", arm_freq=1.4), (12, 64), Motion(lean=-0.25), (12,), 0.6
    if kind == "hug":
        return Motion(arms="forward"), (12, 70), Motion(arms="forward"), (12, 70), 0.3
    raise ValueError(kind)


def build_ava_video(seed: int, spec: AvaSpec) -> AvaVideo:
    """Shots of 2-4 s (cuts half-way between keyframes); in each, 2-4 people of the video's cast doing
    single-person activities (stand, walk, run, sit, bend, jump, fall, carry, pick up, put down, throw,
    touch, push, kick, wave) or interacting in pairs (talk/listen, give/take, hand shake, hit, hug) while
    others watch them."""
    rng = np.random.default_rng(seed)
    T = int(round(spec.duration * spec.fps))
    t = np.arange(T) / spec.fps
    H, W, mg = spec.height, spec.width, spec.margin
    cast = [(random_colour(rng), random_colour(rng, 120, 250), float(rng.uniform(0.4, 0.55) * H))
            for _ in range(spec.cast)]
    cuts, s = [0], 0.0
    while True:
        s += float(rng.integers(2, 5))
        if s + 1.5 >= spec.duration:
            break
        cuts.append(int(round((s + 0.5) * spec.fps)))
    bounds = cuts + [T]
    actors: List[Actor] = []
    props: List[Prop] = []
    camera = np.zeros((T, 2), np.int64)
    solo_names = sorted(AVA_SOLO)
    for shot in range(len(cuts)):
        f0, f1 = bounds[shot], bounds[shot + 1]
        t0, t1 = t[f0], t[f1 - 1] + 1e-6
        sub = rng.permutation(spec.cast)[: int(rng.integers(2, min(4, spec.cast) + 1))]
        slots = np.sort(rng.uniform(0.12, 0.88, size=len(sub)))
        plan: List[Tuple[int, Motion, Tuple[int, ...], float, int]] = []  # person, motion, ids, x, facing
        i = 0
        if len(sub) >= 2 and rng.random() < 0.7:
            kind = str(rng.choice(INTERACTIONS[:-1]))
            ma, ia, mb, ib, dist = _pair(kind)
            xc = float(rng.uniform(0.3, 0.7) * W) + mg
            hh = cast[sub[0]][2]
            if rng.random() < 0.5:
                (ma, ia), (mb, ib) = (mb, ib), (ma, ia)
            plan += [(sub[0], ma, ia, xc - dist * hh / 2, 1), (sub[1], mb, ib, xc + dist * hh / 2, -1)]
            i = 2
            pair_kind = kind
        else:
            pair_kind = ""
        for p in sub[i:]:
            x = float(slots[i % len(slots)] * W) + mg
            if plan and rng.random() < 0.35:  # watches someone: stands facing them
                target = plan[int(rng.integers(len(plan)))][3]
                plan.append((p, Motion(), (12, 80), x, 1 if target >= x else -1))
            else:
                name = solo_names[int(rng.integers(len(solo_names)))]
                mot, ids = AVA_SOLO[name]
                plan.append((p, mot, ids, x, int(rng.choice([-1, 1]))))
            i += 1
        first = len(actors)
        for p, mot, ids, x, d in plan:
            body, head, hh = cast[p]
            ground = float(rng.uniform(0.82, 0.97) * H) + mg
            if pair_kind and len(actors) - first < 2:
                ground = ground if len(actors) == first else actors[first].joints[f0, :, 1].max()
            x0 = x - d * mot.vx * hh * (t1 - t0) / 2
            actor, _ = simulate_actor(mot, t, t0, t1, x0, ground, hh, d, rng, label=())
            actor.body_colour, actor.head_colour, actor.person_id = body, head, int(p)
            actor.present = (np.arange(T) >= f0) & (np.arange(T) < f1)
            actor.labels = [ids if actor.present[f] else () for f in range(T)]
            actors.append(actor)
            if mot.prop:
                props.append(attach_prop(mot.prop, actor, mot, t, t0, t1, np.full(T, ground), rng, len(actors) - 1))
                props[-1].present = actor.present.copy()
        if pair_kind == "give":  # the box travels from A's hand to B's hand
            a, b = actors[first], actors[first + 1]
            giver = a if 65 in a.labels[f0] else b
            taker = b if giver is a else a
            u = smoothstep((t - t0) / (t1 - t0) * 1.4 - 0.2)[:, None]
            st = np.zeros((T, 4))
            st[:, :2] = giver.joints[:, R_HAND] * (1 - u) + taker.joints[:, R_HAND] * u
            st[:, 2] = 0.22 * giver.h
            pr = Prop("box", st, giver.present.copy(), random_colour(rng), owner=first if giver is a else first + 1)
            props.append(pr)
        dur = (f1 - f0) / spec.fps
        pan_max = min(spec.pan, 1.5 * mg / max(dur, 1e-6))
        cam = Camera(pan=(float(rng.uniform(-pan_max, pan_max)), 0.0), jitter=float(rng.uniform(0, spec.jitter)))
        camera[f0:f1] = camera_path(f1 - f0, spec.fps, cam, rng, mg)
    Wb, Hb = W + 2 * mg, H + 2 * mg
    extra = distractors(rng, int(rng.integers(1, 4)), Wb, Hb, t, 0.45 * H)
    occluders = []
    if rng.random() < 0.4:
        x = int(rng.uniform(0.1, 0.9) * W) + mg
        occluders.append(((x, int(0.3 * H) + mg, x + 6, Hb), random_colour(rng)))
    scene = Scene(W, H, spec.fps, actors, props + extra, occluders, camera, int(rng.integers(2**31)), (Hb, Wb),
                  cuts=cuts)
    return AvaVideo(scene, render_scene(scene), spec, [p.kind for p in scene.props])


def ava_keyframe_actors(video: AvaVideo, ts: int, min_size: int = 6) -> List[Dict[str, object]]:
    """Annotated people at keyframe ``ts``: [{'person_id', 'box' (0-based inclusive px), 'actions'}].

    A person is annotated when drawn at that frame, at least 6 px in each direction, with 30% of their
    pixels of the shot in view and some pixel visible."""
    f = video.spec.keyframe_index(ts)
    out = []
    r = video.rendered
    for k, actor in enumerate(video.scene.actors):
        if not actor.present[f] or not actor.labels[f]:
            continue
        area = r.area[k][actor.present]
        box = r.actor_boxes[k, f]
        if np.isnan(box).any() or r.area[k, f] < 0.3 * area.max() or r.visible[k, f] <= 0:
            continue
        if box[2] - box[0] + 1 < min_size or box[3] - box[1] + 1 < min_size:
            continue
        out.append({"person_id": actor.person_id, "box": box, "actions": tuple(actor.labels[f]), "actor": k})
    return out
