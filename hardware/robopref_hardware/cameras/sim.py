"""The ``sim`` camera: renders a camera of the sim arm's MuJoCo scene offscreen.

Rendering happens in the capture thread (EGL contexts belong to the thread that made
them): the scene is copied under the arm's lock (fast), drawn outside it, so physics
never waits for a render. Shadows and reflections are off (5× faster on Mesa's CPU EGL).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from robopref_hardware.cameras.base import CameraConfig, ThreadedCamera
from robopref_hardware.errors import HardwareError

UPSIDE_DOWN = {"corner", "corner2", "corner3", "corner4"}  # Meta-World mounts these with "up" pointing down


@dataclass
class SimCameraConfig(CameraConfig):
    """A named camera of the sim scene (Meta-World: corner, corner2, corner3, topview, behindGripper, gripperPOV)."""

    camera: str = "corner3"
    width: int = 128
    height: int = 128
    fps: float = 15.0

    def build(self, arm=None) -> "SimCamera":
        from robopref_hardware.arms.sim import SimArm

        if not isinstance(arm, SimArm):
            raise HardwareError("the sim camera renders the sim arm's scene: use it with arm=sim")
        return SimCamera(self, arm)


class SimCamera(ThreadedCamera):
    def __init__(self, config: SimCameraConfig, arm) -> None:
        super().__init__(config)
        self.arm = arm

    def _open(self) -> None:
        import mujoco

        self._mj = mujoco
        self.arm._require()
        model = self.arm.model
        names = [mujoco.mj_id2name(model, mujoco.mjtObj.mjOBJ_CAMERA, i) for i in range(model.ncam)]
        if self.config.camera not in names:
            raise HardwareError(f"sim scene has no camera {self.config.camera!r}; cameras: {names}")
        vis = model.vis.global_
        vis.offwidth, vis.offheight = max(vis.offwidth, self.config.width), max(vis.offheight, self.config.height)
        self._renderer = mujoco.Renderer(model, self.config.height, self.config.width)

    def _grab(self) -> tuple[np.ndarray, None]:
        r, mj = self._renderer, self._mj
        with self.arm.lock:
            r.update_scene(self.arm.data, camera=self.config.camera)
        r.scene.flags[mj.mjtRndFlag.mjRND_SHADOW] = 0
        r.scene.flags[mj.mjtRndFlag.mjRND_REFLECTION] = 0
        img = r.render()
        if self.config.camera in UPSIDE_DOWN:
            img = img[::-1, ::-1]
        return np.ascontiguousarray(img), None

    def _close(self) -> None:
        if getattr(self, "_renderer", None) is not None:
            self._renderer.close()
            self._renderer = None
