"""A scripted pick-and-place expert for robosuite Lift and PickPlace<Object> (e.g. Can).

It drives the end effector with OSC_POSE delta actions through phases (above the
object, down, close, up, and for PickPlace over the target bin cell, down, open),
holding the start orientation, and starts over when the object slips. It reads the
object and target positions from the simulator (privileged, as scripted
demonstrators do). ``noise`` makes it operator-like: Gaussian noise of std ``noise``
on the arm's actions, and hesitations (pauses of 3-10 steps, started with probability
``PAUSE_RATE * noise`` per step), the way robomimic's "worse" operators pause and jerk.
"""

from __future__ import annotations

from typing import Mapping

import gymnasium as gym
import numpy as np
from scipy.spatial.transform import Rotation

POS_SCALE = 0.05  # metres per unit action (robosuite's OSC_POSE output_max)
POS_GAIN = 3.0  # OSC sags under a load: command past the target to cancel the steady-state error
ORI_SCALE = 0.5  # radians per unit action
PAUSE_RATE = 0.02
HOVER = 0.10  # approach height above the object
LIFT = 0.15  # how high Lift raises the cube (success needs 4 cm)
CARRY = 0.20  # hand height above the bin floor while carrying and at release (clear of the walls)
DROP_SHIFT = 0.04  # release this far from the bin cell centre towards the robot (cell half-width 0.12)
GRASP_STEPS = 8
RELEASE_STEPS = 10


class PickPlaceExpert:
    """Scripted Lift / PickPlace expert with an operator-quality noise knob.

    ``aligned`` is accepted for the common expert signature; these tasks define no
    preference beyond success, so it changes nothing here.
    """

    def __init__(self, env: gym.Env, noise: float = 0.0, aligned: bool = True, seed: int | None = None) -> None:
        self.env = env.unwrapped
        self.env.object_pos()  # fail now, naming the env, when it has no single object to pick
        self.noise = float(noise)
        self.rng = np.random.default_rng(seed)
        self.reset(seed)

    def reset(self, seed: int | None = None) -> None:
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        self.phase = "approach"
        self.phase_steps = 0
        self.pause_left = 0
        self.grasp_point: np.ndarray | None = None
        self.target_rot: Rotation | None = None
        self.intended_action: np.ndarray | None = None  # the last action before noise and pauses

    def _goto(self, phase: str) -> None:
        self.phase, self.phase_steps = phase, 0

    def _plan(self, eef: np.ndarray) -> tuple[np.ndarray, float]:
        """Target end-effector position and gripper command (+1 close, -1 open) for this step."""
        obj = self.env.object_pos()
        target_bin = self.env.place_target()
        if self.phase in ("lift", "carry") and np.linalg.norm(obj - eef) > 0.05:
            self._goto("approach")  # slipped: start over
        if self.phase == "approach":
            goal = obj + [0.0, 0.0, HOVER]
            if np.linalg.norm((goal - eef)[:2]) < 0.01 and abs(goal[2] - eef[2]) < 0.02:
                self._goto("descend")
            return goal, -1.0
        if self.phase == "descend":
            goal = obj.copy()
            if np.linalg.norm(goal - eef) < 0.008 or self.phase_steps > 40:
                self.grasp_point = eef.copy()
                self._goto("grasp")
            return goal, -1.0
        if self.phase == "grasp":
            if self.phase_steps >= GRASP_STEPS:
                self._goto("lift")
            return self.grasp_point, 1.0
        if self.phase == "lift":
            top = (target_bin[2] + CARRY) if target_bin is not None else self.grasp_point[2] + LIFT
            goal = np.array([self.grasp_point[0], self.grasp_point[1], top])
            if target_bin is not None and eef[2] > top - 0.03:
                self._goto("carry")
            return goal, 1.0
        if self.phase == "carry":
            goal = self._drop_point(target_bin)
            if np.linalg.norm((goal - eef)[:2]) < 0.02:
                self._goto("release")
            return goal, 1.0
        if self.phase == "release":  # open in place, so the object drops straight down
            if self.phase_steps >= RELEASE_STEPS:
                self._goto("retreat")
            return self._drop_point(target_bin), -1.0
        # retreat: up and back (PickPlace counts the object only once the hand has left it)
        return self._drop_point(target_bin) + [0.0, -0.05, 0.05], -1.0

    @staticmethod
    def _drop_point(target_bin: np.ndarray) -> np.ndarray:
        """Above the bin cell, shifted towards the robot: the cell centre is at the edge of
        the Panda's reach with a load, where it sags and cannot lift back up."""
        return np.array([target_bin[0], target_bin[1] - DROP_SHIFT, target_bin[2] + CARRY])

    def act(self, obs: Mapping[str, np.ndarray]) -> np.ndarray:
        eef = np.asarray(obs["robot0_eef_pos"], dtype=np.float64)
        rot = Rotation.from_quat(np.asarray(obs["robot0_eef_quat"], dtype=np.float64))  # xyzw, robosuite's order
        if self.target_rot is None:
            self.target_rot = rot
        goal, grip = self._plan(eef)
        self.phase_steps += 1
        action = np.zeros(7)
        action[:3] = POS_GAIN * (goal - eef) / POS_SCALE
        action[3:6] = (self.target_rot * rot.inv()).as_rotvec() / ORI_SCALE
        action[6] = grip
        self.intended_action = np.clip(action, -1.0, 1.0).astype(np.float32)  # before the noise (DART data)
        if self.noise > 0:
            if self.pause_left == 0 and self.rng.random() < PAUSE_RATE * self.noise:
                self.pause_left = int(self.rng.integers(3, 11))
            if self.pause_left > 0:
                self.pause_left -= 1
                action[:6] = 0.0
            action[:6] += self.noise * self.rng.normal(size=6)
        return np.clip(action, -1.0, 1.0).astype(np.float32)
