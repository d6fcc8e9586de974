"""Action classes of each synthetic dataset as motion programs, named in the real datasets' class order.

``motion_defined`` marks classes whose single frames look like those of another class of the same
table (a time reversal, the same stride at another speed, a rotation the other way): only motion
separates them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Dict, List, Tuple

from core.synthetic.world import Motion


@dataclass(frozen=True)
class ActionClass:
    name: str
    motion: Motion
    motion_defined: bool = False
    direction: int = 0  # travel direction, +1 right / -1 left; 0 = random per video
    reverse: bool = False  # rendered backwards in time (the time reversal of ``motion``)
    place: str = ""  # where the action happens (scene colours, world.class_palette); "" = a random scene


M = Motion
WALK = dict(legs="swing", leg_amp=0.45, leg_freq=1.6, arms="swing", arm_amp=0.4)
RUN = dict(legs="swing", leg_amp=0.75, leg_freq=2.6, arms="swing", arm_amp=0.8, lean=0.2)

# UCF101-24: the dataset's classes in order (core.formats.ucf24.UCF24_CLASSES).
UCF24: List[ActionClass] = [
    ActionClass("Basketball", M(arms="dribble", arm_freq=2.0, legs="wide", prop="ball:bounce")),
    ActionClass("BasketballDunk", M(vx=0.8, **{**RUN, "arms": "up"}, hop="once", hop_amp=0.8, prop="ball:hand")),
    ActionClass("Biking", M(vx=1.4, legs="pedal", leg_freq=1.5, arms="forward", lean=0.4, prop="bike:under")),
    ActionClass("CliffDiving", M(vy=1.2, arms="up", spin=0.4, prop="")),
    ActionClass("CricketBowling", M(vx=1.0, legs="swing", leg_amp=0.7, leg_freq=2.4, arms="windmill", arm_freq=1.2)),
    ActionClass("Diving", M(vy=0.9, vx=0.2, arms="up", spin=1.2, legs="tuck", hop="periodic", hop_amp=0.01)),
    ActionClass("Fencing", M(legs="lunge", leg_freq=1.2, arms="forward", prop="stick:stick", pair="face"), True),
    ActionClass("FloorGymnastics", M(vx=0.7, arms="up", spin=0.8, legs="wide")),
    ActionClass("GolfSwing", M(arms="golf", arm_amp=2.2, arm_freq=0.8, prop="stick:stick")),
    ActionClass("HorseRiding", M(vx=1.0, legs="wide", arms="forward", hop="periodic", hop_amp=0.06, hop_freq=2.5,
                                 prop="horse:under")),
    ActionClass("IceDancing", M(vx=0.6, legs="glide", arms="side", flip=0.8, group=2)),
    ActionClass("LongJump", M(vx=1.6, **RUN, hop="once", hop_amp=0.5), True),
    ActionClass("PoleVault", M(vx=1.2, legs="swing", leg_amp=0.7, leg_freq=2.6, arms="forward", hop="once",
                               hop_amp=1.2, prop="pole:pole")),
    ActionClass("RopeClimbing", M(vy=-0.4, legs="climb", arms="climb", leg_freq=1.0, arm_freq=1.0,
                                  prop="rope:rope")),
    ActionClass("SalsaSpin", M(arms="up", legs="wide", flip=2.0, group=2)),
    ActionClass("SkateBoarding", M(vx=1.1, legs="glide", arms="side", prop="board:under")),
    ActionClass("Skiing", M(vx=0.9, vy=0.35, legs="glide", leg_freq=1.0, arms="forward", prop="board:under")),
    ActionClass("Skijet", M(vx=1.8, legs="glide", arms="forward", hop="periodic", hop_amp=0.05, hop_freq=3.0,
                            prop="board:under")),
    ActionClass("SoccerJuggling", M(legs="kick", leg_amp=0.6, leg_freq=1.6, arms="side", prop="ball:foot")),
    ActionClass("Surfing", M(vx=0.5, legs="crouch", leg_amp=0.3, leg_freq=0.6, arms="side", hop="periodic",
                             hop_amp=0.2, hop_freq=0.5, prop="board:under")),
    ActionClass("TennisSwing", M(arms="strike", arm_freq=1.0, legs="wide", prop="stick:stick")),
    ActionClass("TrampolineJumping", M(legs="tuck", arms="up", hop="periodic", hop_amp=0.7, hop_freq=1.1,
                                       prop="trampoline:ground")),
    ActionClass("VolleyballSpiking", M(arms="strike", arm_freq=0.9, legs="tuck", hop="periodic", hop_amp=0.5,
                                       hop_freq=0.9, prop="ball:hand")),
    ActionClass("WalkingWithDog", M(vx=0.5, **WALK, prop="dog:follow")),
]

# UCF101's classes have their own places (pools, slopes, courts): each synthetic class its own scene colours.
UCF24 = [replace(c, place=c.name) for c in UCF24]

# JHMDB-21 in the dataset's order (core.formats.ucf24.JHMDB_CLASSES).
JHMDB: List[ActionClass] = [
    ActionClass("brush_hair", M(arms="brush", arm_freq=2.0)),
    ActionClass("catch", M(arms="forward", prop="ball:caught")),
    ActionClass("clap", M(arms="clap", arm_amp=0.4, arm_freq=2.0)),
    ActionClass("climb_stairs", M(vx=0.35, vy=-0.35, legs="climb", leg_freq=1.2, arms="swing", arm_amp=0.3), True),
    ActionClass("golf", M(arms="golf", arm_amp=2.2, arm_freq=0.8, prop="stick:stick")),
    ActionClass("jump", M(legs="tuck", arms="up", hop="once", hop_amp=0.6)),
    ActionClass("kick_ball", M(legs="kick", leg_amp=0.8, leg_freq=0.7, prop="ball:kicked")),
    ActionClass("pick", M(legs="crouch", leg_amp=0.9, leg_freq=0.5, arms="forward", prop="box:pick"), True),
    ActionClass("pour", M(arms="pour", prop="box:hand")),
    ActionClass("pullup", M(arms="hang", legs="tuck", hop="periodic", hop_amp=0.3, hop_freq=0.8, prop="bar:bar")),
    ActionClass("push", M(vx=0.3, **{**WALK, "arms": "forward"}, prop="box:push")),
    ActionClass("run", M(vx=1.5, **RUN), True),
    ActionClass("shoot_ball", M(arms="up", legs="tuck", hop="once", hop_amp=0.3, prop="ball:thrown")),
    ActionClass("shoot_bow", M(arms="bow", arm_freq=0.7, legs="wide", prop="stick:stick")),
    ActionClass("shoot_gun", M(arms="gun", arm_freq=1.5, legs="wide")),
    ActionClass("sit", M(legs="sit_down"), True),
    ActionClass("stand", M(legs="stand_up"), True),
    ActionClass("swing_baseball", M(arms="strike", arm_freq=0.8, legs="wide", prop="stick:stick")),
    ActionClass("throw", M(arms="throw", legs="wide", prop="ball:thrown")),
    ActionClass("walk", M(vx=0.5, **{**RUN, "leg_freq": 1.3, "lean": 0.0}), True),
    ActionClass("wave", M(arms="wave", arm_amp=0.7, arm_freq=1.8)),
]

# Kinetics-style clips: real Kinetics-400 class names. Pairs share their single-frame look and their place:
# jogging/marching (stride speed), cartwheeling/somersaulting (rotation sense vs travel),
# climbing a rope/abseiling (up vs down), high jump/bouncing on trampoline (jump rate and height).
# Places give the scene colours, as real Kinetics scenes go with their classes (courts, pitches, roads).
KINETICS: List[ActionClass] = [
    ActionClass("abseiling", M(vy=0.45, legs="climb", arms="climb", leg_freq=1.0, arm_freq=1.0, prop="rope:rope"),
                True, place="rope wall"),
    ActionClass("bouncing on trampoline", M(legs="tuck", arms="up", hop="periodic", hop_amp=0.5, hop_freq=1.6), True,
                place="sports hall"),
    ActionClass("cartwheeling", M(vx=0.7, arms="up", legs="wide", spin=0.6), True, place="lawn"),
    ActionClass("climbing a rope", M(vy=-0.45, legs="climb", arms="climb", leg_freq=1.0, arm_freq=1.0,
                                     prop="rope:rope"), True, place="rope wall"),
    ActionClass("dribbling basketball", M(arms="dribble", arm_freq=2.0, legs="wide", prop="ball:bounce"),
                place="court"),
    ActionClass("high jump", M(legs="tuck", arms="up", hop="periodic", hop_amp=0.5, hop_freq=0.6), True,
                place="sports hall"),
    ActionClass("jogging", M(vx=1.6, **{**RUN, "leg_freq": 2.6}), True, place="road"),
    ActionClass("juggling soccer ball", M(legs="kick", leg_amp=0.6, leg_freq=1.6, arms="side", prop="ball:foot"),
                place="pitch"),
    ActionClass("marching", M(vx=0.4, **{**RUN, "leg_freq": 0.9}), True, place="road"),
    ActionClass("skateboarding", M(vx=1.1, legs="glide", arms="side", prop="board:under"), place="skate park"),
    ActionClass("somersaulting", M(vx=0.7, arms="up", legs="wide", spin=-0.6), True, place="lawn"),
    ActionClass("walking the dog", M(vx=0.5, **WALK, prop="dog:follow"), place="park"),
]

# Something-Something templates (sorted, so file order equals the sorted order TSM's scripts use).
STH: List[ActionClass] = sorted([
    ActionClass("Holding [something]", M(arms="forward", prop="box:hand")),
    ActionClass("Moving [something] down", M(arms="raise", prop="box:hand"), True, reverse=True),
    ActionClass("Moving [something] from left to right", M(vx=0.5, **WALK, prop="box:hand"), True, 1),
    ActionClass("Moving [something] from right to left", M(vx=0.5, **WALK, prop="box:hand"), True, -1),
    ActionClass("Moving [something] up", M(arms="raise", prop="box:hand"), True),
    ActionClass("Picking [something] up", M(legs="crouch", leg_amp=0.9, leg_freq=0.5, arms="forward",
                                            prop="box:pick"), True),
    ActionClass("Pushing [something] from left to right", M(vx=0.3, **{**WALK, "arms": "forward"}, prop="box:push"),
                True, 1),
    ActionClass("Pushing [something] from right to left", M(vx=0.3, **{**WALK, "arms": "forward"},
                                                            prop="box:push"), True, -1),
    ActionClass("Putting [something] on a surface", M(legs="crouch", leg_amp=0.9, leg_freq=0.5, arms="forward",
                                                      prop="box:put"), True),
    ActionClass("Throwing [something]", M(arms="throw", legs="wide", prop="ball:thrown")),
], key=lambda c: c.name)

# AVA: synthetic activities under AVA's real ids. A pose (exactly one) plus optional extras.
AVA_NAMES: Dict[int, str] = {
    1: "bend/bow (at the waist)", 2: "crawl", 3: "crouch/kneel", 4: "dance", 5: "fall down", 6: "get up",
    7: "jump/leap", 8: "lie/sleep", 9: "martial art", 10: "run/jog", 11: "sit", 12: "stand", 13: "swim",
    14: "walk", 15: "answer phone", 16: "brush teeth", 17: "carry/hold (an object)", 18: "catch (an object)",
    19: "chop", 20: "climb (e.g., a mountain)", 21: "clink glass", 22: "close (e.g., a door, a box)", 23: "cook",
    24: "cut", 25: "dig", 26: "dress/put on clothing", 27: "drink", 28: "drive (e.g., a car, a truck)", 29: "eat",
    30: "enter", 31: "exit", 32: "extract", 33: "fishing", 34: "hit (an object)", 35: "kick (an object)",
    36: "lift/pick up", 37: "listen (e.g., to music)", 38: "open (e.g., a window, a car door)", 39: "paint",
    40: "play board game", 41: "play musical instrument", 42: "play with pets", 43: "point to (an object)",
    44: "press", 45: "pull (an object)", 46: "push (an object)", 47: "put down", 48: "read",
    49: "ride (e.g., a bike, a car, a horse)", 50: "row boat", 51: "sail boat", 52: "shoot", 53: "shovel",
    54: "smoke", 55: "stir", 56: "take a photo", 57: "text on/look at a cellphone", 58: "throw",
    59: "touch (an object)", 60: "turn (e.g., a screwdriver)", 61: "watch (e.g., TV)", 62: "work on a computer",
    63: "write", 64: "fight/hit (a person)", 65: "give/serve (an object) to (a person)", 66: "grab (a person)",
    67: "hand clap", 68: "hand shake", 69: "hand wave", 70: "hug (a person)", 71: "kick (a person)",
    72: "kiss (a person)", 73: "lift (a person)", 74: "listen to (a person)", 75: "play with kids",
    76: "push (another person)", 77: "sing to (e.g., self, a person, a group)", 78: "take (an object) from (a person)",
    79: "talk to (e.g., self, a person, a group)", 80: "watch (a person)",
}

# Single-actor AVA activities: (motion, AVA ids). Interactions between two actors are built in
# core.synthetic.scenes (talk/listen, give/take, hand shake, hit, watch).
AVA_SOLO: Dict[str, Tuple[Motion, Tuple[int, ...]]] = {
    "stand": (M(), (12,)),
    "walk": (M(vx=0.5, **WALK), (14,)),
    "run": (M(vx=1.4, **RUN), (10,)),
    "sit": (M(legs="sit_down", leg_freq=0.0), (11,)),
    "bend": (M(lean=1.1, arms="down"), (1,)),
    "jump": (M(legs="tuck", arms="up", hop="periodic", hop_amp=0.5, hop_freq=1.2), (7,)),
    "fall": (M(fall="down"), (5,)),
    "carry": (M(vx=0.5, **{**WALK, "arms": "forward"}, prop="box:hand"), (14, 17)),
    "pick": (M(legs="crouch", leg_amp=0.9, leg_freq=0.5, arms="forward", prop="box:pick"), (1, 36)),
    "put": (M(legs="crouch", leg_amp=0.9, leg_freq=0.5, arms="forward", prop="box:put"), (1, 47)),
    "throw": (M(arms="throw", legs="wide", prop="ball:thrown"), (12, 58)),
    "touch": (M(arms="forward", prop="box:push"), (12, 59)),
    "push": (M(vx=0.3, **{**WALK, "arms": "forward"}, prop="box:push"), (14, 46)),
    "kick": (M(legs="kick", leg_amp=0.8, leg_freq=0.7, prop="ball:kicked"), (12, 35)),
    "wave": (M(arms="wave", arm_amp=0.7, arm_freq=1.8), (12, 69)),
}
